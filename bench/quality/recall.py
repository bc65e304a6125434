"""Recall stage on debtags: candidate recall@N per path and fused, graph build time, latency per document.

Usage (project built from debtags train with `llm4tag init ... && llm4tag index`):

    .venv/bin/python -m bench.quality.recall --project sample-full --data ../shared/data/debtags

Encoding is the slow step and is cached; this measures the recall stage on cached vectors, and, in the
same run, the graph build from cached vectors against the encoding throughput as the baseline.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.common import annotated, machine, peak_rss_mib, percentiles, project_parser
from llm4tag.evaluation.recall_eval import evaluate_recall
from llm4tag.project import Project


def main() -> None:
    parser = project_parser()
    parser.add_argument("--split", default="test")
    parser.add_argument("--latency-docs", type=int, default=300)
    parser.add_argument("--encode-sample", type=int, default=300)
    parser.add_argument("--json", help="write results here too")
    args = parser.parse_args()

    results: dict = {"machine": machine()}
    with Project.open(args.project) as project:
        # graph build from the store and cached vectors (what `llm4tag index` does after a crash or model edit)
        for path in (project.recall_index.directory / "state.json",):
            path.unlink(missing_ok=True)
        start = time.perf_counter()
        report = project.recall_index.update(save=False)
        results["graph_build_from_cache_s"] = time.perf_counter() - start
        assert report.rebuilt
        project.index()  # save again
        graph = project.recall_index.graph
        results["graph"] = {
            "tags": graph.n_tags,
            "contents": graph.n_contents,
            "annotation_edges": int(graph.annotations.nnz),
            "tag_tag_edges": int(graph.cooccurrence.nnz),
        }

        docs = annotated(args.data, args.split, project.library)
        start = time.perf_counter()
        vectors = project.embedder.encode([d.text for d in docs])
        results["encode_or_cache_s"] = time.perf_counter() - start

        # baseline in the same run: raw encoding throughput (uncached) on a sample
        sample = [d.text + " " for d in docs[: args.encode_sample]]  # changed text: never in the cache
        start = time.perf_counter()
        project.embedder.embedder.encode(sample)
        encode_per_doc = (time.perf_counter() - start) / len(sample)
        results["encode_ms_per_doc"] = encode_per_doc * 1000
        results["index_build_estimate_s"] = encode_per_doc * graph.n_contents + results["graph_build_from_cache_s"]
        results["graph_build_over_encoding"] = results["graph_build_from_cache_s"] / (encode_per_doc * graph.n_contents)

        start = time.perf_counter()
        evaluation = evaluate_recall(project.recall_index.recaller, docs, vectors)
        results["recall_eval_s"] = time.perf_counter() - start
        results["recall"] = evaluation.to_dict()

        recaller = project.recall_index.recaller
        latencies = []
        for i in range(min(args.latency_docs, len(docs))):
            start = time.perf_counter()
            recaller.recall([docs[i].text], vectors[i : i + 1])
            latencies.append(time.perf_counter() - start)
        results["recall_latency_one_doc"] = percentiles(latencies)
        batch = min(256, len(docs))
        start = time.perf_counter()
        recaller.recall([d.text for d in docs[:batch]], vectors[:batch])
        results["recall_ms_per_doc_batched"] = (time.perf_counter() - start) / batch * 1000
        results["peak_rss_mib"] = peak_rss_mib()

    print(json.dumps(results, indent=2))
    print()
    print(evaluation.to_markdown())
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
