"""``llm4tag synthesize``: the LLM writes example contents for the tags that have too few, once per tag.

For each tag with fewer than ``below`` annotated examples (new tags included), one LLM call writes ``per_tag``
short contents a curator would tag with it, in the style of the project's own contents: the prompt shows a few
real contents chosen near the tag (its own few examples, then contents of its parent or sibling tags nearest
its meaning, then the contents nearest its meaning), with its label, aliases, description, parent and curators'
notes. Each written content also names the other tags it would have, chosen from tags offered by name (those of
the style examples and the parent): a name that is no offered tag is dropped, never invented.

What the LLM writes is checked before it is kept: a refusal, an answer with no contents, a copy of a style
example or a duplicate is dropped, and so is a text that the embedder does not place near its tag (the tag is
not among the ``max_rank`` tags nearest the text). A tag left with nothing is reported, not silently skipped.

Everything goes to a learn file first (one example a line, ``"synthetic": true``, with the model and the prompt's
hash), which a curator may read and edit before ``llm4tag learn`` stores it, and a status file beside it (one line
per tag: what was kept, what was dropped and why, the LLM's seconds). A tag's lines are written, then its status
line: a killed run resumes after the last tag with a status line, and lines of a tag without one are dropped.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from llm4tag.corpus.documents import SYNTHETIC_PREFIX, is_synthetic
from llm4tag.errors import InputError
from llm4tag.fileio import atomic_write, finished_records
from llm4tag.generation.prompts import PromptTemplate
from llm4tag.library.tags import TagLibrary, normalize_label
from llm4tag.llm.base import ChatRequest, ChatResult, LLMBackend, json_answer

STYLE_CHARS = 400  # a style example is trimmed to this: enough to show the style, not a whole document
TEMPERATURE = 0.7  # greedy decoding repeats one content K times; the backend's fixed seed keeps runs repeatable
REFUSAL = re.compile(r"\b(I'?m sorry|I cannot|I can'?t|as an AI|I am unable|I'm unable)\b", re.I)


@dataclass
class SynthesisSettings:
    """Which tags get examples, how many, and how strictly a written content must be about its tag."""

    below: int = 5  # tags with fewer annotated (written, not synthetic) examples than this
    per_tag: int = 5  # contents written per tag, in one LLM call
    style_examples: int = 3  # real contents shown as the style to follow
    others: int = 12  # other tags offered by name for a written content to also have
    max_rank: int | None = None  # kept if its tag is among the tags this nearest it; None: 5% of tags, at least 10
    tags: list[str] | None = None  # only these tags (every one checked against the library)


def prompt_hash(template: PromptTemplate) -> str:
    """Which prompt wrote a content: the template's text, hashed (an edited prompt writes other contents)."""
    return "sha256:" + hashlib.sha256((template.system + "\0" + template.user).encode("utf-8")).hexdigest()[:16]


def written_example_counts(store, leave_out: set[str] = frozenset()) -> Counter:
    """Annotated examples per tag, the synthetic contents (and the contents ``leave_out``) left out."""
    skipped = {row.seq for row in store.content_rows() if is_synthetic(row.id) or row.id in leave_out}
    return Counter(tag_id for seq, tag_id in store.annotations() if seq not in skipped)


def known_tags(library: TagLibrary, tags: list[str]) -> list[str]:
    """The tags asked for by id, once each; one not in the library is an error before any LLM call."""
    unknown = [t for t in tags if t not in library]
    if unknown:
        raise InputError(f"not in the tag library: {', '.join(map(repr, unknown[:5]))}", field="tags")
    return list(dict.fromkeys(tags))


