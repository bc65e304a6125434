"""The tagging pipeline: stages composed once from the configuration, run batch by batch.

``Pipeline.build(components, options)`` picks the stages the options ask for; ``with_overrides(...)`` builds
another pipeline over the same components (ablations, ``--judge none``, ``--no-generation``, the service's
``"llm": false``): switching a stage off means building a pipeline without it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from llm4tag.calibration.artifacts import CalibrationArtifacts, pipeline_shape
from llm4tag.calibration.pruning import DEFAULT_FEW_EXAMPLES_FLOOR, Pruning
from llm4tag.calibration.settings import HIERARCHY_MODES
from llm4tag.config import ProjectConfig
from llm4tag.corpus.documents import Document
from llm4tag.embedding.cache import CachedEmbedder
from llm4tag.errors import ConfigError
from llm4tag.generation.judge import JudgementCache
from llm4tag.generation.prompts import load_prompt
from llm4tag.library.tags import TagLibrary
from llm4tag.llm.lazy import LazyLLM
from llm4tag.pipeline.results import TaggingResult
from llm4tag.pipeline.settings import JUDGE_MODES
from llm4tag.pipeline.stages import (
    ConsiderStage,
    ContentState,
    JudgeStage,
    PruneStage,
    RecallStage,
    ScoreStage,
    SelectStage,
    Stage,
)
from llm4tag.recall.recall_index import RecallIndex
from llm4tag.store.base import Store

GRAPH_FREE_PATHS = ("c2t", "lexical")  # what recall keeps when the graph is switched off (ablation)


@dataclass(frozen=True)
class PipelineOptions:
    """The shape of a pipeline. Defaults come from the project's configuration (``from_config``)."""

    generation: bool = True  # the LLM picks tags from the candidates
    judge: str = "candidates"  # which pairs the LLM judges: none | generated | candidates | few-examples
    route: bool = True  # judge only pairs the routing band (from ``optimize``) leaves undecided
    prune: bool = True  # cut the final tag set at the threshold and tag limit (from ``optimize``)
    examples: bool = True  # retrieved annotated examples in the selection prompt
    notes: bool = True  # tag notes and reviewers' corrections in the selection prompt
    graph: bool = True  # False: recall by tag text only (lexical + C2T), an ablation
    base_model: bool = False  # True: ``[llm] base_model`` instead of the fine-tuned model, an ablation
    held_out: bool = False  # the contents are the project's own annotated ones, recalled as if never annotated
    hierarchy: str = "none"  # what the final tag set does with the tags' ancestors ([prune] hierarchy)
    exclude_stored: bool = False  # a content stored under the same id is not its own neighbour (discovery)

    def __post_init__(self) -> None:
        if self.judge not in JUDGE_MODES:
            raise ConfigError(f"judge must be one of {', '.join(JUDGE_MODES)}, not {self.judge!r}")
        if self.hierarchy not in HIERARCHY_MODES:
            raise ConfigError(f"hierarchy must be one of {', '.join(HIERARCHY_MODES)}, not {self.hierarchy!r}")

    @classmethod
    def offered(cls, config: ProjectConfig) -> PipelineOptions:
        """The pipeline the configuration describes, LLM stages included: what ``calibrate`` and ``optimize``
        measure."""
        return cls(
            generation=config.generation.enabled,
            judge=config.pipeline.judge,
            route=config.pipeline.route,
            hierarchy=config.prune.hierarchy,
        )

    @classmethod
    def from_config(cls, config: ProjectConfig, artifacts: CalibrationArtifacts | None = None) -> PipelineOptions:
        """The pipeline that runs: the offered one, less its LLM stages unless ``[pipeline] use_llm`` is
        ``always``, or ``auto`` and ``optimize`` found that they pay on held-out contents (``artifacts``)."""
        options = cls.offered(config)
        use = config.pipeline.use_llm
        if not options.uses_llm or use == "always":
            return options
        chosen = artifacts.llm_choice(options.judge, options.generation) if artifacts and use == "auto" else None
        judge, generation = chosen or ("none", False)
        return dataclasses.replace(options, judge=judge, generation=generation)

    @property
    def uses_llm(self) -> bool:
        return self.generation or self.judge != "none"

    @property
    def shape(self) -> str:
        """The name the optimized settings of this shape are stored under."""
        return pipeline_shape(self.judge, self.generation)


@dataclass
class Components:
    """What stages are built from: the project's parts, each owned by its own package."""

    config: ProjectConfig
    store: Store
    recall_index: RecallIndex
    embedder: Callable[[], CachedEmbedder]
    llm: LazyLLM
    artifacts: CalibrationArtifacts
    prompt_dir: Path
    judgements: JudgementCache | None = None  # where the judge's answers are kept (None: the store)


