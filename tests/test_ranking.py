"""The learned ranker: fitted on held-out contents (or the project's own), used by the pipeline, refused when stale;
the partitioned-label-tree path; per-content pruning by expected F1."""

import sys
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import debtags_project, debtags_slice

from llm4tag.calibration import RECALL_FEATURES, Calibrator, Pruning, expected_f1_set
from llm4tag.corpus import Document
from llm4tag.errors import ConfigError, ProjectError
from llm4tag.metrics import ranking_scores
from llm4tag.project import Project


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory):
    return debtags_project(tmp_path_factory.mktemp("ranking") / "p", train=400)


def docs(split: str, n: int) -> list[Document]:
    return [Document(r["id"], r["text"], r["tags"]) for r in debtags_slice(split, n)]


def test_the_ranker_is_chosen_and_fitted_on_dev_and_ranks_better_than_the_fused_score(project_dir, tmp_path):
    import shutil

    copy = Path(shutil.copytree(project_dir, tmp_path / "copy"))
    dev, test = docs("dev", 200), docs("test", 120)
    golds = [set(d.tags) for d in test]
    with Project.open(copy) as project:
        raw = project.tag(test, prune=False)  # before calibration: the fused score's order
        report = project.calibrate(dev)["recall"]
        assert report["pairs"] > 0
        losses = report["cross_validated_log_loss"]  # boosting and platt, chosen per project on its own data
        assert set(losses) == {"boosting", "platt"} and report["method"] == min(losses, key=losses.get)
        ranker = project.artifacts.recall_calibrator()
        assert ranker.method == report["method"] and list(ranker.feature_names) == list(RECALL_FEATURES)
        ranked = project.tag(test, prune=False)
        by_fused = ranking_scores(golds, [[c.tag_id for c in r.recall.candidates] for r in raw])
        by_ranker = ranking_scores(golds, [[t.tag_id for t in r.ranked] for r in ranked])
        assert by_ranker["ndcg@10"] > by_fused["ndcg@10"]
        assert all(((r.scored.confidence >= 0) & (r.scored.confidence <= 1)).all() for r in ranked)
        optimized = project.optimize(dev)
        assert optimized["pruning"]["rule"] in ("threshold", "expected_f1")
        assert project.pipeline().pruning.rule == optimized["pruning"]["rule"]


def test_without_a_dev_file_the_project_sets_its_own_contents_aside(project_dir, tmp_path):
    import shutil

    copy = Path(shutil.copytree(project_dir, tmp_path / "copy"))
    with Project.open(copy) as project:
        held_out = project.recall_index.held_out_contents()
        assert 30 <= len(held_out) <= 50  # a seeded tenth of 400
        assert held_out == project.recall_index.held_out_contents()
        recalled = project.recall_index.recall_held_out(held_out[:5])
        for doc, result in zip(held_out, recalled):
            assert doc.id not in {cid for cid, _ in result.neighbours}  # not its own neighbour
        report = project.calibrate()  # no dev file
        assert report["recall"]["pairs"] > 0 and project.artifacts.recall_calibrator() is not None
        assert "pruning" in project.optimize()


def test_a_stale_ranker_is_refused(project_dir, tmp_path):
    import shutil

    copy = Path(shutil.copytree(project_dir, tmp_path / "copy"))
    rng = np.random.default_rng(0)
    with Project.open(copy) as project:
        fewer = len(RECALL_FEATURES) - 4  # fitted before the newest features (and saved without names)
        old = Calibrator(method="boosting", per_tag=False).fit(rng.random((200, fewer)), np.array([0, 1] * 100))
        old.feature_names = []
        project.artifacts.save_recall_calibrator(old)
        with pytest.raises(ProjectError, match="run 'llm4tag calibrate'"):
            project.tag(["a network daemon"])
        project.calibrate(docs("dev", 40))  # what the error says to do works
        assert project.tag(["a network daemon"])[0].ranked


def test_a_ranker_fitted_with_other_recall_paths_is_refused(project_dir, tmp_path):
    import shutil

    copy = Path(shutil.copytree(project_dir, tmp_path / "paths"))
    with Project.open(copy) as project:
        project.calibrate(docs("dev", 40))
        assert project.tag(["a network daemon"])[0].ranked  # fitted with these paths: used
        project.config.recall.weights["supervised"] = 0.0  # a path turned off after calibrate
        project.config.save(copy)
    with Project.open(copy) as project:
        with pytest.raises(ProjectError, match=r"recall paths .*'supervised'.*run 'llm4tag calibrate'"):
            project.tag(["a network daemon"])
        project.calibrate(docs("dev", 40))  # refitted without it: used again
        assert project.tag(["a network daemon"])[0].ranked
        assert "supervised" not in project.artifacts.recall_calibrator().recall_paths
        # an ablation that turns the graph paths off on purpose still runs with the project's ranker
        ranked = project.tag(["a network daemon"], graph=False, prune=False)[0].ranked
        assert ranked and all(0.0 <= t.score <= 1.0 for t in ranked)  # the learned paths' candidates, calibrated


