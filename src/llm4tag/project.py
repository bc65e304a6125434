"""A project on disk: configuration, store of record, and the derived recall graph.

Layout of a project directory::

    llm4tag.toml          configuration
    store.sqlite          tags, contents, annotations, cached embeddings (WAL)
    graph/state.json      what the files below were built from
    graph/*.npy, *.npz    vectors and term counts of tags and annotated contents

The store is the only source of truth. ``index()`` brings the graph up to date
incrementally (only new rows are encoded and appended); if the graph files do
not match the store (a crash between writes, a changed embedding model, an
edited row), they are rebuilt from cached vectors without re-encoding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from llm4tag.calibration import (
    Calibrator,
    ConfidenceSettings,
    ScoredCandidates,
    calibration_report,
    choose_routing,
    choose_threshold,
    judge_features,
    labelled_pairs,
    recall_features,
)
from llm4tag.calibration.judge import Judge
from llm4tag.config import CONFIG_NAME, ProjectConfig
from llm4tag.corpus.documents import Document, seeded_sample
from llm4tag.corpus.loaders import LoadReport, check_tags, iter_corpus
from llm4tag.embedding import Embedder, create_embedder
from llm4tag.embedding.cache import CachedEmbedder
from llm4tag.errors import ProjectError
from llm4tag.evaluation.set_metrics import set_scores
from llm4tag.fileio import atomic_write, sha256_of
from llm4tag.generation.generator import TagGenerator
from llm4tag.generation.knowledge import read_learn_file
from llm4tag.generation.pipeline import Tagger, TaggingResult
from llm4tag.generation.prompts import load_prompt
from llm4tag.library.loaders import load_tag_library
from llm4tag.library.tags import Tag, TagLibrary
from llm4tag.llm import LLMBackend, create_llm
from llm4tag.recall.graph import ContentTagGraph
from llm4tag.recall.recaller import Recaller, RecallResult
from llm4tag.store.sqlite import Store

log = logging.getLogger(__name__)

GRAPH_DIR = "graph"
GRAPH_FORMAT = 2  # 2: checksums and an ids digest in state.json
_BATCH = 2048


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


class Project:
    """Python API for one project directory; the CLI is a thin layer over this."""

    def __init__(
        self,
        directory: str | Path,
        config: ProjectConfig,
        *,
        embedder: Embedder | None = None,
        llm: LLMBackend | None = None,
        durable: bool = False,
        create: bool = False,
    ) -> None:
        self.directory = Path(directory)
        self.config = config
        self.store = Store(self.directory / "store.sqlite", durable=durable, create=create)
        self._embedder: CachedEmbedder | None = CachedEmbedder(embedder, self.store) if embedder else None
        self._graph: ContentTagGraph | None = None
        self._graph_stamp: tuple[str, int] | None = None
        self._recaller: Recaller | None = None
        self._llm: LLMBackend | None = llm
        self._owns_llm = llm is None
        self._stale = True
        self._judge: Judge | None = None
        self._loaded: dict[str, tuple[int, object]] = {}
        self.init_report: dict = {}  # what ``init`` loaded
        self._graph_lock = threading.RLock()  # the service recalls from two threads; index() swaps the graph

    # -- lifecycle -----------------------------------------------------------
    @classmethod
    def init(
        cls,
        directory: str | Path,
        config: ProjectConfig | None = None,
        *,
        exist_ok: bool = False,
        embedder: Embedder | None = None,
        llm: LLMBackend | None = None,
        tags: str | Path | None = None,
        tags_format: str | None = None,
        corpus: str | Path | None = None,
        corpus_format: str | None = None,
        on_unknown: str = "error",
    ) -> Project:
        """Create a project, optionally with a tag library and an annotated corpus.

        Both files are read and validated completely before anything is written, and the configuration is
        written last: a mistake in either leaves the directory as it was (``exist_ok`` keeps the old
        configuration too), never a half-made project. ``init_report`` says what was loaded.
        """
        directory = Path(directory)
        if (directory / CONFIG_NAME).exists() and not exist_ok:
            raise ProjectError(f"{directory} is already an llm4tag project")
        config = config or ProjectConfig(name=directory.name)
        library = load_tag_library(tags, tags_format, language=config.language) if tags is not None else TagLibrary()
        report, docs = LoadReport(), []
        if corpus is not None:
            known = TagLibrary(cls._stored_tags(directory))
            for tag in library:
                known.add(tag, replace=True)
            docs = list(
                iter_corpus(
                    corpus,
                    corpus_format,
                    library=known,
                    on_unknown=on_unknown,
                    report=report,
                    max_text_chars=config.index.max_text_chars,
                )
            )
        directory.mkdir(parents=True, exist_ok=True)
        project = cls(directory, config, embedder=embedder, llm=llm, create=True)
        try:
            tags_added = project.add_tags(library) if len(library) else (0, 0)
            contents_added = project.store.upsert_contents(docs) if docs else (0, 0)
            config.save(directory)  # last: only now is the directory a project
        except BaseException:
            project.close()
            raise
        project.init_report = {"tags": tags_added, "contents": contents_added, "load": report}
        return project

    @staticmethod
    def _stored_tags(directory: Path) -> list[Tag]:
        """Tags already in a store being re-initialised (``--force``), so the corpus may use them."""
        path = directory / "store.sqlite"
        if not path.is_file() or path.stat().st_size == 0:
            return []
        store = Store(path, create=False)
        try:
            return list(store.tag_library())
        finally:
            store.close()

    @classmethod
    def open(
        cls,
        directory: str | Path,
        *,
        embedder: Embedder | None = None,
        llm: LLMBackend | None = None,
        durable: bool = False,
    ) -> Project:
        """Open an existing project; ``embedder``/``llm`` override the configured ones (e.g. shared instances);
        ``durable`` fsyncs every commit (the service uses it for feedback)."""
        directory = Path(directory)
        return cls(directory, ProjectConfig.load(directory), embedder=embedder, llm=llm, durable=durable)

    def close(self) -> None:
        if self._llm is not None and self._owns_llm:
            self._llm.close()
        self.store.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- data ------------------------------------------------------------------
    @property
    def library(self) -> TagLibrary:
        return self.store.tag_library()

    def add_tags(self, tags: str | Path | Iterable[Tag], fmt: str | None = None) -> tuple[int, int]:
        """Add or update tags from a file or objects; the graph follows on the next ``index()``."""
        if isinstance(tags, (str, Path)):
            tags = load_tag_library(tags, fmt, language=self.config.language)
        result = self.store.upsert_tags(tags)
        self._stale = True
        self._judge = None  # it names tags from the library it was built with
        return result

    def add_contents(
        self,
        contents: str | Path | Iterable[Document],
        fmt: str | None = None,
        *,
        on_unknown: str = "error",
        source: str = "import",
    ) -> tuple[int, int, LoadReport]:
        """Add annotated contents from a file or objects, validated against the tag library."""
        report = LoadReport()
        library = self.library
        if isinstance(contents, (str, Path)):
            docs = list(
                iter_corpus(
                    contents,
                    fmt,
                    library=library,
                    on_unknown=on_unknown,
                    report=report,
                    max_text_chars=self.config.index.max_text_chars,
                )
            )
        else:
            docs = []
            for doc in contents:
                tags = check_tags(doc.tags, library, on_unknown, report, content_id=doc.id)
                docs.append(Document(doc.id, doc.text, tags, doc.meta))
                report.documents += 1
        added, updated = self.store.upsert_contents(docs, source=source)
        self._stale = True
        return added, updated, report

    # -- embedding -------------------------------------------------------------
    @property
    def embedder(self) -> CachedEmbedder:
        if self._embedder is None:
            cfg = self.config.embedding
            self._embedder = CachedEmbedder(create_embedder(cfg.backend, **cfg.options), self.store)
        return self._embedder

    # -- graph -----------------------------------------------------------------
    @property
    def graph_dir(self) -> Path:
        return self.directory / GRAPH_DIR

    def _read_state(self) -> dict | None:
        path = self.graph_dir / "state.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def _load_graph_files(self, state: dict) -> ContentTagGraph | None:
        """Load the saved graph if it matches ``state`` and the store; None if anything is off (then the
        caller rebuilds it from cached vectors), with a warning that says what was off."""
        problem = self._check_graph_files(state)
        if isinstance(problem, str):
            log.warning(
                "graph files in %s: %s; rebuilding them from the store (cached vectors)", self.graph_dir, problem
            )
            return None
        tag_vectors, content_vectors, term_counts, tags, rows = problem
        graph = self._empty_graph(tag_vectors.shape[1] if tag_vectors.size else self.embedder.dim)
        graph.add_tags([t.id for t in tags], [t.text() for t in tags], tag_vectors, [not t.deprecated for t in tags])
        tags_by_seq = self._annotations_by_seq()
        graph.add_contents(
            [r[1] for r in rows], content_vectors, [tags_by_seq.get(r[0], []) for r in rows], term_counts=term_counts
        )
        graph.content_max_seq = state["content_max_seq"]
        return graph

    def _check_graph_files(self, state: dict):
        """The saved arrays, tags and content rows, or a string saying why they cannot be trusted: a checksum
        that does not match (truncated, edited, swapped file), a shape that does not fit the store or the
        embedder, ids in another order, or vectors that differ from the store's cached ones."""
        files = {
            "tag_vectors": "tag_vectors.npy",
            "content_vectors": "content_vectors.npy",
            "terms": "content_terms.npz",
        }
        for filename in files.values():
            path = self.graph_dir / filename
            if not path.is_file():
                return f"{filename} is missing"
            if state.get("sha256", {}).get(filename) != sha256_of(path):
                return f"{filename} does not match the checksum recorded when it was written"
        try:
            tag_vectors = np.load(self.graph_dir / files["tag_vectors"], allow_pickle=False)
            content_vectors = np.load(self.graph_dir / files["content_vectors"], allow_pickle=False)
            term_counts = sp.load_npz(self.graph_dir / files["terms"]).tocsr().astype(np.float32)
        except (OSError, ValueError) as exc:
            return f"unreadable ({exc})"
        dim = self.embedder.dim
        tags = list(self.library)[: state["tags"]]
        rows = [r for r in self.store.content_rows() if r[0] <= state["content_max_seq"]]
        expected = {
            "tag vectors": ((len(tags), dim), tag_vectors.shape),
            "content vectors": ((len(rows), dim), content_vectors.shape),
        }
        for what, (want, got) in expected.items():
            if (want[0] and tuple(got) != want) or (not want[0] and got[0] != 0):
                return f"{what} have shape {tuple(got)}, the store and embedder need {want}"
        if term_counts.shape[0] != len(rows) or len(tags) != state["tags"] or len(rows) != state["contents"]:
            return "their sizes do not match the store"
        if state.get("ids") != _ids_digest([t.id for t in tags], [r[1] for r in rows]):
            return "their tag or content ids differ from the store's"
        cached = self.store.cached_vectors(
            self.embedder.embedder.name, [r[3] for r in rows[:: max(1, len(rows) // 16)]]
        )
        for i in range(0, len(rows), max(1, len(rows) // 16)):
            vector = cached.get(rows[i][3])
            if vector is not None and not np.allclose(vector, content_vectors[i], atol=1e-4):
                return f"the vector of content {rows[i][1]!r} differs from the one cached in the store (rows moved?)"
        return tag_vectors, content_vectors, term_counts, tags, rows

    def _empty_graph(self, dim: int) -> ContentTagGraph:
        return ContentTagGraph(dim=dim, exact_limit=self.config.index.exact_limit, nprobe=self.config.index.nprobe)

    def _annotations_by_seq(self, after_seq: int = 0) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for seq, tag_id in self.store.annotations(after_seq):
            out.setdefault(seq, []).append(tag_id)
        return out

    def _save_graph(self, graph: ContentTagGraph) -> None:
        self.graph_dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.graph_dir / "tag_vectors.npy", "wb") as handle:
            np.save(handle, graph.tag_dense.vectors)
        with atomic_write(self.graph_dir / "content_vectors.npy", "wb") as handle:
            np.save(handle, graph.content_dense.vectors)
        with atomic_write(self.graph_dir / "content_terms.npz", "wb") as handle:
            sp.save_npz(handle, graph.content_lexical.counts)
        state = {
            "format": GRAPH_FORMAT,
            "embedder": self.embedder.embedder.name,
            "revision": self.store.revision,
            "tags": graph.n_tags,
            "contents": graph.n_contents,
            "content_max_seq": graph.content_max_seq,
            "ids": _ids_digest(graph.tag_ids, graph.content_ids),
            "sha256": {
                name: sha256_of(self.graph_dir / name)
                for name in ("tag_vectors.npy", "content_vectors.npy", "content_terms.npz")
            },
        }
        with atomic_write(self.graph_dir / "state.json") as handle:
            json.dump(state, handle, indent=2)

    def index(self, *, save: bool = True) -> IndexReport:
        """Bring the graph up to date with the store, encoding only what was never encoded."""
        with self._graph_lock:
            return self._index(save=save)

    def _index(self, *, save: bool) -> IndexReport:
        embedder_name = self.embedder.embedder.name
        stamp = (embedder_name, self.store.revision)
        graph = self._graph if self._graph_stamp == stamp else None
        if graph is None:
            state = self._read_state()
            if (
                state
                and state.get("format") == GRAPH_FORMAT
                and state.get("embedder") == embedder_name
                and state.get("revision") == self.store.revision
            ):
                graph = self._load_graph_files(state)
        rebuilt = graph is None
        if graph is None:
            graph = self._empty_graph(self.embedder.dim)
        library = self.library
        new_tags = list(library)[graph.n_tags :]
        if new_tags:
            graph.add_tags(
                [t.id for t in new_tags],
                [t.text() for t in new_tags],
                self.embedder.encode([t.text() for t in new_tags]),
                [not t.deprecated for t in new_tags],
            )
        rows = self.store.content_rows(graph.content_max_seq)
        if rows:
            tags_by_seq = self._annotations_by_seq(graph.content_max_seq)
            for start in range(0, len(rows), _BATCH * 8):
                chunk = rows[start : start + _BATCH * 8]
                texts = [r[2] for r in chunk]
                graph.add_contents(
                    [r[1] for r in chunk],
                    self.embedder.encode(texts),
                    [tags_by_seq.get(r[0], []) for r in chunk],
                    texts=texts,
                )
            graph.content_max_seq = rows[-1][0]
        if save and (rebuilt or new_tags or rows):
            self._save_graph(graph)
        if rebuilt or new_tags or rows:
            self._recaller = None
        self._graph, self._graph_stamp, self._stale = graph, stamp, False
        return IndexReport(tags_added=len(new_tags), contents_added=len(rows), rebuilt=rebuilt)

    @property
    def graph(self) -> ContentTagGraph:
        with self._graph_lock:
            if self._stale or self._graph is None:
                self.index()
            assert self._graph is not None
            return self._graph

    @property
    def recaller(self) -> Recaller:
        with self._graph_lock:
            graph = self.graph
            if self._recaller is None:
                recaller = Recaller(graph, self.config.recall)
                library = self.library
                recaller.set_names([library[t].names() for t in graph.tag_ids])
                recaller.supervised = self._supervised_scorer(graph)
                self._recaller = recaller
            return self._recaller

    def _supervised_scorer(self, graph: ContentTagGraph):
        """The learned recall path, refitted when the annotated contents changed (only if it has a weight)."""
        if self.config.recall.weights.get("supervised", 0.0) <= 0 or not graph.n_contents:
            return None
        from llm4tag.recall.supervised import SupervisedScorer

        path = self.graph_dir / "supervised.pkl"
        stamp = (self.store.revision, graph.content_max_seq, graph.n_contents)
        if path.exists():
            try:
                scorer = SupervisedScorer.load(path)
            except Exception as exc:  # noqa: BLE001 - a derived file: refit it from the store
                log.warning("%s is unreadable (%s); refitting it from the store", path, exc)
                scorer = None
            if getattr(scorer, "stamp", None) == stamp:
                return scorer
        annotated = [r for r in self.store.content_rows() if r[0] <= graph.content_max_seq]
        tags_by_seq = self._annotations_by_seq()
        annotated = [r for r in annotated if tags_by_seq.get(r[0])]
        distinct = len({t for r in annotated for t in tags_by_seq[r[0]]})
        cfg = self.config.recall
        if len(annotated) < cfg.supervised_min_contents or distinct > cfg.supervised_max_tags:
            log.info("supervised recall path skipped: %d annotated contents, %d tags", len(annotated), distinct)
            return None
        log.info("fitting the supervised recall path on %d annotated contents", len(annotated))
        scorer = SupervisedScorer().fit([r[2] for r in annotated], [tags_by_seq.get(r[0], []) for r in annotated])
        scorer.stamp = stamp
        self.graph_dir.mkdir(parents=True, exist_ok=True)
        scorer.save(path)
        return scorer

    # -- recall ----------------------------------------------------------------
    def recall(
        self,
        texts: list[str],
        *,
        top_n: int | None = None,
        weights: dict[str, float] | None = None,
        exclude: list[str | None] | None = None,
    ) -> list[RecallResult]:
        """Candidate tags with provenance for each text; ``exclude`` leaves a stored content out of its own recall."""
        out: list[RecallResult] = []
        for start in range(0, len(texts), _BATCH):
            batch = texts[start : start + _BATCH]
            skip = exclude[start : start + _BATCH] if exclude else None
            vectors = self.embedder.encode(batch)
            with self._graph_lock:
                recaller = self.recaller
                out.extend(recaller.recall(batch, vectors, top_n=top_n, weights=weights, exclude=skip))
        return out

    # -- generation ----------------------------------------------------------------
    @property
    def llm(self) -> LLMBackend:
        """The configured LLM backend, started on first use."""
        if self._llm is None:
            self._llm = create_llm(self.config.llm.backend, **self.config.llm.options)
            self._owns_llm = True
        return self._llm

    def uses_llm(self) -> bool:
        """Whether the configured pipeline calls the LLM at all (generation or judgement)."""
        return self.config.generation.enabled or self.config.confidence.judge != "none"

    def tagger(self, *, use_examples: bool = True, use_notes: bool = True, llm: bool = True) -> Tagger:
        """The configured pipeline; ``llm=False``: the recall stage and its calibrated confidence alone."""
        library = self.library
        generate = self.config.generation.enabled and llm
        generator = TagGenerator(
            self.llm if generate else None,  # no model is started for nothing
            load_prompt("select", self.directory / self.config.generation.prompt_dir),
            library.display_names(),
            self.config.generation,
        )
        return Tagger(self, generator, use_examples=use_examples, use_notes=use_notes, llm=llm)

    def tag(self, docs: Iterable[Document] | list[str], *, progress: bool = False, **options) -> list[TaggingResult]:
        """Recall and LLM selection for each content (strings get ids ``text-1``, ``text-2``, ...)."""
        docs = [Document(id=f"text-{i + 1}", text=d) if isinstance(d, str) else d for i, d in enumerate(docs)]
        return self.tagger(**options).tag(docs, progress=progress)

    # -- short-term knowledge ------------------------------------------------------
    def learn(self, items: str | Path | list[dict]) -> dict[str, int]:
        """Add examples, corrections and notes; they take effect for the very next content.

        A file is validated completely before anything is stored.
        """
        library = self.library
        if isinstance(items, (str, Path)):
            items = read_learn_file(items, library, max_text_chars=self.config.index.max_text_chars)
        counts = {"example": 0, "correction": 0, "note": 0}
        docs = []
        for item in items:
            counts[item["kind"]] += 1
            if item["kind"] == "example":
                docs.append(Document(item["content_id"], item["text"], list(item["tags"])))
            elif item["kind"] == "correction":
                stored = self.store.get_contents([item["content_id"]])
                if stored:
                    self.store.remove_annotations(item["content_id"], item["rejected"])
                    kept = [t for t in stored[0].tags if t not in item["rejected"]]
                    docs.append(
                        Document(item["content_id"], stored[0].text, kept + [t for t in item["tags"] if t not in kept])
                    )
                elif item["tags"]:
                    docs.append(Document(item["content_id"], item["text"], list(item["tags"])))
        self.store.add_knowledge(items)
        if docs:
            self.store.upsert_contents(docs, source="learn")
        self._stale = True
        return counts

    # -- calibration and pruning -------------------------------------------------
    @property
    def calibration_dir(self) -> Path:
        return self.directory / "calibration"

    def calibrate_recall(self, docs: list[Document], *, method: str = "platt", per_tag: bool = True) -> dict:
        """Fit the recall-only calibrator on held-out annotated contents and store it in the project."""
        docs = [d for d in docs if d.tags]
        results = self.recall([d.text for d in docs])
        X, y, tags, _ = labelled_pairs(results, [set(d.tags) for d in docs])
        calibrator = Calibrator(method=method, per_tag=per_tag).fit(X, y, tags)
        calibrator.save(self.calibration_dir / "recall.pkl")
        return {
            "pairs": len(y),
            "tags_with_own_calibrator": calibrator.tags_with_own_calibrator,
            "raw_fused_score": calibration_report(y, np.clip(X[:, 0], 0, 1)),
            "calibrated_in_sample": calibration_report(y, calibrator.predict_proba(X, tags)),
        }

    def _load_artifact(self, name: str, loader):
        """A fitted artifact of calibration/, loaded once and again only when its file changes."""
        path = self.calibration_dir / name
        if not path.exists():
            return None
        stamp = path.stat().st_mtime_ns
        cached = self._loaded.get(name)
        if cached is None or cached[0] != stamp:
            try:
                cached = (stamp, loader(path))
            except Exception as exc:  # noqa: BLE001 - truncated, corrupted or foreign file
                raise ProjectError(
                    f"{path} is unreadable ({exc.__class__.__name__}: {exc}); run 'llm4tag calibrate' and"
                    " 'llm4tag optimize' again to rewrite it, or delete it to go without it"
                ) from None
            self._loaded[name] = cached
        return cached[1]

    def _recall_calibrator(self) -> Calibrator | None:
        return self._load_artifact("recall.pkl", Calibrator.load)

    def judge_calibrator(self) -> Calibrator | None:
        """Combines recall-only confidence with the judge's P(Yes); fitted by ``calibrate`` with a judge."""
        return self._load_artifact("judge.pkl", Calibrator.load)

    def settings_file(self, *, llm: bool = True) -> str:
        """Settings are per pipeline shape: what suits recall-only scores does not suit judged ones."""
        if not llm:
            return "settings-none.json"
        generation = "-generation" if self.config.generation.enabled else ""
        return f"settings-{self.config.confidence.judge}{generation}.json"

    @property
    def settings_name(self) -> str:
        return self.settings_file()

    def confidence_settings(self, *, llm: bool = True) -> ConfidenceSettings | None:
        """Threshold, tag limit and routing band chosen by ``optimize`` for the configured pipeline."""
        return self._load_artifact(self.settings_file(llm=llm), ConfidenceSettings.load)

    def pruning(self, *, llm: bool = True) -> tuple[float, int]:
        """(threshold, max tags) for final tag sets: from ``optimize``, else a plain default."""
        settings = self.confidence_settings(llm=llm)
        if settings is not None:
            return settings.threshold, settings.max_tags
        if llm and self.config.generation.enabled and self.config.confidence.judge != "candidates":
            return 0.0, self.config.generation.max_tags  # the LLM's picks, as they are
        if self._recall_calibrator() is None:
            return 0.0, self.config.generation.max_tags  # scores are not probabilities yet: the top few
        return 0.5, 10  # calibrated: keep what is more likely right than wrong

    def recall_confidences(self, results: list[RecallResult]) -> list[np.ndarray]:
        """Calibrated P(tag is right) for each candidate; the raw fused score (clipped) if not calibrated."""
        calibrator = self._recall_calibrator()
        out = []
        for result in results:
            X, tags = recall_features(result)
            if calibrator is None or not len(tags):
                out.append(np.clip(X[:, 0], 0, 1) if len(tags) else np.zeros(0))
            else:
                if calibrator.n_features not in (None, X.shape[1]):
                    raise ProjectError(
                        "the recall calibrator was fitted on another version of the recall stage;"
                        " run 'llm4tag calibrate' again"
                    )
                out.append(calibrator.predict_proba(X, tags))
        return out

    # -- judgement and final confidence -------------------------------------------
    @property
    def judge(self) -> Judge:
        if self._judge is None:
            self._judge = Judge(
                self.llm,
                load_prompt("judge", self.directory / self.config.generation.prompt_dir),
                self.library,
                allow_fallback=self.config.confidence.allow_fallback,
            )
        return self._judge

    def score(
        self,
        texts: list[str],
        recalls: list[RecallResult],
        selections: list | None = None,
        *,
        judge_all: bool = False,
        llm: bool = True,
    ) -> list[ScoredCandidates]:
        """Final confidence of the tags considered for each content (see ``[confidence]`` in the config).

        Considered: the LLM's picks (``judge = "generated"``, or ``"none"`` with generation on), the top
        ``judge_top_n`` candidates plus any picks (``"candidates"``), or the top candidates (no LLM at all).
        Judged: all considered pairs, or with routing only those whose recall-only confidence is not decisive.
        """
        cfg = self.config.confidence
        judge_mode = cfg.judge if llm else "none"
        settings = None if judge_all or not cfg.route else self.confidence_settings()
        calibrator = self.judge_calibrator() if judge_mode != "none" else None
        selections = selections or [None] * len(texts)
        out = []
        for text, recall, confidence, selection in zip(texts, recalls, self.recall_confidences(recalls), selections):
            ids = [c.tag_id for c in recall.candidates]
            picked = list(selection.tag_ids) if selection is not None else []
            if judge_mode == "candidates":
                considered = ids[: cfg.judge_top_n] + [t for t in picked if t not in ids[: cfg.judge_top_n]]
            elif selection is not None:
                considered = picked
            else:
                considered = ids[: cfg.judge_top_n]
            position = {t: i for i, t in enumerate(ids)}
            recall_conf = np.array([confidence[position[t]] for t in considered], dtype=float)
            selected = np.array([t in picked for t in considered], dtype=bool)
            p_yes = np.full(len(considered), np.nan)
            final = recall_conf.copy()
            if judge_mode != "none" and considered:
                ask = settings.needs_llm(recall_conf) if settings is not None else np.ones(len(considered), bool)
                asked = [t for t, a in zip(considered, ask) if a]
                if asked:
                    scores = self.judge.judge(text, asked, store=self.store if cfg.cache else None)
                    p_yes[ask] = [s.p_yes for s in scores]
                    if calibrator is not None:
                        features = judge_features(recall_conf[ask], p_yes[ask], selected[ask])
                        final[ask] = calibrator.predict_proba(features)
            out.append(ScoredCandidates(considered, recall_conf, p_yes, selected, final, confidence))
        return out

    def _labelled_runs(self, docs: list[Document], progress: bool) -> list[TaggingResult]:
        """Every considered pair of held-out contents, judged (no routing, no pruning)."""
        return self.tagger().tag(docs, progress=progress, judge_all=True, prune_tags=False)

    def calibrate(
        self,
        docs: list[Document],
        *,
        method: str = "platt",
        per_tag: bool = True,
        llm_sample: int = 200,
        seed: int = 0,
        progress: bool = False,
    ) -> dict:
        """Fit the recall-only calibrator on ``docs`` and, when a judge is configured, the judge calibrator.

        The judge calibrator needs LLM calls: it uses a seeded sample of ``llm_sample`` annotated contents
        (as does ``optimize`` whenever the pipeline calls the LLM).
        Judgements are cached in the store, so ``optimize`` on the same contents does not repeat them.
        """
        docs = [d for d in docs if d.tags]
        if not docs:
            raise ProjectError("calibration needs annotated contents (none of these have tags)")
        report = {"recall": self.calibrate_recall(docs, method=method, per_tag=per_tag)}
        if self.config.confidence.judge == "none":
            return report
        sample = seeded_sample(docs, llm_sample, seed)
        runs = self._labelled_runs(sample, progress)
        rows, labels, p_yes = [], [], []
        for doc, run in zip(sample, runs):
            scored, gold = run.scored, set(doc.tags)
            rows.append(judge_features(scored.recall_conf, scored.p_yes, scored.selected))
            labels.extend(int(t in gold) for t in scored.tag_ids)
            p_yes.extend(scored.p_yes)
        X, y = np.vstack(rows), np.array(labels)
        calibrator = Calibrator(method="platt", per_tag=False).fit(X, y)
        calibrator.save(self.calibration_dir / "judge.pkl")
        report["judge"] = {
            "documents": len(sample),
            "pairs": len(y),
            "raw_p_yes": calibration_report(y, np.array(p_yes)),
            "calibrated_in_sample": calibration_report(y, calibrator.predict_proba(X)),
        }
        return report

    def optimize(
        self,
        docs: list[Document],
        *,
        target_precision: float | None = None,
        max_f1_loss: float = 0.01,
        llm_sample: int = 200,
        seed: int = 0,
        progress: bool = False,
        plots: str | Path | None = None,
    ) -> dict:
        """Choose the pruning threshold and tag limit (best F1, or most coverage at a precision) and the
        routing band (fewest LLM judgements within ``max_f1_loss`` of judging everything) on ``docs``."""
        docs = [d for d in docs if d.tags]
        if self.config.confidence.judge != "none" and self.judge_calibrator() is None:
            raise ProjectError("no judge calibrator in this project; run 'llm4tag calibrate' first")
        if self.config.confidence.judge != "none" or self.config.generation.enabled:
            docs = seeded_sample(docs, llm_sample, seed)  # LLM work: bounded to a seeded sample
        if not docs:
            raise ProjectError("optimize needs annotated contents (none of these have tags)")
        runs = self._labelled_runs(docs, progress)
        golds = [set(d.tags) for d in docs]
        per_doc = [(run.scored.tag_ids, run.scored.confidence) for run in runs]
        choice = choose_threshold(per_doc, golds, target_precision=target_precision)
        unpruned = set_scores(golds, [list(tags) for tags, _ in per_doc])
        settings = ConfidenceSettings(
            threshold=choice.threshold, max_tags=choice.max_tags, route_lower=-1.0, route_upper=2.0
        )
        report = {"documents": len(docs), "pruning": choice.to_dict(), "unpruned": unpruned.to_dict()}
        if self.config.confidence.judge != "none" and self.config.confidence.route:
            routing = choose_routing(
                [(r.scored.tag_ids, r.scored.recall_conf, r.scored.confidence) for r in runs],
                golds,
                threshold=choice.threshold,
                max_tags=choice.max_tags,
                max_f1_loss=max_f1_loss,
            )
            settings.route_lower, settings.route_upper = routing.lower, routing.upper
            report["routing"] = routing.to_dict()
        settings.report = report
        settings.save(self.calibration_dir / self.settings_name)
        if plots:
            self._plot(runs, golds, Path(plots))
        return report

    def _plot(self, runs: list[TaggingResult], golds: list[set[str]], directory: Path) -> None:
        from llm4tag.calibration.plots import coverage_plot, precision_coverage_curve, reliability_plot

        directory.mkdir(parents=True, exist_ok=True)
        per_run = {"recall only": [run.scored.recall_conf for run in runs]}
        if self.config.confidence.judge != "none":
            per_run["recall + judge"] = [run.scored.confidence for run in runs]
        labels = np.array([t in gold for run, gold in zip(runs, golds) for t in run.scored.tag_ids], dtype=float)
        what = f"{len(runs)} held-out contents"
        reliability_plot(
            {name: (labels, np.concatenate(confs)) for name, confs in per_run.items()},
            directory / "reliability.png",
            f"Reliability ({what})",
        )
        coverage_plot(
            {
                name: precision_coverage_curve([(r.scored.tag_ids, c) for r, c in zip(runs, confs)], golds)
                for name, confs in per_run.items()
            },
            directory / "precision_coverage.png",
            f"Precision vs coverage ({what})",
        )
