"""The LLM backend's settings (``[llm]`` in ``llm4tag.toml``): a backend name and its options. A leaf
module: reading a configuration imports this, not the backends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LLMConfig:
    backend: str = "llamacpp"
    options: dict[str, Any] = field(default_factory=lambda: {"model": "qwen2.5-coder-1.5b", "threads": 1})
