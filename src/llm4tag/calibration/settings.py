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


# what the final tag set does with the tag hierarchy (the tags' parents): none | add-ancestors (a content about
# a tag is about its broader tags too: they are added) | drop-redundant-ancestors (a broader tag kept beside a
# narrower one says nothing more: it is dropped)
HIERARCHY_MODES = ("none", "add-ancestors", "drop-redundant-ancestors")


@dataclass
class PruneConfig:
    hierarchy: str = "none"

    def __post_init__(self) -> None:
        if self.hierarchy not in HIERARCHY_MODES:
            raise ValueError(f"hierarchy must be one of {', '.join(HIERARCHY_MODES)}, not {self.hierarchy!r}")
