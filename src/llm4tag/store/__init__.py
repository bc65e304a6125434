"""The store of record of a project: SQLite in the project directory (the embedded default) or a PostgreSQL
server that several replicas share (``[store] url``)."""

from llm4tag.registry import lazy_exports

_EXPORTS = {
    "Store": "llm4tag.store.base",
    "SQLiteStore": "llm4tag.store.sqlite",
    "PostgresStore": "llm4tag.store.postgres",
    "open_store": "llm4tag.store.opening",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)  # the PostgreSQL driver is imported only for a PostgreSQL store
