"""Reconciliation quality (OpenRefine's protocol, ``pipeline.reconciliation``), measured without HTTP.

Texts: every annotated test content is reconciled as a description cell; P@1 (the top candidate is a gold tag)
and the precision of auto-match (``match: true`` right, over the cells it marks, and the share it marks),
beside the calibrated pipeline's own P@1 and the precision of its pruned tag sets, on the same run.

Keywords: from each tag of the library, the cells a legacy keyword column holds (say how, since nothing in the
data set is such a column):

* ``label``: the tag's label;
* ``label-typo``: the label with one seeded typo in one of its words of 4+ letters (two adjacent letters
  swapped, one dropped, one doubled, or one replaced by a neighbour on a QWERTY keyboard);
* ``keyword``: the last part of the tag's id, as a legacy keyword system spells it (``devel::lang:python`` ->
  ``python``, ``web::browser`` -> ``browser``; hyphens and underscores as spaces): a different word from the
  label more often than not (``Python Development``);
* ``keyword-typo``: that keyword with one seeded typo.

A query whose untouched form names more than one tag (two tags labelled ``XML``) is left out and counted. For
each kind: the share reconciled to the right tag at rank 1, and the precision and share of auto-match.

    python -m bench.quality.reconcile --project /tmp/m/debtags-final --data ../shared/data/debtags
    python -m bench.quality.reconcile --project /tmp/m/short-final --data /work/check-sets/debtags-short
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from bench.common import annotated, machine
from llm4tag.library.tags import normalize_label
from llm4tag.pipeline.reconciliation import Query, Reconciler
from llm4tag.project import Project

QWERTY = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def neighbours(letter: str) -> str:
    for row in QWERTY:
        i = row.find(letter)
        if i >= 0:
            return row[max(i - 1, 0) : i] + row[i + 1 : i + 2]
    return ""


def typo(text: str, rng: random.Random) -> str | None:
    """One seeded typo in one word of 4+ letters (one that changes it); None where there is no such word."""
    for _ in range(20):
        changed = _one_typo(text, rng)
        if changed is None or normalize_label(changed) != normalize_label(text):
            return changed
    return None


def _one_typo(text: str, rng: random.Random) -> str | None:
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 4]
    if not long:
        return None
    i = rng.choice(long)
    word = words[i]
    at = rng.randrange(1, len(word) - 1)  # not the first letter: people rarely miss that one
    kind = rng.choice(["swap", "drop", "double", "neighbour"])
    if kind == "swap":
        word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    elif kind == "drop":
        word = word[:at] + word[at + 1 :]
    elif kind == "double":
        word = word[:at] + word[at] + word[at:]
    else:
        near = neighbours(word[at].lower())
        word = word[:at] + (rng.choice(near) if near else word[at]) + word[at + 1 :]
    words[i] = word
    return " ".join(words)


def keyword_of(tag_id: str) -> str:
    last = tag_id.replace("::", ":").split(":")[-1]
    return " ".join(last.replace("-", " ").replace("_", " ").split())


def keyword_queries(library, seed: int = 0) -> tuple[list[tuple[str, str, str]], int]:
    """(kind, query, right tag) for every tag, and how many queries were left out as ambiguous."""
    rng = random.Random(seed)
    names = defaultdict(set)
    for tag in library.active():
        for name in [*tag.names(), keyword_of(tag.id)]:
            names[normalize_label(name)].add(tag.id)
    queries, ambiguous = [], 0
    for tag in library.active():
        for kind, base in (("label", tag.label), ("keyword", keyword_of(tag.id))):
            if len(names[normalize_label(base)]) > 1:
                ambiguous += 2
                continue
            queries.append((kind, base, tag.id))
            misspelt = typo(base, rng)
            if misspelt is not None:
                queries.append((f"{kind}-typo", misspelt, tag.id))
    return queries, ambiguous


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True)
    parser.add_argument("--data", default="../shared/data/debtags")
    parser.add_argument("--match-confidence", type=float, default=0.8, help="[service] reconcile_match_confidence")
    parser.add_argument("--keyword-max-words", type=int, default=8)
    parser.add_argument("--out")
    args = parser.parse_args()

    project = Project.open(args.project)
    library = project.library
    pipeline = project.pipeline()
    reconciler = Reconciler(
        project.recall_index,
        library,
        keyword_max_words=args.keyword_max_words,
        match_confidence=max(pipeline.pruning.threshold, args.match_confidence),
    )
    report: dict = {
        "project": args.project,
        "data": args.data,
        "machine": machine(),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "match_confidence": reconciler.match_confidence,
    }

    # -- texts ------------------------------------------------------------------------------------
    docs = annotated(args.data, "test", library)
    start = time.perf_counter()
    results = project.tag(docs, progress=True)
    seconds = time.perf_counter() - start
    queries = [Query(d.text, limit=10) for d in docs]
    matched = reconciler.texts(queries, results)
    top_right = marked = marked_right = pipe_top = kept = kept_right = 0
    for doc, result, candidates in zip(docs, results, matched):
        gold = set(doc.tags)
        top_right += bool(candidates) and candidates[0].tag_id in gold
        pipe_top += bool(result.ranked) and result.ranked[0].tag_id in gold
        if candidates and candidates[0].match:
            marked += 1
            marked_right += candidates[0].tag_id in gold
        kept += len(result.tags)
        kept_right += sum(t.tag_id in gold for t in result.tags)
    report["texts"] = {
        "contents": len(docs),
        "reconcile_p_at_1": rate(top_right, len(docs)),
        "auto_match_precision": rate(marked_right, marked),
        "auto_match_share": rate(marked, len(docs)),
        "pipeline_p_at_1": rate(pipe_top, len(docs)),
        "pipeline_kept_precision": rate(kept_right, kept),
        "seconds_per_content": round(seconds / len(docs), 4),
    }

    # -- keywords -----------------------------------------------------------------------------------
    keyword_list, ambiguous = keyword_queries(library)
    start = time.perf_counter()
    found = reconciler.keywords([Query(q, limit=5) for _, q, _ in keyword_list])
    keyword_seconds = time.perf_counter() - start
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # queries, right at 1, marked, marked right
    for (kind, _, right), candidates in zip(keyword_list, found):
        counts = by_kind[kind]
        counts[0] += 1
        counts[1] += bool(candidates) and candidates[0].tag_id == right
        if candidates and candidates[0].match:
            counts[2] += 1
            counts[3] += candidates[0].tag_id == right
    report["keywords"] = {
        "left_out_ambiguous": ambiguous,
        "ms_per_query": round(1000 * keyword_seconds / max(len(keyword_list), 1), 2),
        "examples": [[kind, q, right] for kind, q, right in keyword_list[:12]],
        **{
            kind: {
                "queries": c[0],
                "right_at_1": rate(c[1], c[0]),
                "auto_match_precision": rate(c[3], c[2]),
                "auto_match_share": rate(c[2], c[0]),
            }
            for kind, c in sorted(by_kind.items())
        },
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    project.close()


if __name__ == "__main__":
    main()
