"""Whether the LLM stages pay for themselves on this project's data: what ``optimize`` decides and saves.

The LLM costs seconds per content; it is worth it only when it raises document F1 on held-out contents,
and by more than chance. The comparison is paired and cross-validated: the same held-out contents, every
considered pair judged once; in each fold the judge calibrator and both pruning rules are fitted on the other
folds and scored on this one, so neither side is measured on what it was tuned on (an operating point chosen
in-sample on 100 contents did not carry over to test on the held-back set). The LLM is switched on only when
the 95% bootstrap interval of the per-content F1 gain lies above zero.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from llm4tag.calibration.confidence import ScoredCandidates, final_confidence, fit_judge_models
from llm4tag.calibration.pruning import RULES, choose_threshold
from llm4tag.fileio import atomic_write
from llm4tag.metrics.sets import document_f1

MIN_DOCUMENTS = 30  # fewer held-out contents than this decide nothing: the LLM stays off


@dataclass
class LLMDecision:
    """Recall-only against the LLM pipeline ``shape`` on the same held-out contents, and the verdict."""

    shape: str
    use_llm: bool
    reason: str
    documents: int = 0
    folds: int = 0
    recall_only_f1: float = 0.0
    with_llm_f1: float = 0.0
    gain: float = 0.0
    gain_ci95: tuple[float, float] = (0.0, 0.0)
    llm_calls_per_content: float = 0.0
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
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _recall_only(scored: ScoredCandidates, top_n: int) -> tuple[list[str], np.ndarray, float]:
    """What the recall-only pipeline considers for this content: its top ``top_n`` candidates."""
    order = np.argsort(-scored.candidate_conf, kind="stable")[:top_n]
    expected = float(np.sum(np.clip(scored.candidate_conf, 0, 1)))
    return [scored.candidate_ids[i] for i in order], scored.candidate_conf[order], expected


def _with_llm(scored: ScoredCandidates, confidence: np.ndarray) -> tuple[list[str], np.ndarray, float]:
    rest = float(np.sum(np.clip(scored.candidate_conf, 0, 1))) - float(np.sum(np.clip(scored.recall_conf, 0, 1)))
    return list(scored.tag_ids), confidence, max(rest, 0.0) + float(np.sum(np.clip(confidence, 0, 1)))


def _held_out_f1(
    train: list[tuple[list[str], np.ndarray, float]],
    held: list[tuple[list[str], np.ndarray, float]],
    train_golds: list[set[str]],
    held_golds: list[set[str]],
) -> np.ndarray:
    """Per-content F1 on ``held`` with the pruning rule chosen on ``train``."""
    choice = choose_threshold(
        [(t, c) for t, c, _ in train], train_golds, rules=RULES, expected_gold=[e for _, _, e in train]
    )
    pruning = choice.pruning
    return np.array([document_f1(g, pruning.apply(t, c, e)) for (t, c, e), g in zip(held, held_golds)])


def decide_llm(
    scored: list[ScoredCandidates],
    golds: list[set[str]],
    *,
    shape: str,
    judged: bool,
    top_n: int,
    folds: int = 5,
    resamples: int = 2000,
    seed: int = 0,
    min_documents: int = MIN_DOCUMENTS,
) -> LLMDecision:
    """Cross-validated, paired comparison of recall-only against the LLM pipeline on held-out ``scored`` contents
    (run with every considered pair judged when ``judged``, nothing pruned). ``top_n``: how many candidates the
    recall-only pipeline considers (``[confidence] judge_top_n``)."""
    keep = [i for i, g in enumerate(golds) if g]
    scored, golds = [scored[i] for i in keep], [golds[i] for i in keep]
    calls = float(np.mean([np.sum(s.judged) for s in scored])) if scored and judged else 0.0
    if len(scored) < min_documents:
        return LLMDecision(
            shape,
            False,
            f"too few held-out contents to measure the LLM ({len(scored)} < {min_documents}): recall only",
            documents=len(scored),
            llm_calls_per_content=calls,
        )
    rng = np.random.default_rng(seed)
    fold_of = rng.permutation(len(scored)) % folds
    baseline = [_recall_only(s, top_n) for s in scored]
    f1_recall, f1_llm = np.zeros(len(scored)), np.zeros(len(scored))
    per_fold = []
    for k in range(folds):
        train, held = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
        train_scored, train_golds = [scored[i] for i in train], [golds[i] for i in train]
        if judged:
            judge_model, zero_shot_model = fit_judge_models(train_scored, train_golds)

            def confidence(s: ScoredCandidates, models=(judge_model, zero_shot_model)) -> np.ndarray:
                return final_confidence(s.recall_conf, s.p_yes, s.selected, s.thin_mask, *models)
        else:  # the LLM only picks: the considered tags are its picks, scored by recall evidence

            def confidence(s: ScoredCandidates) -> np.ndarray:
                return s.recall_conf

        llm_sets = [_with_llm(s, confidence(s)) for s in scored]
        f1_recall[held] = _held_out_f1(
            [baseline[i] for i in train], [baseline[i] for i in held], train_golds, [golds[i] for i in held]
        )
        f1_llm[held] = _held_out_f1(
            [llm_sets[i] for i in train], [llm_sets[i] for i in held], train_golds, [golds[i] for i in held]
        )
        per_fold.append(
            {
                "documents": len(held),
                "recall_only_f1": round(float(f1_recall[held].mean()), 4),
                "with_llm_f1": round(float(f1_llm[held].mean()), 4),
            }
        )
    diff = f1_llm - f1_recall
    boot = rng.integers(0, len(diff), size=(resamples, len(diff)))
    means = diff[boot].mean(axis=1)
    low, high = float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))
    gain = float(diff.mean())
    use = low > 0
    if use:
        reason = f"the LLM raises held-out document F1 by {gain:+.3f} (95% interval {low:+.3f} to {high:+.3f})"
    else:
        reason = (
            f"the LLM's gain in held-out document F1, {gain:+.3f} (95% interval {low:+.3f} to {high:+.3f}), "
            "is not significant: recall only"
        )
    return LLMDecision(
        shape,
        use,
        reason,
        documents=len(scored),
        folds=folds,
        recall_only_f1=float(f1_recall.mean()),
        with_llm_f1=float(f1_llm.mean()),
        gain=gain,
        gain_ci95=(low, high),
        llm_calls_per_content=calls,
        per_fold=per_fold,
    )
