"""What the pipeline returns for one content, and its one serialised form (CLI, batch files, Ray, service)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llm4tag.calibration.confidence import ScoredCandidates
from llm4tag.generation.generator import Selection
from llm4tag.library.tags import TagLibrary
from llm4tag.recall.results import RecallResult


@dataclass
class TagAssignment:
    tag_id: str
    label: str
    score: float  # final confidence: calibrated probability that the tag is right (see ``source``)
    source: str  # "judge": recall + LLM judgement combined; "recall": recall evidence alone decided
    selected: bool = False  # picked by the LLM's generation step
    p_yes: float | None = None  # the judge's raw P(Yes), when it was asked
    paths: dict[str, float] = field(default_factory=dict)

    def to_dict(self, library: TagLibrary | None = None, language: str | None = None) -> dict[str, Any]:
        """``library``: the label in ``language`` (the project's where the tag has none) and the tag's ``path``,
        its ancestors root first, each ``{"id", "label"}``."""
        out = {"tag_id": self.tag_id, "label": self.label, "score": round(self.score, 4), "source": self.source}
        if library is not None:
            out.update(tag_view(library, self.tag_id, language))
        if self.selected:
            out["selected"] = True
        if self.p_yes is not None:
            out["p_yes"] = round(self.p_yes, 4)
        out["paths"] = {k: round(v, 4) for k, v in self.paths.items()}
        return out


def tag_view(library: TagLibrary, tag_id: str, language: str | None = None) -> dict[str, Any]:
    """A tag as readers see it: its label in ``language`` and its path from the root of the hierarchy."""
    tag = library.get(tag_id)
    if tag is None:  # deprecated and dropped since this result was made
        return {"path": []}
    path = [{"id": a.id, "label": a.label_in(language)} for a in library.ancestors(tag_id)]
    return {"label": tag.label_in(language), "path": path}


@dataclass
class TaggingResult:
    """``tags``: the final tag set (pruned when the pipeline prunes); ``ranked``: every considered tag, best first
    (callers with their own limit and threshold, such as Annif's ``suggest``, cut it themselves)."""

    id: str
    tags: list[TagAssignment]
    ranked: list[TagAssignment]
    recall: RecallResult
    scored: ScoredCandidates
    selection: Selection | None = None
    labels: dict[str, str] = field(default_factory=dict)  # of every candidate

    @property
    def llm_calls(self) -> int:
        """Calls this content cost: the selection, and each judged pair (cached judgements included)."""
        return (1 if self.selection is not None else 0) + int(self.scored.judged.sum())

    def to_dict(
        self, *, with_candidates: bool = False, library: TagLibrary | None = None, language: str | None = None
    ) -> dict[str, Any]:
        """``library``: each tag with its path in the hierarchy and its label in ``language``."""
        out: dict[str, Any] = {"id": self.id, "tags": [t.to_dict(library, language) for t in self.tags]}
        llm: dict[str, Any] = {}
        if self.selection is not None:
            llm = {
                "invalid": self.selection.invalid,
                "mapped": self.selection.mapped,
                "prompt_tokens": self.selection.prompt_tokens,
                "completion_tokens": self.selection.completion_tokens,
                "seconds": round(self.selection.seconds, 3),
            }
            if self.selection.notes:
                llm["notes"] = self.selection.notes
        if self.scored.judged.any() or self.selection is not None:
            llm["judged"] = int(self.scored.judged.sum())
        if llm:
            out["llm"] = llm
        if with_candidates:
            considered = dict(zip(self.scored.tag_ids, self.scored.confidence))
            out["candidates"] = []
            for candidate in self.recall.candidates:
                record = {**candidate.to_dict(), "label": self.labels.get(candidate.tag_id, candidate.tag_id)}
                if library is not None:
                    record.update(tag_view(library, candidate.tag_id, language))
                if candidate.tag_id in considered:
                    record["confidence"] = round(float(considered[candidate.tag_id]), 4)
                out["candidates"].append(record)
        return out
