"""Where the store of record lives (``[store]`` in ``llm4tag.toml``). A leaf module."""

from __future__ import annotations

import os
from dataclasses import dataclass

URL_VARIABLE = "LLM4TAG_STORE_URL"  # so that no password needs to live in llm4tag.toml
SCHEMES = ("postgresql://", "postgres://")


@dataclass
class StoreConfig:
    # empty: the embedded SQLite file in the project directory (store.sqlite); postgresql://user@host/db: a
    # PostgreSQL server that several replicas share (LLM4TAG_STORE_URL, when set, wins over this)
    url: str = ""

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(SCHEMES):
            raise ValueError(
                f"url must be empty (the embedded SQLite store) or a postgresql:// URL, not {redacted(self.url)!r}"
            )

    def resolved_url(self) -> str:
        """The URL in force: ``LLM4TAG_STORE_URL`` if set, else ``url``."""
        url = os.environ.get(URL_VARIABLE, "").strip() or self.url
        if url and not url.startswith(SCHEMES):
            raise ValueError(f"{URL_VARIABLE} must be a postgresql:// URL, not {redacted(url)!r}")
        return url


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, at, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in credentials else ''}@{host}"
