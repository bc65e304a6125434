"""What the pipeline returns for one content, and its one serialised form (CLI, batch files, Ray, service)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from llm4tag.calibration.confidence import ScoredCandidates
from llm4tag.generation.generator import Selection
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

    def to_dict(self) -> dict[str, Any]:
        out = {"tag_id": self.tag_id, "label": self.label, "score": round(self.score, 4), "source": self.source}
        if self.selected:
            out["selected"] = True
        if self.p_yes is not None:
            out["p_yes"] = round(self.p_yes, 4)
        out["paths"] = {k: round(v, 4) for k, v in self.paths.items()}
        return out


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

    def to_dict(self, *, with_candidates: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "tags": [t.to_dict() for t in self.tags]}
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
                if candidate.tag_id in considered:
                    record["confidence"] = round(float(considered[candidate.tag_id]), 4)
                out["candidates"].append(record)
        return out
