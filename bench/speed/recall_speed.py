"""Speed of the recall stage with its calibrated confidence (no LLM), model loaded, in-process.

    .venv/bin/python -m bench.speed.recall_speed --project debtags --documents 1000

Reports contents per second in batches of 64 and the single-content latency, twice each: with the contents'
embeddings already cached in the store (the graph paths, learned paths and ranker alone) and with new
texts (MiniLM encoding included), so the share of the embedder is visible in the same run.

``--batch-sizes 1,4,8`` adds, for cached embeddings and native thread pools capped at one thread (as in the
service's lanes), the wall time and the process's CPU time per content in batches of each size: what a
batch costs whatever its size, and what each content adds (a service's batches are as small as its load).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from bench.common import machine, project_parser
from llm4tag.corpus import Document
from llm4tag.corpus.loaders import load_corpus
from llm4tag.project import Project


def measure_speed(pipeline, docs: list[Document], *, single: int = 200) -> dict:
    """Contents per second in batches of 64 and single-content latency, embeddings cached and new texts."""
    docs = [Document(d.id, d.text) for d in docs]
    pipeline.run(docs)  # warm: models loaded, these embeddings cached
    nonce = f" [{time.time_ns()}]"  # texts never seen: their embeddings are not cached
    report: dict = {}
    for name, batch in (("cached", docs), ("new_texts", [Document(d.id, d.text + nonce) for d in docs])):
        started = time.perf_counter()
        pipeline.run(batch, batch_size=64)
        seconds = time.perf_counter() - started
        times = []
        fresh = [Document(d.id, d.text + nonce + "!") for d in docs] if name == "new_texts" else docs
        for doc in fresh[:single]:
            started = time.perf_counter()
            pipeline.run([doc])
            times.append((time.perf_counter() - started) * 1000)
        report[name] = {
            "contents_per_second_batch_64": len(batch) / seconds,
            "single_ms_p50": statistics.median(times),
            "single_ms_p95": sorted(times)[int(0.95 * (len(times) - 1))],
        }
    return report


def batch_costs(pipeline, docs: list[Document], sizes: list[int], *, repeats: int = 3) -> dict:
    """Per batch size: contents per second and CPU milliseconds per content (best of ``repeats``), cached
    embeddings, native pools capped at one thread."""
    from threadpoolctl import threadpool_limits

    docs = [Document(d.id, d.text) for d in docs]
    pipeline.run(docs)  # warm, embeddings cached
    report = {}
    with threadpool_limits(1):
        for size in sizes:
            runs = []
            for _ in range(repeats):
                wall, cpu = time.perf_counter(), time.process_time()
                for start in range(0, len(docs), size):
                    pipeline.run(docs[start : start + size])
                runs.append((time.perf_counter() - wall, time.process_time() - cpu))
            wall, cpu = min(runs)
            report[str(size)] = {
                "contents_per_second": round(len(docs) / wall, 1),
                "cpu_ms_per_content": round(1000 * cpu / len(docs), 2),
            }
    return report


def main() -> None:
    parser = project_parser()
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--single", type=int, default=200, help="contents timed one at a time")
    parser.add_argument("--batch-sizes", help="e.g. 1,4,8: cost per batch size, one native thread (see above)")
    args = parser.parse_args()
    report: dict = {"machine": machine(), "project": args.project}
    with Project.open(args.project) as project:
        docs = load_corpus(Path(args.data) / "test.jsonl", library=project.library, on_unknown="skip")
        pipeline = project.pipeline(llm=False)
        if args.batch_sizes:
            sizes = [int(size) for size in args.batch_sizes.split(",")]
            report["by_batch_size"] = batch_costs(pipeline, docs[:256], sizes)
        else:
            report.update(measure_speed(pipeline, docs[: args.documents], single=args.single))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
