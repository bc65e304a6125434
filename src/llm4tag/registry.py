"""Lazy registries: backends are named in config and imported only when asked for (heavy imports stay
out of the way of users who never touch them), as Annif does for its backends."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from llm4tag.errors import ConfigError


def create(kind: str, registry: dict[str, tuple[str, str]], backend: str, **options: Any) -> Any:
    """Instantiate ``registry[backend]`` (module path, class name) with ``options``; config errors are clear.

    ``backend`` may also be ``"package.module:ClassName"``: a backend of your own, importable where it runs.
    """
    if backend in registry:
        module_name, class_name = registry[backend]
    elif ":" in backend:
        module_name, class_name = backend.split(":", 1)
    else:
        raise ConfigError(
            f"unknown {kind} backend {backend!r}; expected one of {', '.join(registry)} or 'package.module:Class'"
        )
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{kind} backend {backend!r} cannot be imported: {exc}") from None
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for {kind} backend {backend!r}: {exc}") from None


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A package's ``__getattr__`` (PEP 562) that imports each exported name from its module on first use, so
    importing one leaf module of the package (its settings) does not load the rest and its libraries."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
