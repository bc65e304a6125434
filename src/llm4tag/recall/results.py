"""What the recall stage hands on: each content's candidate tags with their scores and provenance (the paths
that reached them, the neighbours that voted, the seeds C2T2T went through). Calibration, the pipeline and
the service read these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from llm4tag.corpus.documents import is_synthetic

if TYPE_CHECKING:
    from llm4tag.recall.graph import ContentTagGraph
    from llm4tag.recall.paths import PathScores


@dataclass
class Candidate:
    """A recalled tag with its fused score and why it was recalled."""

    tag_id: str
    score: float
    paths: dict[str, float]
    votes: int = 0  # similar annotated contents carrying the tag (C2C2T's support)
    vote_similarity: float = 0.0  # the most similar of them
    examples: int = 0  # annotated contents carrying the tag in the whole graph (its prior)
    reserved: bool = False  # in a slot reserved for tags with few examples (``RecallConfig.few_example_slots``)
    prototype: float = 0.0  # why: its similarity to the content (text and examples; ``reserved.ReservedSlots.choose``)
    _neighbours: list[tuple[str, float]] | None = field(default=None, repr=False, compare=False)
    _via: list[tuple[str, float]] | None = field(default=None, repr=False, compare=False)
    _provenance: Provenance | None = field(default=None, repr=False, compare=False)

    @property
    def neighbours(self) -> list[tuple[str, float]]:
        """The most similar annotated contents (up to 5) that carry the tag, with their similarity."""
        if self._neighbours is None:
            self._resolve()
        return self._neighbours

    @property
    def via(self) -> list[tuple[str, float]]:
        """The strongest tags (up to 3) C2T2T reached this one through, with the strength of that edge."""
        if self._via is None:
            self._resolve()
        return self._via

    def _resolve(self) -> None:
        if self._provenance is not None:
            self._provenance.resolve()  # fills every candidate of its content at once
        if self._neighbours is None:  # made without provenance (by hand, or an older pickle)
            self._neighbours = []
        if self._via is None:
            self._via = []

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag_id": self.tag_id,
            "score": round(self.score, 6),
            "paths": {k: round(v, 6) for k, v in self.paths.items()},
            "neighbours": [[c, round(s, 4)] for c, s in self.neighbours],
            "synthetic_neighbours": [c for c, _ in self.neighbours if is_synthetic(c)],  # an LLM wrote them
            "via": [[t, round(s, 4)] for t, s in self.via],
            "votes": self.votes,
            "vote_similarity": self.vote_similarity,
            "examples": self.examples,
            "reserved": self.reserved,
            "prototype": self.prototype,
        }

    def __getstate__(self) -> dict:
        self._resolve()  # a pickled candidate carries its provenance, not the graph behind it
        return {**self.__dict__, "_provenance": None}


class Provenance:
    """Which neighbours voted for each candidate of one content and which seeds C2T2T reached it through,
    worked out when first asked for. Features need only the counts (``votes``, ``vote_similarity``); the
    lists are read when candidates are shown (API, CLI, web UI), and building them for every candidate of every
    content cost about a tenth of the recall stage's time in the service, which rarely shows them."""

    def __init__(self, graph: ContentTagGraph, scores: PathScores, order: np.ndarray, candidates: list[Candidate]):
        self.graph, self.scores, self.order, self.candidates = graph, scores, order, candidates

    def resolve(self) -> None:
        if self.candidates is None:
            return
        graph, ps, order = self.graph, self.scores, self.order
        voters = voters_by_candidate(ps, order, most=5)
        for i, (candidate, position) in enumerate(zip(self.candidates, order.tolist())):
            candidate._neighbours = [
                (graph.content_ids[ps.neighbour_positions[r]], float(ps.neighbour_similarities[r])) for r in voters[i]
            ]
            via = sorted(ps.via(position), key=lambda x: -x[1])[:3]
            candidate._via = [(graph.tag_ids[t], s) for t, s in via]
        self.graph = self.scores = self.order = self.candidates = None  # done: let the graph's arrays go


def vote_support(ps: PathScores, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate tag: how many of the voting neighbours carry it, and the similarity of the closest one."""
    votes, closest = np.zeros(len(order), dtype=np.int64), np.zeros(len(order), dtype=np.float32)
    rows = ps.neighbour_tags
    if rows is None or not rows.nnz or not len(order):
        return votes, closest
    # neighbours are in similarity order, so a tag's first entry in the rows is its most similar neighbour's
    tags, first, counts = np.unique(rows.indices, return_index=True, return_counts=True)
    where = np.minimum(np.searchsorted(tags, order), len(tags) - 1)
    found = tags[where] == order
    row_of_entry = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    votes[found] = counts[where[found]]
    closest[found] = ps.neighbour_similarities[row_of_entry[first[where[found]]]]
    return votes, closest


def voters_by_candidate(ps: PathScores, order: np.ndarray, *, most: int) -> list[list[int]]:
    """Per candidate tag: the rows (most similar first, at most ``most``) of the neighbours that carry it."""
    rows = ps.neighbour_tags
    if rows is None or not rows.nnz:
        return [[] for _ in range(len(order))]
    row_of_entry = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    slot = {int(t): i for i, t in enumerate(order.tolist())}
    out: list[list[int]] = [[] for _ in range(len(order))]
    keep = np.isin(rows.indices, order)
    for tag, row in zip(rows.indices[keep].tolist(), row_of_entry[keep].tolist()):  # rows ascending
        voters = out[slot[tag]]
        if len(voters) < most:
            voters.append(row)
    return out


@dataclass
class RecallResult:
    """The candidates of one content, and the similar annotated contents behind them."""

    candidates: list[Candidate]
    neighbours: list[tuple[str, float]]
    ranked: int | None = None  # the first `ranked` candidates are the fused top N; reserved slots follow them

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": [c.to_dict() for c in self.candidates],
            "neighbours": [[c, round(s, 4)] for c, s in self.neighbours],
        }
