"""The learned recall paths: per-tag models fitted on the annotated contents, one module per path behind
``LearnedPath`` (``base.py``).

Adding a path is a module with a ``LearnedPath`` subclass and one line in ``REGISTRY`` below: its name (the
key in ``[recall.weights]`` and ``[recall.paths.<name>]``), where the class lives, and its default weight.
The registry names modules, it does not import them: reading a configuration stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple

from llm4tag.errors import ConfigError

if TYPE_CHECKING:
    from llm4tag.recall.learned.base import LearnedPath


class Entry(NamedTuple):
    module: str
    cls: str
    weight: float  # its default weight in the fused recall score (``[recall.weights]``)


REGISTRY: dict[str, Entry] = {
    "supervised": Entry("llm4tag.recall.learned.supervised", "SupervisedPath", 2.5),
    "tree": Entry("llm4tag.recall.learned.tree", "TreePath", 1.0),
    "mlp": Entry("llm4tag.recall.learned.perceptron", "PerceptronPath", 1.0),
}


def path_class(name: str) -> type[LearnedPath]:
    """The class of the learned path ``name``, imported on first use."""
    entry = REGISTRY.get(name)
    if entry is None:
        raise ConfigError(f"unknown learned recall path {name!r}; expected one of {', '.join(REGISTRY)}")
    return getattr(importlib.import_module(entry.module), entry.cls)


def new_path(name: str, parameters: dict | None = None) -> LearnedPath:
    """An unfitted learned path ``name`` with ``parameters`` (``[recall.paths.<name>]``) over its defaults."""
    return path_class(name)(**(parameters or {}))
