"""``llm4tag synthesize --check``: keep the synthetic contents only where they pay, on held-out real contents.

The project's own real contents are split as ``calibrate`` splits them (a seeded share, never a synthetic
content), and recalled twice as if never annotated: with the synthetic contents in the graph and the learned
paths, and without them (the graph less those contents, the learned paths fitted without them). The tags are put
in groups by the written examples they have outside the split (0, 1-4, 5 or more), and for each group the two are
compared on the group's occurrences: the share found among the candidates, and micro F1 of each content's top
``k`` candidates (``k``: the held-out contents' mean number of tags). A group keeps its synthetic contents only
when the 95% paired bootstrap interval of that F1 gain lies above zero, the rule ``optimize`` applies to the LLM
stages; where it does not, the synthetic contents written for the group's tags are removed (their learn file
still holds them). The decision and its numbers are saved in the store (``synthesis/decision.json``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from llm4tag.corpus.documents import is_synthetic
from llm4tag.errors import Llm4tagError
from llm4tag.synthesis.examples import written_example_counts

DECISION = "synthesis/decision.json"
GROUPS = ("0", "1-4", "5+")
MIN_OCCURRENCES = 5  # a group with fewer held-out occurrences than this decides nothing: its contents stay out


def group_of(examples: int) -> str:
    return "0" if examples == 0 else ("1-4" if examples < 5 else "5+")


def _counts(predicted: list[list[str]], golds: list[set[str]], tags: set[str]) -> np.ndarray:
    """Per content: true positives, false positives, false negatives among ``tags``."""
    out = np.zeros((len(golds), 3), dtype=np.int64)
    for row, (chosen, gold) in enumerate(zip(predicted, golds)):
        chosen, gold = set(chosen) & tags, gold & tags
        out[row] = (len(chosen & gold), len(chosen - gold), len(gold - chosen))
    return out


def _f1(counts: np.ndarray) -> np.ndarray:
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0)


def compare(
    with_: list[list[str]],
    without: list[list[str]],
    golds: list[set[str]],
    tags: set[str],
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Micro F1 over ``tags`` of two predictions for the same contents, with a paired bootstrap interval."""
    a, b = _counts(with_, golds, tags), _counts(without, golds, tags)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(golds), size=(resamples, len(golds)))
    gains = _f1(a[picks].sum(axis=1)) - _f1(b[picks].sum(axis=1))
    return {
        "occurrences": int(a[:, 0].sum() + a[:, 2].sum()),
        "f1_with": round(float(_f1(a.sum(axis=0))), 4),
        "f1_without": round(float(_f1(b.sum(axis=0))), 4),
        "gain": round(float(_f1(a.sum(axis=0)) - _f1(b.sum(axis=0))), 4),
        "gain_ci95": [round(float(np.quantile(gains, 0.025)), 4), round(float(np.quantile(gains, 0.975)), 4)],
    }


def check_synthetic(project, *, apply: bool = True, resamples: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Measure, decide per group, save the decision, and (``apply``) remove the synthetic contents of the groups
    where they do not pay; returns the decision."""
    started = time.perf_counter()
    index = project.recall_index
    graph = index.graph
    synthetic = {c for c in graph.content_ids if is_synthetic(c)}
    if not synthetic:
        raise Llm4tagError("the project has no synthetic contents: llm4tag synthesize, then llm4tag learn, first")
    held = index.held_out_contents(seed=seed)
    if not held:
        raise Llm4tagError("the project has no annotated contents of its own to measure on")
    held_ids = {d.id for d in held}
    store = project.store
    examples = written_example_counts(store, leave_out=held_ids)
    group_by_tag = {tag_id: group_of(examples[tag_id]) for tag_id in graph.tag_ids}
    written_for: dict[str, str] = {
        content_id: str(meta.get("for_tag", "")) for content_id, meta in store.synthetic_contents()
    }

    texts, ids = [d.text for d in held], [d.id for d in held]
    vectors = project.embedder.encode(texts)
    arms = {}
    for arm, without in (("with", frozenset()), ("without", frozenset(synthetic))):
        recaller = index.held_out_recaller(held_ids, without=without)
        arms[arm] = recaller.recall(texts, vectors, exclude=ids)
    golds = [set(d.tags) for d in held]
    k = max(1, round(sum(map(len, golds)) / len(golds)))
    top = {arm: [[c.tag_id for c in r.candidates[:k]] for r in results] for arm, results in arms.items()}
    candidates = {arm: [{c.tag_id for c in r.candidates} for r in results] for arm, results in arms.items()}

    groups: dict[str, Any] = {}
    for number, group in enumerate(GROUPS):
        tags = {t for t, g in group_by_tag.items() if g == group}
        result = compare(top["with"], top["without"], golds, tags, resamples=resamples, seed=seed + number)
        occurrences = sum(len(g & tags) for g in golds)
        for arm in ("with", "without"):
            found = sum(len(g & tags & c) for g, c in zip(golds, candidates[arm]))
            result[f"in_candidates_{arm}"] = round(found / occurrences, 4) if occurrences else 0.0
        result["tags"] = len(tags)
        result["synthetic_contents"] = sum(1 for c in synthetic if group_by_tag.get(written_for.get(c, "")) == group)
        if not result["synthetic_contents"]:
            result.update(keep=False, reason="no synthetic contents were written for these tags")
        elif occurrences < MIN_OCCURRENCES:
            result.update(keep=False, reason=f"{occurrences} held-out occurrences: too few to tell")
        elif result["gain_ci95"][0] > 0:
            result.update(keep=True, reason="the held-out F1 gain's 95% interval lies above zero")
        else:
            result.update(keep=False, reason="no significant held-out F1 gain")
        groups[group] = result
    overall = compare(top["with"], top["without"], golds, set(graph.tag_ids), resamples=resamples, seed=seed + 9)
    drop = {c for c in synthetic if not groups.get(group_by_tag.get(written_for.get(c, ""), ""), {}).get("keep")}
    decision = {
        "held_out_contents": len(held),
        "top_k": k,
        "synthetic_contents": len(synthetic),
        "groups": groups,
        "all_tags": overall,
        "kept": sorted(g for g, r in groups.items() if r.get("keep")),
        "removed": len(drop) if apply else 0,
        "seconds": round(time.perf_counter() - started, 1),
        "decided_at": time.time(),
    }
    store.put_artifact(DECISION, json.dumps(decision, indent=2).encode("utf-8"), {"kind": "synthesis decision"})
    if apply and drop:
        store.delete_contents(drop)
        index.mark_stale()
    return decision


def last_decision(store) -> dict | None:
    found = store.get_artifact(DECISION)
    return json.loads(found[0]) if found else None
