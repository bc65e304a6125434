"""Graph-based tag recall: meta-paths over the content–tag graph, fused into one ranked list.

Paths (each gives every tag a score in [0, 1]):

* ``c2t``   content → tag: similarity of the content to the tag's text
  (dense and lexical, fused).
* ``c2c2t`` content → similar annotated contents → their tags: neighbours vote
  with weight ``similarity ** vote_power``; the score is the weighted share of
  neighbours carrying the tag.
* ``c2t2t`` content → strongly recalled tags → related tags (co-annotation
  P(t2 | t1) and tag-text similarity), scaled by the seed's score.
* ``lexical`` the tag's label or an alias appears in the text. This is the
  "simple match-based recall" the paper criticises, kept as its own path so it
  can be measured side by side.

The fused score is a weighted sum of path scores. Every candidate keeps its
provenance: the paths that reached it, their scores, the neighbour contents
that voted for it and the tags it was reached through.
"""

from __future__ import annotations

import itertools
import os
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from llm4tag.index.dense import PARALLEL_FROM_QUERIES, one_blas_thread
from llm4tag.index.lexical import top_matches
from llm4tag.library.tags import normalize_label
from llm4tag.recall.graph import ContentTagGraph
from llm4tag.recall.settings import LEARNED_PATHS, PATHS, RecallConfig  # noqa: F401 - re-exported

