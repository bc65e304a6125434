"""The final confidence of a (content, tag) pair: recall evidence combined with the LLM's judgement.

The recall stage gives every candidate a calibrated recall-only confidence. The LLM judge (Yes/No,
P(Yes) from log-probabilities) is a second, noisy opinion with a Yes bias; a small logistic model fitted
on held-out pairs learns how far to trust it against the recall evidence. Pairs the LLM did not judge
(routing found the recall evidence decisive, or judgement is off) keep their recall-only confidence.

``ConfidenceConfig`` holds the user's choices (``[confidence]`` in ``llm4tag.toml``);
``ConfidenceSettings`` holds what ``llm4tag optimize`` learned (threshold, tag limit, routing band).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from llm4tag.calibration.calibrator import logit
from llm4tag.calibration.pruning import Pruning
from llm4tag.calibration.routing import in_band
from llm4tag.fileio import atomic_write

JUDGE_MODES = ("none", "generated", "candidates")
USE_LLM = ("auto", "always", "never")
JUDGE_FEATURES = ("recall_logit", "judge_log_odds", "recall_x_judge", "selected")


@dataclass
class ConfidenceConfig:
    # auto: the LLM stages (the judge here, [generation]) run once `optimize` measured on held-out contents that
    # they raise F1 significantly (calibration/llm-decision.json); until then, and where they do not, recall only
    use_llm: str = "auto"  # auto | always | never
    judge: str = "candidates"  # which pairs the LLM judges: none | generated (the paper) | candidates (top N)
    judge_top_n: int = 8
    route: bool = True  # judge only pairs whose recall-only confidence is not decisive (needs `optimize`)
    allow_fallback: bool = False  # score from the answer text when a backend has no log-probabilities
    cache: bool = True  # reuse judgements of the same content, tag, model and prompt (stored in the project)

    def __post_init__(self) -> None:
        if self.use_llm not in USE_LLM:
            raise ValueError(f"use_llm must be one of {', '.join(USE_LLM)}, not {self.use_llm!r}")
        if self.judge not in JUDGE_MODES:
            raise ValueError(f"judge must be one of {', '.join(JUDGE_MODES)}, not {self.judge!r}")
        if self.judge_top_n < 1:
            raise ValueError("judge_top_n must be at least 1")


def judge_features(recall_conf: np.ndarray, p_yes: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """Rows of JUDGE_FEATURES for judged pairs (log-odds clipped to ±12: P(Yes) of exactly 0 or 1 happens)."""
    recall_logit = logit(np.asarray(recall_conf, dtype=float))
    judge_log_odds = np.clip(logit(np.asarray(p_yes, dtype=float)), -12, 12)
    return np.column_stack(
        [recall_logit, judge_log_odds, recall_logit * judge_log_odds, np.asarray(selected, dtype=float)]
    )


def judged_pairs(scored: list[ScoredCandidates], golds: list[set[str]]) -> tuple[np.ndarray, np.ndarray]:
    """JUDGE_FEATURES rows and right/wrong labels of every considered pair; every pair must have been judged."""
    rows = [judge_features(s.recall_conf, s.p_yes, s.selected) for s in scored]
    labels = [int(t in gold) for s, gold in zip(scored, golds) for t in s.tag_ids]
    return np.vstack(rows) if rows else np.zeros((0, len(JUDGE_FEATURES))), np.array(labels, dtype=int)


@dataclass
class ConfidenceSettings:
    """What ``optimize`` chose on a dev corpus; applied by ``tag``.

    Stored per pipeline shape as calibration/settings-<judge>[-generation].json."""

    threshold: float = 0.0
    max_tags: int = 10
    rule: str = "threshold"  # or "expected_f1" (see calibration/pruning.py)
    route_lower: float = 0.0  # recall-only confidence at or below: rejected without the LLM
    route_upper: float = 1.0  # at or above: accepted without the LLM
    report: dict = field(default_factory=dict)

    @property
    def pruning(self) -> Pruning:
        return Pruning(self.threshold, self.max_tags, self.rule)

    def needs_llm(self, recall_conf: np.ndarray) -> np.ndarray:
        return in_band(recall_conf, self.route_lower, self.route_upper)

    def save(self, path: str | Path) -> None:
        with atomic_write(path) as handle:
            json.dump(asdict(self), handle, indent=2)

    @classmethod
    def load(cls, path: str | Path) -> ConfidenceSettings | None:
        path = Path(path)
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass
class ScoredCandidates:
    """The tags considered for one content, with every score that led to the final confidence."""

    tag_ids: list[str]
    recall_conf: np.ndarray  # calibrated recall-only confidence
    p_yes: np.ndarray  # the judge's P(Yes); NaN where the LLM was not asked
    selected: np.ndarray  # picked by the generation step
    confidence: np.ndarray  # final: combined where judged (and a judge calibrator exists), else recall-only
    candidate_conf: np.ndarray = field(default_factory=lambda: np.zeros(0))  # every candidate's, in recall order
    candidate_ids: list[str] = field(default_factory=list)  # every candidate, in recall order

    @property
    def judged(self) -> np.ndarray:
        return ~np.isnan(self.p_yes)

    @property
    def expected_gold(self) -> float:
        """Expected number of right tags among all candidates: the final confidence of the considered ones plus
        the recall-only confidence of the rest."""
        rest = float(np.sum(np.clip(self.candidate_conf, 0, 1))) - float(np.sum(np.clip(self.recall_conf, 0, 1)))
        return max(rest, 0.0) + float(np.sum(np.clip(self.confidence, 0, 1)))
