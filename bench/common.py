"""Helpers shared by the benchmark scripts: data splits, the seeded sample, machine, timing summaries."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from llm4tag.corpus import Document, load_corpus, seeded_sample

#: LLM stages are measured on this seeded sample of the test split, the same documents everywhere
SAMPLE_SIZE, SAMPLE_SEED = 300, 0


def project_parser() -> argparse.ArgumentParser:
    """Arguments every debtags benchmark takes: the project directory and the data set."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", required=True, help="an llm4tag project built from debtags train")
    parser.add_argument("--data", default="../shared/data/debtags")
    return parser


def add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    """--split, --sample, --seed and --shard i/n, for scripts that run the LLM over a seeded sample."""
    parser.add_argument("--split", default="test")
    parser.add_argument("--sample", type=int, default=SAMPLE_SIZE)
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED)
    parser.add_argument("--shard", default="0/1", help="i/n: every n-th sampled document starting at i")


def sample_and_shard(args: argparse.Namespace, library=None) -> tuple[list[Document], list[Document]]:
    """The seeded sample of ``args.split`` and this shard's part of it."""
    sample = seeded_sample(annotated(args.data, args.split, library), args.sample, args.seed)
    index, count = (int(x) for x in args.shard.split("/"))
    return sample, sample[index::count]


def annotated(data: str | Path, split: str, library=None) -> list[Document]:
    """The documents of ``data/<split>.jsonl`` that have tags (unknown tag ids dropped)."""
    return [d for d in load_corpus(Path(data) / f"{split}.jsonl", library=library, on_unknown="skip") if d.tags]


def outside_sample(data: str | Path) -> list[Document]:
    """Annotated test documents that are not in the seeded sample, so no cached judgement helps."""
    docs = annotated(data, "test")
    sampled = {d.id for d in seeded_sample(docs, SAMPLE_SIZE, SAMPLE_SEED)}
    return [d for d in docs if d.id not in sampled]


def ids_in(*paths: str | Path) -> set[str]:
    """Ids already written to per-document JSONL files (missing files count as empty): for resuming."""
    done: set[str] = set()
    for path in map(Path, paths):
        if path.exists():
            done |= {json.loads(line)["id"] for line in path.read_text().splitlines() if line.strip()}
    return done


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "n": len(ms)}


@contextmanager
def timer(out: dict, key: str):
    start = time.perf_counter()
    yield
    out[key] = time.perf_counter() - start
