"""Errors as the clients expect them: ``{"detail": ...}`` on llm4tag's own endpoints, RFC 7807 problem+json
(Annif's shape) on Annif's; the store's errors by cause, transient ones as 503 with ``Retry-After``."""

from __future__ import annotations

import logging
import sqlite3

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm4tag.errors import StoreUnavailable
from llm4tag.service.schemas import ServiceError
from llm4tag.store.diagnosis import store_error_message

log = logging.getLogger(__name__)

#: SQLite errors that pass by themselves (space freed, a lock released): 503 + Retry-After, not 500
_TRANSIENT_STORE_ERRORS = ("SQLITE_FULL", "SQLITE_BUSY", "SQLITE_LOCKED")

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
    422: "Unprocessable Entity",
    503: "Service Unavailable",
}


def is_annif_path(path: str) -> bool:
    return path.startswith("/v1/projects") or path in ("/v1/", "/v1/vocabs")


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Annif's error shape (RFC 7807 problem+json), as its clients parse it."""
    body = {"type": "about:blank", "title": _TITLES.get(status, "Error"), "status": status, "detail": detail}
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


def _answer(request: Request, status: int, detail, headers: dict[str, str] | None) -> JSONResponse:
    if is_annif_path(request.url.path):
        return problem(status, str(detail), headers)
    return JSONResponse({"detail": detail}, status, headers=headers)


def _describe(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path"))
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid"))


def install_error_handlers(app: FastAPI, store_path, retry_after: dict[str, str]) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        request.app.state.metrics.errors.labels(str(exc.status)).inc()
        return _answer(request, exc.status, exc.detail, exc.headers)

    @app.exception_handler(sqlite3.Error)
    async def store_error(request: Request, exc: sqlite3.Error):
        request.app.state.metrics.errors.labels("store").inc()
        log.error("store error: %s", exc)
        transient = (getattr(exc, "sqlite_errorname", "") or "").startswith(_TRANSIENT_STORE_ERRORS)
        status, headers = (503, retry_after) if transient else (500, None)  # a full disk or a lock passes
        return _answer(request, status, store_error_message(store_path, exc), headers)

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable):
        """The store's server is down or unreachable: nothing was written; the client tries again later."""
        request.app.state.metrics.errors.labels("store").inc()
        log.error("store unavailable: %s", exc)
        return _answer(request, 503, str(exc), retry_after)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        """The framework's own errors (a body that is not UTF-8 JSON, an unknown route, a wrong method) in the
        same shapes as ours."""
        request.app.state.metrics.errors.labels(str(exc.status_code)).inc()
        return _answer(request, exc.status_code, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        annif = is_annif_path(request.url.path)
        request.app.state.metrics.errors.labels("400" if annif else "422").inc()
        if annif:  # Annif answers a malformed request with 400 problem+json
            return problem(400, "; ".join(_describe(e) for e in exc.errors()))
        return await request_validation_exception_handler(request, exc)
