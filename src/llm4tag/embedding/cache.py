"""Never encode the same text twice: vectors are cached in the store by text hash.

Texts that only pass through (a service's tagging requests) need not stay forever: with
``persist_queries=False`` their vectors are kept in a bounded in-memory cache instead, so traffic cannot
grow the store without bound, and an anonymous request writes nothing.
"""

from __future__ import annotations

import numpy as np

from llm4tag.corpus.documents import text_hash
from llm4tag.embedding.base import Embedder
from llm4tag.errors import StoreUnavailable
from llm4tag.store.base import Store
from llm4tag.store.recent import RecentItems


class CachedEmbedder:
    """Wraps an embedder with the project's persistent, hash-keyed vector cache.

    ``persist_queries``: whether ``encode`` stores new vectors when its caller does not say (the graph's
    contents and tags always are); ``memory_items``: how many recent vectors that were not stored are kept in
    memory (least recently used first out)."""

    def __init__(
        self,
        embedder: Embedder,
        store: Store,
        *,
        progress_threshold: int = 256,
        persist_queries: bool = True,
        memory_items: int = 20_000,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.progress_threshold = progress_threshold
        self.persist_queries = persist_queries
        self._recent: RecentItems[str, np.ndarray] = RecentItems(memory_items)

    @property
    def memory_items(self) -> int:
        return self._recent.limit

    @memory_items.setter
    def memory_items(self, limit: int) -> None:
        self._recent.limit = limit

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def encode(self, texts: list[str], *, persist: bool | None = None) -> np.ndarray:
        """Vectors of ``texts``, from the store, then memory, then the embedder; ``persist``: store the new
        ones (default: ``persist_queries``)."""
        persist = self.persist_queries if persist is None else persist
        hashes = [text_hash(t) for t in texts]
        try:
            found = self.store.cached_vectors(self.embedder.name, list(set(hashes)))
        except StoreUnavailable:
            if persist:  # a vector the graph keeps must be stored: the caller retries once the store is back
                raise
            found = {}  # the store's server is down: a query's vector is computed again, not looked up
        fresh = self._recent.get_many(d for d in hashes if d not in found)  # not in the store yet
        found.update(fresh)
        missing: dict[str, str] = {}
        for digest, text in zip(hashes, texts):
            if digest not in found:
                missing.setdefault(digest, text)
        if missing:
            vectors = self.embedder.encode(
                list(missing.values()), show_progress=len(missing) >= self.progress_threshold
            )
            fresh.update(zip(missing, vectors))
            found.update(fresh)
        if fresh:
            if persist:
                self.store.cache_vectors(self.embedder.name, fresh)
            else:
                self._recent.put_many((d, fresh[d]) for d in missing)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([found[d] for d in hashes]).astype(np.float32)
