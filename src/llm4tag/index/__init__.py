"""Similarity indexes: dense (faiss) and sparse lexical (TF-IDF)."""

from llm4tag.registry import lazy_exports

_EXPORTS = {"DenseIndex": "llm4tag.index.dense", "LexicalIndex": "llm4tag.index.lexical"}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)  # imported on first use: llm4tag.config reads settings only
