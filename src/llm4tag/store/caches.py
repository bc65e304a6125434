"""The store's caches: embeddings by model and text hash (the graph is rebuilt from them without re-encoding)
and the LLM judge's answers by judge, text and tag. Part of ``Store`` (a mixin over its connection)."""

from __future__ import annotations

import time

import numpy as np


class CacheTables:
    # -- embedding cache ---------------------------------------------------
    def cached_vectors(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for digest, dim, blob in self._query(
                f"SELECT text_hash, dim, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                [model, *chunk],
            ):
                found[digest] = np.frombuffer(blob, dtype=np.float32, count=dim)
        return found

    def cache_vectors(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO embeddings(model, text_hash, dim, vector) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(model, text_hash) DO UPDATE SET dim = excluded.dim, vector = excluded.vector",
                [(model, h, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()],
            )

    # -- judgement cache ---------------------------------------------------
    def cached_judgements(self, judge: str, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[float, bool]]:
        """P(Yes) already computed by ``judge`` (model + prompt fingerprint) for (text hash, tag id) pairs."""
        found: dict[tuple[str, str], tuple[float, bool]] = {}
        hashes = sorted({h for h, _ in pairs})
        wanted = set(pairs)
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for digest, tag_id, p_yes, fallback in self._query(
                f"SELECT text_hash, tag_id, p_yes, fallback FROM judgements WHERE judge = ? AND text_hash IN ({marks})",
                [judge, *chunk],
            ):
                if (digest, tag_id) in wanted:
                    found[(digest, tag_id)] = (p_yes, bool(fallback))
        return found

    def cache_judgements(self, judge: str, items: dict[tuple[str, str], tuple[float, bool]]) -> None:
        now = time.time()
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO judgements(judge, text_hash, tag_id, p_yes, fallback, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(judge, text_hash, tag_id) DO UPDATE SET p_yes = excluded.p_yes,"
                " fallback = excluded.fallback, created_at = excluded.created_at",
                [(judge, h, t, p, int(f), now) for (h, t), (p, f) in items.items()],
            )
