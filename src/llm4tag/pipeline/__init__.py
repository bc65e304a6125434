"""The tagging pipeline: stages built once from the configuration, composed and run batch by batch."""

from llm4tag.registry import lazy_exports

_EXPORTS = {
    "Components": "llm4tag.pipeline.pipeline",
    "ConsiderStage": "llm4tag.pipeline.stages",
    "ContentState": "llm4tag.pipeline.stages",
    "JudgeStage": "llm4tag.pipeline.stages",
    "Pipeline": "llm4tag.pipeline.pipeline",
    "PipelineOptions": "llm4tag.pipeline.pipeline",
    "Pipelines": "llm4tag.pipeline.pipeline",
    "PruneStage": "llm4tag.pipeline.stages",
    "RecallStage": "llm4tag.pipeline.stages",
    "ScoreStage": "llm4tag.pipeline.stages",
    "SelectStage": "llm4tag.pipeline.stages",
    "Stage": "llm4tag.pipeline.stages",
    "TagAssignment": "llm4tag.pipeline.results",
    "TaggingResult": "llm4tag.pipeline.results",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)  # imported on first use: llm4tag.config reads settings only
