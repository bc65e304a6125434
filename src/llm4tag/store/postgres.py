"""The store of record on a PostgreSQL server, shared by every replica of a service (``[store] url`` or
``LLM4TAG_STORE_URL``).

The same tables and SQL as the embedded SQLite store (``base.Store``), on psycopg 3 with a connection pool
that replaces connections the server dropped. Each transaction is committed before it returns, and bumps a
change counter in ``meta`` that the other replicas read to learn of writes (``changed_elsewhere``). The
schema is created and upgraded only by ``llm4tag store migrate`` (or ``init``), under an advisory lock; a
replica never changes it at start.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from llm4tag.errors import ConfigError, ProjectError, StoreUnavailable
from llm4tag.store.base import Store
from llm4tag.store.schema import SCHEMA_POSTGRES, SCHEMA_VERSION
from llm4tag.store.settings import redacted

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x6C6C6D34  # pg_advisory_lock keys: one migration at a time per database ("llm4"),
_WRITE_LOCK = 0x6C6C6D35  # and one write transaction at a time
_RETRIES = (0.2, 0.5, 1.0)  # seconds between attempts to reach the server before a clear error (about 5 s)
_CONNECT_SECONDS = 1.0  # one attempt's wait for a connection
_DOWN_SECONDS = 5.0  # after the attempts of one operation failed, the next ones try once each for this long
_IS_PARAMETER = re.compile(r"\bIS \?")


def _psycopg():
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:
        raise ConfigError(
            f"a PostgreSQL store needs its driver: pip install 'llm4tag[postgres]' ({exc.name} is missing)"
        ) from None
    return psycopg, psycopg_pool


def postgres_sql(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s``; ``IS ?`` (SQLite's null-safe equality) as PostgreSQL's."""
    return _IS_PARAMETER.sub("IS NOT DISTINCT FROM ?", sql).replace("%", "%%").replace("?", "%s")


class _Connection:
    """A psycopg connection that takes the store's SQL as written for SQLite."""

    def __init__(self, raw) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Iterable = ()):
        return self.raw.execute(postgres_sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Iterable[Iterable]) -> None:
        rows = [tuple(row) for row in rows]
        if rows:
            with self.raw.cursor() as cursor:
                cursor.executemany(postgres_sql(sql), rows)


def migrate(url: str) -> str:
    """Create the store's tables on the server, or upgrade them, under an advisory lock (replicas starting at
    once never race); returns what was done. A schema newer than this llm4tag's is refused."""
    psycopg, _ = _psycopg()
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as raw:
            raw.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                found = _version_on(raw)
                if found is not None and found > SCHEMA_VERSION:
                    raise ProjectError(
                        f"{redacted(url)} has store schema version {found}, but this llm4tag writes version"
                        f" {SCHEMA_VERSION}: upgrade llm4tag (pip install -U llm4tag)"
                    )
                with raw.transaction():
                    raw.execute(SCHEMA_POSTGRES)
                    for key, value in (("schema_version", str(SCHEMA_VERSION)), ("revision", "0"), ("changes", "0")):
                        raw.execute("INSERT INTO meta(key, value) VALUES (%s, %s) ON CONFLICT DO NOTHING", (key, value))
                    raw.execute("UPDATE meta SET value = %s WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            finally:
                raw.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"cannot reach the store at {redacted(url)}: {_reason(exc)}") from None
    if found == SCHEMA_VERSION:
        return f"{redacted(url)}: schema version {SCHEMA_VERSION}, up to date"
    return f"{redacted(url)}: schema version {found or 'none'} -> {SCHEMA_VERSION}"


def schema_version(url: str) -> int | None:
    """The schema version of the store at ``url``; None where llm4tag's tables do not exist yet."""
    psycopg, _ = _psycopg()
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as raw:
            return _version_on(raw)
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"cannot reach the store at {redacted(url)}: {_reason(exc)}") from None


def _version_on(raw) -> int | None:
    """The schema version recorded in the database ``raw`` is connected to; None without llm4tag's tables."""
    if not raw.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()[0]:
        return None
    row = raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row and str(row[0]).isdigit() else None


