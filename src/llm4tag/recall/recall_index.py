"""The recall graph of a project: built from the store, saved beside it, recovered when its files go bad.

Layout under the project directory::

    graph/state.json      what the files below were built from (store revision, sizes, checksums, ids digest)
    graph/*.npy, *.npz    vectors and term counts of tags and annotated contents
    graph/supervised.pkl  the learned recall path, with the store state it was fitted on

The store is the only source of truth. ``update()`` brings the graph up to date incrementally (only new
rows are encoded and appended); if the graph files do not match the store (a crash between writes, a
changed embedding model, an edited row), they are rebuilt from cached vectors without re-encoding.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from filelock import FileLock

from llm4tag.corpus.documents import ContentRow, Document, seeded_sample
from llm4tag.embedding.cache import CachedEmbedder
from llm4tag.fileio import atomic_write, sha256_of
from llm4tag.library.tags import Tag
from llm4tag.recall.graph import ContentTagGraph
from llm4tag.recall.perceptron import PerceptronScorer
from llm4tag.recall.recaller import LEARNED_PATHS, RecallConfig, Recaller, RecallResult
from llm4tag.recall.supervised import SupervisedScorer
from llm4tag.recall.tree import TreeScorer
from llm4tag.store.sqlite import Store

log = logging.getLogger(__name__)

GRAPH_FORMAT = 2  # 2: checksums and an ids digest in state.json
_FILES = {"tag_vectors": "tag_vectors.npy", "content_vectors": "content_vectors.npy", "terms": "content_terms.npz"}
_BATCH = 2048
_SCORERS = {"supervised": SupervisedScorer, "tree": TreeScorer, "mlp": PerceptronScorer}


@dataclass
class IndexReport:
    tags_added: int
    contents_added: int
    rebuilt: bool

    def __str__(self) -> str:
        how = "rebuilt" if self.rebuilt else "updated"
        return f"graph {how}: +{self.tags_added} tags, +{self.contents_added} annotated contents"


def _ids_digest(tag_ids: list[str], content_ids: list[str]) -> str:
    return hashlib.sha256("\x1f".join(tag_ids + ["\x1e"] + content_ids).encode()).hexdigest()


class RecallIndex:
    """The content–tag graph and the recaller over it, kept in step with the store.

    Thread-safe: the service recalls from two threads while ``update()`` may swap the graph.
    """

    def __init__(
        self,
        directory: str | Path,
        store: Store,
        embedder: Callable[[], CachedEmbedder],
        config: RecallConfig,
        *,
        exact_limit: int = 200_000,
        nprobe: int = 16,
    ) -> None:
        self.directory = Path(directory)
        self.store = store
        self._embedder = embedder
        self.config = config
        self.exact_limit, self.nprobe = exact_limit, nprobe
        self._graph: ContentTagGraph | None = None
        self._graph_stamp: tuple[str, int] | None = None
        self._recallers: dict[str, Recaller] = {}  # by configuration: ablations recall over the same graph
        self._held_out: tuple | None = None
        self._held_out_ids: frozenset[str] = frozenset()  # the split ``held_out_contents`` set aside last
        self._refit = False
        self._scorers: dict[str, object] = {}  # the learned paths in memory, by name: a few new contents reuse them
        self._stale = True
        self._lock = threading.RLock()
        # a service sets this: a learned path that no longer fits is refitted in a thread of its own while
        # recall goes on with the fitted one, and swapped in once ready (a refit takes minutes on a large project)
        self.refit_in_background = False
        self._refitting: dict[str, threading.Thread] = {}
        self.refits_done = 0  # background refits swapped in since this index was made (tests, /metrics)

    @property
    def embedder(self) -> CachedEmbedder:
        return self._embedder()

    def mark_stale(self) -> None:
        """The store changed: the next recall brings the graph up to date first."""
        self._stale = True

    # -- the graph ----------------------------------------------------------------
    def update(self, *, save: bool = True, refit: bool = False) -> IndexReport:
        """Bring the graph up to date with the store, encoding only what was never encoded; ``refit``: the
        learned paths too, now (they are otherwise refitted once the contents grew by ``refit_growth``)."""
        with self._lock:
            report = self._update(save=save)
            if refit:
                self._refit, self._recallers = True, {}
                try:
                    self.warm()
                finally:
                    self._refit = False
            return report

    def _update(self, *, save: bool) -> IndexReport:
        embedder = self.embedder
        stamp = (embedder.embedder.name, self.store.revision)
        graph = self._graph if self._graph_stamp == stamp else None
        if graph is None:
            state = self._read_state()
            if (
                state
                and state.get("format") == GRAPH_FORMAT
                and state.get("embedder") == stamp[0]
                and state.get("revision") == stamp[1]
            ):
                graph = self._load(state)
        rebuilt = graph is None
        if graph is None:
            graph = self._empty_graph(embedder.dim)
        new_tags = list(self.store.tag_library())[graph.n_tags :]
        if new_tags:
            texts = [t.text() for t in new_tags]
            vectors = embedder.encode(texts, persist=True)  # the graph's own: always stored
            graph.add_tags([t.id for t in new_tags], texts, vectors, [not t.deprecated for t in new_tags])
        rows = self.store.content_rows(graph.content_max_seq)
        if rows:
            tags_by_seq = self._annotations_by_seq(graph.content_max_seq)
            for start in range(0, len(rows), _BATCH * 8):
                chunk = rows[start : start + _BATCH * 8]
                texts = [r.text for r in chunk]
                graph.add_contents(
                    [r.id for r in chunk],
                    embedder.encode(texts, persist=True),  # the graph's own: always stored
                    [tags_by_seq.get(r.seq, []) for r in chunk],
                    texts=texts,
                )
            graph.content_max_seq = rows[-1].seq
        changed = rebuilt or bool(new_tags) or bool(rows)
        if save and changed:
            self._save(graph)
        if changed:
            self._recallers = {}
        self._graph, self._graph_stamp, self._stale = graph, stamp, False
        return IndexReport(tags_added=len(new_tags), contents_added=len(rows), rebuilt=rebuilt)

    @property
    def graph(self) -> ContentTagGraph:
        """The graph, brought up to date first when this process changed the store, or another one did (several
        service workers on one project: a content learned through one is recalled by all from the next batch)."""
        with self._lock:
            if self._stale or self._graph is None:
                self.update()
            elif self.store.changed_elsewhere():
                self._update(save=False)  # the process that wrote saves the files
            assert self._graph is not None
            return self._graph

    @property
    def recaller(self) -> Recaller:
        return self.recaller_for(self.config)

    def warm(self) -> None:
        """The graph up to date and the learned paths loaded (or fitted): a service is ready only after this."""
        self.recaller_for(self.config).prepare()

    def recaller_for(self, config: RecallConfig) -> Recaller:
        """A recaller over the current graph with ``config`` (the project's, or an ablation's)."""
        with self._lock:
            graph = self.graph
            key = repr(config)
            recaller = self._recallers.get(key)
            if recaller is None:
                recaller = self._new_recaller(graph, config)
                recaller.learned = self._learned_scorers(graph, config)
                self._recallers[key] = recaller
            return recaller

    def _new_recaller(self, graph: ContentTagGraph, config: RecallConfig) -> Recaller:
        recaller = Recaller(graph, config)
        library = self.store.tag_library()
        recaller.set_names([library[t].names() for t in graph.tag_ids])
        return recaller

    def recall(
        self,
        texts: list[str],
        *,
        top_n: int | None = None,
        weights: dict[str, float] | None = None,
        exclude: list[str | None] | None = None,
        config: RecallConfig | None = None,
    ) -> list[RecallResult]:
        """Candidate tags with provenance for each text; ``exclude`` leaves a stored content out of its own recall;
        ``config`` recalls with other settings than the project's (ablations)."""
        out: list[RecallResult] = []
        for start in range(0, len(texts), _BATCH):
            batch = texts[start : start + _BATCH]
            skip = exclude[start : start + _BATCH] if exclude else None
            vectors = self.embedder.encode(batch)
            with self._lock:
                recaller = self.recaller_for(config or self.config)
                out.extend(recaller.recall(batch, vectors, top_n=top_n, weights=weights, exclude=skip))
        return out

    # -- the learned paths ----------------------------------------------------------
    def _learned_scorers(self, graph: ContentTagGraph, config: RecallConfig) -> dict[str, object]:
        """The learned recall paths that have a weight, each refitted when the annotated contents changed."""
        out = {}
        for name in LEARNED_PATHS:
            if config.weights.get(name, 0.0) > 0 and graph.n_contents:
                out[name] = self._learned_scorer(name, graph, config)
        return out

    def _annotated(self, graph: ContentTagGraph, leave_out: set[str] = frozenset()) -> tuple[list, dict]:
        tags_by_seq = self._annotations_by_seq()
        rows = [
            r
            for r in self.store.content_rows()
            if r.seq <= graph.content_max_seq and tags_by_seq.get(r.seq) and r.id not in leave_out
        ]
        return rows, tags_by_seq

    def _fit(self, name: str, config: RecallConfig, graph: ContentTagGraph, rows: list[ContentRow], tags_by_seq: dict):
        distinct = len({t for r in rows for t in tags_by_seq[r.seq]})
        too_many = _SCORERS[name].dense_per_tag and distinct > config.supervised_max_tags
        if len(rows) < config.supervised_min_contents or too_many:
            log.info("%s recall path skipped: %d annotated contents, %d tags", name, len(rows), distinct)
            return None
        log.info("fitting the %s recall path on %d annotated contents", name, len(rows))
        scorer = _SCORERS[name]()
        vectors = graph.content_dense.vectors[[graph.content_position[r.id] for r in rows]]
        return scorer.fit([r.text for r in rows], [tags_by_seq[r.seq] for r in rows], vectors)

    def _still_fits(self, fitted: tuple | None, now: tuple, config: RecallConfig) -> bool:
        """A learned path is refitted when rows were edited (the store's revision moved), on demand (``refit``),
        or once the contents grew by ``refit_growth``; a few added contents reuse it (the graph paths see them
        at once): adding 100 contents to 17,000 costs seconds, not a three-minute refit."""
        if fitted is None or self._refit or fitted[0] != now[0] or fitted[1] > now[1]:
            return False
        return now[2] <= fitted[2] * (1 + config.refit_growth)

    def _learned_scorer(self, name: str, graph: ContentTagGraph, config: RecallConfig):
        path = self.directory / f"{name}.pkl"
        stamp = (self.store.revision, graph.content_max_seq, graph.n_contents)
        held = self._scorers.get(name)
        if held is not None and self._still_fits(getattr(held, "stamp", None), stamp, config):
            return held  # not read again from disk after every learned content (0.2 s on debtags)
        if held is not None and self.refit_in_background and not self._refit:
            self._refit_later(name, path, stamp, graph, config)
            return held
        self._scorers[name] = self._loaded_or_fitted(name, path, stamp, graph, config)
        return self._scorers[name]

    def refitting(self) -> list[str]:
        """The learned paths being refitted in the background now."""
        with self._lock:
            return sorted(name for name, thread in self._refitting.items() if thread.is_alive())

    def _refit_later(self, name: str, path: Path, stamp: tuple, graph: ContentTagGraph, config: RecallConfig) -> None:
        """Refit ``name`` in a thread (one at a time per path) and swap it in when it is ready: recallers made
        after that use it; those in use keep the fitted one until then. A write during the refit starts another
        once this one is in (its stamp no longer fits)."""
        running = self._refitting.get(name)
        if running is not None and running.is_alive():
            return

        def refit() -> None:
            try:
                scorer = self._loaded_or_fitted(name, path, stamp, graph, config)
            except Exception:  # noqa: BLE001 - the fitted path keeps serving; the next batch tries again
                log.exception("background refit of the %s recall path failed; the fitted one keeps serving", name)
                return
            with self._lock:
                self._scorers[name] = scorer
                self._recallers = {}
                self.refits_done += 1
            log.info("the %s recall path was refitted in the background and is in use", name)

        thread = threading.Thread(target=refit, name=f"llm4tag-refit-{name}", daemon=True)
        self._refitting[name] = thread
        thread.start()

    def _loaded_or_fitted(self, name: str, path: Path, stamp: tuple, graph: ContentTagGraph, config: RecallConfig):
        self.directory.mkdir(parents=True, exist_ok=True)
        # one process at a time: service workers that see the same growth do not both refit and write the same
        # files; the second loads what the first saved
        with FileLock(self.directory / f".{name}.lock"):
            if path.exists():
                try:
                    scorer = _SCORERS[name].load(path)
                except Exception as exc:  # noqa: BLE001 - a derived file: refit it from the store
                    log.warning("%s is unreadable (%s); refitting it from the store", path, exc)
                    scorer = None
                if self._still_fits(getattr(scorer, "stamp", None), stamp, config):
                    return scorer
            scorer = self._fit(name, config, graph, *self._annotated(graph))
            if scorer is not None:
                scorer.stamp = stamp
                scorer.save(path)
            return scorer

    def recall_documents(self, docs: list[Document], config: RecallConfig | None = None) -> list[RecallResult]:
        return self.recall([d.text for d in docs], config=config)

    def use_config(self, config: RecallConfig) -> None:
        """Recall with these settings from now on (updated in place: the project's configuration is this object)."""
        with self._lock:
            for field in dataclasses.fields(config):
                setattr(self.config, field.name, getattr(config, field.name))

    def held_out_contents(self, *, seed: int = 0, share: float = 0.1, at_most: int = 2000) -> list[Document]:
        """A seeded share of the project's annotated contents to tune on when the user has no dev file."""
        graph = self.graph
        rows, tags_by_seq = self._annotated(graph)
        docs = [Document(r.id, r.text, tags_by_seq[r.seq]) for r in rows]
        chosen = seeded_sample(docs, min(at_most, max(1, round(len(docs) * share))), seed)
        self._held_out_ids = frozenset(d.id for d in chosen)
        return chosen

    def recall_held_out(self, docs: list[Document]) -> list[RecallResult]:
        """Recall for annotated contents of the project as if they had never been annotated (see below)."""
        ids = [d.id for d in docs]
        # the whole split is left out at once, so a pipeline running it batch by batch fits the learned paths once
        split = self._held_out_ids if self._held_out_ids.issuperset(ids) else frozenset(ids)
        recaller = self.held_out_recaller(split)
        texts = [d.text for d in docs]
        vectors = self.embedder.encode(texts)
        with self._lock:
            return recaller.recall(texts, vectors, exclude=ids)

    def held_out_recaller(self, ids: set[str]) -> Recaller:
        """A recaller as if the contents ``ids`` had never been annotated: its learned paths are fitted without
        them (recall them with ``exclude`` so they are not their own neighbours either). Calibration uses it to
        learn from the project's own annotated contents when there is no separate dev file."""
        with self._lock:
            base = self.recaller
            key = (id(base), frozenset(ids))
            if self._held_out is not None and self._held_out[0] == key:
                return self._held_out[1]
            recaller = self._new_recaller(base.graph, self.config)
            rows, tags_by_seq = self._annotated(base.graph, leave_out=ids)
            recaller.learned = {
                name: self._fit(name, self.config, base.graph, rows, tags_by_seq) for name in base.learned
            }
            self._held_out = (key, recaller)  # calibrate, then optimize, on the same split: fitted once
            return recaller

    # -- files ----------------------------------------------------------------------
    def _empty_graph(self, dim: int) -> ContentTagGraph:
        return ContentTagGraph(dim=dim, exact_limit=self.exact_limit, nprobe=self.nprobe)

    def _annotations_by_seq(self, after_seq: int = 0) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for seq, tag_id in self.store.annotations(after_seq):
            out.setdefault(seq, []).append(tag_id)
        return out

    def _read_state(self) -> dict | None:
        try:
            return json.loads((self.directory / "state.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def _load(self, state: dict) -> ContentTagGraph | None:
        """The saved graph if it matches ``state`` and the store; None if anything is off (then the caller
        rebuilds it from cached vectors), with a warning that says what was off."""
        checked = self._check_files(state)
        if isinstance(checked, str):
            log.warning(
                "graph files in %s: %s; rebuilding them from the store (cached vectors)", self.directory, checked
            )
            return None
        tag_vectors, content_vectors, term_counts, tags, rows = checked
        graph = self._empty_graph(tag_vectors.shape[1] if tag_vectors.size else self.embedder.dim)
        graph.add_tags([t.id for t in tags], [t.text() for t in tags], tag_vectors, [not t.deprecated for t in tags])
        tags_by_seq = self._annotations_by_seq()
        graph.add_contents(
            [r.id for r in rows], content_vectors, [tags_by_seq.get(r.seq, []) for r in rows], term_counts=term_counts
        )
        graph.content_max_seq = state["content_max_seq"]
        return graph

    def _check_files(
        self, state: dict
    ) -> str | tuple[np.ndarray, np.ndarray, sp.csr_matrix, list[Tag], list[ContentRow]]:
        """The saved arrays, tags and content rows, or a string saying why they cannot be trusted: a checksum
        that does not match (truncated, edited, swapped file), a shape that does not fit the store or the
        embedder, ids in another order, or vectors that differ from the store's cached ones."""
        for filename in _FILES.values():
            path = self.directory / filename
            if not path.is_file():
                return f"{filename} is missing"
            if state.get("sha256", {}).get(filename) != sha256_of(path):
                return f"{filename} does not match the checksum recorded when it was written"
        try:
            tag_vectors = np.load(self.directory / _FILES["tag_vectors"], allow_pickle=False)
            content_vectors = np.load(self.directory / _FILES["content_vectors"], allow_pickle=False)
            term_counts = sp.load_npz(self.directory / _FILES["terms"]).tocsr().astype(np.float32)
        except (OSError, ValueError) as exc:
            return f"unreadable ({exc})"
        embedder = self.embedder
        tags = list(self.store.tag_library())[: state["tags"]]
        rows = [r for r in self.store.content_rows() if r.seq <= state["content_max_seq"]]
        expected = {
            "tag vectors": ((len(tags), embedder.dim), tag_vectors.shape),
            "content vectors": ((len(rows), embedder.dim), content_vectors.shape),
        }
        for what, (want, got) in expected.items():
            if (want[0] and tuple(got) != want) or (not want[0] and got[0] != 0):
                return f"{what} have shape {tuple(got)}, the store and embedder need {want}"
        if term_counts.shape[0] != len(rows) or len(tags) != state["tags"] or len(rows) != state["contents"]:
            return "their sizes do not match the store"
        if state.get("ids") != _ids_digest([t.id for t in tags], [r.id for r in rows]):
            return "their tag or content ids differ from the store's"
        step = max(1, len(rows) // 16)
        cached = self.store.cached_vectors(embedder.embedder.name, [r.text_hash for r in rows[::step]])
        for i in range(0, len(rows), step):
            vector = cached.get(rows[i].text_hash)
            if vector is not None and not np.allclose(vector, content_vectors[i], atol=1e-4):
                return f"the vector of content {rows[i].id!r} differs from the one cached in the store (rows moved?)"
        return tag_vectors, content_vectors, term_counts, tags, rows

    def _save(self, graph: ContentTagGraph) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.directory / _FILES["tag_vectors"], "wb") as handle:
            np.save(handle, graph.tag_dense.vectors)
        with atomic_write(self.directory / _FILES["content_vectors"], "wb") as handle:
            np.save(handle, graph.content_dense.vectors)
        with atomic_write(self.directory / _FILES["terms"], "wb") as handle:
            # uncompressed: every learned content saves the graph, and zlib took 0.35 of the 0.45 s on debtags
            # (15 MB instead of 4 MB on disk; older compressed files load as before)
            sp.save_npz(handle, graph.content_lexical.counts, compressed=False)
        state = {
            "format": GRAPH_FORMAT,
            "embedder": self.embedder.embedder.name,
            "revision": self.store.revision,
            "tags": graph.n_tags,
            "contents": graph.n_contents,
            "content_max_seq": graph.content_max_seq,
            "ids": _ids_digest(graph.tag_ids, graph.content_ids),
            "sha256": {name: sha256_of(self.directory / name) for name in _FILES.values()},
        }
        with atomic_write(self.directory / "state.json") as handle:
            json.dump(state, handle, indent=2)
