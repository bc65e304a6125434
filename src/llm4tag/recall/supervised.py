"""A learned content-to-tag path: one-vs-rest logistic regression over the annotated contents' words.

The graph paths find tags through similar contents and tag texts; this path learns, per tag, which words
and word pairs predict it (what Annif's omikuji and fastText backends do). Weight 2.5 by default
(``[recall.weights] supervised``; 0 turns it off). It is refitted when annotated contents change (about
45 s for 17,000 contents on two cores: one worker process per core, each tag's model being a problem of its
own), and skipped below ``supervised_min_contents`` annotated contents or above ``supervised_max_tags``
annotated tags, where a dense per-tag model would not fit.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from joblib import parallel_config
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer

from llm4tag.fileio import load_pickle, save_pickle
from llm4tag.processes import exit_with_parent

PARALLEL_FROM_CONTENTS = 2000  # below this, starting worker processes costs more than it saves
DUAL_FROM_FEATURES_PER_CONTENT = 8  # liblinear's dual solver from this many words (features) per content
# packages a fresh worker process imports anyway: warning filters whose category one of them defines are light
_LIGHT_WARNING_MODULES = ("builtins", "warnings", "numpy", "scipy", "sklearn", "joblib")


@contextlib.contextmanager
def _light_warning_filters() -> Iterator[None]:
    """scikit-learn hands this process's warning filters to its worker processes, and a worker imports every
    module that defines one of their categories: torch (``TracerWarning``) and sympy once MiniLM is loaded,
    about 3 s in each worker before it fits anything. Inside, only the filters of light categories are in
    force (and handed over); the rest are back on exit."""
    with warnings.catch_warnings():
        warnings.filters[:] = [f for f in warnings.filters if f[2].__module__.split(".")[0] in _LIGHT_WARNING_MODULES]
        yield


class SupervisedScorer:
    dense_per_tag = True  # a weight for every word and tag: skipped past ``supervised_max_tags``

    def __init__(
        self,
        *,
        C: float = 8.0,  # noqa: N803
        max_features: int = 50_000,
        min_df: int = 2,
        top_k: int = 50,
        n_jobs: int | None = -1,
    ) -> None:
        self.C, self.max_features, self.min_df, self.top_k = C, max_features, min_df, top_k
        self.n_jobs = n_jobs  # worker processes for the fit (joblib's convention: -1 = one per core)
        self.classes: list[str] = []
        self.contents = 0  # how many annotated contents it was fitted on
        self._vectorizer: TfidfVectorizer | None = None
        self._weights: np.ndarray | None = None  # features x tags, float32
        self._bias: np.ndarray | None = None

    def fit(self, texts: list[str], tag_lists: list[list[str]], vectors: np.ndarray | None = None) -> SupervisedScorer:
        """Learns from the words; ``vectors`` (the contents' embeddings) are not read."""
        pairs = [(t, tags) for t, tags in zip(texts, tag_lists) if tags]
        self._vectorizer = TfidfVectorizer(
            sublinear_tf=True, min_df=self.min_df, ngram_range=(1, 2), max_features=self.max_features
        )
        X = self._vectorizer.fit_transform([t for t, _ in pairs])
        X.sum_duplicates()  # canonical now: workers get it read-only (memory-mapped) and could not sort it there
        binarizer = MultiLabelBinarizer()
        Y = binarizer.fit_transform([tags for _, tags in pairs])
        # liblinear holds the GIL: processes (joblib's default), not threads, fit the tags side by side
        n_jobs = self.n_jobs if len(pairs) >= PARALLEL_FROM_CONTENTS else None
        # the same model either way; liblinear's dual solver is the faster one with many more words than
        # contents (debtags: 2,500 contents 25-40%, 5,000 15-25%; from 10,000 none; docs/experiments/recall-speed.md)
        dual = X.shape[1] >= DUAL_FROM_FEATURES_PER_CONTENT * X.shape[0]
        per_tag = LogisticRegression(C=self.C, solver="liblinear", dual=dual)
        with (
            _light_warning_filters(),
            parallel_config(backend="loky", initializer=exit_with_parent, initargs=(os.getpid(),)),
        ):
            model = OneVsRestClassifier(per_tag, n_jobs=n_jobs).fit(X, Y)
        self.classes = [str(c) for c in binarizer.classes_]
        weights, bias = [], []
        for estimator in model.estimators_:
            if hasattr(estimator, "coef_"):
                weights.append(estimator.coef_.ravel())
                bias.append(float(estimator.intercept_[0]))
            else:  # a tag on every content (or none): a constant
                weights.append(np.zeros(X.shape[1]))
                bias.append(20.0 if float(estimator.y_) else -20.0)
        self._weights = np.ascontiguousarray(np.vstack(weights).T, dtype=np.float32)
        self._bias = np.array(bias, dtype=np.float32)
        self.contents = len(pairs)
        return self

    def scores(self, texts: list[str], vectors: np.ndarray | None = None) -> list[dict[str, float]]:
        """The ``top_k`` tags by predicted probability for each text."""
        if self._vectorizer is None or not self.classes:
            return [{} for _ in texts]
        if not self._weights.flags.c_contiguous:  # saved by an older version: scipy would copy it on every call
            self._weights = np.ascontiguousarray(self._weights)
        features = self._vectorizer.transform(texts).astype(np.float32)  # float64 would copy the weights up
        logits = np.asarray(features @ self._weights) + self._bias
        probabilities = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
        k = min(self.top_k, len(self.classes))
        out = []
        for row in probabilities:
            best = np.argpartition(-row, k - 1)[:k]
            out.append({self.classes[i]: float(row[i]) for i in best})
        return out

    def save(self, path: str | Path) -> None:
        save_pickle(self, path)

    @staticmethod
    def load(path: str | Path) -> SupervisedScorer:
        return load_pickle(path)
