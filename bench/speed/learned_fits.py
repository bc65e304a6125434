"""How long each learned recall path takes to fit, and how good it is alone.

    .venv/bin/python -m bench.speed.learned_fits --project P [--data ../shared/data/debtags] \
        [--paths mlp,supervised,tree] [--sizes 5000,0] [--seed 0]

Fits each path on the first N annotated contents of a built project (0: all of them), as `calibrate`'s first
recall does, and scores all of test with that path alone: its top tag's precision (P@1) and the share of
each content's tags among its top 10. Run it with each version's ``PYTHONPATH`` to compare two versions;
the machine is shared, so alternate them.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from bench.common import project_parser
from llm4tag.metrics.retrieval import mean_recall_at, precision_at
from llm4tag.project import Project
from llm4tag.recall.learned import new_path


def main() -> None:
    parser = project_parser()
    parser.add_argument("--paths", default="mlp")
    parser.add_argument("--sizes", default="0", help="comma-separated numbers of contents; 0: all")
    parser.add_argument("--seed", type=int, help="the mlp path's seed (default: its own)")
    args = parser.parse_args()
    test = [json.loads(line) for line in (Path(args.data) / "test.jsonl").open()]
    with Project.open(args.project) as project:
        index = project.recall_index
        graph = index.graph
        rows, tags_by_seq = index._annotated(graph)
        vectors = graph.content_dense.vectors[[graph.content_position[r.id] for r in rows]]
        test_vectors = project.embedder.encode([d["text"] for d in test])
    texts, tags = [r.text for r in rows], [tags_by_seq[r.seq] for r in rows]
    if importlib.util.find_spec("torch") is not None:
        import torch  # noqa: F401  (imported now: its import is not the first fit's time)
    for name in args.paths.split(","):
        for size in (int(s) or len(rows) for s in args.sizes.split(",")):
            options = {"seed": args.seed} if name == "mlp" and args.seed is not None else {}
            started = time.perf_counter()
            scorer = new_path(name, options).fit(texts[:size], tags[:size], vectors[:size])
            seconds = time.perf_counter() - started
            scores = scorer.scores([d["text"] for d in test], test_vectors)
            top = [sorted(s, key=s.get, reverse=True) for s in scores]
            golds = [set(d["tags"]) for d in test]
            p1 = np.mean([precision_at(gold, ranked, 1) for gold, ranked in zip(golds, top)])
            r10 = mean_recall_at(golds, top, 10)
            row = {"path": name, "contents": size, "fit_seconds": round(seconds, 1)}
            print(json.dumps(row | {"p_at_1": round(float(p1), 4), "recall_at_10": round(float(r10), 4)}), flush=True)


if __name__ == "__main__":
    main()
