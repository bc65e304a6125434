"""The similarity indexes' settings (``[index]`` in ``llm4tag.toml``). A leaf module: reading a
configuration imports this, not the indexes (faiss)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class IndexConfig:
    exact_limit: int = 200_000
    nprobe: int = 16
    max_text_chars: int = 1_000_000  # a longer content in an input file is an error (file, line), not a 6 GB index
