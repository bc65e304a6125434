"""The user's confidence settings (``[confidence]`` in ``llm4tag.toml``); what ``optimize`` learns is
``confidence.ConfidenceSettings``. A leaf module: reading a configuration does not import scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ConfidenceConfig:
    # a tag with few examples is kept on the LLM's word only at this confidence; unset: what `optimize` chose
    # (half the held-out document F1), and 0.5 before it ran
    few_examples_min_confidence: float | None = None
    allow_fallback: bool = False  # score from the answer text when a backend has no log-probabilities
    cache: bool = True  # reuse judgements of the same content, tag, model and prompt (stored in the project)
