"""Tag confidence calibration and pruning."""

from llm4tag.calibration.calibrator import Calibrator
from llm4tag.calibration.features import RECALL_FEATURES, labelled_pairs, recall_features
from llm4tag.calibration.metrics import calibration_report, expected_calibration_error
from llm4tag.calibration.pruning import PruningChoice, choose_threshold, prune

__all__ = [
    "RECALL_FEATURES",
    "Calibrator",
    "PruningChoice",
    "calibration_report",
    "choose_threshold",
    "expected_calibration_error",
    "labelled_pairs",
    "prune",
    "recall_features",
]
