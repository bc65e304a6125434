"""Streaming, resumable batch tagging: what ``llm4tag tag --input FILE --output FILE`` runs.

Contents are read, tagged and written a chunk at a time (memory does not grow with the input). Each
chunk is appended to the output and fsynced before the next one starts, so an interrupted run keeps
everything it finished; run the same command again and it skips the ids already in the output.
A half-written last line (killed mid-write) is cut off on resume. Parquet output is assembled from a
resumable JSONL spool (``OUTPUT.partial.jsonl``) once all contents are done.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from tqdm.auto import tqdm

from llm4tag.corpus.documents import Document
from llm4tag.errors import ConfigError, InputError, StorageError, os_error_message
from llm4tag.pipeline import TaggingResult

PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class BatchReport:
    tagged: int = 0
    skipped_done: int = 0
    output: str = ""

    def __str__(self) -> str:
        return f"tagged {self.tagged} content(s), skipped {self.skipped_done} already done -> {self.output}"


def _chunks(items: Iterable[Document], size: int) -> Iterator[list[Document]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class ResultWriter:
    """Append-only JSONL results with resume; Parquet assembled at the end."""

    def __init__(self, output: str | Path) -> None:
        self.output = Path(output)
        self.parquet = self.output.suffix.lower() in PARQUET_SUFFIXES
        self.spool = self.output.with_name(self.output.name + ".partial.jsonl") if self.parquet else self.output
        if self.parquet:
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise ConfigError("Parquet output needs pyarrow: pip install 'llm4tag[parquet]'") from None

    def done_ids(self) -> set[str]:
        """Ids already written; cuts off a torn last line left by a killed run."""
        if not self.spool.exists():
            return set()
        done: set[str] = set()
        good_bytes = 0
        with self.spool.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    break  # torn write: everything before it is intact
                if not is_result_line(raw):
                    raise InputError(
                        "not an llm4tag result line (expected {'id', 'tags': [{'tag_id', 'score', ...}]});"
                        " refusing to resume into or append to this file: give another --output",
                        path=self.spool,
                        line=number,
                    )
                done.add(json.loads(raw)["id"])
                good_bytes += len(raw)
        if good_bytes != self.spool.stat().st_size:
            with self.spool.open("r+b") as handle:
                handle.truncate(good_bytes)
        return done

    def append(self, records: list[dict]) -> None:
        """Append whole lines, synced; a write that fails (a full disk) is cut back to the lines before it, and
        the error names the file and says that a re-run resumes after them."""
        before = self.spool.stat().st_size if self.spool.exists() else 0
        try:
            self.spool.parent.mkdir(parents=True, exist_ok=True)
            with self.spool.open("a", encoding="utf-8") as handle:
                for record in records:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.truncate(self.spool, before)
            raise StorageError(
                f"{os_error_message(exc, self.spool)}; the results written before are kept: run the same command"
                " again to resume after them",
                exc.errno,
            ) from None

    def finish(self) -> None:
        if self.parquet:
            write_parquet(self.spool, self.output)
            self.spool.unlink()


def is_result_line(raw: bytes) -> bool:
    """Whether a line is a result that ``tag`` wrote: a corpus line (tags as plain ids) is not."""
    try:
        record = json.loads(raw)
    except ValueError:
        return False
    tags = record.get("tags") if isinstance(record, dict) else None
    return (
        isinstance(record.get("id"), str)
        and isinstance(tags, list)
        and all(isinstance(t, dict) and isinstance(t.get("tag_id"), str) and "score" in t for t in tags)
    )


def write_parquet(jsonl: Path, output: Path, rows_per_group: int = 10_000) -> None:
    """Results as Parquet: id, tag_ids, scores and the full record as JSON; written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("id", pa.string()),
            ("tag_ids", pa.list_(pa.string())),
            ("scores", pa.list_(pa.float64())),
            ("record", pa.string()),
        ]
    )
    tmp = output.with_name(f".{output.name}.tmp")
    with pq.ParquetWriter(tmp, schema) as writer, jsonl.open(encoding="utf-8") as handle:
        while lines := list(islice(handle, rows_per_group)):
            records = [json.loads(line) for line in lines]
            writer.write_table(
                pa.table(
                    {
                        "id": [r["id"] for r in records],
                        "tag_ids": [[t["tag_id"] for t in r["tags"]] for r in records],
                        "scores": [[t["score"] for t in r["tags"]] for r in records],
                        "record": [json.dumps(r, ensure_ascii=False) for r in records],
                    },
                    schema=schema,
                )
            )
    os.replace(tmp, output)


def tag_stream(
    tag: Callable[[list[Document]], list[TaggingResult]],
    docs: Iterable[Document],
    output: str | Path,
    *,
    chunk_size: int = 64,
    with_candidates: bool = False,
    progress: bool = True,
) -> BatchReport:
    """Tag ``docs`` with ``tag`` (e.g. ``Pipeline.run``) into ``output`` chunk by chunk, skipping ids already there."""
    writer = ResultWriter(output)
    done = writer.done_ids()
    report = BatchReport(output=str(output))
    bar = tqdm(desc="tagging", unit="doc", disable=not progress)
    for chunk in _chunks(docs, chunk_size):
        todo = [d for d in chunk if d.id not in done]
        report.skipped_done += len(chunk) - len(todo)
        if todo:
            results = tag(todo)
            writer.append([r.to_dict(with_candidates=with_candidates) for r in results])
            report.tagged += len(todo)
        bar.update(len(chunk))
    bar.close()
    writer.finish()
    return report
