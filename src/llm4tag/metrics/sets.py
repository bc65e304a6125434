"""Precision, recall and F1 of predicted tag sets against gold sets.

* document-averaged: P, R and F1 computed per document, then averaged over documents with gold tags
  (a document with no prediction has P = 0);
* micro: true positives, predictions and gold tags summed over all documents first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class SetScores:
    precision: float
    recall: float
    f1: float
    micro_precision: float
    micro_recall: float
    micro_f1: float
    documents: int

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in self.__dict__.items()}


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def document_f1(gold: set[str], predicted: Sequence[str]) -> float:
    """F1 of one content's predicted tags (0 when nothing is predicted): what document-averaged F1 averages."""
    hits = len(gold & set(predicted))
    return 2 * hits / (len(gold) + len(set(predicted))) if hits else 0.0


def set_scores(golds: Sequence[set[str]], predictions: Sequence[Sequence[str]]) -> SetScores:
    ps, rs, fs = [], [], []
    tp = n_pred = n_gold = 0
    for gold, predicted in zip(golds, predictions):
        if not gold:
            continue
        predicted = set(predicted)
        hits = len(gold & predicted)
        p = hits / len(predicted) if predicted else 0.0
        r = hits / len(gold)
        ps.append(p)
        rs.append(r)
        fs.append(_f1(p, r))
        tp, n_pred, n_gold = tp + hits, n_pred + len(predicted), n_gold + len(gold)
    n = len(ps)
    micro_p = tp / n_pred if n_pred else 0.0
    micro_r = tp / n_gold if n_gold else 0.0
    return SetScores(
        precision=sum(ps) / n if n else 0.0,
        recall=sum(rs) / n if n else 0.0,
        f1=sum(fs) / n if n else 0.0,
        micro_precision=micro_p,
        micro_recall=micro_r,
        micro_f1=_f1(micro_p, micro_r),
        documents=n,
    )
