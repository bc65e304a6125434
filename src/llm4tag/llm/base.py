"""One small interface for chat completion with token log-probabilities.

Backends implement ``_complete`` for one request; this base class adds
batching with bounded concurrency, retries with exponential backoff on
transient failures, and one clear final error.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from llm4tag.errors import BackendError

log = logging.getLogger(__name__)


@dataclass
class ChatRequest:
    messages: list[dict[str, str]]
    max_tokens: int = 128
    temperature: float = 0.0
    top_logprobs: int = 0  # >0: return the top alternatives of each generated token
    json_schema: dict[str, Any] | None = None  # constrain the output where the backend can
    stop: list[str] | None = None
    extra_body: dict[str, Any] = field(default_factory=dict)


@dataclass
class TokenLogprobs:
    token: str
    logprob: float
    top: dict[str, float]  # alternative token -> logprob (includes the chosen token)


@dataclass
class ChatResult:
    text: str
    logprobs: list[TokenLogprobs] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    seconds: float = 0.0


class TransientError(Exception):
    """A failure worth retrying (timeouts, 5xx, dropped connections)."""


class LLMBackend(ABC):
    """Chat completion with log-probabilities. Subclasses implement ``_complete``."""

    name: str = "llm"
    supports_logprobs: bool = True
    supports_json_schema: bool = True

    def __init__(
        self,
        *,
        max_retries: int = 3,
        backoff_seconds: float = 1.0,
        concurrency: int = 1,
        deadline_seconds: float = 60.0,
    ) -> None:
        """``deadline_seconds`` bounds one ``chat`` call, retries and backoff included, so a hung or failing
        endpoint costs a caller at most that long before the final ``BackendError``."""
        if deadline_seconds <= 0:
            raise ValueError("deadline_seconds must be positive")
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self.concurrency = max(1, concurrency)
        self.deadline_seconds = deadline_seconds
        self.last_progress = time.monotonic()  # when a call last ended: a long batch that makes progress is not hung

    def attempt_timeout(self, deadline: float) -> float:
        """Seconds one attempt may take so that the call still ends by ``deadline`` (a monotonic time)."""
        return max(0.05, deadline - time.monotonic())

    @abstractmethod
    def _complete(self, request: ChatRequest, timeout: float | None = None) -> ChatResult:
        """Run one request within ``timeout`` seconds where the backend can bound it; raise ``TransientError``
        for failures worth a retry."""

    def chat(self, request: ChatRequest) -> ChatResult:
        """One request with retries and backoff, all within ``deadline_seconds``; ``BackendError`` when it keeps
        failing or the deadline passes."""
        attempt = 0
        deadline = time.monotonic() + self.deadline_seconds
        while True:
            started = time.perf_counter()
            try:
                result = self._complete(request, self.attempt_timeout(deadline))
                result.seconds = time.perf_counter() - started
                return result
            except TransientError as exc:
                attempt += 1
                if attempt > self.max_retries:
                    raise BackendError(f"{self.name}: request failed after {attempt} attempt(s): {exc}") from None
                delay = self.backoff_seconds * (2 ** (attempt - 1))
                if time.monotonic() + delay >= deadline:
                    raise BackendError(
                        f"{self.name}: no answer within the {self.deadline_seconds:g} s deadline after {attempt}"
                        f" attempt(s): {exc}"
                    ) from None
                log.warning("%s: %s; retry %d/%d in %.1fs", self.name, exc, attempt, self.max_retries, delay)
                time.sleep(delay)
            finally:
                self.last_progress = time.monotonic()

    def chat_batch(
        self, requests: Sequence[ChatRequest], on_done: Callable[[int], None] | None = None
    ) -> list[ChatResult]:
        """Run requests with at most ``concurrency`` in flight; results in request order."""
        if self.concurrency == 1 or len(requests) <= 1:
            out = []
            for request in requests:
                out.append(self.chat(request))
                if on_done:
                    on_done(1)
            return out
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(self.chat, r) for r in requests]
            out = []
            for future in futures:
                out.append(future.result())
                if on_done:
                    on_done(1)
            return out

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (servers, models)."""

    def __enter__(self) -> LLMBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def parse_openai_logprobs(content: list[dict[str, Any]] | None) -> list[TokenLogprobs]:
    """Turn an OpenAI-style ``choices[0].logprobs.content`` list into ``TokenLogprobs``.

    Servers differ in what they leave out: entries or alternatives without a token or a numeric
    log-probability (missing, null) are dropped, never a crash; an empty list means "no log-probabilities",
    which the judge turns into a clear error or its labelled fallback.
    """
    out = []
    for item in content if isinstance(content, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            continue
        top = {}
        for alt in item.get("top_logprobs") or []:
            value = _number(alt.get("logprob")) if isinstance(alt, dict) else None
            if value is not None and isinstance(alt.get("token"), str):
                top[alt["token"]] = value
        logprob = _number(item.get("logprob"))
        if logprob is None and not top:
            continue
        if logprob is not None:
            top.setdefault(item["token"], logprob)
        chosen = logprob if logprob is not None else top.get(item["token"], float("nan"))
        out.append(TokenLogprobs(token=item["token"], logprob=chosen, top=top))
    return out


def yes_probability(first_token: TokenLogprobs, yes: Sequence[str] = ("yes",), no: Sequence[str] = ("no",)) -> float:
    """P(Yes) / (P(Yes) + P(No)) over the first token's alternatives, summing case and space variants."""
    p_yes = p_no = 0.0
    for token, logprob in first_token.top.items():
        key = token.strip().lower()
        if key in yes:
            p_yes += math.exp(logprob)
        elif key in no:
            p_no += math.exp(logprob)
    if p_yes + p_no == 0:
        return float("nan")
    return p_yes / (p_yes + p_no)


def json_answer(raw: str) -> dict[str, Any]:
    """The JSON object in a model's answer (the outermost braces, with any text around them), or ``{}`` where
    there is none: a model that ignores the format is an empty answer to report, not a crash."""
    match = re.search(r"\{.*\}", raw, re.S)
    try:
        data = json.loads(match.group(0)) if match else {}
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
