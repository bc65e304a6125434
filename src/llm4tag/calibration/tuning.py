"""Recall settings chosen per project: a small search of the knobs that depend on the data, within a time budget.

How many neighbours vote, how sharply their similarity weighs (vote power) and how dense and lexical
similarity mix were tuned on debtags; short texts or another vocabulary want other values. Each setting is
scored by what the project will actually do with it: the learned ranker fitted on one half of the held-out
contents and used on the other (2-fold, by content), final sets by expected F1, document F1 averaged.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from llm4tag.calibration.calibrator import Calibrator
from llm4tag.calibration.features import labelled_pairs
from llm4tag.calibration.pruning import Pruning
from llm4tag.corpus.documents import Document
from llm4tag.metrics.sets import set_scores
from llm4tag.recall.results import RecallResult
from llm4tag.recall.settings import RecallConfig

SEARCH = {
    "dense_weight": (0.2, 0.4, 0.6, 0.8),
    "vote_power": (1.0, 2.0, 3.0, 5.0),
    "neighbours": (50, 100, 150, 250),
}


def cross_validated_f1(results: list[RecallResult], golds: list[set[str]], *, consider: int = 8) -> float:
    """Document F1 of expected-F1 sets from a boosted ranker fitted on the other half of the contents."""
    X, y, tags, docs = labelled_pairs(results, golds)
    halves = docs % 2
    confidence = np.zeros(len(y))
    for half in (0, 1):
        train, held = halves != half, halves == half
        if len(np.unique(y[train])) < 2 or not held.any():
            return 0.0
        model = Calibrator(method="boosting", per_tag=False).fit(X[train], y[train])
        confidence[held] = model.predict_proba(X[held])
    rule, predictions = Pruning(0.0, 10, "expected_f1"), []
    for index in range(len(results)):
        mine = np.flatnonzero(docs == index)
        order = mine[np.argsort(-confidence[mine], kind="stable")][:consider]
        chosen = rule.apply([tags[i] for i in order], confidence[order], float(confidence[mine].sum()))
        predictions.append(chosen)
    return set_scores(golds, predictions).f1


def tune_recall(
    docs: list[Document],
    config: RecallConfig,
    recall: Callable[[RecallConfig, list[Document]], list[RecallResult]],
    *,
    budget_seconds: float = 300.0,
    min_gain: float = 0.002,
) -> tuple[RecallConfig, dict]:
    """Coordinate search from ``config`` over ``SEARCH``; a setting is kept when it gains ``min_gain`` document F1.
    Stops when the budget is spent (the setting being tried finishes). Returns the chosen config and a report."""
    started = time.perf_counter()
    golds = [set(d.tags) for d in docs]

    def score(candidate: RecallConfig) -> float:
        return cross_validated_f1(recall(candidate, docs), golds)

    best_config, best = config, score(config)
    trials = [{"setting": "start", "doc_f1": round(best, 4)}]
    for knob, values in SEARCH.items():
        for value in values:
            if time.perf_counter() - started > budget_seconds:
                break
            if value == getattr(best_config, knob):
                continue
            changes = {knob: value}
            if knob == "neighbours":
                changes["neighbour_pool"] = max(best_config.neighbour_pool, int(value))
            candidate = dataclasses.replace(best_config, **changes)
            value_f1 = score(candidate)
            trials.append({"setting": f"{knob}={value}", "doc_f1": round(value_f1, 4)})
            if value_f1 > best + min_gain:
                best_config, best = candidate, value_f1
    chosen = {k: getattr(best_config, k) for k in SEARCH if getattr(best_config, k) != getattr(config, k)}
    return best_config, {
        "chosen": chosen,
        "start_doc_f1": trials[0]["doc_f1"],
        "doc_f1": round(best, 4),
        "trials": trials,
        "seconds": round(time.perf_counter() - started, 1),
    }
