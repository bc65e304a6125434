"""Recall-only confidence: calibrate on dev, choose the pruning threshold on dev, measure on test.

    .venv/bin/python -m bench.quality.calibration --project debtags --plots docs/img

Reports, on the whole test set: ECE (15 bins), Brier and log-loss of the raw fused score and of the
calibrated confidence (Platt, per tag with global fallback; isotonic for comparison); the document-averaged
F1 at the threshold and tag limit chosen on dev, against the same ranking without pruning (top-k at the best
dev k); P@1 and NDCG@10 of the ranking.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bench.common import annotated, machine, project_parser
from llm4tag.calibration import Calibrator, calibration_report, choose_threshold, labelled_pairs, prune
from llm4tag.calibration.plots import coverage_plot, precision_coverage_curve, reliability_plot
from llm4tag.metrics.retrieval import ndcg_at, precision_at
from llm4tag.metrics.sets import set_scores
from llm4tag.project import Project


def main() -> None:
    parser = project_parser()
    parser.add_argument("--plots", help="directory for PNG plots")
    args = parser.parse_args()
    data = Path(args.data)
    report: dict = {"machine": machine()}
    with Project.open(args.project) as project:
        library = project.library
        dev, test = annotated(data, "dev", library), annotated(data, "test", library)
        dev_results = project.recall([d.text for d in dev])
        test_results = project.recall([d.text for d in test])
        dev_gold, test_gold = [set(d.tags) for d in dev], [set(d.tags) for d in test]
        Xd, yd, td, _ = labelled_pairs(dev_results, dev_gold)
        Xt, yt, tt, doc_index = labelled_pairs(test_results, test_gold)
        report["raw_fused_score"] = calibration_report(yt, np.clip(Xt[:, 0], 0, 1))
        calibrated = {}
        for name, calibrator in {
            "platt_per_tag": Calibrator("platt", per_tag=True),
            "platt_global": Calibrator("platt", per_tag=False),
            "isotonic_per_tag": Calibrator("isotonic", per_tag=True),
        }.items():
            calibrator.fit(Xd, yd, td)
            calibrated[name] = (calibrator, calibrator.predict_proba(Xt, tt))
            report[name] = calibration_report(yt, calibrated[name][1])
        calibrator, test_conf = calibrated["platt_per_tag"]
        dev_conf = calibrator.predict_proba(Xd, td)

        def split(results, conf):
            out, start = [], 0
            for result in results:
                n = len(result.candidates)
                out.append(([c.tag_id for c in result.candidates], conf[start : start + n]))
                start += n
            return out

        dev_docs, test_docs = split(dev_results, dev_conf), split(test_results, test_conf)
        for name, target in (("best_f1", None), ("precision_0.8", 0.8)):
            choice = choose_threshold(dev_docs, dev_gold, target_precision=target)
            predictions = [prune(t, c, choice.threshold, choice.max_tags) for t, c in test_docs]
            scores = set_scores(test_gold, predictions)
            report[f"pruned_{name}"] = {
                "chosen_on_dev": choice.to_dict(),
                "test": scores.to_dict(),
                "test_coverage": float(np.mean([bool(p) for p in predictions])),
            }
        best_k = max(range(1, 11), key=lambda k: set_scores(dev_gold, [t[:k] for t, _ in dev_docs]).f1)
        report["unpruned_top_k"] = {
            "k_chosen_on_dev": best_k,
            "test": set_scores(test_gold, [t[:best_k] for t, _ in test_docs]).to_dict(),
        }
        rankings = [[c.tag_id for c in r.candidates] for r in test_results]
        report["ranking"] = {
            "p_at_1": float(np.mean([precision_at(g, r, 1) for g, r in zip(test_gold, rankings)])),
            "ndcg_at_10": float(np.mean([ndcg_at(g, r, 10) for g, r in zip(test_gold, rankings)])),
        }
        if args.plots:
            out = Path(args.plots)
            out.mkdir(parents=True, exist_ok=True)
            reliability_plot(
                {"raw fused score": (yt, np.clip(Xt[:, 0], 0, 1)), "Platt per tag": (yt, test_conf)},
                out / "reliability_recall.png",
                "Reliability, debtags test (recall stage)",
            )
            coverage_plot(
                {"recall stage": precision_coverage_curve(test_docs, test_gold)},
                out / "precision_coverage_recall.png",
                "Precision vs coverage, debtags test",
            )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
