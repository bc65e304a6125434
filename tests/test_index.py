"""The dense index: exact search below ``exact_limit``, faiss IVF past it, both saved and loaded."""

from __future__ import annotations

import numpy as np

from llm4tag.index.dense import QUERY_BLOCK, DenseIndex


def _unit(rows: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_exact_search_returns_the_k_most_similar_in_order_with_ties_by_position():
    stored = _unit(300, 16, 0)
    stored[200] = stored[10]  # a duplicate: the same similarity to every query as position 10
    index = DenseIndex(16)
    index.add(stored[:150])
    index.add(stored[150:])  # appended in two parts: positions stay insertion order
    queries = np.vstack([stored[10], _unit(QUERY_BLOCK + 5, 16, 1)])  # more than one block of queries
    similarities, positions = index.search(queries, 7)
    assert positions.shape == (len(queries), 7)
    full = queries @ stored.T
    for row in range(len(queries)):
        expected = sorted(range(len(stored)), key=lambda p: (-full[row, p], p))[:7]
        assert list(positions[row]) == expected
        assert np.allclose(similarities[row], full[row, expected], atol=1e-5)
    assert list(positions[0][:2]) == [10, 200]  # the duplicate ranks after the earlier position
    _, everything = index.search(stored[:1], 10_000)  # k past the size: every position, once
    assert sorted(everything[0]) == list(range(300))


def test_past_the_exact_limit_an_ivf_index_still_finds_near_duplicates_and_survives_a_reload(tmp_path):
    stored = _unit(2000, 16, 2)
    index = DenseIndex(16, exact_limit=500, nprobe=8)
    index.add(stored)
    assert not index.is_exact
    _, positions = index.search(stored[:50] + 0.01, 1)
    assert (positions[:, 0] == np.arange(50)).mean() >= 0.9
    index.save(tmp_path / "vectors.npy")
    assert (tmp_path / "vectors.faiss").exists()
    loaded = DenseIndex.load(tmp_path / "vectors.npy", exact_limit=500, nprobe=8)
    assert not loaded.is_exact and loaded.size == 2000
    assert np.array_equal(loaded.search(stored[:50], 3)[1], index.search(stored[:50], 3)[1])
    exact = DenseIndex.load(tmp_path / "vectors.npy")  # a higher limit: searched exactly again
    assert exact.is_exact and exact.search(stored[:50], 1)[1][:, 0].tolist() == list(range(50))


def test_concurrent_small_searches_leave_blas_threads_as_they_found_them():
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    index = DenseIndex(16)
    index.add(_unit(5000, 16, 3))
    queries = _unit(4, 16, 4)  # small batches: each search caps BLAS at one thread while it runs
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: index.search(queries, 5), range(400)))
    assert blas_threads() == before


def test_small_batches_on_a_large_collection_find_the_same_neighbours_as_a_full_product():
    """Past ``SCREEN_FROM_VECTORS`` a few queries are screened in half precision, then scored exactly: the k
    best are those of the full float32 product, ties (duplicates at the k-th place) by position, also after
    vectors are added to an index that was already searched."""
    from llm4tag.index.dense import SCREEN_FROM_VECTORS

    base = _unit(50, 32, 5)
    stored = np.vstack([base[i % 50] + 0.3 * _unit(1, 32, 100 + i)[0] for i in range(SCREEN_FROM_VECTORS + 500)])
    stored /= np.linalg.norm(stored, axis=1, keepdims=True)
    queries = _unit(6, 32, 6)
    k = 40
    stored[3000:3010] = stored[10]  # 11 copies of one vector
    index = DenseIndex(32)
    index.add(stored[:-100])
    index.search(queries[:2], k)  # the screen is made here, before the last vectors arrive
    index.add(stored[-100:])
    assert index.is_exact
    for asked in (queries[:3], queries, stored[10:11]):
        similarities, positions = index.search(asked, k)
        full = asked @ stored.T
        for row in range(len(asked)):
            expected = np.lexsort((np.arange(len(stored)), -full[row]))[:k]
            assert set(positions[row].tolist()) == set(expected.tolist())
            assert np.allclose(similarities[row], full[row, positions[row]], atol=1e-6)
            assert np.all(np.diff(similarities[row]) <= 1e-6)
    assert index._screen is not None and index._screen.ntotal == len(stored)  # these went through the screen
    _, last = index.search(stored[-3:], 1)  # vectors added after the screen was made are found
    assert last[:, 0].tolist() == list(range(len(stored) - 3, len(stored)))
    # ties at the k-th place go to the lower positions, for a few queries (the screen) and for many (the product)
    for copies in (1, 40):
        _, tied = index.search(np.repeat(stored[10:11], copies, axis=0), 5)
        assert all(row == [10, 3000, 3001, 3002, 3003] for row in tied.tolist())
