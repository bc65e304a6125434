"""Naming a group of poorly covered contents: the LLM proposes the tag the library lacks (``LLMProposer``), or
the group's most distinctive words name it (``WordsProposer``, c-TF-IDF: the no-LLM baseline)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from llm4tag.discovery.groups import distinctive_words
from llm4tag.generation.prompts import PromptTemplate
from llm4tag.library.tags import (
    MAX_ALIASES,
    MAX_DESCRIPTION_CHARS,
    MAX_LABEL_CHARS,
    Tag,
    TagLibrary,
    normalize_label,
)
from llm4tag.llm.base import ChatRequest, LLMBackend, json_answer

CONTENT_CHARS = 300


@dataclass
class Group:
    """What a proposer reads about one group."""

    texts: list[str]  # its evidence contents, nearest its centre first
    all_texts: list[str]  # every member's text (for the words)
    nearest: list[Tag]  # existing tags nearest its meaning
    tagged: Counter  # how its contents are tagged today


@dataclass
class Proposal:
    new_tag: bool
    label: str = ""
    description: str = ""
    aliases: list[str] = field(default_factory=list)
    parent: str | None = None  # an existing tag id
    llm_seconds: float = 0.0
    raw: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "new_tag": self.new_tag,
            "label": self.label,
            "description": self.description,
            "aliases": self.aliases,
            "parent": self.parent,
        }


def trim(text: str, limit: int = CONTENT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class WordsProposer:
    """The baseline: a group is named by its most distinctive words; it never says "no new tag"."""

    name = "words"

    def propose_all(self, groups: list[Group], library: TagLibrary) -> list[Proposal]:
        named = distinctive_words([g.all_texts for g in groups])
        return [
            Proposal(True, " ".join(words[:3]), "Contents about " + ", ".join(words) + ".", [], None)
            if words
            else Proposal(False)
            for words in named
        ]


class LLMProposer:
    """One LLM call per group (batched through the backend's bounded concurrency). The parent is constrained to
    the library: a name the LLM gives that is no tag's is dropped, not invented."""

    name = "llm"

    def __init__(self, llm: LLMBackend, template: PromptTemplate, *, max_new_tokens: int = 160) -> None:
        self.llm, self.template, self.max_new_tokens = llm, template, max_new_tokens

    def request(self, group: Group, library: TagLibrary) -> tuple[ChatRequest, dict[str, str]]:
        """The request, and the parents it offers (name -> tag id): the nearest tags and their ancestors."""
        names = library.display_names(with_context=False)
        offered = {t.id for t in group.nearest} | {a.id for t in group.nearest for a in library.ancestors(t.id)}
        parent_ids = {names[t]: t for t in offered}
        parents = sorted(parent_ids)
        messages = self.template.messages(
            contents=[trim(t) for t in group.texts],
            nearest=[{"name": names[t.id], "description": trim(t.description, 160)} for t in group.nearest],
            tagged=[{"name": names.get(t, t), "count": n} for t, n in group.tagged.most_common(6)],
            parents=parents,
        )
        schema = {
            "type": "object",
            "properties": {
                "new_tag": {"type": "boolean"},
                "label": {"type": "string", "maxLength": 80},
                "description": {"type": "string", "maxLength": 400},
                "aliases": {"type": "array", "items": {"type": "string", "maxLength": 80}, "maxItems": 3},
                "parent": {"anyOf": [{"type": "string", "enum": parents or [""]}, {"type": "null"}]},
            },
            "required": ["new_tag"],
        }
        json_schema = schema if self.llm.supports_json_schema else None
        request = ChatRequest(
            messages=messages, max_tokens=self.max_new_tokens, temperature=0.0, json_schema=json_schema
        )
        return request, parent_ids

    def propose_all(self, groups: list[Group], library: TagLibrary, on_done=None) -> list[Proposal]:
        built = [self.request(g, library) for g in groups]
        results = self.llm.chat_batch([request for request, _ in built], on_done=on_done)
        return [self.interpret(r.text, r.seconds, parents) for r, (_, parents) in zip(results, built)]

    @staticmethod
    def interpret(raw: str, seconds: float, parents: dict[str, str]) -> Proposal:
        """The proposal in the model's answer; a parent outside the offered ones is dropped."""
        data = json_answer(raw)
        label = str(data.get("label") or "").strip()[:MAX_LABEL_CHARS]
        new_tag = bool(data.get("new_tag")) and bool(label)
        aliases = [str(a).strip() for a in data.get("aliases") or [] if isinstance(a, str) and str(a).strip()]
        parent_name = data.get("parent")
        by_name = {normalize_label(name): tag_id for name, tag_id in parents.items()}
        parent = by_name.get(normalize_label(parent_name)) if isinstance(parent_name, str) else None
        description = str(data.get("description") or "").strip()[:MAX_DESCRIPTION_CHARS]
        return Proposal(new_tag, label, description, aliases[:MAX_ALIASES], parent, seconds, raw)
