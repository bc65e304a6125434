"""The recall stage's learned ranking as a user gets it: ``calibrate``, ``optimize`` on dev (timed), ``eval`` on test.

    .venv/bin/python -m bench.quality.ranking --project debtags --data ../shared/data/debtags --out ranking.json
    .venv/bin/python -m bench.quality.ranking --project short --data ../check-sets/debtags-short --method platt

The project is built from the data set's train split (``llm4tag init``, ``llm4tag index``); learned paths are
fitted on first use when they are missing (their seconds count in ``calibrate``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.common import machine, project_parser
from llm4tag.corpus.loaders import load_corpus
from llm4tag.evaluation import evaluate
from llm4tag.project import Project


def main() -> None:
    parser = project_parser()
    parser.add_argument("--method", default="auto", choices=("auto", "boosting", "platt", "isotonic"))
    parser.add_argument("--per-tag", choices=("auto", "yes", "no"), default="auto")
    parser.add_argument("--tune-seconds", type=float, default=0, help="optimize's search of recall settings")
    parser.add_argument("--out", help="write the report here too (JSON)")
    args = parser.parse_args()
    data = Path(args.data)
    recall_only = {"judge": "none", "generation": False}
    report: dict = {"machine": machine(), "project": args.project, "data": str(data), "method": args.method}
    with Project.open(args.project) as project:
        library = project.library

        def split(name: str):
            return [d for d in load_corpus(data / f"{name}.jsonl", library=library, on_unknown="skip") if d.tags]

        dev, test = split("dev"), split("test")
        per_tag = {"auto": None, "yes": True, "no": False}[args.per_tag]
        started = time.perf_counter()
        calibrated = project.calibrate(dev, overrides=recall_only, method=args.method, per_tag=per_tag)
        report["calibrate_seconds"] = time.perf_counter() - started
        started = time.perf_counter()
        optimized = project.optimize(dev, overrides=recall_only, tune_seconds=args.tune_seconds)
        report["optimize_seconds"] = time.perf_counter() - started
        report["pruning"] = optimized["pruning"]
        report["recall_tuning"] = optimized.get("recall_tuning")
        report["calibrated_in_sample"] = calibrated["recall"]["calibrated_in_sample"]
        result = evaluate(project.pipeline(**recall_only), test, stage="recall").to_dict()
    report["test"] = {
        "documents": result["documents"],
        "precision@1": result["ranking"]["precision@1"],
        "ndcg@10": result["ranking"]["ndcg@10"],
        "f1@5": result["ranking"]["f1@5"],
        "doc_f1": result["tag_sets"]["f1"],
        "micro_precision": result["tag_sets"]["micro_precision"],
        "ece": result["calibration"]["ece"],
        "candidate_recall": result["candidate_recall"],
        "seconds_per_document": result["seconds_per_document"],
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
