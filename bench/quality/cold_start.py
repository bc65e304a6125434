"""Cold-start tags on debtags: tags with a label and a description but no annotated example.

A seeded share of the tags (10%: about 57) is removed from the annotations of train and of the dev data used
for calibration (a new tag has no annotated dev examples either; otherwise per-tag calibration leaks what the
tag means); the tags stay in the library with their labels and descriptions; test is unchanged. Then:

* recall only (calibrated, pruned) against the pipeline with the LLM judging the candidates of tags with few
  examples (``judge = "few-examples"``: the slots reserved for them in recall, and any in the top candidates), on the
  same seeded test sample;
* for the held-out tags (micro over their occurrences, macro over the tags), the tail (tags with 1-10 training
  examples) and all tags;
* again after ``learn`` with 1, 3 and 5 examples per held-out tag (train contents that carried the tag, added as
  new annotated contents: short-term knowledge, no refit; ``--refit`` refits the learned paths after each step, as
  ``llm4tag index --refit`` does).

    python -m bench.quality.cold_start --work /tmp/cold --test-sample 200 --dev-llm-sample 80 --out cold.json
    python -m bench.quality.cold_start --work /tmp/cold --learn 3 --reach-only [--refit]   # candidates only, no LLM
    python -m bench.quality.cold_start --work /tmp/cold --learn "" --reach-only --recall new_tag_map_weight=0  # map off

The project is built in ``--work``/base and reused when it exists (its index takes about 3 minutes here); the
``learn`` steps run on a copy (``--work``/learn), so the base stays without examples. The LLM's judgements are
cached in the project, so a rerun asks only what it has not asked before; ``--judgements-from`` copies those of
another project's store (same model and prompt) into a new base.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import time
from collections import Counter
from pathlib import Path

from llm4tag.corpus.documents import Document, seeded_sample
from llm4tag.corpus.knowledge import KnowledgeItem
from llm4tag.metrics.sets import set_scores
from llm4tag.project import Project

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "debtags"


def read(path: Path) -> list[Document]:
    return [
        Document(**{k: v for k, v in json.loads(line).items() if k in ("id", "text", "tags")}) for line in path.open()
    ]


def strip(docs: list[Document], held: set[str]) -> list[Document]:
    """The contents with the held-out tags removed; contents left with no tag are dropped."""
    out = []
    for doc in docs:
        tags = [t for t in doc.tags if t not in held]
        if tags:
            out.append(Document(doc.id, doc.text, tags))
    return out


def bucket_scores(golds: list[set[str]], predictions: list[list[str]], tags: set[str]) -> dict:
    """Micro precision, recall, F1 over the occurrences of ``tags``, and macro F1 over those tags."""
    tp, n_pred, n_gold = Counter(), Counter(), Counter()
    for gold, predicted in zip(golds, predictions):
        predicted = set(predicted) & tags
        gold = gold & tags
        for t in predicted & gold:
            tp[t] += 1
        for t in predicted:
            n_pred[t] += 1
        for t in gold:
            n_gold[t] += 1
    hits, preds, occurrences = sum(tp.values()), sum(n_pred.values()), sum(n_gold.values())
    precision = hits / preds if preds else 0.0
    recall = hits / occurrences if occurrences else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    seen = [t for t in tags if n_gold[t] or n_pred[t]]
    macro = [2 * tp[t] / (n_gold[t] + n_pred[t]) for t in seen]
    return {
        "occurrences": occurrences,
        "predicted": preds,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "macro_f1": round(sum(macro) / len(macro), 4) if macro else 0.0,
        "tags": len(seen),
    }


def measure(project: Project, docs: list[Document], held: set[str], tail: set[str], **overrides) -> dict:
    started = time.perf_counter()
    results = project.tag(docs, **overrides)
    seconds = time.perf_counter() - started
    golds = [set(d.tags) for d in docs]
    predictions = [[t.tag_id for t in r.tags] for r in results]
    candidates = [{c.tag_id for c in r.recall.candidates} for r in results]
    held_occurrences = sum(len(g & held) for g in golds)
    reached = sum(len(g & held & c) for g, c in zip(golds, candidates))
    judged = sum(int(r.scored.judged.sum()) for r in results)
    return {
        "held_out_tags": bucket_scores(golds, predictions, held),
        "tail_tags": bucket_scores(golds, predictions, tail),
        "all_tags": set_scores(golds, predictions).to_dict(),
        "held_out_in_candidates": round(reached / held_occurrences, 4) if held_occurrences else 0.0,
        "llm_calls_per_content": round(judged / len(docs), 2),
        "seconds": round(seconds, 1),
    }


def reach(project: Project, docs: list[Document], held: set[str]) -> dict:
    """Of the held-out tags' occurrences in ``docs``: the share among the candidates, and among the reserved slots."""
    results = project.recall_index.recall([d.text for d in docs])
    occurrences = sum(len(set(d.tags) & held) for d in docs)
    found = [set(d.tags) & held & {c.tag_id for c in r.candidates} for d, r in zip(docs, results)]
    in_slots = [{c.tag_id for c in r.candidates if c.reserved} for r in results]
    return {
        "held_out_occurrences": occurrences,
        "held_out_in_candidates": round(sum(map(len, found)) / occurrences, 4),
        "of_them_in_reserved_slots": round(sum(len(f & s) for f, s in zip(found, in_slots)) / occurrences, 4),
    }


