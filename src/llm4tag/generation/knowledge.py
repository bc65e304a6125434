"""Short-term knowledge at work: notes and corrections retrieved into prompts, and learning new items.

What the items are and how learn files are read: ``llm4tag.corpus.knowledge``. Examples need no retrieval
here: they are annotated contents, so the recall graph and the few-shot examples find them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from llm4tag.corpus.documents import Document
from llm4tag.corpus.knowledge import KnowledgeItem
from llm4tag.store.sqlite import Store


def store_knowledge(store: Store, items: list[KnowledgeItem]) -> dict[str, int]:
    """Store items so they take effect on the very next content: examples and corrected contents become
    annotated contents (the graph follows on the next index), wrong annotations are removed."""
    counts = {"example": 0, "correction": 0, "note": 0}
    docs = []
    for item in items:
        counts[item.kind] += 1
        if item.kind == "example":
            docs.append(Document(item.content_id, item.text, list(item.tags)))
        elif item.kind == "correction":
            stored = store.get_contents([item.content_id])
            if stored:
                store.remove_annotations(item.content_id, item.rejected)
                kept = [t for t in stored[0].tags if t not in item.rejected]
                docs.append(Document(item.content_id, stored[0].text, kept + [t for t in item.tags if t not in kept]))
            elif item.tags:
                docs.append(Document(item.content_id, item.text, list(item.tags)))
    store.add_knowledge(items)
    if docs:
        store.upsert_contents(docs, source="learn")
    return counts


@dataclass
class KnowledgeBase:
    """Retrieval over the notes and corrections in the store (examples live in the recall graph)."""

    notes_by_tag: dict[str, list[tuple[float, str]]]
    corrections: list[KnowledgeItem]
    correction_vectors: np.ndarray | None

    @classmethod
    def load(cls, store, encode) -> KnowledgeBase:
        notes: dict[str, list[tuple[float, str]]] = {}
        corrections = []
        for item in store.knowledge(("note", "correction")):
            if item.kind == "note":
                notes.setdefault(item.tag_id, []).append((item.created_at, item.note))
            else:
                corrections.append(item)
        vectors = encode([c.text for c in corrections]) if corrections else None
        return cls(notes, corrections, vectors)

    def notes_for(self, candidate_ids: list[str], names: dict[str, str], limit: int = 5) -> list[str]:
        """Most recent notes of the candidate tags."""
        found = []
        for tag_id in candidate_ids:
            for created, note in self.notes_by_tag.get(tag_id, []):
                found.append((created, f"{names.get(tag_id, tag_id)}: {note}"))
        found.sort(key=lambda x: -x[0])
        return [note for _, note in found[:limit]]

    def corrections_for(
        self,
        vector: np.ndarray,
        names: dict[str, str],
        *,
        limit: int = 2,
        min_similarity: float = 0.75,
        now: float | None = None,
    ) -> list[str]:
        """Corrections made on similar texts, most similar (then most recent) first."""
        if self.correction_vectors is None:
            return []
        now = now or time.time()
        sims = self.correction_vectors @ vector
        order = sorted(range(len(sims)), key=lambda i: (-round(float(sims[i]), 3), -self.corrections[i].created_at))
        out = []
        for i in order:
            if sims[i] < min_similarity or len(out) >= limit:
                break
            item = self.corrections[i]
            parts = []
            if item.rejected:
                parts.append("not " + ", ".join(names.get(t, t) for t in item.rejected))
            if item.tags:
                parts.append("but " + ", ".join(names.get(t, t) for t in item.tags))
            out.append(f"a reviewer corrected a similar text ({item.text[:80]!r}): {' '.join(parts)}")
        return out
