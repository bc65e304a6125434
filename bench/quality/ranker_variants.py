"""Ranker variants side by side on the same recalled candidates: Platt or boosted trees, per tag or global,
pruned by a dev-chosen global threshold or by expected F1 per content (fit on dev, scored on test).

    .venv/bin/python -m bench.quality.ranker_variants --project debtags --data ../shared/data/debtags
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.common import machine, project_parser
from llm4tag.calibration import Pruning, choose_threshold, recall_features
from llm4tag.calibration.fitting import fit_recall_calibrator
from llm4tag.corpus.loaders import load_corpus
from llm4tag.metrics import ranking_scores, set_scores
from llm4tag.project import Project


def confidences(calibrator, results):
    out = []
    for result in results:
        X, tags = recall_features(result)
        out.append((tags, calibrator.predict_proba(X, tags) if tags else np.zeros(0)))
    return out


def top(per_doc, n=8):
    kept = []
    for tags, conf in per_doc:
        order = np.argsort(-conf, kind="stable")[:n]
        kept.append(([tags[i] for i in order], conf[order], float(conf.sum())))
    return kept


def main() -> None:
    args = project_parser().parse_args()
    report = {"machine": machine(), "project": args.project, "variants": {}}
    with Project.open(args.project) as project:
        library = project.library

        def split(name):
            return [
                d for d in load_corpus(Path(args.data) / f"{name}.jsonl", library=library, on_unknown="skip") if d.tags
            ]

        dev, test = split("dev"), split("test")
        dev_results, test_results = project.recall([d.text for d in dev]), project.recall([d.text for d in test])
        dev_golds, test_golds = [set(d.tags) for d in dev], [set(d.tags) for d in test]
        for method in ("platt", "boosting"):
            for per_tag in (True, False):
                calibrator, _ = fit_recall_calibrator(dev_results, dev_golds, method=method, per_tag=per_tag)
                dev_top, test_all = top(confidences(calibrator, dev_results)), confidences(calibrator, test_results)
                test_top = top(test_all)
                ranking = ranking_scores(
                    test_golds, [[tags[i] for i in np.argsort(-c, kind="stable")] for tags, c in test_all]
                )
                choice = choose_threshold([(t, c) for t, c, _ in dev_top], dev_golds)
                rules = {"threshold": choice.pruning, "expected_f1": Pruning(0.0, 10, "expected_f1")}
                f1 = {
                    name: set_scores(test_golds, [rule.apply(t, c, e) for t, c, e in test_top]).f1
                    for name, rule in rules.items()
                }
                name = f"{method}, {'per tag' if per_tag else 'global'}"
                report["variants"][name] = {
                    "precision@1": ranking["precision@1"],
                    "ndcg@10": ranking["ndcg@10"],
                    **{f"doc_f1_{k}": v for k, v in f1.items()},
                }
                print(name, json.dumps(report["variants"][name]), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
