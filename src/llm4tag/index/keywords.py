"""Short strings (a legacy keyword, a misspelt label) to tags by their names: exact label, alias or id first,
then character n-grams, which forgive typos, transposed letters and word order (scikit-learn's TF-IDF over
character n-grams inside word boundaries; no hand-written edit distance). The reconciliation service adds
meaning (embeddings) on top: ``pipeline.reconciliation``."""

from __future__ import annotations

import re

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from llm4tag.library.tags import TagLibrary, normalize_label

# each word of a name is matched too, a little below the whole name: a legacy keyword is often one word of a
# longer label ("python" for "Python Development"); measured in docs/benchmarks.md (reconciliation)
WORD_WEIGHT = 0.8
MIN_WORD = 3
_WORDS = re.compile(r"[^\W_]+")


class KeywordMatcher:
    """Every name of every active tag (labels and aliases in all languages, and ids) and each word of them,
    matched by spelling."""

    def __init__(self, library: TagLibrary) -> None:
        self.exact: dict[str, list[str]] = {}  # normalised name or id -> tags with it
        rows: list[tuple[str, str, float]] = []  # (tag id, normalised name, weight), one row per name or word
        for tag in library.active():
            keys = [k for k in dict.fromkeys(normalize_label(n) for n in [*tag.names(), tag.id]) if k]
            for key in keys:
                found = self.exact.setdefault(key, [])
                if tag.id not in found:
                    found.append(tag.id)
                rows.append((tag.id, key, 1.0))
            words = {w for key in keys for w in _WORDS.findall(key) if len(w) >= MIN_WORD} - set(keys)
            rows += [(tag.id, word, WORD_WEIGHT) for word in sorted(words)]
        self.row_tags = np.array([tag_id for tag_id, _, _ in rows], dtype=object)
        self.row_weights = np.array([weight for _, _, weight in rows], dtype=np.float64)
        # n-grams of 1-3 characters: a typo breaks fewer of them than of longer ones (on the debtags keywords,
        # 1-3 ranked misspelt labels and keywords right more often than 2-4 or 3-5: docs/benchmarks.md)
        self.vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
        self.names = self.vectoriser.fit_transform([name for _, name, _ in rows]) if rows else None

    def exact_matches(self, query: str) -> list[str]:
        """The tags with ``query`` as label, alias or id (case and spacing aside)."""
        return list(self.exact.get(normalize_label(query), []))

    def spelling(self, queries: list[str], k: int = 20) -> list[dict[str, float]]:
        """Per query, up to ``k`` tags by the cosine similarity of their closest name's character n-grams."""
        if self.names is None:
            return [{} for _ in queries]
        similarities = (self.vectoriser.transform([normalize_label(q) for q in queries]) @ self.names.T).tocsr()
        out = []
        for row in range(similarities.shape[0]):
            start, end = similarities.indptr[row], similarities.indptr[row + 1]
            best: dict[str, float] = {}
            for column, value in zip(similarities.indices[start:end], similarities.data[start:end]):
                tag_id = self.row_tags[column]
                value = value * self.row_weights[column]
                if value > best.get(tag_id, 0.0):
                    best[tag_id] = float(value)
            out.append(dict(sorted(best.items(), key=lambda item: -item[1])[:k]))
        return out
