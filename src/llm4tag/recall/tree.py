"""A learned path with partitioned label trees: omikuji's Bonsai/Parabel over TF-IDF words and word pairs.

Annif's strongest backends are these trees. They learn, per tag, which words predict it, like the
supervised path, but route each content down a tree of tag clusters, so training and scoring stay fast
with thousands of tags. Extra ``[omikuji]`` (part of ``[embedded]``); ``[recall.weights] tree = 0`` turns the
path off. Refitted, like the supervised path, when the annotated contents change.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from llm4tag.errors import ConfigError
from llm4tag.fileio import load_pickle, save_pickle
from llm4tag.index.dense import PARALLEL_FROM_QUERIES


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


def _omikuji():
    try:
        import omikuji
    except ImportError:
        raise ConfigError(
            "the tree recall path needs omikuji: pip install 'llm4tag[omikuji]', or set [recall.weights] tree = 0"
        ) from None
    return omikuji


class TreeScorer:
    """``fit(texts, tag_lists)``, then ``scores(texts)``: the ``top_k`` tags of each text with their scores."""

    dense_per_tag = False  # the trees keep sparse weights per cluster: any number of tags

    def __init__(
        self,
        *,
        cluster_k: int = 100,
        max_depth: int = 3,
        max_features: int = 100_000,
        min_df: int = 2,
        top_k: int = 50,
        threads: int | None = None,
    ) -> None:
        self.cluster_k, self.max_depth, self.max_features, self.min_df = cluster_k, max_depth, max_features, min_df
        self.top_k, self.threads = top_k, threads
        self.classes: list[str] = []
        self.contents = 0
        self._vectorizer: TfidfVectorizer | None = None
        self._model = None

    def fit(self, texts: list[str], tag_lists: list[list[str]], vectors: np.ndarray | None = None) -> TreeScorer:
        """Learns from the words; ``vectors`` (the contents' embeddings) are not read."""
        omikuji = _omikuji()
        pairs = [(t, tags) for t, tags in zip(texts, tag_lists) if tags]
        self._vectorizer = TfidfVectorizer(
            sublinear_tf=True, min_df=self.min_df, ngram_range=(1, 2), max_features=self.max_features
        )
        X = self._vectorizer.fit_transform([t for t, _ in pairs]).tocsr()
        self.classes = sorted({tag for _, tags in pairs for tag in tags})
        label = {tag: i for i, tag in enumerate(self.classes)}
        hyper = omikuji.Model.default_hyper_param()
        hyper.cluster_k, hyper.max_depth, hyper.cluster_balanced = self.cluster_k, self.max_depth, False
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "train.txt"
            lines = []  # the extreme classification repository's format; contents without a known word teach nothing
            for row, (_, tags) in enumerate(pairs):
                start, end = X.indptr[row], X.indptr[row + 1]
                if end > start:
                    features = " ".join(f"{i}:{v:.6f}" for i, v in zip(X.indices[start:end], X.data[start:end]))
                    lines.append(",".join(str(label[t]) for t in tags) + " " + features + "\n")
            with data.open("w", encoding="utf-8") as handle:
                handle.write(f"{len(lines)} {X.shape[1]} {len(self.classes)}\n")
                handle.writelines(lines)
            with _quiet():
                self._model = omikuji.Model.train_on_data(str(data), hyper, n_threads=self.threads)
        self.contents = len(pairs)
        return self

    def scores(self, texts: list[str], vectors: np.ndarray | None = None) -> list[dict[str, float]]:
        if self._model is None or not self.classes:
            return [{} for _ in texts]
        X = self._vectorizer.transform(texts).tocsr()

        def predict(row: int) -> dict[str, float]:
            start, end = X.indptr[row], X.indptr[row + 1]
            features = list(zip(X.indices[start:end].tolist(), X.data[start:end].tolist()))
            found = self._model.predict(features, top_k=self.top_k) if features else []
            return {self.classes[i]: float(score) for i, score in found}

        workers = min(self.threads or os.cpu_count() or 1, X.shape[0])
        if workers <= 1 or X.shape[0] < PARALLEL_FROM_QUERIES:
            # a small batch (a service's) is predicted here: this runs beside the recall stage's own Python
            # already, and starting threads for a few contents cost 5% of a content's CPU at batch 4
            return [predict(row) for row in range(X.shape[0])]
        # omikuji's predict reads the model only and its C call releases the GIL: threads halve a batch's time
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(predict, range(X.shape[0])))

    # omikuji models are saved as a directory of their own, beside the pickle of the rest
    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_model"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._model = None

    def save(self, path: str | Path) -> None:
        path = Path(path)
        model_dir = path.with_suffix(".model")
        tmp = model_dir.with_name(model_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        with _quiet():
            self._model.save(str(tmp))
        shutil.rmtree(model_dir, ignore_errors=True)
        tmp.rename(model_dir)
        save_pickle(self, path)  # last: a pickle on disk means its model directory is complete

    @staticmethod
    def load(path: str | Path) -> TreeScorer:
        path = Path(path)
        scorer = load_pickle(path)
        omikuji = _omikuji()
        with _quiet():
            scorer._model = omikuji.Model.load(str(path.with_suffix(".model")))
        return scorer
