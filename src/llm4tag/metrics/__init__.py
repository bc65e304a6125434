"""Metrics, pure functions of gold tags and predictions: ranking (Annif's definitions), tag sets, calibration.

The bottom layer that calibration (choosing thresholds), evaluation (reports) and benchmarks share.
"""

from llm4tag.metrics.calibration import calibration_report, expected_calibration_error, reliability_bins
from llm4tag.metrics.ranking import ranking_scores
from llm4tag.metrics.retrieval import mean_recall_at, ndcg_at, precision_at, recall_at
from llm4tag.metrics.sets import SetScores, set_scores

__all__ = [
    "SetScores",
    "calibration_report",
    "expected_calibration_error",
    "mean_recall_at",
    "ndcg_at",
    "precision_at",
    "ranking_scores",
    "recall_at",
    "reliability_bins",
    "set_scores",
]
