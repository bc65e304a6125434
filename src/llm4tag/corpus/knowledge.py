"""Short-term knowledge items: examples, corrections and tag notes, and the learn files that carry them.

* ``example``: an annotated content; it also becomes an annotated content of the project, so the recall
  graph (C2C2T) and the few-shot examples see it on the very next content.
* ``correction``: "these tags were wrong (``rejected``) / these were right (``tags``) for this text".
  Wrong annotations of a stored content are removed; similar contents get the correction as a note.
* ``note``: free text about a tag ("since 2026, X also covers Y"), shown whenever that tag is a candidate.

Learn files are JSONL, one item a line: ``{"kind": "example", "id", "text", "tags"}``,
``{"kind": "correction", "text", "rejected": [...], "tags": [...]}``, ``{"kind": "note", "tag": "X",
"note": "..."}``. ``kind`` defaults to ``example``.

An example with ``"synthetic": true`` was written by an LLM (``llm4tag synthesize``): its id starts with
``synthetic:``, and it is stored as a synthetic content, which trains recall like an annotated one but is never
gold, never held out to tune on, and can be removed in one go (``llm4tag forget --synthetic``). What it records
of its making (``for_tag``, ``model``, ``prompt``) is kept with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from llm4tag.corpus.documents import SYNTHETIC_PREFIX, is_synthetic, text_hash
from llm4tag.errors import InputError
from llm4tag.fileio import iter_jsonl, optional_str_list, require_str
from llm4tag.library.tags import TagLibrary

SYNTHETIC_FIELDS = ("for_tag", "model", "prompt")  # what a synthetic example records of its making

KINDS = ("example", "correction", "note")


@dataclass
class KnowledgeItem:
    """One item of short-term knowledge, as the API, the service and learn files give it and the store keeps it."""

    kind: str  # example | correction | note
    content_id: str | None = None  # examples and corrections: the content they are about
    text: str = ""
    tags: list[str] = field(default_factory=list)  # right tags
    rejected: list[str] = field(default_factory=list)  # wrong tags (corrections)
    tag_id: str | None = None  # notes: the tag the note is about
    note: str = ""
    created_at: float | None = None  # seconds since the epoch; None: when it is stored
    seq: int | None = None  # the store's row number, once stored
    replace_text: bool = False  # a stored content's text is replaced by this item's only when asked (not stored)
    synthetic: dict | None = None  # an example an LLM wrote: what it records of its making (``SYNTHETIC_FIELDS``)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.synthetic is not None and self.kind != "example":
            raise ValueError("only an example can be synthetic")
        if self.kind != "note" and self.content_id is None:
            prefix = SYNTHETIC_PREFIX if self.synthetic is not None else "learn:"
            self.content_id = f"{prefix}{text_hash(self.text)[:16]}"
        if self.synthetic is not None and not is_synthetic(self.content_id or ""):
            raise ValueError(f"a synthetic example's id starts with {SYNTHETIC_PREFIX!r}")

    @classmethod
    def feedback(
        cls, text: str, right: list[str], wrong: list[str], content_id: str | None = None, *, replace_text: bool = False
    ) -> KnowledgeItem:
        """A reviewer's verdict on one content: a correction when something was wrong, else an example. Either
        adds the right tags to the content's annotations and removes the wrong ones (never replaces the set)."""
        kind = "correction" if wrong else "example"
        return cls(kind, content_id, text, list(right), list(wrong), replace_text=replace_text)

    def tag_ids(self) -> list[str]:
        """Every tag id the item names (checked against the library before it is stored)."""
        return [self.tag_id] if self.kind == "note" and self.tag_id else self.tags + self.rejected


def read_learn_file(path: str | Path, library: TagLibrary, *, max_text_chars: int | None = None) -> list[KnowledgeItem]:
    """Parse and validate a learn file completely before anything is stored."""
    items = []
    for line, obj in iter_jsonl(path):
        kind = obj.get("kind", "example")
        if kind not in KINDS:
            raise InputError(f"expected one of {', '.join(KINDS)}", path=path, line=line, field="kind")
        created_at = _timestamp(obj["created_at"], path=path, line=line) if obj.get("created_at") is not None else None
        if obj.get("synthetic") not in (None, False) and kind != "example":
            raise InputError("only an example can be synthetic", path=path, line=line, field="synthetic")
        if kind == "note":
            item = KnowledgeItem(
                "note",
                tag_id=require_str(obj, "tag", path=path, line=line),
                note=require_str(obj, "note", path=path, line=line),
                created_at=created_at,
            )
        else:
            text = require_str(obj, "text", path=path, line=line)
            if max_text_chars is not None and len(text) > max_text_chars:
                raise InputError(
                    f"text of {len(text):,} characters is over the limit of {max_text_chars:,}",
                    path=path,
                    line=line,
                    field="text",
                )
            content_id = require_str(obj, "id", path=path, line=line) if obj.get("id") not in (None, "") else None
            synthetic = _synthetic(obj, kind, content_id, path=path, line=line)
            item = KnowledgeItem(
                kind,
                content_id,
                text,
                optional_str_list(obj, "tags", path=path, line=line),
                optional_str_list(obj, "rejected", path=path, line=line),
                created_at=created_at,
                synthetic=synthetic,
            )
            if kind == "example" and not item.tags:
                raise InputError("an example needs at least one tag", path=path, line=line, field="tags")
            if kind == "correction" and not (item.tags or item.rejected):
                raise InputError("a correction needs 'rejected' and/or 'tags'", path=path, line=line, field="rejected")
        unknown = [t for t in item.tag_ids() if t not in library]
        if unknown:
            raise InputError(
                f"unknown tag id(s) {unknown}; add them to the library first",
                path=path,
                line=line,
                field="tag" if kind == "note" else "tags",
            )
        items.append(item)
    return items


def _synthetic(obj: dict, kind: str, content_id: str | None, *, path: str | Path, line: int) -> dict | None:
    """What a line marked ``"synthetic": true`` records of its making; None for a line written by a person.
    (A synthetic line that is no example was refused before.)"""
    flag = obj.get("synthetic", False)
    if not isinstance(flag, bool):
        raise InputError("expected true or false", path=path, line=line, field="synthetic")
    if not flag:
        if kind == "example" and content_id and is_synthetic(content_id):
            raise InputError(
                f'ids starting with {SYNTHETIC_PREFIX!r} are kept for synthetic examples; add "synthetic": true'
                " (if an LLM wrote it) or rename it",
                path=path,
                line=line,
                field="id",
            )
        return None
    if content_id and not is_synthetic(content_id):
        raise InputError(f"a synthetic example's id starts with {SYNTHETIC_PREFIX!r}", path=path, line=line, field="id")
    made = {}
    for key in SYNTHETIC_FIELDS:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise InputError("expected a string", path=path, line=line, field=key)
        if value:
            made[key] = value
    return made


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
