"""The one fake LLM the tests use, for tests about something other than the model: prompt building and
parsing, caching, calibration, the service's error paths. Tests about the model itself use the real embedded
0.5B model (``conftest.small_llm``) or a scripted OpenAI-compatible server (``fake_openai_server.py``)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from llm4tag.llm.base import ChatRequest, ChatResult, LLMBackend, TokenLogprobs, TransientError


class FakeLLM(LLMBackend):
    """A configurable LLM backend.

        ``answers``: texts returned in order (for selection prompts), or a function of the request giving the text;
        otherwise every call is a Yes/No judgement
        answered with ``p_yes`` (a number, or a function of the request) as log-probabilities. ``delay``: seconds
        each call takes. ``fail``: ``"timeout"`` makes every call time out; ``"never asked"`` fails the test that
    calls it (for tests that must not reach the LLM). It counts its calls and keeps the
        requests it was sent."""

    def __init__(
        self,
        *,
        answers: list[str] | Callable[[ChatRequest], str] | None = None,
        p_yes: float | Callable[[ChatRequest], float] = 0.8,
        delay: float = 0.0,
        fail: str | None = None,
        name: str = "fake",
        **options,
    ) -> None:
        super().__init__(**options)
        self.answers = answers if callable(answers) or answers is None else list(answers)
        self.p_yes, self.delay, self.fail, self.name = p_yes, delay, fail, name
        self.calls = 0
        self.requests: list[ChatRequest] = []

    def _complete(self, request: ChatRequest, timeout: float | None = None) -> ChatResult:
        self.calls += 1
        self.requests.append(request)
        if self.delay:
            time.sleep(self.delay)
        if self.fail == "never asked":
            raise AssertionError("this test expects no call to the LLM")
        if self.fail == "timeout":
            raise TransientError("timed out")
        if callable(self.answers):
            return ChatResult(text=self.answers(request), prompt_tokens=3, completion_tokens=2)
        if self.answers is not None:
            return ChatResult(text=self.answers.pop(0), prompt_tokens=3, completion_tokens=2)
        p = self.p_yes(request) if callable(self.p_yes) else self.p_yes
        top = {"Yes": math.log(p), "No": math.log(1 - p)}
        return ChatResult(text="Yes" if p > 0.5 else "No", logprobs=[TokenLogprobs("Yes", top["Yes"], top)])
