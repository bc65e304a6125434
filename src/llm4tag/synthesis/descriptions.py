"""``llm4tag describe``: the LLM writes a one-sentence description and aliases for tags that have none.

For each active tag whose description is shorter than ``min_chars``, one LLM call reads the tag's label, its
parent, the tags beside it (same parent, or same facet) and a few contents tagged with it, and writes a
description and up to three aliases. The result is a tag file (JSONL, one whole tag a line: what it had, the new
description, its aliases and the new ones, and ``described_by``: the model and the prompt's hash) for a curator
to read and edit; nothing in the project changes until ``llm4tag add-tags`` (or ``init --force --tags``) applies
it. A tag already in the file is not described again: a killed run resumes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from llm4tag.corpus.documents import is_synthetic
from llm4tag.fileio import atomic_write
from llm4tag.generation.prompts import PromptTemplate
from llm4tag.library.tags import MAX_LABEL_CHARS, Tag, TagLibrary, normalize_label
from llm4tag.llm.base import ChatRequest, LLMBackend, json_answer
from llm4tag.synthesis.examples import known_tags, prompt_hash, trim

DESCRIPTION_CHARS = 250  # one short sentence
ALIASES = 3


@dataclass
class DescribeSettings:
    min_chars: int = 20  # a tag whose description is shorter than this is described
    siblings: int = 12
    examples: int = 3
    tags: list[str] | None = None  # only these tags (every one checked against the library)


class Describer:
    """Writes a reviewable tag file of descriptions and aliases for the tags that lack them (see the module)."""

    def __init__(
        self, project, llm: LLMBackend, template: PromptTemplate, settings: DescribeSettings | None = None
    ) -> None:
        self.project, self.llm, self.template = project, llm, template
        self.settings = settings or DescribeSettings()
        self.library: TagLibrary = project.library
        self.names = self.library.display_names()
        self.prompt = prompt_hash(template)

    def tags_to_describe(self) -> list[str]:
        s = self.settings
        if s.tags is not None:
            return known_tags(self.library, s.tags)
        return [t.id for t in self.library.active() if len(t.description.strip()) < s.min_chars]

    def _siblings(self, tag: Tag) -> list[str]:
        if tag.parent:
            same = [t for t in self.library if t.parent == tag.parent and t.id != tag.id]
        else:
            context = self.library.context_of(tag)
            same = [t for t in self.library if t.id != tag.id and context and self.library.context_of(t) == context]
        return [t.label for t in same if not t.deprecated][: self.settings.siblings]

    def _examples(self, tag_id: str, by_tag: dict[str, list[int]], ids_by_seq: dict[int, str]) -> list[str]:
        ids = [ids_by_seq[seq] for seq in by_tag.get(tag_id, [])[: self.settings.examples]]
        return [trim(d.text, 300) for d in self.project.store.get_contents(ids)]

    def request(self, tag: Tag, examples: list[str]) -> ChatRequest:
        parent = self.library.get(tag.parent) if tag.parent else None
        messages = self.template.messages(
            tag={"name": self.names[tag.id], "label": tag.label, "parent": parent.label if parent else ""},
            siblings=self._siblings(tag),
            examples=examples,
        )
        schema = {
            "type": "object",
            "properties": {
                "description": {"type": "string", "maxLength": DESCRIPTION_CHARS},
                "aliases": {"type": "array", "items": {"type": "string", "maxLength": 60}, "maxItems": ALIASES},
            },
            "required": ["description", "aliases"],
        }
        json_schema = schema if self.llm.supports_json_schema else None
        return ChatRequest(messages=messages, max_tokens=200, temperature=0.0, json_schema=json_schema)

    @staticmethod
    def interpret(raw: str, tag: Tag) -> tuple[str, list[str]]:
        """The description and the new aliases (not the label, not one the tag has) in the model's answer."""
        data = json_answer(raw)
        description = " ".join(str(data.get("description") or "").split())[:DESCRIPTION_CHARS]
        known = {normalize_label(n) for n in tag.names()}
        aliases = []
        for alias in data.get("aliases") or []:
            if isinstance(alias, str) and alias.strip() and normalize_label(alias) not in known:
                known.add(normalize_label(alias))
                aliases.append(alias.strip()[:MAX_LABEL_CHARS])
        return description, aliases[:ALIASES]

    def run(self, out: Path, *, progress: bool = False) -> dict[str, Any]:
        """Describe every tag that needs it into ``out`` (tags already in it are kept); a summary."""
        out = Path(out)
        todo = self.tags_to_describe()
        done = _described(out)
        pending = [t for t in todo if t not in done]
        store = self.project.store
        ids_by_seq = {r.seq: r.id for r in store.content_rows() if not is_synthetic(r.id)}
        by_tag: dict[str, list[int]] = {}
        for seq, tag_id in store.annotations():
            if seq in ids_by_seq:
                by_tag.setdefault(tag_id, []).append(seq)
        bar = tqdm(total=len(pending), desc="describing tags", unit="tag", disable=not progress)
        seconds, empty = 0.0, []
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as handle:
            for tag_id in pending:
                tag = self.library[tag_id]
                result = self.llm.chat(self.request(tag, self._examples(tag_id, by_tag, ids_by_seq)))
                description, aliases = self.interpret(result.text, tag)
                seconds += result.seconds
                if not description:
                    empty.append(tag_id)
                    bar.update(1)
                    continue
                line = {
                    **tag.to_dict(),
                    "description": description,
                    "aliases": [*tag.aliases, *aliases],
                    "described_by": {"model": self.llm.name, "prompt": self.prompt, "was": tag.description},
                }
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
                handle.flush()
                bar.set_postfix(llm_s=f"{result.seconds:.1f}")
                bar.update(1)
        bar.close()
        return {
            "tags": len(todo),
            "described_now": len(pending) - len(empty),
            "no_answer": empty,
            "llm_seconds": round(seconds, 1),
            "model": self.llm.name,
            "prompt": self.prompt,
        }


def _described(out: Path) -> set[str]:
    """The tags a run already wrote into ``out``; a line cut by a kill is removed (its tag is described again)."""
    if not out.exists():
        return set()
    text = out.read_text(encoding="utf-8")
    if text and not text.endswith("\n"):
        with atomic_write(out) as handle:
            handle.write(text[: text.rfind("\n") + 1])
        text = text[: text.rfind("\n") + 1]
    done = set()
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            done.add(record["id"])
    return done
