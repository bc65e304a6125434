"""What every learned recall path is: ``fit`` on annotated contents, ``predict`` a score per tag, top-k
``scores``, ``save``/``load`` as JSON and arrays (as sentence-transformers' modules are kept).

Fitted attributes end in an underscore (scikit-learn's convention); a path that was not fitted raises
``NotFittedError`` instead of answering nothing. Files from before this format are read by ``legacy.py``
alone.
"""

from __future__ import annotations

import json
import shutil
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from llm4tag.errors import ConfigError, Llm4tagError
from llm4tag.fileio import atomic_write, replace_directory

FORMAT = 1  # of a saved path's directory: path.json (settings, classes, about) + arrays.npz (+ the path's own)
ABOUT_FILE, ARRAYS_FILE = "path.json", "arrays.npz"


class NotFittedError(Llm4tagError, ValueError):
    """A learned path was asked for scores before it was fitted."""


def check_is_fitted(path: LearnedPath) -> None:
    if not hasattr(path, "classes_"):
        raise NotFittedError(f"the {path.name} recall path is not fitted yet: call fit() or load() first")


class LearnedPath(ABC):
    """A per-tag model over the annotated contents.

    Subclasses set ``name``, ``dense_per_tag`` (a weight for every tag and feature: skipped past
    ``[recall] learned_max_tags``) and ``DEFAULT_PARAMETERS`` (``[recall.paths.<name>]``), and implement
    ``fit``, ``predict`` and the two hooks that keep their fitted state (``_fitted_arrays``/``_restore``).
    """

    name: ClassVar[str]
    dense_per_tag: ClassVar[bool]
    DEFAULT_PARAMETERS: ClassVar[dict[str, Any]]

    def __init__(self, **parameters: Any) -> None:
        unknown = sorted(set(parameters) - set(self.DEFAULT_PARAMETERS))
        if unknown:
            raise ConfigError(
                f"[recall.paths.{self.name}]: unknown key(s) {', '.join(unknown)}; expected"
                f" {', '.join(self.DEFAULT_PARAMETERS)}"
            )
        for key, value in parameters.items():
            default = self.DEFAULT_PARAMETERS[key]
            expected = (int, float) if isinstance(default, float) else type(default)
            if default is not None and (not isinstance(value, expected) or isinstance(value, bool)):
                raise ConfigError(
                    f"[recall.paths.{self.name}] {key}: expected {type(default).__name__} like {default!r},"
                    f" got {value!r}"
                )
        self.parameters: dict[str, Any] = {**self.DEFAULT_PARAMETERS, **parameters}

    # -- learning and scoring --------------------------------------------------------
    @abstractmethod
    def fit(self, texts: list[str], tag_lists: list[list[str]], vectors: np.ndarray) -> LearnedPath:
        """Learn from the annotated contents (texts, their tags, their embeddings); sets ``classes_`` (the tags
        seen, the columns of ``predict``) and ``n_contents_``. Returns ``self``."""

    @abstractmethod
    def predict(self, texts: list[str], vectors: np.ndarray | None) -> np.ndarray | sp.csr_matrix:
        """Scores in [0, 1], one row per text and one column per tag of ``classes_``; a sparse matrix holds the
        tags the path reached."""

    def scores(self, texts: list[str], vectors: np.ndarray | None = None) -> list[dict[str, float]]:
        """The ``top_k`` tags of each text with their scores."""
        check_is_fitted(self)
        if not self.classes_:
            return [{} for _ in texts]
        matrix = self.predict(texts, vectors)
        classes = self.classes_
        if sp.issparse(matrix):
            matrix = matrix.tocsr()
            return [
                {classes[c]: float(v) for c, v in zip(matrix.indices[s:e].tolist(), matrix.data[s:e].tolist())}
                for s, e in zip(matrix.indptr[:-1], matrix.indptr[1:])
            ]
        k = min(self.parameters.get("top_k", len(classes)), len(classes))
        best = np.argpartition(-matrix, k - 1, axis=1)[:, :k] if k < len(classes) else None
        out = []
        for row, values in enumerate(matrix):
            columns = best[row] if best is not None else range(len(classes))
            out.append({classes[c]: float(values[c]) for c in columns})
        return out

    def explain(self, text: str, tag_id: str, top: int = 5) -> list[tuple[str, float]]:
        """The words (and word pairs) of ``text`` that raised ``tag_id``'s score most, with how much, largest
        first; empty for a path that reads no words, or a tag it was not fitted on."""
        check_is_fitted(self)
        return []

    # -- keeping it --------------------------------------------------------------------
    @abstractmethod
    def _fitted_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state as named arrays (saved in ``arrays.npz``)."""

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray], directory: Path) -> None:
        """Set the fitted attributes back from ``_fitted_arrays``' arrays (and files of the path's own)."""

    def _save_files(self, directory: Path) -> None:  # noqa: B027 - a hook: most paths keep arrays only
        """Files of the path's own beside the arrays (a model a library saves itself)."""

    def save(self, directory: str | Path, *, about: dict[str, Any] | None = None) -> None:
        """Write the fitted path to ``directory`` (replaced whole: a reader sees the old one or the new one);
        ``about``: what it was fitted on, read back by ``load``."""
        check_is_fitted(self)
        directory = Path(directory)
        staging = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        with atomic_write(staging / ARRAYS_FILE, "wb") as handle:
            np.savez(handle, **self._fitted_arrays())
        self._save_files(staging)
        description = {
            "format": FORMAT,
            "path": self.name,
            "parameters": self.parameters,
            "classes": list(self.classes_),
            "contents": self.n_contents_,
            "about": about or {},
        }
        with atomic_write(staging / ABOUT_FILE) as handle:  # last: a path.json means the directory is complete
            json.dump(description, handle)
        replace_directory(staging, directory)

    @classmethod
    def load(cls, directory: str | Path) -> tuple[LearnedPath, dict[str, Any]]:
        """The path saved in ``directory`` and the ``about`` it was saved with."""
        directory = Path(directory)
        description = json.loads((directory / ABOUT_FILE).read_text(encoding="utf-8"))
        if description.get("format") != FORMAT or description.get("path") != cls.name:
            raise ValueError(
                f"{directory} holds a {description.get('path')!r} path in format {description.get('format')!r};"
                f" expected {cls.name!r} in format {FORMAT}"
            )
        path = cls(**description["parameters"])
        path.classes_ = [str(c) for c in description["classes"]]
        path.n_contents_ = int(description["contents"])
        with np.load(directory / ARRAYS_FILE, allow_pickle=False) as arrays:
            path._restore({key: arrays[key] for key in arrays.files}, directory)
        return path, description["about"]
