"""Short-term knowledge at work: notes and corrections retrieved into prompts, and learning new items.

What the items are and how learn files are read: ``llm4tag.corpus.knowledge``. Examples need no retrieval
here: they are annotated contents, so the recall graph and the few-shot examples find them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from llm4tag.corpus.documents import Document, is_synthetic
from llm4tag.corpus.knowledge import KnowledgeItem
from llm4tag.store.base import Store


def store_knowledge(store: Store, items: list[KnowledgeItem]) -> dict[str, int]:
    """Store items so they take effect on the very next content, by one rule for every example and correction:
    the tags it names as right are added to the content's annotations, the tags it rejects are removed, and a
    content the store already holds keeps its text unless the item asks to replace it (``replace_text``).
    A content the store does not hold is added with the item's text and right tags (if it names any). Items
    about the same content in one call apply in order. The graph follows on the next index."""
    counts = {"example": 0, "correction": 0, "note": 0}
    synthetic = sum(1 for item in items if item.synthetic is not None)
    if synthetic:
        counts["synthetic example"] = synthetic  # of the examples: an LLM wrote them
    merged: dict[str, Document] = {}
    # read and written in one transaction: it holds the write lock, so a feedback merged by another process
    # (serve --workers) between the read and the write cannot be lost; and all of the items are stored or none
    with store.transaction():
        for item in items:
            counts[item.kind] += 1
            if item.kind == "note":
                continue
            current = merged.get(item.content_id)
            if current is None:
                stored = store.get_contents([item.content_id])
                current = stored[0] if stored else None
            if current is None:
                if item.tags:
                    meta = {"synthetic": True, **item.synthetic} if item.synthetic is not None else {}
                    tags = list(dict.fromkeys(item.tags))
                    merged[item.content_id] = Document(item.content_id, item.text, tags, meta)
                continue
            kept = [t for t in current.tags if t not in item.rejected]
            tags = kept + [t for t in dict.fromkeys(item.tags) if t not in kept]
            text = item.text if item.replace_text else current.text
            merged[item.content_id] = Document(current.id, text, tags, current.meta)
        store.add_knowledge(items)
        for item in items:
            if item.kind != "note" and item.rejected:
                store.remove_annotations(item.content_id, item.rejected)
        written = [d for d in merged.values() if not is_synthetic(d.id)]
        made = [d for d in merged.values() if is_synthetic(d.id)]
        if written:
            store.upsert_contents(written, source="learn")
        if made:  # marked in the store: they train recall, and are never gold
            store.upsert_contents(made, source="synthetic")
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
