"""The embedder's settings (``[embedding]`` in ``llm4tag.toml``): a backend name and its options. A leaf
module: reading a configuration imports this, not the embedders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EmbeddingConfig:
    backend: str = "sentence-transformers"
    # max_seq_length 128 for new projects: on debtags as good as 256 or better, and encoding 1.4x as fast
    # (docs/experiments/recall-speed.md); projects made before keep the model's 256 (their cached vectors stay valid)
    options: dict[str, Any] = field(
        default_factory=lambda: {"model": "default", "batch_size": 32, "max_seq_length": 128}
    )
