"""Short-term knowledge: examples, corrections and tag notes that change answers without retraining.

* ``example``: an annotated content. It is also added to the store as an
  annotated content, so the recall graph (C2C2T) and the few-shot examples
  see it on the very next content.
* ``correction``: "these tags were wrong (``rejected``) / these were right
  (``tags``) for this text". Wrong annotations of a stored content are removed;
  similar contents get the correction as a note in their prompt.
* ``note``: free text about a tag ("since 2026, X also covers Y"), shown
  whenever that tag is a candidate.

Learn files are JSONL, one item a line: ``{"kind": "example", "id", "text",
"tags"}``, ``{"kind": "correction", "text", "rejected": [...], "tags": [...]}``,
``{"kind": "note", "tag": "X", "note": "..."}``. ``kind`` defaults to
``example``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from llm4tag.corpus.documents import text_hash
from llm4tag.errors import InputError
from llm4tag.fileio import iter_jsonl, optional_str_list, require_str
from llm4tag.library.tags import TagLibrary

KINDS = ("example", "correction", "note")


def read_learn_file(path: str | Path, library: TagLibrary, *, max_text_chars: int | None = None) -> list[dict]:
    """Parse and validate a learn file completely before anything is stored."""
    items = []
    for line, obj in iter_jsonl(path):
        kind = obj.get("kind", "example")
        if kind not in KINDS:
            raise InputError(f"expected one of {', '.join(KINDS)}", path=path, line=line, field="kind")
        item: dict = {"kind": kind}
        if kind == "note":
            item["tag_id"] = require_str(obj, "tag", path=path, line=line)
            item["note"] = require_str(obj, "note", path=path, line=line)
            checked = [item["tag_id"]]
        else:
            item["text"] = require_str(obj, "text", path=path, line=line)
            if max_text_chars is not None and len(item["text"]) > max_text_chars:
                raise InputError(
                    f"text of {len(item['text']):,} characters is over the limit of {max_text_chars:,}",
                    path=path,
                    line=line,
                    field="text",
                )
            item["tags"] = optional_str_list(obj, "tags", path=path, line=line)
            item["rejected"] = optional_str_list(obj, "rejected", path=path, line=line)
            given_id = require_str(obj, "id", path=path, line=line) if obj.get("id") not in (None, "") else None
            item["content_id"] = given_id or f"learn:{text_hash(item['text'])[:16]}"
            if kind == "example" and not item["tags"]:
                raise InputError("an example needs at least one tag", path=path, line=line, field="tags")
            if kind == "correction" and not (item["tags"] or item["rejected"]):
                raise InputError("a correction needs 'rejected' and/or 'tags'", path=path, line=line, field="rejected")
            checked = item["tags"] + item["rejected"]
        unknown = [t for t in checked if t not in library]
        if unknown:
            raise InputError(
                f"unknown tag id(s) {unknown}; add them to the library first",
                path=path,
                line=line,
                field="tag" if kind == "note" else "tags",
            )
        if obj.get("created_at") is not None:
            item["created_at"] = _timestamp(obj["created_at"], path=path, line=line)
        items.append(item)
    return items


def _timestamp(value: object, *, path: str | Path, line: int) -> float:
    """Seconds since the epoch from a number or an ISO 8601 date-time (a date-time without a zone is UTC)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    raise InputError(
        f"expected seconds since the epoch or an ISO 8601 date-time such as 2026-11-26T08:00:00Z, got {value!r}",
        path=path,
        line=line,
        field="created_at",
    )


@dataclass
class KnowledgeBase:
    """Retrieval over the notes and corrections in the store (examples live in the recall graph)."""

    notes_by_tag: dict[str, list[tuple[float, str]]]
    corrections: list[dict]
    correction_vectors: np.ndarray | None

    @classmethod
    def load(cls, store, encode) -> KnowledgeBase:
        notes: dict[str, list[tuple[float, str]]] = {}
        corrections = []
        for item in store.knowledge(("note", "correction")):
            if item["kind"] == "note":
                notes.setdefault(item["tag_id"], []).append((item["created_at"], item["note"]))
            else:
                corrections.append(item)
        vectors = encode([c["text"] for c in corrections]) if corrections else None
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
        order = sorted(range(len(sims)), key=lambda i: (-round(float(sims[i]), 3), -self.corrections[i]["created_at"]))
        out = []
        for i in order:
            if sims[i] < min_similarity or len(out) >= limit:
                break
            item = self.corrections[i]
            parts = []
            if item["rejected"]:
                parts.append("not " + ", ".join(names.get(t, t) for t in item["rejected"]))
            if item["tags"]:
                parts.append("but " + ", ".join(names.get(t, t) for t in item["tags"]))
            out.append(f"a reviewer corrected a similar text ({item['text'][:80]!r}): {' '.join(parts)}")
        return out
