"""The tag library: what a content may be tagged with."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from llm4tag.errors import InputError

_SPACES = re.compile(r"\s+")

#: limits every writer of a tag obeys (files, the API, the store): a tag is a name, not a document
MAX_ID_CHARS = 1_000
MAX_LABEL_CHARS = 1_000
MAX_DESCRIPTION_CHARS = 20_000
MAX_ALIASES = 200

#: keys of ``Tag.meta`` holding a tag's names in other languages (SKOS prefLabel/altLabel, or a tag file's own
#: ``labels``/``alt_labels`` fields): ``{language: label}`` and ``{language: [alias, ...]}``
LABELS, ALT_LABELS = "labels", "alt_labels"


#: Unicode's control characters (category Cc: U+0000-U+001F, U+007F-U+009F), NUL included; in C, not per
#: character in Python: the store checks every tag each time it reads a library of up to millions of tags
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LAYOUT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # descriptions keep \t \n \r


def _control_character(text: str, *, allow_layout: bool) -> str | None:
    """The first control character of ``text`` as ``U+XXXX``, or None; ``allow_layout`` lets newlines and
    tabs through (descriptions are paragraphs)."""
    found = (_CONTROL_BUT_LAYOUT if allow_layout else _CONTROL).search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def check_tag(tag: Tag) -> None:
    """Raise an :class:`InputError` naming the field when ``tag`` is not one the library may hold.

    The loaders, the store and the HTTP API all call it, so a tag refused from a file is refused from every
    other way in: a blank id or label, a control character (NUL included) in a name, a name longer than the
    limits above, an id with surrounding spaces (ids are compared exactly)."""
    names = (("id", [tag.id], MAX_ID_CHARS), ("label", [tag.label], MAX_LABEL_CHARS),
             ("aliases", list(tag.aliases), MAX_LABEL_CHARS))  # fmt: skip
    if tag.parent is not None:
        names += (("parent", [tag.parent], MAX_ID_CHARS),)
    for field_name, values, limit in names:
        for value in values:
            if not isinstance(value, str):
                raise InputError(f"tag {tag.id!r}: expected a string, got {type(value).__name__}", field=field_name)
            if not value.strip():
                raise InputError(f"tag {tag.id!r}: {field_name} must not be blank", field=field_name)
            if len(value) > limit:
                raise InputError(f"tag {tag.id[:80]!r}: {field_name} is over {limit:,} characters", field=field_name)
            bad = _control_character(value, allow_layout=False)
            if bad:
                raise InputError(f"tag {tag.id!r}: {field_name} holds the control character {bad}", field=field_name)
    if tag.id != tag.id.strip():
        raise InputError(f"tag {tag.id!r}: the id has spaces around it", field="id")
    if len(tag.aliases) > MAX_ALIASES:
        raise InputError(f"tag {tag.id!r}: more than {MAX_ALIASES} aliases", field="aliases")
    if len(tag.description) > MAX_DESCRIPTION_CHARS:
        raise InputError(f"tag {tag.id!r}: description is over {MAX_DESCRIPTION_CHARS:,} characters",
                         field="description")  # fmt: skip
    bad = _control_character(tag.description, allow_layout=True)
    if bad:
        raise InputError(f"tag {tag.id!r}: description holds the control character {bad}", field="description")
    _check_languages(tag)


def _check_languages(tag: Tag) -> None:
    """The names in other languages obey the rules of the label and the aliases (they are matched and shown)."""
    for key, many in ((LABELS, False), (ALT_LABELS, True)):
        value = tag.meta.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise InputError(f"tag {tag.id!r}: expected an object of language: name(s), got {value!r:.80}", field=key)
        for language, names in value.items():
            if not isinstance(language, str) or not language.strip() or len(language) > 35:
                raise InputError(f"tag {tag.id!r}: {language!r:.80} is not a language tag", field=key)
            for name in names if many and isinstance(names, list) else [names]:
                if not isinstance(name, str) or not name.strip():
                    raise InputError(f"tag {tag.id!r}: {key}[{language}] must be non-blank strings", field=key)
                if len(name) > MAX_LABEL_CHARS or _control_character(name, allow_layout=False):
                    raise InputError(
                        f"tag {tag.id!r}: {key}[{language}] is over {MAX_LABEL_CHARS:,} characters or holds a"
                        " control character",
                        field=key,
                    )


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
        """Label and aliases, in every language the tag has them: the strings a lexical matcher looks for."""
        names = [self.label, *self.aliases]
        for language, label in self.labels().items():
            names.append(label)
            names.extend(self.aliases_in(language))
        return list(dict.fromkeys(names))

    def labels(self) -> dict[str, str]:
        """The tag's label in each language it has one in (empty for a library in one language)."""
        labels = self.meta.get(LABELS)
        return dict(labels) if isinstance(labels, dict) else {}

    def label_in(self, language: str | None) -> str:
        """The label in ``language``; the project's label where the tag has none in it."""
        return self.labels().get(language, self.label) if language else self.label

    def aliases_in(self, language: str | None) -> list[str]:
        """The aliases in ``language``; the project's aliases where the tag has none in it."""
        found = self.meta.get(ALT_LABELS)
        if language and isinstance(found, dict) and language in found:
            return list(found[language])
        return list(self.aliases)

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
        check_tag(tag)
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

    def ancestors(self, tag_id: str) -> list[Tag]:
        """The tags above ``tag_id``, root first (empty for a top-level tag). A parent the library lacks ends
        the path; so does a cycle (a loader refuses none: a cycle in a vocabulary must not hang tagging)."""
        path: list[Tag] = []
        seen = {tag_id}
        tag = self._tags.get(tag_id)
        while tag is not None and tag.parent and tag.parent not in seen and tag.parent in self._tags:
            seen.add(tag.parent)
            tag = self._tags[tag.parent]
            path.append(tag)
        return path[::-1]

    def has_children(self) -> set[str]:
        """The ids of the tags that are another tag's parent."""
        return {tag.parent for tag in self._tags.values() if tag.parent and tag.parent in self._tags}

    def languages(self) -> list[str]:
        """The languages any tag has a label in, sorted (empty for a library in one language)."""
        return sorted({language for tag in self._tags.values() for language in tag.labels()})

    def by_name(self) -> dict[str, str]:
        """Map of normalized label/alias to tag id (first tag wins on clashes)."""
        names: dict[str, str] = {}
        for tag in self._tags.values():
            for name in tag.names():
                names.setdefault(normalize_label(name), tag.id)
        return names
