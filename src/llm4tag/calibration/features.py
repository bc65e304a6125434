"""Features of a recalled candidate for the learned ranker/calibrator: its fused score, each path's score,
its rank, the neighbour support behind C2C2T and the tag's prior (how many annotated examples it has)."""

from __future__ import annotations

import numpy as np

from llm4tag.recall.results import RecallResult
from llm4tag.recall.settings import PATHS

RECALL_FEATURES = (
    "fused",
    *PATHS,
    "inverse_rank",
    "relative_score",
    "paths_found",
    "log_examples",
    "votes",
    "vote_similarity",
)


def recall_features(result: RecallResult) -> tuple[np.ndarray, list[str]]:
    """One row per candidate (in rank order) and the candidates' tag ids."""
    candidates = result.candidates
    if not candidates:
        return np.zeros((0, len(RECALL_FEATURES))), []
    top = max(c.score for c in candidates) or 1.0
    rows = [
        [
            c.score,
            *(c.paths.get(p, 0.0) for p in PATHS),
            1.0 / (rank + 1),
            c.score / top,
            len(c.paths),
            np.log1p(c.examples),
            c.votes,
            c.vote_similarity,
        ]
        for rank, c in enumerate(candidates)
    ]
    return np.array(rows, dtype=float), [c.tag_id for c in candidates]


def labelled_pairs(results: list[RecallResult], golds: list[set[str]]):
    """Stack features of every ranked candidate of every document with 1/0 labels (is the tag gold?)."""
    blocks, labels, tags, docs = [], [], [], []
    for doc_index, (result, gold) in enumerate(zip(results, golds)):
        X, tag_ids = recall_features(result)
        # the ranker learns from the fused top N only: the reserved slots after them are scored by it, but their
        # extra negatives would reshape it (on debtags-short they cost .007 P@1 when learned from)
        X, tag_ids = X[: result.ranked], tag_ids[: result.ranked]
        blocks.append(X)
        labels.extend(int(t in gold) for t in tag_ids)
        tags.extend(tag_ids)
        docs.extend([doc_index] * len(tag_ids))
    X = np.vstack(blocks) if blocks else np.zeros((0, len(RECALL_FEATURES)))
    return X, np.array(labels, dtype=int), tags, np.array(docs, dtype=int)
