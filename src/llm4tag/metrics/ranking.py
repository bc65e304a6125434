"""Ranking metrics with the definitions ``annif eval`` uses, so numbers compare across the two tools.

For each document, ``ranked`` is the system's tags best first (only tags it actually suggests):

* precision@k = hits in the top k / number of tags in the top k (Annif divides by the suggestions
  returned when fewer than k come back; no suggestion at all counts 0);
* recall@k = hits in the top k / gold tags; F1@k = document F1 of the top-k set;
* NDCG@k: binary gains, DCG of the top k over the DCG of the ideal ranking (min(k, |gold|) hits);
* average recall@5..50 (SemEval-2025 Task 5): the mean of document-averaged recall@k, k = 5, 10, ..., 50.

All are averaged over documents that have gold tags.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llm4tag.metrics.retrieval import ndcg_at, recall_at


def precision_at_returned(gold: set[str], ranked: Sequence[str], k: int) -> float:
    top = ranked[:k]
    return len(gold.intersection(top)) / len(top) if len(top) else 0.0


def f1_at(gold: set[str], ranked: Sequence[str], k: int) -> float:
    top = set(ranked[:k])
    hits = len(gold & top)
    return 2 * hits / (len(top) + len(gold)) if top or gold else 0.0


def ranking_scores(
    golds: Sequence[set[str]], rankings: Sequence[Sequence[str]], ks: tuple[int, ...] = (1, 3, 5)
) -> dict[str, float]:
    pairs = [(g, list(r)) for g, r in zip(golds, rankings) if g]
    if not pairs:
        return {}
    out: dict[str, float] = {}
    for k in ks:
        out[f"precision@{k}"] = float(np.mean([precision_at_returned(g, r, k) for g, r in pairs]))
        out[f"recall@{k}"] = float(np.mean([recall_at(g, r, k) for g, r in pairs]))
        out[f"f1@{k}"] = float(np.mean([f1_at(g, r, k) for g, r in pairs]))
    out["ndcg@10"] = float(np.mean([ndcg_at(g, r, 10) for g, r in pairs]))
    out["avg_recall@5..50"] = float(np.mean([np.mean([recall_at(g, r, k) for g, r in pairs]) for k in range(5, 51, 5)]))
    out["documents"] = len(pairs)
    return out
