"""Dense nearest-neighbour search over unit vectors (faiss, inner product = cosine).

Up to ``exact_limit`` vectors the search is exact: the k most similar, by float32 similarity, ties by position.
Large batches take one matrix product of the queries with every stored vector and a partial sort. Small
batches, as a service tags them, first screen a half-precision copy of the vectors with faiss's SIMD scan
(half the memory read, no product matrix to sort), then score the best ``k`` plus a margin exactly: 3x faster
for a few queries on debtags, with the same neighbours (``docs/experiments/recall-speed.md``). Past
``exact_limit`` vectors a faiss IVF index trades a little recall for speed; ``bench.speed.recall_scale``
measures that loss.
Positions are insertion order, so appending keeps every existing position valid (incremental updates).
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

from llm4tag.fileio import atomic_write

QUERY_BLOCK = 256  # queries per matrix product in exact search: 256 x 200,000 similarities = 200 MB at most
# Fewer queries than this are searched on one BLAS thread: waking OpenBLAS's threads for a small product
# gains little, and once woken they spin for up to about 0.1 s, fighting torch's threads and the recall
# stage's own (one new content: 110 ms instead of 30 ms on two cores; docs/experiments/recall-speed.md)
PARALLEL_FROM_QUERIES = 32
# Collections this large are screened in half precision for small batches (smaller ones: the product is cheap).
SCREEN_FROM_VECTORS = 4096


def screen_margin(k: int) -> int:
    """Extra candidates the half-precision screen passes on to exact scoring. Its similarities are off by about
    1e-4, so a true top-k vector can rank a little below k there; on debtags a margin of k/4 lost none of 200,000."""
    return max(32, k // 4)


class _OneBlasThread:
    """A context that runs BLAS on one thread, safe across threads: the first to enter caps OpenBLAS
    (threadpoolctl; its controller is built once, 7 us a use), the last to leave restores it. Nested
    save-and-restore from two threads could otherwise leave the cap on for good."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._controller = None
        self._limiter = None

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                if self._controller is None:
                    from threadpoolctl import ThreadpoolController

                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._users += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._limiter is not None:
                self._limiter.restore_original_limits()
                self._limiter = None


one_blas_thread = _OneBlasThread()


def _faiss():
    import faiss

    return faiss


