"""The half-precision scan of the exact dense index against the full-precision one, in the same run.

    .venv/bin/python bench/bench_half_search.py --project debtags --rounds 3

Two measurements, each alternating the two scans round by round (this machine's speed drifts):

* the content index's search alone: 4 queries, k = 200 (what the recall stage asks for a batch of 4);
* the recall stage with its calibrated confidence (no LLM), in batches of 4 contents (what a service worker
  runs under load), CPU milliseconds per content, embeddings cached.

Also reports how many of the 200 neighbours both scans find, and how often they list them in the same order
(near ties, a rounding apart, may swap).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
import llm4tag.index.dense as dense  # noqa: E402
from common import machine, outside_sample, project_parser  # noqa: E402
from llm4tag.corpus import Document  # noqa: E402
from llm4tag.project import Project  # noqa: E402


def use_half(index: dense.DenseIndex, on: bool) -> None:
    dense.HALF_FROM = 8_192 if on else 1 << 62
    if not on:
        index._half = None


def main() -> None:
    parser = project_parser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--contents", type=int, default=480)
    args = parser.parse_args()
    threadpool_limits(1)  # as in a service worker (``compute_threads``)
    texts = [d.text for d in outside_sample(args.data)][: args.contents]
    report: dict = {"machine": machine(), "contents": len(texts), "rounds": []}
    with Project.open(args.project) as project:
        project.config.confidence.cache = False
        pipeline = project.pipeline(judge="none", generation=False)
        pipeline.run([Document(str(i), t) for i, t in enumerate(texts)])  # warm; embeddings cached
        index = project.recall_index.graph.content_dense
        vectors = project.embedder.encode(texts)
        batches = [vectors[i : i + 4] for i in range(0, len(vectors), 4)]
        found = {}
        for on in (False, True):
            use_half(index, on)
            found[on] = np.vstack([index.search(b, 200)[1] for b in batches])
        same = [len(set(a) & set(b)) / len(a) for a, b in zip(found[True], found[False])]
        report["same_neighbours"] = round(float(np.mean(same)), 5)  # the 200 found, as sets
        report["same_order"] = round(float((found[True] == found[False]).mean()), 5)  # near ties may swap
        for _ in range(args.rounds):
            row = {}
            for on in (False, True):
                use_half(index, on)
                index.search(batches[0], 200)
                started = time.process_time()
                for batch in batches:
                    index.search(batch, 200)
                row[f"search_ms_{'half' if on else 'full'}"] = round(
                    (time.process_time() - started) / len(batches) * 1000, 3
                )
                started = time.process_time()
                for i in range(0, len(texts), 4):
                    pipeline.run([Document(str(j), texts[j]) for j in range(i, min(i + 4, len(texts)))], batch_size=4)
                row[f"pipeline_cpu_ms_per_content_{'half' if on else 'full'}"] = round(
                    (time.process_time() - started) / len(texts) * 1000, 3
                )
            report["rounds"].append(row)
            print(json.dumps(row), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
