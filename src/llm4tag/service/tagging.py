"""The service's work, apart from HTTP: the pipelines on their lanes, the LLM deadline, the review queue,
the limits on texts, and whether the service is ready. The routers call this; it knows no request."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Annotated

from fastapi import Depends, Request

from llm4tag.corpus.documents import Document, text_hash
from llm4tag.errors import BackendError, Llm4tagError, StoreUnavailable
from llm4tag.pipeline.results import TaggingResult
from llm4tag.service.auth import Keys
from llm4tag.service.lanes import PipelineLanes
from llm4tag.service.metrics import ServiceMetrics
from llm4tag.service.schemas import ContentIn, ServiceError
from llm4tag.service.settings import ServiceConfig

log = logging.getLogger(__name__)


class TaggingService:
    """One open project served: ``start``/``stop`` around the service's life, ``tag`` for the routes."""

    def __init__(self, project, config: ServiceConfig, keys: Keys, overrides: dict) -> None:
        self.project, self.config, self.keys, self.overrides = project, config, keys, overrides
        self.metrics = ServiceMetrics()
        self.uses_llm = project.pipeline(**overrides).options.uses_llm  # checks the overrides now
        self.retry_after = {"Retry-After": str(config.retry_after_seconds)}
        self.ready, self.reason, self.llm_error = False, "starting", None
        self.reconciler = None  # built for the library it matches against (``reconcile._reconciler``)
        self.lanes = PipelineLanes(
            lambda llm: project.pipeline(**overrides) if llm else project.pipeline(**overrides, llm=False),
            project.llm,
            max_batch=config.max_batch,
            window_seconds=config.batch_window_ms / 1000,
            compute_threads=config.compute_threads,
            on_batch=self.metrics.batches.inc,
            on_results=self._queue_reviews,
        )

    # -- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.lanes.start()
        try:
            await self.lanes.call(self._prepare)
            self.ready, self.reason = True, "ready"
        except Llm4tagError as exc:
            self.ready, self.reason = False, str(exc)
            log.error("service not ready: %s", exc)

    async def stop(self) -> None:
        await self.lanes.stop()
        gc.unfreeze()  # what the service froze can be collected again once it is gone (tests start many)

    def _prepare(self) -> None:
        self.project.index()
        self.project.recall_index.warm()
        if self.uses_llm:
            self.project.llm.get()  # start the backend now, not on the first request
        # the loaded project is half a million long-lived objects: a full garbage collection walking them all
        # stalled every request in flight (docs/experiments/service.md). Frozen, they are not walked.
        gc.collect()
        gc.freeze()

    def readiness(self) -> str | None:
        """Why the service cannot tag now, or None when it can."""
        if not self.ready:
            return self.reason
        stalled = self.lanes.llm_stalled_for()
        if self.uses_llm and stalled > self.config.llm_deadline_seconds:
            return f"LLM backend: no answer for {stalled:.0f} s"
        if self.uses_llm and self.llm_error:
            return f"LLM backend failing: {self.llm_error}"
        return None

    # -- tagging -----------------------------------------------------------------------------
    def check_texts(self, texts: list[str], *, allow_empty: bool = False) -> None:
        config = self.config
        if len(texts) > config.max_batch:
            raise ServiceError(413, f"at most {config.max_batch} documents per batch, got {len(texts)}")
        for i, text in enumerate(texts):
            if len(text) > config.max_text_chars:
                raise ServiceError(413, f"document {i}: text longer than {config.max_text_chars} characters")
            if not text.strip() and not allow_empty:
                raise ServiceError(400, f"document {i}: text is empty")

    async def tag(self, contents: list[ContentIn], *, llm: bool = True, review: bool = False) -> list[TaggingResult]:
        """``review``: low-confidence tags join the review queue (written with the batch, before the answer)."""
        self.check_texts([c.text for c in contents])
        if not self.ready:
            raise ServiceError(503, f"not ready: {self.reason}", self.retry_after)
        docs = [Document(c.id or f"text:{text_hash(c.text)[:16]}", c.text) for c in contents]
        llm = llm and self.uses_llm
        deadline = self.config.llm_deadline_seconds
        stalled = self.lanes.llm_stalled_for()
        if llm and stalled > deadline:  # stuck on an earlier batch: answer now, do not queue
            raise self._llm_failed(f"no answer for {stalled:.0f} s; try again later or ask with llm=false")
        try:
            if llm:
                tagging = asyncio.ensure_future(self.lanes.tag(docs, llm=True, review=review))
                results = await self._within_deadline(tagging, deadline)
            else:
                results = await self.lanes.tag(docs, llm=False, review=review)
        except asyncio.TimeoutError:
            raise self._llm_failed(f"no answer within the {deadline:g} s deadline") from None
        except BackendError as exc:
            raise self._llm_failed(str(exc)) from None
        if llm:
            self.llm_error = None
        self.metrics.contents.inc(len(results))
        self.metrics.llm_calls.inc(sum(r.llm_calls for r in results))
        return results

    async def call(self, func, *args):
        """``func(*args)`` on the store lane, in arrival order with everything else that writes."""
        return await self.lanes.call(func, *args)

    def _llm_failed(self, reason: str) -> ServiceError:
        self.metrics.errors.labels("llm_backend").inc()
        self.llm_error = reason
        return ServiceError(503, f"LLM backend unavailable: {reason}", self.retry_after)

    async def _within_deadline(self, task: asyncio.Future, deadline: float):
        """The task's result, unless the LLM lane makes no progress for ``deadline`` seconds (a request queued
        behind a long but progressing batch waits; one behind a hung backend gets its answer in time)."""
        waited = 0.0
        while True:
            step = min(0.25, deadline)
            done, _ = await asyncio.wait({task}, timeout=step)
            if done:
                return task.result()
            waited += step
            stalled = self.lanes.llm_stalled_for()
            if stalled > deadline or (stalled == 0 and waited > deadline):
                task.cancel()
                raise asyncio.TimeoutError

    def _queue_reviews(self, tagged: list[tuple[Document, TaggingResult]]) -> None:
        """Tags served under ``review_below`` go to the review queue: one transaction for a whole batch."""
        below = self.config.review_below
        items = [
            (result.id, doc.text, tag.tag_id, tag.score)
            for doc, result in tagged
            for tag in result.tags
            if tag.score < below
        ]
        if items:
            try:
                self.project.store.add_reviews(items, limit=self.config.review_limit)
            except StoreUnavailable as exc:  # the queue is a suggestion list: tagging answers without it
                log.warning("review items not queued: %s", exc)


def get_service(request: Request) -> TaggingService:
    """The routers' dependency: the service of the app that received the request."""
    return request.app.state.service


Service = Annotated[TaggingService, Depends(get_service)]
