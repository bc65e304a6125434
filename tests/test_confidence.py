"""Final confidence: judge calibration, pruning choice, cost-aware routing, judgement cache, CLI.

The LLM here is a fake judge with a known skill (it knows the gold tags but answers with a Yes bias and
noise), so the tests can check that calibration learns how far to trust it. The recall stage is real.
"""

import hashlib
import json
import re

import numpy as np
import pytest
from tests.conftest import DEBTAGS_TAGS, HashingEmbedder, debtags_project, debtags_slice
from tests.fakes import FakeLLM

from llm4tag.calibration import (
    ConfidenceSettings,
    Pruning,
    calibration_report,
    choose_routing,
    routed_confidences,
)
from llm4tag.cli import main
from llm4tag.config import ProjectConfig
from llm4tag.corpus import Document
from llm4tag.library import load_tag_library
from llm4tag.metrics.sets import set_scores
from llm4tag.project import Project


class JudgeOracle:
    """P(Yes) 0.85 for gold tags and 0.55 for others, plus noise: what a judge that knows something says (the
    ``p_yes`` of a ``FakeLLM``; a test may teach it a new tag's name and gold)."""

    def __init__(self, gold_by_text: dict[str, set[str]], names: dict[str, str]) -> None:
        self.gold_by_text = gold_by_text
        self.tag_by_name = {name: tag for tag, name in names.items()}

    def __call__(self, request) -> float:
        prompt = request.messages[-1]["content"]
        text = re.search(r"Text: (.*?)\n\nTag: ", prompt, re.S).group(1)
        line = re.search(r"\n\nTag: (.*?)\n", prompt).group(1)  # the name, then maybe " (description)"
        name = max((n for n in self.tag_by_name if line == n or line.startswith(n + " (")), key=len)
        noise = int(hashlib.md5(prompt.encode()).hexdigest(), 16) % 1000 / 1000 - 0.5
        p = (0.85 if self.tag_by_name[name] in self.gold_by_text[_key(text)] else 0.55) + 0.3 * noise
        return min(max(p, 0.02), 0.98)


def _key(text: str) -> str:
    return " ".join(text.split())[:80]


@pytest.fixture(scope="module")
def judged_project(tmp_path_factory):
    """A debtags slice project (fake embedder) whose LLM is the fake judge; generation off."""
    train, held_out = debtags_slice("train", 400), debtags_slice("dev", 160)
    directory = tmp_path_factory.mktemp("judged")
    gold = {_key(r["text"]): set(r["tags"]) for r in train + held_out}
    llm = FakeLLM(p_yes=JudgeOracle(gold, load_tag_library(DEBTAGS_TAGS).display_names()), name="fake-judge")
    config = ProjectConfig()
    config.generation.enabled = False
    config.pipeline.judge_top_n = 6
    project = Project.init(directory / "p", config, embedder=HashingEmbedder(), llm=llm, tags=DEBTAGS_TAGS)
    project.add_contents([Document(r["id"], r["text"], r["tags"]) for r in train])
    docs = [Document(r["id"], r["text"], r["tags"]) for r in held_out]
    yield project, llm, docs[:100], docs[100:]
    project.close()


def _log_loss(runs, docs, attribute):
    labels = [t in set(d.tags) for run, d in zip(runs, docs) for t in run.scored.tag_ids]
    values = np.concatenate([getattr(run.scored, attribute) for run in runs])
    return calibration_report(np.array(labels, dtype=int), values)


def test_judge_calibration_learns_how_far_to_trust_the_llm(judged_project):
    project, llm, dev, test = judged_project
    report = project.calibrate(dev, llm_sample=100)
    assert project.artifacts.judge_calibrator() is not None
    judge = report["judge"]
    few = judge.get("tags_with_few_examples", {"pairs": 0})["pairs"]
    assert judge["documents"] == 100 and judge["pairs"] + few >= 600  # top 6 and reserved slots, all judged
    # the fake judge's P(Yes) is biased towards Yes; the calibrated confidence is not
    assert judge["raw_p_yes"]["ece"] > 0.2
    assert judge["calibrated_in_sample"]["ece"] < 0.1
    # the fake judge separates right from wrong pairs better than recall on hashed embeddings
    assert judge["roc_auc"]["judge_p_yes"] > max(0.8, judge["roc_auc"]["recall_only"])
    # on unseen contents the judge's evidence improves on recall alone
    runs = project.tag(test, judge="candidates", route=False, prune=False)
    combined, recall_only = _log_loss(runs, test, "confidence"), _log_loss(runs, test, "recall_conf")
    assert combined["log_loss"] < recall_only["log_loss"]
    assert combined["brier"] < recall_only["brier"]


