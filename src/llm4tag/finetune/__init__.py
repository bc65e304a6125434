"""Long-term knowledge: export SFT data from the annotated corpus, train LoRA adapters (the judge's too).

Imports are lazy: ``llm4tag.finetune.judge`` runs on a GPU machine that has torch and peft but not the
rest of llm4tag's dependencies.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from llm4tag.errors import ConfigError

__all__ = ["ExportReport", "export_sft"]


@contextlib.contextmanager
def finetune_extra(purpose: str) -> Iterator[None]:
    """Imports inside this block that fail become one clear error: ``purpose`` needs the [finetune] extra."""
    try:
        yield
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(f"{purpose} needs the [finetune] extra: pip install 'llm4tag[finetune]' ({exc})") from None


def __getattr__(name: str) -> Any:
    if name in __all__:
        from llm4tag.finetune import export

        return getattr(export, name)
    raise AttributeError(name)
