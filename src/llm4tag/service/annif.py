"""Annif's REST API (v1) over an llm4tag project, so existing Annif clients work unchanged.

Shapes follow Annif's OpenAPI document: ``/v1/projects``, ``/v1/projects/{project_id}``,
``/v1/projects/{project_id}/suggest`` (form-encoded ``text``, ``limit``, ``threshold``, ``language``),
``/v1/projects/{project_id}/suggest-batch`` (JSON ``documents``, query ``limit``/``threshold``) and
``/v1/projects/{project_id}/learn``, plus ``/v1/`` and ``/v1/vocabs``. A tag's id is its subject URI. Errors
are problem+json; a malformed request is 400, as in Annif. An empty text gets no suggestions (200), as in Annif,
and ``language`` must be the project's (the labels are in one language), else 400.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from pydantic import BaseModel, Field

from llm4tag.corpus.knowledge import KnowledgeItem
from llm4tag.service.auth import require_key
from llm4tag.service.schemas import ContentIn, ServiceError
from llm4tag.service.tagging import Service, TaggingService


class AnnifDocument(BaseModel):
    text: str
    document_id: str | None = None
    metadata: dict[str, str] | None = None


class AnnifBatch(BaseModel):
    documents: list[AnnifDocument]


class AnnifSubject(BaseModel):
    uri: str
    label: str | None = None


class AnnifIndexedDocument(BaseModel):
    text: str = ""
    subjects: list[AnnifSubject] = Field(default_factory=list)
    metadata: dict[str, str] | None = None


router = APIRouter(prefix="/v1", tags=["Annif-compatible"])


def _vocabulary(service: TaggingService) -> dict:
    config = service.project.config
    return {
        "vocab_id": config.name,
        "languages": _languages(service),
        "size": len(service.project.library),
        "loaded": True,
    }


def _describe(service: TaggingService) -> dict:
    config, modified = service.project.config, service.project.modified()
    return {
        "project_id": config.name,
        "name": config.name,
        "language": config.language,
        "backend": {"backend_id": "llm4tag"},
        "vocab": _vocabulary(service),
        "vocab_language": config.language,
        "is_trained": modified is not None,
        "modification_time": modified.isoformat() if modified is not None else None,
    }


def _check_project(service: TaggingService, requested: str, requested_language: str | None = None) -> None:
    config = service.project.config
    if requested != config.name:
        raise ServiceError(404, f"Project '{requested}' not found")
    if requested_language and requested_language not in _languages(service):
        raise ServiceError(400, f'language "{requested_language}" not supported by vocabulary')


def _languages(service: TaggingService) -> list[str]:
    """The project's language, and every other one the library has labels in (a SKOS vocabulary's)."""
    config = service.project.config
    return [config.language, *(lang for lang in service.project.library.languages() if lang != config.language)]


def _suggestions(
    service: TaggingService, result, limit: int, threshold: float, language: str | None = None
) -> list[dict]:
    """Annif's suggestion objects, each with llm4tag's ``path`` (the tag's ancestors root first, ``uri`` and
    ``label``): Annif's schema allows more fields than it names."""
    library = service.project.library
    out = []
    for tag in result.ranked:  # unpruned, best first: the client's limit and threshold decide
        if tag.score < threshold or len(out) >= limit or tag.tag_id not in library:
            continue
        path = [{"uri": a.id, "label": a.label_in(language)} for a in library.ancestors(tag.tag_id)]
        label = library[tag.tag_id].label_in(language)
        out.append({"uri": tag.tag_id, "label": label, "notation": None, "score": tag.score, "path": path})
    return out


@router.get("/", summary="Annif: API information")
async def show_info() -> dict:
    try:
        release = version("llm4tag")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        release = "unknown"
    return {"title": "llm4tag (Annif-compatible REST API)", "version": release}


@router.get("/vocabs", summary="Annif: list vocabularies")
async def list_vocabs(service: Service) -> dict:
    return {"vocabs": [_vocabulary(service)]}


@router.get("/projects", summary="Annif: list projects")
async def list_projects(service: Service) -> dict:
    return {"projects": [_describe(service)]}


@router.get("/projects/{project_id}", summary="Annif: show project")
async def show_project(project_id: str, service: Service) -> dict:
    _check_project(service, project_id)
    return _describe(service)


@router.post("/projects/{project_id}/suggest", summary="Annif: suggest subjects for a text")
async def suggest(
    request: Request,
    project_id: str,
    service: Service,
    text: Annotated[str, Form()] = "",
    limit: Annotated[int, Form(ge=0)] = 10,
    threshold: Annotated[float, Form(ge=0.0, le=1.0)] = 0.0,
    language: Annotated[str | None, Form()] = None,
) -> dict:
    _check_project(service, project_id, language)
    if "text" not in await request.form():  # present but empty is fine (no suggestions), absent is not
        raise ServiceError(400, "'text' is a required property")
    service.check_texts([text], allow_empty=True)
    if not text.strip():
        return {"results": []}
    [result] = await service.tag([ContentIn(text=text)])
    return {"results": _suggestions(service, result, limit, threshold, language)}


@router.post("/projects/{project_id}/suggest-batch", summary="Annif: suggest subjects for up to 32 documents")
async def suggest_batch(
    project_id: str,
    body: AnnifBatch,
    service: Service,
    limit: Annotated[int, Query(ge=0)] = 10,
    threshold: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
    language: str | None = None,
) -> list[dict]:
    _check_project(service, project_id, language)
    if len(body.documents) > 32:
        raise ServiceError(413, f"at most 32 documents per batch, got {len(body.documents)}")
    service.check_texts([d.text for d in body.documents], allow_empty=True)
    present = [(i, d) for i, d in enumerate(body.documents) if d.text.strip()]
    results = await service.tag([ContentIn(text=d.text) for _, d in present]) if present else []
    by_index = {i: r for (i, _), r in zip(present, results)}
    return [
        {
            "document_id": d.document_id,
            "results": _suggestions(service, by_index[i], limit, threshold, language) if i in by_index else [],
        }
        for i, d in enumerate(body.documents)
    ]


@router.post(
    "/projects/{project_id}/learn", dependencies=[Depends(require_key)], status_code=204, summary="Annif: learn"
)
async def learn(project_id: str, body: list[AnnifIndexedDocument], service: Service) -> Response:
    _check_project(service, project_id)
    library = service.project.library
    items = []
    for i, doc in enumerate(body):
        unknown = [s.uri for s in doc.subjects if s.uri not in library]
        if unknown:
            raise ServiceError(400, f"document {i}: unknown subject(s) {unknown}")
        if doc.text.strip() and doc.subjects:
            items.append(KnowledgeItem("example", text=doc.text, tags=[s.uri for s in doc.subjects]))
    if items:
        await service.call(service.project.learn, items)
    return Response(status_code=204)
