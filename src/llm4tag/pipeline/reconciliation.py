"""Reconciliation (OpenRefine's protocol, W3C Reconciliation Service API 0.2), apart from HTTP: a cell's string to
the library's tags, scored 0-100, with ``match`` where OpenRefine may accept the top candidate unasked.

Two kinds of cells. A short string (a legacy keyword, at most ``keyword_max_words`` words) is matched by name:
an exact label, alias (any language) or id, else its spelling (``index.keywords``) and its meaning (its
embedding against the tags' text vectors, those C2T recalls with), combined as a noisy-or; its score is that,
and it is a match only when it names exactly one tag (or spells one name nearly exactly, well ahead of the next). A long
text (a description column) is tagged by the pipeline: its candidates are the tags it ranks, scored by their
calibrated confidence, and the top one is a match when the pipeline keeps it and its confidence clears
``match_confidence`` (the project's pruning threshold where that is higher): the expected-F1 rule's floor is
0, and auto-matching everything it keeps would not be safe.

Types are branches of the library: the top-level tags with children (their descendants belong to them), or
the tag file's facets where there is no hierarchy (debtags), or one generic type ``tag``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llm4tag.index.keywords import KeywordMatcher
from llm4tag.library.tags import Tag, TagLibrary
from llm4tag.pipeline.results import TaggingResult
from llm4tag.recall.recall_index import RecallIndex

GENERIC_TYPE = {"id": "tag", "name": "Tag"}
TYPE_STRICT = ("any", "should", "all")
NEARLY_EXACT = 0.9  # a name's spelling this similar, well ahead of the next tag's, is a match
CLEAR_MARGIN = 0.1
DESCRIPTION_CHARS = 300


@dataclass
class Query:
    """One reconciliation query of a batch: ``text`` (the cell, and any string property values after it)."""

    text: str
    types: list[str] = field(default_factory=list)
    type_strict: str = "any"
    limit: int = 10


@dataclass
class Match:
    tag_id: str
    score: float  # 0-100
    match: bool
    features: dict[str, float | bool]


def facet_of(tag: Tag) -> tuple[str, str] | None:
    facet = tag.meta.get("facet")
    if isinstance(facet, str) and facet.strip():
        label = tag.meta.get("facet_label")
        return facet, label if isinstance(label, str) and label.strip() else facet
    return None


def default_types(library: TagLibrary, language: str | None = None) -> list[dict[str, str]]:
    """The types OpenRefine offers first: the hierarchy's top-level branches, else the facets, else ``tag``."""
    parents = library.has_children()
    if parents:
        tops = [tag for tag in library.active() if tag.id in parents and not library.ancestors(tag.id)]
        return [{"id": tag.id, "name": tag.label_in(language)} for tag in tops]
    facets = dict(facet for tag in library.active() if (facet := facet_of(tag)) is not None)
    if facets:
        return [{"id": facet, "name": name} for facet, name in facets.items()]
    return [dict(GENERIC_TYPE)]


def types_of(library: TagLibrary, tag_id: str, language: str | None = None) -> list[dict[str, str]]:
    """The branches ``tag_id`` belongs to: its ancestors (root first), or its facet, or the generic type."""
    ancestors = [{"id": a.id, "name": a.label_in(language)} for a in library.ancestors(tag_id)]
    if ancestors:
        return ancestors
    tag = library.get(tag_id)
    facet = facet_of(tag) if tag is not None else None
    return [{"id": facet[0], "name": facet[1]}] if facet else [dict(GENERIC_TYPE)]


def in_types(library: TagLibrary, tag_id: str, wanted: list[str], strict: str = "any") -> bool:
    """Whether the tag is of the ``wanted`` types (a branch's own top tag is in its branch); ``all``: of every
    one of them; ``any`` and ``should``: of one (``should`` does not filter: see ``Reconciler.order``)."""
    if not wanted or strict == "should":
        return True
    have = {t["id"] for t in types_of(library, tag_id)} | {tag_id, GENERIC_TYPE["id"]}
    return all(w in have for w in wanted) if strict == "all" else any(w in have for w in wanted)


