"""Corpora of contents, annotated or not, and their loaders."""

from llm4tag.corpus.documents import ContentRow, Document, seeded_sample, text_hash
from llm4tag.corpus.knowledge import KnowledgeItem, read_learn_file
from llm4tag.corpus.loaders import LoadReport, iter_corpus, load_corpus

__all__ = [
    "ContentRow",
    "Document",
    "KnowledgeItem",
    "read_learn_file",
    "LoadReport",
    "iter_corpus",
    "load_corpus",
    "seeded_sample",
    "text_hash",
]
