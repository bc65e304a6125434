"""The graph's files under ``graph/``: vectors and term counts of tags and annotated contents, and
``state.json`` saying what they were built from (store revision, sizes, checksums, an ids digest). Files that
do not match the store are never trusted: ``check`` says why, and the recall index rebuilds them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from llm4tag.corpus.documents import ContentRow
from llm4tag.fileio import atomic_write, sha256_of
from llm4tag.library.tags import Tag
from llm4tag.recall.graph import ContentTagGraph
from llm4tag.store.base import Store

GRAPH_FORMAT = 2  # 2: checksums and an ids digest in state.json
STATE_FILE = "state.json"
_FILES = {"tag_vectors": "tag_vectors.npy", "content_vectors": "content_vectors.npy", "terms": "content_terms.npz"}


class SavedGraph(NamedTuple):
    """The saved arrays, and the store's tags and content rows they belong to."""

    tag_vectors: np.ndarray
    content_vectors: np.ndarray
    term_counts: sp.csr_matrix
    tags: list[Tag]
    rows: list[ContentRow]


def ids_digest(tag_ids: list[str], content_ids: list[str]) -> str:
    return hashlib.sha256("\x1f".join(tag_ids + ["\x1e"] + content_ids).encode()).hexdigest()


def read_state(directory: Path) -> dict | None:
    try:
        return json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def check(directory: Path, state: dict, store: Store, embedder) -> str | SavedGraph:
    """The saved arrays, tags and content rows, or a string saying why they cannot be trusted: a checksum
    that does not match (truncated, edited, swapped file), a shape that does not fit the store or the
    embedder, ids in another order, or vectors that differ from the store's cached ones."""
    for filename in _FILES.values():
        path = directory / filename
        if not path.is_file():
            return f"{filename} is missing"
        if state.get("sha256", {}).get(filename) != sha256_of(path):
            return f"{filename} does not match the checksum recorded when it was written"
    try:
        tag_vectors = np.load(directory / _FILES["tag_vectors"], allow_pickle=False)
        content_vectors = np.load(directory / _FILES["content_vectors"], allow_pickle=False)
        term_counts = sp.load_npz(directory / _FILES["terms"]).tocsr().astype(np.float32)
    except (OSError, ValueError) as exc:
        return f"unreadable ({exc})"
    tags = list(store.tag_library())[: state["tags"]]
    rows = [r for r in store.content_rows() if r.seq <= state["content_max_seq"]]
    expected = {
        "tag vectors": ((len(tags), embedder.dim), tag_vectors.shape),
        "content vectors": ((len(rows), embedder.dim), content_vectors.shape),
    }
    for what, (want, got) in expected.items():
        if (want[0] and tuple(got) != want) or (not want[0] and got[0] != 0):
            return f"{what} have shape {tuple(got)}, the store and embedder need {want}"
    if term_counts.shape[0] != len(rows) or len(tags) != state["tags"] or len(rows) != state["contents"]:
        return "their sizes do not match the store"
    if state.get("ids") != ids_digest([t.id for t in tags], [r.id for r in rows]):
        return "their tag or content ids differ from the store's"
    step = max(1, len(rows) // 16)
    cached = store.cached_vectors(embedder.embedder.name, [r.text_hash for r in rows[::step]])
    for i in range(0, len(rows), step):
        vector = cached.get(rows[i].text_hash)
        if vector is not None and not np.allclose(vector, content_vectors[i], atol=1e-4):
            return f"the vector of content {rows[i].id!r} differs from the one cached in the store (rows moved?)"
    return SavedGraph(tag_vectors, content_vectors, term_counts, tags, rows)


def save(directory: Path, graph: ContentTagGraph, *, embedder_name: str, revision: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_write(directory / _FILES["tag_vectors"], "wb") as handle:
        np.save(handle, graph.tag_dense.vectors)
    with atomic_write(directory / _FILES["content_vectors"], "wb") as handle:
        np.save(handle, graph.content_dense.vectors)
    with atomic_write(directory / _FILES["terms"], "wb") as handle:
        # uncompressed: every learned content saves the graph, and zlib took most of that time
        # (docs/experiments/recall-speed.md); older compressed files load as before
        sp.save_npz(handle, graph.content_lexical.counts, compressed=False)
    state = {
        "format": GRAPH_FORMAT,
        "embedder": embedder_name,
        "revision": revision,
        "tags": graph.n_tags,
        "contents": graph.n_contents,
        "content_max_seq": graph.content_max_seq,
        "ids": ids_digest(graph.tag_ids, graph.content_ids),
        "sha256": {name: sha256_of(directory / name) for name in _FILES.values()},
    }
    with atomic_write(directory / STATE_FILE) as handle:
        json.dump(state, handle, indent=2)
