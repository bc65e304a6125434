"""The pipeline's shape (``[pipeline]`` in ``llm4tag.toml``): whether the LLM runs, and which pairs it judges.
A leaf module: reading a configuration does not import the stages."""

from __future__ import annotations

from dataclasses import dataclass

# which pairs the LLM judges: none | generated (the paper: the tags the LLM selected) | candidates (the top
# candidates, and the tags with few examples in the recall slots reserved for them) | few-examples (only tags
# with few examples: new and tail tags)
JUDGE_MODES = ("none", "generated", "candidates", "few-examples")
USE_LLM = ("auto", "always", "never")


@dataclass
class PipelineConfig:
    # auto: the LLM stages (the judge, [generation]) run once `optimize` measured on held-out contents that
    # they raise F1 significantly (calibration/llm-decision.json); until then, and where they do not, recall only
    use_llm: str = "auto"
    judge: str = "candidates"
    judge_top_n: int = 8  # the top candidates considered for judging (and, recall only, for keeping)
    route: bool = True  # judge only pairs whose recall-only confidence is not decisive (needs `optimize`)

    def __post_init__(self) -> None:
        if self.use_llm not in USE_LLM:
            raise ValueError(f"use_llm must be one of {', '.join(USE_LLM)}, not {self.use_llm!r}")
        if self.judge not in JUDGE_MODES:
            raise ValueError(f"judge must be one of {', '.join(JUDGE_MODES)}, not {self.judge!r}")
        if self.judge_top_n < 1:
            raise ValueError("judge_top_n must be at least 1")
