"""The recall graph of a project: built from the store, saved beside it, recovered when its files go bad.

Layout under the project directory::

    graph/state.json        what the files below were built from (``graph_files.py``)
    graph/*.npy, *.npz      vectors and term counts of tags and annotated contents
    graph/learned/<name>/   each learned recall path, with the store state it was fitted on (``refits.py``)

The store is the only source of truth. ``update()`` brings the graph up to date incrementally (only new
rows are encoded and appended); if the graph files do not match the store (a crash between writes, a
changed embedding model, an edited row), they are rebuilt from cached vectors without re-encoding.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from llm4tag.corpus.documents import Document, is_synthetic, seeded_sample
from llm4tag.embedding.cache import CachedEmbedder
from llm4tag.recall import graph_files
from llm4tag.recall.graph import ContentTagGraph
from llm4tag.recall.labels import LabelMatcher
from llm4tag.recall.recaller import Recaller
from llm4tag.recall.refits import Annotated, LearnedPaths, fit_path
from llm4tag.recall.results import RecallResult
from llm4tag.recall.settings import RecallConfig
from llm4tag.store.base import Store

log = logging.getLogger(__name__)

_BATCH = 2048


@dataclass
class IndexReport:
    tags_added: int
    contents_added: int
    rebuilt: bool

    def __str__(self) -> str:
        how = "rebuilt" if self.rebuilt else "updated"
        return f"graph {how}: +{self.tags_added} tags, +{self.contents_added} annotated contents"


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
        self._stale = True
        self._lock = threading.RLock()
        self.learned = LearnedPaths(self.directory, self._annotated, store, self._lock, self._forget_recallers)

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
                self.learned.refit_now, self._recallers = True, {}
                try:
                    self.warm()
                finally:
                    self.learned.refit_now = False
            return report

    def _update(self, *, save: bool) -> IndexReport:
        embedder = self.embedder
        stamp = (embedder.embedder.name, self.store.revision)
        graph = self._graph if self._graph_stamp == stamp else None
        if graph is None:
            state = graph_files.read_state(self.directory)
            if (
                state
                and state.get("format") == graph_files.GRAPH_FORMAT
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
            graph_files.save(self.directory, graph, embedder_name=embedder.embedder.name, revision=self.store.revision)
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
            if self.learned.adopt_shared():  # another replica refitted: its paths replace the ones held here
                self._recallers = {}
            key = repr(config)
            recaller = self._recallers.get(key)
            if recaller is None:
                recaller = self._new_recaller(graph, config)
                recaller.learned = self.learned.for_config(graph, config)
                self._recallers[key] = recaller
            return recaller

    def _new_recaller(self, graph: ContentTagGraph, config: RecallConfig) -> Recaller:
        library = self.store.tag_library()
        return Recaller(graph, config, LabelMatcher.from_names([library[t].names() for t in graph.tag_ids]))

    def _forget_recallers(self) -> None:
        self._recallers = {}

    @property
    def refit_in_background(self) -> bool:
        return self.learned.in_background

    @refit_in_background.setter
    def refit_in_background(self, value: bool) -> None:
        self.learned.in_background = value

    def refitting(self) -> list[str]:
        return self.learned.refitting()

    @property
    def refits_done(self) -> int:
        return self.learned.refits_done

    def modified(self) -> float | None:
        """When the graph's files were last written (seconds since the epoch), or None before the first time."""
        try:
            return os.stat(self.directory / graph_files.STATE_FILE).st_mtime
        except OSError:
            return None

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
    def _annotated(self, graph: ContentTagGraph, leave_out: set[str] = frozenset()) -> Annotated:
        tags_by_seq = self._annotations_by_seq()
        rows = [
            r
            for r in self.store.content_rows()
            if r.seq <= graph.content_max_seq and tags_by_seq.get(r.seq) and r.id not in leave_out
        ]
        return Annotated(rows, tags_by_seq)

    def recall_documents(self, docs: list[Document], config: RecallConfig | None = None) -> list[RecallResult]:
        return self.recall([d.text for d in docs], config=config)

    def use_config(self, config: RecallConfig) -> None:
        """Recall with these settings from now on (updated in place: the project's configuration is this object)."""
        with self._lock:
            for field in dataclasses.fields(config):
                setattr(self.config, field.name, getattr(config, field.name))

    def held_out_contents(self, *, seed: int = 0, share: float = 0.1, at_most: int = 2000) -> list[Document]:
        """A seeded share of the project's annotated contents to tune on when the user has no dev file; never a
        synthetic one (an LLM wrote it: it is no gold)."""
        graph = self.graph
        rows, tags_by_seq = self._annotated(graph)
        docs = [Document(r.id, r.text, tags_by_seq[r.seq]) for r in rows if not is_synthetic(r.id)]
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

    def held_out_recaller(self, ids: set[str], *, without: set[str] = frozenset()) -> Recaller:
        """A recaller as if the contents ``ids`` had never been annotated: its learned paths are fitted without
        them (recall them with ``exclude`` so they are not their own neighbours either). Calibration uses it to
        learn from the project's own annotated contents when there is no separate dev file. ``without``: contents
        left out of the graph altogether (to measure what they add: ``llm4tag synthesize --check``)."""
        with self._lock:
            base = self.recaller
            key = (id(base), frozenset(ids), frozenset(without))
            if self._held_out is not None and self._held_out[0] == key:
                return self._held_out[1]
            graph = base.graph.without_contents(set(without)) if without else base.graph
            recaller = self._new_recaller(graph, self.config)
            annotated = self._annotated(graph, leave_out=set(ids) | set(without))
            recaller.learned = {name: fit_path(name, self.config, graph, annotated) for name in base.learned}
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

    def _load(self, state: dict) -> ContentTagGraph | None:
        """The saved graph if it matches ``state`` and the store; None if anything is off (then the caller
        rebuilds it from cached vectors), with a warning that says what was off."""
        saved = graph_files.check(self.directory, state, self.store, self.embedder)
        if isinstance(saved, str):
            log.warning("graph files in %s: %s; rebuilding them from the store (cached vectors)", self.directory, saved)
            return None
        graph = self._empty_graph(saved.tag_vectors.shape[1] if saved.tag_vectors.size else self.embedder.dim)
        tags = saved.tags
        graph.add_tags(
            [t.id for t in tags], [t.text() for t in tags], saved.tag_vectors, [not t.deprecated for t in tags]
        )
        tags_by_seq = self._annotations_by_seq()
        graph.add_contents(
            [r.id for r in saved.rows],
            saved.content_vectors,
            [tags_by_seq.get(r.seq, []) for r in saved.rows],
            term_counts=saved.term_counts,
        )
        graph.content_max_seq = state["content_max_seq"]
        return graph