def trim(text: str, limit: int = STYLE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def status_path(out: Path) -> Path:
    """The status file beside a learn file: ``synthetic.jsonl`` -> ``synthetic.status.jsonl``."""
    return out.with_name(out.stem + ".status.jsonl")


def read_status(out: Path) -> list[dict]:
    """The status lines of a run so far (a line cut by a kill is ignored: its tag is written again)."""
    return [r for r in finished_records(status_path(out), "tag") if isinstance(r["tag"], str)]


class Synthesizer:
    """Writes a learn file of synthetic examples for a project's tags with few examples (see the module)."""

    def __init__(
        self, project, llm: LLMBackend, template: PromptTemplate, settings: SynthesisSettings | None = None
    ) -> None:
        self.project, self.llm, self.template = project, llm, template
        self.settings = settings or SynthesisSettings()
        self.library: TagLibrary = project.library
        self.names = self.library.display_names()
        self.prompt = prompt_hash(template)

    # -- which tags -------------------------------------------------------------------
    def tags_to_write(self) -> list[str]:
        """The active tags with fewer than ``below`` written examples (or the ``tags`` asked for), fewest first."""
        s = self.settings
        if s.tags is not None:
            return known_tags(self.library, s.tags)
        counts = written_example_counts(self.project.store)
        active = [t.id for t in self.library.active()]
        return sorted((t for t in active if counts[t] < s.below), key=lambda t: (counts[t], t))

    # -- the prompt -------------------------------------------------------------------
    def _prepare(self) -> None:
        graph = self.project.recall_index.graph
        self.graph = graph
        self.by_tag = graph.annotations.tocsc()
        self.tag_vectors = graph.tag_dense.vectors
        self.content_vectors = graph.content_dense.vectors
        self.real = np.array([not is_synthetic(c) for c in graph.content_ids], dtype=bool)
        self.notes: dict[str, list[str]] = {}
        for item in self.project.store.knowledge(("note",)):
            self.notes.setdefault(item.tag_id, []).append(item.note)

    def _related(self, tag_id: str) -> list[str]:
        """The tag's parent and siblings (same parent; without one, the same facet or group)."""
        tag = self.library[tag_id]
        if tag.parent:
            return [tag.parent] + [t.id for t in self.library if t.parent == tag.parent and t.id != tag_id]
        context = self.library.context_of(tag)
        if not context:
            return []
        return [t.id for t in self.library if t.id != tag_id and not t.parent and self.library.context_of(t) == context]

    def style_examples(self, tag_id: str) -> list[int]:
        """Graph positions of real contents near the tag: its own, then its relatives', then the nearest."""
        n, graph = self.settings.style_examples, self.graph
        position = graph.tag_position[tag_id]
        tag_vector = self.tag_vectors[position]
        chosen: list[int] = []

        def add_nearest(rows: np.ndarray) -> None:
            rows = rows[self.real[rows]] if len(rows) else rows
            rows = [r for r in rows[np.argsort(-(self.content_vectors[rows] @ tag_vector))] if r not in chosen]
            chosen.extend(int(r) for r in rows[: n - len(chosen)])

        column = self.by_tag[:, position].indices
        add_nearest(column)
        if len(chosen) < n:
            related = [graph.tag_position[t] for t in self._related(tag_id) if t in graph.tag_position]
            if related:
                add_nearest(np.unique(self.by_tag[:, related].indices))
        if len(chosen) < n and graph.n_contents:
            _, found = graph.content_dense.search(tag_vector[None, :], min(graph.n_contents, 4 * n + 10))
            add_nearest(np.array([r for r in found[0] if r >= 0], dtype=np.int64))
        return chosen

    def request(self, tag_id: str) -> tuple[ChatRequest, dict[str, str], list[str]]:
        """The request for one tag, the other tags it offers (normalized name -> id), and the style texts."""
        s, tag = self.settings, self.library[tag_id]
        rows = self.style_examples(tag_id)
        ids = [self.graph.content_ids[r] for r in rows]
        docs = {d.id: d for d in self.project.store.get_contents(ids)}
        texts = [docs[i].text for i in ids if i in docs]
        others = Counter(t for i in ids if i in docs for t in docs[i].tags if t != tag_id)
        offered_ids = [t for t, _ in others.most_common(s.others)]
        if tag.parent and tag.parent not in offered_ids:
            offered_ids = [tag.parent, *offered_ids][: s.others]
        offered = {normalize_label(self.names[t]): t for t in offered_ids if t in self.library}
        words = [len(t.split()) for t in texts] or [30]
        typical = int(min(80, max(5, statistics.median(words))))
        max_chars = int(min(800, max(80, 2 * statistics.median([len(t) for t in texts] or [200]))))
        parent = self.library.get(tag.parent) if tag.parent else None
        messages = self.template.messages(
            tag={
                "name": self.names[tag_id],
                "description": trim(tag.description, 600),
                "aliases": list(tag.aliases),
                "parent": self.names[parent.id] if parent else "",
                "notes": self.notes.get(tag_id, [])[-3:],
            },
            examples=[trim(t) for t in texts],
            count=s.per_tag,
            words=typical,
            others=[self.names[t] for t in offered.values()],
        )
        other_names = [self.names[t] for t in offered.values()]
        tags_schema: dict[str, Any] = (
            {"type": "array", "items": {"type": "string", "enum": other_names}, "maxItems": 6}
            if other_names
            else {"type": "array", "maxItems": 0}
        )
        schema = {
            "type": "object",
            "properties": {
                "contents": {
                    "type": "array",
                    "minItems": s.per_tag,
                    "maxItems": s.per_tag,
                    "items": {
                        "type": "object",
                        "properties": {"text": {"type": "string", "maxLength": max_chars}, "tags": tags_schema},
                        "required": ["text", "tags"],
                    },
                }
            },
            "required": ["contents"],
        }
        max_tokens = s.per_tag * (max_chars // 3 + 12 * min(6, len(other_names)) + 12) + 20
        request = ChatRequest(
            messages=messages,
            max_tokens=max_tokens,
            temperature=TEMPERATURE,
            json_schema=schema if self.llm.supports_json_schema else None,
        )
        return request, offered, texts

    # -- what came back ---------------------------------------------------------------
    @staticmethod
    def interpret(raw: str, offered: dict[str, str]) -> tuple[list[tuple[str, list[str]]], list[str]]:
        """The contents in the model's answer, each with the offered tags it names; and the names it gave that
        are no offered tag (dropped, not invented)."""
        items = json_answer(raw).get("contents")
        contents, unknown = [], []
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str):
                item = {"text": item, "tags": []}
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                continue
            text = " ".join(item["text"].split())
            tags = []
            for name in item.get("tags") or []:
                tag_id = offered.get(normalize_label(name)) if isinstance(name, str) else None
                if tag_id is None:
                    unknown.append(str(name))
                elif tag_id not in tags:
                    tags.append(tag_id)
            if text:
                contents.append((text, tags))
        return contents, unknown

    def max_rank(self) -> int:
        active = int(self.graph.active_tags.sum())
        return self.settings.max_rank or max(10, math.ceil(0.05 * active))

    def without_tag_name(self, tag_id: str, text: str) -> str:
        """The text less a leading "<tag name>:" (small models head each content with it, which would make it
        match its tag by name alone)."""
        tag = self.library[tag_id]
        names = sorted({self.names[tag_id], *tag.names(), self.library.context_of(tag)} - {""}, key=len, reverse=True)
        changed = True
        while changed:
            changed = False
            for name in names:
                if text.lower().startswith(name.lower()) and text[len(name) : len(name) + 1] in (":", " -", "-"):
                    text, changed = text[len(name) + 1 :].lstrip(" -:"), True
        return text

    def check(self, tag_id: str, contents: list[tuple[str, list[str]]], style: list[str]) -> tuple[list, list]:
        """The contents kept, and those dropped with the reason (refusal, copy, duplicate, far from the tag)."""
        kept, dropped, seen = [], [], {normalize_label(t) for t in style}
        candidates = []
        for text, tags in contents:
            text = self.without_tag_name(tag_id, text)
            key = normalize_label(text)
            if REFUSAL.search(text):
                dropped.append({"text": text, "reason": "refusal"})
            elif len(text.split()) < 2:
                dropped.append({"text": text, "reason": "too short"})
            elif key in seen:
                dropped.append({"text": text, "reason": "copy or duplicate"})
            else:
                seen.add(key)
                candidates.append((text, tags))
        if not candidates:
            return kept, dropped
        vectors = self.project.embedder.encode([text for text, _ in candidates])
        similarities = vectors @ self.tag_vectors.T
        similarities[:, ~self.graph.active_tags] = -np.inf
        target = similarities[:, self.graph.tag_position[tag_id]]
        ranks = (similarities > target[:, None]).sum(axis=1)  # how many tags the text is nearer than its own
        limit = self.max_rank()
        for (text, tags), rank in zip(candidates, ranks):
            if rank < limit:
                kept.append((text, tags, int(rank) + 1))
            else:
                dropped.append({"text": text, "reason": f"far from the tag (rank {int(rank) + 1} > {limit})"})
        return kept, dropped

    # -- the run ----------------------------------------------------------------------
    def run(self, out: Path, *, progress: bool = False) -> dict[str, Any]:
        """Write examples for every tag that needs them into ``out`` (resuming a run that stopped); a summary."""
        out = Path(out)
        todo = self.tags_to_write()
        done = {r["tag"]: r for r in read_status(out)}
        _keep_finished(out, set(done))
        pending = [t for t in todo if t not in done]
        self._prepare()
        bar = tqdm(total=len(pending), desc="writing examples", unit="tag", disable=not progress)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as learn, status_path(out).open("a", encoding="utf-8") as status:
            step = max(1, self.llm.concurrency)
            for start in range(0, len(pending), step):
                chunk = pending[start : start + step]
                built = [self.request(t) for t in chunk]
                results = self.llm.chat_batch([request for request, _, _ in built])
                for tag_id, (_, offered, style), result in zip(chunk, built, results):
                    record = self._write(tag_id, offered, style, result, learn)
                    status.write(json.dumps(record, ensure_ascii=False) + "\n")
                    status.flush()  # only now is the tag done: a kill before this writes it again
                    done[tag_id] = record
                    bar.set_postfix(llm_s=f"{record['llm_seconds']:.1f}", kept=record["written"])
                    bar.update(1)
        bar.close()
        records = [done[t] for t in todo if t in done]
        by_status = Counter(r["status"] for r in records)
        seconds = [r["llm_seconds"] for r in records]
        return {
            "tags": len(todo),
            "written_now": len(pending),
            "tags_with_examples": by_status["written"],
            "refused": sorted(r["tag"] for r in records if r["status"] == "refused"),
            "off_topic": sorted(r["tag"] for r in records if r["status"] == "off-topic"),
            "contents": sum(r["written"] for r in records),
            "llm_seconds": round(sum(seconds), 1),
            "llm_seconds_per_tag": round(sum(seconds) / len(seconds), 1) if seconds else 0.0,
            "model": self.llm.name,
            "prompt": self.prompt,
        }

    def _write(self, tag_id: str, offered: dict[str, str], style: list[str], result: ChatResult, learn) -> dict:
        contents, unknown = self.interpret(result.text, offered)
        kept, dropped = self.check(tag_id, contents, style)
        for number, (text, tags, _) in enumerate(kept, 1):
            line = {
                "kind": "example",
                "id": f"{SYNTHETIC_PREFIX}{tag_id}:{number}",
                "text": text,
                "tags": [tag_id, *tags],
                "synthetic": True,
                "for_tag": tag_id,
                "model": self.llm.name,
                "prompt": self.prompt,
            }
            learn.write(json.dumps(line, ensure_ascii=False) + "\n")
        learn.flush()
        if kept:
            status = "written"
        elif not contents or all(d["reason"] == "refusal" for d in dropped):
            status = "refused"
        else:
            status = "off-topic"
        return {
            "tag": tag_id,
            "status": status,
            "written": len(kept),
            "ranks": [rank for _, _, rank in kept],
            "dropped": dropped,
            "unknown_tags": unknown,
            "llm_seconds": round(result.seconds, 2),
            "completion_tokens": result.completion_tokens,
            **({"answer": result.text[:500]} if not contents else {}),
        }


def _keep_finished(out: Path, finished: set[str]) -> None:
    """Drop from the learn file the lines of tags without a status line (a run killed while writing them)."""
    if not out.exists():
        return
    lines = out.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if line.endswith("\n") and isinstance(record, dict) and record.get("for_tag") in finished:
            kept.append(line)
    if len(kept) != len(lines):
        with atomic_write(out) as handle:
            handle.writelines(kept)
