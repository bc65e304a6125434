"""Durable storage of record for a project (SQLite, WAL)."""

from llm4tag.store.sqlite import Store

__all__ = ["Store"]
