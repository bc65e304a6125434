"""The tagging pipeline: stages built once from the configuration, composed and run batch by batch."""

from llm4tag.pipeline.pipeline import Components, Pipeline, PipelineOptions, Pipelines
from llm4tag.pipeline.results import TagAssignment, TaggingResult
from llm4tag.pipeline.stages import (
    ConsiderStage,
    ContentState,
    JudgeStage,
    PruneStage,
    RecallStage,
    ScoreStage,
    SelectStage,
    Stage,
)

__all__ = [
    "Components",
    "ConsiderStage",
    "ContentState",
    "JudgeStage",
    "Pipeline",
    "PipelineOptions",
    "Pipelines",
    "PruneStage",
    "RecallStage",
    "ScoreStage",
    "SelectStage",
    "Stage",
    "TagAssignment",
    "TaggingResult",
]
