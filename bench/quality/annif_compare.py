"""Annif side by side: train Annif's backends on debtags in their own virtual environment, evaluate with
``annif eval``, and check that llm4tag's metric code reproduces ``annif eval`` on Annif's own suggestions.

    python3 -m venv annif-venv && annif-venv/bin/pip install "annif[omikuji,fasttext]"
    pip download --no-deps llama-index-core==0.14.25 -d wheels   # carries NLTK's punkt_tab (no NLTK download here)
    unzip -o wheels/llama_index_core-*.whl 'llama_index/core/_static/nltk_cache/*' -d wheels/ex
    .venv/bin/python -m bench.quality.annif_compare --annif annif-venv/bin/annif --work annif-work \\
        --nltk-data wheels/ex/llama_index/core/_static/nltk_cache --out docs/annif.json

Steps: vocabulary and corpora as Annif TSV (tag ids become URIs), projects (tfidf, omikuji parabel and
bonsai, fastText with ``loss=ova``, MLLM optional, an ensemble of bonsai + parabel + fastText), ``annif
train`` on train, ``annif optimize`` on dev (limit and threshold for the best document-averaged F1),
``annif eval`` on test and on the seeded 300-document sample, then ``annif index`` of the test sample to
recompute the metrics with ``llm4tag.evaluation`` from Annif's suggestions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, unquote

from bench.common import SAMPLE_SEED, SAMPLE_SIZE, annotated, machine
from llm4tag.corpus import seeded_sample
from llm4tag.metrics.ranking import ranking_scores

BASE = "http://debtags.example/tag/"
PROJECTS = {
    "tfidf": "backend=tfidf\nanalyzer=snowball(english)\nlimit=100",
    "parabel": "backend=omikuji\nanalyzer=snowball(english)\nlimit=100",
    "bonsai": (
        "backend=omikuji\nanalyzer=snowball(english)\nlimit=100\ncluster_balanced=False\ncluster_k=100\nmax_depth=3"
    ),
    "fasttext": (
        "backend=fasttext\nanalyzer=snowball(english)\nlimit=100\ndim=500\nlr=0.25\nepoch=30\nloss=ova\n"
        "chunksize=24\nminCount=2"
    ),
    "mllm": "backend=mllm\nanalyzer=snowball(english)\nlimit=100",
    "ensemble": "backend=ensemble\nsources=bonsai,parabel,fasttext\nlimit=100",
}


def uri(tag_id: str) -> str:
    return BASE + quote(tag_id, safe="")


def tag_of(subject_uri: str) -> str:
    return unquote(subject_uri.removeprefix(BASE))


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def write_corpus(docs, path: Path) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for doc in docs:
            handle.write(one_line(doc.text) + "\t" + " ".join(f"<{uri(t)}>" for t in doc.tags) + "\n")


def run(annif: str, args: list[str], work: Path, env: dict) -> tuple[str, float]:
    started = time.perf_counter()
    done = subprocess.run([annif, *args], cwd=work, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"annif {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr, time.perf_counter() - started


def parse_metrics(text: str) -> dict[str, float]:
    metrics = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9@ ()_\-]+?):\s+([0-9.]+)\s*$", line.strip())
        if match:
            metrics[match.group(1).strip()] = float(match.group(2))
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--annif", required=True, help="the annif executable of its own virtual environment")
    parser.add_argument("--work", required=True, help="working directory for Annif's data and projects")
    parser.add_argument("--data", default="../shared/data/debtags")
    parser.add_argument("--nltk-data", required=True)
    parser.add_argument("--projects", default="tfidf,parabel,bonsai,fasttext,ensemble")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    data, work = Path(args.data), Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NLTK_DATA": str(Path(args.nltk_data).resolve()), "ANNIF_PROJECTS": str(work / "projects.cfg")}
    annif = str(Path(args.annif).resolve())

    tags = [json.loads(line) for line in (data / "tags.jsonl").read_text(encoding="utf-8").splitlines()]
    (work / "vocab.tsv").write_text("".join(f"<{uri(t['id'])}>\t{one_line(t['label'])}\n" for t in tags))
    splits = {split: annotated(data, split) for split in ("train", "dev", "test")}
    sample = seeded_sample(splits["test"], SAMPLE_SIZE, SAMPLE_SEED)
    for name, docs in [*splits.items(), ("test-sample", sample)]:
        write_corpus(docs, work / f"{name}.tsv")
    wanted = args.projects.split(",")
    cfg = []
    for name in wanted:
        cfg.append(f"[{name}]\nname={name}\nlanguage=en\nvocab=debtags\n{PROJECTS[name]}\n")
    (work / "projects.cfg").write_text("\n".join(cfg))
    report: dict = {"machine": machine(), "annif": run(annif, ["--version"], work, env)[0].strip(), "projects": {}}
    run(annif, ["load-vocab", "debtags", "vocab.tsv", "--language", "en"], work, env)
    for name in wanted:
        entry: dict = {}
        if name != "ensemble":
            _, entry["train_seconds"] = run(annif, ["train", name, "train.tsv", "-j", "2"], work, env)
        out, _ = run(annif, ["optimize", name, "dev.tsv", "-j", "2"], work, env)
        best = re.search(r"Best\s+F1 score \(doc avg\):\s+([0-9.]+)\s+Limit:\s+(\d+)\s+Threshold:\s+([0-9.]+)", out)
        entry["dev_best_f1"] = {
            "f1": float(best.group(1)),
            "limit": int(best.group(2)),
            "threshold": float(best.group(3)),
        }
        limit, threshold = entry["dev_best_f1"]["limit"], entry["dev_best_f1"]["threshold"]
        for split in ("test", "test-sample"):
            ranked, seconds = run(annif, ["eval", name, f"{split}.tsv", "-j", "1"], work, env)
            pruned, _ = run(
                annif, ["eval", name, f"{split}.tsv", "--limit", str(limit), "--threshold", str(threshold)], work, env
            )
            entry[split] = {
                "ranking (limit 10, threshold 0)": parse_metrics(ranked),
                f"at dev-chosen limit {limit}, threshold {threshold}": parse_metrics(pruned),
                "seconds_per_document (eval wall time, one job, incl. model load)": seconds
                / len(splits["test"] if split == "test" else sample),
            }
        report["projects"][name] = entry
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(name, json.dumps(entry, indent=1), flush=True)

    # llm4tag's metric code on Annif's own suggestions (the last project), against annif eval's numbers
    name = wanted[-1]
    index_dir = work / "index-sample"
    index_dir.mkdir(exist_ok=True)
    for doc in sample:
        (index_dir / f"{quote(doc.id, safe='')}.txt").write_text(doc.text, encoding="utf-8")
    run(annif, ["index", name, str(index_dir), "--force", "--limit", "10"], work, env)
    rankings, golds = [], []
    for doc in sample:
        lines = (index_dir / f"{quote(doc.id, safe='')}.annif").read_text(encoding="utf-8").splitlines()
        rankings.append([tag_of(line.split("\t")[0].strip("<>")) for line in lines if line.strip()])
        golds.append(set(doc.tags))
    ours = ranking_scores(golds, rankings)
    report["metric_check"] = {
        "project": name,
        "documents": len(sample),
        "annif_eval": report["projects"][name]["test-sample"]["ranking (limit 10, threshold 0)"],
        "llm4tag_on_annif_suggestions": ours,
    }
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(json.dumps(report["metric_check"], indent=1))


if __name__ == "__main__":
    main()
