"""LLM backends behind one interface, created lazily by name."""

from __future__ import annotations

import importlib
from typing import Any

from llm4tag.errors import ConfigError
from llm4tag.llm.base import ChatRequest, ChatResult, LLMBackend, TokenLogprobs, yes_probability

_REGISTRY = {
    "llamacpp": ("llm4tag.llm.llamacpp", "LlamaCppBackend"),
    "openai": ("llm4tag.llm.openai_compat", "OpenAIBackend"),
    "transformers": ("llm4tag.llm.transformers_backend", "TransformersBackend"),
}


def create_llm(backend: str = "llamacpp", **options: Any) -> LLMBackend:
    if backend not in _REGISTRY:
        raise ConfigError(f"unknown LLM backend {backend!r}; expected one of {', '.join(_REGISTRY)}")
    module_name, class_name = _REGISTRY[backend]
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for LLM backend {backend!r}: {exc}") from None


__all__ = ["ChatRequest", "ChatResult", "LLMBackend", "TokenLogprobs", "create_llm", "yes_probability"]
