"""The embedded store of record: one SQLite file in the project directory (``store.sqlite``).

WAL mode: readers never block the writer, every change is one transaction, and a crash midway leaves the last
committed state. Indexes and the graph are derived from the store and can always be rebuilt from it without
re-encoding anything (embeddings are cached by text hash).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from llm4tag.errors import ProjectError
from llm4tag.library.tags import Tag
from llm4tag.store.base import Store
from llm4tag.store.diagnosis import store_error_message
from llm4tag.store.schema import SCHEMA, SCHEMA_VERSION

log = logging.getLogger(__name__)


def stored_tags(path: Path) -> list[Tag]:
    """The tags of an existing store (none if there is no store yet), read without keeping it open."""
    if not path.is_file() or path.stat().st_size == 0:
        return []
    store = SQLiteStore(path, create=False)
    try:
        return list(store.tag_library())
    finally:
        store.close()


class SQLiteStore(Store):
    """Thread-safe access to the project database (one connection, serialized writes)."""

    def __init__(self, path: str | Path, *, durable: bool = False, create: bool = True) -> None:
        """``durable``: fsync every commit (synchronous=FULL), so not even a power cut loses an acknowledged
        write; the default (NORMAL) already survives a killed process. ``create=False``: the store must
        exist already (opening a project): a deleted or emptied store is an error, never a fresh empty one
        that silently answers nothing. A store that is not SQLite, fails SQLite's integrity check, or was
        written by a newer llm4tag is refused with a clear message."""
        self.path = Path(path)
        if not create and (not self.path.is_file() or self.path.stat().st_size == 0):
            what = "is empty" if self.path.is_file() else "is missing"
            raise ProjectError(
                f"{self.path} {what}: the project's store of record is gone. Restore it from a backup, or"
                " rebuild the project with 'llm4tag init --force' and your tag and corpus files"
            )
        super().__init__()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            self._open(durable, check=not create or self.path.stat().st_size > 0)
            self.changed_elsewhere()  # the baseline: what others commit from now on is seen
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise ProjectError(store_error_message(self.path, exc, opening=True)) from None
        except BaseException:
            self._conn.close()
            raise

    def _open(self, durable: bool, *, check: bool) -> None:
        if check:
            problems = [row[0] for row in self._conn.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(problems))
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(SCHEMA)
        with self.transaction():
            self._conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            self._conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('revision', '0')")
        found = self.get_meta("schema_version")
        if found is None or not found.isdigit() or int(found) > SCHEMA_VERSION:
            raise ProjectError(
                f"{self.path} has store schema version {found!r}, but this llm4tag reads version {SCHEMA_VERSION}"
                " or older: upgrade llm4tag (pip install -U llm4tag) to open this project"
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @property
    def journal_mode(self) -> str:
        with self._lock:
            return str(self._conn.execute("PRAGMA journal_mode").fetchone()[0])

    @property
    def durable(self) -> bool:
        """Whether every commit is fsynced (synchronous=FULL) before it returns."""
        with self._lock:
            return int(self._conn.execute("PRAGMA synchronous").fetchone()[0]) >= 2

    def make_durable(self) -> None:
        """From now on, fsync every commit: the service acknowledges feedback only once it would survive a power cut."""
        with self._lock:
            self._conn.execute("PRAGMA synchronous=FULL")

    @contextmanager
    def _outermost_transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            if self._conn.in_transaction:  # SQLite rolls back by itself on some errors (a full disk)
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def changed_elsewhere(self) -> bool:
        """Whether another connection (another process serving this project, a CLI ``learn``) committed since
        the last call (or since the store was opened). SQLite's ``data_version`` tells without reading the database:
        cheap enough to ask before every batch. This connection's own commits do not count."""
        with self._lock:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
            changed = self._data_version is not None and version != self._data_version
            self._data_version = version
            return changed

    def _query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()
