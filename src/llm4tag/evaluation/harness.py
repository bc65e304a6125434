"""``llm4tag eval``: the whole pipeline (or parts of it switched off) on an annotated corpus.

Reports, all defined in ``docs/evaluation.md``:

* ranking (Annif's definitions, ``ranking.py``): P@k, R@k, F1@k for k = 1, 3, 5, NDCG@10, average
  recall@5..50 over every candidate ranked by its final confidence;
* final tag sets (after pruning): document-averaged and micro precision, recall, F1;
* candidate recall@N of the recall stage (per meta-path too, for the recall stage);
* calibration of the final confidences over the considered (content, tag) pairs: ECE, Brier;
* per tag: support, predictions, precision, recall, F1, worst first;
* seconds per document.

Ablations (``without``): ``graph`` (recall by lexical match + C2T only), ``knowledge`` (no retrieved
examples, notes or corrections in prompts), ``judge`` (no LLM judgement), ``generation`` (no LLM
selection), ``calibration`` (raw scores; the top ``max_tags`` kept, no threshold), ``finetune`` (the
``[llm] base_model`` instead of the fine-tuned ``model``).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llm4tag.calibration import calibration_report
from llm4tag.calibration.pruning import Pruning
from llm4tag.corpus.documents import Document
from llm4tag.errors import ConfigError
from llm4tag.evaluation.recall_eval import evaluate_recall
from llm4tag.metrics.ranking import ranking_scores
from llm4tag.metrics.retrieval import mean_recall_at
from llm4tag.metrics.sets import set_scores
from llm4tag.pipeline import Pipeline

ABLATIONS = ("graph", "knowledge", "judge", "generation", "calibration", "finetune")
STAGES = ("recall", "full")


@dataclass
class EvalReport:
    documents: int
    stage: str
    without: list[str]
    pipeline: dict[str, Any]
    ranking: dict[str, float]
    tag_sets: dict[str, float]
    candidate_recall: dict[str, dict[str, float]]
    calibration: dict[str, float]
    per_tag: list[dict[str, Any]] = field(default_factory=list)
    seconds_per_document: float = 0.0
    llm_calls_per_document: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        def rounded(value):
            if isinstance(value, float):
                return round(value, 4)
            if isinstance(value, dict):
                return {k: rounded(v) for k, v in value.items()}
            if isinstance(value, list):
                return [rounded(v) for v in value]
            return value

        return rounded(self.__dict__.copy())

    def to_markdown(self, worst_tags: int = 15) -> str:
        r, s, c = self.ranking, self.tag_sets, self.calibration
        off = ", ".join(self.without) or "nothing"
        lines = [
            f"## llm4tag eval: {self.stage} stage, {self.documents} documents (switched off: {off})",
            "",
            f"Pipeline: {', '.join(f'{k}={v}' for k, v in self.pipeline.items())}",
            "",
            "| P@1 | P@3 | P@5 | R@5 | F1@5 | NDCG@10 | avg R@5..50 |",
            "|---|---|---|---|---|---|---|",
            f"| {r['precision@1']:.4f} | {r['precision@3']:.4f} | {r['precision@5']:.4f} | {r['recall@5']:.4f} "
            f"| {r['f1@5']:.4f} | {r['ndcg@10']:.4f} | {r['avg_recall@5..50']:.4f} |",
            "",
            "| final tag sets | precision | recall | F1 |",
            "|---|---|---|---|",
            f"| document-averaged | {s['precision']:.4f} | {s['recall']:.4f} | {s['f1']:.4f} |",
            f"| micro | {s['micro_precision']:.4f} | {s['micro_recall']:.4f} | {s['micro_f1']:.4f} |",
            "",
            f"Confidence calibration over {c['pairs']} pairs: ECE {c['ece']:.4f}, Brier {c['brier']:.4f}. "
            f"{self.seconds_per_document:.3f} s and {self.llm_calls_per_document:.2f} LLM calls per document.",
            "",
            "| candidate recall | " + " | ".join(f"@{n}" for n in next(iter(self.candidate_recall.values()))) + " |",
            "|---|" + "---|" * len(next(iter(self.candidate_recall.values()))),
        ]
        for name, row in self.candidate_recall.items():
            lines.append(f"| {name} | " + " | ".join(f"{v:.4f}" for v in row.values()) + " |")
        lines += ["", f"Worst tags (support ≥ 5), {worst_tags} of {len(self.per_tag)}:", ""]
        lines += ["| tag | support | predicted | precision | recall | F1 |", "|---|---|---|---|---|---|"]
        for row in [t for t in self.per_tag if t["support"] >= 5][:worst_tags]:
            lines.append(
                f"| {row['tag_id']} | {row['support']} | {row['predicted']} | {row['precision']:.3f} "
                f"| {row['recall']:.3f} | {row['f1']:.3f} |"
            )
        return "\n".join(lines)


def ablated(pipeline: Pipeline, stage: str, without: set[str]) -> Pipeline:
    """The pipeline with the stage and ablations applied: built without what is switched off."""
    unknown = without - set(ABLATIONS)
    if unknown:
        raise ConfigError(f"unknown ablation(s) {sorted(unknown)}; expected some of {', '.join(ABLATIONS)}")
    if stage == "recall":
        without = without | {"judge", "generation"}
    overrides = {
        "graph": "graph" not in without,
        "examples": "knowledge" not in without,
        "notes": "knowledge" not in without,
        "judge": "none" if "judge" in without else None,
        "generation": False if "generation" in without else None,
        "base_model": "finetune" in without,
        "prune": False,  # the harness prunes itself: with the chosen settings, or raw scores cut at the tag limit
    }
    return pipeline.with_overrides(**overrides)


def evaluate(
    pipeline: Pipeline,
    docs: list[Document],
    *,
    stage: str = "full",
    without: set[str] | frozenset[str] = frozenset(),
    ns: tuple[int, ...] = (10, 20, 30, 50),
    progress: bool = False,
) -> EvalReport:
    """Run the pipeline over annotated ``docs`` and score it (see the module docstring)."""
    if stage not in STAGES:
        raise ConfigError(f"stage must be one of {', '.join(STAGES)}")
    docs = [d for d in docs if d.tags]
    if not docs:
        raise ConfigError("evaluation needs annotated contents (none of these have tags)")
    without = set(without)
    evaluated = ablated(pipeline, stage, without)
    try:
        return _evaluate(evaluated, docs, stage, without, ns, progress)
    finally:
        if evaluated is not pipeline:
            evaluated.close()


def _evaluate(
    pipeline: Pipeline, docs: list[Document], stage: str, without: set[str], ns: tuple[int, ...], progress: bool
) -> EvalReport:
    calibrated = "calibration" not in without
    options = pipeline.options
    max_tags_raw = pipeline.components.config.generation.max_tags
    started = time.perf_counter()
    results = pipeline.run(docs, progress=progress)
    seconds = (time.perf_counter() - started) / len(docs)
    pruning = pipeline.pruning if calibrated else Pruning(0.0, max_tags_raw)
    golds = [set(d.tags) for d in docs]
    rankings, final_sets, labels, confidences = [], [], [], []
    for result, gold in zip(results, golds):
        scored = result.scored
        if calibrated:
            final = dict(zip(scored.tag_ids, scored.confidence))
            recall_conf = scored.candidate_conf  # computed once by the pipeline
        else:  # raw evidence: P(Yes) where the LLM judged, else the fused recall score
            raw = np.where(scored.judged, scored.p_yes, 0.0)
            fused = {c.tag_id: c.score for c in result.recall.candidates}
            final = {t: (float(r) if j else fused[t]) for t, r, j in zip(scored.tag_ids, raw, scored.judged)}
            recall_conf = np.array([c.score for c in result.recall.candidates])
        # every candidate, the considered ones (judged or picked) first, each group by its confidence
        candidate_ids = [c.tag_id for c in result.recall.candidates]
        score_of = dict(zip(candidate_ids, recall_conf))
        ranked = sorted(candidate_ids, key=lambda t: (t not in final, -final.get(t, score_of[t])))
        rankings.append(ranked)
        tags = list(scored.tag_ids)
        values = np.array([final[t] for t in tags])
        final_sets.append(pruning.apply(tags, values, scored.expected_gold if calibrated else None))
        labels.extend(int(t in gold) for t in tags)
        confidences.extend(np.clip(values, 0.0, 1.0))
    candidate_rankings = [[c.tag_id for c in r.recall.candidates] for r in results]
    if stage == "recall":
        recall_stage = pipeline.stage("recall")
        index = recall_stage.index
        vectors = index.embedder.encode([d.text for d in docs])
        per_path = evaluate_recall(index.recaller_for(recall_stage.config or index.config), docs, vectors, ns=ns)
        candidate_recall = {
            name: {f"{n}": v for n, v in row.items()} for name, row in per_path.to_dict()["recall_at"].items()
        }
    else:
        candidate_recall = {"fused": {f"{n}": mean_recall_at(golds, candidate_rankings, n) for n in ns}}
    llm_calls = sum(r.llm_calls for r in results) / len(docs)
    return EvalReport(
        documents=len(docs),
        stage=stage,
        without=sorted(without - ({"judge", "generation"} if stage == "recall" else set())),
        pipeline={
            "generation": options.generation,
            "judge": options.judge,
            "threshold": pruning.threshold,
            "max_tags": pruning.max_tags,
            "rule": pruning.rule,
            "calibrated": calibrated,
        },
        ranking=ranking_scores(golds, rankings),
        tag_sets=set_scores(golds, final_sets).to_dict(),
        candidate_recall=candidate_recall,
        calibration=calibration_report(np.array(labels), np.array(confidences)),
        per_tag=per_tag_scores(golds, final_sets),
        seconds_per_document=seconds,
        llm_calls_per_document=llm_calls,
    )


def per_tag_scores(golds: list[set[str]], predictions: list[list[str]]) -> list[dict[str, Any]]:
    """Support, predictions, P, R, F1 for every tag seen in gold or predictions; worst F1 first."""
    support, predicted, hits = Counter(), Counter(), Counter()
    for gold, prediction in zip(golds, predictions):
        support.update(gold)
        predicted.update(set(prediction))
        hits.update(gold & set(prediction))
    rows = []
    for tag in set(support) | set(predicted):
        p = hits[tag] / predicted[tag] if predicted[tag] else 0.0
        r = hits[tag] / support[tag] if support[tag] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        rows.append(
            {"tag_id": tag, "support": support[tag], "predicted": predicted[tag], "precision": p, "recall": r, "f1": f1}
        )
    return sorted(rows, key=lambda row: (row["f1"], -row["support"], row["tag_id"]))
