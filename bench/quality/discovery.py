"""Tag discovery: does ``llm4tag discover`` rediscover the tags a library lost?

The cold-start benchmark's seeded 10% of the tags (57 on debtags, seed 0) are removed from train and dev, and
this time from the library too (nothing of their label or description is left). A project is built from the
stripped train (calibrated and optimized on the stripped dev), and ``discover`` runs on its own contents,
once naming the groups with the LLM and once with the no-LLM baseline (each group's most distinctive words,
c-TF-IDF). The groups are the same for both (the flagging and the clustering do not depend on the namer).

* **Rediscovery rate**: the share of the lost tags for which some *proposed* group has precision >= .5
  against the lost tag's training contents and holds at least 5 of them.
* **Proposal precision**: the share of proposals whose group matches a lost tag that way; the duplicate rate
  (proposals dropped as an existing tag's duplicate); and how close each matched proposal's text is to the lost
  tag's own label and description (cosine of their embeddings: a name a curator would recognise), beside
  a sample of proposal and lost labels.
* **Flagging**: for each signal, the share of the lost tags' training contents it flags (recall) and the share
  of flagged contents that carried a lost tag (precision).
* **Cost**: LLM calls and seconds, on this machine.

    python -m bench.quality.discovery --data ../shared/data/debtags --work /tmp/disc --max-groups 60 --out disc.json
    python -m bench.quality.discovery --data /work/check-sets/debtags-short --work /tmp/disc-short --max-groups 60
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import time
from collections import Counter
from pathlib import Path

import numpy as np

from bench.common import machine
from bench.quality.cold_start import read, strip
from llm4tag.corpus.documents import Document
from llm4tag.discovery import Discovery, DiscoverySettings
from llm4tag.discovery.naming import LLMProposer, WordsProposer
from llm4tag.discovery.run import read_records
from llm4tag.generation.prompts import load_prompt
from llm4tag.project import Project


def build(directory: Path, tags_path: Path, train: list[Document], dev: list[Document], threads: int) -> float:
    if (directory / "done").exists():
        return 0.0
    start = time.perf_counter()
    project = Project.init(directory, tags=tags_path, exist_ok=True)
    project.config.llm.options["threads"] = threads
    project.config.pipeline.use_llm = "never"  # discovery flags contents with the recall-only pipeline
    project.config.save(project.directory)
    project.add_contents(train)
    project.index()
    project.calibrate(dev, progress=True)
    project.optimize(dev, progress=True)
    project.close()
    (directory / "done").write_text("")
    return time.perf_counter() - start


def evaluate(records: list[dict], lost: dict[str, set[str]], lost_text: dict[str, str], embed) -> dict:
    """Rediscovery, proposal precision, duplicates and name closeness of one run's records."""
    matches = []  # (record, lost tag, precision, covered)
    for r in records:
        members = set(r["members"])
        best = max(((h, len(members & ids)) for h, ids in lost.items()), key=lambda x: x[1], default=(None, 0))
        tag, covered = best
        matches.append((r, tag, covered / len(members), covered))
    proposed = [(r, t, p, c) for r, t, p, c in matches if r["status"] == "proposed"]
    hits = [(r, t) for r, t, p, c in proposed if p >= 0.5 and c >= 5]
    rediscovered = {t for _, t in hits}
    closeness = []
    if hits:
        texts = [f"{r['proposal']['label']}: {r['proposal']['description']}" for r, _ in hits]
        a = embed(texts)
        b = embed([lost_text[t] for _, t in hits])
        closeness = np.sum(a * b, axis=1).tolist()
    status = Counter(r["status"] for r in records)
    return {
        "groups": len(records),
        "status": dict(status),
        "rediscovered": len(rediscovered),
        "rediscovery_rate": round(len(rediscovered) / len(lost), 4),
        "proposals": len(proposed),
        "proposal_precision": round(len(hits) / len(proposed), 4) if proposed else None,
        "duplicate_rate": round(status.get("duplicate", 0) / len(records), 4) if records else None,
        "name_closeness_mean": round(float(np.mean(closeness)), 4) if closeness else None,
        "llm_seconds": round(sum(r["llm_seconds"] for r in records), 1),
        "sample": [[r["proposal"]["label"], t] for r, t in hits[:12]],
    }


