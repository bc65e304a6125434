"""A learned path on the content embeddings: a multi-label perceptron from the vectors C2C2T already has.

The neighbour vote (C2C2T) reads the embeddings through the nearest annotated contents only; the word-based
learned paths (supervised, tree) do not read them at all. A small network (scikit-learn's
``MLPClassifier``: one hidden layer, a sigmoid per tag) learns, from every annotated content at once, which
directions of the embedding space mean which tag, so it generalises where the words differ and the
neighbours are few: on short texts most of all. Scoring costs two small matrix products per batch on vectors
the recall stage has computed anyway. ``[recall.weights] mlp = 0`` turns it off. Refitted, like the other
learned paths, when the annotated contents change (about 30-50 s for 17,000 contents on two cores).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import MultiLabelBinarizer

from llm4tag.fileio import load_pickle, save_pickle


class PerceptronScorer:
    """``fit(texts, tag_lists, vectors)``, then ``scores(texts, vectors)``: the ``top_k`` tags of each content
    with their predicted probability. Reads the vectors only (the learned paths share one interface)."""

    dense_per_tag = True  # a weight for every hidden unit and tag: skipped past ``supervised_max_tags``

    def __init__(
        self,
        *,
        hidden: int = 512,
        alpha: float = 1e-3,
        epochs: int = 60,
        batch_size: int = 256,
        top_k: int = 50,
        seed: int = 0,
    ) -> None:
        self.hidden, self.alpha, self.epochs, self.batch_size = hidden, alpha, epochs, batch_size
        self.top_k, self.seed = top_k, seed
        self.classes: list[str] = []
        self.contents = 0
        self._model: MLPClassifier | None = None

    def fit(self, texts: list[str], tag_lists: list[list[str]], vectors: np.ndarray | None = None) -> PerceptronScorer:
        if vectors is None or len(vectors) != len(tag_lists):
            raise ValueError(f"the perceptron path needs one vector per annotated content ({len(tag_lists)})")
        keep = [i for i, tags in enumerate(tag_lists) if tags]
        binarizer = MultiLabelBinarizer(sparse_output=True)
        Y = binarizer.fit_transform([tag_lists[i] for i in keep]).astype(bool).toarray()  # 1 byte a cell, not 8
        self.classes = [str(c) for c in binarizer.classes_]
        self.contents = len(keep)
        if len(self.classes) < 2:  # one tag on every annotated content: nothing to tell apart
            self._model = None
            return self
        self._model = MLPClassifier(
            hidden_layer_sizes=(self.hidden,),
            alpha=self.alpha,
            max_iter=self.epochs,
            batch_size=min(self.batch_size, len(keep)),
            random_state=self.seed,
        )
        with warnings.catch_warnings():
            # a fixed number of epochs is the setting (measured on held-out data), not a failure to converge
            warnings.simplefilter("ignore", ConvergenceWarning)
            self._model.fit(np.asarray(vectors, dtype=np.float32)[keep], Y)
        return self

    def scores(self, texts: list[str], vectors: np.ndarray | None = None) -> list[dict[str, float]]:
        if self._model is None or not self.classes or vectors is None or not len(vectors):
            return [{} for _ in texts]
        probabilities = self._model.predict_proba(np.asarray(vectors, dtype=np.float32))
        k = min(self.top_k, len(self.classes))
        best = np.argpartition(-probabilities, k - 1, axis=1)[:, :k] if k < len(self.classes) else None
        out = []
        for row, p in enumerate(probabilities):
            columns = best[row] if best is not None else np.arange(len(self.classes))
            out.append({self.classes[c]: float(p[c]) for c in columns.tolist()})
        return out

    def save(self, path) -> None:
        save_pickle(self, path)

    @staticmethod
    def load(path) -> PerceptronScorer:
        return load_pickle(path)
