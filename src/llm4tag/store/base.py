"""The store of record: tags and their versions, contents and annotations, knowledge items, the caches and
the review queue, in SQL that SQLite and PostgreSQL both run. An engine (``sqlite.SQLiteStore``, the
embedded default; ``postgres.PostgresStore``, shared by replicas) supplies the connection, transactions and
the change counter other processes follow. Every change is one transaction: all of it or none of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from llm4tag.corpus.documents import SYNTHETIC_PREFIX, ContentRow, Document, text_hash
from llm4tag.corpus.knowledge import KnowledgeItem
from llm4tag.errors import InputError, StoreUnavailable
from llm4tag.library.tags import Tag, TagLibrary, check_tag
from llm4tag.store.caches import CacheTables
from llm4tag.store.reviews import ReviewQueue

log = logging.getLogger(__name__)


class Store(CacheTables, ReviewQueue, ABC):
    """Thread-safe access to a project's store of record (serialized writes)."""

    path: object  # what messages name: the SQLite file, or the PostgreSQL URL without its password

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._transaction_depth = 0
        self._current = None  # the connection of the transaction this thread holds (the lock), if any
        self._library: tuple[str | None, TagLibrary] | None = None
        self._invalid_tags: list[tuple[str, str]] = []
        self._data_version: object = None

    # -- the engine ------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator:
        """One atomic unit of work on a connection whose ``execute(sql, params)`` takes ``?`` placeholders: all of
        it is committed, or none of it. A transaction opened inside another (on the same thread: the lock is held)
        joins it, so a caller can make several writes one unit."""
        with self._lock:
            if self._transaction_depth:
                self._transaction_depth += 1
                try:
                    yield self._current
                finally:
                    self._transaction_depth -= 1
                return
            with self._outermost_transaction() as conn:
                self._current, self._transaction_depth = conn, 1
                try:
                    yield conn
                finally:
                    self._current, self._transaction_depth = None, 0

    @abstractmethod
    def _outermost_transaction(self) -> AbstractContextManager:
        """Begin a transaction, hand out its connection, commit on a normal exit and roll back on an error."""

    @abstractmethod
    def _query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        """The rows of one read (inside a transaction of this thread: on its connection)."""

    @abstractmethod
    def changed_elsewhere(self) -> bool:
        """Whether another connection (another process serving this project, a CLI ``learn``) committed since
        the last call (or since the store was opened); this connection's own commits do not count."""

    @abstractmethod
    def close(self) -> None: ...

    @property
    @abstractmethod
    def durable(self) -> bool:
        """Whether every commit is on disk before it returns."""

    @abstractmethod
    def make_durable(self) -> None:
        """From now on, every commit is on disk before it returns: the service acknowledges feedback only then."""

    # -- fitted files shared through the store ------------------------------------
    shares_files = False  # a server store keeps the project's fitted files too: replicas pull them from it

    def exclusive(self, name: str) -> AbstractContextManager:
        """Held by one process at a time across every replica (a refit); a local store: no one else to wait for."""
        return nullcontext()

    def put_artifact(self, name: str, data: bytes, about: dict | None = None) -> str:
        """Keep a fitted file (or a packed directory) under ``name``; returns its sha256."""
        digest = hashlib.sha256(data).hexdigest()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO artifacts(name, data, sha256, about, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET data = excluded.data, sha256 = excluded.sha256,"
                " about = excluded.about, updated_at = excluded.updated_at",
                (name, data, digest, json.dumps(about or {}), time.time()),
            )
        return digest

    def artifact_digest(self, name: str) -> str | None:
        rows = self._query("SELECT sha256 FROM artifacts WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def get_artifact(self, name: str) -> tuple[bytes, str, dict] | None:
        """The file kept under ``name``, its sha256 and what it was saved with; None if there is none."""
        rows = self._query("SELECT data, sha256, about FROM artifacts WHERE name = ?", (name,))
        if not rows:
            return None
        data, digest, about = rows[0]
        return bytes(data), digest, json.loads(about)

    def after_copy(self) -> None:  # noqa: B027 - a hook: SQLite's sequences follow the rows by themselves
        """Rows were written with their own sequence numbers (``store copy``): new rows must come after them."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- meta --------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @property
    def revision(self) -> int:
        """Bumped whenever existing rows change (not on appends), so derived indexes know to rebuild."""
        return int(self.get_meta("revision", "0") or 0)

    def _bump_revision(self, conn) -> None:
        conn.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'revision'")

    # -- tags --------------------------------------------------------------
    def upsert_tags(self, tags: Iterable[Tag]) -> tuple[int, int]:
        """Add new tags and update changed ones; returns (added, updated)."""
        tags = list(tags)
        for tag in tags:  # whoever writes (a file, the API, a script): the rows the library will read back
            check_tag(tag)
        added = updated = 0
        now = time.time()
        with self.transaction() as conn:
            existing = {
                row[0]: row[1:]
                for row in conn.execute("SELECT id, label, aliases, description, parent, deprecated FROM tags")
            }
            for tag in tags:
                values = (tag.label, json.dumps(list(tag.aliases)), tag.description, tag.parent, int(tag.deprecated))
                if tag.id not in existing:
                    conn.execute(
                        "INSERT INTO tags(id, label, aliases, description, parent, deprecated, meta, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (tag.id, *values, json.dumps(tag.meta), now),
                    )
                    added += 1
                elif tuple(existing[tag.id]) != values:
                    conn.execute(
                        "UPDATE tags SET label=?, aliases=?, description=?, parent=?, deprecated=?, meta=?,"
                        " updated_at=? WHERE id=?",
                        (*values, json.dumps(tag.meta), now, tag.id),
                    )
                    updated += 1
            if updated:
                self._bump_revision(conn)
            if added or updated:
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('tags_version', '1') ON CONFLICT(key)"
                    " DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)"
                )
        return added, updated

    def tag_library(self) -> TagLibrary:
        """The tag library, read once and again only when tags change (here or in another process): the
        service and every pipeline batch ask for it, and a large library takes a while to build."""
        try:
            version = self.get_meta("tags_version", "0")
        except StoreUnavailable:
            if self._library is None:
                raise
            return self._library[1]  # the store's server is down: the library as last read serves meanwhile
        with self._lock:
            cached = self._library
            if cached is None or cached[0] != version:
                cached = (version, self._read_tag_library())
                self._library = cached
        return cached[1]

    def _read_tag_library(self) -> TagLibrary:
        """The stored tags as a library. A row that fails the library's check (written by an older version, or
        by hand) is left out with a warning naming it, so that the project still opens and the row can be
        fixed (``add-tags``, ``POST /v1/tags``) or deprecated; :meth:`invalid_tags` lists such rows."""
        rows = self._query("SELECT id, label, aliases, description, parent, deprecated, meta FROM tags ORDER BY seq")
        library, invalid = TagLibrary(), []
        for r in rows:
            try:
                tag = Tag(
                    id=r[0],
                    label=r[1],
                    aliases=tuple(json.loads(r[2])),
                    description=r[3] or "",
                    parent=r[4],
                    deprecated=bool(r[5]),
                    meta=json.loads(r[6] or "{}"),
                )
                library.add(tag)
            except (InputError, ValueError, TypeError) as exc:
                invalid.append((r[0], str(exc)))
        self._invalid_tags = invalid
        for tag_id, reason in invalid:
            log.warning("the stored tag %r is left out of the library: %s (fix it with add-tags, or deprecate it)",
                        tag_id, reason)  # fmt: skip
        return library

    def invalid_tags(self) -> list[tuple[str, str]]:
        """``(id, reason)`` of the stored rows the library leaves out (see :meth:`_read_tag_library`)."""
        self.tag_library()
        return [(tag_id, reason) for tag_id, reason in self._invalid_tags]

    def deprecate_tags(self, tag_ids: Iterable[str]) -> int:
        """Mark stored tags deprecated by id, valid rows or not; returns how many rows changed."""
        with self.transaction() as conn:
            changed = sum(
                conn.execute("UPDATE tags SET deprecated = 1, updated_at = ? WHERE id = ? AND deprecated = 0",
                             (time.time(), tag_id)).rowcount
                for tag_id in tag_ids
            )  # fmt: skip
            if changed:
                self._bump_revision(conn)
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('tags_version', '1') ON CONFLICT(key)"
                    " DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)"
                )
        return changed

    def count_tags(self) -> int:
        return self._query("SELECT COUNT(*) FROM tags")[0][0]

    # -- contents and annotations -----------------------------------------
    def upsert_contents(self, docs: Iterable[Document], *, source: str = "import") -> tuple[int, int]:
        """Add contents with their annotations; a known id gets its text and tags replaced.

        Returns (added, updated). Appends keep derived indexes incremental;
        updates bump the revision so they are rebuilt (from cached vectors).
        """
        added = updated = 0
        now = time.time()
        with self.transaction() as conn:
            for doc in docs:
                row = conn.execute("SELECT seq, text_hash FROM contents WHERE id = ?", (doc.id,)).fetchone()
                digest = text_hash(doc.text)
                if row is None:
                    seq = conn.execute(
                        "INSERT INTO contents(id, text, text_hash, meta, added_at) VALUES (?, ?, ?, ?, ?)"
                        " RETURNING seq",
                        (doc.id, doc.text, digest, json.dumps(doc.meta), now),
                    ).fetchone()[0]
                    added += 1
                else:
                    seq = row[0]
                    old_tags = {
                        r[0] for r in conn.execute("SELECT tag_id FROM annotations WHERE content_seq = ?", (seq,))
                    }
                    if row[1] == digest and old_tags == set(doc.tags):
                        continue
                    conn.execute(
                        "UPDATE contents SET text=?, text_hash=?, meta=? WHERE seq=?",
                        (doc.text, digest, json.dumps(doc.meta), seq),
                    )
                    conn.execute("DELETE FROM annotations WHERE content_seq = ?", (seq,))
                    updated += 1
                conn.executemany(
                    "INSERT INTO annotations(content_seq, tag_id, source, added_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    [(seq, tag_id, source, now) for tag_id in doc.tags],
                )
            if updated:
                self._bump_revision(conn)
        return added, updated

    def count_contents(self) -> int:
        return self._query("SELECT COUNT(*) FROM contents")[0][0]

    def content_rows(self, after_seq: int = 0) -> list[ContentRow]:
        """Contents with seq > after_seq, in seq order."""
        rows = self._query("SELECT seq, id, text, text_hash FROM contents WHERE seq > ? ORDER BY seq", (after_seq,))
        return [ContentRow(*row) for row in rows]

    def max_content_seq(self) -> int:
        return self._query("SELECT COALESCE(MAX(seq), 0) FROM contents")[0][0]

    def annotations(self, after_seq: int = 0) -> list[tuple[int, str]]:
        """(content_seq, tag_id) pairs for contents with seq > after_seq."""
        return self._query(
            "SELECT content_seq, tag_id FROM annotations WHERE content_seq > ? ORDER BY content_seq, tag_id",
            (after_seq,),
        )

    def get_contents(self, ids: Iterable[str]) -> list[Document]:
        out = []
        for doc_id in ids:
            rows = self._query("SELECT seq, text, meta FROM contents WHERE id = ?", (doc_id,))
            if rows:
                seq, text, meta = rows[0]
                tags = [
                    r[0]
                    for r in self._query("SELECT tag_id FROM annotations WHERE content_seq = ? ORDER BY tag_id", (seq,))
                ]
                out.append(Document(id=doc_id, text=text, tags=tags, meta=json.loads(meta)))
        return out

    # -- short-term knowledge ---------------------------------------------
    def add_knowledge(self, items: Iterable[KnowledgeItem]) -> int:
        """Append knowledge items (examples, corrections, notes) in one transaction; returns how many were new.

        An item equal to one already stored (same kind, content, text, tags and note; the time aside) is not
        stored again, so a learn file run twice, or re-run after a kill, converges to one copy."""
        now = time.time()
        with self.transaction() as conn:
            rows, seen = [], set()
            for item in items:
                row = (item.kind, item.content_id, item.text, json.dumps(item.tags), json.dumps(item.rejected),
                       item.tag_id, item.note)  # fmt: skip
                if (
                    row in seen
                    or conn.execute(
                        "SELECT 1 FROM knowledge WHERE kind = ? AND content_id IS ? AND text = ? AND tags = ?"
                        " AND rejected = ? AND tag_id IS ? AND note = ? LIMIT 1",
                        row,
                    ).fetchone()
                ):
                    continue
                seen.add(row)
                rows.append((*row, item.created_at if item.created_at is not None else now))
            conn.executemany(
                "INSERT INTO knowledge(kind, content_id, text, tags, rejected, tag_id, note, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def knowledge(self, kinds: Iterable[str] = ("example", "correction", "note")) -> list[KnowledgeItem]:
        kinds = list(kinds)
        marks = ",".join("?" * len(kinds))
        rows = self._query(
            "SELECT seq, kind, content_id, text, tags, rejected, tag_id, note, created_at FROM knowledge"
            f" WHERE kind IN ({marks}) ORDER BY seq",
            kinds,
        )
        return [
            KnowledgeItem(
                kind=r[1],
                content_id=r[2],
                text=r[3],
                tags=json.loads(r[4]),
                rejected=json.loads(r[5]),
                tag_id=r[6],
                note=r[7],
                created_at=r[8],
                seq=r[0],
            )
            for r in rows
        ]

    def synthetic_contents(self) -> list[tuple[str, dict]]:
        """(id, meta) of every content an LLM wrote, in the order they were stored."""
        rows = self._query(
            "SELECT id, meta FROM contents WHERE substr(id, 1, ?) = ? ORDER BY seq",
            (len(SYNTHETIC_PREFIX), SYNTHETIC_PREFIX),
        )
        return [(content_id, json.loads(meta)) for content_id, meta in rows]

    def delete_contents(self, ids: Iterable[str]) -> int:
        """Remove contents with their annotations and the examples that brought them, in one transaction;
        bumps the revision (the graph is rebuilt from cached vectors, the learned paths refitted)."""
        ids = list(dict.fromkeys(ids))
        removed = 0
        with self.transaction() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                seqs = [r[0] for r in conn.execute(f"SELECT seq FROM contents WHERE id IN ({marks})", chunk)]
                if not seqs:
                    continue
                seq_marks = ",".join("?" * len(seqs))
                conn.execute(f"DELETE FROM annotations WHERE content_seq IN ({seq_marks})", seqs)
                conn.execute(f"DELETE FROM knowledge WHERE content_id IN ({marks})", chunk)
                removed += conn.execute(f"DELETE FROM contents WHERE seq IN ({seq_marks})", seqs).rowcount
            if removed:
                self._bump_revision(conn)
        return removed

    def remove_annotations(self, content_id: str, tag_ids: Iterable[str]) -> int:
        """Drop annotations (a correction said they were wrong); bumps the revision so the graph follows."""
        tag_ids = list(tag_ids)
        with self.transaction() as conn:
            row = conn.execute("SELECT seq FROM contents WHERE id = ?", (content_id,)).fetchone()
            if row is None or not tag_ids:
                return 0
            marks = ",".join("?" * len(tag_ids))
            removed = conn.execute(
                f"DELETE FROM annotations WHERE content_seq = ? AND tag_id IN ({marks})", (row[0], *tag_ids)
            ).rowcount
            if removed:
                self._bump_revision(conn)
        return removed
