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

from llm4tag.calibration.calibrator import Calibrator, logit
from llm4tag.calibration.pruning import Pruning
from llm4tag.calibration.routing import in_band
from llm4tag.calibration.settings import ConfidenceConfig  # noqa: F401 - re-exported
from llm4tag.fileio import atomic_write

JUDGE_FEATURES = ("recall_logit", "judge_log_odds", "recall_x_judge", "selected")
ZERO_SHOT_FEATURES = ("judge_log_odds",)  # tags with few examples: the recall evidence is too thin to combine


def pipeline_shape(judge: str, generation: bool) -> str:
    """The name settings are stored under: the judge mode, and whether the LLM picks tags first."""
    return f"{judge}-generation" if generation else judge


def _log_odds(p_yes: np.ndarray) -> np.ndarray:
    """The judge's log-odds, clipped to ±12 (P(Yes) of exactly 0 or 1 happens)."""
    return np.clip(logit(np.asarray(p_yes, dtype=float)), -12, 12)


def judge_features(recall_conf: np.ndarray, p_yes: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """Rows of JUDGE_FEATURES for judged pairs."""
    recall_logit, judge_log_odds = logit(np.asarray(recall_conf, dtype=float)), _log_odds(p_yes)
    return np.column_stack(
        [recall_logit, judge_log_odds, recall_logit * judge_log_odds, np.asarray(selected, dtype=float)]
    )


def judged_pairs(
    scored: list[ScoredCandidates], golds: list[set[str]], *, few_examples: bool | None = False, zero_shot: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (JUDGE_FEATURES, or ZERO_SHOT_FEATURES with ``zero_shot``) and right/wrong labels of the
    judged pairs of tags with enough examples (``few_examples=False``), with few (``True``), or all (``None``)."""
    rows, labels = [], []
    for s, gold in zip(scored, golds):
        keep = s.judged & (
            np.ones(len(s.tag_ids), bool) if few_examples is None else (s.few_examples_mask == few_examples)
        )
        if zero_shot:
            rows.append(_log_odds(s.p_yes[keep])[:, None])
        else:
            rows.append(judge_features(s.recall_conf[keep], s.p_yes[keep], s.selected[keep]))
        labels.extend(int(t in gold) for t, k in zip(s.tag_ids, keep) if k)
    width = len(ZERO_SHOT_FEATURES if zero_shot else JUDGE_FEATURES)
    return np.vstack(rows) if rows else np.zeros((0, width)), np.array(labels, dtype=int)


def fit_judge_models(
    scored: list[ScoredCandidates], golds: list[set[str]]
) -> tuple[Calibrator | None, Calibrator | None]:
    """The judge calibrator (recall evidence and P(Yes), fitted on pairs of tags with enough examples) and the
    zero-shot one (P(Yes) alone, fitted on every judged pair: tags with few examples have too few right pairs
    to fit on their own), each None where its pairs are all right or all wrong."""
    models = []
    for few_examples, zero_shot in ((False, False), (None, True)):
        X, y = judged_pairs(scored, golds, few_examples=few_examples, zero_shot=zero_shot)
        names = ZERO_SHOT_FEATURES if zero_shot else JUDGE_FEATURES
        ok = len(np.unique(y)) == 2
        models.append(Calibrator(method="platt", per_tag=False).fit(X, y, feature_names=names) if ok else None)
    return models[0], models[1]


def final_confidence(
    recall_conf: np.ndarray,
    p_yes: np.ndarray,
    selected: np.ndarray,
    few_examples: np.ndarray,
    judge_model: Calibrator | None,
    zero_shot_model: Calibrator | None,
) -> np.ndarray:
    """Where the LLM judged: for tags with enough examples, recall evidence and P(Yes) combined by the judge
    calibrator; for tags with few examples, P(Yes) alone through the zero-shot calibrator. Elsewhere, and where
    a calibrator is missing, the recall-only confidence stands."""
    final = np.array(recall_conf, dtype=float, copy=True)
    judged = ~np.isnan(p_yes)
    regular, cold = judged & ~few_examples, judged & few_examples
    if judge_model is not None and regular.any():
        features = judge_features(recall_conf[regular], p_yes[regular], selected[regular])
        final[regular] = judge_model.predict_proba(features, feature_names=JUDGE_FEATURES)
    if zero_shot_model is not None and cold.any():
        final[cold] = zero_shot_model.predict_proba(_log_odds(p_yes[cold])[:, None], feature_names=ZERO_SHOT_FEATURES)
    return final


@dataclass
class ConfidenceSettings:
    """What ``optimize`` chose on a dev corpus; applied by ``tag``.

    Stored per pipeline shape as calibration/settings-<judge>[-generation].json."""

    threshold: float = 0.0
    max_tags: int = 10
    rule: str = "threshold"  # or "expected_f1" (see calibration/pruning.py)
    route_lower: float = 0.0  # recall-only confidence at or below: rejected without the LLM
    route_upper: float = 1.0  # at or above: accepted without the LLM
    few_examples_floor: float | None = None  # a tag with few examples kept on the LLM's word only at this confidence
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
        if "thin_floor" in data:  # written before the setting was renamed
            data.setdefault("few_examples_floor", data.pop("thin_floor"))
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
    few_examples: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # per considered tag: few examples

    @property
    def few_examples_mask(self) -> np.ndarray:
        return self.few_examples if len(self.few_examples) == len(self.tag_ids) else np.zeros(len(self.tag_ids), bool)

    @property
    def judged(self) -> np.ndarray:
        return ~np.isnan(self.p_yes)

    @property
    def expected_gold(self) -> float:
        """Expected number of right tags among all candidates: the final confidence of the considered ones plus
        the recall-only confidence of the rest."""
        rest = float(np.sum(np.clip(self.candidate_conf, 0, 1))) - float(np.sum(np.clip(self.recall_conf, 0, 1)))
        return max(rest, 0.0) + float(np.sum(np.clip(self.confidence, 0, 1)))
