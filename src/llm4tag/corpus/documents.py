"""Contents, annotated or not."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, NamedTuple


@dataclass
class Document:
    """One content to tag. ``tags`` holds gold tag ids when the content is annotated."""

    id: str
    text: str
    tags: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def text_hash(self) -> str:
        return text_hash(self.text)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "text": self.text, "tags": list(self.tags)}
        out.update({k: v for k, v in self.meta.items() if k not in out})
        return out


SYNTHETIC_PREFIX = "synthetic:"  # the ids of contents an LLM wrote (``llm4tag synthesize``), and only theirs


def is_synthetic(content_id: str) -> bool:
    """Whether a stored content was written by an LLM: such a content trains recall but is never gold."""
    return content_id.startswith(SYNTHETIC_PREFIX)


class ContentRow(NamedTuple):
    """A stored content as the indexes see it: the store's sequence number orders appends."""

    seq: int
    id: str
    text: str
    text_hash: str


def text_hash(text: str) -> str:
    """Stable key for caching work done on a text (embeddings, LLM answers)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def seeded_sample(docs: list[Document], n: int, seed: int = 0) -> list[Document]:
    """The same ``n`` documents on every machine: sorted by id, a seeded draw, returned sorted by id.

    Used wherever LLM work is bounded to a sample (calibration, optimize, benchmarks), so that numbers
    measured in different runs refer to the same documents.
    """
    docs = sorted(docs, key=lambda d: d.id)
    return sorted(random.Random(seed).sample(docs, min(n, len(docs))), key=lambda d: d.id)
