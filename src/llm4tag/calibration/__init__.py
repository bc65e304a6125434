"""Tag confidence calibration, pruning and routing: models fitted on held-out contents, and their files."""

from llm4tag.calibration.artifacts import CalibrationArtifacts, pipeline_shape, settings_name
from llm4tag.calibration.calibrator import Calibrator
from llm4tag.calibration.confidence import (
    JUDGE_FEATURES,
    ConfidenceConfig,
    ConfidenceSettings,
    ScoredCandidates,
    judge_features,
)
from llm4tag.calibration.features import RECALL_FEATURES, labelled_pairs, recall_features
from llm4tag.calibration.fitting import choose_settings, fit_judge_calibrator, fit_recall_calibrator
from llm4tag.calibration.pruning import Pruning, PruningChoice, choose_threshold, expected_f1_set, prune
from llm4tag.calibration.routing import RoutingChoice, choose_routing, in_band, routed_confidences
from llm4tag.metrics.calibration import calibration_report, expected_calibration_error

__all__ = [
    "JUDGE_FEATURES",
    "RECALL_FEATURES",
    "CalibrationArtifacts",
    "Calibrator",
    "ConfidenceConfig",
    "ConfidenceSettings",
    "Pruning",
    "PruningChoice",
    "RoutingChoice",
    "ScoredCandidates",
    "calibration_report",
    "choose_routing",
    "choose_settings",
    "choose_threshold",
    "expected_calibration_error",
    "expected_f1_set",
    "fit_judge_calibrator",
    "fit_recall_calibrator",
    "in_band",
    "judge_features",
    "labelled_pairs",
    "pipeline_shape",
    "prune",
    "recall_features",
    "routed_confidences",
    "settings_name",
]