def _reason(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


class PostgresStore(Store):
    """The store on a PostgreSQL server. Writes are serialized within a process (as SQLite's are) and by the
    server between processes; reads inside a transaction see its writes."""

    def __init__(self, url: str, *, durable: bool = True, pool_size: int = 4) -> None:
        super().__init__()
        psycopg, psycopg_pool = _psycopg()
        self._operational = (psycopg.OperationalError, psycopg_pool.PoolTimeout)
        self.url, self.path = url, redacted(url)
        self._down_until = 0.0  # see _attempts
        self._pool = psycopg_pool.ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": 10},
            check=psycopg_pool.ConnectionPool.check_connection,  # a connection the server dropped is replaced
            open=False,
            timeout=10,
            name="llm4tag-store",
        )
        try:
            self._pool.open(wait=True, timeout=15)
        except psycopg_pool.PoolTimeout:
            self._pool.close()
            raise StoreUnavailable(
                f"cannot reach the store at {self.path} (no connection within 15 s): is the server up and the URL"
                " right?"
            ) from None
        try:
            found = schema_version(self.url)
        except BaseException:
            self._pool.close()
            raise
        if found != SCHEMA_VERSION:
            self._pool.close()
            if found is None:
                raise ProjectError(f"{self.path} has no llm4tag tables yet: run 'llm4tag store migrate' first")
            if found > SCHEMA_VERSION:
                raise ProjectError(
                    f"{self.path} has store schema version {found}, but this llm4tag reads version {SCHEMA_VERSION}:"
                    " upgrade llm4tag (pip install -U llm4tag)"
                )
            raise ProjectError(
                f"{self.path} has store schema version {found}; run 'llm4tag store migrate' to upgrade it to"
                f" {SCHEMA_VERSION}"
            )
        self.changed_elsewhere()  # the baseline: what others commit from now on is seen

    # -- the engine ----------------------------------------------------------------
    def _attempts(self, what: str) -> Iterator[int]:
        """Attempts with backoff while the server cannot be reached; then one clear error. Once the attempts
        of one operation were all refused, the next operations within ``_DOWN_SECONDS`` try once each: a
        service answers its 503s at once instead of after the backoff every time."""
        pauses = (None,) if time.monotonic() < self._down_until else (*_RETRIES, None)
        for attempt, pause in enumerate(pauses):
            yield attempt
            if pause is None:
                self._down_until = time.monotonic() + _DOWN_SECONDS
                break
            log.warning("the store at %s is unreachable (%s); trying again in %.1f s", self.path, what, pause)
            time.sleep(pause)

    def _read(self, sql: str, params: Iterable) -> list[tuple]:
        params = tuple(params)
        if self._current is not None:  # inside this thread's transaction: see its writes
            return self._current.execute(sql, params).fetchall()
        try:
            with self._connection(begin=False) as raw:
                return _Connection(raw).execute(sql, params).fetchall()
        except self._operational as exc:  # lost between lending and reading
            raise StoreUnavailable(
                f"the store at {self.path} is unreachable: {_reason(exc)}; try again later"
            ) from None

    def _query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._read(sql, params)

    @contextmanager
    def _outermost_transaction(self) -> Iterator[_Connection]:
        with self._connection(begin=True) as raw:
            try:
                yield _Connection(raw)
                # every write moves the change counter: the other replicas see that something changed
                changes = raw.execute(
                    "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = 'changes'"
                    " RETURNING value"
                ).fetchone()
                raw.execute("COMMIT")
            except BaseException as exc:
                self._rollback(raw)
                if isinstance(exc, self._operational):
                    raise StoreUnavailable(
                        f"the store at {self.path} was lost during a write: {_reason(exc)}; nothing of it was"
                        " committed, try again"
                    ) from None
                raise
            self._data_version = changes[0] if changes else self._data_version

    @contextmanager
    def _connection(self, *, begin: bool):
        """A connection from the pool (a transaction begun on it when ``begin``); while the server cannot be
        reached, attempts with backoff first, then a clear error: nothing was done."""
        last = None
        for _ in self._attempts("a write" if begin else "a read"):
            try:
                raw = self._pool.getconn(timeout=_CONNECT_SECONDS)
            except self._operational as exc:
                last = exc
                continue
            try:
                if begin:
                    raw.execute("BEGIN")
                    # one writer at a time across every replica, as SQLite's BEGIN IMMEDIATE: a transaction that
                    # reads, merges and writes (feedback) cannot lose another replica's write made in between
                    raw.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                break
            except self._operational as exc:
                self._pool.putconn(raw)
                last = exc
        else:
            raise StoreUnavailable(f"the store at {self.path} is unreachable: {_reason(last)}; try again later")
        self._down_until = 0.0  # reached: the next failure gets its attempts again
        try:
            yield raw
        finally:
            self._pool.putconn(raw)

    @staticmethod
    def _rollback(raw) -> None:
        try:
            if raw.info.transaction_status != 0:
                raw.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - the connection is gone; the server rolled back for us
            pass

    def changed_elsewhere(self) -> bool:
        """Also False while the server cannot be reached: recall goes on with what this replica holds, and the
        writes made meanwhile are seen once the server answers again."""
        with self._lock:
            try:
                rows = self._read("SELECT value FROM meta WHERE key = 'changes'", ())
            except StoreUnavailable as exc:
                log.warning("%s; recall goes on with the graph this replica holds", exc)
                return False
            version = rows[0][0] if rows else None
            changed = self._data_version is not None and version != self._data_version
            self._data_version = version
            return changed

    shares_files = True

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """A session advisory lock on its own connection, so one replica at a time does ``name`` (a refit)."""
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with self._connection(begin=False) as raw:
            raw.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                raw.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def after_copy(self) -> None:
        with self.transaction() as conn:
            for table in ("tags", "contents", "knowledge", "reviews"):
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), COALESCE(MAX(seq), 0) + 1, false)"
                    f" FROM {table}"
                )

    def close(self) -> None:
        with self._lock:
            self._pool.close()

    @property
    def journal_mode(self) -> str:
        return "postgresql"

    @property
    def durable(self) -> bool:
        return str(self._query("SHOW synchronous_commit")[0][0]) != "off"

    def make_durable(self) -> None:
        """PostgreSQL commits are on disk before they return unless the server was told otherwise."""
