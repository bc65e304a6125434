"""Which contents the library serves badly, and the groups they form.

A content is poorly covered when any of these holds (``Coverage``):

* ``low_confidence``: the best calibrated confidence of the recall-only pipeline is under ``min_confidence``
  (nothing in the library fits it well enough to be kept with confidence);
* ``broad_only``: every tag it carries (its annotations, or the pipeline's kept tags for a new content) is
  broad, on at least ``broad_share`` of the annotated contents (a package that is only "a program with a
  command line" says nothing about its subject);
* ``far``: its nearest annotated neighbour with any of its candidate tags is under ``min_similarity``.

Those signals read one content at a time. A group reads better: the groups are HDBSCAN's (scikit-learn) over
the embeddings (reduced to ``REDUCED_DIMENSIONS`` by PCA first, so that HDBSCAN's trees stay fast), of any
shape and size, and a content that belongs to no group is left out rather than forced into one; a group is
served badly when no specific tag (one under ``broad_share``) is carried by ``shared_share`` of its members
(``uncovered``): were the library to have its tag, the group would share it. On a project's own annotated
contents this group signal is the one that finds lost tags (docs/benchmarks.md); the contents' own signals
choose which new contents are grouped. Each group is named without an LLM by its most distinctive words
(c-TF-IDF, as BERTopic names topics): the baseline the LLM proposer has to beat.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import HDBSCAN
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import CountVectorizer

from llm4tag.corpus import Document
from llm4tag.pipeline.results import TaggingResult


@dataclass
class Coverage:
    """How well the library serves one content, and why it is flagged."""

    id: str
    best_confidence: float
    broad_only: bool
    nearest_similarity: float
    tags: list[str] = field(default_factory=list)  # its annotations, or the pipeline's kept tags
    reasons: list[str] = field(default_factory=list)

    @property
    def poorly_covered(self) -> bool:
        return bool(self.reasons)


def coverage(
    docs: list[Document],
    results: list[TaggingResult],
    prevalence: dict[str, float],
    *,
    min_confidence: float,
    broad_share: float,
    min_similarity: float,
) -> list[Coverage]:
    """The coverage of each content from its recall-only result; ``prevalence``: each tag's share of the
    annotated contents."""
    out = []
    for doc, result in zip(docs, results):
        best = max((t.score for t in result.ranked), default=0.0)
        tags = list(doc.tags) if doc.tags else [t.tag_id for t in result.tags]
        broad = bool(tags) and all(prevalence.get(t, 0.0) >= broad_share for t in tags)
        nearest = max((c.vote_similarity for c in result.recall.candidates), default=0.0)
        reasons = []
        if best < min_confidence:
            reasons.append("low_confidence")
        if broad or not tags:
            reasons.append("broad_only")
        if nearest < min_similarity:
            reasons.append("far")
        out.append(Coverage(doc.id, float(best), broad or not tags, float(nearest), tags, reasons))
    return out


REDUCED_DIMENSIONS = 64


def find_groups(vectors: np.ndarray, *, min_size: int, max_size: int | None = None) -> list[np.ndarray]:
    """Groups of rows of ``vectors`` (HDBSCAN on unit vectors: Euclidean distance ranks as cosine does),
    largest first; rows in no group are left out."""
    if len(vectors) < max(min_size, 2):
        return []
    vectors = np.asarray(vectors, dtype=np.float64)
    dimensions = min(REDUCED_DIMENSIONS, vectors.shape[0])
    if vectors.shape[1] > dimensions:
        vectors = PCA(dimensions, random_state=0).fit_transform(vectors)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels = HDBSCAN(min_cluster_size=min_size, max_cluster_size=max_size, copy=True).fit_predict(unit)
    groups = [np.flatnonzero(labels == label) for label in sorted(set(labels.tolist()) - {-1})]
    return sorted(groups, key=lambda rows: (-len(rows), int(rows[0])))


def uncovered(tag_lists: list[list[str]], prevalence: dict[str, float], *, broad_share: float,
              shared_share: float) -> tuple[bool, str | None, float]:  # fmt: skip
    """Whether a group's contents share no specific tag: (uncovered, the most shared specific tag, its share)."""
    counts = Counter(t for tags in tag_lists for t in set(tags) if prevalence.get(t, 0.0) < broad_share)
    if not counts:
        return True, None, 0.0
    tag, n = counts.most_common(1)[0]
    share = n / max(len(tag_lists), 1)
    return share < shared_share, tag, share


def distinctive_words(group_texts: list[list[str]], top: int = 5) -> list[list[str]]:
    """Each group's most distinctive words by class-based TF-IDF (BERTopic's c-TF-IDF: a word's frequency in
    the group, times log(1 + the average words per group / the word's frequency over all groups))."""
    if not group_texts:
        return []
    vectoriser = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z0-9+#-]+\b")
    try:
        counts = vectoriser.fit_transform([" ".join(texts) for texts in group_texts]).astype(np.float64)
    except ValueError:  # no word at all (empty texts)
        return [[] for _ in group_texts]
    words = vectoriser.get_feature_names_out()
    per_group = np.asarray(counts.sum(axis=1)).ravel()
    frequency = np.asarray(counts.sum(axis=0)).ravel()
    average = per_group.mean()
    tf = counts.multiply(1.0 / np.maximum(per_group, 1.0)[:, None]).tocsr()
    scores = tf.multiply(np.log1p(average / np.maximum(frequency, 1.0))[None, :]).tocsr()
    out = []
    for row in range(scores.shape[0]):
        start, end = scores.indptr[row], scores.indptr[row + 1]
        order = np.argsort(-scores.data[start:end])[:top]
        out.append([str(words[scores.indices[start + i]]) for i in order])
    return out
