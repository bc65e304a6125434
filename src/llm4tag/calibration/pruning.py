"""Pruning: the final tag set of a content from the calibrated confidences of its candidates.

Two rules, chosen on a dev corpus by ``optimize``:

* ``threshold``: the tags whose confidence clears one global threshold (at most ``max_tags``); for the best
  document-averaged F1, or for the largest coverage at a precision the user names;
* ``expected_f1``: per content, the best-first prefix that maximises the expected F1 of the set, taking the
  confidences as independent probabilities (``expected_f1_of_prefixes``). A content with one clear tag keeps
  one, one with five likely tags keeps five: no global threshold fits both (Jansche 2007; Ye et al. 2012).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from llm4tag.calibration.settings import HIERARCHY_MODES
from llm4tag.library.tags import TagLibrary
from llm4tag.metrics.sets import set_scores

RULES = ("threshold", "expected_f1")


@dataclass(frozen=True)
class Pruning:
    """How final tag sets are cut: ``rule``, a confidence ``threshold`` (a floor under ``expected_f1``) and
    at most ``max_tags`` tags."""

    threshold: float
    max_tags: int
    rule: str = "threshold"

    def apply(self, tag_ids: list[str], confidences: np.ndarray, expected_gold: float | None = None) -> list[str]:
        """The kept tags, best first. ``expected_gold``: the expected number of right tags of the content (the sum
        of every candidate's confidence, considered or not); the considered ones' by default."""
        if self.rule == "expected_f1":
            return expected_f1_set(tag_ids, confidences, self.max_tags, self.threshold, expected_gold)
        return prune(tag_ids, confidences, self.threshold, self.max_tags)


def apply_hierarchy(kept: list[str], mode: str, library: TagLibrary) -> list[tuple[str, str | None]]:
    """The final tag set after ``[prune] hierarchy`` (``HIERARCHY_MODES``), best first, each with the kept tag
    that brought it in (None for the kept tags themselves): ``add-ancestors`` adds the kept tags' ancestors after them
    (each once, nearest first), ``drop-redundant-ancestors`` leaves out a tag that is an ancestor of another kept
    one. A content about "Python" is about "Programming languages" too: whether to say so is the reader's call."""
    if mode not in HIERARCHY_MODES:
        raise ValueError(f"hierarchy must be one of {', '.join(HIERARCHY_MODES)}, not {mode!r}")
    if mode == "none":
        return [(tag_id, None) for tag_id in kept]
    if mode == "drop-redundant-ancestors":
        above = {ancestor.id for tag_id in kept for ancestor in library.ancestors(tag_id)}
        return [(tag_id, None) for tag_id in kept if tag_id not in above]
    out: dict[str, str | None] = {tag_id: None for tag_id in kept}
    for tag_id in kept:
        for ancestor in reversed(library.ancestors(tag_id)):
            out.setdefault(ancestor.id, tag_id)
    return list(out.items())


def expected_f1_set(
    tag_ids: list[str], confidences: np.ndarray, max_tags: int, floor: float = 0.0, expected_gold: float | None = None
) -> list[str]:
    """The best-first prefix of at most ``max_tags`` tags with the highest expected F1 (nothing if every
    confidence is 0), less those under ``floor``. ``expected_gold``: the expected number of right tags in
    all (the considered ones' confidences sum to part of it; the rest is right tags among the others)."""
    confidences = np.clip(np.asarray(confidences, dtype=float), 0.0, 1.0)
    order = np.argsort(-confidences, kind="stable")
    ranked = confidences[order]
    total = float(ranked.sum()) if expected_gold is None else max(float(expected_gold), 0.0)
    values = expected_f1_of_prefixes(ranked, min(max_tags, len(ranked)), max(total - float(ranked.sum()), 0.0))
    best_k = int(np.argmax(values)) + 1 if len(values) and values.max() > 0 else 0
    return [tag_ids[i] for i in order[:best_k] if confidences[i] >= floor]


def expected_f1_of_prefixes(ranked: np.ndarray, max_k: int, elsewhere: float = 0.0) -> np.ndarray:
    """E[F1] of keeping the first k of ``ranked`` (probabilities, best first), for k = 1..``max_k``: exact for
    independent tags, E[2·TP / (k + |gold|)] over the distributions of right tags inside the prefix and outside
    it (sums of Bernoullis; the ``elsewhere`` right tags beyond these candidates a Poisson count). The
    shortcut 2·E[TP] / (k + E|gold|) underrates short sets where |gold| is uncertain; exact, document F1 on
    debtags and debtags-short rose by about .002 (docs/experiments/ranking.md)."""
    values = np.zeros(max_k)
    if max_k <= 0:
        return values
    outside = _poisson_pmf(elsewhere)
    for p in ranked[max_k:]:  # right tags past the longest prefix considered
        outside = np.convolve(outside, (1.0 - p, p))
    after = [outside] * (max_k + 1)  # after[k]: right tags past the first k
    for k in range(max_k - 1, 0, -1):
        after[k] = np.convolve(after[k + 1], (1.0 - ranked[k], ranked[k]))
    inside = np.ones(1)
    for k in range(1, max_k + 1):
        inside = np.convolve(inside, (1.0 - ranked[k - 1], ranked[k - 1]))
        hits = np.arange(len(inside))[:, None]
        missed = np.arange(len(after[k]))[None, :]
        values[k - 1] = inside @ (2.0 * hits / (k + hits + missed)) @ after[k]
    return values


def _poisson_pmf(mean: float) -> np.ndarray:
    """P(N = 0..n) of a Poisson count, n far enough into the tail that what is left is negligible."""
    if mean <= 0:
        return np.ones(1)
    n = int(mean + 12 * math.sqrt(mean) + 12)
    ratios = np.concatenate([[math.exp(-mean)], mean / np.arange(1, n + 1)])
    return np.cumprod(ratios)


@dataclass
class PruningChoice:
    threshold: float
    max_tags: int
    objective: str
    f1: float
    precision: float
    recall: float
    micro_precision: float
    coverage: float  # share of documents that keep at least one tag
    rule: str = "threshold"

    @property
    def pruning(self) -> Pruning:
        return Pruning(self.threshold, self.max_tags, self.rule)

    def to_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


DEFAULT_FEW_EXAMPLES_FLOOR = 0.5  # before ``optimize`` measured the project: precision first


def few_examples_floor_for(f1: float) -> float:
    """The least confidence at which a tag with few examples is kept on the LLM's word, for a project that
    reaches document F1 ``f1`` on held-out contents: half of it. With calibrated confidences, the threshold
    that maximises expected F1 is half the best F1 reachable (Lipton, Elkan and Naryanaswamy, 2014). A new
    tag has no held-out example to tune a threshold of its own on, so it gets the rule."""
    return round(float(f1) / 2, 4)


def unsure_few_examples(
    confidence: np.ndarray, few_examples: np.ndarray, judged: np.ndarray, floor: float
) -> np.ndarray:
    """Pairs never kept: tags with few examples whose only evidence, the LLM's word, is below ``floor``. Their
    threshold cannot be tuned on held-out contents (a new tag has no annotated example there): the floor is
    ``[confidence] few_examples_min_confidence`` where set, else ``few_examples_floor_for`` the held-out F1 ``optimize``
    measured."""
    return np.asarray(few_examples, bool) & np.asarray(judged, bool) & (np.asarray(confidence) < floor)


def prune(tag_ids: list[str], confidences: np.ndarray, threshold: float, max_tags: int) -> list[str]:
    order = np.argsort(-np.asarray(confidences), kind="stable")
    return [tag_ids[i] for i in order[:max_tags] if confidences[i] >= threshold]


def choose_threshold(
    per_doc: list[tuple[list[str], np.ndarray]],
    golds: list[set[str]],
    *,
    target_precision: float | None = None,
    thresholds: np.ndarray | None = None,
    max_tags_options: tuple[int, ...] = (3, 5, 8, 10, 15),
    rules: tuple[str, ...] = ("threshold",),
    expected_gold: list[float] | None = None,
) -> PruningChoice:
    """Grid search over rule × threshold × max tags on labelled documents (``expected_f1`` only for the best F1:
    it has no threshold to trade precision for coverage with)."""
    thresholds = thresholds if thresholds is not None else np.round(np.arange(0.05, 0.96, 0.025), 3)
    expected_gold = expected_gold or [None] * len(per_doc)
    grid = [("threshold", m, float(t)) for m in max_tags_options for t in thresholds] if "threshold" in rules else []
    if "expected_f1" in rules and target_precision is None:
        grid += [("expected_f1", m, 0.0) for m in max_tags_options]
    best: PruningChoice | None = None
    for rule, max_tags, threshold in grid:
        pruning = Pruning(threshold, max_tags, rule)
        predictions = [pruning.apply(tags, conf, e) for (tags, conf), e in zip(per_doc, expected_gold)]
        scores = set_scores(golds, predictions)
        coverage = float(np.mean([bool(p) for p in predictions])) if predictions else 0.0
        choice = PruningChoice(
            float(threshold),
            max_tags,
            "f1" if target_precision is None else f"precision>={target_precision}",
            scores.f1,
            scores.precision,
            scores.recall,
            scores.micro_precision,
            coverage,
            rule,
        )
        if target_precision is None:
            better = best is None or choice.f1 > best.f1
        else:
            meets = choice.micro_precision >= target_precision
            better = meets and (best is None or choice.recall > best.recall)
        if better:
            best = choice
    if best is None:
        raise ValueError(f"no threshold reaches precision {target_precision} on this corpus")
    return best
