"""LLM backends behind one interface, created lazily by name."""

from __future__ import annotations

from typing import Any

from llm4tag import registry
from llm4tag.llm.base import ChatRequest, ChatResult, LLMBackend, TokenLogprobs, yes_probability

_REGISTRY = {
    "llamacpp": ("llm4tag.llm.llamacpp", "LlamaCppBackend"),
    "openai": ("llm4tag.llm.openai_compat", "OpenAIBackend"),
    "transformers": ("llm4tag.llm.transformers_backend", "TransformersBackend"),
}


#: the backend names ``[llm] backend`` takes (besides ``package.module:Class``)
BACKENDS = tuple(_REGISTRY)


def create_llm(backend: str = "llamacpp", **options: Any) -> LLMBackend:
    """Build an LLM backend by name; heavy imports happen only for the one asked for."""
    return registry.create("LLM", _REGISTRY, backend, **options)


__all__ = ["BACKENDS", "ChatRequest", "ChatResult", "LLMBackend", "TokenLogprobs", "create_llm", "yes_probability"]
