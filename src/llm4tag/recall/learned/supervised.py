"""A learned content-to-tag path: one-vs-rest logistic regression over the annotated contents' words.

The graph paths find tags through similar contents and tag texts; this path learns, per tag, which words
and word pairs predict it (what Annif's omikuji and fastText backends do). Refitted when annotated contents
change (about 45 s for 17,000 contents on two cores: one worker process per core, each tag's model being a
problem of its own), and skipped past ``[recall] learned_max_tags`` annotated tags, where a dense per-tag
model would not fit.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from joblib import parallel_config
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import MultiLabelBinarizer

from llm4tag.processes import exit_with_parent
from llm4tag.recall.learned.base import LearnedPath, check_is_fitted
from llm4tag.recall.learned.words import (
    restore_vectoriser,
    save_vocabulary,
    terms_of,
    vectoriser_arrays,
    word_vectoriser,
)

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


class SupervisedPath(LearnedPath):
    """Reads the words; the contents' vectors are not used."""

    name = "supervised"
    dense_per_tag = True  # a weight for every word and tag
    DEFAULT_PARAMETERS = {
        "C": 8.0,
        "max_features": 50_000,
        "min_df": 2,
        "top_k": 50,
        "n_jobs": -1,  # worker processes for the fit (joblib's convention: -1 = one per core)
    }

    def fit(self, texts: list[str], tag_lists: list[list[str]], vectors: np.ndarray | None = None) -> SupervisedPath:
        p = self.parameters
        pairs = [(t, tags) for t, tags in zip(texts, tag_lists) if tags]
        vectoriser = word_vectoriser(max_features=p["max_features"], min_df=p["min_df"])
        X = vectoriser.fit_transform([t for t, _ in pairs])
        X.sum_duplicates()  # canonical now: workers get it read-only (memory-mapped) and could not sort it there
        binarizer = MultiLabelBinarizer()
        Y = binarizer.fit_transform([tags for _, tags in pairs])
        # liblinear holds the GIL: processes (joblib's default), not threads, fit the tags side by side
        n_jobs = p["n_jobs"] if len(pairs) >= PARALLEL_FROM_CONTENTS else None
        # the same model either way; liblinear's dual solver is the faster one with many more words than
        # contents (docs/experiments/recall-speed.md)
        dual = X.shape[1] >= DUAL_FROM_FEATURES_PER_CONTENT * X.shape[0]
        per_tag = LogisticRegression(C=p["C"], solver="liblinear", dual=dual)
        with (
            _light_warning_filters(),
            parallel_config(backend="loky", initializer=exit_with_parent, initargs=(os.getpid(),)),
        ):
            model = OneVsRestClassifier(per_tag, n_jobs=n_jobs).fit(X, Y)
        weights, bias = [], []
        for estimator in model.estimators_:
            if hasattr(estimator, "coef_"):
                weights.append(estimator.coef_.ravel())
                bias.append(float(estimator.intercept_[0]))
            else:  # a tag on every content (or none): a constant
                weights.append(np.zeros(X.shape[1]))
                bias.append(20.0 if float(estimator.y_) else -20.0)
        self.vectoriser_ = vectoriser
        self.weights_ = np.ascontiguousarray(np.vstack(weights).T, dtype=np.float32)  # features x tags
        self.bias_ = np.array(bias, dtype=np.float32)
        self.classes_ = [str(c) for c in binarizer.classes_]
        self.n_contents_ = len(pairs)
        return self

    def predict(self, texts: list[str], vectors: np.ndarray | None = None) -> np.ndarray:
        features = self.vectoriser_.transform(texts).astype(np.float32)  # float64 would copy the weights up
        logits = np.asarray(features @ self.weights_) + self.bias_
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))

    def explain(self, text: str, tag_id: str, top: int = 5) -> list[tuple[str, float]]:
        """Each word's contribution to the tag's logit: its TF-IDF value times the tag's weight for it (exact:
        the model is linear in them)."""
        check_is_fitted(self)
        if tag_id not in self.classes_:
            return []
        column = self.classes_.index(tag_id)
        features = self.vectoriser_.transform([text]).tocsr()
        contributions = features.data * self.weights_[features.indices, column]
        order = np.argsort(-contributions)[:top]
        terms = terms_of(self.vectoriser_)
        return [(str(terms[features.indices[i]]), float(contributions[i])) for i in order if contributions[i] > 0]

    def _fitted_arrays(self) -> dict[str, np.ndarray]:
        return {**vectoriser_arrays(self.vectoriser_), "weights": self.weights_, "bias": self.bias_}

    def _save_files(self, directory: Path) -> None:
        save_vocabulary(self.vectoriser_, directory)

    def _restore(self, arrays: dict[str, np.ndarray], directory: Path) -> None:
        self.vectoriser_ = restore_vectoriser(arrays, directory)
        self.weights_ = np.ascontiguousarray(arrays["weights"], dtype=np.float32)
        self.bias_ = arrays["bias"]
