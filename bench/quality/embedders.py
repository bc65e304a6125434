"""Embedders compared as a user meets them: build time, recall-stage quality and tagging speed, same run.

    .venv/bin/python -m bench.quality.embedders --data ../shared/data/debtags --work /tmp/emb --out emb.json
    .venv/bin/python -m bench.quality.embedders --data ../check-sets/debtags-short --work /tmp/emb-short

For each variant: ``llm4tag init`` + ``llm4tag index`` from scratch (CLI processes, wall time; the static
model's one-time distillation included, its cache folder starts empty), ``calibrate`` + ``optimize`` on dev
with the recall stage only, ``eval`` of the recall stage on test, then the speed of tagging with the
calibrated confidence (``bench_recall_speed.measure_speed``: batches of 64 and one content at a time, with
cached embeddings and with new texts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import annotated, machine
from bench.speed.recall_speed import measure_speed
from llm4tag.config import ProjectConfig
from llm4tag.evaluation import evaluate
from llm4tag.project import Project

#: variant name -> extra ``llm4tag init`` arguments
VARIANTS = {
    "minilm-128": [],
    "model2vec": ["--embedding", "model2vec"],
}
#: variant name -> ``[embedding]`` options written into the project after ``init``, before ``index``
OPTIONS = {
    "minilm-128-float32": {"precision": "float32"},  # MiniLM's default precision is "auto": bfloat16 where native
}
RECALL_ONLY = {"judge": "none", "generation": False}


def cli(*args: str) -> float:
    """Run ``llm4tag ARGS`` and return its wall seconds; a failure stops the benchmark with its output."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "llm4tag", *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"llm4tag {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


def init_arguments(name: str) -> list[str]:
    """A named variant's ``init`` arguments; ``BACKEND@MODEL`` is that backend with a local model folder."""
    if "@" in name:
        backend, model = name.split("@", 1)
        return ["--embedding", backend, "--embedding-model", model]
    return VARIANTS.get(name, [])


def run_variant(name: str, data: Path, work: Path, speed_documents: int) -> dict:
    project_dir = work / name.replace("/", "_").replace("@", "-")
    os.environ["LLM4TAG_CACHE"] = f"{project_dir}-cache"  # for this process and the CLI runs alike
    report: dict = {"init_args": init_arguments(name)}
    report["init_seconds"] = cli(
        "init",
        str(project_dir),
        "--tags",
        str(data / "tags.jsonl"),
        "--corpus",
        str(data / "train.jsonl"),
        "--skip-unknown",
        "--force",
        *init_arguments(name),
    )
    if name in OPTIONS:
        config = ProjectConfig.load(project_dir)
        config.embedding.options.update(OPTIONS[name])
        config.save(project_dir)
        report["embedding_options"] = OPTIONS[name]
    report["index_seconds"] = cli("index", "-p", str(project_dir))
    report["init_plus_index_seconds"] = report["init_seconds"] + report["index_seconds"]
    with Project.open(project_dir) as project:
        dev, test = annotated(data, "dev", project.library), annotated(data, "test", project.library)
        started = time.perf_counter()
        project.calibrate(dev, overrides=RECALL_ONLY)
        project.optimize(dev, overrides=RECALL_ONLY)
        report["calibrate_plus_optimize_seconds"] = time.perf_counter() - started
        result = evaluate(project.pipeline(**RECALL_ONLY), test, stage="recall").to_dict()
        report["test"] = {
            "documents": result["documents"],
            "precision@1": result["ranking"]["precision@1"],
            "ndcg@10": result["ranking"]["ndcg@10"],
            "doc_f1": result["tag_sets"]["f1"],
            "ece": result["calibration"]["ece"],
            "candidate_recall@30": result["candidate_recall"].get("fused", {}).get("30"),
        }
        report["speed"] = measure_speed(project.pipeline(llm=False), test[:speed_documents])
    return report


def main() -> None:
    parser = argparse_parser()
    args = parser.parse_args()
    data, work = Path(args.data), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    report: dict = {"machine": machine(), "data": str(data), "variants": {}}
    for name in args.variants.split(","):
        report["variants"][name] = run_variant(name, data, work, args.speed_documents)
        print(name, json.dumps(report["variants"][name]), flush=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")


def argparse_parser():
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data/debtags")
    parser.add_argument("--work", required=True, help="a scratch folder: one project per variant")
    parser.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated: {', '.join([*VARIANTS, *OPTIONS])} or BACKEND@MODEL_FOLDER",
    )
    parser.add_argument("--speed-documents", type=int, default=1000)
    parser.add_argument("--out", help="write the report here too (JSON)")
    return parser


if __name__ == "__main__":
    main()
