"""The LLM selection step's settings (``[generation]`` in ``llm4tag.toml``): a leaf module."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GenerationConfig:
    # off by default: on every data set measured, LLM selection lowered F1 (docs/experiments/judge.md); with
    # [pipeline] use_llm = "auto", `optimize` switches it on only where it pays
    enabled: bool = False
    candidates: int = 15
    examples: int = 3
    example_min_similarity: float = 0.15
    max_tags: int = 4
    max_content_chars: int = 500
    max_example_chars: int = 200
    notes: int = 5
    constrained: bool = True
    max_new_tokens: int = 80
    prompt_token_budget: int = 900  # retrieved examples are dropped (least similar first) to stay under it
    prompt_dir: str = "prompts"
