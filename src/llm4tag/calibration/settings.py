"""The user's confidence settings (``[confidence]`` in ``llm4tag.toml``); what ``optimize`` learns is
``confidence.ConfidenceSettings``. A leaf module: reading a configuration does not import scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

JUDGE_MODES = ("none", "generated", "candidates", "thin")
USE_LLM = ("auto", "always", "never")


@dataclass
class ConfidenceConfig:
    # auto: the LLM stages (the judge here, [generation]) run once `optimize` measured on held-out contents that
    # they raise F1 significantly (calibration/llm-decision.json); until then, and where they do not, recall only
    use_llm: str = "auto"  # auto | always | never
    # which pairs the LLM judges: none | generated (the paper) | candidates (top N, and tags with few examples
    # in reserved recall slots) | thin (only tags with few examples: new and tail tags)
    judge: str = "candidates"
    judge_top_n: int = 8
    # a tag with few examples is kept on the LLM's word only at this confidence; unset: what `optimize` chose
    # (half the held-out document F1), and 0.5 before it ran
    thin_min_confidence: float | None = None
    route: bool = True  # judge only pairs whose recall-only confidence is not decisive (needs `optimize`)
    allow_fallback: bool = False  # score from the answer text when a backend has no log-probabilities
    cache: bool = True  # reuse judgements of the same content, tag, model and prompt (stored in the project)

    def __post_init__(self) -> None:
        if self.use_llm not in USE_LLM:
            raise ValueError(f"use_llm must be one of {', '.join(USE_LLM)}, not {self.use_llm!r}")
        if self.judge not in JUDGE_MODES:
            raise ValueError(f"judge must be one of {', '.join(JUDGE_MODES)}, not {self.judge!r}")
        if self.judge_top_n < 1:
            raise ValueError("judge_top_n must be at least 1")
