"""The graph's meta-paths, one function each, over a ``Batch`` that runs the searches once for all of a
batch's contents.

* ``c2c2t`` content → similar annotated contents → their tags: neighbours vote with weight
  ``similarity ** vote_power``; the score is the weighted share of neighbours carrying the tag.
* ``c2t``   content → tag: similarity of the content to the tag's text (dense and lexical, fused).
* ``c2t2t`` content → strongly recalled tags → related tags (co-annotation P(t2 | t1) and tag-text
  similarity), scaled by the seed's score.
* ``lexical`` (``labels.py``) and the learned paths (``learned/``) score alongside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from llm4tag.index.lexical import top_matches
from llm4tag.recall.graph import ContentTagGraph
from llm4tag.recall.learned.base import LearnedPath
from llm4tag.recall.settings import RecallConfig
from llm4tag.recall.sparse import SparseScores


@dataclass
class PathScores:
    """Per-path scores of the tags each path reached for one content, plus the neighbours behind c2c2t."""

    scores: dict[str, SparseScores]
    neighbour_positions: np.ndarray
    neighbour_similarities: np.ndarray
    via_tags: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # c2t2t: the tag reached,
    via_seeds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # the seed it was reached from,
    via_values: np.ndarray = field(default_factory=lambda: np.zeros(0))  # and the strength of that edge
    # tags with few examples, by their similarity to the content (``reserved.ReservedSlots``)
    few_examples: SparseScores | None = None

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


class Neighbours(NamedTuple):
    """C2C2T's vote for one content and who cast it."""

    scores: SparseScores
    positions: np.ndarray
    similarities: np.ndarray
    tags: sp.csr_matrix | None  # their annotations, one row each


class Expansion(NamedTuple):
    """C2T2T for one content: per tag reached, the seed it came from and the strength of that edge."""

    scores: SparseScores
    tags: np.ndarray
    seeds: np.ndarray
    values: np.ndarray


class Batch:
    """The searches of a batch of contents that every path reads, run once. What releases the GIL (the dense
    search of the contents, the learned paths' predictions) is submitted to ``pool`` first and runs beside the
    lexical work here; ``collect`` waits for it."""

    def __init__(
        self,
        graph: ContentTagGraph,
        config: RecallConfig,
        texts: list[str],
        vectors: np.ndarray,
        learned: dict[str, LearnedPath],
        pool,
    ) -> None:
        self.graph, self.config, self.texts, self.vectors = graph, config, texts, vectors
        self._dense = (
            pool.submit(graph.content_dense.search, vectors, config.neighbour_pool) if graph.n_contents else None
        )
        self._learned = {name: pool.submit(path.scores, texts, vectors) for name, path in learned.items()}
        self.query_lexical = graph.content_lexical.transform(texts) if graph.content_lexical.size else None
        if graph.n_contents:  # content -> content: lexical similarities once for the batch, reused per content
            self.lexical_sims = graph.content_lexical.similarities(self.query_lexical)
            self.lexical_hits = top_matches(self.lexical_sims, config.neighbour_pool)
            self._lexical_row = np.zeros(graph.n_contents, dtype=np.float32)
        self.tag_lex_sims = None
        if graph.n_tags:  # content -> tag similarity
            _, self.tag_positions = graph.tag_dense.search(vectors, min(config.c2t_pool, graph.n_tags))
            if self.query_lexical is not None:
                self.tag_lex_sims = graph.tag_lexical_similarities(self.query_lexical)
        self.inactive = None if graph.active_tags.all() else ~graph.active_tags
        self.dense_positions: np.ndarray | None = None
        self.learned: dict[str, list[dict[str, float]]] = {}

    def collect(self) -> None:
        self.learned = {name: future.result() for name, future in self._learned.items()}
        self.dense_positions = self._dense.result()[1] if self._dense is not None else None


