"""The LLM as a judge: P(Yes) that a tag applies to a content, from first-token log-probabilities.

The judgement prompt puts the content first and the tag last, and the pairs of one content are sent
back to back, so llama.cpp (prompt cache) and vLLM (prefix caching) reuse the content's KV cache.
A backend that returns no log-probabilities is an error unless the caller opts into a fallback, which
reads the answer text and is labelled as such (``JudgeScore.fallback``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Protocol

from llm4tag.corpus.documents import text_hash
from llm4tag.errors import BackendError
from llm4tag.generation.generator import trim
from llm4tag.generation.prompts import PromptTemplate
from llm4tag.library.tags import TagLibrary
from llm4tag.llm.base import ChatRequest, ChatResult, LLMBackend, yes_probability
from llm4tag.store.base import Store
from llm4tag.store.recent import RecentItems


@dataclass
class JudgeScore:
    tag_id: str
    p_yes: float
    fallback: bool = False  # True: no log-probabilities, p_yes read from the answer text (0.9 / 0.1)


class JudgementCache(Protocol):
    """Where judgements already made are looked up and new ones kept: the project's store, or ``RecentJudgements``."""

    def cached_judgements(
        self, judge: str, pairs: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[float, bool]]: ...

    def cache_judgements(self, judge: str, items: dict[tuple[str, str], tuple[float, bool]]) -> None: ...


class RecentJudgements:
    """A service's judgement cache: the judgements stored in the project (``calibrate``'s, ``tag``'s) are read,
    new ones are kept in memory only, the ``limit`` most recently used, so traffic cannot grow the store."""

    def __init__(self, store: Store, limit: int = 100_000) -> None:
        self.store = store
        self._recent: RecentItems[tuple[str, str, str], tuple[float, bool]] = RecentItems(limit)

    def cached_judgements(self, judge: str, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[float, bool]]:
        found = self.store.cached_judgements(judge, pairs)
        held = self._recent.get_many((judge, *pair) for pair in pairs if pair not in found)
        found.update({key[1:]: value for key, value in held.items()})
        return found

    def cache_judgements(self, judge: str, items: dict[tuple[str, str], tuple[float, bool]]) -> None:
        self._recent.put_many(((judge, *pair), value) for pair, value in items.items())


class Judge:
    def __init__(
        self,
        llm: LLMBackend,
        template: PromptTemplate,
        library: TagLibrary,
        *,
        max_content_chars: int = 500,
        max_description_chars: int = 160,
        allow_fallback: bool = False,
    ) -> None:
        self.llm = llm
        self.template = template
        self.library = library
        self.names = library.display_names()
        self.max_content_chars = max_content_chars
        self.max_description_chars = max_description_chars
        self.allow_fallback = allow_fallback
        template_text = f"{template.system}\n{template.user}\n{max_content_chars}/{max_description_chars}"
        #: identifies what a cached judgement was computed with (model and prompt)
        self.fingerprint = f"{llm.name}|{hashlib.sha1(template_text.encode()).hexdigest()[:12]}"

    def request(self, content: str, tag_id: str) -> ChatRequest:
        tag = self.library[tag_id]
        messages = self.template.messages(
            content=trim(content, self.max_content_chars),
            tag={"name": self.names[tag_id], "description": trim(tag.description, self.max_description_chars)},
        )
        return ChatRequest(messages=messages, max_tokens=1, temperature=0.0, top_logprobs=20)

    def judge(self, content: str, tag_ids: list[str], store: JudgementCache | None = None) -> list[JudgeScore]:
        """Judge each tag for one content; requests share the content prefix and go in order.

        With a ``store`` (the project's, or ``RecentJudgements``), judgements already made with the same model and
        prompt are reused and new ones kept.
        """
        if not tag_ids:
            return []
        digest = text_hash(content)
        cached = store.cached_judgements(self.fingerprint, [(digest, t) for t in tag_ids]) if store else {}
        todo = [t for t in tag_ids if (digest, t) not in cached]
        fresh = self.scores(todo, self.llm.chat_batch([self.request(content, t) for t in todo])) if todo else []
        if store is not None and fresh:
            store.cache_judgements(self.fingerprint, {(digest, s.tag_id): (s.p_yes, s.fallback) for s in fresh})
        by_tag = {s.tag_id: s for s in fresh}
        by_tag.update({t: JudgeScore(t, *cached[(digest, t)]) for t in tag_ids if (digest, t) in cached})
        return [by_tag[t] for t in tag_ids]

    def scores(self, tag_ids: list[str], results: list[ChatResult]) -> list[JudgeScore]:
        """P(Yes) from each result's first-token log-probabilities (or the opted-in text fallback)."""
        scores = []
        for tag_id, result in zip(tag_ids, results):
            if result.logprobs:
                p = yes_probability(result.logprobs[0])
                if not math.isnan(p):
                    scores.append(JudgeScore(tag_id, p))
                    continue
            if not self.allow_fallback:
                raise BackendError(
                    f"{self.llm.name} returned no usable log-probabilities for the Yes/No judgement; use a backend "
                    "that returns them (llama.cpp, vLLM, OpenAI) or opt into the labelled text fallback"
                )
            answer = result.text.strip().lower()
            scores.append(JudgeScore(tag_id, 0.9 if answer.startswith("yes") else 0.1, fallback=True))
        return scores
