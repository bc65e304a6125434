"""Sparse per-tag scores: what every recall path hands on, summed, maximised and ranked without sorting the
whole library."""

from __future__ import annotations

import numpy as np

from llm4tag.recall.sparse import SparseScores, top_k


def test_top_k_matches_a_full_stable_sort():
    rng = np.random.default_rng(0)
    scores = np.round(rng.random(5000), 2) * (rng.random(5000) > 0.3)
    for k in (1, 7, 100, 6000):
        expected = np.argsort(-scores, kind="stable")
        expected = expected[scores[expected] > 0][:k]
        assert top_k(scores, k).tolist() == expected.tolist()
    assert top_k(np.zeros(10), 3).tolist() == []


def test_repeated_positions_are_summed_or_maximised_and_come_out_sorted():
    index, value = np.array([5, 2, 5, 9, 2]), np.array([0.1, 0.3, 0.4, 0.2, 0.5])
    summed = SparseScores.summed(index, value)
    assert summed.index.tolist() == [2, 5, 9] and np.allclose(summed.value, [0.8, 0.5, 0.2])
    largest = SparseScores.maximum(index, value)
    assert largest.index.tolist() == [2, 5, 9] and np.allclose(largest.value, [0.5, 0.4, 0.2])
    assert SparseScores.summed(np.zeros(0, np.int64), np.zeros(0)).index.size == 0


def test_scores_combine_look_up_and_rank_by_position():
    a = SparseScores.from_dict({7: 0.5, 1: 0.2})
    b = SparseScores.from_dict({1: 0.3, 4: 0.9})
    both = a.plus(b)
    assert both.lookup() == {1: np.float32(0.5), 4: np.float32(0.9), 7: np.float32(0.5)}
    assert both.top(2).tolist() == [4, 1]  # a tie at 0.5: the lower position first
    assert np.allclose(both.at(np.array([4, 3, 7])), [0.9, 0.0, 0.5])  # 0 where the path did not reach
    inactive = np.zeros(10, dtype=bool)
    inactive[4] = True
    assert both.without(inactive).index.tolist() == [1, 7]
    assert SparseScores.empty().top(3).tolist() == [] and SparseScores.from_dict({}).index.size == 0
