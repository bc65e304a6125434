"""Synthetic examples and descriptions written by the LLM, once per tag, on the cold-start tags and the tail.

The cold-start set-up of ``bench/quality/cold_start.py``: a seeded 10% of the tags (57 on debtags) is removed from
train and dev; test is unchanged. The tail: tags with 1-10 training examples after that. Then:

* ``write``: the base project (train less the held-out tags; recall only, calibrated and optimized on dev) is
  built, and ``llm4tag synthesize`` writes ``--per-tag`` examples for the held-out tags, then for the tail tags
  with fewer than 5 examples (as many as ``--tail-tags`` says), into ``--work``/synthetic.jsonl (resumable: kill it
  and rerun); ``llm4tag describe`` writes descriptions for the held-out tags without one.
* ``measure``: for 0, 1, 3, 5 (10) synthetic contents per tag, with and without the descriptions applied, a copy of
  the base learns them, refits its learned paths and tags all of test, recall only. Reported for the held-out tags
  (share of their test occurrences found at precision >= .5 over the ranked candidates' confidences; share among
  the candidates; micro P/R/F1 of what the pipeline keeps), the tail tags written for, all tail tags, and every
  tag (document F1, P@1), with the LLM time and the contents written.

    python -m bench.quality.synthesis write --work /tmp/syn/debtags --data ../shared/data/debtags --per-tag 5
    python -m bench.quality.synthesis measure --work /tmp/syn/debtags --data ../shared/data/debtags --steps 0,1,3,5
    python -m bench.quality.synthesis write --work /tmp/syn/short --data /work/check-sets/debtags-short --per-tag 10
    python -m bench.quality.synthesis check --work /tmp/syn/debtags --data ../shared/data/debtags --per-tag 5
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from collections import Counter
from pathlib import Path

from bench.quality.cold_start import SHARED, bucket_scores, read, strip
from llm4tag.corpus.knowledge import read_learn_file
from llm4tag.generation.prompts import load_prompt
from llm4tag.metrics.sets import set_scores
from llm4tag.project import Project
from llm4tag.synthesis import Describer, DescribeSettings, SynthesisSettings, Synthesizer, read_status


def split(data: Path, seed: int = 0, fraction: float = 0.1):
    library = [json.loads(line) for line in (data / "tags.jsonl").open()]
    tag_ids = sorted(t["id"] for t in library)
    held = set(random.Random(seed).sample(tag_ids, round(len(tag_ids) * fraction)))
    train, dev, test = (read(data / f"{s}.jsonl") for s in ("train", "dev", "test"))
    train, dev = strip(train, held), strip(dev, held)
    counts = Counter(t for d in train for t in d.tags)
    tail = {t for t, n in counts.items() if 1 <= n <= 10}
    return held, tail, counts, train, dev, test


def build_base(work: Path, data: Path, train, dev, threads: int) -> Path:
    base = work / "base"
    if (base / "calibration").is_dir() and any((base / "calibration").iterdir()):
        return base
    shutil.rmtree(base, ignore_errors=True)
    project = Project.init(base, tags=data / "tags.jsonl")
    project.config.llm.options["threads"] = threads
    project.config.pipeline.use_llm = "never"  # calibrate and optimize measure recall only
    project.config.save(project.directory)
    project.add_contents(train)
    project.index(refit=True)
    project.calibrate(dev)
    project.optimize(dev)
    project.close()
    return base


def cmd_write(args, held, tail, counts, train, dev, test) -> dict:
    base = build_base(args.work, args.data, train, dev, args.threads)
    tail_written = sorted((t for t in tail if counts[t] < 5), key=lambda t: (counts[t], t))[: args.tail_tags]
    report: dict = {}
    with Project.open(base) as project:
        llm = project.llm.get()
        template = load_prompt("describe")
        describe = Describer(project, llm, template, DescribeSettings(tags=None))
        need = [t for t in sorted(held) if len(project.library[t].description.strip()) < 20]
        describe.settings.tags = need
        report["describe"] = describe.run(args.work / "descriptions.jsonl", progress=True)
        print(json.dumps(report), flush=True)
        settings = SynthesisSettings(per_tag=args.per_tag, tags=sorted(held) + tail_written)
        synthesizer = Synthesizer(project, llm, load_prompt("synthesize"), settings)
        report["synthesize"] = synthesizer.run(args.work / "synthetic.jsonl", progress=True)
    return report


def found_at_precision(results, golds, tags: set[str], precision: float = 0.5) -> float:
    """The largest share of ``tags``' occurrences found by one confidence threshold with precision >= ``precision``."""
    pairs = []
    for result, gold in zip(results, golds):
        s = result.scored
        for tag_id, confidence in zip(s.candidate_ids, s.candidate_conf):
            if tag_id in tags:
                pairs.append((float(confidence), tag_id in gold))
    occurrences = sum(len(g & tags) for g in golds)
    pairs.sort(key=lambda p: -p[0])
    best = hits = 0
    for n, (_, right) in enumerate(pairs, 1):
        hits += right
        if hits / n >= precision:
            best = max(best, hits)
    return round(best / occurrences, 4) if occurrences else 0.0


