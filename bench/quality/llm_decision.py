"""Does the LLM earn its place on a project? What ``optimize`` decides, and the test sample behind it.

On an indexed project (e.g. debtags, all of train): ``calibrate`` and ``optimize`` with the LLM judge on a seeded
sample of the dev file (the judge calibrators, then recall only against the full LLM pipeline and against judging
only tags with few examples, cross-validated and paired on the same dev contents); then, on a seeded test
sample, recall only against each LLM variant, with LLM calls per content and the judge's ROC-AUC on the top
candidates of the test contents.

    python -m bench.quality.llm_decision --project /tmp/debtags --dev ../shared/data/debtags/dev.jsonl \\
        --test ../shared/data/debtags/test.jsonl --llm-sample 100 --test-sample 150 --out decision.json

Judgements are cached in the project: a rerun asks the LLM only what it has not asked before.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from llm4tag.corpus.documents import seeded_sample
from llm4tag.corpus.loaders import iter_corpus
from llm4tag.metrics.sets import set_scores
from llm4tag.project import Project


def run(project: Project, docs, **overrides) -> dict:
    started = time.perf_counter()
    results = project.tag(docs, **overrides)
    golds = [set(d.tags) for d in docs]
    out = set_scores(golds, [[t.tag_id for t in r.tags] for r in results]).to_dict()
    out["llm_calls_per_content"] = round(sum(int(r.scored.judged.sum()) for r in results) / len(docs), 2)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def judge_auc(project: Project, docs) -> dict:
    """ROC-AUC of recall-only confidence, the judge's raw P(Yes) and the combined confidence on the judged top
    candidates (tags with enough examples) of ``docs``: every considered pair judged, nothing pruned."""
    from sklearn.metrics import roc_auc_score

    results = project.tag(docs, judge="candidates", generation=False, route=False, prune=False)
    labels, recall, p_yes, combined = [], [], [], []
    for r, d in zip(results, docs):
        s = r.scored
        keep = s.judged & ~s.few_examples_mask
        labels += [t in d.tags for t, k in zip(s.tag_ids, keep) if k]
        recall.append(s.recall_conf[keep])
        p_yes.append(s.p_yes[keep])
        combined.append(s.confidence[keep])
    y = np.array(labels)
    return {
        "pairs": len(y),
        "recall_only": round(float(roc_auc_score(y, np.concatenate(recall))), 4),
        "judge_p_yes": round(float(roc_auc_score(y, np.concatenate(p_yes))), 4),
        "combined": round(float(roc_auc_score(y, np.concatenate(combined))), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--llm-sample", type=int, default=100)
    parser.add_argument("--test-sample", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-generation", action="store_true", help="calibrate and optimize without generation")
    parser.add_argument("--skip-few-examples", action="store_true", help="leave out the few-examples variant on test")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    overrides = {"generation": False, "judge": "candidates"} if args.no_generation else None

    report: dict = {}
    with Project.open(args.project) as project:
        library = project.library
        dev = list(iter_corpus(args.dev, library=library, on_unknown="skip"))
        test = seeded_sample(
            list(iter_corpus(args.test, library=library, on_unknown="skip")), args.test_sample, args.seed
        )
        started = time.perf_counter()
        calibrated = project.calibrate(dev, llm_sample=args.llm_sample, seed=args.seed, overrides=overrides)
        report["calibrate"] = {"seconds": round(time.perf_counter() - started, 1), "judge": calibrated.get("judge")}
        started = time.perf_counter()
        optimized = project.optimize(dev, llm_sample=args.llm_sample, seed=args.seed, overrides=overrides)
        report["optimize_seconds"] = round(time.perf_counter() - started, 1)
        report["llm_decision"] = optimized.get("llm", {}).get("llm_decision")
        print(json.dumps(report, indent=2), flush=True)
        report["test"] = {"documents": len(test), "recall_only": run(project, test, llm=False)}
        report["test"]["chosen_by_optimize"] = {"pipeline": project.pipeline().options.shape}
        if not args.skip_few_examples:
            report["test"]["judge_only_tags_with_few_examples"] = run(
                project, test, judge="few-examples", generation=False
            )
        report["test"]["judge_candidates_routed"] = run(project, test, judge="candidates", generation=False)
        report["test"]["judge_roc_auc"] = judge_auc(project, test)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
