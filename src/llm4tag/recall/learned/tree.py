"""A learned path with partitioned label trees: omikuji's Bonsai/Parabel over TF-IDF words and word pairs.

Annif's strongest backends are these trees. They learn, per tag, which words predict it, like the
supervised path, but route each content down a tree of tag clusters, so training and scoring stay fast
with thousands of tags. Extra ``[omikuji]`` (part of ``[embedded]``); ``[recall.weights] tree = 0`` turns the
path off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from llm4tag.errors import ConfigError
from llm4tag.index.dense import PARALLEL_FROM_QUERIES
from llm4tag.recall.learned.base import LearnedPath, check_is_fitted
from llm4tag.recall.learned.words import (
    restore_vectoriser,
    save_vocabulary,
    terms_of,
    vectoriser_arrays,
    word_vectoriser,
)

MODEL_DIR = "model"  # omikuji saves its trees as a directory of its own, inside the path's
EXPLAIN_FEATURES = 40  # the content's strongest words tried, one left out at a time, when explaining a score


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """omikuji (Rust) writes progress bars and INFO logs straight to the process's stdout and stderr: hide them
    unless debugging."""
    if logging.getLogger(__name__).isEnabledFor(logging.DEBUG):
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    try:
        with open(os.devnull, "w") as devnull:
            for fd in saved:
                os.dup2(devnull.fileno(), fd)
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


def omikuji():
    try:
        import omikuji
    except ImportError:
        raise ConfigError(
            "the tree recall path needs omikuji: pip install 'llm4tag[omikuji]', or set [recall.weights] tree = 0"
        ) from None
    return omikuji


def load_trees(directory: Path):
    with _quiet():
        return omikuji().Model.load(str(directory))


class TreePath(LearnedPath):
    """Reads the words; the contents' vectors are not used."""

    name = "tree"
    dense_per_tag = False  # the trees keep sparse weights per cluster: any number of tags
    DEFAULT_PARAMETERS = {
        "cluster_k": 100,
        "max_depth": 3,
        "max_features": 100_000,
        "min_df": 2,
        "top_k": 50,
        "threads": None,  # omikuji's threads for fitting and scoring (None: one per core)
    }

    def fit(self, texts: list[str], tag_lists: list[list[str]], vectors: np.ndarray | None = None) -> TreePath:
        p = self.parameters
        library = omikuji()
        pairs = [(t, tags) for t, tags in zip(texts, tag_lists) if tags]
        vectoriser = word_vectoriser(max_features=p["max_features"], min_df=p["min_df"])
        X = vectoriser.fit_transform([t for t, _ in pairs]).tocsr()
        classes = sorted({tag for _, tags in pairs for tag in tags})
        label = {tag: i for i, tag in enumerate(classes)}
        hyper = library.Model.default_hyper_param()
        hyper.cluster_k, hyper.max_depth, hyper.cluster_balanced = p["cluster_k"], p["max_depth"], False
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "train.txt"
            lines = []  # the extreme classification repository's format; contents without a known word teach nothing
            for row, (_, tags) in enumerate(pairs):
                start, end = X.indptr[row], X.indptr[row + 1]
                if end > start:
                    features = " ".join(f"{i}:{v:.6f}" for i, v in zip(X.indices[start:end], X.data[start:end]))
                    lines.append(",".join(str(label[t]) for t in tags) + " " + features + "\n")
            with data.open("w", encoding="utf-8") as handle:
                handle.write(f"{len(lines)} {X.shape[1]} {len(classes)}\n")
                handle.writelines(lines)
            with _quiet():
                self.model_ = library.Model.train_on_data(str(data), hyper, n_threads=p["threads"])
        self.vectoriser_ = vectoriser
        self.classes_ = classes
        self.n_contents_ = len(pairs)
        return self

    def predict(self, texts: list[str], vectors: np.ndarray | None = None) -> sp.csr_matrix:
        """The ``top_k`` tags the trees reach for each text (a sparse row each)."""
        X = self.vectoriser_.transform(texts).tocsr()
        top_k = self.parameters["top_k"]

        def predict_row(row: int) -> list[tuple[int, float]]:
            start, end = X.indptr[row], X.indptr[row + 1]
            features = list(zip(X.indices[start:end].tolist(), X.data[start:end].tolist()))
            return self.model_.predict(features, top_k=top_k) if features else []

        workers = min(self.parameters["threads"] or os.cpu_count() or 1, X.shape[0])
        if workers <= 1 or X.shape[0] < PARALLEL_FROM_QUERIES:
            # a small batch (a service's) is predicted here: this runs beside the recall stage's own Python
            # already, and starting threads for a few contents cost 5% of a content's CPU at batch 4
            found = [predict_row(row) for row in range(X.shape[0])]
        else:
            # omikuji's predict reads the model only and its C call releases the GIL: threads halve a batch's time
            with ThreadPoolExecutor(workers) as pool:
                found = list(pool.map(predict_row, range(X.shape[0])))
        indptr = np.cumsum([0] + [len(row) for row in found])
        columns = np.array([c for row in found for c, _ in row], dtype=np.int64)
        values = np.array([v for row in found for _, v in row], dtype=np.float64)
        return sp.csr_matrix((values, columns, indptr), shape=(len(texts), len(self.classes_)))

    def explain(self, text: str, tag_id: str, top: int = 5) -> list[tuple[str, float]]:
        """The trees have no weight per word to read: each of the content's strongest words is left out in turn,
        and how far the tag's score falls without it is that word's contribution (occlusion)."""
        check_is_fitted(self)
        if tag_id not in self.classes_:
            return []
        column = self.classes_.index(tag_id)
        X = self.vectoriser_.transform([text]).tocsr()
        features = sorted(zip(X.indices.tolist(), X.data.tolist()), key=lambda f: -f[1])[:EXPLAIN_FEATURES]
        beam = max(self.parameters["top_k"], 100)

        def score(kept: list[tuple[int, float]]) -> float:
            found = dict(self.model_.predict(kept, top_k=beam)) if kept else {}
            return float(found.get(column, 0.0))

        whole = score(features)
        drops = [(i, whole - score(features[:i] + features[i + 1 :])) for i in range(len(features))]
        drops.sort(key=lambda d: -d[1])
        terms = terms_of(self.vectoriser_)
        return [(str(terms[features[i][0]]), drop) for i, drop in drops[:top] if drop > 0]

    def _fitted_arrays(self) -> dict[str, np.ndarray]:
        return vectoriser_arrays(self.vectoriser_)

    def _save_files(self, directory: Path) -> None:
        save_vocabulary(self.vectoriser_, directory)
        with _quiet():
            self.model_.save(str(directory / MODEL_DIR))

    def _restore(self, arrays: dict[str, np.ndarray], directory: Path) -> None:
        self.vectoriser_ = restore_vectoriser(arrays, directory)
        self.model_ = load_trees(directory / MODEL_DIR)