def set_recall(project: Project, settings: list[str]) -> None:
    """Apply ``--recall KEY=VALUE`` settings to the project's recall configuration (in memory, this run only)."""
    for setting in settings:
        key, _, value = setting.partition("=")
        current = getattr(project.config.recall, key)
        parsed = value.lower() in ("1", "true", "yes") if isinstance(current, bool) else type(current)(value)
        setattr(project.config.recall, key, parsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--work", type=Path, required=True, help="project directory (reused when it exists)")
    parser.add_argument("--fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-sample", type=int, default=200)
    parser.add_argument("--dev-llm-sample", type=int, default=80)
    parser.add_argument("--learn", default="1,3,5", help="examples per held-out tag, cumulative steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--reach-only",
        action="store_true",
        help="no calibration and no LLM: the share of the held-out tags' occurrences in all of test that reach the"
        " candidates (top N and reserved slots), at each learn step (a minute or two a step)",
    )
    parser.add_argument(
        "--refit", action="store_true", help="refit the learned paths after each learn step (index --refit)"
    )
    parser.add_argument("--judgements-from", type=Path, help="store.sqlite whose cached judgements to reuse")
    parser.add_argument(
        "--recall",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a [recall] setting for this run, e.g. new_tag_map_weight=0 (the map off) or few_example_slots=5",
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    library = [json.loads(line) for line in (args.data / "tags.jsonl").open()]
    tag_ids = sorted(t["id"] for t in library)
    held = set(random.Random(args.seed).sample(tag_ids, round(len(tag_ids) * args.fraction)))
    train, dev, test = (read(args.data / f"{s}.jsonl") for s in ("train", "dev", "test"))
    train_stripped, dev_stripped = strip(train, held), strip(dev, held)
    counts = Counter(t for d in train_stripped for t in d.tags)
    tail = {t for t, n in counts.items() if 1 <= n <= 10}
    test_sample = seeded_sample(test, args.test_sample, args.seed)
    report: dict = {
        "held_out_tags": len(held),
        "held_out_test_occurrences": sum(len(set(d.tags) & held) for d in test),
        "tail_tags": len(tail),
        "train_contents": len(train_stripped),
        "dev_contents": len(dev_stripped),
        "test_sample": len(test_sample),
    }
    print(json.dumps(report), flush=True)

    started = time.perf_counter()
    base = args.work / "base"
    if not (base / "llm4tag.toml").exists():
        project = Project.init(base, tags=args.data / "tags.jsonl")
        project.config.llm.options["threads"] = args.threads
        project.config.save(project.directory)
        project.add_contents(train_stripped)
        project.index()
        report["index_seconds"] = round(time.perf_counter() - started, 1)
        project.close()
    if args.judgements_from:
        with sqlite3.connect(base / "store.sqlite") as db:
            db.execute("ATTACH DATABASE ? AS other", (str(args.judgements_from),))
            db.execute("INSERT OR IGNORE INTO judgements SELECT * FROM other.judgements")
    if not args.reach_only:  # the candidates alone need neither calibration nor the LLM
        with Project.open(base) as project:
            set_recall(project, args.recall)
            if project.artifacts.recall_calibrator() is None:  # delete base/calibration to recalibrate
                started = time.perf_counter()
                project.calibrate(dev_stripped, llm_sample=args.dev_llm_sample, overrides={"judge": "candidates"})
                report["calibrate_seconds"] = round(time.perf_counter() - started, 1)
            started = time.perf_counter()
            optimized = project.optimize(
                dev_stripped, llm_sample=args.dev_llm_sample, overrides={"judge": "candidates"}
            )
            report["optimize_seconds"] = round(time.perf_counter() - started, 1)
            report["llm_decision"] = optimized["llm"]["llm_decision"]
            print(json.dumps(report["llm_decision"]), flush=True)
    shutil.rmtree(args.work / "learn", ignore_errors=True)
    shutil.copytree(base, args.work / "learn")
    project = Project.open(args.work / "learn")
    set_recall(project, args.recall)

    steps = [0] + [int(k) for k in args.learn.split(",") if k]
    rng = random.Random(args.seed)
    by_tag = {t: [d for d in train if t in d.tags] for t in sorted(held)}
    for t in by_tag:
        rng.shuffle(by_tag[t])
    learned = 0
    report["runs"] = {}
    for k in steps:
        if k > learned:
            items = [
                KnowledgeItem("example", content_id=f"learn-{d.id}", text=d.text, tags=list(d.tags))
                for t, docs in by_tag.items()
                for d in docs[learned:k]
            ]
            project.learn(items)
            project.index(refit=args.refit)
            learned = k
        if args.reach_only:
            run = reach(project, test, held)
            report["runs"][f"{k}_examples"] = run
            print(k, json.dumps(run), flush=True)
            continue
        run = {
            "recall_only": measure(project, test_sample, held, tail, llm=False),
            "with_llm": measure(project, test_sample, held, tail, judge="few-examples", generation=False),
        }
        chosen = project.pipeline().options.judge
        if chosen not in ("none", "few-examples"):  # what optimize chose, where it is neither of the above
            run[f"chosen_{chosen}"] = measure(project, test_sample, held, tail)
        report["runs"][f"{k}_examples"] = run
        print(k, json.dumps(run), flush=True)
    project.close()
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
