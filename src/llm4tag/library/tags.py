"""The tag library: what a content may be tagged with."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from llm4tag.errors import InputError

_SPACES = re.compile(r"\s+")


def normalize_label(text: str) -> str:
    """Case- and whitespace-insensitive key used to match labels and aliases."""
    return _SPACES.sub(" ", text.strip().lower())


@dataclass(frozen=True)
class Tag:
    """One tag of the library. ``id`` is stable; everything else is for humans and models."""

    id: str
    label: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    parent: str | None = None
    deprecated: bool = False
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def text(self, *, with_description: bool = True, max_description_chars: int = 300) -> str:
        """The text embedded and matched for this tag: label, aliases, description."""
        parts = [self.label]
        if self.aliases:
            parts.append("(" + ", ".join(self.aliases) + ")")
        if with_description and self.description:
            description = _SPACES.sub(" ", self.description).strip()
            parts.append(": " + description[:max_description_chars])
        return " ".join(parts).replace(" :", ":")

    def names(self) -> list[str]:
        """Label and aliases, the strings a lexical matcher looks for."""
        return [self.label, *self.aliases]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "label": self.label}
        if self.aliases:
            out["aliases"] = list(self.aliases)
        if self.description:
            out["description"] = self.description
        if self.parent:
            out["parent"] = self.parent
        if self.deprecated:
            out["deprecated"] = True
        out.update({k: v for k, v in self.meta.items() if k not in out})
        return out


class TagLibrary:
    """An ordered, validated collection of tags with lookups by id and by name."""

    def __init__(self, tags: Iterable[Tag] = (), *, replace: bool = False) -> None:
        """``replace``: a later tag with the same id replaces an earlier one (else a duplicate is an error)."""
        self._tags: dict[str, Tag] = {}
        for tag in tags:
            self.add(tag, replace=replace)

    def add(self, tag: Tag, *, replace: bool = False) -> None:
        if not tag.id:
            raise InputError("tag id must not be empty", field="id")
        if not tag.label.strip():
            raise InputError(f"tag {tag.id!r} has an empty label", field="label")
        if tag.id in self._tags and not replace:
            raise InputError(f"duplicate tag id {tag.id!r}", field="id")
        self._tags[tag.id] = tag

    def __contains__(self, tag_id: object) -> bool:
        return tag_id in self._tags

    def __getitem__(self, tag_id: str) -> Tag:
        return self._tags[tag_id]

    def get(self, tag_id: str) -> Tag | None:
        return self._tags.get(tag_id)

    def __iter__(self) -> Iterator[Tag]:
        return iter(self._tags.values())

    def __len__(self) -> int:
        return len(self._tags)

    @property
    def ids(self) -> list[str]:
        return list(self._tags)

    def active(self) -> list[Tag]:
        """Tags that may still be assigned (not deprecated)."""
        return [tag for tag in self._tags.values() if not tag.deprecated]

    def context_of(self, tag: Tag) -> str:
        """A short context that disambiguates a label: the parent's label, or a facet if the data has one."""
        if tag.parent and tag.parent in self._tags:
            return self._tags[tag.parent].label
        for key in ("facet_label", "facet", "group", "category"):
            value = tag.meta.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return ""

    def display_names(self, *, with_context: bool = True) -> dict[str, str]:
        """A unique, human-readable name per tag, for prompts: ``context: label``, made unique by id."""
        names: dict[str, str] = {}
        seen: dict[str, int] = {}
        for tag in self._tags.values():
            context = self.context_of(tag) if with_context else ""
            name = f"{context}: {tag.label}" if context and context.lower() != tag.label.lower() else tag.label
            key = normalize_label(name)
            seen[key] = seen.get(key, 0) + 1
            names[tag.id] = name
        for tag_id, name in names.items():
            if seen[normalize_label(name)] > 1:
                names[tag_id] = f"{name} [{tag_id}]"
        return names

    def by_name(self) -> dict[str, str]:
        """Map of normalized label/alias to tag id (first tag wins on clashes)."""
        names: dict[str, str] = {}
        for tag in self._tags.values():
            for name in tag.names():
                names.setdefault(normalize_label(name), tag.id)
        return names
