"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint (vLLM, llama.cpp, Ollama, OpenAI)."""

from __future__ import annotations

import os

import numpy as np

from llm4tag.embedding.base import Embedder, normalize_rows
from llm4tag.errors import BackendError, ConfigError


class OpenAIEmbedder(Embedder):
    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout: float = 60.0,
        max_retries: int = 4,
        dim: int | None = None,
    ) -> None:
        try:
            from openai import OpenAI
        except ImportError as exc:  # pragma: no cover
            raise ConfigError("the openai client is not installed: pip install 'llm4tag[openai]'") from exc
        self._client = OpenAI(
            base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "none",
            timeout=timeout,
            max_retries=max_retries,
        )
        self.model = model
        self.batch_size = batch_size
        self.name = f"openai:{base_url}:{model}"
        self.dim = dim or self.encode(["dimension probe"]).shape[1]

    def encode(self, texts: list[str], *, is_query: bool = False, show_progress: bool = False) -> np.ndarray:
        out = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            try:
                response = self._client.embeddings.create(model=self.model, input=batch)
            except Exception as exc:
                raise BackendError(f"embedding endpoint failed after retries: {exc}") from None
            out.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        return normalize_rows(np.array(out, dtype=np.float32))
