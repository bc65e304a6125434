"""FastAPI application: ``create_app(project)`` serves one project (spec at /docs, UI at /).

Endpoints under /v1: tag one content or a batch, feedback (straight into the short-term knowledge store,
committed before the response), the tag library (list, add, deprecate), the review queue of recent
low-confidence tags, and Annif's API (projects, suggest, suggest-batch, learn) so Annif clients work
unchanged. Health at /healthz and /readyz, Prometheus metrics at /metrics.

Write endpoints, and the review queue (it holds earlier clients' texts), need an API key
(``Authorization: Bearer KEY`` or ``X-API-Key: KEY``) unless the service is bound to a loopback address and
no keys are configured; then every endpoint is open to local clients. Tagging never needs a key, and an
anonymous tagging request writes nothing (its low-confidence tags join the review queue only when the caller
could write).

Tagging that calls the LLM runs on its own lane with a deadline (``[service] llm_deadline_seconds``): past it,
or while the LLM lane is still stuck on an earlier batch, the answer is 503 with ``Retry-After``, /readyz
says not ready, and feedback, the tag library and recall-only tagging (``"llm": false``) keep being served.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import html
import ipaddress
import json
import logging
import os
import sqlite3
import time
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import generate_latest
from pydantic import Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm4tag.corpus.documents import Document, text_hash
from llm4tag.corpus.knowledge import KnowledgeItem
from llm4tag.errors import BackendError, ConfigError, InputError, Llm4tagError
from llm4tag.library.tags import Tag, check_tag
from llm4tag.pipeline import TaggingResult
from llm4tag.service.annif import annif_router
from llm4tag.service.metrics import ServiceMetrics
from llm4tag.service.schemas import ContentIn, FeedbackIn, ServiceError, TagBatchRequest, TagIn, TagRequest
from llm4tag.service.settings import ServiceConfig
from llm4tag.service.worker import PipelineWorker
from llm4tag.service.workers import multiprocess_metrics
from llm4tag.store.sqlite import store_error_message

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _api_keys(config: ServiceConfig) -> list[str]:
    """The configured keys; an empty or blank key is a configuration error, never a key that matches nothing."""
    for i, key in enumerate(config.api_keys):
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"[service] api_keys: key {i + 1} is empty; remove it or give a real key")
    from_env = [k.strip() for k in os.environ.get("LLM4TAG_API_KEYS", "").split(",") if k.strip()]
    return [k.strip() for k in config.api_keys] + from_env


class _BodyLimit:
    """ASGI middleware: 413 for bodies over ``limit`` bytes, whether announced or streamed (chunked).

    The body is read here, up to the limit, before the application sees it: an oversized chunked body is
    refused as 413 rather than surfacing as a parse error (400) inside the application.
    """

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._too_large(send)
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return await self.app(scope, _replay([message]), send)
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                return await self._too_large(send)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await self.app(scope, _replay([body], receive), send)

    async def _too_large(self, send):
        body = b'{"detail": "request body too large (limit %d bytes)"}' % self.limit
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _HostCheck:
    """ASGI middleware: 403 for a ``Host`` header outside ``allowed`` (DNS rebinding: a web page whose name now
    points at 127.0.0.1 would otherwise reach an open loopback service from the user's browser)."""

    def __init__(self, app, allowed: frozenset[str]) -> None:
        self.app, self.allowed = app, allowed

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = _host_name(dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1"))
        if host in self.allowed:
            return await self.app(scope, receive, send)
        body = json.dumps(
            {"detail": f"Host {host!r} is not served here; add it to [service] allowed_hosts to allow it"}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _host_name(header: str) -> str:
    """The name in a ``Host`` header, lower-case, without its port (``[::1]:8080`` is ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _allowed_hosts(config: ServiceConfig, keys: list[str]) -> frozenset[str] | None:
    """The Host names answered, or None for any (see ``ServiceConfig.allowed_hosts``)."""
    if "*" in config.allowed_hosts or (keys and not config.allowed_hosts):
        return None
    names = {"localhost", "127.0.0.1", "::1", config.host.lower()} if not config.allowed_hosts else set()
    return frozenset(names | {host.strip().lower() for host in config.allowed_hosts})


#: SQLite errors that pass by themselves (space freed, a lock released): 503 + Retry-After, not 500
_TRANSIENT_STORE_ERRORS = ("SQLITE_FULL", "SQLITE_BUSY", "SQLITE_LOCKED")

#: the web UI's policy: its script is a file of this service, never inline, and it talks to this service only
_UI_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none';"
    " form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _Observe:
    """ASGI middleware: count requests by endpoint and status, and time them, for ``/metrics``. Plain ASGI, not
    Starlette's ``BaseHTTPMiddleware``, which runs every request through an extra task and stream."""

    def __init__(self, app, metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500

        async def observed_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            endpoint = getattr(scope.get("route"), "path", "unmatched")  # the router sets it on the shared scope
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)


def _replay(messages: list[dict], then=None):
    """An ASGI ``receive`` that hands out ``messages`` first, then defers to ``then`` (disconnects)."""
    pending = list(messages)

    async def receive():
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


def create_app(
    project, config: ServiceConfig | None = None, *, overrides: dict | None = None, close_project: bool = False
) -> FastAPI:
    """The service for an open ``Project``; the caller keeps ownership of the project (and closes it), unless
    ``close_project``: then the service closes it when it stops (a worker process of ``serve --workers``).
    ``overrides`` serve another shape of the pipeline (``Pipeline.with_overrides``), e.g. ``judge="none"``."""
    config = config or project.config.service
    overrides = dict(overrides or {})
    project.store.make_durable()  # feedback is acknowledged only once it is fsynced
    # a tagged text's vector and the LLM's judgements of it stay in memory, not in the store: traffic cannot fill
    # the disk, and an anonymous request writes nothing (a learned content's vector is stored with it)
    project.keep_queries_in_memory(config.recent_vectors, config.recent_judgements)
    # an edit (a reject, a deprecation, a CLI learn beside the service) makes the learned paths refit: in the
    # background, while requests are answered with the fitted ones (docs/reliability.md)
    project.recall_index.refit_in_background = True
    pipeline = project.pipeline(**overrides)  # checks the overrides now, not on the first request
    keys = _api_keys(config)
    if not keys and not _is_loopback(config.host):
        raise ConfigError(
            f"refusing to serve on {config.host} without API keys: set [service] api_keys or LLM4TAG_API_KEYS,"
            " or bind to 127.0.0.1"
        )
    metrics = ServiceMetrics()

    def queue_reviews(tagged: list[tuple[Document, TaggingResult]]) -> None:
        """Tags served under ``review_below`` go to the review queue: one transaction for a whole batch."""
        items = [
            (result.id, doc.text, tag.tag_id, tag.score)
            for doc, result in tagged
            for tag in result.tags
            if tag.score < config.review_below
        ]
        if items:
            project.store.add_reviews(items, limit=config.review_limit)

    worker = PipelineWorker(
        lambda llm: project.pipeline(**overrides) if llm else project.pipeline(**overrides, llm=False),
        project.llm,
        max_batch=config.max_batch,
        window_seconds=config.batch_window_ms / 1000,
        compute_threads=config.compute_threads,
        on_batch=metrics.batches.inc,
        on_results=queue_reviews,
    )
    state: dict[str, Any] = {"ready": False, "reason": "starting", "llm_error": None}
    uses_llm = pipeline.options.uses_llm
    retry_after = {"Retry-After": str(config.retry_after_seconds)}

    def prepare() -> None:
        project.index()
        project.recall_index.warm()
        if uses_llm:
            project.llm.get()  # start the backend now, not on the first request
        # the loaded project is half a million long-lived objects: a full garbage collection walking them all
        # stalled every request in flight for about 240 ms (debtags, p99 330 ms). Frozen, they are not walked.
        gc.collect()
        gc.freeze()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await worker.start()
        try:
            await worker.call(prepare)
            state.update(ready=True, reason="ready")
        except Llm4tagError as exc:
            state.update(ready=False, reason=str(exc))
            log.error("service not ready: %s", exc)
        yield
        await worker.stop()
        gc.unfreeze()  # what the service froze can be collected again once it is gone (tests start many)
        if close_project:
            project.close()

    app = FastAPI(
        title="llm4tag",
        version="1",
        summary="Automatic tagging with LLMs: graph recall, knowledge-enhanced generation, calibrated confidence.",
        lifespan=lifespan,
    )
    app.add_middleware(_BodyLimit, limit=config.max_request_bytes)
    app.state.worker, app.state.metrics = worker, metrics

    app.add_middleware(_Observe, metrics=metrics)
    allowed_hosts = _allowed_hosts(config, keys)
    if allowed_hosts is not None:
        app.add_middleware(_HostCheck, allowed=allowed_hosts)

    def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
        """Annif's error shape (RFC 7807 problem+json), as its clients parse it."""
        body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
        return JSONResponse(body, status, headers=headers, media_type="application/problem+json")

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        metrics.errors.labels(str(exc.status)).inc()
        if _is_annif_path(request.url.path):
            return problem(exc.status, exc.detail, exc.headers)
        return JSONResponse({"detail": exc.detail}, exc.status, headers=exc.headers)

    @app.exception_handler(sqlite3.Error)
    async def damaged_store(request: Request, exc: sqlite3.Error):
        metrics.errors.labels("store").inc()
        log.error("store error: %s", exc)
        detail = store_error_message(project.store.path, exc)
        transient = (getattr(exc, "sqlite_errorname", "") or "").startswith(_TRANSIENT_STORE_ERRORS)
        status, headers = (503, retry_after) if transient else (500, None)  # a full disk or a lock passes
        if _is_annif_path(request.url.path):
            return problem(status, detail, headers)
        return JSONResponse({"detail": detail}, status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        """The framework's own errors (a body that is not UTF-8 JSON, an unknown route, a wrong method) in the
        same shapes as ours: problem+json on Annif's endpoints."""
        metrics.errors.labels(str(exc.status_code)).inc()
        if _is_annif_path(request.url.path):
            return problem(exc.status_code, str(exc.detail), exc.headers)
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        metrics.errors.labels("400" if _is_annif_path(request.url.path) else "422").inc()
        if _is_annif_path(request.url.path):  # Annif answers a malformed request with 400 problem+json
            return problem(400, "; ".join(_describe(e) for e in exc.errors()))
        return await request_validation_exception_handler(request, exc)

    def authorized(request: Request) -> bool:
        if not keys:
            return True
        given = request.headers.get("x-api-key") or ""
        auth = request.headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return bool(given) and any(hmac.compare_digest(given.encode(), key.encode()) for key in keys)

    def require_key(request: Request) -> None:
        if not authorized(request):
            raise ServiceError(401, "this endpoint needs an API key (Authorization: Bearer KEY or X-API-Key)")

    writer = [Depends(require_key)]

    def check_texts(texts: list[str], *, allow_empty: bool = False) -> None:
        if len(texts) > config.max_batch:
            raise ServiceError(413, f"at most {config.max_batch} documents per batch, got {len(texts)}")
        for i, text in enumerate(texts):
            if len(text) > config.max_text_chars:
                raise ServiceError(413, f"document {i}: text longer than {config.max_text_chars} characters")
            if not text.strip() and not allow_empty:
                raise ServiceError(400, f"document {i}: text is empty")

    def llm_failed(reason: str) -> ServiceError:
        metrics.errors.labels("llm_backend").inc()
        state["llm_error"] = reason
        return ServiceError(503, f"LLM backend unavailable: {reason}", retry_after)

    async def within_deadline(task: asyncio.Future, deadline: float):
        """The task's result, unless the LLM lane makes no progress for ``deadline`` seconds (a request queued
        behind a long but progressing batch waits; one behind a hung backend gets its answer in time)."""
        waited = 0.0
        while True:
            step = min(0.25, deadline)
            done, _ = await asyncio.wait({task}, timeout=step)
            if done:
                return task.result()
            waited += step
            if worker.llm_stalled_for() > deadline or (worker.llm_stalled_for() == 0 and waited > deadline):
                task.cancel()
                raise asyncio.TimeoutError

    async def run_pipeline(contents: list[ContentIn], *, llm: bool = True, review: bool = False) -> list[TaggingResult]:
        """``review``: low-confidence tags join the review queue (written with the batch, before the answer)."""
        check_texts([c.text for c in contents])
        if not state["ready"]:
            raise ServiceError(503, f"not ready: {state['reason']}", retry_after)
        docs = [Document(c.id or f"text:{text_hash(c.text)[:16]}", c.text) for c in contents]
        llm = llm and uses_llm
        deadline = config.llm_deadline_seconds
        if llm and worker.llm_stalled_for() > deadline:  # stuck on an earlier batch: answer now, do not queue
            raise llm_failed(f"no answer for {worker.llm_stalled_for():.0f} s; try again later or ask with llm=false")
        try:
            if llm:
                tagging = asyncio.ensure_future(worker.tag(docs, llm=True, review=review))
                results = await within_deadline(tagging, deadline)
            else:
                results = await worker.tag(docs, llm=False, review=review)
        except asyncio.TimeoutError:
            raise llm_failed(f"no answer within the {deadline:g} s deadline") from None
        except BackendError as exc:
            raise llm_failed(str(exc)) from None
        if llm:
            state["llm_error"] = None
        metrics.contents.inc(len(results))
        metrics.llm_calls.inc(sum(r.llm_calls for r in results))
        return results

    def rendered(result: TaggingResult, with_candidates: bool) -> dict:
        return result.to_dict(with_candidates=with_candidates)

    # -- own API ------------------------------------------------------------------------
    @app.post("/v1/tag", tags=["tagging"], summary="tag one content")
    async def tag_one(body: TagRequest, request: Request) -> dict:
        [result] = await run_pipeline([body], llm=body.llm, review=authorized(request))  # anonymous: no writes
        return rendered(result, body.candidates)

    @app.post("/v1/tag-batch", tags=["tagging"], summary="tag a batch of contents")
    async def tag_batch(body: TagBatchRequest, request: Request) -> dict:
        results = await run_pipeline(body.documents, llm=body.llm, review=authorized(request))
        return {"results": [rendered(r, body.candidates) for r in results]}

    @app.post("/v1/feedback", tags=["feedback"], dependencies=writer, summary="accept, reject or add tags")
    async def feedback(body: FeedbackIn) -> dict:
        check_texts([body.text])  # the same limits as tagging: it becomes an annotated content
        library = project.library
        unknown = sorted({t for t in body.accept + body.reject + body.add if t not in library})
        if unknown:
            raise ServiceError(422, f"unknown tag id(s): {', '.join(unknown)}")
        if not (body.accept or body.reject or body.add):
            raise ServiceError(422, "feedback needs at least one of accept, reject, add")
        content_id = body.content_id or f"text:{text_hash(body.text)[:16]}"
        right = list(dict.fromkeys(body.accept + body.add))
        item = KnowledgeItem.feedback(body.text, right, list(body.reject), content_id, replace_text=body.replace_text)

        def store() -> None:
            project.learn([item])  # committed to SQLite before the response goes out
            project.store.resolve_reviews(content_id, body.accept + body.reject + body.add)

        await worker.call(store)
        metrics.feedback.labels(item.kind).inc()
        return {"stored": True, "content_id": content_id, "kind": item.kind}

    @app.get(
        "/v1/review",
        tags=["feedback"],
        dependencies=writer,
        summary="recent low-confidence tags to confirm or correct (earlier clients' texts: needs a key)",
    )
    async def review(limit: Annotated[int, Field(ge=1, le=500)] = 50) -> dict:
        items = await worker.call(project.store.pending_reviews, limit)
        library = project.library
        for item in items:
            item["label"] = library[item["tag_id"]].label if item["tag_id"] in library else item["tag_id"]
        return {"items": items}

    @app.get("/v1/tags", tags=["tag library"], summary="list or search tags")
    async def list_tags(
        q: str = "", offset: Annotated[int, Field(ge=0)] = 0, limit: Annotated[int, Field(ge=1, le=1000)] = 100
    ) -> dict:
        library = list(project.library)
        if q:
            needle = q.lower()
            library = [t for t in library if needle in t.id.lower() or needle in t.label.lower()]
        return {"total": len(library), "tags": [t.to_dict() for t in library[offset : offset + limit]]}

    @app.get("/v1/tags/{tag_id:path}", tags=["tag library"], summary="one tag")
    async def get_tag(tag_id: str) -> dict:
        library = project.library
        if tag_id not in library:
            raise ServiceError(404, f"no tag {tag_id!r}")
        return library[tag_id].to_dict()

    @app.post("/v1/tags", tags=["tag library"], dependencies=writer, status_code=201, summary="add or update a tag")
    async def add_tag(body: TagIn) -> dict:
        library = project.library
        parent = body.parent.strip() if body.parent else None
        if parent and parent not in library:
            raise ServiceError(422, f"unknown parent {parent!r}")
        aliases = tuple(alias.strip() for alias in body.aliases if alias.strip())
        tag = Tag(body.id.strip(), body.label.strip(), aliases, body.description.strip(), parent)
        try:
            check_tag(tag)  # the loaders' rules: a tag the library could not read back is never written
        except InputError as exc:
            raise ServiceError(422, exc.reason) from None
        added, updated = await worker.call(project.add_tags, [tag])
        return {"added": added, "updated": updated, "tag": tag.to_dict()}

    @app.post("/v1/tags/{tag_id:path}/deprecate", tags=["tag library"], dependencies=writer, summary="deprecate")
    async def deprecate_tag(tag_id: str) -> dict:
        known = tag_id in project.library or tag_id in dict(project.store.invalid_tags())
        if not known:
            raise ServiceError(404, f"no tag {tag_id!r}")
        await worker.call(project.deprecate_tags, [tag_id])  # a stored row the library leaves out too
        return {"deprecated": tag_id}

    # -- operations ----------------------------------------------------------------------
    @app.get("/healthz", tags=["operations"], summary="the process is up (and which one: serve --workers)")
    async def healthz() -> dict:
        return {"status": "ok", "pid": os.getpid()}

    @app.get("/readyz", tags=["operations"], summary="the pipeline is loaded and can tag")
    async def readyz():
        if not state["ready"]:
            return JSONResponse({"status": "not ready", "reason": state["reason"]}, 503)
        if uses_llm and worker.llm_stalled_for() > config.llm_deadline_seconds:
            reason = f"LLM backend: no answer for {worker.llm_stalled_for():.0f} s"
            return JSONResponse({"status": "not ready", "reason": reason}, 503)
        if uses_llm and state["llm_error"]:
            return JSONResponse({"status": "not ready", "reason": f"LLM backend failing: {state['llm_error']}"}, 503)
        refitting = project.recall_index.refitting()
        return {"status": "ready", "refitting": refitting} if refitting else {"status": "ready"}

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def prometheus_metrics():
        metrics.refitting.set(len(project.recall_index.refitting()))
        metrics.refits.set(project.recall_index.refits_done)
        exposition = multiprocess_metrics() or generate_latest(metrics.registry)  # summed over the workers
        return PlainTextResponse(exposition, media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False, response_class=HTMLResponse)
    async def ui():
        page = resources.files("llm4tag.service").joinpath("static/index.html").read_text(encoding="utf-8")
        return HTMLResponse(page.replace("{{PROJECT}}", html.escape(project.config.name)), headers=_UI_SECURITY_HEADERS)

    @app.get("/static/app.js", include_in_schema=False)
    async def ui_script():
        script = resources.files("llm4tag.service").joinpath("static/app.js").read_text(encoding="utf-8")
        return Response(script, media_type="text/javascript", headers=_UI_SECURITY_HEADERS)

    app.include_router(annif_router(project, run_pipeline, worker, writer, check_texts))
    return app


def _is_annif_path(path: str) -> bool:
    return path.startswith("/v1/projects") or path in ("/v1/", "/v1/vocabs")


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
    422: "Unprocessable Entity",
    503: "Service Unavailable",
}
