"""OpenRefine's reconciliation service (W3C Reconciliation Service API 0.2) for the served project, at
``/v1/projects/{project_id}/reconcile``: the manifest (a GET without parameters), query batches (``queries``
by POST form or GET query string), data extension (``extend``), entity and type suggest, HTML previews and
property proposals. The matching itself is ``pipeline.reconciliation``.

Like tagging, reconciling is read-only and needs no key. Every endpoint here answers cross-origin requests
(CORS, as the protocol requires; ``middleware.ReconcileCors``), and GETs take a JSONP ``callback``; nothing
else of the service is opened to other origins. Errors are problem+json, as on the other ``/v1/projects``
endpoints.
"""

from __future__ import annotations

import html
import json
import os
import re
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from llm4tag.corpus.documents import text_hash
from llm4tag.library.tags import TagLibrary
from llm4tag.pipeline.reconciliation import TYPE_STRICT, Match, Reconciler, default_types, types_of
from llm4tag.pipeline.reconciliation import Query as Reconciliation
from llm4tag.service.schemas import ContentIn, ServiceError
from llm4tag.service.tagging import Service, TaggingService

router = APIRouter(prefix="/v1/projects/{project_id}/reconcile", tags=["reconciliation (OpenRefine)"])

PREFIX = "/v1/projects/{project_id}/reconcile"
MAX_LIMIT = 100
PREVIEW_WIDTH, PREVIEW_HEIGHT = 400, 160
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$]{0,63}(\.[A-Za-z_$][\w$]{0,63}){0,4}$")
_QUERY_KEYS = {"query", "type", "limit", "properties", "type_strict"}
PROPERTIES = {  # data extension: what a tag can add to a reconciled column
    "description": "Description",
    "parent": "Parent tag",
    "path": "Path in the hierarchy",
    "aliases": "Aliases",
    "id": "Tag id",
}


# -- helpers -------------------------------------------------------------------------------
def _check_project(service: TaggingService, project_id: str) -> None:
    if project_id != service.project.config.name:
        raise ServiceError(404, f"Project '{project_id}' not found")


def _reconciler(service: TaggingService) -> Reconciler:
    """One per version of the tag library (a tag added or deprecated makes the next request build another)."""
    project, config = service.project, service.config
    library = project.library
    cached = service.reconciler
    if cached is None or cached.library is not library:
        pruning = project.pipeline(**service.overrides).pruning
        cached = Reconciler(
            project.recall_index,
            library,
            keyword_max_words=config.reconcile_keyword_max_words,
            match_confidence=max(pruning.threshold, config.reconcile_match_confidence),
        )
        service.reconciler = cached
    return cached


