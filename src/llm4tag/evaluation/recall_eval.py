"""Evaluate the recall stage: candidate recall@N per path and fused."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from llm4tag.corpus.documents import Document
from llm4tag.metrics.retrieval import mean_recall_at
from llm4tag.recall.recaller import Recaller
from llm4tag.recall.settings import LEARNED_PATHS, PATHS

DEFAULT_NS = (10, 20, 30, 50)


@dataclass
class RecallEvaluation:
    documents: int
    ns: tuple[int, ...]
    recall: dict[str, dict[int, float]] = field(default_factory=dict)
    candidates_per_document: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "documents": self.documents,
            "recall_at": {name: {str(n): round(v, 4) for n, v in row.items()} for name, row in self.recall.items()},
            "candidates_per_document": {k: round(v, 2) for k, v in self.candidates_per_document.items()},
        }

    def to_markdown(self) -> str:
        header = "| path | " + " | ".join(f"recall@{n}" for n in self.ns) + " | candidates/doc |"
        lines = [header, "|" + "---|" * (len(self.ns) + 2)]
        for name, row in self.recall.items():
            cells = " | ".join(f"{row[n]:.4f}" for n in self.ns)
            lines.append(f"| {name} | {cells} | {self.candidates_per_document[name]:.1f} |")
        return "\n".join(lines)


def evaluate_recall(
    recaller: Recaller,
    docs: list[Document],
    vectors: np.ndarray,
    ns: tuple[int, ...] = DEFAULT_NS,
    batch_size: int = 512,
) -> RecallEvaluation:
    """Candidate recall@N of each meta-path alone and of the fused ranking, on annotated documents. A learned path
    that did not run (off in ``[recall.weights]``, or skipped for too few contents) is left out, not reported as
    zeros."""
    ran = {name for name in PATHS if name not in LEARNED_PATHS or recaller.learned.get(name) is not None}
    variants: dict[str, dict[str, float] | None] = {name: {name: 1.0} for name in PATHS if name in ran}
    variants["fused"] = None
    max_n = max(ns)
    rankings: dict[str, list[list[str]]] = {name: [] for name in variants}
    for start in range(0, len(docs), batch_size):
        batch = docs[start : start + batch_size]
        for ps in recaller.path_scores([d.text for d in batch], vectors[start : start + batch_size]):
            for name, weights in variants.items():
                order = recaller.fuse(ps, weights).top(max_n)
                rankings[name].append([recaller.graph.tag_ids[i] for i in order])
    golds = [set(d.tags) for d in docs]
    result = RecallEvaluation(documents=len(docs), ns=tuple(ns))
    for name, ranks in rankings.items():
        result.recall[name] = {n: mean_recall_at(golds, ranks, n) for n in ns}
        result.candidates_per_document[name] = float(np.mean([min(len(r), recaller.config.top_n) for r in ranks]))
    return result
