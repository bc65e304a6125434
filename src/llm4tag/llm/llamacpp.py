"""Embedded llama.cpp through ``xllamacpp``: a local GGUF model, no server to run.

``xllamacpp.Server`` normally opens an HTTP listener with a web UI, no API
key and an 8 GiB prompt cache. Here it is closed down: no UI, a random API
key nobody is told, offline, a bounded prompt cache, and one thread by
default (on a shared machine more threads made generation collapse).
"""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path
from typing import Any

from llm4tag.errors import BackendError, ConfigError
from llm4tag.fileio import sha256_of
from llm4tag.llm.base import ChatRequest, ChatResult, LLMBackend, parse_openai_logprobs
from llm4tag.llm.models import resolve_model


class LlamaCppBackend(LLMBackend):
    supports_logprobs = True
    supports_json_schema = True

    def __init__(
        self,
        model: str = "qwen2.5-coder-1.5b",
        *,
        threads: int = 1,
        context: int = 4096,
        parallel: int = 1,
        cache_mib: int = 256,
        seed: int = 0,
        verbose: bool = False,
        adapter: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(concurrency=parallel, **kwargs)
        try:
            import xllamacpp
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError("xllamacpp is not installed: pip install 'llm4tag[llm]'") from exc
        if adapter and not Path(adapter).is_file():
            raise ConfigError(f"[llm] adapter: no LoRA GGUF at {adapter}")
        path = resolve_model(model)
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = context * parallel
        params.n_parallel = parallel
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.ui = False
        params.offline = True
        self.api_key = secrets.token_hex(16)
        params.api_keys = [self.api_key]
        params.cache_ram_mib = cache_mib
        params.endpoint_metrics = False
        params.endpoint_slots = False
        params.sampling.seed = seed
        params.warmup = False
        if adapter:  # a LoRA GGUF (``llm4tag finetune install``), applied to every request
            info = xllamacpp.CommonAdapterLoraInfo()
            info.path, info.scale = str(adapter), 1.0
            params.lora_adapters = [info]
        if not verbose:
            params.verbosity = -1
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            with_adapter = f" with the adapter {adapter} (trained for another model?)" if adapter else ""
            raise BackendError(f"llama.cpp could not load {path}{with_adapter}: {exc}") from None
        # an adapter changes every answer: it is part of the name cached judgements are keyed by
        self.name = f"llamacpp:{model}" + (f"+lora:{sha256_of(adapter)[:12]}" if adapter else "")
        self.model_path = path
        self._lock = threading.Lock() if parallel == 1 else None

    def _complete(self, request: ChatRequest, timeout: float | None = None) -> ChatResult:
        body: dict[str, Any] = {
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "seed": 0,
            "cache_prompt": True,
        }
        if request.top_logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = request.top_logprobs
        if request.json_schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {"schema": request.json_schema}}
        if request.stop:
            body["stop"] = request.stop
        body.update(request.extra_body)
        if self._lock:
            with self._lock:
                response = self._server.handle_chat_completions(body)
        else:
            response = self._server.handle_chat_completions(body)
        if isinstance(response, str):
            response = json.loads(response)
        if "error" in response or "choices" not in response:
            raise BackendError(f"{self.name}: {response.get('error', response)}")
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return ChatResult(
            text=choice["message"].get("content") or "",
            logprobs=parse_openai_logprobs((choice.get("logprobs") or {}).get("content")),
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            cached_tokens=int((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)),
        )

    @property
    def base_url(self) -> str:
        """The loopback address of the embedded server's OpenAI-compatible API (needs ``api_key``)."""
        return f"{self._server.listening_address}/v1"

    def close(self) -> None:
        server = getattr(self, "_server", None)
        if server is not None:
            del self._server
