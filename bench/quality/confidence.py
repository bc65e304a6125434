"""Confidence with the LLM judge: calibrate on dev, choose threshold and routing on dev, measure on test.

Step 1 (hours of LLM time on a CPU, resumable): ``bench/diagnosis/record_judgements.py`` judges the top-8 recalled
candidates of a seeded dev sample (100) and of the seeded test sample (300). Step 2 (this script, minutes):
loads those judgements into the project's judgement cache, then runs the library's own pipeline —
``Project.calibrate``, ``Project.optimize`` and ``Tagger.tag`` — which finds every judgement in the cache.
``--timing-docs N`` then times the real pipeline (cache off) on the first N test documents, judging every
candidate vs routed, in the same run.

    .venv/bin/python -m bench.quality.confidence --project debtags --dev judged_dev_*.jsonl \\
        --test judged_test_*.jsonl --plots docs/img --timing-docs 30

The project's config is changed in memory only: generation off, judge = candidates, judge_top_n = 8.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import annotated, machine, project_parser
from llm4tag.calibration import calibration_report, choose_threshold, prune
from llm4tag.calibration.plots import coverage_plot, precision_coverage_curve, reliability_plot
from llm4tag.corpus import seeded_sample, text_hash
from llm4tag.metrics.sets import set_scores
from llm4tag.project import Project


def read_records(files: list[str]) -> dict[str, dict]:
    records = {}
    for file in files:
        for line in Path(file).read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                records[record["id"]] = record
    return records


def import_judgements(project: Project, records: dict[str, dict], docs) -> None:
    cache = {}
    for doc in docs:
        record = records[doc.id]
        for candidate, judged in zip(record["candidates"], record["judged"]):
            cache[(text_hash(doc.text), candidate["tag_id"])] = (judged["p_yes"], False)
    project.store.cache_judgements(project.judge.fingerprint, cache)


def scores_of(runs, docs, attribute: str):
    labels = np.array([t in set(d.tags) for run, d in zip(runs, docs) for t in run.scored.tag_ids], dtype=int)
    values = np.concatenate([np.nan_to_num(getattr(run.scored, attribute), nan=0.5) for run in runs])
    return labels, values


def main() -> None:
    parser = project_parser()
    parser.add_argument("--dev", nargs="+", required=True, help="record_judgements.py output for dev")
    parser.add_argument("--test", nargs="+", required=True, help="record_judgements.py output for test")
    parser.add_argument("--dev-sample", type=int, default=100)
    parser.add_argument("--test-sample", type=int, default=300)
    parser.add_argument("--max-f1-loss", type=float, default=0.01)
    parser.add_argument("--plots", help="directory for PNG plots")
    parser.add_argument("--timing-docs", type=int, default=0, help="time the real pipeline on this many test docs")
    args = parser.parse_args()
    data = Path(args.data)
    report: dict = {"machine": machine()}
    with Project.open(args.project) as project:
        project.config.generation.enabled = False
        project.config.pipeline.judge, project.config.pipeline.judge_top_n = "candidates", 8
        library = project.library
        dev_all, test_all = annotated(data, "dev", library), annotated(data, "test", library)
        dev = seeded_sample(dev_all, args.dev_sample, 0)
        test = seeded_sample(test_all, args.test_sample, 0)
        dev_records, test_records = read_records(args.dev), read_records(args.test)
        missing = [d.id for d in dev if d.id not in dev_records] + [d.id for d in test if d.id not in test_records]
        if missing:
            sys.exit(f"no recorded judgements for {len(missing)} sampled documents, e.g. {missing[:3]}")
        import_judgements(project, dev_records, dev)
        import_judgements(project, test_records, test)
        report["samples"] = f"dev: {len(dev)} of {len(dev_all)} (seed 0); test: {len(test)} of {len(test_all)} (seed 0)"

        calibrated = project.calibrate(dev_all, llm_sample=args.dev_sample)
        report["calibrate_in_sample"] = calibrated["judge"]
        optimized = project.optimize(dev_all, llm_sample=args.dev_sample, max_f1_loss=args.max_f1_loss)
        report["optimize_on_dev"] = optimized
        settings = project.artifacts.settings(project.config.pipeline.judge, project.config.generation.enabled)

        # all candidates judged, no pruning: calibration quality and the unpruned baseline
        runs = project.tag(test, route=False, prune=False)
        golds = [set(d.tags) for d in test]
        labels, p_yes = scores_of(runs, test, "p_yes")
        _, recall_conf = scores_of(runs, test, "recall_conf")
        _, final = scores_of(runs, test, "confidence")
        report["test_calibration"] = {
            "raw_p_yes": calibration_report(labels, p_yes),
            "recall_only_calibrated": calibration_report(labels, recall_conf),
            "recall_plus_judge_calibrated": calibration_report(labels, final),
        }
        per_doc_final = [(r.scored.tag_ids, r.scored.confidence) for r in runs]
        per_doc_recall = [(r.scored.tag_ids, r.scored.recall_conf) for r in runs]
        # recall-only pruning, its threshold chosen on the same dev sample
        dev_runs = project.tag(dev, route=False, prune=False)
        dev_golds = [set(d.tags) for d in dev]
        recall_choice = choose_threshold([(r.scored.tag_ids, r.scored.recall_conf) for r in dev_runs], dev_golds)
        report["test_f1"] = {
            "unpruned_top8": set_scores(golds, [r.scored.tag_ids for r in runs]).to_dict(),
            "recall_only_pruned": set_scores(
                golds, [prune(t, c, recall_choice.threshold, recall_choice.max_tags) for t, c in per_doc_recall]
            ).to_dict(),
            "recall_plus_judge_pruned_all_judged": set_scores(
                golds, [prune(t, c, settings.threshold, settings.max_tags) for t, c in per_doc_final]
            ).to_dict(),
        }
        for name, target in (("precision_0.7", 0.7), ("precision_0.8", 0.8)):
            try:
                choice = choose_threshold(
                    [(r.scored.tag_ids, r.scored.confidence) for r in dev_runs], dev_golds, target_precision=target
                )
            except ValueError:
                continue
            predictions = [prune(t, c, choice.threshold, choice.max_tags) for t, c in per_doc_final]
            scores = set_scores(golds, predictions)
            report["test_f1"][f"recall_plus_judge_{name}"] = {
                "threshold": choice.threshold,
                **scores.to_dict(),
                "contents_with_a_tag": float(np.mean([bool(p) for p in predictions])),
            }

        # routed: the real pipeline with the dev-chosen band (judgements come from the cache)
        routed = project.tag(test)
        judged = sum(int(r.scored.judged.sum()) for r in routed)
        total = sum(len(r.scored.tag_ids) for r in routed)
        seconds_all, seconds_routed = [], []
        for run, doc in zip(routed, test):
            record = test_records[doc.id]
            per_pair = [j["seconds"] for j in record["judged"]]
            seconds_all.append(sum(per_pair))
            n = int(run.scored.judged.sum())
            # the first judged pair of a content pays for its prefix; the rest reuse it
            seconds_routed.append(per_pair[0] + sum(sorted(per_pair[1:])[: n - 1]) if n else 0.0)
        report["routing"] = {
            "band": [settings.route_lower, settings.route_upper],
            "judged_pairs": judged,
            "pairs": total,
            "llm_calls_saved": 1 - judged / total,
            "contents_without_llm": float(np.mean([not r.scored.judged.any() for r in routed])),
            "test_f1_routed": set_scores(golds, [[t.tag_id for t in r.tags] for r in routed]).to_dict(),
            "judge_seconds_per_content_all (recorded)": float(np.mean(seconds_all)),
            "judge_seconds_per_content_routed (estimated from recorded per-pair times)": float(np.mean(seconds_routed)),
        }
        if args.plots:
            out = Path(args.plots)
            out.mkdir(parents=True, exist_ok=True)
            reliability_plot(
                {
                    "raw P(Yes)": (labels, p_yes),
                    "recall only": (labels, recall_conf),
                    "recall + judge": (labels, final),
                },
                out / "reliability_judge.png",
                f"Reliability, {len(test)} debtags test docs (top 8)",
            )
            coverage_plot(
                {
                    "recall only": precision_coverage_curve(per_doc_recall, golds),
                    "recall + judge": precision_coverage_curve(per_doc_final, golds),
                },
                out / "precision_coverage_judge.png",
                f"Precision vs coverage, {len(test)} debtags test docs",
            )
        if args.timing_docs:
            project.config.confidence.cache = False
            timing = test[: args.timing_docs]
            measured = {}
            for name, judge_all in (("all_judged", True), ("routed", False)):
                start = time.perf_counter()
                results = project.tag(timing, route=not judge_all)
                measured[name] = {
                    "seconds_per_content": (time.perf_counter() - start) / len(timing),
                    "llm_calls_per_content": sum(int(r.scored.judged.sum()) for r in results) / len(timing),
                    "f1": set_scores([set(d.tags) for d in timing], [[t.tag_id for t in r.tags] for r in results]).f1,
                }
            report["timing_real_pipeline"] = {"documents": len(timing), **measured}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
