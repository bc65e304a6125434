"""A project on disk, and the Python API over it: a thin facade that owns the parts and delegates the verbs.

Layout of a project directory::

    llm4tag.toml      configuration
    store.sqlite      tags, contents, annotations, knowledge, cached embeddings and judgements (WAL)
    graph/            the recall graph, derived from the store (``llm4tag.recall.recall_index``)
    calibration/      fitted calibrators and chosen settings (``llm4tag.calibration.artifacts``)

Tagging is done by a ``Pipeline`` of stages (``llm4tag.pipeline``); ``pipeline(**overrides)`` gives a shape of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from llm4tag.calibration import CalibrationArtifacts, fitting
from llm4tag.config import CONFIG_NAME, ProjectConfig
from llm4tag.corpus.documents import Document
from llm4tag.corpus.knowledge import KnowledgeItem, read_learn_file
from llm4tag.corpus.loaders import LoadReport, read_annotated
from llm4tag.embedding import Embedder, create_embedder
from llm4tag.embedding.cache import CachedEmbedder
from llm4tag.errors import ProjectError, StoreUnavailable
from llm4tag.generation.judge import RecentJudgements
from llm4tag.generation.knowledge import store_knowledge
from llm4tag.library.loaders import load_tag_library
from llm4tag.library.tags import Tag, TagLibrary
from llm4tag.llm import LLMBackend
from llm4tag.llm.lazy import LazyLLM
from llm4tag.pipeline import Components, Pipeline, PipelineOptions, Pipelines, TaggingResult
from llm4tag.pipeline.evidence import explain
from llm4tag.recall.recall_index import IndexReport, RecallIndex
from llm4tag.recall.results import RecallResult
from llm4tag.store.opening import open_store, stored_tags
from llm4tag.store.shared_files import pull_directory, pull_file, push_directory, push_file

log = logging.getLogger(__name__)

SHARED_FILES_SECONDS = 2.0  # a replica compares its calibration files with the store's at most this often


def _pull_config(directory: Path) -> None:
    """``llm4tag.toml`` from the store ``LLM4TAG_STORE_URL`` names, into an empty directory."""
    from llm4tag.store.settings import StoreConfig

    url = StoreConfig().resolved_url()
    if not url:
        return
    from llm4tag.store.postgres import PostgresStore

    directory.mkdir(parents=True, exist_ok=True)
    with PostgresStore(url) as store:
        pull_file(store, "config", directory / CONFIG_NAME)


class Project:
    """Python API for one project directory; the CLI, the service and Ray workers are thin layers over it."""

    def _llm_options(self) -> dict:
        """``[llm]`` options with an ``adapter`` path read relative to the project (where ``finetune install``
        puts it), so a project folder can move."""
        options = dict(self.config.llm.options)
        adapter = options.get("adapter")
        if adapter and not Path(adapter).is_absolute():
            options["adapter"] = str(self.directory / adapter)
        return options

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
        self.store = open_store(self.directory, config.store, durable=durable, create=create)
        self._query_memory: int | None = None  # see keep_queries_in_memory
        self._embedder = CachedEmbedder(embedder, self.store) if embedder else None
        self.llm = LazyLLM(config.llm.backend, self._llm_options(), instance=llm)
        self.recall_index = RecallIndex(
            self.directory / "graph",
            self.store,
            lambda: self.embedder,
            config.recall,
            exact_limit=config.index.exact_limit,
            nprobe=config.index.nprobe,
        )
        self.artifacts = CalibrationArtifacts(self.directory / "calibration")
        self._shared_at = 0.0  # when the calibration files were last compared with the store's (a server store)
        self._pull_calibration()
        prompts = self.directory / config.generation.prompt_dir
        embed = lambda: self.embedder  # noqa: E731 - loaded on first use
        self.components = Components(config, self.store, self.recall_index, embed, self.llm, self.artifacts, prompts)
        self._pipelines = Pipelines(self.components)
        self.init_report: dict = {}  # what ``init`` loaded

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
        reset_config: bool = False,
    ) -> Project:
        """Create a project, optionally with a tag library and an annotated corpus.

        On an existing project (``exist_ok``) without a ``config``, its ``llm4tag.toml`` is kept as it is. A
        ``config`` that differs from it, or ``reset_config``, replaces it, and the calibration fitted under the
        old one is moved aside (``calibration.replaced-<time>``), never used with settings it was not fitted on.

        Both files are read and validated completely before anything is written, and the configuration is
        written last: a mistake in either leaves the directory as it was (``exist_ok`` keeps the old
        configuration too), never a half-made project. ``init_report`` says what was loaded.
        """
        directory = Path(directory)
        if (directory / CONFIG_NAME).exists() and not exist_ok:
            raise ProjectError(f"{directory} is already an llm4tag project")
        existing = ProjectConfig.load(directory) if (directory / CONFIG_NAME).exists() and exist_ok else None
        config = config or existing or ProjectConfig(name=directory.name)
        replaces = existing is not None and (reset_config or config != existing)
        library = load_tag_library(tags, tags_format, language=config.language) if tags is not None else TagLibrary()
        report, docs = LoadReport(), []
        if corpus is not None:  # it may use tags already stored (--force) and the new ones
            known = TagLibrary([*stored_tags(directory, config.store), *library], replace=True)
            limit = config.index.max_text_chars
            docs = read_annotated(
                corpus, corpus_format, library=known, on_unknown=on_unknown, report=report, max_text_chars=limit
            )
        directory.mkdir(parents=True, exist_ok=True)
        set_aside = _set_calibration_aside(directory) if replaces else None
        project = cls(directory, config, embedder=embedder, llm=llm, create=True)
        try:
            tags_added = project.add_tags(library) if len(library) else (0, 0)
            contents_added = project.store.upsert_contents(docs) if docs else (0, 0)
            project._save_config()  # last: only now is the directory a project
        except BaseException:
            project.close()
            raise
        project.init_report = {"tags": tags_added, "contents": contents_added, "load": report, "set_aside": set_aside}
        return project

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
        if not (directory / CONFIG_NAME).exists():
            _pull_config(directory)  # a replica with an empty directory and only LLM4TAG_STORE_URL
        return cls(directory, ProjectConfig.load(directory), embedder=embedder, llm=llm, durable=durable)

    def close(self) -> None:
        self._pipelines.close()
        self.llm.close()
        self.store.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- data ------------------------------------------------------------------
    def modified(self) -> datetime | None:
        """When the project's recall graph was last written (UTC), or None before it was first built."""
        seconds = self.recall_index.modified()
        return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)

    @property
    def library(self) -> TagLibrary:
        """The tag library (cached by the store until tags change)."""
        return self.store.tag_library()

    @property
    def embedder(self) -> CachedEmbedder:
        """The configured embedder behind the store's vector cache, loaded on first use."""
        if self._embedder is None:
            cfg = self.config.embedding
            self._embedder = CachedEmbedder(create_embedder(cfg.backend, **cfg.options), self.store)
            self._keep_queries_of(self._embedder)
        return self._embedder

    def _keep_queries_of(self, embedder: CachedEmbedder | None) -> None:
        if embedder is not None and self._query_memory is not None:
            embedder.persist_queries, embedder.memory_items = False, self._query_memory

    def keep_queries_in_memory(self, vectors: int, judgements: int | None = None) -> None:
        """What a service asks: a tagged text's vector (and, with ``judgements``, the LLM's judgements of it)
        is kept in memory, the ``vectors`` (``judgements``) most recent, not in the store, so traffic cannot
        grow it. Contents and tags keep theirs stored. The embedder is not loaded for this."""
        self._query_memory = vectors
        self._keep_queries_of(self._embedder)  # one not loaded yet is set when it is
        if judgements is not None:
            self.components.judgements = RecentJudgements(self.store, judgements)
            self._pipelines = Pipelines(self.components)  # the judge stages are built again with it

    def add_tags(self, tags: str | Path | Iterable[Tag], fmt: str | None = None) -> tuple[int, int]:
        """Add or update tags from a file or objects; the graph follows on the next recall or ``index()``."""
        if isinstance(tags, (str, Path)):
            tags = load_tag_library(tags, fmt, language=self.config.language)
        result = self.store.upsert_tags(tags)
        self.recall_index.mark_stale()
        return result

    def deprecate_tags(self, tag_ids: Iterable[str]) -> int:
        """Deprecate stored tags by id (also a row the library leaves out as invalid); returns rows changed."""
        changed = self.store.deprecate_tags(tag_ids)
        self.recall_index.mark_stale()
        return changed

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
        limit = self.config.index.max_text_chars
        docs = read_annotated(
            contents, fmt, library=self.library, on_unknown=on_unknown, report=report, max_text_chars=limit
        )
        added, updated = self.store.upsert_contents(docs, source=source)
        self.recall_index.mark_stale()
        return added, updated, report

    def learn(self, items: str | Path | Iterable[KnowledgeItem]) -> dict[str, int]:
        """Add examples, corrections and notes, used from the very next content (files are checked first)."""
        if isinstance(items, (str, Path)):
            items = read_learn_file(items, self.library, max_text_chars=self.config.index.max_text_chars)
        counts = store_knowledge(self.store, list(items))
        self.recall_index.mark_stale()
        return counts

    def forget(self, content_ids: Iterable[str]) -> int:
        """Remove stored contents (e.g. the synthetic ones), their annotations and the examples that brought them;
        the graph is rebuilt and the learned paths refitted without them on the next recall."""
        removed = self.store.delete_contents(content_ids)
        self.recall_index.mark_stale()
        return removed

    def index(self, *, refit: bool = False) -> IndexReport:
        """Bring the recall graph up to date (only new rows are encoded); ``refit``: the learned paths too, now."""
        return self.recall_index.update(refit=refit)

    def recall(self, texts: list[str], **options) -> list[RecallResult]:
        """Candidate tags with provenance for each text; ``options`` (``top_n``, ``weights``, ``exclude``):
        ``RecallIndex.recall``."""
        return self.recall_index.recall(texts, **options)

    def _save_config(self) -> None:
        self.config.save(self.directory)
        push_file(self.store, "config", self.directory / CONFIG_NAME)

    def _pull_calibration(self) -> None:
        """A server store: the calibration files another replica fitted, at most every ``SHARED_FILES_SECONDS``."""
        if self.store.shares_files and time.monotonic() - self._shared_at >= SHARED_FILES_SECONDS:
            self._shared_at = time.monotonic()
            try:
                pull_directory(self.store, "calibration", self.artifacts.directory)
            except StoreUnavailable as exc:  # the files this replica holds serve until the store is back
                log.warning("calibration files not compared with the store's: %s", exc)

    # -- the pipeline ------------------------------------------------------------
    def pipeline(self, **overrides) -> Pipeline:
        """The configured pipeline, or another shape of it (``Pipeline.with_overrides``); each built once, and again
        only when a calibration file or the configuration changes."""
        self._pull_calibration()
        return self._pipelines.get(**overrides)

    def tag(self, docs: Iterable[Document] | list[str], *, progress: bool = False, **overrides) -> list[TaggingResult]:
        """Tag contents (strings get ids ``text-1``, ``text-2``, ...) with the pipeline, or another shape of it."""
        docs = [Document(id=f"text-{i + 1}", text=d) if isinstance(d, str) else d for i, d in enumerate(docs)]
        return self.pipeline(**overrides).run(docs, progress=progress)

    def explain(
        self, text: str, result: TaggingResult, tag_ids: list[str] | None = None, *, language: str | None = None
    ) -> dict[str, dict]:
        """The evidence for the tags of ``result`` (tagged from ``text``), by tag id (``pipeline.evidence``)."""
        return explain(self.recall_index, self.store, self.library, text, result, tag_ids, language=language)

    # -- calibration -------------------------------------------------------------
    def _judged(self, overrides: dict, progress: bool):
        """Held-out contents through the pipeline with every considered pair judged and nothing pruned (built
        when called: after ``calibrate`` has saved the recall calibrator it then uses)."""
        return lambda docs: [r.scored for r in self.tag(docs, progress=progress, route=False, prune=False, **overrides)]

    def _tuning_data(self, docs: list[Document] | None, overrides: dict | None) -> tuple[list[Document], dict]:
        """The user's held-out contents, or by default a seeded share of the project's own (recalled as if never
        annotated: ``held_out``); and the pipeline to measure: the offered one, LLM stages included unless
        ``[pipeline] use_llm = "never"``, less what ``overrides`` switch off."""
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        if self.config.pipeline.use_llm != "never":
            offered = PipelineOptions.offered(self.config)
            given = {"judge": offered.judge, "generation": offered.generation, **given}
        if docs is not None:
            return docs, given
        return self.recall_index.held_out_contents(), {**given, "held_out": True}

    def calibrate(
        self, docs: list[Document] | None = None, *, overrides: dict | None = None, progress: bool = False, **options
    ) -> dict:
        """Fit calibrators on held-out annotated ``docs`` (default: a share of the project's own) for the offered
        pipeline (``overrides`` give another shape of it); ``options``: ``llm4tag.calibration.fitting.calibrate``."""
        with self.artifacts.writing():  # a run may repair a half-written set: it reads what it writes, not that
            docs, overrides = self._tuning_data(docs, overrides)
            judges = self.pipeline(**overrides).options.judge != "none"
            judged = self._judged(overrides, progress) if judges else None
            held_out = overrides.get("held_out")
            recall = self.recall_index.recall_held_out if held_out else self.recall_index.recall_documents
            paths = self.recall_index.config.active_paths  # what the recall above runs with
            report = fitting.calibrate(docs, self.artifacts, recall=recall, judged=judged, paths=paths, **options)
        push_directory(self.store, "calibration", self.artifacts.directory)  # the replicas use it from now on
        return report

    def optimize(
        self, docs: list[Document] | None = None, *, overrides: dict | None = None, progress: bool = False, **options
    ) -> dict:
        """Choose recall settings, the pruning rule, threshold, tag limit and routing band on held-out annotated
        ``docs`` (default: the share ``calibrate`` used) and, with ``[pipeline] use_llm = "auto"``, whether the
        LLM stages run at all; ``options``: ``llm4tag.calibration.fitting.optimize``."""
        with self.artifacts.writing():
            report = self._optimize(docs, overrides=overrides, progress=progress, **options)
        push_directory(self.store, "calibration", self.artifacts.directory)
        return report

    def _optimize(self, docs: list[Document] | None, *, overrides: dict | None, progress: bool, **options) -> dict:
        docs, overrides = self._tuning_data(docs, overrides)
        shape = self.pipeline(**overrides).options
        if not shape.uses_llm and not overrides.get("held_out"):  # recall settings may be tuned (tune_seconds)
            options.update(recall_index=self.recall_index, save_config=self._save_config)
        deciding = shape.uses_llm and self.config.pipeline.use_llm == "auto"
        recall_only = None
        if deciding:  # the recall-only settings first: what runs unless the LLM is found to pay
            recall_only = self.optimize(
                None if overrides.get("held_out") else docs,
                overrides={**overrides, "judge": "none", "generation": False},
                progress=progress,
                **options,
            )
            options = {k: v for k, v in options.items() if k != "tune_seconds"}
            options.update(
                decide=True,
                top_n=self.config.pipeline.judge_top_n,
                few_examples_floor=self.config.confidence.few_examples_min_confidence,
            )
        judged, judge, generation = self._judged(overrides, progress), shape.judge, shape.generation
        report = fitting.optimize(
            docs, self.artifacts, judged=judged, judge=judge, generation=generation, route=shape.route, **options
        )
        hand_set = self.config.confidence.few_examples_min_confidence
        if hand_set is not None and report.get("few_examples_floor") is not None:  # say which floor tag uses, and why
            report["few_examples_floor_note"] = (
                f"[confidence] few_examples_min_confidence = {hand_set} in llm4tag.toml is used for tags with few"
                f" examples, not the {report['few_examples_floor']:.3f} measured here (half the held-out F1); remove"
                " the line to use it"
            )
        return report if recall_only is None else {**recall_only, "llm": report}


def _set_calibration_aside(directory: Path) -> Path | None:
    """Move ``calibration/`` to ``calibration.replaced-<UTC time>`` (its files were fitted under a configuration
    being replaced); returns where, or None when there was nothing to move."""
    calibration = directory / "calibration"
    if not calibration.is_dir() or not any(calibration.iterdir()):
        return None
    target = directory / f"calibration.replaced-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    calibration.rename(target)
    return target
