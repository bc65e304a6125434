"""Load corpora: JSONL, Annif corpus TSV, or a directory of ``.txt`` + ``.tags`` files.

Loaders stream documents so that files of any size can be read in constant
memory. When a tag library is given, annotations are validated against it:
unknown ids are an error unless ``on_unknown="skip"``, in which case they are
dropped and counted in ``LoadReport``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from llm4tag.corpus.documents import SYNTHETIC_PREFIX, Document, is_synthetic
from llm4tag.errors import InputError
from llm4tag.fileio import format_suffix, iter_delimited, iter_jsonl, optional_str_list, read_text_lines, require_str
from llm4tag.library.loaders import strip_uri
from llm4tag.library.tags import TagLibrary

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "annif-tsv", "csv", "tsv", "dir")
_TAG_FILE_SUFFIXES = (".tags", ".key", ".tsv")


@dataclass
class LoadReport:
    """What a loader did besides returning documents."""

    documents: int = 0
    skipped_unknown_tags: int = 0
    unknown_tag_examples: list[str] = field(default_factory=list)

    def note_unknown(self, tag_id: str) -> None:
        self.skipped_unknown_tags += 1
        if len(self.unknown_tag_examples) < 5 and tag_id not in self.unknown_tag_examples:
            self.unknown_tag_examples.append(tag_id)


def detect_corpus_format(path: Path) -> str:
    if path.is_dir():
        return "dir"
    suffix = format_suffix(path)
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in (".tsv", ".txt"):
        for _, line in read_text_lines(path):
            if line.strip():
                header = [cell.strip().lower() for cell in line.split("\t")]
                return "tsv" if "text" in header and "id" in header else "annif-tsv"
    if not path.exists():
        raise InputError("file or directory not found", path=path)
    raise InputError(
        f"cannot tell the corpus format from the extension {suffix!r}; use one of {', '.join(FORMATS)}",
        path=path,
    )


def check_tags(
    tags: list[str],
    library: TagLibrary | None,
    on_unknown: str,
    report: LoadReport,
    *,
    path: Path | None = None,
    line: int | None = None,
    content_id: str | None = None,
) -> list[str]:
    """Deduplicated tags of one content; unknown ids raise, or are dropped and counted with ``skip``."""
    out: list[str] = []
    for tag_id in tags:
        if library is not None and tag_id not in library:
            if on_unknown == "skip":
                report.note_unknown(tag_id)
                continue
            whose = f"content {content_id!r}: " if content_id else ""
            raise InputError(
                f"{whose}unknown tag id {tag_id!r} (not in the tag library; "
                "pass on_unknown='skip' / --skip-unknown to drop it)",
                path=path,
                line=line,
                field="tags",
            )
        if tag_id not in out:
            out.append(tag_id)
    return out


def _iter_jsonl_documents(path: Path) -> Iterator[tuple[int | None, Document]]:
    for line, obj in iter_jsonl(path):
        doc_id = require_str(obj, "id", path=path, line=line)
        text = require_str(obj, "text", path=path, line=line)
        tags = optional_str_list(obj, "tags", path=path, line=line)
        meta = {k: v for k, v in obj.items() if k not in ("id", "text", "tags")}
        yield line, Document(id=doc_id, text=text, tags=tags, meta=meta)


def _iter_table_documents(path: Path, delimiter: str) -> Iterator[tuple[int | None, Document]]:
    for line, row in iter_delimited(path, delimiter, required=("id", "text")):
        doc_id = require_str(row, "id", path=path, line=line)
        text = require_str(row, "text", path=path, line=line)
        raw = (row.get("tags") or "").strip()
        sep = "|" if "|" in raw else (";" if ";" in raw else " ")
        tags = [strip_uri(t) for t in raw.split(sep) if t.strip()]
        yield line, Document(id=doc_id, text=text, tags=tags)


def _iter_annif_tsv_documents(path: Path) -> Iterator[tuple[int | None, Document]]:
    for line, content in read_text_lines(path):
        if not content.strip():
            continue
        text, _, subjects = content.partition("\t")
        if not text.strip():
            raise InputError(
                "empty text before the tab (Annif corpus TSV is 'text<TAB><uri> <uri>')",
                path=path,
                line=line,
                field="text",
            )
        tags = [strip_uri(s) for s in subjects.split() if s.strip()]
        yield line, Document(id=f"{path.stem}:{line}", text=text.strip(), tags=tags)


def _read_tag_file(path: Path) -> list[str]:
    tags = []
    for _, line in read_text_lines(path):
        if line.strip():
            tags.append(strip_uri(line.split("\t")[0]))
    return tags


def _iter_directory_documents(path: Path) -> Iterator[tuple[int | None, Document]]:
    text_files = sorted(path.glob("*.txt"))
    if not text_files:
        raise InputError("directory holds no .txt files", path=path)
    for text_file in text_files:
        text = "\n".join(line for _, line in read_text_lines(text_file)).strip()
        tags: list[str] = []
        for suffix in _TAG_FILE_SUFFIXES:
            tag_file = text_file.with_suffix(suffix)
            if tag_file.exists():
                tags = _read_tag_file(tag_file)
                break
        yield None, Document(id=text_file.stem, text=text, tags=tags, meta={"path": str(text_file)})


def iter_corpus(
    path: str | Path,
    fmt: str | None = None,
    *,
    library: TagLibrary | None = None,
    on_unknown: str = "error",
    report: LoadReport | None = None,
    require_tags: bool = False,
    max_text_chars: int | None = None,
    for_store: bool = False,
) -> Iterator[Document]:
    """Stream validated documents from a corpus file or directory; a text over ``max_text_chars`` is an error,
    and so is, for contents to store (``for_store``), an id that marks a synthetic content."""
    path = Path(path)
    if on_unknown not in ("error", "skip"):
        raise ValueError("on_unknown must be 'error' or 'skip'")
    fmt = fmt or detect_corpus_format(path)
    readers = {
        "jsonl": lambda: _iter_jsonl_documents(path),
        "csv": lambda: _iter_table_documents(path, ","),
        "tsv": lambda: _iter_table_documents(path, "\t"),
        "annif-tsv": lambda: _iter_annif_tsv_documents(path),
        "dir": lambda: _iter_directory_documents(path),
    }
    if fmt not in readers:
        raise InputError(f"unknown corpus format {fmt!r}; expected one of {', '.join(FORMATS)}", path=path)
    report = report if report is not None else LoadReport()
    seen_ids: dict[str, int | None] = {}
    for line, doc in readers[fmt]():
        if doc.id in seen_ids:
            raise InputError(f"duplicate document id {doc.id!r}", path=path, line=line, field="id")
        seen_ids[doc.id] = line
        if for_store and is_synthetic(doc.id):
            raise InputError(_SYNTHETIC_ID, path=path, line=line, field="id")
        if max_text_chars is not None and len(doc.text) > max_text_chars:
            raise InputError(
                f"text of {len(doc.text):,} characters is over the limit of {max_text_chars:,}"
                " ([index] max_text_chars in llm4tag.toml); split or shorten it",
                path=doc.meta.get("path", path),
                line=line,
                field="text",
            )
        doc.tags = check_tags(doc.tags, library, on_unknown, report, path=path, line=line)
        if require_tags and not doc.tags:
            raise InputError(
                "annotated corpus expected, but this document has no tags", path=path, line=line, field="tags"
            )
        report.documents += 1
        yield doc
    if report.skipped_unknown_tags:
        log.warning(
            "%s: skipped %d annotation(s) with unknown tag ids, e.g. %s",
            path,
            report.skipped_unknown_tags,
            ", ".join(report.unknown_tag_examples),
        )


def load_corpus(path: str | Path, fmt: str | None = None, **kwargs) -> list[Document]:
    """Read a whole corpus into memory (see ``iter_corpus`` for streaming)."""
    return list(iter_corpus(path, fmt, **kwargs))


_SYNTHETIC_ID = (
    f"ids starting with {SYNTHETIC_PREFIX!r} are kept for contents an LLM wrote (llm4tag synthesize), which are"
    " never used as gold; rename this content"
)


def read_annotated(
    source: str | Path | Iterable[Document],
    fmt: str | None = None,
    *,
    library: TagLibrary,
    on_unknown: str = "error",
    report: LoadReport | None = None,
    max_text_chars: int | None = None,
) -> list[Document]:
    """Every document of a corpus file or of given ``Document`` objects, validated against ``library``, before
    anything is stored (a mistake on the last line must not leave the first ones half-imported)."""
    report = report if report is not None else LoadReport()
    if isinstance(source, (str, Path)):
        return list(
            iter_corpus(
                source,
                fmt,
                library=library,
                on_unknown=on_unknown,
                report=report,
                max_text_chars=max_text_chars,
                for_store=True,
            )
        )
    docs = []
    for doc in source:
        if is_synthetic(doc.id):
            raise InputError(_SYNTHETIC_ID, field="id")
        docs.append(
            Document(doc.id, doc.text, check_tags(doc.tags, library, on_unknown, report, content_id=doc.id), doc.meta)
        )
        report.documents += 1
    return docs
