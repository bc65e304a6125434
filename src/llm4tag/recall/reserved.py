"""Candidate slots reserved for tags with few examples (new and tail tags).

The neighbour vote and the learned paths cannot propose a tag without examples, so without these slots the
LLM judge would never see it. A tag with at most ``[recall] few_examples`` annotated examples competes for
``few_example_slots`` slots by its similarity to the content: to its prototype (its text and its examples),
and, for a new tag, also to the content mapped into the tag texts' space (``ContentTagGraph.tag_space_map``).
"""

from __future__ import annotations

import itertools

import numpy as np

from llm4tag.recall.graph import ContentTagGraph, NewTags, Prototypes
from llm4tag.recall.learned.base import LearnedPath
from llm4tag.recall.paths import PathScores
from llm4tag.recall.settings import RecallConfig
from llm4tag.recall.sparse import SparseScores

_VERSIONS = itertools.count()  # of ``NewTags``: unique across recallers, the graph memoises by it


class ReservedSlots:
    def __init__(self, graph: ContentTagGraph, config: RecallConfig) -> None:
        self.graph, self.config = graph, config
        self._new: tuple[tuple, NewTags] | None = None  # what it was worked out from, and the answer
        self._known: tuple[tuple, np.ndarray] | None = None  # the tags the learned paths were fitted on

    def new_tags(self, learned: dict[str, LearnedPath]) -> NewTags:
        """Per tag position, whether recall has nothing but the tag's text and the slots to find it by: no example
        a person wrote (an LLM's synthetic ones join its prototype, but the tag keeps its turn among the new ones
        and the map into the tag texts' space: docs/benchmarks.md), or (``unseen_tags_are_new``) none that a
        learned path was fitted on."""
        graph = self.graph
        paths = list(learned.values()) if self.config.unseen_tags_are_new else []
        fitted = (tuple(id(p) for p in paths), graph.n_tags)  # what the learned paths know changes with these
        key = (*fitted, graph.n_contents, graph.annotations.nnz)
        if self._new is None or self._new[0] != key:
            new = graph.written_tag_frequency == 0
            if paths:
                if self._known is None or self._known[0] != fitted:
                    known = np.zeros(graph.n_tags, dtype=bool)
                    position = graph.tag_position
                    for path in paths:
                        known[[position[t] for t in path.classes_ if t in position]] = True
                    self._known = (fitted, known)
                new = new | ~self._known[1]
            self._new = (key, NewTags(next(_VERSIONS), new))
        return self._new[1]

    def inputs(self, learned: dict[str, LearnedPath]) -> tuple[Prototypes | None, np.ndarray | None]:
        """What the slots need, memoised by the graph: the prototypes of the tags with few examples and, where
        those include new tags, the map into the tag texts' space."""
        cfg, graph = self.config, self.graph
        prototypes = None
        if cfg.few_example_slots and graph.n_tags:
            prototypes = graph.few_example_prototypes(cfg.few_examples, self.new_tags(learned))
        if prototypes is None or cfg.new_tag_map_weight <= 0 or not prototypes.new.any():
            return prototypes, None
        return prototypes, graph.tag_space_map(cfg.learned_min_contents, growth=cfg.refit_growth)

    def similarities(
        self, learned: dict[str, LearnedPath], vectors: np.ndarray, tag_lex_sims
    ) -> list[SparseScores] | None:
        """Per content of a batch, the similarity of each tag with few examples: its prototype's (and for new
        ones, partly the mapped content's) blended with its text's lexical match."""
        cfg = self.config
        prototypes, mapping = self.inputs(learned)
        if prototypes is None:
            return None
        positions = prototypes.positions
        similarity = np.clip(vectors @ prototypes.vectors.T, 0, 1)
        if mapping is not None:
            new = prototypes.new  # the others are known by their examples
            mapped = vectors @ mapping
            mapped /= np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-12)
            mapped_sims = np.clip(mapped @ prototypes.new_texts.T, 0, 1)
            similarity[:, new] *= 1 - cfg.new_tag_map_weight
            similarity[:, new] += cfg.new_tag_map_weight * mapped_sims
        lexical = (
            tag_lex_sims[:, positions].toarray().astype(np.float64)
            if tag_lex_sims is not None
            else np.zeros((len(vectors), len(positions)))
        )
        blend = cfg.dense_weight * similarity + (1 - cfg.dense_weight) * lexical
        index = positions.astype(np.int64)
        return [SparseScores(index, row.astype(np.float64)) for row in blend]

    def choose(self, path_scores: PathScores, frequency: np.ndarray, new: np.ndarray | None = None) -> dict[int, float]:
        """The ``few_example_slots`` tags with few examples most similar to the content, ranked or not, with that
        similarity (C2T's where there are no prototypes). New tags (``new``) and the others take turns, new ones
        first: a prototype built from contents is closer to a content than a tag's text is, so one list would
        starve the new tags."""
        cfg = self.config
        scores = path_scores.few_examples
        if scores is None:
            c2t = path_scores.scores["c2t"]
            keep = frequency[c2t.index] <= cfg.few_examples
            scores = SparseScores(c2t.index[keep], c2t.value[keep])
        if not cfg.few_example_slots or not len(scores.index):
            return {}
        order = np.argsort(-scores.value, kind="stable")
        unused = (new if new is not None else frequency == 0)[scores.index[order]]
        lists = [order[unused][: cfg.few_example_slots].tolist(), order[~unused][: cfg.few_example_slots].tolist()]
        turns = []
        while len(turns) < cfg.few_example_slots and (lists[0] or lists[1]):
            for queue in lists:
                if queue and len(turns) < cfg.few_example_slots:
                    turns.append(queue.pop(0))
        return {int(scores.index[i]): float(scores.value[i]) for i in turns}
