"""The configured LLM, started on first use: a recall-only run, or a service answering ``"llm": false``,
never loads a model."""

from __future__ import annotations

import threading
from typing import Any

from llm4tag.llm.base import LLMBackend


class LazyLLM:
    """Creates the backend on first ``get()``; closes it only if it created it."""

    def __init__(self, backend: str, options: dict[str, Any], *, instance: LLMBackend | None = None) -> None:
        self.backend, self.options = backend, options  # read when the backend starts
        self._instance = instance
        self._owned = instance is None
        self._lock = threading.Lock()

    def get(self) -> LLMBackend:
        if self._instance is None:
            with self._lock:
                if self._instance is None:
                    from llm4tag.llm import create_llm

                    self._instance = create_llm(self.backend, **self.options)
        return self._instance

    @property
    def started(self) -> bool:
        return self._instance is not None

    @property
    def last_progress(self) -> float | None:
        """When an LLM call last ended (monotonic), or None before the backend started."""
        return self._instance.last_progress if self._instance is not None else None

    def variant(self, **options: Any) -> LazyLLM:
        """Another backend with some options changed (e.g. the base model instead of the fine-tuned one)."""
        return LazyLLM(self.backend, {**self.options, **options})

    def close(self) -> None:
        if self._instance is not None and self._owned:
            self._instance.close()
            self._instance = None
