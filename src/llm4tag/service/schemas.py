"""Request bodies and the error type the service's routers share (its own API and Annif's)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from llm4tag.library.tags import MAX_ALIASES, MAX_DESCRIPTION_CHARS, MAX_ID_CHARS, MAX_LABEL_CHARS


class ServiceError(Exception):
    """An error with an HTTP status, rendered as JSON (problem+json on Annif's endpoints)."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


# -- request and response bodies ------------------------------------------------------
class ContentIn(BaseModel):
    text: str = Field(min_length=1, description="the content to tag")
    id: str | None = Field(default=None, description="your id for it (default: a hash of the text)")


_LLM_FIELD = Field(
    default=True,
    description="false: the recall stage and its calibrated confidence only (no LLM; served even while it is down)",
)


_LANGUAGE_FIELD = Field(
    default=None,
    max_length=35,
    pattern=r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$",
    description="labels in this language (BCP 47, e.g. fi); a tag without one keeps the project's label",
)
_EXPLAIN_FIELD = Field(
    default=False,
    description="each final tag with its evidence: the words that drove it, the neighbours that voted, the LLM's"
    " P(Yes) if it judged (no LLM call)",
)


class TagRequest(ContentIn):
    candidates: bool = Field(default=False, description="include the recalled candidates and their provenance")
    llm: bool = _LLM_FIELD
    language: str | None = _LANGUAGE_FIELD
    explain: bool = _EXPLAIN_FIELD


class TagBatchRequest(BaseModel):
    documents: list[ContentIn] = Field(min_length=1)
    candidates: bool = False
    llm: bool = _LLM_FIELD
    language: str | None = _LANGUAGE_FIELD
    explain: bool = _EXPLAIN_FIELD


class FeedbackIn(BaseModel):
    text: str = Field(min_length=1)
    content_id: str | None = None
    accept: list[str] = Field(default_factory=list, description="tags confirmed right")
    reject: list[str] = Field(default_factory=list, description="tags that are wrong")
    add: list[str] = Field(default_factory=list, description="tags that were missing")
    replace_text: bool = Field(
        default=False,
        description="true: the text replaces the stored text of a known content_id (by default the stored one stays)",
    )


class TagIn(BaseModel):
    """A tag to add or update; checked as the loaders check a tag file (``llm4tag.library.tags.check_tag``)."""

    id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    label: str = Field(min_length=1, max_length=MAX_LABEL_CHARS)
    description: str = Field(default="", max_length=MAX_DESCRIPTION_CHARS)
    aliases: list[str] = Field(default_factory=list, max_length=MAX_ALIASES)
    parent: str | None = Field(default=None, max_length=MAX_ID_CHARS)


class ProposalEdits(BaseModel):
    """A curator's edits of a proposed tag before accepting it (every field optional: the proposal's stands)."""

    id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_CHARS)
    label: str | None = Field(default=None, min_length=1, max_length=MAX_LABEL_CHARS)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_CHARS)
    aliases: list[str] | None = Field(default=None, max_length=MAX_ALIASES)
    parent: str | None = Field(default=None, max_length=MAX_ID_CHARS)
