"""Health, readiness, Prometheus metrics and the web UI."""

from __future__ import annotations

import html
import os
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from llm4tag.service.metrics import exposition
from llm4tag.service.tagging import Service

router = APIRouter()

#: the web UI's policy: its script is a file of this service, never inline, and it talks to this service only
_UI_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none';"
    " form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@router.get("/healthz", tags=["operations"], summary="the process is up (and which one: serve --workers)")
async def healthz() -> dict:
    return {"status": "ok", "pid": os.getpid()}


@router.get("/readyz", tags=["operations"], summary="the pipeline is loaded and can tag")
async def readyz(service: Service):
    reason = service.readiness()
    if reason is not None:
        return JSONResponse({"status": "not ready", "reason": reason}, 503)
    refitting = service.project.recall_index.refitting()
    return {"status": "ready", "refitting": refitting} if refitting else {"status": "ready"}


@router.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
async def prometheus_metrics(service: Service):
    recall_index = service.project.recall_index
    service.metrics.refitting.set(len(recall_index.refitting()))
    service.metrics.refits.set(recall_index.refits_done)
    return PlainTextResponse(exposition(service.metrics), media_type="text/plain; version=0.0.4")


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
async def ui(service: Service):
    page = resources.files("llm4tag.service").joinpath("static/index.html").read_text(encoding="utf-8")
    name = html.escape(service.project.config.name)
    return HTMLResponse(page.replace("{{PROJECT}}", name), headers=_UI_SECURITY_HEADERS)


@router.get("/static/app.js", include_in_schema=False)
async def ui_script():
    script = resources.files("llm4tag.service").joinpath("static/app.js").read_text(encoding="utf-8")
    return Response(script, media_type="text/javascript", headers=_UI_SECURITY_HEADERS)