def test_judgements_are_cached_across_runs(judged_project):
    project, llm, dev, _ = judged_project
    project.calibrate(dev, llm_sample=20)
    before = llm.calls
    project.calibrate(dev, llm_sample=20)
    assert llm.calls == before  # same contents, model and prompt: nothing asked twice


def test_optimize_chooses_pruning_and_routing_and_tag_applies_them(judged_project, tmp_path):
    project, llm, dev, test = judged_project
    project.calibrate(dev, llm_sample=100)
    assert project.pipeline().options.judge == "none"  # use_llm = "auto": no LLM before it is measured to pay
    report = project.optimize(dev, llm_sample=100, max_f1_loss=0.02, plots=tmp_path / "plots")
    assert (tmp_path / "plots" / "reliability.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "precision_coverage.png").stat().st_size > 1000
    assert project.artifacts.settings("none", generation=False).threshold == report["pruning"]["threshold"]
    decision, report = report["llm"]["llm_decision"], report["llm"]
    # the fake judge tells right from wrong far better than recall on hashed embeddings: measured, and switched on
    assert decision["use_llm"] and decision["gain_ci95"][0] > 0 and decision["documents"] == 100
    assert decision["with_llm_f1"] > decision["recall_only_f1"]
    assert project.pipeline().options.judge == "candidates"
    settings = project.artifacts.settings("candidates", generation=False)
    assert settings.threshold == report["pruning"]["threshold"] and settings.max_tags == report["pruning"]["max_tags"]
    routing = report["routing"]
    assert routing["f1"] >= routing["f1_all_judged"] - 0.02
    assert settings.route_lower <= settings.threshold <= settings.route_upper
    # a tag with few examples is kept on the LLM's word from half the held-out F1 (the F1-optimal threshold for
    # calibrated confidences): it has no held-out example to tune its own on. A value set by hand wins.
    assert (
        settings.few_examples_floor == pytest.approx(report["pruning"]["f1"] / 2, abs=1e-4)
        and settings.few_examples_floor < 0.5
    )
    assert project.pipeline().stage("prune").few_examples_floor == settings.few_examples_floor
    project.config.confidence.few_examples_min_confidence = 0.9
    assert project.pipeline().stage("prune").few_examples_floor == 0.9
    project.config.confidence.few_examples_min_confidence = None

    before = llm.calls
    routed = project.tag(test)
    asked = llm.calls - before
    for result in routed:
        scores = [t.score for t in result.tags]
        assert scores == sorted(scores, reverse=True) and len(scores) <= settings.max_tags
        assert all(s >= settings.threshold for s in scores)
        for tag in result.tags:
            assert tag.source in ("judge", "recall")
            assert (tag.p_yes is not None) == (tag.source == "judge")
    # asked: undecided pairs, and pairs of tags with few examples (their recall confidence says little)
    in_band = sum(int((settings.needs_llm(r.scored.recall_conf) | r.scored.few_examples).sum()) for r in routed)
    assert asked <= in_band  # only undecided pairs went to the LLM (fewer still when cached)
    assert sum(int(r.scored.judged.sum()) for r in routed) == in_band

    # a floor set by hand is named when optimize runs, with the floor it overrides
    assert "few_examples_floor_note" not in report
    project.config.confidence.few_examples_min_confidence = 0.9
    try:
        again = project.optimize(dev, llm_sample=100, max_f1_loss=0.02)["llm"]
    finally:
        project.config.confidence.few_examples_min_confidence = None
    assert "few_examples_min_confidence = 0.9" in again["few_examples_floor_note"]
    assert f"{again['few_examples_floor']:.3f}" in again["few_examples_floor_note"]
    project.optimize(dev, llm_sample=100, max_f1_loss=0.02)  # the settings saved as before, for the tests after


def test_routing_skips_decisive_pairs_within_the_f1_budget():
    rng = np.random.default_rng(0)
    per_doc, golds = [], []
    for _ in range(200):
        tags = [f"t{i}" for i in range(8)]
        truth = rng.uniform(size=8) < np.linspace(0.9, 0.05, 8)
        recall_conf = np.clip(np.where(truth, 0.6, 0.2) + rng.normal(0, 0.25, 8), 0.001, 0.999)
        judged_conf = np.clip(np.where(truth, 0.8, 0.15) + rng.normal(0, 0.1, 8), 0.001, 0.999)
        per_doc.append((tags, recall_conf, judged_conf))
        golds.append({t for t, ok in zip(tags, truth) if ok})
    choice = choose_routing(per_doc, golds, pruning=Pruning(0.5, 8), max_f1_loss=0.01)
    assert choice.judged_share < 0.9
    assert choice.f1 >= choice.f1_all_judged - 0.01
    routed = [routed_confidences(r, j, choice.lower, choice.upper) for _, r, j in per_doc]
    # recomputing F1 from the routed confidences gives the reported number
    from llm4tag.calibration import prune

    f1 = set_scores(golds, [prune(t, c, 0.5, 8) for (t, _, _), c in zip(per_doc, routed)]).f1
    assert f1 == pytest.approx(choice.f1)
    exact = choose_routing(per_doc, golds, pruning=Pruning(0.5, 8), max_f1_loss=0.0)
    assert exact.judged_share >= choice.judged_share and exact.f1 >= exact.f1_all_judged


def test_settings_round_trip(tmp_path):
    settings = ConfidenceSettings(threshold=0.4, max_tags=5, route_lower=0.05, route_upper=0.9, report={"x": 1})
    settings.save(tmp_path / "settings.json")
    loaded = ConfidenceSettings.load(tmp_path / "settings.json")
    assert loaded == settings
    assert list(loaded.needs_llm(np.array([0.01, 0.05, 0.5, 0.9, 0.95]))) == [False, False, True, False, False]
    assert ConfidenceSettings.load(tmp_path / "missing.json") is None


def test_cli_calibrate_and_optimize_recall_only(tmp_path, capsys):
    from tests.conftest import write_jsonl

    debtags_project(tmp_path / "p")
    dev = write_jsonl(tmp_path / "dev.jsonl", debtags_slice("dev", 80))
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"id": "x", "text": "no tags here", "tags": []}])
    assert main(["calibrate", "-p", str(tmp_path / "p"), str(dev), "-q"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert "judge" not in report and report["recall"]["pairs"] > 0
    assert main(["optimize", "-p", str(tmp_path / "p"), str(dev), "-q", "--target-precision", "0.3"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["pruning"]["micro_precision"] >= 0.3 and "routing" not in report
    assert "settings-none.json" in out.err
    assert main(["optimize", "-p", str(tmp_path / "p"), str(empty)]) == 2
    assert "no annotated contents" in capsys.readouterr().err


def test_a_new_tag_without_examples_reaches_the_judge_and_is_assigned(judged_project):
    """A tag added today has no annotated example: recall alone cannot assign it; the slot reserved for tags with
    few examples brings it to the LLM, whose P(Yes) (zero-shot calibrated) decides."""
    from llm4tag.library import Tag

    project, llm, dev, _ = judged_project
    project.calibrate(dev, llm_sample=100)
    assert project.artifacts.zero_shot_calibrator() is not None
    project.add_tags([Tag("team::zephyr", "Zephyr autoscaler", description="autoscaling of inference clusters")])
    project.index()
    llm.p_yes.tag_by_name["Zephyr autoscaler"] = "team::zephyr"
    text = "Zephyr autoscaler: grows and shrinks inference clusters with the load"
    llm.p_yes.gold_by_text[_key(text)] = {"team::zephyr"}

    [recall_only] = project.tag([text], llm=False)
    recall_conf = dict(zip(recall_only.scored.candidate_ids, recall_only.scored.candidate_conf))["team::zephyr"]
    [judged] = project.tag([text], judge="few-examples")
    candidate = next(c for c in judged.recall.candidates if c.tag_id == "team::zephyr")
    assert candidate.examples == 0 and candidate.reserved and candidate.prototype > 0
    assigned = {t.tag_id: t for t in judged.tags}
    assert "team::zephyr" in assigned and assigned["team::zephyr"].source == "judge"
    assert assigned["team::zephyr"].score > recall_conf  # the judge's Yes counts where recall evidence is thin
    # only tags with few examples went to the LLM
    few = dict(zip(judged.scored.tag_ids, judged.scored.few_examples))
    assert all(few[t.tag_id] for t in judged.ranked if t.source == "judge")
