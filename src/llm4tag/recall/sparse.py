"""Sparse per-tag scores: the positions of the few tags a path reached and their values, and a top-k that
does not sort the whole library."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` best positive scores, best first, without sorting the whole array.

    Ties keep position order, so results are deterministic. At a million tags a full argsort
    costs tens of milliseconds; this costs about one pass over the array.
    """
    positive = np.flatnonzero(scores > 0)
    if len(positive) > k:
        values = scores[positive]
        keep = np.argpartition(-values, k - 1)[:k]
        threshold = values[keep].min()
        positive = positive[values >= threshold]
    order = np.lexsort((positive, -scores[positive]))
    return positive[order][:k]


@dataclass
class SparseScores:
    """Scores of the few tags a path reached: positions (unique) and values."""

    index: np.ndarray
    value: np.ndarray

    @classmethod
    def empty(cls) -> SparseScores:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))

    @classmethod
    def summed(cls, index: np.ndarray, value: np.ndarray) -> SparseScores:
        """Sum the values of repeated positions."""
        if len(index) == 0:
            return cls.empty()
        unique, inverse = np.unique(index, return_inverse=True)
        return cls(unique.astype(np.int64), np.bincount(inverse, weights=value).astype(np.float32))

    @classmethod
    def maximum(cls, index: np.ndarray, value: np.ndarray) -> SparseScores:
        """The largest value of repeated positions."""
        if len(index) == 0:
            return cls.empty()
        order = np.lexsort((-value, index))
        index, value = index[order], value[order]
        first = np.ones(len(index), dtype=bool)
        first[1:] = index[1:] != index[:-1]
        return cls(index[first].astype(np.int64), value[first].astype(np.float32))

    @classmethod
    def from_dict(cls, values: dict[int, float]) -> SparseScores:
        if not values:
            return cls.empty()
        index = np.fromiter(values.keys(), dtype=np.int64, count=len(values))
        order = np.argsort(index)
        return cls(index[order], np.fromiter(values.values(), dtype=np.float32, count=len(values))[order])

    def plus(self, other: SparseScores) -> SparseScores:
        return SparseScores.summed(np.concatenate([self.index, other.index]), np.concatenate([self.value, other.value]))

    def without(self, mask: np.ndarray) -> SparseScores:
        keep = ~mask[self.index]
        return SparseScores(self.index[keep], self.value[keep])

    def top(self, k: int) -> np.ndarray:
        """Positions of the ``k`` best positive scores, best first (ties: lower position first)."""
        return self.index[top_k(self.value, k)] if len(self.index) else self.index

    def lookup(self) -> dict[int, float]:
        return dict(zip(self.index.tolist(), self.value.tolist()))

    def at(self, positions: np.ndarray) -> np.ndarray:
        """The values at ``positions``, 0 where the path did not reach the tag (``index`` is sorted)."""
        out = np.zeros(len(positions), dtype=self.value.dtype if len(self.value) else np.float32)
        if len(self.index) and len(positions):
            where = np.minimum(np.searchsorted(self.index, positions), len(self.index) - 1)
            found = self.index[where] == positions
            out[found] = self.value[where[found]]
        return out
