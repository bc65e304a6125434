"""Never encode the same text twice: vectors are cached in the store by text hash."""

from __future__ import annotations

import numpy as np

from llm4tag.corpus.documents import text_hash
from llm4tag.embedding.base import Embedder
from llm4tag.store.sqlite import Store


class CachedEmbedder:
    """Wraps an embedder with the project's persistent, hash-keyed vector cache."""

    def __init__(self, embedder: Embedder, store: Store, *, progress_threshold: int = 256) -> None:
        self.embedder = embedder
        self.store = store
        self.progress_threshold = progress_threshold

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def encode(self, texts: list[str], *, persist: bool = True) -> np.ndarray:
        hashes = [text_hash(t) for t in texts]
        found = self.store.cached_vectors(self.embedder.name, list(set(hashes)))
        missing: dict[str, str] = {}
        for digest, text in zip(hashes, texts):
            if digest not in found:
                missing.setdefault(digest, text)
        if missing:
            vectors = self.embedder.encode(
                list(missing.values()), show_progress=len(missing) >= self.progress_threshold
            )
            fresh = dict(zip(missing, vectors))
            if persist:
                self.store.cache_vectors(self.embedder.name, fresh)
            found.update(fresh)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([found[d] for d in hashes]).astype(np.float32)
