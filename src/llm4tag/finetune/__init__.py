"""Long-term knowledge: export SFT data from the annotated corpus, train LoRA adapters (the judge's too).

Imports are lazy: ``llm4tag.finetune.judge`` runs on a GPU machine that has torch and peft but not the
rest of llm4tag's dependencies.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExportReport", "export_sft"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from llm4tag.finetune import export

        return getattr(export, name)
    raise AttributeError(name)
