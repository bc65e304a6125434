"""The stages of the tagging pipeline, in the order they run: recall → select → consider → judge → score → prune.

Each stage has one method, ``run(batch)``, which fills in its part of every ``ContentState`` of the batch.
A stage is given what it needs when it is built (indexes, store, LLM, fitted models), never the project;
a pipeline without a stage is built without it (see ``Pipeline.with_overrides``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from llm4tag.calibration.calibrator import Calibrator
from llm4tag.calibration.confidence import (
    JUDGE_FEATURES,
    ZERO_SHOT_FEATURES,
    ConfidenceSettings,
    ScoredCandidates,
    final_confidence,
)
from llm4tag.calibration.features import RECALL_FEATURES, recall_features
from llm4tag.calibration.pruning import Pruning, apply_hierarchy, unsure_few_examples
from llm4tag.corpus.documents import Document, text_hash
from llm4tag.embedding.cache import CachedEmbedder
from llm4tag.generation.generator import Example, GenerationConfig, Selection, TagGenerator
from llm4tag.generation.judge import Judge, JudgementCache
from llm4tag.generation.knowledge import KnowledgeBase
from llm4tag.generation.prompts import PromptTemplate
from llm4tag.library.tags import TagLibrary
from llm4tag.llm.lazy import LazyLLM
from llm4tag.pipeline.results import TagAssignment
from llm4tag.recall.recall_index import RecallIndex
from llm4tag.recall.results import RecallResult
from llm4tag.recall.settings import RecallConfig
from llm4tag.store.base import Store


@dataclass
class ContentState:
    """One content on its way through the pipeline; each stage fills in its fields."""

    doc: Document
    recall: RecallResult | None = None
    candidate_conf: np.ndarray = field(default_factory=lambda: np.zeros(0))  # recall-only, every candidate
    selection: Selection | None = None
    considered: list[str] = field(default_factory=list)  # the tags that get a final confidence
    recall_conf: np.ndarray = field(default_factory=lambda: np.zeros(0))  # recall-only, per considered tag
    p_yes: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per considered tag; NaN: not judged
    few_examples: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # per considered tag: few examples
    scored: ScoredCandidates | None = None
    ranked: list[TagAssignment] = field(default_factory=list)  # every considered tag, best first
    tags: list[TagAssignment] | None = None  # the final set (None: not pruned, all of ``ranked``)

    def selected(self) -> np.ndarray:
        picked = set(self.selection.tag_ids) if self.selection is not None else set()
        return np.array([t in picked for t in self.considered], dtype=bool)


class Stage(Protocol):
    name: str

    def run(self, batch: list[ContentState]) -> None: ...


class RecallStage:
    """Candidates with provenance from the content–tag graph, and their calibrated recall-only confidence
    (the raw fused score, clipped to [0, 1], until ``calibrate`` has fitted a calibrator)."""

    name = "recall"

    def __init__(
        self,
        index: RecallIndex,
        calibrator: Calibrator | None,
        config: RecallConfig | None = None,
        *,
        held_out: bool = False,
        paths: tuple[str, ...] | None = None,
        exclude_stored: bool = False,
    ) -> None:
        """``held_out``: the contents are the project's own annotated ones, recalled as if never annotated.
        ``exclude_stored``: a content the store holds under the same id is not its own neighbour (the learned
        paths are as fitted: cheaper than ``held_out``, which refits them without the contents).
        ``paths``: the recall paths the calibrator must have been fitted with (None: not checked, for ablations
        that turn paths off on purpose)."""
        self.index, self.calibrator, self.config, self.held_out = index, calibrator, config, held_out
        self.paths, self._checked, self.exclude_stored = paths, False, exclude_stored

    def _check_calibrator(self) -> None:
        """Refuse a stale calibrator when contents are first tagged, not when the stage is built: ``calibrate``
        builds the pipeline to read its shape, and must work to replace exactly such a calibrator."""
        if self.calibrator is not None:
            self.calibrator.check_features(RECALL_FEATURES)
            if self.paths is not None:
                self.calibrator.check_paths(self.paths)
        self._checked = True

    def run(self, batch: list[ContentState]) -> None:
        if not self._checked:
            self._check_calibrator()
        if self.held_out:
            recalls = self.index.recall_held_out([s.doc for s in batch])
        else:
            exclude = [s.doc.id for s in batch] if self.exclude_stored else None
            recalls = self.index.recall([s.doc.text for s in batch], config=self.config, exclude=exclude)
        features = [recall_features(result) for result in recalls]
        if self.calibrator is not None and any(tags for _, tags in features):  # one call for the whole batch
            X = np.vstack([x for x, _ in features])
            tags = [tag for _, tag_ids in features for tag in tag_ids]
            confidence = self.calibrator.predict_proba(X, tags, feature_names=RECALL_FEATURES)
            ends = np.cumsum([len(tag_ids) for _, tag_ids in features])
            per_content = np.split(confidence, ends[:-1])
        else:
            per_content = [np.clip(x[:, 0], 0, 1) if len(tag_ids) else np.zeros(0) for x, tag_ids in features]
        for state, result, confidence in zip(batch, recalls, per_content):
            state.recall, state.candidate_conf = result, np.asarray(confidence, dtype=float)


class SelectStage:
    """Knowledge-enhanced generation: the LLM picks tags from the candidates, with similar annotated examples,
    tag notes and reviewers' corrections in its prompt (read from the store on every batch: knowledge added a
    moment ago counts)."""

    name = "select"

    def __init__(
        self,
        llm: LazyLLM,
        template: PromptTemplate,
        config: GenerationConfig,
        store: Store,
        embedder: Callable[[], CachedEmbedder],
        *,
        examples: bool = True,
        notes: bool = True,
    ) -> None:
        self.llm, self.template, self.config = llm, template, config
        self.store, self._embedder = store, embedder
        self.use_examples, self.use_notes = examples, notes
        self._generator: TagGenerator | None = None
        self._library = None

    @property
    def generator(self) -> TagGenerator:
        """Prompt building and answer validation, for the current tag library."""
        library = self.store.tag_library()
        if self._generator is None or self._library is not library:
            self._generator = TagGenerator(self.llm.get(), self.template, library.display_names(), self.config)
            self._library = library
        return self._generator

    def examples_for(self, doc: Document, recall: RecallResult) -> list[Example]:
        """The most similar annotated contents (never the content's own annotation) as few-shot examples."""
        cfg = self.config
        if not self.use_examples or not cfg.examples:
            return []
        wanted = [(cid, sim) for cid, sim in recall.neighbours if sim >= cfg.example_min_similarity]
        stored = {d.id: d for d in self.store.get_contents([cid for cid, _ in wanted[: cfg.examples + 1]])}
        own = text_hash(doc.text)
        examples = []
        for cid, _ in wanted:
            neighbour = stored.get(cid)
            if neighbour is None or not neighbour.tags or neighbour.text_hash == own:
                continue
            examples.append(Example(neighbour.text, neighbour.tags))
            if len(examples) >= cfg.examples:
                break
        return examples

    def run(self, batch: list[ContentState]) -> None:
        generator = self.generator
        names = generator.display_names
        knowledge = KnowledgeBase.load(self.store, self._embedder().encode) if self.use_notes else None
        texts = [s.doc.text for s in batch]
        vectors = self._embedder().encode(texts) if knowledge and knowledge.corrections else None
        notes = []
        for i, state in enumerate(batch):
            found: list[str] = []
            if knowledge is not None:
                ids = [c.tag_id for c in state.recall.candidates]
                found = knowledge.notes_for(ids[: self.config.candidates], names)
                if vectors is not None:
                    found += knowledge.corrections_for(vectors[i], names)
            notes.append(found)
        selections = generator.select(
            texts,
            [[c.tag_id for c in s.recall.candidates] for s in batch],
            [self.examples_for(s.doc, s.recall) for s in batch],
            notes,
        )
        for state, selection in zip(batch, selections):
            state.selection = selection


class ConsiderStage:
    """Which tags get a final confidence: the LLM's picks (``judge = "generated"``, or ``"none"`` after
    generation), the top ``top_n`` candidates plus any picks and the candidates in slots reserved for tags with
    few examples (``"candidates"``, ``"few-examples"``), or the top candidates. "Top" is by recall-only
    confidence: the learned ranker's order, not the fused score's. Tags with at most ``few_examples`` examples
    are marked as having few."""

    name = "consider"

    def __init__(self, judge_mode: str, top_n: int, few_examples: int = 10) -> None:
        self.judge_mode, self.top_n, self.few_examples = judge_mode, top_n, few_examples

    def run(self, batch: list[ContentState]) -> None:
        for state in batch:
            order = np.argsort(-state.candidate_conf, kind="stable")
            ids = [state.recall.candidates[i].tag_id for i in order]
            picked = list(state.selection.tag_ids) if state.selection is not None else []
            if self.judge_mode in ("candidates", "few-examples"):
                top = ids[: self.top_n]
                reserved = [c.tag_id for c in state.recall.candidates if c.reserved]
                state.considered = list(dict.fromkeys(top + picked + reserved))
            elif state.selection is not None:
                state.considered = picked
            else:
                state.considered = ids[: self.top_n]
            by_tag = {c.tag_id: (i, c) for i, c in enumerate(state.recall.candidates)}
            state.recall_conf = np.array([state.candidate_conf[by_tag[t][0]] for t in state.considered], dtype=float)
            state.few_examples = np.array(
                [by_tag[t][1].examples <= self.few_examples for t in state.considered], dtype=bool
            )
            state.p_yes = np.full(len(state.considered), np.nan)


class JudgeStage:
    """The LLM judges (content, tag) pairs: P(Yes) from the first token's log-probabilities. With a routing
    band (``routing``), only pairs whose recall-only confidence is not decisive are asked; pairs of tags with
    few examples are always asked (their recall confidence says little), and with ``only_few_examples`` only
    they are."""

    name = "judge"

    def __init__(
        self,
        llm: LazyLLM,
        template: PromptTemplate,
        store: Store,
        *,
        routing: ConfidenceSettings | None = None,
        cache: bool = True,
        allow_fallback: bool = False,
        only_few_examples: bool = False,
        judgements: JudgementCache | None = None,
    ) -> None:
        self.llm, self.template, self.store = llm, template, store
        self.judgements = judgements if judgements is not None else store  # where judgements are reused and kept
        self.routing, self.cache, self.allow_fallback, self.only_few_examples = (
            routing,
            cache,
            allow_fallback,
            only_few_examples,
        )
        self._judge: Judge | None = None
        self._library = None

    @property
    def judge(self) -> Judge:
        library = self.store.tag_library()
        if self._judge is None or self._library is not library:  # it shows tags' names and descriptions
            self._judge = Judge(self.llm.get(), self.template, library, allow_fallback=self.allow_fallback)
            self._library = library
        return self._judge

    def run(self, batch: list[ContentState]) -> None:
        for state in batch:
            if not state.considered:
                continue
            if self.only_few_examples:
                ask = state.few_examples.copy()
            elif self.routing is not None:
                ask = self.routing.needs_llm(state.recall_conf) | state.few_examples
            else:
                ask = np.ones(len(state.considered), bool)
            asked = [t for t, a in zip(state.considered, ask) if a]
            if asked:
                scores = self.judge.judge(state.doc.text, asked, store=self.judgements if self.cache else None)
                state.p_yes[ask] = [s.p_yes for s in scores]


class ScoreStage:
    """Final confidence (``confidence.final_confidence``): where the LLM judged, the judge calibrator combines
    recall evidence with P(Yes), or for tags with few examples the zero-shot calibrator reads P(Yes) alone;
    elsewhere the recall-only confidence stands."""

    name = "score"

    def __init__(self, judge_calibrator: Calibrator | None, store: Store, zero_shot: Calibrator | None = None) -> None:
        self.calibrator, self.zero_shot, self.store = judge_calibrator, zero_shot, store
        if judge_calibrator is not None:
            judge_calibrator.check_features(JUDGE_FEATURES)
        if zero_shot is not None:
            zero_shot.check_features(ZERO_SHOT_FEATURES)

    def run(self, batch: list[ContentState]) -> None:
        library = self.store.tag_library()
        for state in batch:
            recall_conf, selected = state.recall_conf, state.selected()
            final = final_confidence(
                recall_conf, state.p_yes, selected, state.few_examples, self.calibrator, self.zero_shot
            )
            judged = ~np.isnan(state.p_yes)
            state.scored = ScoredCandidates(
                state.considered,
                recall_conf,
                state.p_yes,
                selected,
                final,
                state.candidate_conf,
                [c.tag_id for c in state.recall.candidates],
                state.few_examples,
            )
            paths = {c.tag_id: c.paths for c in state.recall.candidates}
            order = sorted(range(len(final)), key=lambda i: -final[i])
            state.ranked = [
                TagAssignment(
                    tag_id=state.considered[i],
                    label=library[state.considered[i]].label,
                    score=float(final[i]),
                    source="judge" if judged[i] else "recall",
                    selected=bool(selected[i]),
                    p_yes=None if np.isnan(state.p_yes[i]) else float(state.p_yes[i]),
                    paths=paths.get(state.considered[i], {}),
                )
                for i in order
            ]


class PruneStage:
    """The final tag set, best first: by one threshold, or per content the set with the best expected F1; a tag
    with few examples kept on the LLM's word alone needs at least ``few_examples_floor``
    (``pruning.unsure_few_examples``). Then ``[prune] hierarchy`` (``pruning.apply_hierarchy``): an added
    ancestor is as likely right as the tag that brought it in, at least (source ``"hierarchy"`` where that
    raised its confidence)."""

    name = "prune"

    def __init__(
        self, pruning: Pruning, few_examples_floor: float = 0.0, hierarchy: str = "none", store: Store | None = None
    ) -> None:
        if hierarchy != "none" and store is None:
            raise ValueError("a hierarchy mode needs the store (the tag library)")
        self.pruning, self.few_examples_floor = pruning, few_examples_floor
        self.hierarchy, self.store = hierarchy, store

    def run(self, batch: list[ContentState]) -> None:
        library = self.store.tag_library() if self.hierarchy != "none" else None
        for state in batch:
            scored = state.scored
            unsure = unsure_few_examples(
                scored.confidence, scored.few_examples_mask, scored.judged, self.few_examples_floor
            )
            keep = self.pruning.apply(list(range(len(scored.tag_ids))), scored.confidence, scored.expected_gold)
            by_tag = {t.tag_id: t for t in state.ranked}
            state.tags = [by_tag[scored.tag_ids[i]] for i in keep if not unsure[i]]
            if library is not None:
                state.tags = self._with_hierarchy(state.tags, by_tag, library)

    def _with_hierarchy(self, tags: list[TagAssignment], by_tag: dict, library: TagLibrary) -> list[TagAssignment]:
        kept = {t.tag_id: t for t in tags}
        out = []
        for tag_id, brought_by in apply_hierarchy(list(kept), self.hierarchy, library):
            if brought_by is None:
                out.append(kept[tag_id])
                continue
            child = kept[brought_by]
            own = by_tag.get(tag_id)
            if own is not None and own.score >= child.score:
                out.append(own)
            else:
                out.append(
                    TagAssignment(
                        tag_id,
                        library[tag_id].label,
                        child.score,
                        "hierarchy",
                        paths=dict(own.paths) if own is not None else {},
                    )  # fmt: skip
                )
        return out
