"""The content–tag graph.

Nodes are annotated contents and tags. Edges:

* deterministic content→tag edges from annotations (``annotations``, a sparse
  contents × tags matrix);
* similarity content–content edges (dense + lexical nearest neighbours,
  found through the indexes, for stored contents and for new ones alike);
* similarity content–tag edges (content text vs. tag text);
* tag–tag edges from co-annotation (P(t2 | t1)) and tag-text embeddings.

Everything here is derived from the store and can be appended to: adding
contents or tags never requires a rebuild, and an appended graph equals a
rebuilt one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from llm4tag.corpus.documents import is_synthetic
from llm4tag.index.dense import DenseIndex, one_blas_thread
from llm4tag.index.lexical import LexicalIndex


class NewTags(NamedTuple):
    """Per tag position, whether recall knows the tag by its text alone, with a version that changes with it."""

    version: int
    mask: np.ndarray


class Prototypes(NamedTuple):
    """The active tags with few examples: their positions, a prototype vector each, which of them are new, and
    the new ones' text vectors."""

    positions: np.ndarray
    vectors: np.ndarray
    new: np.ndarray
    new_texts: np.ndarray


@dataclass
class ContentTagGraph:
    dim: int
    tag_ids: list[str] = field(default_factory=list)
    tag_texts: list[str] = field(default_factory=list)
    content_ids: list[str] = field(default_factory=list)
    exact_limit: int = 200_000
    nprobe: int = 16
    content_max_seq: int = 0  # the store's last content row already in the graph

    def __post_init__(self) -> None:
        self.tag_position: dict[str, int] = {t: i for i, t in enumerate(self.tag_ids)}
        self.content_position: dict[str, int] = {c: i for i, c in enumerate(self.content_ids)}
        self.content_dense = DenseIndex(self.dim, exact_limit=self.exact_limit, nprobe=self.nprobe)
        self.tag_dense = DenseIndex(self.dim, exact_limit=self.exact_limit, nprobe=self.nprobe)
        self.content_lexical = LexicalIndex()
        self._annotation_rows: list[np.ndarray] = []
        self._annotations: sp.csr_matrix | None = None
        self._tag_frequency: np.ndarray | None = None
        self._written_frequency: np.ndarray | None = None
        self._annotated: int | None = None  # contents with at least one tag
        self._cooccurrence: sp.csr_matrix | None = None
        self._tag_lexical: sp.csr_matrix | None = None
        self._tag_lexical_t: sp.csr_matrix | None = None
        self.active_tags = np.ones(0, dtype=bool)
        self._prototypes: tuple | None = None  # (key, what few_example_prototypes returns)
        self._tag_space_map: tuple[int, np.ndarray | None] | None = None  # (annotated contents fitted on, map)
        self._tag_neighbours: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._tag_neighbours_k = 0

    # -- growth ------------------------------------------------------------
    def add_tags(
        self, tag_ids: list[str], tag_texts: list[str], vectors: np.ndarray, active: list[bool] | None = None
    ) -> None:
        for tag_id in tag_ids:
            if tag_id in self.tag_position:
                raise ValueError(f"tag {tag_id!r} is already in the graph")
            self.tag_position[tag_id] = len(self.tag_ids)
            self.tag_ids.append(tag_id)
        self.tag_texts.extend(tag_texts)
        self.tag_dense.add(vectors)
        flags = np.array(active if active is not None else [True] * len(tag_ids), dtype=bool)
        self.active_tags = np.concatenate([self.active_tags, flags])
        self._tag_neighbours.clear()  # a new tag may be an old tag's new neighbour
        self._invalidate()

    def add_contents(
        self,
        content_ids: list[str],
        vectors: np.ndarray,
        tags: list[list[str]],
        *,
        texts: list[str] | None = None,
        term_counts: sp.csr_matrix | None = None,
    ) -> None:
        """Append annotated contents: their vectors, lexical terms (texts or stored counts) and annotations."""
        if term_counts is None:
            if texts is None:
                raise ValueError("give the contents' texts or their term counts")
            term_counts = self.content_lexical.count_terms(texts)
        if not (len(content_ids) == term_counts.shape[0] == len(vectors) == len(tags)):
            raise ValueError("content ids, texts, vectors and tags must have the same length")
        for content_id in content_ids:
            self.content_position[content_id] = len(self.content_ids)
            self.content_ids.append(content_id)
        self.content_dense.add(vectors)
        self.content_lexical.add_counts(term_counts)
        for doc_tags in tags:
            self._annotation_rows.append(
                np.array(sorted(self.tag_position[t] for t in doc_tags if t in self.tag_position), dtype=np.int64)
            )
        self._invalidate()

    def without_contents(self, content_ids: set[str]) -> ContentTagGraph:
        """A copy of the graph as if ``content_ids`` had never been added (no re-encoding: the kept rows' vectors
        and term counts are reused). Measuring what some contents add (synthetic ones) compares the two."""
        keep = np.array([c not in content_ids for c in self.content_ids], dtype=bool)
        rows = np.flatnonzero(keep)
        graph = ContentTagGraph(dim=self.dim, exact_limit=self.exact_limit, nprobe=self.nprobe)
        graph.add_tags(list(self.tag_ids), list(self.tag_texts), self.tag_dense.vectors, list(self.active_tags))
        graph.add_contents(
            [self.content_ids[r] for r in rows],
            self.content_dense.vectors[rows],
            [[self.tag_ids[t] for t in self._annotation_rows[r]] for r in rows],
            term_counts=self.content_lexical.counts[rows],
        )
        graph.content_max_seq = self.content_max_seq
        return graph

    def _invalidate(self) -> None:
        self._annotations = None
        self._tag_frequency = None
        self._written_frequency = None
        self._annotated = None
        self._cooccurrence = None
        self._tag_lexical = None
        self._tag_lexical_t = None

    # -- derived matrices --------------------------------------------------
    @property
    def n_tags(self) -> int:
        return len(self.tag_ids)

    @property
    def n_contents(self) -> int:
        return len(self.content_ids)

    @property
    def annotations(self) -> sp.csr_matrix:
        """Deterministic edges: contents × tags, 1 where a content is annotated with a tag."""
        if self._annotations is None:
            indptr = np.zeros(len(self._annotation_rows) + 1, dtype=np.int64)
            indptr[1:] = np.cumsum([len(r) for r in self._annotation_rows])
            indices = np.concatenate(self._annotation_rows) if self._annotation_rows else np.zeros(0, np.int64)
            self._annotations = sp.csr_matrix(
                (np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(self.n_contents, self.n_tags)
            )
        return self._annotations

    @property
    def cooccurrence(self) -> sp.csr_matrix:
        """Tag–tag edges from co-annotation: row t1 holds P(t2 | t1) for t2 != t1."""
        if self._cooccurrence is None:
            a = self.annotations
            counts = (a.T @ a).tocsr().astype(np.float32)
            frequency = np.asarray(counts.diagonal()).astype(np.float32)
            counts.setdiag(0)
            counts.eliminate_zeros()
            inverse = np.divide(1.0, frequency, out=np.zeros_like(frequency), where=frequency > 0)
            self._cooccurrence = sp.diags(inverse) @ counts
            self._cooccurrence = self._cooccurrence.tocsr()
        return self._cooccurrence

    @property
    def tag_frequency(self) -> np.ndarray:
        """Annotated examples per tag (kept until the graph changes: recall asks for it on every batch)."""
        if self._tag_frequency is None:
            self._tag_frequency = np.asarray(self.annotations.sum(axis=0)).ravel()
        return self._tag_frequency

    @property
    def written_tag_frequency(self) -> np.ndarray:
        """Annotated examples per tag that a person wrote: the synthetic contents (an LLM's) left out. A tag with
        none is still new to the slots reserved for tags with few examples (``reserved.py``)."""
        if self._written_frequency is None:
            synthetic = np.array([is_synthetic(c) for c in self.content_ids], dtype=bool)
            written = self.annotations[~synthetic] if synthetic.any() else self.annotations
            self._written_frequency = np.asarray(written.sum(axis=0)).ravel()
        return self._written_frequency

    @property
    def tag_lexical(self) -> sp.csr_matrix:
        """Tag texts as TF-IDF rows, weighted with the contents' IDF (so rare words weigh more)."""
        if self._tag_lexical is None:
            self._tag_lexical = self.content_lexical.transform(self.tag_texts) if self.tag_texts else None
        return self._tag_lexical

    def few_example_prototypes(
        self, max_examples: int, new: NewTags | None = None, limit: int = 50_000
    ) -> Prototypes | None:
        """The active tags with at most ``max_examples`` annotated examples (positions), a prototype vector for
        each (its text's embedding plus its examples', normalised: a tag without examples is its text; each
        example learned moves it towards what the tag looks like in use), which of them are new (no example at
        all, or as ``new`` says: ``reserved.ReservedSlots.new_tags``), and those ones' text embeddings,
        normalised (what ``tag_space_map`` matches). None above ``limit`` such tags (a huge library of mostly
        unused tags: C2T alone then fills the reserved slots)."""
        a = self.annotations
        key = (
            max_examples,
            self.n_contents,
            self.n_tags,
            a.nnz,
            int(self.active_tags.sum()),
            None if new is None else new.version,
        )
        if self._prototypes is not None and self._prototypes[0] == key:
            return self._prototypes[1]
        frequency = self.tag_frequency
        positions = np.flatnonzero((frequency <= max_examples) & self.active_tags[: self.n_tags])
        if len(positions) > limit or not len(positions):
            return None
        texts = _normalised(np.asarray(self.tag_dense.vectors[positions], dtype=np.float32))
        vectors = texts.copy()
        if self.n_contents:
            vectors = vectors + np.asarray(a[:, positions].T @ self.content_dense.vectors[: self.n_contents])
        unused = frequency[positions] == 0 if new is None else new.mask[positions]
        self._prototypes = (key, Prototypes(positions, _normalised(vectors), unused, texts[unused]))
        return self._prototypes[1]

    def tag_space_map(self, min_contents: int, ridge: float = 1.0, growth: float = 0.1) -> np.ndarray | None:
        """A linear map from a content's embedding into the tag texts' embedding space, fitted by ridge
        regression so that each annotated content lands near the (summed, normalised) texts of its tags.

        Why: a tag without examples is known by its short text only, and a long description lies far from a
        short label even where it carries the tag. Mapped, a content lands where contents of its kind were
        annotated, so a new tag is found by what the other tags' annotations taught (zero-shot). On the debtags
        cold-start split, the share of the held-out tags' occurrences among the candidates rose from 38% to 47%.

        None below ``min_contents`` annotated contents (too few to learn a map from). Refitted once the
        annotated contents grew or shrank by ``growth``: one learned content barely moves it, and a refit reads
        every content vector (0.3 s on debtags)."""
        if self._annotated is None:  # asked on every batch: counted once per change of the graph
            self._annotated = int(np.count_nonzero(np.diff(self.annotations.indptr)))
        fitted = self._tag_space_map
        if fitted is not None and abs(self._annotated - fitted[0]) <= growth * fitted[0]:
            return fitted[1]
        mapping = None
        if self._annotated >= min_contents:
            annotated = np.flatnonzero(np.diff(self.annotations.indptr) > 0)
            texts = _normalised(np.asarray(self.tag_dense.vectors[: self.n_tags], dtype=np.float32))
            gram = np.zeros((self.dim, self.dim))
            cross = np.zeros((self.dim, self.dim))
            # on one BLAS thread: the order of a product's sums depends on the thread count, and processes
            # that differ in it (Ray actors, service workers, a CLI run) must learn the same map to tag alike
            with one_blas_thread:
                for start in range(0, len(annotated), 50_000):  # bounded memory on a large corpus
                    rows = annotated[start : start + 50_000]
                    x = np.asarray(self.content_dense.vectors[rows], dtype=np.float64)
                    y = _normalised(np.asarray(self.annotations[rows] @ texts, dtype=np.float64))
                    gram += x.T @ x
                    cross += x.T @ y
                mapping = np.linalg.solve(gram + ridge * np.eye(self.dim), cross).astype(np.float32)
        self._tag_space_map = (self._annotated, mapping)
        return mapping

    def tag_neighbours(self, seeds: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each seed tag's ``k`` nearest tags by text embedding (itself left out) and their similarity squared:
        the C2T2T similarity edges. Memoised per tag, because they change only when tags are added, and the
        recall of every content would otherwise search the tag index again for its seeds."""
        if k != self._tag_neighbours_k:
            self._tag_neighbours, self._tag_neighbours_k = {}, k
        memo = self._tag_neighbours
        missing = [int(s) for s in seeds if int(s) not in memo]
        if missing:
            vectors = self.tag_dense.vectors
            _, found = self.tag_dense.search(vectors[missing], k + 1)
            for seed, row in zip(missing, found):
                near = row[(row >= 0) & (row != seed)].astype(np.int64)
                similar = np.clip(vectors[near] @ vectors[seed], 0, 1).astype(np.float64) ** 2
                memo[seed] = (near, similar)
        return [memo[int(s)] for s in seeds]

    def tag_lexical_similarities(self, queries: sp.csr_matrix) -> sp.csr_matrix | None:
        """Lexical cosine of query rows to every tag text (contents × tags, sparse)."""
        if self.tag_lexical is None:
            return None
        if self._tag_lexical_t is None:
            self._tag_lexical_t = self.tag_lexical.T.tocsr()
        return (queries @ self._tag_lexical_t).tocsr()


def _normalised(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
