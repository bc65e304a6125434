"""Batch tagging throughput: one process vs. Ray Data on a local Ray, same contents, same run.

    .venv/bin/python -m bench.speed.batch --project debtags-bench --documents 1000
    .venv/bin/python -m bench.speed.batch --project debtags-bench-judge --documents 60 --actors 2

The project's own configuration decides the pipeline (Ray actors read it from disk). Contents: debtags test
documents outside the seeded 300-document sample (no cached judgement helps). Each engine writes its own
JSONL; the script checks both tagged every content and agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine, outside_sample, project_parser


def main() -> None:
    parser = project_parser()
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    docs = outside_sample(args.data)[: args.documents]
    work = Path(tempfile.mkdtemp(prefix="llm4tag-batch-"))
    contents = work / "contents.jsonl"
    contents.write_text("".join(json.dumps({"id": d.id, "text": d.text}) + "\n" for d in docs))
    base = [sys.executable, "-m", "llm4tag.cli", "tag", "-p", args.project, "--input", str(contents), "-q"]
    runs = {
        "one_process": base + ["-o", str(work / "local.jsonl"), "--batch-size", str(args.batch_size)],
        "ray_local": base
        + ["-o", str(work / "ray.jsonl"), "--engine", "ray", "--actors", str(args.actors)]
        + ["--batch-size", str(args.batch_size)],
    }
    report: dict = {"machine": machine(), "documents": len(docs), "actors": args.actors}
    outputs = {}
    for name, command in runs.items():
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
        path = Path(command[command.index("-o") + 1])
        outputs[name] = {json.loads(line)["id"]: json.loads(line) for line in path.read_text().splitlines()}
        report[name] = {"seconds": seconds, "contents_per_second": len(docs) / seconds}
    report["ray_over_one_process"] = (
        report["ray_local"]["contents_per_second"] / report["one_process"]["contents_per_second"]
    )
    same = sum(
        [t["tag_id"] for t in outputs["one_process"][i]["tags"]]
        == [t["tag_id"] for t in outputs["ray_local"][i]["tags"]]
        for i in outputs["one_process"]
    )
    report["both_complete"] = len(outputs["one_process"]) == len(outputs["ray_local"]) == len(docs)
    report["same_tags"] = f"{same}/{len(docs)}"
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