class DenseIndex:
    def __init__(self, dim: int, *, exact_limit: int = 200_000, nprobe: int = 16) -> None:
        self.dim = dim
        self.exact_limit = exact_limit
        self.nprobe = nprobe
        self._ivf = None  # the approximate index, past exact_limit vectors
        self._vectors: np.ndarray = np.zeros((0, dim), dtype=np.float32)
        self._screen = None  # a half-precision faiss copy of the vectors, made (and grown) when small batches search

    @property
    def size(self) -> int:
        return len(self._vectors)

    @property
    def vectors(self) -> np.ndarray:
        """All indexed vectors in position order (kept for exact re-scoring and tag-tag paths)."""
        return self._vectors

    @property
    def is_exact(self) -> bool:
        return self._ivf is None

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.size == 0:
            return
        self._vectors = np.vstack([self._vectors, vectors]) if self._vectors.size else vectors.copy()
        if self._ivf is not None:
            self._ivf.add(vectors)
        elif self.size > self.exact_limit:
            self._ivf = self._build_ivf(self._vectors)
            self._screen = None

    def _build_ivf(self, vectors: np.ndarray):
        faiss = _faiss()
        nlist = int(2 * math.sqrt(len(vectors)))
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = vectors[rng.choice(len(vectors), size=min(len(vectors), nlist * 40), replace=False)]
        index.train(sample)
        index.add(vectors)
        index.nprobe = self.nprobe
        return index

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (similarities, positions), each ``(len(queries), k)``; missing hits have position -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, self.size))
        if self.size == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if self._ivf is not None:
            return self._ivf.search(queries, k)
        if len(queries) >= PARALLEL_FROM_QUERIES:
            return self._exact_search(queries, k)
        with one_blas_thread:
            if self.size >= SCREEN_FROM_VECTORS and k + screen_margin(k) < self.size:
                return self._screened_search(queries, k)
            return self._exact_search(queries, k)

    def _exact_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        similarities, positions = [], []
        wanted = min(self.size, k + screen_margin(k))  # room for ties at the k-th place, settled by position
        for start in range(0, len(queries), QUERY_BLOCK):  # bounds the similarity matrix's memory
            block = queries[start : start + QUERY_BLOCK] @ self._vectors.T
            if wanted < self.size:
                top = np.argpartition(-block, wanted - 1, axis=1)[:, :wanted]
            else:
                top = np.tile(np.arange(self.size), (len(block), 1))
            scores, top = _best_by_score(np.take_along_axis(block, top, axis=1), top, k)
            similarities.append(scores)
            positions.append(top)
        return np.vstack(similarities), np.vstack(positions)

    def _screened_search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top ``k`` of a few queries: candidates from the half-precision screen, scored in float32."""
        faiss = _faiss()
        screen = self._screen
        vectors = self._vectors  # read after the screen, which was made from these vectors or fewer
        if screen is None or screen.ntotal != len(vectors):
            screen = self._screen = _grown_screen(screen, vectors)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)  # this thread only (OpenMP's setting is per thread); a few queries gain nothing
        try:
            _, candidates = screen.search(queries, k + screen_margin(k))
        finally:
            faiss.omp_set_num_threads(threads)
        scores = np.einsum("qkd,qd->qk", vectors[candidates], queries)
        return _best_by_score(scores, candidates, k)

    def save(self, path: Path) -> None:
        """Write the vectors (``.npy``) and, for an approximate index, the trained faiss index beside them."""
        with atomic_write(path, "wb") as handle:
            np.save(handle, self._vectors)
        ivf_path = path.with_suffix(".faiss")
        if self._ivf is None:
            ivf_path.unlink(missing_ok=True)
        else:
            faiss = _faiss()
            with atomic_write(ivf_path, "wb") as handle:
                handle.write(faiss.serialize_index(self._ivf).tobytes())

    @classmethod
    def load(cls, path: Path, *, exact_limit: int = 200_000, nprobe: int = 16) -> DenseIndex:
        vectors = np.load(path)
        index = cls(vectors.shape[1], exact_limit=exact_limit, nprobe=nprobe)
        ivf_path = path.with_suffix(".faiss")
        if len(vectors) > exact_limit and ivf_path.exists():
            faiss = _faiss()
            stored = faiss.deserialize_index(np.fromfile(ivf_path, dtype=np.uint8))
            if stored.ntotal == len(vectors):
                stored.nprobe = nprobe
                index._ivf = stored
                index._vectors = vectors
                return index
        index.add(vectors)
        return index


def _grown_screen(screen, vectors: np.ndarray):
    """A half-precision faiss copy of ``vectors``: ``screen`` with the vectors added since (a copy, as searches
    on other threads may be reading it; a tenth of the cost of encoding them all again), or a new one."""
    faiss = _faiss()
    if screen is None or screen.ntotal > len(vectors):
        grown = faiss.IndexScalarQuantizer(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        grown.add(vectors)
        return grown
    grown = faiss.clone_index(screen)
    grown.add(vectors[screen.ntotal :])
    return grown


def _best_by_score(scores: np.ndarray, positions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` highest scores best first, ties by position, so a content gets the same neighbours in a
    batch of one or of a thousand (scores that differ by float rounding alone may swap places between the two)."""
    order = np.lexsort((positions, -scores), axis=1)[:, :k]
    return (
        np.take_along_axis(scores, order, axis=1).astype(np.float32),
        np.take_along_axis(positions, order, axis=1).astype(np.int64),
    )
