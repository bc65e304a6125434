"""The evidence for a suggested tag, on demand: what a curator checks before accepting it.

For each tag: the words of the content that drove the word-based learned paths (their largest contributions:
exact for the linear path, by leaving each word out for the trees), the annotated neighbours that voted for it
(C2C2T: ids, snippets, similarity), the tags C2T2T reached it through, the score of each recall path, and
whether the LLM judged it (its P(Yes)). Nothing here calls the LLM: it reads what tagging computed, and the
fitted paths.
"""

from __future__ import annotations

from typing import Any

from llm4tag.corpus.documents import is_synthetic
from llm4tag.library.tags import TagLibrary
from llm4tag.pipeline.results import TaggingResult
from llm4tag.recall.recall_index import RecallIndex
from llm4tag.store.base import Store

SNIPPET_CHARS = 200


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def explain(
    recall_index: RecallIndex,
    store: Store,
    library: TagLibrary,
    text: str,
    result: TaggingResult,
    tag_ids: list[str] | None = None,
    *,
    words: int = 5,
    language: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The evidence for each of ``tag_ids`` (the result's final tags by default) of ``result``, tagged from
    ``text``, by tag id."""
    tag_ids = [t.tag_id for t in result.tags] if tag_ids is None else tag_ids
    candidates = {c.tag_id: c for c in result.recall.candidates}
    assigned = {t.tag_id: t for t in result.ranked}
    learned = {name: path for name, path in recall_index.recaller.learned.items() if path is not None}
    neighbour_ids = {cid for t in tag_ids if t in candidates for cid, _ in candidates[t].neighbours}
    texts = {doc.id: doc.text for doc in store.get_contents(sorted(neighbour_ids))}
    out: dict[str, dict[str, Any]] = {}
    for tag_id in tag_ids:
        candidate, assignment = candidates.get(tag_id), assigned.get(tag_id)
        evidence: dict[str, Any] = {
            "words": {
                name: [[term, round(weight, 4)] for term, weight in path.explain(text, tag_id, words)]
                for name, path in learned.items()
            },
            "neighbours": [],
            "via": [],
            "paths": {},
            "llm": {"judged": bool(assignment is not None and assignment.p_yes is not None)},
        }
        evidence["words"] = {name: found for name, found in evidence["words"].items() if found}
        if assignment is not None and assignment.p_yes is not None:
            evidence["llm"]["p_yes"] = round(assignment.p_yes, 4)
        if assignment is not None and assignment.selected:
            evidence["llm"]["selected"] = True
        if candidate is not None:
            evidence["paths"] = {name: round(score, 4) for name, score in candidate.paths.items()}
            evidence["neighbours"] = [
                {
                    "id": cid,
                    "similarity": round(similarity, 4),
                    "snippet": snippet(texts.get(cid, "")),
                    "synthetic": is_synthetic(cid),
                }
                for cid, similarity in candidate.neighbours
            ]
            evidence["via"] = [
                {"id": via, "label": library[via].label_in(language) if via in library else via,
                 "strength": round(strength, 4)}
                for via, strength in candidate.via
            ]  # fmt: skip
        out[tag_id] = evidence
    return out
