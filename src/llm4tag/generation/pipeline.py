"""The whole pipeline for each content, as ``llm4tag tag`` runs it: recall, generation, confidence, pruning."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from llm4tag.calibration.confidence import ScoredCandidates
from llm4tag.calibration.pruning import prune
from llm4tag.corpus.documents import Document, text_hash
from llm4tag.generation.generator import Example, Selection, TagGenerator
from llm4tag.generation.knowledge import KnowledgeBase
from llm4tag.recall.recaller import RecallResult


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
    id: str
    tags: list[TagAssignment]
    recall: RecallResult
    selection: Selection | None = None
    scored: ScoredCandidates | None = None

    @property
    def llm_calls(self) -> int:
        """Calls this content cost: the selection, and each judged pair (cached judgements included)."""
        calls = 1 if self.selection is not None else 0
        return calls + (int(self.scored.judged.sum()) if self.scored is not None else 0)

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
        if self.scored is not None:
            llm["judged"] = int(self.scored.judged.sum())
        if llm:
            out["llm"] = llm
        if with_candidates:
            out["candidates"] = [c.to_dict() for c in self.recall.candidates]
        return out


class Tagger:
    """Tags contents: recall, optional LLM selection, judgement and calibrated confidence, pruning."""

    def __init__(
        self,
        project,
        generator: TagGenerator,
        *,
        use_examples: bool = True,
        use_notes: bool = True,
        llm: bool = True,
    ) -> None:
        self.project = project
        self.generator = generator
        self.use_examples = use_examples
        self.use_notes = use_notes
        self.llm = llm  # False: recall and calibrated confidence only (the service's answer while the LLM is down)

    def _examples(self, doc: Document, recall: RecallResult) -> list[Example]:
        cfg = self.generator.config
        if not self.use_examples or not cfg.examples:
            return []
        wanted = [(cid, sim) for cid, sim in recall.neighbours if sim >= cfg.example_min_similarity]
        stored = {d.id: d for d in self.project.store.get_contents([cid for cid, _ in wanted[: cfg.examples + 1]])}
        own = text_hash(doc.text)
        examples = []
        for cid, _ in wanted:
            neighbour = stored.get(cid)
            if neighbour is None or not neighbour.tags or neighbour.text_hash == own:
                continue  # never show a content its own annotation
            examples.append(Example(neighbour.text, neighbour.tags))
            if len(examples) >= cfg.examples:
                break
        return examples

    def _select(self, batch: list[Document], recalls: list[RecallResult], knowledge, on_done) -> list[Selection]:
        names = self.generator.display_names
        texts = [d.text for d in batch]
        vectors = self.project.embedder.encode(texts) if knowledge and knowledge.corrections else None
        candidate_ids = [[c.tag_id for c in r.candidates] for r in recalls]
        examples = [self._examples(d, r) for d, r in zip(batch, recalls)]
        notes = []
        for i, ids in enumerate(candidate_ids):
            found: list[str] = []
            if knowledge is not None:
                found = knowledge.notes_for(ids[: self.generator.config.candidates], names)
                if vectors is not None:
                    found += knowledge.corrections_for(vectors[i], names)
            notes.append(found)
        return self.generator.select(texts, candidate_ids, examples, notes, on_done=on_done)

    def tag(
        self,
        docs: Iterable[Document],
        *,
        batch_size: int = 16,
        progress: bool = False,
        judge_all: bool = False,
        prune_tags: bool = True,
    ) -> list[TaggingResult]:
        """Tag contents. ``judge_all`` ignores routing; ``prune_tags=False`` keeps every considered tag."""
        docs = list(docs)
        project = self.project
        library = project.library
        generate = self.generator.config.enabled and self.llm
        knowledge = KnowledgeBase.load(project.store, project.embedder.encode) if self.use_notes and generate else None
        threshold, max_tags = project.pruning(llm=self.llm)
        out: list[TaggingResult] = []
        bar = tqdm(total=len(docs), desc="tagging", unit="doc", disable=not progress)
        for start in range(0, len(docs), batch_size):
            batch = docs[start : start + batch_size]
            recalls = project.recall([d.text for d in batch])
            selections = self._select(batch, recalls, knowledge, None) if generate else [None] * len(batch)
            scored = project.score([d.text for d in batch], recalls, selections, judge_all=judge_all, llm=self.llm)
            for doc, recall, selection, result in zip(batch, recalls, selections, scored):
                paths = {c.tag_id: c.paths for c in recall.candidates}
                keep = range(len(result.tag_ids))
                if prune_tags:
                    keep = prune(list(range(len(result.tag_ids))), result.confidence, threshold, max_tags)
                else:
                    keep = sorted(keep, key=lambda i: -result.confidence[i])
                assignments = [
                    TagAssignment(
                        tag_id=result.tag_ids[i],
                        label=library[result.tag_ids[i]].label,
                        score=float(result.confidence[i]),
                        source="judge" if result.judged[i] else "recall",
                        selected=bool(result.selected[i]),
                        p_yes=None if np.isnan(result.p_yes[i]) else float(result.p_yes[i]),
                        paths=paths.get(result.tag_ids[i], {}),
                    )
                    for i in keep
                ]
                out.append(TaggingResult(doc.id, assignments, recall, selection, result))
                bar.update(1)
        bar.close()
        return out
