"""How much two fits of the tree recall path (omikuji) on the same data differ: omikuji's clustering is not
seeded, and a fixed thread count does not make it repeatable, so the fitted model is the unit of
reproducibility (a project's saved ``graph/tree.pkl`` and ``tree.model`` recall alike everywhere).

    .venv/bin/python -m bench.diagnosis.tree_spread --data ../shared/data/debtags [--fits 3] [--threads 1,2]

Fits the path on all of train ``--fits`` times per thread count and scores all of test with it alone: each
fit's P@1 and recall@10, and between consecutive fits the share of contents whose top-1 tag, or whose set of
top-5 tags, differs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.common import machine
from llm4tag.metrics.retrieval import mean_recall_at, precision_at
from llm4tag.recall.learned.tree import TreePath


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/debtags")
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    read = lambda split: [json.loads(line) for line in (Path(args.data) / f"{split}.jsonl").open()]  # noqa: E731
    train, test = [d for d in read("train") if d["tags"]], read("test")
    golds = [set(d["tags"]) for d in test]
    print(json.dumps({"machine": machine(), "data": args.data, "train": len(train), "test": len(test)}))
    for threads in (int(t) for t in args.threads.split(",")):
        tops = []
        for fit in range(args.fits):
            started = time.perf_counter()
            scorer = TreePath(threads=threads).fit([d["text"] for d in train], [d["tags"] for d in train])
            seconds = time.perf_counter() - started
            scores = scorer.scores([d["text"] for d in test])
            top = [sorted(s, key=lambda tag, s=s: (-s[tag], tag)) for s in scores]
            tops.append(top)
            p1 = np.mean([precision_at(gold, ranked, 1) for gold, ranked in zip(golds, top)])
            row = {"threads": threads, "fit": fit, "fit_seconds": round(seconds, 1), "p_at_1": round(float(p1), 4),
                   "recall_at_10": round(float(mean_recall_at(golds, top, 10)), 4)}  # fmt: skip
            if fit:
                before = tops[-2]
                row["top1_differs"] = round(np.mean([a[:1] != b[:1] for a, b in zip(before, top)]), 4)
                row["top5_set_differs"] = round(np.mean([set(a[:5]) != set(b[:5]) for a, b in zip(before, top)]), 4)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
