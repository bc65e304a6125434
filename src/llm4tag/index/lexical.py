"""Sparse lexical similarity: TF-IDF over words and word bigrams.

Small sentence embeddings lose to plain lexical neighbours on short
technical texts, so recall fuses both. Raw term counts are kept (hashed, so
the vocabulary never has to be refitted) and IDF weights are recomputed from
them whenever the index is loaded or grows: adding documents one by one gives
exactly the index a rebuild would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

from llm4tag.fileio import atomic_write

N_FEATURES = 2**20
TOKEN_PATTERN = r"(?u)\b\w[\w+#.-]*\w\b|\b\w\b"


def make_vectorizer() -> HashingVectorizer:
    return HashingVectorizer(
        n_features=N_FEATURES,
        ngram_range=(1, 2),
        alternate_sign=False,
        norm=None,
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
        dtype=np.float32,
    )


class LexicalIndex:
    """TF-IDF cosine search over a growing collection of texts."""

    def __init__(self) -> None:
        self._vectorizer = make_vectorizer()
        self._counts = sp.csr_matrix((0, N_FEATURES), dtype=np.float32)
        self._transformer: TfidfTransformer | None = None
        self._weighted: sp.csr_matrix | None = None
        self._weighted_t: sp.csr_matrix | None = None

    @property
    def size(self) -> int:
        return self._counts.shape[0]

    def count_terms(self, texts: list[str]) -> sp.csr_matrix:
        """Raw (hashed) term counts of texts: what ``add_counts`` takes and ``save`` stores."""
        return self._vectorizer.transform(texts).astype(np.float32).tocsr()

    def add(self, texts: list[str]) -> None:
        if texts:
            self.add_counts(self.count_terms(texts))

    def add_counts(self, counts: sp.csr_matrix) -> None:
        if counts.shape[0]:
            self._counts = sp.vstack([self._counts, counts], format="csr")
            self._transformer = None
            self._weighted = None
            self._weighted_t = None

    @property
    def counts(self) -> sp.csr_matrix:
        return self._counts

    def _fit(self) -> None:
        if self._transformer is None:
            self._transformer = TfidfTransformer(sublinear_tf=True)
            counts = self._counts if self.size else sp.csr_matrix((1, N_FEATURES), dtype=np.float32)
            self._transformer.fit(counts)
            self._weighted = self._transformer.transform(self._counts).astype(np.float32).tocsr()
            # kept transposed as CSR: query @ weighted.T would otherwise convert the whole matrix every call
            self._weighted_t = self._weighted.T.tocsr()

    @property
    def weighted(self) -> sp.csr_matrix:
        """TF-IDF rows of the indexed texts (unit length)."""
        self._fit()
        return self._weighted

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """TF-IDF vectors of new texts, weighted with this index's IDF (rows are unit length)."""
        self._fit()
        assert self._transformer is not None
        return self._transformer.transform(self._vectorizer.transform(texts)).astype(np.float32).tocsr()

    def similarities(self, queries: sp.csr_matrix) -> sp.csr_matrix:
        """Cosine similarities of query rows to every indexed row (sparse)."""
        self._fit()
        return (queries @ self._weighted_t).tocsr()

    def search(self, queries: sp.csr_matrix, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per query: (positions, similarities) of the top ``k`` non-zero matches, best first."""
        return top_matches(self.similarities(queries), k)

    def save(self, path: Path) -> None:
        with atomic_write(path, "wb") as handle:
            sp.save_npz(handle, self._counts)

    @classmethod
    def load(cls, path: Path) -> LexicalIndex:
        index = cls()
        index._counts = sp.load_npz(path).tocsr().astype(np.float32)
        return index


def top_matches(sims: sp.csr_matrix, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per row of a similarity matrix: (positions, similarities) of the top ``k`` non-zero entries, best first."""
    out = []
    for row in range(sims.shape[0]):
        start, end = sims.indptr[row], sims.indptr[row + 1]
        cols, vals = sims.indices[start:end], sims.data[start:end]
        if len(vals) > k:
            top = np.argpartition(-vals, k)[:k]
            cols, vals = cols[top], vals[top]
        order = np.argsort(-vals, kind="stable")
        out.append((cols[order].astype(np.int64), vals[order].astype(np.float32)))
    return out
