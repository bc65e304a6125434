"""Recall, then knowledge-enhanced generation: what ``llm4tag tag`` runs for each content."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from llm4tag.corpus.documents import Document, text_hash
from llm4tag.generation.generator import Example, Selection, TagGenerator
from llm4tag.generation.knowledge import KnowledgeBase
from llm4tag.recall.recaller import RecallResult


@dataclass
class TagAssignment:
    tag_id: str
    label: str
    score: float  # calibrated recall-stage confidence once `llm4tag calibrate` ran, else the fused recall score
    source: str  # "llm" (selected by the model) or "recall" (recall-only mode)
    paths: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag_id": self.tag_id,
            "label": self.label,
            "score": round(self.score, 4),
            "source": self.source,
            "paths": {k: round(v, 4) for k, v in self.paths.items()},
        }


@dataclass
class TaggingResult:
    id: str
    tags: list[TagAssignment]
    recall: RecallResult
    selection: Selection | None = None

    def to_dict(self, *, with_candidates: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "tags": [t.to_dict() for t in self.tags]}
        if self.selection is not None:
            out["llm"] = {
                "invalid": self.selection.invalid,
                "mapped": self.selection.mapped,
                "prompt_tokens": self.selection.prompt_tokens,
                "completion_tokens": self.selection.completion_tokens,
                "seconds": round(self.selection.seconds, 3),
            }
            if self.selection.notes:
                out["llm"]["notes"] = self.selection.notes
        if with_candidates:
            out["candidates"] = [c.to_dict() for c in self.recall.candidates]
        return out


class Tagger:
    """Tags contents with a project's recall stage and an LLM backend."""

    def __init__(self, project, generator: TagGenerator, *, use_examples: bool = True, use_notes: bool = True) -> None:
        self.project = project
        self.generator = generator
        self.use_examples = use_examples
        self.use_notes = use_notes

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

    def tag(self, docs: Iterable[Document], *, batch_size: int = 16, progress: bool = False) -> list[TaggingResult]:
        docs = list(docs)
        project = self.project
        library = project.library
        knowledge = KnowledgeBase.load(project.store, project.embedder.encode) if self.use_notes else None
        names = self.generator.display_names
        out: list[TaggingResult] = []
        bar = tqdm(total=len(docs), desc="tagging", unit="doc", disable=not progress)
        for start in range(0, len(docs), batch_size):
            batch = docs[start : start + batch_size]
            texts = [d.text for d in batch]
            recalls = project.recall(texts)
            vectors = project.embedder.encode(texts) if knowledge and knowledge.corrections else None
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
            selections = self.generator.select(texts, candidate_ids, examples, notes, on_done=bar.update)
            confidences = project.recall_confidences(recalls)
            for doc, recall, selection, confidence in zip(batch, recalls, selections, confidences):
                by_id = {c.tag_id: c for c in recall.candidates}
                conf = {c.tag_id: float(p) for c, p in zip(recall.candidates, confidence)}
                assignments = [
                    TagAssignment(tag_id=t, label=library[t].label, score=conf[t], source="llm", paths=by_id[t].paths)
                    for t in selection.tag_ids
                ]
                out.append(TaggingResult(doc.id, assignments, recall, selection))
        bar.close()
        return out