class Pipeline:
    """recall → select (LLM) → consider → judge (LLM) → score → prune, as the options ask."""

    def __init__(self, components: Components, options: PipelineOptions, stages: list[Stage], llm: LazyLLM) -> None:
        self.components, self.options, self.stages, self.llm = components, options, stages, llm

    @classmethod
    def build(cls, components: Components, options: PipelineOptions) -> Pipeline:
        config, artifacts = components.config, components.artifacts
        llm = components.llm
        if options.base_model:
            base = config.llm.options.get("base_model")
            if not base:
                raise ConfigError(
                    "the base-model pipeline needs [llm] base_model: the model the fine-tuned one came from"
                )
            llm = llm.variant(model=base)
        recall_config = None
        if not options.graph:
            weights = {k: (v if k in GRAPH_FREE_PATHS else 0.0) for k, v in config.recall.weights.items()}
            recall_config = dataclasses.replace(config.recall, weights=weights)
        recall = RecallStage(
            components.recall_index,
            artifacts.recall_calibrator(),
            recall_config,
            held_out=options.held_out,
            paths=components.recall_index.config.active_paths if options.graph else None,
            exclude_stored=options.exclude_stored,
        )
        stages: list[Stage] = [recall]
        if options.generation:
            stages.append(
                SelectStage(
                    llm,
                    load_prompt("select", components.prompt_dir),
                    config.generation,
                    components.store,
                    components.embedder,
                    examples=options.examples,
                    notes=options.notes,
                )
            )
        stages.append(ConsiderStage(options.judge, config.pipeline.judge_top_n, config.recall.few_examples))
        if options.judge != "none":
            stages.append(
                JudgeStage(
                    llm,
                    load_prompt("judge", components.prompt_dir),
                    components.store,
                    routing=artifacts.settings(options.judge, options.generation) if options.route else None,
                    cache=config.confidence.cache,
                    allow_fallback=config.confidence.allow_fallback,
                    only_few_examples=options.judge == "few-examples",
                    judgements=components.judgements,
                )
            )
        judges = options.judge != "none"
        stages.append(
            ScoreStage(
                artifacts.judge_calibrator() if judges else None,
                components.store,
                artifacts.zero_shot_calibrator() if judges else None,
            )
        )
        if options.prune:
            stages.append(
                PruneStage(
                    cls._pruning(components, options),
                    cls._few_examples_floor(components, options),
                    options.hierarchy,
                    components.store,
                )
            )
        return cls(components, options, stages, llm)

    @staticmethod
    def _few_examples_floor(components: Components, options: PipelineOptions) -> float:
        """``[confidence] few_examples_min_confidence`` where set, else the floor ``optimize`` chose: for this
        shape, or (a shape it did not tune, e.g. ``judge = "few-examples"`` switched on by hand) half the
        recall-only held-out F1."""
        configured = components.config.confidence.few_examples_min_confidence
        if configured is not None:
            return configured
        artifacts = components.artifacts
        for settings in (artifacts.settings(options.judge, options.generation), artifacts.settings("none", False)):
            if settings is not None and settings.few_examples_floor is not None:
                return settings.few_examples_floor
        return DEFAULT_FEW_EXAMPLES_FLOOR

    @staticmethod
    def _pruning(components: Components, options: PipelineOptions) -> Pruning:
        return components.artifacts.pruning(
            options.judge, options.generation, generation_max_tags=components.config.generation.max_tags
        )

    def with_overrides(self, *, llm: bool | None = None, **changes) -> Pipeline:
        """The same pipeline with some options changed; ``llm=False`` is recall and calibrated confidence alone
        (no generation, no judge). Unknown options are an error."""
        if llm is False:
            changes.update(generation=False, judge="none")
        unknown = set(changes) - {f.name for f in dataclasses.fields(PipelineOptions)}
        if unknown:
            raise ConfigError(f"unknown pipeline option(s): {', '.join(sorted(unknown))}")
        options = dataclasses.replace(self.options, **{k: v for k, v in changes.items() if v is not None})
        return self if options == self.options else Pipeline.build(self.components, options)

    # -- running ------------------------------------------------------------------
    @property
    def pruning(self) -> Pruning:
        """How this pipeline's final tag sets are cut."""
        return self._pruning(self.components, self.options)

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)

    def library(self) -> TagLibrary:
        return self.components.store.tag_library()

    def run(self, docs: Iterable[Document], *, batch_size: int = 64, progress: bool = False) -> list[TaggingResult]:
        """Tag contents, ``batch_size`` at a time through every stage (one embedding call, back-to-back LLM calls)."""
        docs = list(docs)
        out: list[TaggingResult] = []
        bar = tqdm(total=len(docs), desc="tagging", unit="doc", disable=not progress)
        for start in range(0, len(docs), batch_size):
            batch = [ContentState(doc) for doc in docs[start : start + batch_size]]
            for stage in self.stages:
                stage.run(batch)
            library = self.library()
            for state in batch:
                labels = {c.tag_id: library[c.tag_id].label for c in state.recall.candidates}
                out.append(
                    TaggingResult(
                        id=state.doc.id,
                        tags=state.ranked if state.tags is None else state.tags,
                        ranked=state.ranked,
                        recall=state.recall,
                        scored=state.scored,
                        selection=state.selection,
                        labels=labels,
                    )
                )
            bar.update(len(batch))
        bar.close()
        return out

    def close(self) -> None:
        """Stop an LLM this pipeline started for itself (the base-model variant); the project's is the project's."""
        if self.llm is not self.components.llm:
            self.llm.close()


class Pipelines:
    """The pipelines of one project by shape, each built once and again only when a calibration file or the
    configuration changes (the service asks for one per batch; rebuilding would reload every model)."""

    def __init__(self, components: Components) -> None:
        self.components = components
        self._built: dict[tuple, Pipeline] = {}
        self._stamp: tuple | None = None
        self._lock = threading.Lock()

    def get(self, **overrides) -> Pipeline:
        with self._lock:
            stamp = (self.components.artifacts.stamp(), repr(self.components.config))
            if stamp != self._stamp:
                self.close()
                options = PipelineOptions.from_config(self.components.config, self.components.artifacts)
                self._built, self._stamp = {(): Pipeline.build(self.components, options)}, stamp
            key = tuple(sorted((k, v) for k, v in overrides.items() if v is not None))
            if key not in self._built:
                self._built[key] = self._built[()].with_overrides(**overrides)
            return self._built[key]

    def close(self) -> None:
        for pipeline in self._built.values():
            pipeline.close()
        self._built = {}
