"""Whether the LLM stages pay for themselves on this project's data: what ``optimize`` decides and saves.

The LLM costs seconds per content; it is worth it only when it raises document F1 on held-out contents,
and by more than chance. The comparison is paired and cross-validated: the same held-out contents, every
considered pair judged once; in each fold the judge calibrator and both pruning rules are fitted on the other
folds and scored on this one, so neither side is measured on what it was tuned on (an operating point chosen
in-sample on 100 contents did not carry over to test on the held-back set). The LLM is switched on only when
the 95% bootstrap interval of the per-content F1 gain lies above zero.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from llm4tag.calibration.confidence import ScoredCandidates, final_confidence, fit_judge_models, pipeline_shape
from llm4tag.calibration.pruning import DEFAULT_FEW_EXAMPLES_FLOOR, RULES, choose_threshold, unsure_few_examples
from llm4tag.fileio import atomic_write
from llm4tag.metrics.sets import document_f1

MIN_DOCUMENTS = 30  # fewer held-out contents than this decide nothing: the LLM stays off
CHEAPER_MARGIN = 0.005  # judging only tags with few examples is preferred unless the full pipeline gains more


@dataclass
class LLMDecision:
    """Recall-only against the offered LLM pipeline ``shape`` (and, where it judges candidates, against judging
    only tags with few examples) on the same held-out contents, and the verdict: ``judge`` and ``generation``
    are what runs."""

    shape: str
    use_llm: bool
    reason: str
    judge: str = "none"
    generation: bool = False
    documents: int = 0
    folds: int = 0
    recall_only_f1: float = 0.0
    with_llm_f1: float = 0.0
    gain: float = 0.0
    gain_ci95: tuple[float, float] = (0.0, 0.0)
    llm_calls_per_content: float = 0.0
    variants: dict = field(default_factory=dict)
    per_fold: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("recall_only_f1", "with_llm_f1", "gain", "llm_calls_per_content"):
            out[key] = round(out[key], 4)
        out["gain_ci95"] = [round(v, 4) for v in self.gain_ci95]
        return out

    def save(self, path: str | Path) -> None:
        with atomic_write(path) as handle:
            json.dump(self.to_dict(), handle, indent=2)

    @classmethod
    def load(cls, path: str | Path) -> LLMDecision:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        data["gain_ci95"] = tuple(data.get("gain_ci95", (0.0, 0.0)))
        # written when judging only tags with few examples was called "thin"
        if data.get("judge") == "thin":
            data["judge"] = "few-examples"
        if str(data.get("shape", "")).split("-generation")[0] == "thin":
            data["shape"] = "few-examples" + data["shape"][len("thin") :]
        if "thin" in data.get("variants", {}):
            data["variants"]["few-examples"] = data["variants"].pop("thin")
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def few_examples_only(scored: ScoredCandidates) -> ScoredCandidates:
    """The content as the pipeline with ``judge = "few-examples"`` sees it: only the pairs of tags with few examples
    judged."""
    return dataclasses.replace(scored, p_yes=np.where(scored.few_examples_mask, scored.p_yes, np.nan))


Candidates = tuple[list[str], np.ndarray, float, set[str]]  # tags, confidence, expected right tags, never kept


def _recall_only(scored: ScoredCandidates, top_n: int) -> Candidates:
    """What the recall-only pipeline considers for this content: its top ``top_n`` candidates."""
    order = np.argsort(-scored.candidate_conf, kind="stable")[:top_n]
    expected = float(np.sum(np.clip(scored.candidate_conf, 0, 1)))
    return [scored.candidate_ids[i] for i in order], scored.candidate_conf[order], expected, set()


def _with_llm(scored: ScoredCandidates, confidence: np.ndarray, few_examples_floor: float) -> Candidates:
    expected = dataclasses.replace(scored, confidence=confidence).expected_gold
    unsure = unsure_few_examples(confidence, scored.few_examples_mask, scored.judged, few_examples_floor)
    return list(scored.tag_ids), confidence, expected, {t for t, u in zip(scored.tag_ids, unsure) if u}


def _held_out_f1(
    train: list[Candidates], held: list[Candidates], train_golds: list[set[str]], held_golds: list[set[str]]
) -> np.ndarray:
    """Per-content F1 on ``held`` with the pruning rule chosen on ``train``."""

    def kept(pruning, c: Candidates) -> list[str]:
        return [t for t in pruning.apply(c[0], c[1], c[2]) if t not in c[3]]

    choice = choose_threshold(
        [(c[0], c[1]) for c in train], train_golds, rules=RULES, expected_gold=[c[2] for c in train]
    )
    return np.array([document_f1(g, kept(choice.pruning, c)) for c, g in zip(held, held_golds)])


def _interval(diff: np.ndarray, rng: np.random.Generator, resamples: int) -> tuple[float, float]:
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def decide_llm(
    scored: list[ScoredCandidates],
    golds: list[set[str]],
    *,
    judge: str,
    generation: bool,
    top_n: int,
    few_examples_floor: float = DEFAULT_FEW_EXAMPLES_FLOOR,
    folds: int = 5,
    resamples: int = 2000,
    seed: int = 0,
    min_documents: int = MIN_DOCUMENTS,
) -> LLMDecision:
    """Cross-validated, paired comparison of recall-only against the LLM pipeline (``judge``, ``generation``) on
    held-out ``scored`` contents, run with every considered pair judged and nothing pruned. ``top_n``: how many
    candidates the recall-only pipeline considers (``[pipeline] judge_top_n``); ``few_examples_floor``: the least
    confidence at which a tag with few examples is kept on the LLM's word.

    Each variant (the full pipeline; where it judges candidates, judging only the tags with few examples) is
    switched on only when its gain is significant (95% interval above zero); of two, the cheaper one unless
    the full pipeline gains more than ``CHEAPER_MARGIN``. Else recall only. (New tags have no annotated
    examples on held-out contents either, so what judging them brings shows in ``bench.quality.cold_start``,
    not here: ``judge = "few-examples"`` with ``use_llm = "always"`` switches it on regardless.)"""
    shape = pipeline_shape(judge, generation)
    keep = [i for i, g in enumerate(golds) if g]
    scored, golds = [scored[i] for i in keep], [golds[i] for i in keep]
    if len(scored) < min_documents:
        return LLMDecision(
            shape,
            False,
            f"too few held-out contents to measure the LLM ({len(scored)} < {min_documents}): recall only",
            documents=len(scored),
        )
    variants = {"full": scored}
    few_examples_judged = any(bool((s.few_examples_mask & s.judged).any()) for s in scored)
    if judge in ("candidates", "few-examples") and few_examples_judged and not generation:
        variants["few-examples"] = [few_examples_only(s) for s in scored]
        if judge == "few-examples":
            del variants["full"]
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(len(scored)) % folds
    baseline = [_recall_only(s, top_n) for s in scored]
    f1_recall = np.zeros(len(scored))
    f1 = {name: np.zeros(len(scored)) for name in variants}
    per_fold = []
    for k in range(folds):
        train, held = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        train_golds, held_golds = [golds[i] for i in train], [golds[i] for i in held]
        f1_recall[held] = _held_out_f1(
            [baseline[i] for i in train], [baseline[i] for i in held], train_golds, held_golds
        )
        fold = {"documents": len(held), "recall_only_f1": round(float(f1_recall[held].mean()), 4)}
        for name, runs in variants.items():
            if judge != "none":
                models = fit_judge_models([runs[i] for i in train], train_golds)
                sets = [
                    _with_llm(
                        s,
                        final_confidence(s.recall_conf, s.p_yes, s.selected, s.few_examples_mask, *models),
                        few_examples_floor,
                    )
                    for s in runs
                ]
            else:  # the LLM only picks: the considered tags are its picks, scored by recall evidence
                sets = [_with_llm(s, s.recall_conf, few_examples_floor) for s in runs]
            f1[name][held] = _held_out_f1([sets[i] for i in train], [sets[i] for i in held], train_golds, held_golds)
            fold[f"{name}_f1"] = round(float(f1[name][held].mean()), 4)
        per_fold.append(fold)
    report = {}
    for name, runs in variants.items():
        diff = f1[name] - f1_recall
        low, high = _interval(diff, rng, resamples)
        report[name] = {
            "judge": "few-examples" if name == "few-examples" else judge,
            "f1": float(f1[name].mean()),
            "gain": float(diff.mean()),
            "gain_ci95": (low, high),
            "llm_calls_per_content": float(np.mean([np.sum(s.judged) for s in runs])) if judge != "none" else 1.0,
        }
    names = {"full": "the LLM pipeline", "few-examples": "judging only tags with few examples"}
    significant = [name for name in report if report[name]["gain_ci95"][0] > 0]
    parts = []
    for name, v in report.items():
        low, high = v["gain_ci95"]
        verdict = "" if name in significant else ", not significant"
        parts.append(
            f"{names[name]} ({v['llm_calls_per_content']:.1f} LLM calls per content): held-out document F1"
            f" {v['gain']:+.3f} (95% interval {low:+.3f} to {high:+.3f}){verdict}"
        )
    chosen = None
    if significant:  # the cheaper variant where it keeps nearly all of the gain
        chosen = max(significant, key=lambda n: report[n]["gain"])
        if "few-examples" in significant and report["few-examples"]["gain"] >= report[chosen]["gain"] - CHEAPER_MARGIN:
            chosen = "few-examples"
    reason = "; ".join(parts) + (f": {names[chosen]} chosen" if chosen else ": recall only")
    picked = report[chosen] if chosen else report.get("full", report.get("few-examples"))
    return LLMDecision(
        shape,
        chosen is not None,
        reason,
        judge=picked["judge"] if chosen else "none",
        generation=generation if chosen == "full" else False,
        documents=len(scored),
        folds=folds,
        recall_only_f1=float(f1_recall.mean()),
        with_llm_f1=picked["f1"],
        gain=picked["gain"],
        gain_ci95=picked["gain_ci95"],
        llm_calls_per_content=picked["llm_calls_per_content"],
        variants={
            name: {
                **v,
                "f1": round(v["f1"], 4),
                "gain": round(v["gain"], 4),
                "gain_ci95": [round(x, 4) for x in v["gain_ci95"]],
            }
            for name, v in report.items()
        },
        per_fold=per_fold,
    )
