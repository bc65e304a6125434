"""Corpora of contents, annotated or not, and their loaders."""

from llm4tag.corpus.documents import Document, seeded_sample, text_hash
from llm4tag.corpus.loaders import LoadReport, iter_corpus, load_corpus

__all__ = ["Document", "LoadReport", "iter_corpus", "load_corpus", "seeded_sample", "text_hash"]