def measure(project: Project, test, held: set[str], tail_written: set[str], tail: set[str]) -> dict:
    started = time.perf_counter()
    results = project.tag(test, llm=False)
    golds = [set(d.tags) for d in test]
    predictions = [[t.tag_id for t in r.tags] for r in results]
    candidates = [set(r.scored.candidate_ids) for r in results]
    held_occurrences = sum(len(g & held) for g in golds)
    top1 = [r.ranked[0].tag_id if r.ranked else None for r in results]
    return {
        "held_found_at_p50": found_at_precision(results, golds, held),
        "held_in_candidates": round(sum(len(g & held & c) for g, c in zip(golds, candidates)) / held_occurrences, 4),
        "held_kept": bucket_scores(golds, predictions, held),
        "tail_written_found_at_p50": found_at_precision(results, golds, tail_written),
        "tail_written_kept": bucket_scores(golds, predictions, tail_written),
        "tail_kept": bucket_scores(golds, predictions, tail),
        "all": set_scores(golds, predictions).to_dict(),
        "p_at_1": round(sum(t in g for t, g in zip(top1, golds)) / len(golds), 4),
        "seconds": round(time.perf_counter() - started, 1),
    }


def cmd_measure(args, held, tail, counts, train, dev, test) -> dict:
    base = args.work / "base"
    lines = read_status(args.work / "synthetic.jsonl")
    done = {r["tag"] for r in lines}
    tail_written = {t for t in done if t in tail}
    with Project.open(base) as project:
        items = read_learn_file(args.work / "synthetic.jsonl", project.library)
        project.embedder.encode([d.text for d in test], persist=True)  # cached once: each copy below has them
    by_tag: dict[str, list] = {}
    for item in items:
        by_tag.setdefault(item.synthetic["for_tag"], []).append(item)
    described = args.work / "descriptions.jsonl"
    report = {
        "tags_written_for": len(done),
        "held_written_for": len(done & held),
        "tail_written_for": len(tail_written),
        "contents_written": len(items),
        "llm_seconds_per_tag": round(sum(r["llm_seconds"] for r in lines) / max(1, len(lines)), 1),
        "llm_seconds": round(sum(r["llm_seconds"] for r in lines), 1),
        "statuses": dict(Counter(r["status"] for r in lines)),
        "runs": {},
    }
    print(json.dumps(report), flush=True)
    variants = [(k, False) for k in args.steps]
    if described.exists():
        variants += [(k, True) for k in args.describe_steps]
    for k, with_descriptions in variants:
        name = f"{k}_per_tag" + ("_described" if with_descriptions else "")
        copy = args.work / "run"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(base, copy)
        with Project.open(copy) as project:
            started = time.perf_counter()
            if with_descriptions:
                project.add_tags(described)
            chosen = [item for group in by_tag.values() for item in group[:k]]
            if chosen:
                project.learn(chosen)
            project.index(refit=True)
            run = {"learn_seconds": round(time.perf_counter() - started, 1), "learned": len(chosen)}
            run.update(measure(project, test, held, tail_written, tail))
        report["runs"][name] = run
        print(name, json.dumps(run), flush=True)
    shutil.rmtree(args.work / "run", ignore_errors=True)
    return report


def cmd_check(args, held, tail, counts, train, dev, test) -> dict:
    """``synthesize --check`` on a copy of the base that learned ``--per-tag`` synthetic contents per tag."""
    from llm4tag.synthesis import check_synthetic

    copy = args.work / "check"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(args.work / "base", copy)
    with Project.open(copy) as project:
        project.learn(args.work / "synthetic.jsonl")
        project.index(refit=True)
        decision = check_synthetic(project, apply=False)
    shutil.rmtree(copy, ignore_errors=True)
    return decision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("phase", choices=("write", "measure", "check"))
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--per-tag", type=int, default=5)
    parser.add_argument("--tail-tags", type=int, default=1000, help="tail tags (fewer than 5 examples) written for")
    parser.add_argument("--steps", default="0,1,3,5")
    parser.add_argument("--describe-steps", default="0,5", help="steps measured again with the descriptions applied")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.steps = [int(k) for k in args.steps.split(",") if k]
    args.describe_steps = [int(k) for k in args.describe_steps.split(",") if k]
    args.work.mkdir(parents=True, exist_ok=True)
    held, tail, counts, train, dev, test = split(args.data)
    phase = {"write": cmd_write, "measure": cmd_measure, "check": cmd_check}[args.phase]
    report = phase(args, held, tail, counts, train, dev, test)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