class Reconciler:
    """Reconciles queries against one project's library; ``keyword_max_words`` splits short strings (matched
    by name) from texts (tagged)."""

    def __init__(
        self, recall_index: RecallIndex, library: TagLibrary, *, keyword_max_words: int, match_confidence: float
    ) -> None:
        self.recall_index, self.library = recall_index, library
        self.keyword_max_words, self.match_confidence = keyword_max_words, match_confidence
        self.matcher = KeywordMatcher(library)

    def is_keyword(self, query: Query) -> bool:
        return len(query.text.split()) <= self.keyword_max_words

    # -- short strings ---------------------------------------------------------------
    def keywords(self, queries: list[Query], *, depth: int = 50) -> list[list[Match]]:
        """Candidates for short strings, best first, at most each query's ``limit``."""
        if not queries:
            return []
        spelled = self.matcher.spelling([q.text for q in queries], k=depth)
        meant = self._meaning([q.text for q in queries], depth)
        out = []
        for query, spelling, meaning in zip(queries, spelled, meant):
            exact = [t for t in self.matcher.exact_matches(query.text) if self._allowed(t, query)]
            scored: dict[str, Match] = {}
            for tag_id in {*spelling, *meaning, *exact}:
                if not self._allowed(tag_id, query):
                    continue
                features = {
                    "exact_name": tag_id in exact,
                    "spelling": round(spelling.get(tag_id, 0.0), 4),
                    "meaning": round(meaning.get(tag_id, 0.0), 4),
                }
                # either kind of evidence may carry a keyword, both together more (a noisy-or): on the debtags
                # keywords it ranked better than the larger of the two or their mean (docs/benchmarks.md)
                either = 1.0 - (1.0 - float(features["spelling"])) * (1.0 - float(features["meaning"]))
                similarity = 1.0 if tag_id in exact else either
                scored[tag_id] = Match(tag_id, round(100.0 * similarity, 2), False, features)
            ranked = self.order(sorted(scored.values(), key=lambda m: (-m.score, m.tag_id)), query)[: query.limit]
            if len(exact) == 1:
                ranked[0].match = ranked[0].tag_id == exact[0]
            elif not exact and ranked:
                first, second = ranked[0], ranked[1] if len(ranked) > 1 else None
                spelling_first = float(first.features["spelling"])
                runner_up = second.score / 100.0 if second is not None else 0.0
                first.match = spelling_first >= NEARLY_EXACT and spelling_first - runner_up >= CLEAR_MARGIN
            out.append(ranked)
        return out

    def _meaning(self, texts: list[str], depth: int) -> list[dict[str, float]]:
        """Cosine similarity of each text's embedding to the active tags' text vectors (C2T's index)."""
        graph = self.recall_index.graph
        if not graph.n_tags:
            return [{} for _ in texts]
        vectors = self.recall_index.embedder.encode(texts)
        scores, positions = graph.tag_dense.search(np.asarray(vectors, dtype=np.float32), min(depth, graph.n_tags))
        out = []
        for row_scores, row_positions in zip(scores, positions):
            found = {}
            for score, position in zip(row_scores.tolist(), row_positions.tolist()):
                if position >= 0 and graph.active_tags[position]:
                    found[graph.tag_ids[position]] = max(float(score), 0.0)
            out.append(found)
        return out

    # -- texts -----------------------------------------------------------------------------
    @staticmethod
    def _text_features(confidence: float, kept: bool) -> dict[str, float | bool]:
        return {"confidence": round(confidence, 4), "kept": kept}

    def texts(self, queries: list[Query], results: list[TaggingResult]) -> list[list[Match]]:
        """Candidates for long texts from the pipeline's results: every tag it ranked, by calibrated confidence."""
        out = []
        for query, result in zip(queries, results):
            kept = {t.tag_id for t in result.tags}
            matches = [
                Match(
                    t.tag_id,
                    round(100.0 * t.score, 2),
                    False,
                    {"confidence": round(t.score, 4), "kept": t.tag_id in kept},
                )
                for t in result.ranked
                if t.tag_id in self.library and self._allowed(t.tag_id, query)
            ]
            ranked = self.order(matches, query)[: query.limit]
            if ranked and ranked[0].tag_id in kept and ranked[0].score / 100.0 >= self.match_confidence:
                ranked[0].match = True
            out.append(ranked)
        return out

    # -- shared ----------------------------------------------------------------------------
    def _allowed(self, tag_id: str, query: Query) -> bool:
        tag = self.library.get(tag_id)
        return tag is not None and not tag.deprecated and in_types(self.library, tag_id, query.types, query.type_strict)

    def order(self, matches: list[Match], query: Query) -> list[Match]:
        """``type_strict = should``: the candidates of the wanted types first, the others after them."""
        if query.type_strict != "should" or not query.types:
            return matches
        wanted = [m for m in matches if in_types(self.library, m.tag_id, query.types)]
        return wanted + [m for m in matches if m not in wanted]

    def candidate(self, match: Match, language: str | None = None) -> dict[str, Any]:
        """A candidate as the protocol writes it (``reconciliation-result-batch.json``)."""
        tag = self.library[match.tag_id]
        out: dict[str, Any] = {
            "id": tag.id,
            "name": tag.label_in(language),
            "score": match.score,
            "match": match.match,
            "type": types_of(self.library, tag.id, language),
            "features": [{"id": key, "value": value} for key, value in match.features.items()],
        }
        if tag.description:
            description = " ".join(tag.description.split())
            out["description"] = description[:DESCRIPTION_CHARS]
        return out

    def suggest(self, prefix: str, *, cursor: int = 0, limit: int = 10, language: str | None = None) -> list[dict]:
        """Entity suggest (OpenRefine's "search for match"): tags with a name or id starting with ``prefix``,
        then those with a word of a name starting with it; each group in library order."""
        needle = " ".join(prefix.lower().split())
        if not needle:
            return []
        first, then = [], []
        for tag in self.library.active():
            names = [n.lower() for n in tag.names()] + [tag.id.lower()]
            if any(n.startswith(needle) for n in names):
                first.append(tag)
            elif any(word.startswith(needle) for n in names for word in n.split()):
                then.append(tag)
        found = (first + then)[cursor : cursor + limit]
        out = []
        for tag in found:
            item: dict[str, Any] = {"id": tag.id, "name": tag.label_in(language)}
            if tag.description:
                item["description"] = " ".join(tag.description.split())[:DESCRIPTION_CHARS]
            item["notable"] = types_of(self.library, tag.id, language)
            out.append(item)
        return out
