"""The lexical baseline's table: each tag's label and aliases, normalised, looked up by word n-grams (the
"simple match-based recall" the paper criticises, kept as a path of its own so it can be measured)."""

from __future__ import annotations

import re

import numpy as np

from llm4tag.library.tags import normalize_label
from llm4tag.recall.sparse import SparseScores

WORD = re.compile(r"\w[\w+#.-]*\w|\w", re.UNICODE)


class LabelMatcher:
    """Normalised label or alias → tag positions: lookups cost the same at any library size."""

    def __init__(self, table: dict[str, list[int]] | None = None) -> None:
        self.table = table or {}

    @classmethod
    def from_names(cls, names_by_tag: list[list[str]]) -> LabelMatcher:
        table: dict[str, list[int]] = {}
        for position, names in enumerate(names_by_tag):
            for name in names:
                key = " ".join(WORD.findall(normalize_label(name)))
                if key:
                    table.setdefault(key, []).append(position)
        return cls(table)

    def matches(self, text: str, max_words: int) -> SparseScores:
        """Score 1 for every tag whose label or an alias is a run of at most ``max_words`` words of ``text``."""
        words = WORD.findall(text.lower())
        hits: set[int] = set()
        for n in range(1, max_words + 1):
            for start in range(len(words) - n + 1):
                hit = self.table.get(" ".join(words[start : start + n]))
                if hit:
                    hits.update(hit)
        index = np.array(sorted(hits), dtype=np.int64)
        return SparseScores(index, np.ones(len(index), dtype=np.float32))