def _answer(request: Request, body: Any, callback: str | None) -> Response:
    """JSON, or JSONP (GET with ``callback``: a JavaScript call, the callback's name checked)."""
    if callback is None:
        return JSONResponse(body)
    if request.method != "GET" or not _CALLBACK.match(callback):
        raise ServiceError(400, "callback: expected a JavaScript function name (JSONP is for GET requests)")
    payload = json.dumps(body).replace("<", "\\u003c")  # no "</script>" can close a page's script element
    return Response(
        f"/**/{callback}({payload});",
        media_type="application/javascript",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _parse_json(raw: str, name: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ServiceError(400, f"{name}: not valid JSON ({exc})") from None


def _queries(raw: str, max_batch: int) -> dict[str, Reconciliation]:
    """A reconciliation query batch (``reconciliation-query-batch.json``), with one clear error per mistake."""
    batch = _parse_json(raw, "queries")
    if not isinstance(batch, dict):
        raise ServiceError(400, 'queries: expected an object of queries by key, e.g. {"q0": {"query": "..."}}')
    if len(batch) > max_batch:
        raise ServiceError(413, f"at most {max_batch} queries per batch, got {len(batch)}")
    out = {}
    for key, query in batch.items():
        where = f"queries.{key}"
        if not isinstance(query, dict):
            raise ServiceError(400, f"{where}: expected an object")
        unknown = sorted(set(query) - _QUERY_KEYS)
        if unknown:
            raise ServiceError(
                400, f"{where}: unknown field(s) {', '.join(unknown)}; expected {', '.join(sorted(_QUERY_KEYS))}"
            )
        text = query.get("query", "")
        if not isinstance(text, str):
            raise ServiceError(400, f"{where}.query: expected a string")
        extra = []
        properties = query.get("properties", [])
        if not isinstance(properties, list) or ("query" not in query and not properties):
            raise ServiceError(400, f"{where}: needs a query string or a non-empty list of properties")
        for i, prop in enumerate(properties):
            if not isinstance(prop, dict) or not isinstance(prop.get("pid"), str) or "v" not in prop:
                raise ServiceError(400, f'{where}.properties[{i}]: expected {{"pid": string, "v": value}}')
            values = prop["v"] if isinstance(prop["v"], list) else [prop["v"]]
            # a property's value is read as more of the cell's text: the library has no other properties
            extra += [v if isinstance(v, str) else v.get("name", "") for v in values if isinstance(v, (str, dict))]
        types = query.get("type", [])
        types = [types] if isinstance(types, str) else types
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise ServiceError(400, f"{where}.type: expected a type id or a list of them")
        strict = query.get("type_strict", "any")
        if strict not in TYPE_STRICT:
            raise ServiceError(400, f"{where}.type_strict: expected one of {', '.join(TYPE_STRICT)}")
        limit = query.get("limit", 10)
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit < 1:
            raise ServiceError(400, f"{where}.limit: expected a number of candidates, at least 1")
        text = " ".join(part for part in [text, *extra] if part.strip())
        out[key] = Reconciliation(text, types, strict, min(int(limit), MAX_LIMIT))
    return out


async def _reconcile(service: TaggingService, raw: str, language: str | None) -> dict:
    batch = _queries(raw, service.config.max_batch)
    reconciler = _reconciler(service)
    service.check_texts([q.text for q in batch.values()], allow_empty=True)
    keywords = {k: q for k, q in batch.items() if reconciler.is_keyword(q)}
    texts = {k: q for k, q in batch.items() if k not in keywords}
    found: dict[str, list[Match]] = {}
    if keywords:
        matched = await service.call(reconciler.keywords, list(keywords.values()))
        found.update(zip(keywords, matched))
    if texts:
        contents = [ContentIn(text=q.text, id=f"text:{text_hash(q.text)[:16]}") for q in texts.values()]
        results = await service.tag(contents)
        found.update(zip(texts, reconciler.texts(list(texts.values()), results)))
    return {key: {"result": [reconciler.candidate(m, language) for m in found[key]]} for key in batch}


def _extend(service: TaggingService, raw: str, language: str | None) -> dict:
    """Data extension: each tag's description, parent, path, aliases or id (``data-extension-response.json``)."""
    query = _parse_json(raw, "extend")
    if (
        not isinstance(query, dict)
        or not isinstance(query.get("ids"), list)
        or not isinstance(query.get("properties"), list)
    ):
        raise ServiceError(400, 'extend: expected {"ids": [tag ids], "properties": [{"id": property}]}')
    if len(query["ids"]) > service.config.max_batch:
        raise ServiceError(413, f"at most {service.config.max_batch} ids per request, got {len(query['ids'])}")
    wanted = []
    for i, prop in enumerate(query["properties"]):
        if not isinstance(prop, dict) or prop.get("id") not in PROPERTIES:
            raise ServiceError(400, f"extend.properties[{i}]: expected an id among {', '.join(PROPERTIES)}")
        wanted.append(prop["id"])
    library = service.project.library
    rows = {}
    for tag_id in query["ids"]:
        if not isinstance(tag_id, str):
            raise ServiceError(400, "extend.ids: expected tag id strings")
        rows[tag_id] = {prop: _values(library, tag_id, prop, language) for prop in wanted}
    return {"meta": [{"id": p, "name": PROPERTIES[p]} for p in wanted], "rows": rows}


def _values(library: TagLibrary, tag_id: str, prop: str, language: str | None) -> list[dict]:
    tag = library.get(tag_id)
    if tag is None:
        return []
    if prop == "description":
        return [{"str": tag.description}] if tag.description else []
    if prop == "aliases":
        return [{"str": alias} for alias in tag.aliases_in(language)]
    if prop == "id":
        return [{"str": tag.id}]
    ancestors = library.ancestors(tag_id)
    if prop == "parent":
        return [{"id": ancestors[-1].id, "name": ancestors[-1].label_in(language)}] if ancestors else []
    return [{"id": a.id, "name": a.label_in(language)} for a in ancestors]  # path


def manifest(service: TaggingService, request: Request, project_id: str, language: str | None) -> dict:
    base = str(request.base_url).rstrip("/") + PREFIX.format(project_id=project_id)
    library = service.project.library
    ids = [tag.id for tag in library]
    common = re.sub(r"[^/#]*$", "", os.path.commonprefix(ids)) if ids else ""
    if re.match(r"^https?://[^/]+/", common):  # the tags' own URI space: a SKOS vocabulary's
        identifier_space = common
    else:
        identifier_space = str(request.base_url).rstrip("/") + "/v1/tags/"
    return {
        "versions": ["0.2"],
        "name": f"llm4tag: {service.project.config.name}",
        "identifierSpace": identifier_space,
        "schemaSpace": "http://www.w3.org/2004/02/skos/core#Concept",
        "documentation": "https://github.com/llm4tag/llm4tag/blob/main/docs/service.md#reconciliation-openrefine",
        "serviceVersion": "1",
        "defaultTypes": default_types(library, language),
        "view": {"url": base + "/preview?id={{id}}"},
        "preview": {"url": base + "/preview?id={{id}}", "width": PREVIEW_WIDTH, "height": PREVIEW_HEIGHT},
        "suggest": {
            "entity": {"service_url": base, "service_path": "/suggest/entity"},
            "type": {"service_url": base, "service_path": "/suggest/type"},
        },
        "extend": {"propose_properties": {"service_url": base, "service_path": "/properties"}},
        "batchSize": service.config.max_batch,
    }


# -- routes ----------------------------------------------------------------------------------
Language = Annotated[str | None, Query(max_length=35, pattern=r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")]
Callback = Annotated[str | None, Query(max_length=400)]


@router.get("", summary="the service manifest; or reconcile (queries=) or extend (extend=) by GET")
async def reconcile_get(
    request: Request,
    project_id: str,
    service: Service,
    queries: str | None = None,
    extend: str | None = None,
    callback: Callback = None,
    language: Language = None,
) -> Response:
    _check_project(service, project_id)
    if queries is not None:
        return _answer(request, await _reconcile(service, queries, language), callback)
    if extend is not None:
        return _answer(request, _extend(service, extend, language), callback)
    return _answer(request, manifest(service, request, project_id, language), callback)


@router.post("", summary="reconcile (form field queries=) or extend (form field extend=), as OpenRefine sends them")
async def reconcile_post(request: Request, project_id: str, service: Service, language: Language = None) -> Response:
    _check_project(service, project_id)
    form = await request.form()
    queries, extend = form.get("queries"), form.get("extend")
    if isinstance(queries, str):
        return _answer(request, await _reconcile(service, queries, language), None)
    if isinstance(extend, str):
        return _answer(request, _extend(service, extend, language), None)
    raise ServiceError(400, "expected a form field queries (a reconciliation query batch) or extend")


@router.get("/suggest/entity", summary="tags whose names start with a prefix (OpenRefine's search for match)")
async def suggest_entity(
    request: Request,
    project_id: str,
    service: Service,
    prefix: Annotated[str, Query(max_length=1000)] = "",
    cursor: Annotated[int, Query(ge=0)] = 0,
    callback: Callback = None,
    language: Language = None,
) -> Response:
    _check_project(service, project_id)
    found = _reconciler(service).suggest(prefix, cursor=cursor, language=language)
    return _answer(request, {"result": found}, callback)


@router.get("/suggest/type", summary="types (branches of the library) whose names start with a prefix")
async def suggest_type(
    request: Request,
    project_id: str,
    service: Service,
    prefix: Annotated[str, Query(max_length=1000)] = "",
    cursor: Annotated[int, Query(ge=0)] = 0,
    callback: Callback = None,
    language: Language = None,
) -> Response:
    _check_project(service, project_id)
    needle = prefix.lower().strip()
    types = [
        t
        for t in default_types(service.project.library, language)
        if needle in t["name"].lower() or t["id"].lower().startswith(needle)
    ]
    return _answer(request, {"result": types[cursor : cursor + 10]}, callback)


@router.get("/properties", summary="the properties data extension can add to a column of tags")
async def propose_properties(
    request: Request,
    project_id: str,
    service: Service,
    type: str = "",  # noqa: A002 - the protocol's parameter name
    limit: Annotated[int | None, Query(ge=1)] = None,
    callback: Callback = None,
) -> Response:
    _check_project(service, project_id)
    properties = [{"id": key, "name": name} for key, name in PROPERTIES.items()][:limit]
    body: dict[str, Any] = {"type": type, "properties": properties}
    if limit is not None:
        body["limit"] = limit
    return _answer(request, body, callback)


@router.get("/preview", summary="a small HTML card of a tag: label, description, path in the hierarchy")
async def preview(project_id: str, service: Service, id: str, language: Language = None) -> HTMLResponse:  # noqa: A002
    _check_project(service, project_id)
    library = service.project.library
    tag = library.get(id)
    if tag is None:
        raise ServiceError(404, f"no tag {id!r}")
    path = " › ".join(html.escape(a.label_in(language)) for a in library.ancestors(tag.id))
    description = html.escape(" ".join(tag.description.split())[:600])
    types = ", ".join(html.escape(t["name"]) for t in types_of(library, tag.id, language))
    page = (
        '<!doctype html><html><head><meta charset="utf-8"><style>body{font:13px/1.4 sans-serif;margin:.5rem}'
        ".path{color:#5b6475}.id{color:#8a93a3;font-size:11px}</style></head><body>"
        f'<div class="path">{path or types}</div><strong>{html.escape(tag.label_in(language))}</strong>'
        f'<div class="id">{html.escape(tag.id)}</div><p>{description}</p></body></html>'
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})
