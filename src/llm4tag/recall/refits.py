"""The learned recall paths' lifecycle: fitted once a project has enough annotated contents, kept beside the
graph (``graph/learned/<name>/``), reused while they still fit, refitted when they no longer do (in a thread
of its own for a service, so tagging goes on with the fitted ones)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from filelock import FileLock, Timeout

from llm4tag.corpus.documents import ContentRow
from llm4tag.errors import StoreUnavailable
from llm4tag.recall.graph import ContentTagGraph
from llm4tag.recall.learned import legacy, new_path, path_class
from llm4tag.recall.learned.base import LearnedPath
from llm4tag.recall.settings import LEARNED_PATHS, RecallConfig
from llm4tag.store.base import Store
from llm4tag.store.shared_files import pull_directory, push_directory

log = logging.getLogger(__name__)

SHARED_SECONDS = 2.0  # a replica compares its learned paths with the store's at most this often


class Stamp(NamedTuple):
    """What a learned path was fitted on: the store's revision and the annotated contents it held."""

    revision: int
    content_max_seq: int
    contents: int


class Annotated(NamedTuple):
    """The annotated contents a learned path learns from, and the tags of each (by the row's seq)."""

    rows: list[ContentRow]
    tags_by_seq: dict[int, list[str]]


def fit_path(name: str, config: RecallConfig, graph: ContentTagGraph, annotated: Annotated) -> LearnedPath | None:
    """``name`` fitted on ``annotated``, or None where the project has too few contents or too many tags for it."""
    rows, tags_by_seq = annotated
    distinct = len({t for r in rows for t in tags_by_seq[r.seq]})
    too_many = path_class(name).dense_per_tag and distinct > config.learned_max_tags
    if len(rows) < config.learned_min_contents or too_many:
        log.info("%s recall path skipped: %d annotated contents, %d tags", name, len(rows), distinct)
        return None
    log.info("fitting the %s recall path on %d annotated contents", name, len(rows))
    vectors = graph.content_dense.vectors[[graph.content_position[r.id] for r in rows]]
    path = new_path(name, config.paths.get(name))
    return path.fit([r.text for r in rows], [tags_by_seq[r.seq] for r in rows], vectors)


