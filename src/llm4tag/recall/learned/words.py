"""The word features the word-based learned paths share: TF-IDF over words and word pairs, kept as JSON
(the vocabulary) and an array (the inverse document frequencies) rather than a pickle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from llm4tag.fileio import atomic_write

VOCABULARY_FILE = "words.json"


def word_vectoriser(*, max_features: int, min_df: int) -> TfidfVectorizer:
    return TfidfVectorizer(sublinear_tf=True, min_df=min_df, ngram_range=(1, 2), max_features=max_features)


def vectoriser_arrays(vectoriser: TfidfVectorizer) -> dict[str, np.ndarray]:
    return {"idf": vectoriser.idf_}


def save_vocabulary(vectoriser: TfidfVectorizer, directory: Path) -> None:
    vocabulary = {term: int(column) for term, column in vectoriser.vocabulary_.items()}
    with atomic_write(directory / VOCABULARY_FILE) as handle:
        json.dump(
            {"min_df": vectoriser.min_df, "max_features": vectoriser.max_features, "vocabulary": vocabulary}, handle
        )


def restore_vectoriser(arrays: dict[str, np.ndarray], directory: Path) -> TfidfVectorizer:
    saved = json.loads((directory / VOCABULARY_FILE).read_text(encoding="utf-8"))
    return fitted_vectoriser(
        saved["vocabulary"], arrays["idf"], min_df=saved["min_df"], max_features=saved["max_features"]
    )


def fitted_vectoriser(
    vocabulary: dict[str, int], idf: np.ndarray, *, min_df: int, max_features: int | None
) -> TfidfVectorizer:
    """A vectoriser that transforms as the one fitted with this vocabulary and these frequencies did."""
    vectoriser = word_vectoriser(max_features=max_features, min_df=min_df)
    vectoriser.vocabulary_ = dict(vocabulary)
    vectoriser.idf_ = np.asarray(idf, dtype=np.float64)
    return vectoriser


def terms_of(vectoriser: TfidfVectorizer) -> np.ndarray:
    """The word or word pair of each feature column (to show which words drove a score)."""
    terms = np.empty(len(vectoriser.vocabulary_), dtype=object)
    for term, column in vectoriser.vocabulary_.items():
        terms[column] = term
    return terms
