"""Recall at scale: a synthetic library of 1,000,000 tags.

Measures graph build time, peak memory and recall latency per document (text already embedded), and the
recall lost by the approximate (IVF) tag index against exact search, with exact search's latency as the
baseline measured in the same run.

    .venv/bin/python -m bench.speed.recall_scale --tags 1000000 --contents 20000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.common import machine, peak_rss_mib, percentiles
from llm4tag.recall import ContentTagGraph, RecallConfig, Recaller

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "network",
    "audio",
    "video",
    "editor",
    "game",
    "chess",
    "server",
    "client",
    "daemon",
    "parser",
    "compiler",
    "graphics",
    "font",
    "printer",
    "scanner",
    "kernel",
    "driver",
    "python",
    "rust",
    "java",
    "web",
    "mail",
    "chat",
    "music",
    "photo",
    "science",
    "math",
    "biology",
    "chemistry",
    "physics",
    "map",
    "weather",
    "finance",
    "office",
    "security",
    "crypto",
    "backup",
    "shell",
    "terminal",
]


def synthetic(n_tags: int, n_contents: int, dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(64, n_tags // 500), dim)).astype(np.float32)
    assignment = rng.integers(0, len(centers), n_tags)
    tags = centers[assignment] + 0.6 * rng.standard_normal((n_tags, dim)).astype(np.float32)
    tags /= np.linalg.norm(tags, axis=1, keepdims=True)
    word_ids = rng.integers(0, len(WORDS), (n_tags, 2))
    labels = [f"{WORDS[a]} {WORDS[b]} {i}" for i, (a, b) in enumerate(word_ids)]
    content_tags = rng.integers(0, n_tags, (n_contents, 3))
    contents = tags[content_tags].mean(axis=1) + 0.05 * rng.standard_normal((n_contents, dim)).astype(np.float32)
    contents /= np.linalg.norm(contents, axis=1, keepdims=True)
    texts = [" ".join(labels[t] for t in row) for row in content_tags]
    return tags, labels, contents.astype(np.float32), texts, content_tags


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tags", type=int, default=1_000_000)
    parser.add_argument("--contents", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--json")
    args = parser.parse_args()
    results: dict = {"machine": machine(), "tags": args.tags, "contents": args.contents, "dim": args.dim}

    tag_vectors, labels, content_vectors, texts, content_tags = synthetic(
        args.tags, args.contents + args.queries, args.dim
    )
    query_vectors, query_texts = content_vectors[args.contents :], texts[args.contents :]
    query_gold = content_tags[args.contents :]
    tag_ids = [f"t{i}" for i in range(args.tags)]

    start = time.perf_counter()
    graph = ContentTagGraph(dim=args.dim)
    graph.add_tags(tag_ids, labels, tag_vectors)
    results["tag_index_build_s"] = time.perf_counter() - start
    results["tag_index_exact"] = graph.tag_dense.is_exact
    start = time.perf_counter()
    graph.add_contents(
        [f"c{i}" for i in range(args.contents)],
        content_vectors[: args.contents],
        [[tag_ids[t] for t in row] for row in content_tags[: args.contents]],
        texts=texts[: args.contents],
    )
    recaller = Recaller(graph, RecallConfig())
    recaller.set_names([[label] for label in labels])
    _ = graph.cooccurrence, graph.tag_lexical  # derived matrices are built lazily; count them in the build
    recaller.recall(query_texts[:1], query_vectors[:1])
    results["graph_build_s"] = time.perf_counter() - start
    results["peak_rss_mib_after_build"] = peak_rss_mib()

    latencies, hits = [], []
    for i in range(args.queries):
        start = time.perf_counter()
        [result] = recaller.recall([query_texts[i]], query_vectors[i : i + 1])
        latencies.append(time.perf_counter() - start)
        got = {c.tag_id for c in result.candidates}
        hits.append(np.mean([tag_ids[t] in got for t in query_gold[i]]))
    results["recall_latency_one_doc"] = percentiles(latencies)
    results["candidate_recall_at_30"] = float(np.mean(hits))

    # approximate vs exact tag search (C2T's nearest tags): recall loss and the exact baseline's latency
    import faiss

    exact = faiss.IndexFlatIP(args.dim)
    exact.add(tag_vectors)
    k = 50
    exact_times = []
    exact_result = []
    for i in range(args.queries):
        t0 = time.perf_counter()
        _, ids = exact.search(query_vectors[i : i + 1], k)
        exact_times.append(time.perf_counter() - t0)
        exact_result.append(ids[0])
    approx_times, overlap = [], []
    for i in range(args.queries):
        t0 = time.perf_counter()
        _, ids = graph.tag_dense.search(query_vectors[i : i + 1], k)
        approx_times.append(time.perf_counter() - t0)
        overlap.append(len(set(ids[0]) & set(exact_result[i])) / k)
    results["tag_search_exact"] = percentiles(exact_times)
    results["tag_search_index"] = percentiles(approx_times)
    results["tag_search_recall_at_50_vs_exact"] = float(np.mean(overlap))
    results["tag_search_speedup_vs_exact_p50"] = (
        results["tag_search_exact"]["p50_ms"] / results["tag_search_index"]["p50_ms"]
    )
    results["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
