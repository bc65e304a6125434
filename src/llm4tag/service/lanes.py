"""Two lanes of work behind the service, so a slow or hung LLM never holds up anything else.

* The **LLM lane** runs tagging that calls the LLM (selection, judgement).
* The **store lane** runs everything else in arrival order: feedback and tag-library writes (committed
  to SQLite before the response), the review queue, and recall-only tagging.

On either lane, concurrent tagging requests that arrive within ``window`` of each other are gathered into
one pipeline batch (one embedding call, back-to-back LLM calls).

Both lanes cap the native thread pools of the recall stage (``compute_threads``) so the HTTP event loop
keeps a core. Each lane is one daemon thread: the pipeline's stages need no thread safety of their own (the recall graph
has its own lock), and a call stuck in a hung backend cannot keep the process from exiting on SIGTERM.
``llm_stalled_for()`` tells the service how long the LLM lane has gone without progress, so requests can
be refused at once while it hangs.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from threadpoolctl import threadpool_limits

from llm4tag.corpus.documents import Document
from llm4tag.llm.lazy import LazyLLM
from llm4tag.pipeline import Pipeline, TaggingResult

T = TypeVar("T")


class Lane:
    """One daemon thread that runs submitted calls in order."""

    def __init__(self, name: str, initializer: Callable[[], object] | None = None) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.busy_since: float | None = None
        self._initializer = initializer
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, func: Callable[..., T], *args: Any) -> Future:
        future: Future = Future()
        self._queue.put((future, func, args))
        return future

    def _loop(self) -> None:
        if self._initializer is not None:
            self._initializer()
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, func, args = item
            if not future.set_running_or_notify_cancel():
                continue
            self.busy_since = time.monotonic()
            try:
                future.set_result(func(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)
            finally:
                self.busy_since = None

    def stop(self, wait_seconds: float = 2.0) -> None:
        """Finish what is queued if it takes under ``wait_seconds``; a hung call is left behind (daemon)."""
        self._queue.put(None)
        self._thread.join(wait_seconds)


class PipelineLanes:
    """Runs pipeline batches and other calls on the two lanes.

    ``pipelines(llm)`` gives the pipeline for LLM tagging (``True``) or recall-only tagging (``False``); the
    project builds each once and again only when its calibration changes, so a batch costs no rebuilding.
    """

    def __init__(
        self,
        pipelines: Callable[[bool], Pipeline],
        llm: LazyLLM,
        *,
        max_batch: int = 32,
        window_seconds: float = 0.005,
        compute_threads: int = 1,
        on_batch=None,
        on_results: Callable[[list[tuple[Document, TaggingResult]]], None] | None = None,
    ) -> None:
        self.pipelines, self.llm = pipelines, llm
        self.on_batch, self.on_results = on_batch, on_results
        self.max_batch = max_batch
        self.window_seconds = window_seconds
        self.compute_threads = compute_threads  # 0: the libraries' own defaults
        self.batches = 0  # pipeline batches run (fewer than requests when requests were gathered)
        self._store_lane: Lane | None = None
        self._llm_lane: Lane | None = None
        self._queues: dict[bool, asyncio.Queue] = {}
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        # capped here too, in the thread that starts the lanes: once OpenBLAS's count was set from the main
        # thread (``index.dense.one_blas_thread`` does, around a small search there), a count set from another
        # thread no longer takes (OpenBLAS 0.3.30), and the lanes' own cap below would silently do nothing
        self._limit_threads()
        self._store_lane = Lane("llm4tag-store", self._limit_threads)
        self._llm_lane = Lane("llm4tag-llm", self._limit_threads)
        for llm, lane in ((True, self._llm_lane), (False, self._store_lane)):
            self._queues[llm] = asyncio.Queue()
            self._tasks.append(asyncio.create_task(self._gather(self._queues[llm], lane, llm)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for lane in (self._store_lane, self._llm_lane):
            if lane is not None:
                await asyncio.get_running_loop().run_in_executor(None, lane.stop)

    async def call(self, func: Callable[..., T], *args: Any) -> T:
        """Run ``func`` on the store lane (writes, reads, recall-only work), in arrival order."""
        assert self._store_lane is not None, "worker not started"
        return await asyncio.wrap_future(self._store_lane.submit(func, *args))

    def llm_stalled_for(self) -> float:
        """Seconds the LLM lane has gone without progress on its current batch (0 when idle): since the batch
        started or an LLM call last ended, whichever is later. A long batch whose calls keep ending is not
        stalled; a hung backend is."""
        since = self._llm_lane.busy_since if self._llm_lane is not None else None
        if since is None:
            return 0.0
        progress = self.llm.last_progress
        return time.monotonic() - max(since, progress if progress is not None else since)

    async def tag(self, docs: list[Document], *, llm: bool = True, review: bool = False) -> list[TaggingResult]:
        """Results of the pipeline (``tags`` pruned, ``ranked`` every considered tag for callers with their own
        limit). ``llm=False`` runs the recall stage and calibrated confidence alone, on the store lane.
        ``review``: ``on_results`` gets these results on the lane, with the rest of their batch, before they are
        returned (the service queues low-confidence tags for review there: one transaction per batch).
        """
        assert self._queues, "worker not started"
        future = asyncio.get_running_loop().create_future()
        await self._queues[llm].put((docs, future, review))
        return await future

    async def _gather(self, inbox: asyncio.Queue, lane: Lane, llm: bool) -> None:
        # a batch is gathered once the one before it is done: the requests that arrived meanwhile join it and it
        # starts at once. Only a request that finds the lane idle waits ``window`` for companions; waiting it
        # after every busy batch too cost about 6% of requests/s (docs/experiments/service.md). Gathering the next batch
        # while one runs (double-buffering) made smaller batches and measured slower.
        while True:
            idle = inbox.empty()
            pending = [await inbox.get()]
            size = len(pending[0][0])
            loop = asyncio.get_running_loop()
            deadline = loop.time() + (self.window_seconds if idle else 0.0)
            while size < self.max_batch:
                if not inbox.empty():  # already queued: joins without waiting
                    item = inbox.get_nowait()
                else:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(inbox.get(), remaining)
                    except asyncio.TimeoutError:
                        break
                pending.append(item)
                size += len(item[0])
            pending = [item for item in pending if not item[1].done()]  # callers that gave up are not run
            if not pending:
                continue
            docs = [doc for item_docs, _, _ in pending for doc in item_docs]
            review = [wanted for item_docs, _, wanted in pending for _ in item_docs]
            try:
                results = await asyncio.wrap_future(lane.submit(self._run, docs, llm, review))
            except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                for _, future, _ in pending:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for item_docs, future, _ in pending:
                if not future.done():
                    future.set_result(results[start : start + len(item_docs)])
                start += len(item_docs)

    def _limit_threads(self) -> None:
        """Cap the native thread pools (OpenMP, BLAS) the recall stage's libraries use. Their idle workers
        spin on every core after each small parallel region (the ranker's trees, faiss's search), and
        the event loop serving HTTP then waits for a core: on two cores one thread each took a debtags
        service from about 100 to about 150 requests/s. torch keeps its own threads for encoding."""
        if self.compute_threads:
            threadpool_limits(limits=self.compute_threads)

    def _run(self, docs: list[Document], llm: bool, review: list[bool]) -> list[TaggingResult]:
        self.batches += 1
        if self.on_batch is not None:
            self.on_batch()
        results = self.pipelines(llm).run(docs, batch_size=max(len(docs), 1))
        if self.on_results is not None and any(review):
            wanted = [(doc, result) for doc, result, keep in zip(docs, results, review) if keep]
            if llm:  # store writes stay on the store lane, in order with the rest; done before the answer
                self._store_lane.submit(self.on_results, wanted).result()
            else:
                self.on_results(wanted)
        return results