def c2c2t(batch: Batch, row: int, exclude: str | None) -> Neighbours:
    """The annotated contents nearest to content ``row`` (the union of the dense and lexical pools, re-scored
    by both) vote for their tags with ``similarity ** vote_power``."""
    cfg, graph, vector = batch.config, batch.graph, batch.vectors[row]
    empty = Neighbours(SparseScores.empty(), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), None)
    if not graph.n_contents:
        return empty
    dense_pos, lexical_sims = batch.dense_positions[row], batch.lexical_sims
    pool = np.unique(np.concatenate([dense_pos[dense_pos >= 0], batch.lexical_hits[row][0]]))
    if exclude is not None and exclude in graph.content_position:
        pool = pool[pool != graph.content_position[exclude]]
    dense_sim = np.clip(graph.content_dense.vectors[pool] @ vector, 0, 1)
    start, end = lexical_sims.indptr[row], lexical_sims.indptr[row + 1]
    lexical_row = batch._lexical_row
    lexical_row[lexical_sims.indices[start:end]] = lexical_sims.data[start:end]
    lex_sim = lexical_row[pool]
    lexical_row[lexical_sims.indices[start:end]] = 0.0
    sim = cfg.dense_weight * dense_sim + (1 - cfg.dense_weight) * lex_sim
    order = np.argsort(-sim, kind="stable")[: cfg.neighbours]
    order = order[sim[order] >= cfg.min_similarity]
    positions, similarities = pool[order], sim[order].astype(np.float32)
    if not len(positions):
        return empty._replace(positions=positions, similarities=similarities)
    weights = similarities**cfg.vote_power
    rows = graph.annotations[positions]
    votes = np.repeat(weights, np.diff(rows.indptr))
    scores = SparseScores.summed(rows.indices, votes / max(float(weights.sum()), 1e-12))
    return Neighbours(scores, positions, similarities, rows)


def c2t(batch: Batch, row: int) -> SparseScores:
    """The nearest tags by embedding and the best lexical matches (both bounded), re-scored by both."""
    cfg, graph = batch.config, batch.graph
    if not graph.n_tags:
        return SparseScores.empty()
    candidates = batch.tag_positions[row][batch.tag_positions[row] >= 0]
    cols, vals = np.zeros(0, np.int64), np.zeros(0, np.float32)
    if batch.tag_lex_sims is not None:
        start, end = batch.tag_lex_sims.indptr[row], batch.tag_lex_sims.indptr[row + 1]
        cols, vals = batch.tag_lex_sims.indices[start:end], batch.tag_lex_sims.data[start:end]
        if len(vals) > cfg.c2t_pool:
            best = np.argpartition(-vals, cfg.c2t_pool - 1)[: cfg.c2t_pool]
            cols, vals = cols[best], vals[best]
        candidates = np.unique(np.concatenate([candidates, cols]))
    dense = np.clip(graph.tag_dense.vectors[candidates] @ batch.vectors[row], 0, 1)
    lexical = np.zeros(len(candidates), dtype=np.float32)  # each lexical match is among the candidates
    lexical[np.searchsorted(candidates, cols)] = vals
    return SparseScores(candidates.astype(np.int64), cfg.dense_weight * dense + (1 - cfg.dense_weight) * lexical)


def learned(batch: Batch, row: int, name: str) -> SparseScores:
    """A learned path's scores for content ``row``, on the graph's tag positions."""
    if name not in batch.learned:
        return SparseScores.empty()
    position = batch.graph.tag_position
    return SparseScores.from_dict({position[t]: p for t, p in batch.learned[name][row].items() if t in position})


def c2t2t(batch: Batch, seed_score: SparseScores) -> Expansion:
    """From the strongest seeds along tag-tag edges (co-annotation P(t2 | t1) and tag-text similarity squared,
    the larger of the two), scaled by the seed's strength."""
    cfg, graph = batch.config, batch.graph
    via_tags, via_seeds, via_values = [], [], []
    if graph.n_tags:
        cooccurrence = graph.cooccurrence
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
    origins = np.concatenate(via_seeds) if via_seeds else np.zeros(0, np.int64)
    return Expansion(SparseScores.maximum(reached, strengths), reached, origins, strengths)
