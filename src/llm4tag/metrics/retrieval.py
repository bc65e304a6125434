"""Ranking and set metrics for tagging, document-averaged unless named otherwise.

Definitions (``gold`` is a document's set of true tags, ``ranked`` the
system's tags best first):

* candidate recall@N = |gold ∩ ranked[:N]| / |gold|; documents without gold
  tags are skipped.
* precision@k = |gold ∩ ranked[:k]| / k.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def recall_at(gold: set[str], ranked: Sequence[str], n: int) -> float:
    if not gold:
        return float("nan")
    return len(gold.intersection(ranked[:n])) / len(gold)


def precision_at(gold: set[str], ranked: Sequence[str], k: int) -> float:
    return len(gold.intersection(ranked[:k])) / k


def mean_ignoring_nan(values: Sequence[float]) -> float:
    array = np.array(values, dtype=float)
    array = array[~np.isnan(array)]
    return float(array.mean()) if len(array) else float("nan")


def mean_recall_at(golds: Sequence[set[str]], rankings: Sequence[Sequence[str]], n: int) -> float:
    """Document-averaged candidate recall@N."""
    return mean_ignoring_nan([recall_at(g, r, n) for g, r in zip(golds, rankings)])


def ndcg_at(gold: set[str], ranked: Sequence[str], k: int) -> float:
    """NDCG@k with binary relevance: DCG of the top k over the DCG of an ideal ranking of the gold tags."""
    if not gold:
        return float("nan")
    dcg = sum(1.0 / np.log2(i + 2) for i, tag in enumerate(ranked[:k]) if tag in gold)
    ideal = sum(1.0 / np.log2(i + 2) for i in range(min(len(gold), k)))
    return dcg / ideal