_WORD = re.compile(r"\w[\w+#.-]*\w|\w", re.UNICODE)


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` best positive scores, best first, without sorting the whole array.

    Ties keep position order, so results are deterministic. At a million tags a full argsort
    costs tens of milliseconds; this costs about one pass over the array.
    """
    positive = np.flatnonzero(scores > 0)
    if len(positive) > k:
        values = scores[positive]
        keep = np.argpartition(-values, k - 1)[:k]
        threshold = values[keep].min()
        positive = positive[values >= threshold]
    order = np.lexsort((positive, -scores[positive]))
    return positive[order][:k]


@dataclass
class Candidate:
    """A recalled tag with its fused score and why it was recalled."""

    tag_id: str
    score: float
    paths: dict[str, float]
    votes: int = 0  # similar annotated contents carrying the tag (C2C2T's support)
    vote_similarity: float = 0.0  # the most similar of them
    examples: int = 0  # annotated contents carrying the tag in the whole graph (its prior)
    reserved: bool = False  # in a slot reserved for tags with few examples (``RecallConfig.thin_slots``)
    prototype: float = 0.0  # why: its similarity to the content (text and examples; ``Recaller.thin_tags``)
    _neighbours: list[tuple[str, float]] | None = field(default=None, repr=False, compare=False)
    _via: list[tuple[str, float]] | None = field(default=None, repr=False, compare=False)
    _provenance: _Provenance | None = field(default=None, repr=False, compare=False)

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


class _Provenance:
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
        voters = _voters_by_candidate(ps, order, most=5)
        for i, (candidate, position) in enumerate(zip(self.candidates, order.tolist())):
            candidate._neighbours = [
                (graph.content_ids[ps.neighbour_positions[r]], float(ps.neighbour_similarities[r])) for r in voters[i]
            ]
            via = sorted(ps.via(position), key=lambda x: -x[1])[:3]
            candidate._via = [(graph.tag_ids[t], s) for t, s in via]
        self.graph = self.scores = self.order = self.candidates = None  # done: let the graph's arrays go


def _vote_support(ps: PathScores, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _voters_by_candidate(ps: PathScores, order: np.ndarray, *, most: int) -> list[list[int]]:
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


@dataclass
class SparseScores:
    """Scores of the few tags a path reached: positions (unique) and values."""

    index: np.ndarray
    value: np.ndarray

    @classmethod
    def empty(cls) -> SparseScores:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))

    @classmethod
    def summed(cls, index: np.ndarray, value: np.ndarray) -> SparseScores:
        """Sum the values of repeated positions."""
        if len(index) == 0:
            return cls.empty()
        unique, inverse = np.unique(index, return_inverse=True)
        return cls(unique.astype(np.int64), np.bincount(inverse, weights=value).astype(np.float32))

    @classmethod
    def maximum(cls, index: np.ndarray, value: np.ndarray) -> SparseScores:
        """The largest value of repeated positions."""
        if len(index) == 0:
            return cls.empty()
        order = np.lexsort((-value, index))
        index, value = index[order], value[order]
        first = np.ones(len(index), dtype=bool)
        first[1:] = index[1:] != index[:-1]
        return cls(index[first].astype(np.int64), value[first].astype(np.float32))

    @classmethod
    def from_dict(cls, values: dict[int, float]) -> SparseScores:
        if not values:
            return cls.empty()
        index = np.fromiter(values.keys(), dtype=np.int64, count=len(values))
        order = np.argsort(index)
        return cls(index[order], np.fromiter(values.values(), dtype=np.float32, count=len(values))[order])

    def plus(self, other: SparseScores) -> SparseScores:
        return SparseScores.summed(np.concatenate([self.index, other.index]), np.concatenate([self.value, other.value]))

    def without(self, mask: np.ndarray) -> SparseScores:
        keep = ~mask[self.index]
        return SparseScores(self.index[keep], self.value[keep])

    def top(self, k: int) -> np.ndarray:
        """Positions of the ``k`` best positive scores, best first (ties: lower position first)."""
        return self.index[top_k(self.value, k)] if len(self.index) else self.index

    def lookup(self) -> dict[int, float]:
        return dict(zip(self.index.tolist(), self.value.tolist()))

    def at(self, positions: np.ndarray) -> np.ndarray:
        """The values at ``positions``, 0 where the path did not reach the tag (``index`` is sorted)."""
        out = np.zeros(len(positions), dtype=self.value.dtype if len(self.value) else np.float32)
        if len(self.index) and len(positions):
            where = np.minimum(np.searchsorted(self.index, positions), len(self.index) - 1)
            found = self.index[where] == positions
            out[found] = self.value[where[found]]
        return out


@dataclass
class PathScores:
    """Per-path scores of the tags each path reached for one content, plus the neighbours behind c2c2t."""

    scores: dict[str, SparseScores]
    neighbour_positions: np.ndarray
    neighbour_similarities: np.ndarray
    via_tags: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # c2t2t: the tag reached,
    via_seeds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # the seed it was reached from,
    via_values: np.ndarray = field(default_factory=lambda: np.zeros(0))  # and the strength of that edge
    thin: SparseScores | None = None  # tags with few examples, by their prototype (``ContentTagGraph.thin_prototypes``)

    neighbour_tags: sp.csr_matrix | None = None  # the annotations of the neighbours, one row each, in their order

    _via_order: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)

    def via(self, position: int) -> list[tuple[int, float]]:
        """The seeds a tag was reached through by C2T2T, with their strengths, in seed order."""
        if self._via_order is None:  # sorted once (stable: seed order kept): this is asked for every candidate
            order = np.argsort(self.via_tags, kind="stable")
            self._via_order = (order, self.via_tags[order])
        order, sorted_tags = self._via_order
        lo, hi = np.searchsorted(sorted_tags, [position, position + 1])
        chosen = order[lo:hi]
        return list(zip(self.via_seeds[chosen].tolist(), self.via_values[chosen].tolist()))


_pool: tuple[int, ThreadPoolExecutor] | None = None
_MASK_VERSIONS = itertools.count()  # ``Recaller.new_tags``' versions


class _Inline:
    """Runs a submitted call at once, in this thread (the executor interface, for work too small to hand off)."""

    @staticmethod
    def submit(func, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(func(*args))
        except Exception as exc:  # noqa: BLE001 - raised again by result(), as from a pool
            future.set_exception(exc)
        return future


_INLINE = _Inline()


def _background() -> ThreadPoolExecutor:
    """The threads that run the recall stage's GIL-free work beside its Python; a forked child (whose copy has
    no threads) makes its own."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(3, thread_name_prefix="llm4tag-recall"))
    return _pool[1]


class Recaller:
    """Scores every tag for a content along each meta-path and returns the fused top N."""

    def __init__(
        self, graph: ContentTagGraph, config: RecallConfig | None = None, names: dict[str, list[int]] | None = None
    ) -> None:
        self.graph = graph
        self.config = config or RecallConfig()
        self._names = names
        self.learned: dict[str, object] = {}  # fitted scorers of LEARNED_PATHS, set by the recall index
        self._new: tuple[tuple, int, np.ndarray] | None = None  # (what it was worked out from, version, mask)
        self._known: tuple[tuple, np.ndarray] | None = None  # the tags the learned paths were fitted on

    @property
    def supervised(self):
        return self.learned.get("supervised")

    # -- lexical baseline ----------------------------------------------------
    @property
    def names(self) -> dict[str, list[int]]:
        """Normalized label/alias → tag positions, for n-gram lookups that scale to any library size."""
        if self._names is None:
            self._names = {}
        return self._names

    def set_names(self, names_by_tag: list[list[str]]) -> None:
        table: dict[str, list[int]] = {}
        for position, names in enumerate(names_by_tag):
            for name in names:
                key = " ".join(_WORD.findall(normalize_label(name)))
                if key:
                    table.setdefault(key, []).append(position)
        self._names = table

    def lexical_matches(self, text: str) -> SparseScores:
        words = _WORD.findall(text.lower())
        table = self.names
        hits: set[int] = set()
        for n in range(1, self.config.max_name_words + 1):
            for start in range(len(words) - n + 1):
                hit = table.get(" ".join(words[start : start + n]))
                if hit:
                    hits.update(hit)
        index = np.array(sorted(hits), dtype=np.int64)
        return SparseScores(index, np.ones(len(index), dtype=np.float32))

    # -- meta-paths ------------------------------------------------------------
    def path_scores(
        self, texts: list[str], vectors: np.ndarray, exclude: list[str | None] | None = None
    ) -> list[PathScores]:
        """Score tags along every path for each content (batched over contents).

        Scores are sparse: per-document work depends on the neighbourhood, not on the library size.
        ``exclude`` names, per text, a stored content that must not be its own neighbour (for contents
        already in the graph: fine-tuning data, leave-one-out evaluation).
        """
        if len(texts) >= PARALLEL_FROM_QUERIES:
            return self._path_scores(texts, vectors, exclude)
        # a small batch keeps BLAS on one thread throughout: OpenBLAS's woken threads would spin beside the
        # background threads below (one content's p95: 96 ms instead of 13 ms)
        with one_blas_thread:
            return self._path_scores(texts, vectors, exclude)

    def _path_scores(self, texts: list[str], vectors: np.ndarray, exclude: list[str | None] | None) -> list[PathScores]:
        cfg = self.config
        graph = self.graph
        n_tags = graph.n_tags
        # what releases the GIL starts first, on background threads, beside the lexical work of this one: the
        # dense search of the contents (a matrix product) and the learned paths (the tree's predictions)
        pool = _background() if len(texts) > 1 else _INLINE  # one content: the hand-offs cost more than they save
        dense_search = (
            pool.submit(graph.content_dense.search, vectors, cfg.neighbour_pool) if graph.n_contents else None
        )
        learned = {
            name: pool.submit(scorer.scores, texts, vectors)
            for name, scorer in self.learned.items()
            if scorer is not None and self.config.weights.get(name, 0.0) > 0
        }
        query_lexical = graph.content_lexical.transform(texts) if graph.content_lexical.size else None
        results = []

        # content -> content neighbours (hybrid: union of dense and lexical pools, re-scored by both)
        if graph.n_contents:
            lexical_sims = graph.content_lexical.similarities(query_lexical)  # once for the batch, reused below
            lexical_hits = top_matches(lexical_sims, cfg.neighbour_pool)
            lexical_row = np.zeros(graph.n_contents, dtype=np.float32)
        # content -> tag similarity
        if n_tags:
            _, tag_pos = graph.tag_dense.search(vectors, min(cfg.c2t_pool, n_tags))
            tag_lex_sims = graph.tag_lexical_similarities(query_lexical) if query_lexical is not None else None
        annotations = graph.annotations
        cooccurrence = graph.cooccurrence
        prototypes, mapping = self._thin_inputs()
        # tags with few examples, for their reserved slots: their prototype (text + examples) and their text's
        # lexical match, once for the batch; new ones (``new_tags``) also through the map
        if prototypes is not None:
            thin_positions, prototype_sims = prototypes[0], np.clip(vectors @ prototypes[1].T, 0, 1)
            if mapping is not None:
                unused, unused_texts = prototypes[2], prototypes[3]  # the others are known by their examples
                mapped = vectors @ mapping
                mapped /= np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-12)
                mapped_sims = np.clip(mapped @ unused_texts.T, 0, 1)
                prototype_sims[:, unused] *= 1 - cfg.thin_map_weight
                prototype_sims[:, unused] += cfg.thin_map_weight * mapped_sims
            thin_lexical = (
                tag_lex_sims[:, thin_positions].toarray().astype(np.float64)
                if tag_lex_sims is not None
                else np.zeros((len(texts), len(thin_positions)))
            )
            thin_blend = cfg.dense_weight * prototype_sims + (1 - cfg.dense_weight) * thin_lexical
        inactive = None if graph.active_tags.all() else ~graph.active_tags
        learned = {name: future.result() for name, future in learned.items()}
        dense_pos = dense_search.result()[1] if dense_search is not None else None

        for row, text in enumerate(texts):
            scores: dict[str, SparseScores] = {}
            vector = vectors[row]
            # --- c2c2t: neighbours vote with similarity ** vote_power
            nb_pos = np.zeros(0, dtype=np.int64)
            nb_sim = np.zeros(0, dtype=np.float32)
            rows = None
            scores["c2c2t"] = SparseScores.empty()
            if graph.n_contents:
                pool = np.unique(np.concatenate([dense_pos[row][dense_pos[row] >= 0], lexical_hits[row][0]]))
                if exclude and exclude[row] is not None and exclude[row] in graph.content_position:
                    pool = pool[pool != graph.content_position[exclude[row]]]
                dense_sim = np.clip(graph.content_dense.vectors[pool] @ vector, 0, 1)
                start, end = lexical_sims.indptr[row], lexical_sims.indptr[row + 1]
                lexical_row[lexical_sims.indices[start:end]] = lexical_sims.data[start:end]
                lex_sim = lexical_row[pool]
                lexical_row[lexical_sims.indices[start:end]] = 0.0
                sim = cfg.dense_weight * dense_sim + (1 - cfg.dense_weight) * lex_sim
                order = np.argsort(-sim, kind="stable")[: cfg.neighbours]
                order = order[sim[order] >= cfg.min_similarity]
                nb_pos, nb_sim = pool[order], sim[order].astype(np.float32)
                if len(nb_pos):
                    weights = nb_sim**cfg.vote_power
                    rows = annotations[nb_pos]
                    votes = np.repeat(weights, np.diff(rows.indptr))
                    scores["c2c2t"] = SparseScores.summed(rows.indices, votes / max(float(weights.sum()), 1e-12))
            # --- c2t: the nearest tags by embedding and the best lexical matches (both bounded), re-scored by both
            scores["c2t"] = SparseScores.empty()
            if n_tags:
                candidates = tag_pos[row][tag_pos[row] >= 0]
                cols, vals = np.zeros(0, np.int64), np.zeros(0, np.float32)
                if tag_lex_sims is not None:
                    start, end = tag_lex_sims.indptr[row], tag_lex_sims.indptr[row + 1]
                    cols, vals = tag_lex_sims.indices[start:end], tag_lex_sims.data[start:end]
                    if len(vals) > cfg.c2t_pool:
                        best = np.argpartition(-vals, cfg.c2t_pool - 1)[: cfg.c2t_pool]
                        cols, vals = cols[best], vals[best]
                    candidates = np.unique(np.concatenate([candidates, cols]))
                dense = np.clip(graph.tag_dense.vectors[candidates] @ vector, 0, 1)
                lexical = np.zeros(len(candidates), dtype=np.float32)  # each lexical match is among the candidates
                lexical[np.searchsorted(candidates, cols)] = vals
                scores["c2t"] = SparseScores(
                    candidates.astype(np.int64), cfg.dense_weight * dense + (1 - cfg.dense_weight) * lexical
                )
            thin = None
            if prototypes is not None:
                thin = SparseScores(thin_positions.astype(np.int64), thin_blend[row].astype(np.float64))
            # --- lexical baseline
            scores["lexical"] = self.lexical_matches(text) if n_tags else SparseScores.empty()
            # --- learned paths: per-tag models fitted on the annotated contents, when the project has them
            for name in LEARNED_PATHS:
                scores[name] = SparseScores.empty()
                if name in learned:
                    position = graph.tag_position
                    found = {position[t]: p for t, p in learned[name][row].items() if t in position}
                    scores[name] = SparseScores.from_dict(found)
            # --- c2t2t: expand from the strongest seeds along tag-tag edges (co-annotation P(t2 | t1) and
            # tag-text similarity squared, the larger of the two), scaled by the seed's strength
            via_tags, via_seeds, via_values = [], [], []
            if n_tags:
                seed_score = scores["c2c2t"].plus(scores["c2t"])
                seeds = seed_score.top(cfg.seeds)
                seed_values = seed_score.lookup()
                for seed, (near, similar) in zip(seeds, graph.tag_neighbours(seeds, cfg.tag_neighbours)):
                    strength = min(1.0, seed_values[int(seed)])
                    start, end = cooccurrence.indptr[seed], cooccurrence.indptr[seed + 1]
                    tags = np.concatenate([cooccurrence.indices[start:end].astype(np.int64), near])
                    weights = np.concatenate([cooccurrence.data[start:end], similar]).astype(np.float64)
                    order = np.lexsort((-weights, tags))  # per tag, the larger weight first
                    tags, weights = tags[order], weights[order]
                    first = np.ones(len(tags), dtype=bool)
                    first[1:] = tags[1:] != tags[:-1]
                    values = strength * weights[first]
                    keep = values > 0
                    via_tags.append(tags[first][keep])
                    via_values.append(values[keep])
                    via_seeds.append(np.full(int(keep.sum()), int(seed), dtype=np.int64))
            reached = np.concatenate(via_tags) if via_tags else np.zeros(0, np.int64)
            strengths = np.concatenate(via_values) if via_values else np.zeros(0)
            scores["c2t2t"] = SparseScores.maximum(reached, strengths)
            if inactive is not None:
                scores = {name: sc.without(inactive) for name, sc in scores.items()}
            origins = np.concatenate(via_seeds) if via_seeds else np.zeros(0, np.int64)
            results.append(PathScores(scores, nb_pos, nb_sim, reached, origins, strengths, thin, rows))
        return results

    def new_tags(self) -> tuple[int, np.ndarray]:
        """Per tag position, whether recall has nothing but the tag's text and the slots to find it by: no example,
        or (``thin_unseen_as_new``) none that a learned path was fitted on. With a version that changes with it."""
        graph = self.graph
        scorers = [s for name, s in self.learned.items() if s is not None and self.config.weights.get(name, 0) > 0]
        if not self.config.thin_unseen_as_new:
            scorers = []
        fitted = (tuple(id(s) for s in scorers), graph.n_tags)  # what the learned paths know changes with these
        key = (*fitted, graph.n_contents, graph.annotations.nnz)
        if self._new is None or self._new[0] != key:
            new = graph.tag_frequency == 0
            if scorers:
                if self._known is None or self._known[0] != fitted:
                    known = np.zeros(graph.n_tags, dtype=bool)
                    position = graph.tag_position
                    for scorer in scorers:
                        known[[position[t] for t in getattr(scorer, "classes", ()) if t in position]] = True
                    self._known = (fitted, known)
                new = new | ~self._known[1]
            self._new = (key, next(_MASK_VERSIONS), new)  # unique across recallers: the graph memoises by it
        return self._new[1], self._new[2]

    def _thin_inputs(self) -> tuple[tuple | None, np.ndarray | None]:
        """What the reserved slots need, memoised by the graph: the prototypes of the tags with few examples
        (``ContentTagGraph.thin_prototypes``) and, where those include new tags (``new_tags``), the map into the
        tag texts' space (``ContentTagGraph.tag_space_map``)."""
        cfg, graph = self.config, self.graph
        prototypes = None
        if cfg.thin_slots and graph.n_tags:
            prototypes = graph.thin_prototypes(cfg.thin_examples, self.new_tags())
        if prototypes is None or cfg.thin_map_weight <= 0 or not prototypes[2].any():
            return prototypes, None
        return prototypes, graph.tag_space_map(cfg.supervised_min_contents, growth=cfg.refit_growth)

    def prepare(self) -> None:
        """Work out what the first batch would otherwise pay for (about 0.3 s on debtags)."""
        self._thin_inputs()

    def fuse(self, path_scores: PathScores, weights: dict[str, float] | None = None) -> SparseScores:
        weights = weights if weights is not None else self.config.weights
        parts = [(path_scores.scores[name], weight) for name, weight in weights.items() if weight]
        if not parts:
            return SparseScores.empty()
        index = np.concatenate([sc.index for sc, _ in parts])
        value = np.concatenate([sc.value * weight for sc, weight in parts])
        return SparseScores.summed(index, value)

    def thin_tags(
        self, path_scores: PathScores, frequency: np.ndarray, new: np.ndarray | None = None
    ) -> dict[int, float]:
        """The ``thin_slots`` tags with few examples most similar to the content, ranked or not (the slots
        reserved for them), with that similarity: to their prototype (text and examples), or C2T where there is
        none. New tags (``new``: no example, or none the learned paths saw; else those without any example) and
        the others take turns, new ones first: a prototype built from contents is closer to a content than a
        tag's text is, so one list would starve the new tags."""
        cfg = self.config
        scores = path_scores.thin
        if scores is None:
            c2t = path_scores.scores["c2t"]
            keep = frequency[c2t.index] <= cfg.thin_examples
            scores = SparseScores(c2t.index[keep], c2t.value[keep])
        if not cfg.thin_slots or not len(scores.index):
            return {}
        order = np.argsort(-scores.value, kind="stable")
        unused = (new if new is not None else frequency == 0)[scores.index[order]]
        lists = [order[unused][: cfg.thin_slots].tolist(), order[~unused][: cfg.thin_slots].tolist()]
        turns = []
        while len(turns) < cfg.thin_slots and (lists[0] or lists[1]):
            for queue in lists:
                if queue and len(turns) < cfg.thin_slots:
                    turns.append(queue.pop(0))
        return {int(scores.index[i]): float(scores.value[i]) for i in turns}

    def recall(
        self,
        texts: list[str],
        vectors: np.ndarray,
        *,
        top_n: int | None = None,
        weights: dict[str, float] | None = None,
        max_neighbours: int = 10,
        exclude: list[str | None] | None = None,
    ) -> list[RecallResult]:
        """Fused top-N candidates with provenance for each content, then those of the ``thin_slots`` reserved for
        tags with few examples (``thin_tags``; when the C2T path is in use) that are not among them."""
        top_n = top_n or self.config.top_n
        out = []
        frequency = self.graph.tag_frequency
        new = self.new_tags()[1]
        for ps in self.path_scores(texts, vectors, exclude):
            fused = self.fuse(ps, weights)
            order = fused.top(top_n)
            uses_c2t = (weights if weights is not None else self.config.weights).get("c2t", 0.0) > 0
            reserved = self.thin_tags(ps, frequency, new) if uses_c2t else {}
            ranked = len(order)
            in_order = set(order.tolist())
            extra = [p for p in reserved if p not in in_order]
            order = np.concatenate([order, np.array(extra, dtype=np.int64)]).astype(np.int64)
            fused_values = fused.at(order).tolist()
            path_values = {name: sc.at(order).tolist() for name, sc in ps.scores.items()}
            votes, closest = _vote_support(ps, order)
            tag_ids, examples = self.graph.tag_ids, frequency[order].tolist()
            candidates = [
                Candidate(
                    tag_id=tag_ids[position],
                    score=fused_values[i],
                    paths={name: v[i] for name, v in path_values.items() if v[i] > 0},
                    votes=votes_i,
                    vote_similarity=closest_i,
                    examples=examples[i],
                    reserved=position in reserved,
                    prototype=reserved.get(position, 0.0),
                )
                for i, (position, votes_i, closest_i) in enumerate(
                    zip(order.tolist(), votes.tolist(), closest.tolist())
                )
            ]
            provenance = _Provenance(self.graph, ps, order, candidates)
            for candidate in candidates:
                candidate._provenance = provenance
            neighbours = [
                (self.graph.content_ids[p], float(s))
                for p, s in zip(ps.neighbour_positions[:max_neighbours], ps.neighbour_similarities[:max_neighbours])
            ]
            out.append(RecallResult(candidates, neighbours, ranked))
        return out
