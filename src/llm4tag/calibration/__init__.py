"""Tag confidence calibration, pruning and routing: models fitted on held-out contents, and their files."""

from llm4tag.registry import lazy_exports

_EXPORTS = {
    "CalibrationArtifacts": "llm4tag.calibration.artifacts",
    "Calibrator": "llm4tag.calibration.calibrator",
    "ConfidenceConfig": "llm4tag.calibration.settings",
    "ConfidenceSettings": "llm4tag.calibration.confidence",
    "JUDGE_FEATURES": "llm4tag.calibration.confidence",
    "Pruning": "llm4tag.calibration.pruning",
    "PruningChoice": "llm4tag.calibration.pruning",
    "RECALL_FEATURES": "llm4tag.calibration.features",
    "RoutingChoice": "llm4tag.calibration.routing",
    "ScoredCandidates": "llm4tag.calibration.confidence",
    "calibration_report": "llm4tag.metrics.calibration",
    "choose_routing": "llm4tag.calibration.routing",
    "choose_settings": "llm4tag.calibration.fitting",
    "choose_threshold": "llm4tag.calibration.pruning",
    "expected_calibration_error": "llm4tag.metrics.calibration",
    "expected_f1_set": "llm4tag.calibration.pruning",
    "fit_judge_calibrator": "llm4tag.calibration.fitting",
    "fit_recall_calibrator": "llm4tag.calibration.fitting",
    "in_band": "llm4tag.calibration.routing",
    "judge_features": "llm4tag.calibration.confidence",
    "labelled_pairs": "llm4tag.calibration.features",
    "pipeline_shape": "llm4tag.calibration.artifacts",
    "prune": "llm4tag.calibration.pruning",
    "recall_features": "llm4tag.calibration.features",
    "routed_confidences": "llm4tag.calibration.routing",
    "settings_name": "llm4tag.calibration.artifacts",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)  # names imported on first use: llm4tag.config reads settings only
