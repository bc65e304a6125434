"""Tag confidence calibration and pruning."""

from llm4tag.calibration.calibrator import Calibrator
from llm4tag.calibration.confidence import (
    JUDGE_FEATURES,
    ConfidenceConfig,
    ConfidenceSettings,
    ScoredCandidates,
    judge_features,
)
from llm4tag.calibration.features import RECALL_FEATURES, labelled_pairs, recall_features
from llm4tag.calibration.metrics import calibration_report, expected_calibration_error
from llm4tag.calibration.pruning import PruningChoice, choose_threshold, prune
from llm4tag.calibration.routing import RoutingChoice, choose_routing, routed_confidences

__all__ = [
    "JUDGE_FEATURES",
    "ConfidenceConfig",
    "ConfidenceSettings",
    "RoutingChoice",
    "ScoredCandidates",
    "choose_routing",
    "judge_features",
    "routed_confidences",
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
