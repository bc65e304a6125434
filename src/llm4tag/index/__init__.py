"""Similarity indexes: dense (faiss) and sparse lexical (TF-IDF)."""

from llm4tag.index.dense import DenseIndex
from llm4tag.index.lexical import LexicalIndex

__all__ = ["DenseIndex", "LexicalIndex"]
