"""A learned path on the content embeddings: a multi-label perceptron from the vectors C2C2T already has.

The neighbour vote (C2C2T) reads the embeddings through the nearest annotated contents only; the word-based
learned paths (supervised, tree) do not read them at all. A small network (scikit-learn's
``MLPClassifier``: one hidden layer, a sigmoid per tag) learns, from every annotated content at once, which
directions of the embedding space mean which tag, so it generalises where the words differ and the
neighbours are few: on short texts most of all. Scoring costs two small matrix products per batch on vectors
the recall stage has computed anyway. ``[recall.weights] mlp = 0`` turns it off. Refitted, like the other
learned paths, when the annotated contents change.

Trained with torch where it is installed (it comes with the default embedder): the same network, loss,
initialisation and optimiser as scikit-learn's ``MLPClassifier``, in bfloat16 on CPUs that multiply it in
hardware, about twice as fast (17-21 s instead of 33-41 s for 17,000 debtags contents on two cores, of the
same quality; docs/experiments/recall-speed.md). Without torch, ``MLPClassifier`` trains it. Either way the
fitted weights are kept as arrays and scored with numpy, so scoring needs neither.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np
from scipy.special import expit
from sklearn.preprocessing import MultiLabelBinarizer

from llm4tag.recall.learned.base import LearnedPath, check_is_fitted

Layers = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # hidden weights, bias; output weights, bias


class PerceptronPath(LearnedPath):
    """Reads the vectors only; the texts are not used."""

    name = "mlp"
    dense_per_tag = True  # a weight for every hidden unit and tag
    DEFAULT_PARAMETERS = {"hidden": 512, "alpha": 1e-3, "epochs": 60, "batch_size": 256, "top_k": 50, "seed": 0}

    def fit(self, texts: list[str], tag_lists: list[list[str]], vectors: np.ndarray | None = None) -> PerceptronPath:
        if vectors is None or len(vectors) != len(tag_lists):
            raise ValueError(f"the perceptron path needs one vector per annotated content ({len(tag_lists)})")
        p = self.parameters
        keep = [i for i, tags in enumerate(tag_lists) if tags]
        binarizer = MultiLabelBinarizer(sparse_output=True)
        Y = binarizer.fit_transform([tag_lists[i] for i in keep]).astype(bool).toarray()  # 1 byte a cell, not 8
        self.classes_ = [str(c) for c in binarizer.classes_]
        self.n_contents_ = len(keep)
        self.layers_: Layers | None = None  # one tag on every annotated content: nothing to tell apart
        if len(self.classes_) >= 2:
            X = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[keep])
            train = _train_with_torch if importlib.util.find_spec("torch") is not None else _train_with_sklearn
            self.layers_ = train(
                X,
                Y,
                hidden=p["hidden"],
                alpha=p["alpha"],
                epochs=p["epochs"],
                batch_size=p["batch_size"],
                seed=p["seed"],
            )
        return self

    def predict(self, texts: list[str], vectors: np.ndarray | None = None) -> np.ndarray:
        """Each tag's probability (``classes_``' order) for each vector, as ``MLPClassifier`` computes it."""
        n = len(vectors) if vectors is not None else len(texts)
        if self.layers_ is None or vectors is None or not n:
            return np.zeros((n, len(self.classes_)), dtype=np.float32)
        hidden_weights, hidden_bias, output_weights, output_bias = self.layers_
        hidden = np.maximum(np.asarray(vectors, dtype=np.float32) @ hidden_weights + hidden_bias, 0)
        return expit(hidden @ output_weights + output_bias)

    def scores(self, texts: list[str], vectors: np.ndarray | None = None) -> list[dict[str, float]]:
        check_is_fitted(self)
        if self.layers_ is None or vectors is None or not len(vectors):
            return [{} for _ in texts]
        return super().scores(texts, vectors)

    def _fitted_arrays(self) -> dict[str, np.ndarray]:
        if self.layers_ is None:
            return {}
        return dict(zip(("hidden_weights", "hidden_bias", "output_weights", "output_bias"), self.layers_))

    def _restore(self, arrays: dict[str, np.ndarray], directory: Path) -> None:
        names = ("hidden_weights", "hidden_bias", "output_weights", "output_bias")
        self.layers_ = tuple(arrays[n] for n in names) if "hidden_weights" in arrays else None


def _train_with_torch(
    X: np.ndarray, Y: np.ndarray, *, hidden: int, alpha: float, epochs: int, batch_size: int, seed: int
) -> Layers:
    """``MLPClassifier``'s training, in torch: Glorot-uniform start, Adam (learning rate 1e-3), the log loss
    summed over tags and averaged over the batch plus ``alpha``/2 times the squared weights per content,
    ``epochs`` shuffled passes. The products run in bfloat16 where the CPU has bfloat16 units (the loss and
    the weights stay float32)."""
    import torch

    from llm4tag.embedding.sentence_transformer import native_bfloat16

    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # torch's own start draws from the global generator: leave it be
        layers = [torch.nn.Linear(X.shape[1], hidden), torch.nn.Linear(hidden, Y.shape[1])]
    with torch.no_grad():
        for layer in layers:
            bound = (6.0 / (layer.in_features + layer.out_features)) ** 0.5
            layer.weight.uniform_(-bound, bound, generator=generator)
            layer.bias.uniform_(-bound, bound, generator=generator)
    network = torch.nn.Sequential(layers[0], torch.nn.ReLU(), layers[1])
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-3)
    inputs, targets = torch.from_numpy(X), torch.from_numpy(Y.astype(np.float32))
    bfloat16 = native_bfloat16()
    batch_size = min(batch_size, len(X))
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), batch_size):
            rows = order[start : start + batch_size]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
                logits = network(inputs[rows])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits.float(), targets[rows], reduction="sum"
            ) + 0.5 * alpha * sum(layer.weight.pow(2).sum() for layer in layers)
            optimiser.zero_grad(set_to_none=True)
            (loss / len(rows)).backward()
            optimiser.step()
    return tuple(
        t.detach().numpy().copy() for t in (layers[0].weight.T, layers[0].bias, layers[1].weight.T, layers[1].bias)
    )


def _train_with_sklearn(
    X: np.ndarray, Y: np.ndarray, *, hidden: int, alpha: float, epochs: int, batch_size: int, seed: int
) -> Layers:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=(hidden,),
        alpha=alpha,
        max_iter=epochs,
        batch_size=min(batch_size, len(X)),
        random_state=seed,
    )
    with warnings.catch_warnings():
        # a fixed number of epochs is the setting (measured on held-out data), not a failure to converge
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, Y)
    return model.coefs_[0], model.intercepts_[0], model.coefs_[1], model.intercepts_[1]
