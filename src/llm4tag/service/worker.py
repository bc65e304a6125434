"""One thread owns the pipeline; concurrent requests are gathered into shared batches.

The project (graph, LLM backend, store) is used from a single worker thread, so nothing in it needs
to be thread-safe, and tagging requests that arrive within ``window`` of each other run as one batch
(one embedding call, back-to-back LLM calls). Writes go through the same thread, in arrival order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from llm4tag.corpus.documents import Document
from llm4tag.generation.pipeline import TaggingResult

T = TypeVar("T")


class PipelineWorker:
    def __init__(self, project, *, max_batch: int = 32, window_seconds: float = 0.005, on_batch=None) -> None:
        self.project = project
        self.on_batch = on_batch
        self.max_batch = max_batch
        self.window_seconds = window_seconds
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm4tag-pipeline")
        self.batches = 0  # pipeline batches run (fewer than requests when requests were gathered)
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._gather())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.executor.shutdown(wait=True)

    async def call(self, func: Callable[..., T], *args: Any) -> T:
        """Run ``func`` on the pipeline thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)

    async def tag(self, docs: list[Document]) -> list[TaggingResult]:
        """Every considered tag with its final confidence (unpruned; callers prune to their own needs)."""
        assert self._queue is not None, "worker not started"
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((docs, future))
        return await future

    async def _gather(self) -> None:
        assert self._queue is not None
        while True:
            pending = [await self._queue.get()]
            size = len(pending[0][0])
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.window_seconds
            while size < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
                pending.append(item)
                size += len(item[0])
            docs = [doc for item_docs, _ in pending for doc in item_docs]
            try:
                results = await self.call(self._run, docs)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                for _, future in pending:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for item_docs, future in pending:
                if not future.done():
                    future.set_result(results[start : start + len(item_docs)])
                start += len(item_docs)

    def _run(self, docs: list[Document]) -> list[TaggingResult]:
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch()
        return self.project.tagger().tag(docs, batch_size=max(len(docs), 1), prune_tags=False)
