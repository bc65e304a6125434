"""The service's ASGI middleware: a body-size limit, a Host check (DNS rebinding), and request metrics. Plain
ASGI, not Starlette's ``BaseHTTPMiddleware``, which runs every request through an extra task and stream."""

from __future__ import annotations

import ipaddress
import json
import time

from llm4tag.service.settings import ServiceConfig


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BodyLimit:
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
                return await self.app(scope, replay([message]), send)
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.limit:
                return await self._too_large(send)
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        return await self.app(scope, replay([body], receive), send)

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


class HostCheck:
    """ASGI middleware: 403 for a ``Host`` header outside ``allowed`` (DNS rebinding: a web page whose name now
    points at 127.0.0.1 would otherwise reach an open loopback service from the user's browser)."""

    def __init__(self, app, allowed: frozenset[str]) -> None:
        self.app, self.allowed = app, allowed

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        host = host_name(dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1"))
        if host in self.allowed:
            return await self.app(scope, receive, send)
        body = json.dumps(
            {"detail": f"Host {host!r} is not served here; add it to [service] allowed_hosts to allow it"}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def host_name(header: str) -> str:
    """The name in a ``Host`` header, lower-case, without its port (``[::1]:8080`` is ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def allowed_hosts(config: ServiceConfig, keys: list[str]) -> frozenset[str] | None:
    """The Host names answered, or None for any (see ``ServiceConfig.allowed_hosts``)."""
    if "*" in config.allowed_hosts or (keys and not config.allowed_hosts):
        return None
    names = {"localhost", "127.0.0.1", "::1", config.host.lower()} if not config.allowed_hosts else set()
    return frozenset(names | {host.strip().lower() for host in config.allowed_hosts})


class Observe:
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


def replay(messages: list[dict], then=None):
    """An ASGI ``receive`` that hands out ``messages`` first, then defers to ``then`` (disconnects)."""
    pending = list(messages)

    async def receive():
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


class ReconcileCors:
    """ASGI middleware: cross-origin access (CORS) to the reconciliation endpoints, as their protocol requires
    of every one of them, and to nothing else (Starlette's ``CORSMiddleware`` would open the whole service).
    Any origin, no credentials: the endpoints read the library and tag, they write nothing."""

    def __init__(self, app) -> None:
        from starlette.middleware.cors import CORSMiddleware

        self.app = app
        self.cors = CORSMiddleware(
            app, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["Content-Type"], max_age=3600
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and is_reconcile_path(scope.get("path", "")):
            return await self.cors(scope, receive, send)
        return await self.app(scope, receive, send)


def is_reconcile_path(path: str) -> bool:
    parts = path.split("/")  # "", "v1", "projects", id, "reconcile", ...
    return len(parts) >= 5 and parts[1:3] == ["v1", "projects"] and parts[4] == "reconcile"