def evaluate_groups(records: list[dict], lost: dict[str, set[str]]) -> int:
    """Lost tags that some group (named or not) matches at precision >= .5 with 5 of their contents: the most
    any naming could rediscover."""
    found = set()
    for r in records:
        members = set(r["members"])
        for tag, ids in lost.items():
            covered = len(members & ids)
            if covered >= 5 and covered / len(members) >= 0.5:
                found.add(tag)
    return len(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/debtags"))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-groups", type=int, default=60, help="groups the LLM names (the largest)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-llm", action="store_true", help="the words baseline only")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    library = [json.loads(line) for line in (args.data / "tags.jsonl").open()]
    tag_ids = sorted(t["id"] for t in library)
    held = set(random.Random(args.seed).sample(tag_ids, round(len(tag_ids) * args.fraction)))
    args.work.mkdir(parents=True, exist_ok=True)
    tags_path = args.work / "tags-without-held.jsonl"
    tags_path.write_text("".join(json.dumps(t) + "\n" for t in library if t["id"] not in held))
    train = read(args.data / "train.jsonl")
    train_stripped = strip(train, held)
    kept_ids = {d.id for d in train_stripped}
    lost = {h: {d.id for d in train if h in d.tags and d.id in kept_ids} for h in held}
    lost = {h: ids for h, ids in lost.items() if ids}
    by_id = {t["id"]: t for t in library}
    lost_text = {h: f"{by_id[h]['label']}: {by_id[h].get('description', '')}" for h in lost}
    report: dict = {
        "data": str(args.data),
        "machine": machine(),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "held_out_tags": len(held),
        "lost_tags_with_training_contents": len(lost),
        "lost_tags_with_5_or_more": sum(len(ids) >= 5 for ids in lost.values()),
    }
    directory = args.work / "project"
    report["build_seconds"] = round(
        build(directory, tags_path, train_stripped, strip(read(args.data / "dev.jsonl"), held), args.threads), 1
    )
    settings = DiscoverySettings(max_groups=None)
    with Project.open(directory) as project:
        embed = project.embedder.encode
        start = time.perf_counter()
        words_out = args.work / "words.jsonl"
        discovery = Discovery(project, WordsProposer(), settings)
        words_out.unlink(missing_ok=True)
        summary = discovery.run(words_out, progress=True)
        report["finding_seconds"] = round(time.perf_counter() - start, 1)
        report["flagging"] = summary
        flagged_ids = {m for r in read_records(words_out) for m in r["members"]}
        lost_contents = set().union(*lost.values())
        signals = {}
        for signal in ("low_confidence", "broad_only", "far", "any"):
            hit = {c.id for c in discovery.coverage_ if (c.reasons if signal == "any" else signal in c.reasons)}
            signals[signal] = {
                "flagged": len(hit),
                "recall_of_lost_contents": round(len(hit & lost_contents) / len(lost_contents), 4),
                "precision": round(len(hit & lost_contents) / len(hit), 4) if hit else None,
            }
        report["signals"] = signals
        report["base_rate"] = round(len(lost_contents) / len(discovery.coverage_), 4)
        report["grouped_lost_share"] = round(len(flagged_ids & lost_contents) / len(lost_contents), 4)
        words = read_records(words_out)
        covered = [{"members": [discovery.coverage_[i].id for i in rows], "status": "covered"}
                   for rows, _, _ in discovery.covered_groups_]  # fmt: skip
        ceiling = evaluate_groups(words + covered, lost)
        report["ceiling"] = {"groups_named_and_covered": len(words) + len(covered), "rediscoverable": ceiling}
        report["words_all_groups"] = evaluate(words, lost, lost_text, embed)
        largest = sorted(words, key=lambda r: -r["size"])[: args.max_groups]
        report["words_largest"] = evaluate(largest, lost, lost_text, embed)
        print(json.dumps(report, indent=1), flush=True)
        if not args.no_llm:
            template = load_prompt("discover")
            llm_settings = DiscoverySettings(max_groups=args.max_groups)
            start = time.perf_counter()
            (args.work / "llm.jsonl").unlink(missing_ok=True)
            Discovery(project, LLMProposer(project.llm.get(), template), llm_settings).run(
                args.work / "llm.jsonl", progress=True
            )
            report["llm_wall_seconds"] = round(time.perf_counter() - start, 1)
            records = read_records(args.work / "llm.jsonl")
            report["llm_largest"] = evaluate(records, lost, lost_text, embed)
            report["llm_model"] = records[0].get("model") if records else None
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
