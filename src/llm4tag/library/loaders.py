"""Load a tag library from JSONL, CSV/TSV with a header, Annif's vocabulary TSV, or SKOS (Turtle, RDF/XML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm4tag.errors import InputError
from llm4tag.fileio import format_suffix, iter_delimited, iter_jsonl, optional_str_list, read_text_lines, require_str
from llm4tag.library.tags import Tag, TagLibrary

FORMATS = ("jsonl", "csv", "tsv", "annif-tsv", "skos")
_KNOWN_FIELDS = {"id", "label", "aliases", "description", "parent", "deprecated"}


def strip_uri(value: str) -> str:
    """Annif writes subject URIs as ``<uri>``; llm4tag stores the bare URI as the tag id."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        return value[1:-1].strip()
    return value


def detect_library_format(path: Path) -> str:
    from llm4tag.library.skos import SUFFIXES

    suffix = format_suffix(path)
    if suffix in SUFFIXES:
        return "skos"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in (".tsv", ".txt", ".tab"):
        for _, line in read_text_lines(path):
            if line.strip():
                first = line.split("\t")[0].strip()
                return "annif-tsv" if first.startswith("<") else "tsv"
    raise InputError(
        f"cannot tell the format from the extension {suffix!r}; use one of {', '.join(FORMATS)}",
        path=path,
    )


def _tag_from_record(record: dict[str, Any], *, path: Path, line: int) -> Tag:
    tag_id = require_str(record, "id", path=path, line=line)
    label = require_str(record, "label", path=path, line=line)
    description = record.get("description") or ""
    if not isinstance(description, str):
        raise InputError("expected a string", path=path, line=line, field="description")
    parent = record.get("parent") or None
    if parent is not None and not isinstance(parent, str):
        raise InputError("expected a tag id string", path=path, line=line, field="parent")
    deprecated = record.get("deprecated", False)
    if isinstance(deprecated, str):
        deprecated = deprecated.strip().lower() in ("1", "true", "yes")
    meta = {k: v for k, v in record.items() if k not in _KNOWN_FIELDS and v not in (None, "")}
    return Tag(
        id=tag_id,
        label=label,
        aliases=tuple(optional_str_list(record, "aliases", path=path, line=line)),
        description=description.strip(),
        parent=parent.strip() if parent else None,
        deprecated=bool(deprecated),
        meta=meta,
    )


def _iter_records(path: Path, fmt: str):
    if fmt == "jsonl":
        yield from iter_jsonl(path)
    elif fmt in ("csv", "tsv"):
        yield from iter_delimited(path, "," if fmt == "csv" else "\t", required=("id", "label"))
    elif fmt == "annif-tsv":
        for line_number, line in read_text_lines(path):
            if not line.strip():
                continue
            cells = line.split("\t")
            if len(cells) < 2:
                raise InputError(
                    "expected '<uri>\\tlabel' (Annif vocabulary TSV)", path=path, line=line_number, field="label"
                )
            yield line_number, {"id": strip_uri(cells[0]), "label": cells[1]}
    else:
        raise InputError(f"unknown tag library format {fmt!r}; expected one of {', '.join(FORMATS)}", path=path)


def load_tag_library(path: str | Path, fmt: str | None = None, *, language: str = "en") -> TagLibrary:
    """Read and validate a tag library file; raise ``InputError`` pointing at the first problem.

    ``language`` picks the labels of a SKOS vocabulary (the other formats hold one label per tag).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    fmt = fmt or detect_library_format(path)
    if fmt == "skos":
        from llm4tag.library.skos import load_skos

        return load_skos(path, language=language)
    library = TagLibrary()
    first_line: dict[str, int] = {}
    for line, record in _iter_records(path, fmt):
        tag = _tag_from_record(record, path=path, line=line)
        if tag.id in first_line:
            raise InputError(
                f"duplicate tag id {tag.id!r} (first defined on line {first_line[tag.id]})",
                path=path,
                line=line,
                field="id",
            )
        first_line[tag.id] = line
        try:
            library.add(tag)
        except InputError as exc:  # the library's own check: say where in the file
            raise InputError(exc.reason, path=path, line=line, field=exc.field) from None
    for tag in library:
        if tag.parent and tag.parent not in library:
            raise InputError(
                f"parent {tag.parent!r} of tag {tag.id!r} is not in the library",
                path=path,
                line=first_line[tag.id],
                field="parent",
            )
    return library
