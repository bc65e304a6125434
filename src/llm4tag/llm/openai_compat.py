"""Any OpenAI-compatible server: vLLM, llama.cpp server, Ollama, SGLang, OpenAI.

Switching the embedded model for a served one is one config change:
``[llm] backend = "openai"``, ``base_url``, ``model`` (API key from config or
``OPENAI_API_KEY``). Server-specific options go through ``extra_body``.
"""

from __future__ import annotations

import os
from typing import Any

from llm4tag.errors import BackendError, ConfigError
from llm4tag.llm.base import ChatRequest, ChatResult, LLMBackend, TransientError, parse_openai_logprobs


class OpenAIBackend(LLMBackend):
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        concurrency: int = 8,
        extra_body: dict[str, Any] | None = None,
        json_schema_mode: str = "response_format",
        **kwargs: Any,
    ) -> None:
        super().__init__(concurrency=concurrency, **kwargs)
        try:
            import openai
        except ImportError as exc:  # pragma: no cover
            raise ConfigError("the openai client is not installed: pip install 'llm4tag[llm]'") from exc
        self._openai = openai
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        # retries are ours (with backoff and one final error), so the client's are off
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "none",
            timeout=timeout,
            max_retries=0,
        )
        self.model = model
        self.timeout = timeout
        self.extra_body = extra_body or {}
        if json_schema_mode not in ("response_format", "vllm", "none"):
            raise ConfigError("json_schema_mode must be 'response_format', 'vllm' or 'none'")
        self.json_schema_mode = json_schema_mode
        self.supports_json_schema = json_schema_mode != "none"
        self.name = f"openai:{base_url or 'api.openai.com'}:{model}"

    def _complete(self, request: ChatRequest, timeout: float | None = None) -> ChatResult:
        openai = self._openai
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": request.messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        extra = {**self.extra_body, **request.extra_body}
        if request.top_logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = request.top_logprobs
        if request.stop:
            kwargs["stop"] = request.stop
        if request.json_schema is not None and self.json_schema_mode == "response_format":
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": request.json_schema, "strict": True},
            }
        elif request.json_schema is not None and self.json_schema_mode == "vllm":
            extra.setdefault("structured_outputs", {"json": request.json_schema})
        if extra:
            kwargs["extra_body"] = extra
        try:
            client = self._client if timeout is None else self._client.with_options(timeout=min(self.timeout, timeout))
            response = client.chat.completions.create(**kwargs)
        except (
            openai.APITimeoutError,
            openai.APIConnectionError,
            openai.RateLimitError,
            openai.InternalServerError,
        ) as exc:
            raise TransientError(f"{exc.__class__.__name__}: {exc}") from None
        except openai.APIStatusError as exc:
            raise BackendError(f"{self.name}: HTTP {exc.status_code}: {exc.message}") from None
        except openai.APIResponseValidationError as exc:
            raise TransientError(f"malformed response: {exc}") from None
        except ValueError as exc:  # malformed JSON body
            raise TransientError(f"malformed response: {exc}") from None
        if not getattr(response, "choices", None):
            raise TransientError("response without choices")
        choice = response.choices[0]
        content = None
        if choice.logprobs is not None and choice.logprobs.content is not None:
            content = [item.model_dump() for item in choice.logprobs.content]
        usage = response.usage
        cached = 0
        if usage is not None and getattr(usage, "prompt_tokens_details", None) is not None:
            cached = usage.prompt_tokens_details.cached_tokens or 0
        return ChatResult(
            text=choice.message.content or "",
            logprobs=parse_openai_logprobs(content),
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cached_tokens=cached,
        )

    def close(self) -> None:
        self._client.close()
