"""Contents, annotated or not."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


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


def text_hash(text: str) -> str:
    """Stable key for caching work done on a text (embeddings, LLM answers)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
