"""Reading user files with errors that point at the file, line and field.

Shared by the tag-library and corpus loaders so that every format reports
problems the same way, and by writers that must never leave half a file.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from llm4tag.errors import InputError, StorageError, os_error_message


def format_suffix(path: str | Path) -> str:
    """The suffix that names a file's format, lower-case, looking through a trailing ``.gz``
    (``train.jsonl.gz`` is ``.jsonl``)."""
    path = Path(path)
    if path.suffix.lower() == ".gz":
        path = path.with_suffix("")
    return path.suffix.lower()


def read_text_lines(path: str | Path, *, keep_ends: bool = False) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, line)`` of a UTF-8 text file, without line endings unless ``keep_ends``;
    a file whose name ends in ``.gz`` is read through gzip."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path)
    if path.is_dir():
        raise InputError("expected a file, found a directory", path=path)
    compressed = path.suffix.lower() == ".gz"
    with gzip.open(path, "rb") if compressed else path.open("rb") as handle:
        seen_any = False
        for number, raw in _numbered_lines(handle, path, compressed):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"not valid UTF-8 (byte {exc.start}); convert the file to UTF-8",
                    path=path,
                    line=number,
                ) from None
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]
            seen_any = seen_any or bool(line.strip())
            yield number, line if keep_ends else line.rstrip("\r\n")
    if not seen_any:
        raise InputError("file is empty", path=path)


def _numbered_lines(handle: IO[bytes], path: Path, compressed: bool) -> Iterator[tuple[int, bytes]]:
    """``enumerate(handle, start=1)``, with a damaged gzip stream reported as the file's error."""
    number = 0
    try:
        for number, raw in enumerate(handle, start=1):
            yield number, raw
    except (OSError, EOFError) as exc:
        if not compressed:
            raise
        raise InputError(f"not a readable gzip file ({exc})", path=path, line=number + 1) from None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file."""
    for number, line in read_text_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"malformed JSON ({exc.msg} at column {exc.colno})", path=path, line=number) from None
        if not isinstance(obj, dict):
            raise InputError(f"expected a JSON object, got {type(obj).__name__}", path=path, line=number)
        yield number, obj


#: a CSV field may be as long as a text may be (the csv module's default stops at 128 KiB)
MAX_FIELD_CHARS = 64 * 1024 * 1024


def iter_delimited(
    path: str | Path, delimiter: str, *, required: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` for a CSV/TSV file with a header row naming at least ``required``.

    Quoted fields may hold newlines and long texts; the line number is where the row starts.
    """
    csv.field_size_limit(MAX_FIELD_CHARS)
    lines = read_text_lines(path, keep_ends=True)
    rows = csv.reader((line for _, line in lines), delimiter=delimiter, strict=True)
    kind = "CSV" if delimiter == "," else "TSV"
    try:
        header = [name.strip() for name in next(rows)]
        missing = [name for name in required if name not in header]
        if missing:
            raise InputError(
                f"the first line must be a header naming the columns ({', '.join(required)}, ...);"
                f" found {', '.join(repr(h) for h in header[:6])}, without {', '.join(missing)}",
                path=path,
                line=1,
            )
        line_number = rows.line_num
        for row in rows:
            start, line_number = line_number + 1, rows.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(
                    f"expected {len(header)} columns ({', '.join(header)}), found {len(row)}",
                    path=path,
                    line=start,
                )
            yield start, dict(zip(header, row))
    except StopIteration:
        raise InputError("file is empty", path=path) from None
    except csv.Error as exc:
        raise InputError(f"malformed {kind} ({exc})", path=path, line=rows.line_num) from None


def require_str(obj: dict[str, Any], field: str, *, path: str | Path, line: int, allow_empty: bool = False) -> str:
    """Return ``obj[field]`` as a stripped string, or raise a pointed error."""
    if field not in obj or obj[field] is None:
        raise InputError("missing required field", path=path, line=line, field=field)
    value = obj[field]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InputError(f"expected a string, got {type(value).__name__}", path=path, line=line, field=field)
    value = value.strip()
    if not value and not allow_empty:
        raise InputError("must not be empty", path=path, line=line, field=field)
    return value


def optional_str_list(obj: dict[str, Any], field: str, *, path: str | Path, line: int) -> list[str]:
    """Return a list of strings from a JSON list or a ``|``/``;``-separated string."""
    value = obj.get(field)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        sep = "|" if "|" in value else ";"
        return [part.strip() for part in value.split(sep) if part.strip()]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    raise InputError("expected a list of strings", path=path, line=line, field=field)


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Write to a temporary file and move it over ``path`` only when complete.

    A crash or an exception midway leaves the old file untouched.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise StorageError(os_error_message(exc, path), exc.errno) from None
    try:
        with os.fdopen(fd, mode, encoding=encoding if "b" not in mode else None) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, StorageError):
            raise StorageError(os_error_message(exc, path), exc.errno) from None
        raise


def replace_directory(staging: Path, directory: Path) -> None:
    """Put the complete ``staging`` directory in the place of ``directory``: a reader sees the old one or the
    new one whole, never a mix (two renames; the old one is removed after)."""
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    staging.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def sha256_of(path: str | Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks (model parts, derived graph files)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def save_pickle(obj: Any, path: str | Path) -> None:
    """Pickle a fitted model atomically (a crash leaves the previous file)."""
    with atomic_write(path, "wb") as handle:
        pickle.dump(obj, handle)


def load_pickle(path: str | Path) -> Any:
    """Load what ``save_pickle`` wrote (only files the project wrote itself: pickle runs code)."""
    with Path(path).open("rb") as handle:
        return pickle.load(handle)


def cache_root() -> Path:
    """Where llm4tag keeps what it builds once for every project (joined GGUFs, distilled static models):
    ``$LLM4TAG_CACHE``, else ``$XDG_CACHE_HOME/llm4tag``, else ``~/.cache/llm4tag``."""
    root = os.environ.get("LLM4TAG_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "llm4tag"
    )
    return Path(root)


def finished_records(path: str | Path, key: str) -> list[dict]:
    """The JSON objects of a file a resumable run appends to, one a line, each with ``key``; a line cut short
    by a kill is left out (the run does that item again)."""
    path = Path(path)
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and key in record:
            records.append(record)
    return records
