"""llm4tag's own API under /v1: tag one content or a batch, feedback, the review queue, the tag library."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from llm4tag.corpus.documents import text_hash
from llm4tag.corpus.knowledge import KnowledgeItem
from llm4tag.discovery import Discovery
from llm4tag.errors import InputError
from llm4tag.library.tags import Tag, check_tag
from llm4tag.service.auth import require_key
from llm4tag.service.schemas import FeedbackIn, ProposalEdits, ServiceError, TagBatchRequest, TagIn, TagRequest
from llm4tag.service.tagging import Service

router = APIRouter(prefix="/v1")
writer = [Depends(require_key)]


@router.post("/tag", tags=["tagging"], summary="tag one content")
async def tag_one(body: TagRequest, request: Request, service: Service) -> dict:
    review = service.keys.authorized(request)  # an anonymous request writes nothing
    [result] = await service.tag([body], llm=body.llm, review=review)
    [out] = await _present(service, [body.text], [result], body.candidates, body.language, body.explain)
    return out


@router.post("/tag-batch", tags=["tagging"], summary="tag a batch of contents")
async def tag_batch(body: TagBatchRequest, request: Request, service: Service) -> dict:
    results = await service.tag(body.documents, llm=body.llm, review=service.keys.authorized(request))
    texts = [d.text for d in body.documents]
    return {"results": await _present(service, texts, results, body.candidates, body.language, body.explain)}


async def _present(service, texts: list[str], results: list, candidates: bool, language, explain: bool) -> list[dict]:
    """Results as the API shows them: each tag's label in ``language`` and its path in the hierarchy; with
    ``explain``, each final tag's evidence (on the store lane, where recall runs: it reads the fitted paths)."""
    project = service.project
    library = project.library
    out = [r.to_dict(with_candidates=candidates, library=library, language=language) for r in results]
    if explain:
        for text, result, shown in zip(texts, results, out):
            evidence = await service.call(lambda t=text, r=result: project.explain(t, r, language=language))
            for tag in shown["tags"]:
                tag["evidence"] = evidence.get(tag["tag_id"], {})
    return out


@router.post("/feedback", tags=["feedback"], dependencies=writer, summary="accept, reject or add tags")
async def feedback(body: FeedbackIn, service: Service) -> dict:
    service.check_texts([body.text])  # the same limits as tagging: it becomes an annotated content
    project = service.project
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
        project.learn([item])  # committed to the store before the response goes out
        project.store.resolve_reviews(content_id, body.accept + body.reject + body.add)

    await service.call(store)
    service.metrics.feedback.labels(item.kind).inc()
    return {"stored": True, "content_id": content_id, "kind": item.kind}


@router.get(
    "/review",
    tags=["feedback"],
    dependencies=writer,
    summary="recent low-confidence tags to confirm or correct (earlier clients' texts: needs a key)",
)
async def review(service: Service, limit: Annotated[int, Field(ge=1, le=500)] = 50) -> dict:
    items = await service.call(service.project.store.pending_reviews, limit)
    library = service.project.library
    for item in items:
        item["label"] = library[item["tag_id"]].label if item["tag_id"] in library else item["tag_id"]
        item["path"] = [{"id": a.id, "label": a.label} for a in library.ancestors(item["tag_id"])]
    return {"items": items}


@router.get("/languages", tags=["tag library"], summary="the languages the tag labels can be shown in")
async def languages(service: Service) -> dict:
    project = service.project
    default = project.config.language
    return {"default": default, "languages": [default, *(x for x in project.library.languages() if x != default)]}


@router.get("/tags", tags=["tag library"], summary="list or search tags")
async def list_tags(
    service: Service,
    q: str = "",
    offset: Annotated[int, Field(ge=0)] = 0,
    limit: Annotated[int, Field(ge=1, le=1000)] = 100,
) -> dict:
    library = list(service.project.library)
    if q:
        needle = q.lower()
        library = [t for t in library if needle in t.id.lower() or needle in t.label.lower()]
    return {"total": len(library), "tags": [t.to_dict() for t in library[offset : offset + limit]]}


@router.get("/tags/{tag_id:path}", tags=["tag library"], summary="one tag")
async def get_tag(tag_id: str, service: Service) -> dict:
    library = service.project.library
    if tag_id not in library:
        raise ServiceError(404, f"no tag {tag_id!r}")
    return library[tag_id].to_dict()


@router.post("/tags", tags=["tag library"], dependencies=writer, status_code=201, summary="add or update a tag")
async def add_tag(body: TagIn, service: Service) -> dict:
    library = service.project.library
    parent = body.parent.strip() if body.parent else None
    if parent and parent not in library:
        raise ServiceError(422, f"unknown parent {parent!r}")
    aliases = tuple(alias.strip() for alias in body.aliases if alias.strip())
    tag = Tag(body.id.strip(), body.label.strip(), aliases, body.description.strip(), parent)
    try:
        check_tag(tag)  # the loaders' rules: a tag the library could not read back is never written
    except InputError as exc:
        raise ServiceError(422, exc.reason) from None
    added, updated = await service.call(service.project.add_tags, [tag])
    return {"added": added, "updated": updated, "tag": tag.to_dict()}


@router.post("/tags/{tag_id:path}/deprecate", tags=["tag library"], dependencies=writer, summary="deprecate")
async def deprecate_tag(tag_id: str, service: Service) -> dict:
    project = service.project
    if tag_id not in project.library and tag_id not in dict(project.store.invalid_tags()):
        raise ServiceError(404, f"no tag {tag_id!r}")
    await service.call(project.deprecate_tags, [tag_id])  # a stored row the library leaves out too
    return {"deprecated": tag_id}


# -- missing tags (``llm4tag discover``) -------------------------------------------------------------
@router.get("/proposals", tags=["missing tags"], dependencies=writer,
            summary="the last discovery run's proposals and their evidence (contents' texts: a key)")  # fmt: skip
async def list_proposals(service: Service) -> dict:
    records = await service.call(Discovery(service.project, None).proposals)
    library = service.project.library
    out = []
    for r in records:
        shown = {k: v for k, v in r.items() if k not in ("members",)}
        shown["evidence"] = [{"id": e["id"], "snippet": e["snippet"]} for e in r["evidence"]]
        shown["tagged_today"] = [
            {"id": t, "label": library[t].label if t in library else t, "count": n}
            for t, n in r["tagged_today"].items()
        ]
        parent = (r.get("proposal") or {}).get("parent")
        shown["parent_label"] = library[parent].label if parent in library else None
        out.append(shown)
    return {"proposals": out}


@router.post("/proposals/{key}/accept", tags=["missing tags"], dependencies=writer,
             summary="accept a proposal, edited or not: the tag joins the library, its evidence learns it")  # fmt: skip
async def accept_proposal(key: str, body: ProposalEdits, service: Service) -> dict:
    discovery = Discovery(service.project, None)
    try:
        return await service.call(discovery.decide, key, "accept", body.model_dump(exclude_none=True))
    except InputError as exc:
        raise ServiceError(404 if exc.field == "key" else 422, exc.reason) from None


@router.post("/proposals/{key}/reject", tags=["missing tags"], dependencies=writer,
             summary="reject a proposal: it is not proposed again")  # fmt: skip
async def reject_proposal(key: str, service: Service) -> dict:
    discovery = Discovery(service.project, None)
    try:
        return await service.call(discovery.decide, key, "reject", None)
    except InputError as exc:
        raise ServiceError(404 if exc.field == "key" else 422, exc.reason) from None
