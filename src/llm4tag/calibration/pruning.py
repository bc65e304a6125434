"""Pruning: keep the tags whose calibrated confidence clears a threshold (and at most ``max_tags``).

The threshold is chosen on a dev corpus, either for the best document-averaged F1 or for the largest
coverage at a precision the user names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from llm4tag.metrics.sets import set_scores


@dataclass
class PruningChoice:
    threshold: float
    max_tags: int
    objective: str
    f1: float
    precision: float
    recall: float
    micro_precision: float
    coverage: float  # share of documents that keep at least one tag

    def to_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def prune(tag_ids: list[str], confidences: np.ndarray, threshold: float, max_tags: int) -> list[str]:
    order = np.argsort(-np.asarray(confidences), kind="stable")
    return [tag_ids[i] for i in order[:max_tags] if confidences[i] >= threshold]


def choose_threshold(
    per_doc: list[tuple[list[str], np.ndarray]],
    golds: list[set[str]],
    *,
    target_precision: float | None = None,
    thresholds: np.ndarray | None = None,
    max_tags_options: tuple[int, ...] = (3, 5, 8, 10, 15),
) -> PruningChoice:
    """Grid search over threshold × max tags on labelled documents."""
    thresholds = thresholds if thresholds is not None else np.round(np.arange(0.05, 0.96, 0.025), 3)
    best: PruningChoice | None = None
    for max_tags in max_tags_options:
        for threshold in thresholds:
            predictions = [prune(tags, conf, float(threshold), max_tags) for tags, conf in per_doc]
            scores = set_scores(golds, predictions)
            coverage = float(np.mean([bool(p) for p in predictions])) if predictions else 0.0
            choice = PruningChoice(
                float(threshold),
                max_tags,
                "f1" if target_precision is None else f"precision>={target_precision}",
                scores.f1,
                scores.precision,
                scores.recall,
                scores.micro_precision,
                coverage,
            )
            if target_precision is None:
                better = best is None or choice.f1 > best.f1
            else:
                meets = choice.micro_precision >= target_precision
                better = meets and (best is None or choice.recall > best.recall)
            if better:
                best = choice
    if best is None:
        raise ValueError(f"no threshold reaches precision {target_precision} on this corpus")
    return best