class LearnedPaths:
    """The fitted learned paths of one project, by name. ``lock`` is the recall index's: swaps happen under it,
    and ``on_swap`` tells the index to make new recallers."""

    def __init__(
        self,
        directory: Path,
        annotated: Callable[[ContentTagGraph], Annotated],
        store: Store,
        lock: threading.RLock,
        on_swap: Callable[[], None],
    ) -> None:
        self.directory = directory
        self._annotated, self._store, self._lock, self._on_swap = annotated, store, lock, on_swap
        self._held: dict[str, tuple[LearnedPath | None, Stamp | None]] = {}  # in memory: a few new contents reuse them
        self.refit_now = False  # ``index --refit``: refit whatever was fitted before
        # a service sets this: a path that no longer fits is refitted in a thread of its own while recall goes on
        # with the fitted one, and swapped in once ready (a refit takes minutes on a large project)
        self.in_background = False
        self._refitting: dict[str, threading.Thread] = {}
        self.refits_done = 0  # background refits swapped in since this was made (tests, /metrics)
        self._compared_at = 0.0  # when the held paths were last compared with the store's (adopt_shared)

    def for_config(self, graph: ContentTagGraph, config: RecallConfig) -> dict[str, LearnedPath | None]:
        """The learned paths that have a weight in ``config``, each refitted when the annotated contents changed."""
        if not graph.n_contents:
            return {}
        return {name: self._current(name, graph, config) for name in LEARNED_PATHS if config.weights.get(name, 0.0) > 0}

    def fitted(self) -> dict[str, tuple[LearnedPath, Stamp]]:
        """The fitted learned paths in memory now, by name, with what each was fitted on."""
        with self._lock:
            return {name: held for name, held in self._held.items() if held[0] is not None}

    def adopt_shared(self) -> bool:
        """A server store: the learned paths another replica refitted and saved there since, loaded in place of
        the ones held here (compared at most every ``SHARED_SECONDS``); whether any was. Replicas converge on
        the last fit saved, whoever made it."""
        if not self._store.shares_files or time.monotonic() - self._compared_at < SHARED_SECONDS:
            return False
        self._compared_at = time.monotonic()
        adopted = False
        for name in [n for n, held in self._held.items() if held[0] is not None]:
            lock = FileLock(self.directory / f".{name}.lock")
            try:
                lock.acquire(timeout=0)  # this process is saving or pulling it right now: next time
            except Timeout:
                continue
            try:
                saved = self.directory / "learned" / name
                if pull_directory(self._store, f"learned/{name}", saved):
                    loaded = self._load(name, saved)
                    if loaded is not None:
                        self._held[name], adopted = loaded, True
                        log.info("the %s recall path another replica refitted is in use", name)
            except StoreUnavailable:
                return adopted  # the paths held here serve until the store is back
            finally:
                lock.release()
        return adopted

    def refitting(self) -> list[str]:
        """The learned paths being refitted in the background now."""
        with self._lock:
            return sorted(name for name, thread in self._refitting.items() if thread.is_alive())

    def _stamp(self, graph: ContentTagGraph) -> Stamp:
        return Stamp(self._store.revision, graph.content_max_seq, graph.n_contents)

    def _still_fits(self, fitted: Stamp | None, now: Stamp, config: RecallConfig) -> bool:
        """A learned path is refitted when rows were edited (the store's revision moved), on demand
        (``refit_now``), or once the contents grew by ``refit_growth``; a few added contents reuse it (the graph
        paths see them at once): adding 100 contents to 17,000 costs seconds, not a three-minute refit."""
        if (
            fitted is None
            or self.refit_now
            or fitted.revision != now.revision
            or fitted.content_max_seq > now.content_max_seq
        ):
            return False
        return now.contents <= fitted.contents * (1 + config.refit_growth)

    def _current(self, name: str, graph: ContentTagGraph, config: RecallConfig) -> LearnedPath | None:
        stamp = self._stamp(graph)
        held = self._held.get(name)
        if held is not None and self._still_fits(held[1], stamp, config):
            return held[0]  # not read again from disk after every learned content (0.2 s on debtags)
        if held is not None and held[0] is not None and self.in_background and not self.refit_now:
            self._refit_later(name, stamp, graph, config)
            return held[0]
        self._held[name] = self._loaded_or_fitted(name, stamp, graph, config)
        return self._held[name][0]

    def _refit_later(self, name: str, stamp: Stamp, graph: ContentTagGraph, config: RecallConfig) -> None:
        """Refit ``name`` in a thread (one at a time per path) and swap it in when it is ready: recallers made
        after that use it; those in use keep the fitted one until then. A write during the refit starts another
        once this one is in (its stamp no longer fits)."""
        running = self._refitting.get(name)
        if running is not None and running.is_alive():
            return

        def refit() -> None:
            try:
                fitted = self._loaded_or_fitted(name, stamp, graph, config)
            except Exception:  # noqa: BLE001 - the fitted path keeps serving; the next batch tries again
                log.exception("background refit of the %s recall path failed; the fitted one keeps serving", name)
                return
            with self._lock:
                self._held[name] = fitted
                self.refits_done += 1
                self._on_swap()
            log.info("the %s recall path was refitted in the background and is in use", name)

        thread = threading.Thread(target=refit, name=f"llm4tag-refit-{name}", daemon=True)
        self._refitting[name] = thread
        thread.start()

    def _loaded_or_fitted(
        self, name: str, stamp: Stamp, graph: ContentTagGraph, config: RecallConfig
    ) -> tuple[LearnedPath | None, Stamp | None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        saved = self.directory / "learned" / name
        # one process at a time, on this host and (a server store) across replicas: processes that see the same
        # growth do not both refit; the second loads what the first saved (from the store, on another machine)
        with FileLock(self.directory / f".{name}.lock"), self._store.exclusive(f"refit:{name}"):
            pull_directory(self._store, f"learned/{name}", saved)
            loaded = self._load(name, saved)
            if loaded is not None and self._still_fits(loaded[1], stamp, config):
                return loaded
            path = fit_path(name, config, graph, self._annotated(graph))
            if path is None:
                return None, None  # refitted as soon as there are enough contents
            path.save(saved, about=stamp._asdict())
            push_directory(self._store, f"learned/{name}", saved, stamp._asdict())
            legacy.remove(self.directory, name)
            return path, stamp

    def _load(self, name: str, saved: Path) -> tuple[LearnedPath, Stamp] | None:
        """The path saved in ``saved`` (or, from a project made before that format, its old pickle, which is
        then saved in today's format); None where there is none or it cannot be read (it is refitted)."""
        try:
            if saved.is_dir():
                path, about = path_class(name).load(saved)
            elif legacy.file_of(self.directory, name).exists():
                path, about = legacy.read(self.directory, name)
                path.save(saved, about=about)
                legacy.remove(self.directory, name)
                log.info("the %s recall path was saved in today's format (%s)", name, saved)
            else:
                return None
            return path, Stamp(**about)
        except Exception as exc:  # noqa: BLE001 - a derived file: refit it from the store
            log.warning(
                "the saved %s recall path in %s is unreadable (%s); refitting it from the store", name, saved, exc
            )
            return None