def test_the_tree_path_is_an_optional_extra_with_a_clear_error(monkeypatch):
    from llm4tag.recall.learned.tree import TreePath

    texts = [f"network packet tool {i}" for i in range(20)] + [f"chess board engine {i}" for i in range(20)]
    tags = [["net"]] * 20 + [["chess"]] * 20
    [scores] = TreePath(min_df=1).fit(texts, tags).scores(["a chess engine"])
    assert max(scores, key=scores.get) == "chess"
    monkeypatch.setitem(sys.modules, "omikuji", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"llm4tag\[omikuji\].*tree = 0"):
        TreePath().fit(texts, tags)


def test_expected_f1_keeps_one_clear_tag_or_several_likely_ones():
    tags = ["a", "b", "c", "d"]
    assert expected_f1_set(tags, np.array([0.95, 0.1, 0.05, 0.05]), max_tags=10) == ["a"]
    assert expected_f1_set(tags, np.array([0.7, 0.65, 0.6, 0.05]), max_tags=10) == ["a", "b", "c"]
    assert expected_f1_set(tags, np.array([0.7, 0.65, 0.6, 0.05]), max_tags=2) == ["a", "b"]
    # one global threshold cannot do both: 0.5 keeps the clear tag alone but also all three likely ones only
    # because they happen to clear it; at 0.65 it drops a likely one
    assert Pruning(0.65, 10).apply(tags, np.array([0.7, 0.65, 0.6, 0.05])) == ["a", "b"]
    assert expected_f1_set(tags, np.array([0.3, 0.2, 0.1, 0.0]), max_tags=10, expected_gold=0.6) == ["a", "b"]


def test_expected_f1_of_each_prefix_matches_a_simulation_of_the_gold_sets():
    from llm4tag.calibration.pruning import expected_f1_of_prefixes

    rng = np.random.default_rng(0)
    ranked = np.array([0.9, 0.6, 0.45, 0.3, 0.1, 0.05])
    elsewhere = 0.4  # right tags expected beyond these candidates
    exact = expected_f1_of_prefixes(ranked, 4, elsewhere)
    draws = 100_000
    gold_here = rng.random((draws, len(ranked))) < ranked
    gold_elsewhere = rng.poisson(elsewhere, draws)
    for k in range(1, 5):
        hits = gold_here[:, :k].sum(axis=1)
        gold = gold_here.sum(axis=1) + gold_elsewhere
        simulated = np.mean(2 * hits / (k + gold))
        assert abs(exact[k - 1] - simulated) < 0.005, (k, exact[k - 1], simulated)


def test_the_settings_search_keeps_the_setting_that_pays():
    from llm4tag.calibration.tuning import tune_recall
    from llm4tag.recall import Candidate, RecallConfig, RecallResult

    docs_ = [Document(f"d{i}", f"text {i}", [f"t{i % 7}"]) for i in range(120)]

    def recall(config, documents):  # a fake recall stage: only vote power 5 separates right from wrong
        out = []
        for doc in documents:
            right, rng = doc.tags[0], np.random.default_rng(int(doc.id[1:]))  # the same noise for every setting
            candidates = []
            for j in range(7):
                tag = f"t{j}"
                signal = 1.0 if (tag == right and config.vote_power == 5.0) else 0.0
                score = float(rng.random() * 0.5 + signal)
                candidates.append(Candidate(tag, score, {"c2c2t": score}, votes=int(signal * 10)))
            candidates.sort(key=lambda c: -c.score)
            out.append(RecallResult(candidates, []))
        return out

    config, report = tune_recall(docs_, RecallConfig(), recall, budget_seconds=60)
    assert report["chosen"] == {"vote_power": 5.0} and config.vote_power == 5.0
    assert report["doc_f1"] > report["start_doc_f1"] + 0.1
    assert [t["setting"] for t in report["trials"]][:2] == ["start", "dense_weight=0.2"]


def test_optimize_runs_the_search_saves_what_it_keeps_and_refits_the_ranker(project_dir, tmp_path):
    import shutil

    from llm4tag.config import ProjectConfig

    copy = Path(shutil.copytree(project_dir, tmp_path / "copy"))
    dev = docs("dev", 200)
    with Project.open(copy) as project:
        project.calibrate(dev)
        before, start = project.artifacts.recall_calibrator(), dataclass_values(project.config.recall)
        report = project.optimize(dev, tune_seconds=120)["recall_tuning"]
        assert report["trials"][0]["setting"] == "start" and len(report["trials"]) > 1
        best = max(t["doc_f1"] for t in report["trials"])
        assert report["doc_f1"] == best or report["doc_f1"] + 0.002 >= best  # only a clear gain moves it
        saved = ProjectConfig.load(copy).recall
        if report["chosen"]:  # what was kept is saved and used, and the ranker was refitted for it
            assert {k: getattr(saved, k) for k in report["chosen"]} == report["chosen"]
            assert all(getattr(project.config.recall, k) == v for k, v in report["chosen"].items())
            assert project.artifacts.recall_calibrator() is not before
        else:  # nothing paid: nothing changes
            assert dataclass_values(project.config.recall) == start
            assert project.artifacts.recall_calibrator() is before
        assert project.optimize(dev)["pruning"]  # without --tune-seconds: no search
        assert "recall_tuning" not in project.optimize(dev)


def dataclass_values(config) -> dict:
    import dataclasses

    return dataclasses.asdict(config)
