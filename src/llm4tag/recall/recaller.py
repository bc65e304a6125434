"""Graph-based tag recall: every path scores the tags for a batch of contents, the scores are fused into one
ranked list, and the slots reserved for tags with few examples follow it.

The fused score is a weighted sum of path scores (``[recall.weights]``). Every candidate keeps its
provenance: the paths that reached it, their scores, the neighbour contents that voted for it and the tags
it was reached through.
"""

from __future__ import annotations

import numpy as np

from llm4tag.index.dense import PARALLEL_FROM_QUERIES, one_blas_thread
from llm4tag.recall import paths
from llm4tag.recall.graph import ContentTagGraph, NewTags
from llm4tag.recall.labels import LabelMatcher
from llm4tag.recall.learned.base import LearnedPath
from llm4tag.recall.paths import Batch, PathScores
from llm4tag.recall.reserved import ReservedSlots
from llm4tag.recall.results import Candidate, Provenance, RecallResult, vote_support
from llm4tag.recall.settings import LEARNED_PATHS, RecallConfig
from llm4tag.recall.sparse import SparseScores
from llm4tag.recall.threads import INLINE, background


class Recaller:
    """Scores every tag for a content along each meta-path and returns the fused top N."""

    def __init__(self, graph: ContentTagGraph, config: RecallConfig | None = None, labels: LabelMatcher | None = None):
        self.graph = graph
        self.config = config or RecallConfig()
        self.labels = labels or LabelMatcher()
        self.learned: dict[str, LearnedPath | None] = {}  # the fitted learned paths, set by the recall index
        self.reserved = ReservedSlots(graph, self.config)

    def set_names(self, names_by_tag: list[list[str]]) -> None:
        """Each tag's label and aliases, in graph order, for the lexical path."""
        self.labels = LabelMatcher.from_names(names_by_tag)

    @property
    def active_learned(self) -> dict[str, LearnedPath]:
        """The fitted learned paths that have a weight."""
        return {
            name: path
            for name, path in self.learned.items()
            if path is not None and self.config.weights.get(name, 0.0) > 0
        }

    def new_tags(self) -> NewTags:
        return self.reserved.new_tags(self.active_learned)

    def prepare(self) -> None:
        """Work out what the first batch would otherwise pay for (the reserved slots' inputs)."""
        self.reserved.inputs(self.active_learned)

    # -- scoring --------------------------------------------------------------------
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
        # background threads (docs/experiments/recall-speed.md)
        with one_blas_thread:
            return self._path_scores(texts, vectors, exclude)

    def _path_scores(self, texts: list[str], vectors: np.ndarray, exclude: list[str | None] | None) -> list[PathScores]:
        learned = self.active_learned
        pool = background() if len(texts) > 1 else INLINE  # one content: the hand-offs cost more than they save
        batch = Batch(self.graph, self.config, texts, vectors, learned, pool)
        few_examples = self.reserved.similarities(learned, vectors, batch.tag_lex_sims)
        batch.collect()
        results = []
        for row, text in enumerate(texts):
            neighbours = paths.c2c2t(batch, row, exclude[row] if exclude else None)
            scores = {"c2c2t": neighbours.scores, "c2t": paths.c2t(batch, row)}
            scores["lexical"] = (
                self.labels.matches(text, self.config.max_name_words) if self.graph.n_tags else SparseScores.empty()
            )
            for name in LEARNED_PATHS:
                scores[name] = paths.learned(batch, row, name)
            expansion = paths.c2t2t(batch, scores["c2c2t"].plus(scores["c2t"]))
            scores["c2t2t"] = expansion.scores
            if batch.inactive is not None:
                scores = {name: sc.without(batch.inactive) for name, sc in scores.items()}
            results.append(
                PathScores(
                    scores,
                    neighbours.positions,
                    neighbours.similarities,
                    expansion.tags,
                    expansion.seeds,
                    expansion.values,
                    few_examples[row] if few_examples is not None else None,
                    neighbours.tags,
                )
            )
        return results

    def fuse(self, path_scores: PathScores, weights: dict[str, float] | None = None) -> SparseScores:
        weights = weights if weights is not None else self.config.weights
        parts = [(path_scores.scores[name], weight) for name, weight in weights.items() if weight]
        if not parts:
            return SparseScores.empty()
        index = np.concatenate([sc.index for sc, _ in parts])
        value = np.concatenate([sc.value * weight for sc, weight in parts])
        return SparseScores.summed(index, value)

    # -- the candidates ---------------------------------------------------------------
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
        """Fused top-N candidates with provenance for each content, then those of the slots reserved for tags with
        few examples (``reserved.ReservedSlots``; when the C2T path is in use) that are not among them."""
        top_n = top_n or self.config.top_n
        out = []
        frequency = self.graph.tag_frequency
        new = self.new_tags().mask
        uses_c2t = (weights if weights is not None else self.config.weights).get("c2t", 0.0) > 0
        for ps in self.path_scores(texts, vectors, exclude):
            fused = self.fuse(ps, weights)
            order = fused.top(top_n)
            reserved = self.reserved.choose(ps, frequency, new) if uses_c2t else {}
            ranked = len(order)
            in_order = set(order.tolist())
            extra = [p for p in reserved if p not in in_order]
            order = np.concatenate([order, np.array(extra, dtype=np.int64)]).astype(np.int64)
            out.append(self._result(ps, fused, order, ranked, reserved, frequency, max_neighbours))
        return out

    def _result(
        self,
        ps: PathScores,
        fused: SparseScores,
        order: np.ndarray,
        ranked: int,
        reserved: dict[int, float],
        frequency: np.ndarray,
        max_neighbours: int,
    ) -> RecallResult:
        fused_values = fused.at(order).tolist()
        path_values = {name: sc.at(order).tolist() for name, sc in ps.scores.items()}
        votes, closest = vote_support(ps, order)
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
            for i, (position, votes_i, closest_i) in enumerate(zip(order.tolist(), votes.tolist(), closest.tolist()))
        ]
        provenance = Provenance(self.graph, ps, order, candidates)
        for candidate in candidates:
            candidate._provenance = provenance
        neighbours = [
            (self.graph.content_ids[p], float(s))
            for p, s in zip(ps.neighbour_positions[:max_neighbours], ps.neighbour_similarities[:max_neighbours])
        ]
        return RecallResult(candidates, neighbours, ranked)
