"""Cost-aware routing: spend LLM judgements only where they can change the answer.

A candidate whose calibrated recall-only confidence is already decisive (very low or very high) is
rejected or accepted without the LLM; the rest are judged. The band is chosen on dev, where every
candidate was judged, as the cheapest band whose F1 stays within ``max_f1_loss`` of judging everything
(at the pruning threshold and tag limit chosen for the all-LLM pipeline).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from llm4tag.calibration.pruning import Pruning
from llm4tag.metrics.sets import set_scores

LOWER_GRID = (0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3)
UPPER_GRID = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.4)


@dataclass
class RoutingChoice:
    lower: float
    upper: float
    judged_share: float  # share of candidate pairs sent to the LLM
    f1: float
    f1_all_judged: float

    def to_dict(self) -> dict:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def in_band(recall_conf: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """The routing rule: a pair goes to the LLM when its recall-only confidence is strictly inside (lower, upper)."""
    recall_conf = np.asarray(recall_conf, dtype=float)
    return (recall_conf > lower) & (recall_conf < upper)


def routed_confidences(recall_conf: np.ndarray, judged_conf: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """Judged confidence inside the band (lower, upper), recall-only confidence outside it."""
    return np.where(in_band(recall_conf, lower, upper), judged_conf, np.asarray(recall_conf, dtype=float))


def choose_routing(
    per_doc: list[tuple[list[str], np.ndarray, np.ndarray]],
    golds: list[set[str]],
    *,
    pruning: Pruning,
    max_f1_loss: float = 0.01,
) -> RoutingChoice:
    """``per_doc``: (tag ids, recall-only confidence, judged confidence) of the judged candidates; F1 of the
    final sets cut by ``pruning``."""
    threshold = pruning.threshold

    def f1_and_share(lower: float, upper: float) -> tuple[float, float]:
        predictions, judged, total = [], 0, 0
        for tags, recall_conf, judged_conf in per_doc:
            judged += int(in_band(recall_conf, lower, upper).sum())
            total += len(tags)
            predictions.append(pruning.apply(tags, routed_confidences(recall_conf, judged_conf, lower, upper)))
        return set_scores(golds, predictions).f1, judged / max(total, 1)

    f1_all, _ = f1_and_share(-1.0, 2.0)
    best = RoutingChoice(-1.0, 2.0, 1.0, f1_all, f1_all)
    for lower in LOWER_GRID:
        if lower > threshold:
            continue
        for upper in UPPER_GRID:
            if upper < threshold or upper <= lower:
                continue
            f1, share = f1_and_share(lower, upper)
            if f1 >= f1_all - max_f1_loss and share < best.judged_share:
                best = RoutingChoice(lower, upper, share, f1, f1_all)
    return best
