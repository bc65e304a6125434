"""Learned paths saved before ``base.FORMAT`` existed: whole objects pickled as ``graph/<name>.pkl`` (the tree's
model beside it in ``graph/tree.model``). Every compatibility rule for them lives here; ``read`` turns one
into today's path, which the recall index then saves in today's format."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from llm4tag.recall.learned import new_path
from llm4tag.recall.learned.base import LearnedPath

# the classes those pickles name, by the path they held
_CLASSES = {
    ("llm4tag.recall.supervised", "SupervisedScorer"): "supervised",
    ("llm4tag.recall.tree", "TreeScorer"): "tree",
    ("llm4tag.recall.perceptron", "PerceptronScorer"): "mlp",
}
_PARAMETERS = {
    "supervised": ("C", "max_features", "min_df", "top_k", "n_jobs"),
    "tree": ("cluster_k", "max_depth", "max_features", "min_df", "top_k", "threads"),
    "mlp": ("hidden", "alpha", "epochs", "batch_size", "top_k", "seed"),
}


class _Saved:
    """What an old pickle held, as a plain attribute dictionary."""

    kind: str = ""

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        kind = _CLASSES.get((module, name))
        if kind is not None:
            return type(f"Saved_{kind}", (_Saved,), {"kind": kind})
        return super().find_class(module, name)


def file_of(directory: Path, name: str) -> Path:
    return directory / f"{name}.pkl"


def read(directory: Path, name: str) -> tuple[LearnedPath, dict[str, Any]]:
    """The path ``name`` from its old pickle in ``directory``, and what it was fitted on (``about``)."""
    with file_of(directory, name).open("rb") as handle:
        saved = _Unpickler(handle).load()
    if not isinstance(saved, _Saved) or saved.kind != name:
        raise ValueError(f"{file_of(directory, name)} does not hold a {name} recall path")
    state = saved.__dict__
    path = new_path(name, {key: state[key] for key in _PARAMETERS[name] if key in state})
    path.classes_ = [str(c) for c in state.get("classes", [])]
    path.n_contents_ = int(state.get("contents", 0))
    if name in ("supervised", "tree"):
        path.vectoriser_ = state["_vectorizer"]
    if name == "supervised":
        path.weights_ = np.ascontiguousarray(state["_weights"], dtype=np.float32)
        path.bias_ = state["_bias"]
    elif name == "tree":
        from llm4tag.recall.learned.tree import load_trees

        path.model_ = load_trees(directory / "tree.model")
    elif name == "mlp":
        model = state.get("_model")  # before the weights were kept as arrays: the fitted MLPClassifier
        if model is not None:
            path.layers_ = (model.coefs_[0], model.intercepts_[0], model.coefs_[1], model.intercepts_[1])
        else:
            path.layers_ = state.get("_layers")
    revision, content_max_seq, contents = state["stamp"]
    return path, {"revision": revision, "content_max_seq": content_max_seq, "contents": contents}


def remove(directory: Path, name: str) -> None:
    """Delete the old files once the path is saved in today's format."""
    import shutil

    file_of(directory, name).unlink(missing_ok=True)
    if name == "tree":
        shutil.rmtree(directory / "tree.model", ignore_errors=True)
