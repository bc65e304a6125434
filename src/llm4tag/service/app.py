"""FastAPI application: ``create_app(project)`` serves one project (spec at /docs, UI at /).

The app is a composition: middleware (``middleware.py``), errors in the clients' shapes (``errors.py``), API
keys (``auth.py``), the work itself (``tagging.TaggingService``: pipelines on their lanes, the LLM deadline,
the review queue) and the routers that call it (``api.py``, ``annif.py``, ``reconcile.py``, ``operations.py``).

Write endpoints, and the review queue (it holds earlier clients' texts), need an API key unless the service
is bound to a loopback address and no keys are configured. Tagging never needs a key, and an anonymous
tagging request writes nothing. Tagging that calls the LLM runs on its own lane with a deadline
(``[service] llm_deadline_seconds``): past it the answer is 503 with ``Retry-After``, /readyz says not
ready, and feedback, the tag library and recall-only tagging (``"llm": false``) keep being served.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from llm4tag.errors import ConfigError
from llm4tag.service import annif, api, operations, reconcile
from llm4tag.service.auth import Keys, api_keys
from llm4tag.service.errors import install_error_handlers
from llm4tag.service.middleware import BodyLimit, HostCheck, Observe, ReconcileCors, allowed_hosts, is_loopback
from llm4tag.service.settings import ServiceConfig
from llm4tag.service.tagging import TaggingService


def create_app(
    project, config: ServiceConfig | None = None, *, overrides: dict | None = None, close_project: bool = False
) -> FastAPI:
    """The service for an open ``Project``; the caller keeps ownership of the project (and closes it), unless
    ``close_project``: then the service closes it when it stops (a worker process of ``serve --workers``).
    ``overrides`` serve another shape of the pipeline (``Pipeline.with_overrides``), e.g. ``judge="none"``."""
    config = config or project.config.service
    keys = api_keys(config)
    if not keys and not is_loopback(config.host):
        raise ConfigError(
            f"refusing to serve on {config.host} without API keys: set [service] api_keys or LLM4TAG_API_KEYS,"
            " or bind to 127.0.0.1"
        )
    project.store.make_durable()  # feedback is acknowledged only once it is fsynced
    # a tagged text's vector and the LLM's judgements of it stay in memory, not in the store: traffic cannot fill
    # the disk, and an anonymous request writes nothing (a learned content's vector is stored with it)
    project.keep_queries_in_memory(config.recent_vectors, config.recent_judgements)
    # an edit (a reject, a deprecation, a CLI learn beside the service) makes the learned paths refit: in the
    # background, while requests are answered with the fitted ones (docs/reliability.md)
    project.recall_index.refit_in_background = True
    service = TaggingService(project, config, Keys(keys), dict(overrides or {}))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await service.start()
        yield
        await service.stop()
        if close_project:
            project.close()

    app = FastAPI(
        title="llm4tag",
        version="1",
        summary="Automatic tagging with LLMs: graph recall, knowledge-enhanced generation, calibrated confidence.",
        lifespan=lifespan,
    )
    app.state.service, app.state.metrics = service, service.metrics
    app.add_middleware(BodyLimit, limit=config.max_request_bytes)
    app.add_middleware(Observe, metrics=service.metrics)
    hosts = allowed_hosts(config, keys)
    if hosts is not None:
        app.add_middleware(HostCheck, allowed=hosts)
    app.add_middleware(ReconcileCors)  # outermost: a preflight is answered before any other check
    install_error_handlers(app, project.store.path, service.retry_after)
    for router in (api.router, operations.router, annif.router, reconcile.router):
        app.include_router(router)
    return app
