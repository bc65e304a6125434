"""Which store a project uses: the SQLite file in its directory, or the PostgreSQL server its configuration
names (``[store] url``, or ``LLM4TAG_STORE_URL``)."""

from __future__ import annotations

from pathlib import Path

from llm4tag.errors import ConfigError
from llm4tag.library.tags import Tag
from llm4tag.store.base import Store
from llm4tag.store.settings import StoreConfig

SQLITE_FILE = "store.sqlite"


def store_url(config: StoreConfig) -> str:
    try:
        return config.resolved_url()
    except ValueError as exc:
        raise ConfigError(f"[store] {exc}") from None


def open_store(directory: Path, config: StoreConfig, *, durable: bool = False, create: bool = False) -> Store:
    """The project's store. ``create``: a new project (SQLite: the file may be made; PostgreSQL: the tables are
    created or upgraded, as ``llm4tag store migrate`` does)."""
    url = store_url(config)
    if not url:
        from llm4tag.store.sqlite import SQLiteStore

        return SQLiteStore(Path(directory) / SQLITE_FILE, durable=durable, create=create)
    from llm4tag.store.postgres import PostgresStore, migrate

    if create:
        migrate(url)
    return PostgresStore(url)


def stored_tags(directory: Path, config: StoreConfig) -> list[Tag]:
    """The tags already in a project's store (none if it has no store yet), read without keeping it open."""
    url = store_url(config)
    if not url:
        from llm4tag.store.sqlite import stored_tags as sqlite_tags

        return sqlite_tags(Path(directory) / SQLITE_FILE)
    from llm4tag.store.postgres import PostgresStore, schema_version

    if schema_version(url) is None:
        return []
    with PostgresStore(url) as store:
        return list(store.tag_library())
