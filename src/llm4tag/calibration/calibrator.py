"""Calibrators: map raw evidence about a (content, tag) pair to a probability that the tag is right.

scikit-learn style: ``fit(X, y, tags)``, ``predict_proba(X, tags)``. ``X`` holds one row of features per
pair (for the recall stage: path scores, fused score, rank; with an LLM judge: its log-odds too).

* ``PlattCalibrator``: logistic regression on the features (Platt scaling when the feature is one score).
* ``IsotonicCalibrator``: isotonic regression on one score column (monotone, non-parametric).

Both can be per tag: tags with at least ``min_tag_labels`` labelled pairs (and both classes) get their
own calibrator, fitted on top of the global one's output; the rest fall back to the global one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from llm4tag.errors import ProjectError
from llm4tag.fileio import load_pickle, save_pickle

METHODS = ("boosting", "platt", "isotonic")


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class Calibrator:
    method: str = "platt"
    per_tag: bool = True
    min_tag_labels: int = 50
    score_column: int = 0  # the column isotonic regression uses
    feature_names: list[str] = field(default_factory=list)
    recall_paths: list[str] = field(default_factory=list)  # the recall paths with a weight when it was fitted
    _global: object | None = None
    _tags: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}")

    def _fit_global(self, X: np.ndarray, y: np.ndarray):
        if self.method == "boosting":  # ranks and calibrates at once: log-loss trees over every feature
            model = HistGradientBoostingClassifier(
                learning_rate=0.05,
                max_iter=300,
                max_leaf_nodes=31,
                min_samples_leaf=40,
                l2_regularization=1.0,
                early_stopping=True,
                validation_fraction=0.1,
                n_iter_no_change=20,
                random_state=0,
            )
            model.fit(X, y)
            return model
        if self.method == "platt":
            model = LogisticRegression(C=1.0, max_iter=1000)
            model.fit(X, y)
            return model
        model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        model.fit(X[:, self.score_column], y)
        return model

    def _global_proba(self, X: np.ndarray) -> np.ndarray:
        if self.method in ("platt", "boosting"):
            return self._global.predict_proba(X)[:, 1]
        return self._global.predict(X[:, self.score_column])

    def fit(
        self, X: np.ndarray, y: np.ndarray, tags: list[str] | None = None, *, feature_names: tuple[str, ...] = ()
    ) -> Calibrator:
        """``feature_names`` name the columns of ``X``; they are saved with the model and checked when it is used."""
        X = np.asarray(X, dtype=float)
        if feature_names and len(feature_names) != X.shape[1]:
            raise ValueError(f"{len(feature_names)} feature names for {X.shape[1]} columns")
        self.feature_names = list(feature_names)
        y = np.asarray(y, dtype=int)
        if len(np.unique(y)) < 2:
            raise ValueError("calibration needs both correct and wrong pairs")
        self._global = self._fit_global(X, y)
        self._tags = {}
        if self.per_tag and tags is not None:
            base = self._global_proba(X)
            tags_array = np.asarray(tags)
            for tag in np.unique(tags_array):
                mask = tags_array == tag
                if mask.sum() >= self.min_tag_labels and 0 < y[mask].sum() < mask.sum():
                    model = LogisticRegression(C=1.0, max_iter=1000)
                    model.fit(logit(base[mask])[:, None], y[mask])
                    self._tags[str(tag)] = model
        return self

    def check_features(self, feature_names: tuple[str, ...]) -> None:
        """Raise ``ProjectError`` unless this model was fitted on these columns or on some of them: a model
        fitted on an older recall stage must not silently score a different set of features. One fitted
        before a recall path existed reads its columns by name and leaves the new path's column out (its path
        is off in that project: ``check_paths``). (Models saved before names were recorded are checked by their
        column count.)"""
        self._columns(feature_names)

    def _columns(self, feature_names: tuple[str, ...]) -> list[int] | None:
        """Which of ``feature_names`` this model reads, in its order (None: all of them, as they are)."""
        fitted = list(self.feature_names) if self.feature_names else None
        if fitted is None and self.n_features in (None, len(feature_names)):
            return None
        if fitted == list(feature_names):
            return None
        if fitted is not None and set(fitted) < set(feature_names):
            return [list(feature_names).index(name) for name in fitted]
        raise ProjectError(
            f"a calibrator was fitted on features {fitted or f'({self.n_features} columns)'}, but the pipeline"
            f" now gives {list(feature_names)}; run 'llm4tag calibrate' (and 'llm4tag optimize') again"
        )

    def check_paths(self, paths: tuple[str, ...]) -> None:
        """Raise ``ProjectError`` unless this model was fitted while the same recall paths had a weight: one
        fitted with a path that is now off (or without one now on) would read its zeros (or its scores) as
        evidence it never learned. (Models saved before the paths were recorded are not checked.)"""
        fitted = list(getattr(self, "recall_paths", None) or [])
        if fitted and fitted != sorted(paths):
            raise ProjectError(
                f"the ranker was fitted with the recall paths {fitted}, but [recall.weights] now turns on"
                f" {sorted(paths)}; run 'llm4tag calibrate' (and 'llm4tag optimize') again"
            )

    def predict_proba(
        self, X: np.ndarray, tags: list[str] | None = None, *, feature_names: tuple[str, ...] = ()
    ) -> np.ndarray:
        """Probability that each pair's tag is right; ``feature_names``, when given, are checked first."""
        if self._global is None:
            raise RuntimeError("calibrator is not fitted")
        X = np.asarray(X, dtype=float)
        columns = self._columns(feature_names) if feature_names else None
        if columns is not None:
            X = X[:, columns]
        proba = self._global_proba(X)
        if self._tags and tags is not None:
            for i, tag in enumerate(tags):
                model = self._tags.get(tag)
                if model is not None:
                    proba[i] = model.predict_proba(logit(proba[i : i + 1])[:, None])[0, 1]
        return proba

    @property
    def n_features(self) -> int | None:
        """Feature columns a Platt calibrator was fitted on (isotonic uses one score column: None)."""
        return getattr(self._global, "n_features_in_", None) if self.method != "isotonic" else None

    @property
    def tags_with_own_calibrator(self) -> int:
        return len(self._tags)

    def save(self, path: str | Path) -> None:
        save_pickle(self, path)

    @staticmethod
    def load(path: str | Path) -> Calibrator:
        return load_pickle(path)
