"""Calibration metrics: expected calibration error (15 equal-width bins), Brier score, log-loss."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss


def reliability_bins(labels: np.ndarray, probabilities: np.ndarray, bins: int = 15):
    """Per non-empty equal-width bin: (mean confidence, share correct, share of pairs)."""
    labels = np.asarray(labels, dtype=float)
    probabilities = np.asarray(probabilities, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1], right=True), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append((float(probabilities[mask].mean()), float(labels[mask].mean()), float(mask.mean())))
    return out


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 15) -> float:
    """Sum over equal-width bins of |accuracy - mean confidence|, weighted by the bin's share of pairs."""
    if len(labels) == 0:
        return float("nan")
    return float(
        sum(
            weight * abs(correct - confidence)
            for confidence, correct, weight in reliability_bins(labels, probabilities, bins)
        )
    )


def calibration_report(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    probabilities = np.clip(np.asarray(probabilities, dtype=float), 1e-6, 1 - 1e-6)
    return {
        "ece": expected_calibration_error(labels, probabilities),
        "brier": float(brier_score_loss(labels, probabilities)),
        "log_loss": float(log_loss(labels, probabilities, labels=[0, 1])),
        "pairs": int(len(labels)),
        "positive_rate": float(np.mean(labels)) if len(labels) else float("nan"),
    }
