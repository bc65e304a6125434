"""``llm4tag store copy``: every row of one store into another (SQLite to PostgreSQL and back), with the rows'
own sequence numbers, so the graph files and learned paths fitted on the source stay valid on the copy.

Each batch of rows is one transaction and a row already there is left alone, so a copy that was interrupted
finishes when it is run again, without duplicates. At the end every table's rows are counted on both sides."""

from __future__ import annotations

import logging
from collections.abc import Callable

from llm4tag.errors import ProjectError
from llm4tag.store.base import Store

log = logging.getLogger(__name__)

# table -> its columns; the first is what the rows are ordered by (a key), rows are inserted in that order
TABLES: dict[str, tuple[str, ...]] = {
    "tags": ("seq", "id", "label", "aliases", "description", "parent", "deprecated", "meta", "updated_at"),
    "contents": ("seq", "id", "text", "text_hash", "meta", "added_at"),
    "annotations": ("content_seq", "tag_id", "source", "added_at"),
    "knowledge": ("seq", "kind", "content_id", "text", "tags", "rejected", "tag_id", "note", "created_at"),
    "embeddings": ("model", "text_hash", "dim", "vector"),
    "judgements": ("judge", "text_hash", "tag_id", "p_yes", "fallback", "created_at"),
    "reviews": ("seq", "content_id", "text", "tag_id", "score", "created_at", "resolved_at"),
    "artifacts": ("name", "data", "sha256", "about", "updated_at"),
}
ORDER = {
    "annotations": "content_seq, tag_id",
    "embeddings": "model, text_hash",
    "judgements": "judge, text_hash, tag_id",
}
COPIED_META = ("revision", "tags_version")  # what derived files are checked against; the schema is the target's
BATCH = 2000
IN_PROGRESS = "copy_in_progress"  # meta key: the source of a copy not finished yet (a re-run resumes it)


def copy_store(
    source: Store, target: Store, *, batch: int = BATCH, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Copy every row of ``source`` into ``target``; returns the rows per table (checked equal on both sides).
    The target must be empty, or hold an interrupted copy of this same source (it is then finished)."""
    marker = str(source.path)
    held = {table: target._query(f"SELECT COUNT(*) FROM {table}")[0][0] for table in ("tags", "contents", "knowledge")}
    if any(held.values()) and target.get_meta(IN_PROGRESS) != marker:
        raise ProjectError(
            f"store copy: {target.path} already holds rows ({held['tags']} tags, {held['contents']} contents,"
            f" {held['knowledge']} knowledge items) that are not an interrupted copy of {marker}; copy into an"
            " empty store"
        )
    target.set_meta(IN_PROGRESS, marker)
    counts = {}
    for table, columns in TABLES.items():
        order = ORDER.get(table, columns[0])
        names, marks = ", ".join(columns), ", ".join("?" * len(columns))
        insert = f"INSERT INTO {table}({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
        offset = 0
        while True:
            rows = source._query(f"SELECT {names} FROM {table} ORDER BY {order} LIMIT ? OFFSET ?", (batch, offset))
            if not rows:
                break
            with target.transaction() as conn:
                conn.executemany(insert, [tuple(_plain(v) for v in row) for row in rows])
            offset += len(rows)
            if progress:
                progress(table, offset)
        counts[table] = offset
    with target.transaction() as conn:
        for key in COPIED_META:
            value = source.get_meta(key)
            if value is not None:
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )
    target.after_copy()
    with target.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key = ?", (IN_PROGRESS,))
    for table in TABLES:
        found = target._query(f"SELECT COUNT(*) FROM {table}")[0][0]
        if found != counts[table]:
            raise ProjectError(
                f"store copy: {table} has {counts[table]} rows in the source but {found} in the target; the target"
                " held other rows before (copy into an empty store), or a writer changed one side meanwhile"
            )
    return counts


def _plain(value):
    """A value as both drivers take it (PostgreSQL hands binary columns out as ``memoryview``)."""
    return bytes(value) if isinstance(value, memoryview) else value
