"""Does the judge read a tag better with the tag's annotated examples in its prompt (short-term knowledge)?

On the cold-start benchmark's ``learn`` project (``bench_cold_start.py --learn 3``: the 57 held-out tags now
have 3 examples each), the candidates in the slots reserved for tags with few examples are judged twice on the
same seeded test contents: with the packaged judge prompt, and with the same prompt plus the tag's two
annotated contents nearest to the content. Reports ROC-AUC and how many pairs pass each P(Yes), for the
held-out tags and for the other tags with few examples.

    python -m bench.quality.cold_start --work /tmp/cold --learn 3 --reach-only
    python -m bench.quality.judge_examples --project /tmp/cold/learn --documents 100 --out judge_examples.jsonl

Judgements are appended to ``--out`` as they come (a rerun resumes).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from bench.quality.cold_start import SHARED, read
from llm4tag.corpus.documents import seeded_sample
from llm4tag.generation.generator import trim
from llm4tag.generation.judge import Judge
from llm4tag.generation.prompts import PromptTemplate, load_prompt
from llm4tag.project import Project

EXAMPLES_BLOCK = (
    "\n{% if examples %}Texts already tagged {{ tag.name }}:\n{% for e in examples %}- {{ e }}\n{% endfor %}"
    "{% endif %}Does this tag apply"
)


def with_examples(template: PromptTemplate) -> PromptTemplate:
    user = template.user.replace("\nDoes this tag apply", EXAMPLES_BLOCK)
    if user == template.user:
        sys.exit("the judge prompt changed: put the examples block in by hand")
    return PromptTemplate("judge-with-examples", "bench", template.system, user)


def judge_pairs(project: Project, docs, out: Path) -> None:
    done = {(r["doc"], r["tag"]) for r in map(json.loads, out.open())} if out.exists() else set()
    llm = project.llm.get()
    plain = Judge(llm, load_prompt("judge"), project.library)
    shown = with_examples(plain.template)
    examples_of: dict[str, list[str]] = {}
    with sqlite3.connect(project.directory / "store.sqlite") as db:
        rows = db.execute("SELECT c.text, a.tag_id FROM annotations a JOIN contents c ON c.seq = a.content_seq")
        for text, tag in rows:
            examples_of.setdefault(tag, []).append(text)
    results = project.recall_index.recall([d.text for d in docs])
    with out.open("a") as handle:
        for doc, result in zip(docs, results):
            vector = project.embedder.encode([doc.text])[0]
            for tag in (c.tag_id for c in result.candidates if c.reserved):
                if (doc.id, tag) in done:
                    continue
                texts = examples_of.get(tag, [])
                nearest = np.argsort(-(project.embedder.encode(texts) @ vector))[:2] if texts else []
                request = plain.request(doc.text, tag)
                request.messages = shown.messages(
                    content=trim(doc.text, plain.max_content_chars),
                    tag={
                        "name": plain.names[tag],
                        "description": trim(project.library[tag].description, plain.max_description_chars),
                    },
                    examples=[trim(texts[i], 200) for i in nearest],
                )
                record = {
                    "doc": doc.id,
                    "tag": tag,
                    "right": tag in doc.tags,
                    "examples_stored": len(texts),
                    "plain": plain.judge(doc.text, [tag])[0].p_yes,
                    "with_examples": plain.scores([tag], llm.chat_batch([request]))[0].p_yes,
                }
                handle.write(json.dumps(record) + "\n")
                handle.flush()


def summary(rows: list[dict]) -> dict:
    y = np.array([r["right"] for r in rows], dtype=int)
    report: dict = {"pairs": len(rows), "right": int(y.sum())}
    if 0 < y.sum() < len(y):
        for variant in ("plain", "with_examples"):
            p = np.array([r[variant] for r in rows])
            report[variant] = {
                "roc_auc": round(float(roc_auc_score(y, p)), 3),
                "mean_p_yes_right_wrong": [round(float(p[y == 1].mean()), 2), round(float(p[y == 0].mean()), 2)],
                "passing_right": {str(t): [int((p >= t).sum()), int(((p >= t) & (y == 1)).sum())] for t in (0.5, 0.7)},
            }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, required=True, help="bench_cold_start.py's --work/learn")
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--documents", type=int, default=100, help="of bench_cold_start.py's seeded test sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    tag_ids = sorted(json.loads(line)["id"] for line in (args.data / "tags.jsonl").open())
    held = set(random.Random(args.seed).sample(tag_ids, round(len(tag_ids) * 0.1)))  # as bench_cold_start.py
    docs = seeded_sample(read(args.data / "test.jsonl"), 200, args.seed)[: args.documents]
    with Project.open(args.project) as project:
        judge_pairs(project, docs, args.out)
    rows = [json.loads(line) for line in args.out.open()]
    report = {
        "all_reserved_slot_pairs": summary(rows),
        "held_out_tags": summary([r for r in rows if r["tag"] in held]),
        "other_tags_with_few_examples": summary([r for r in rows if r["tag"] not in held]),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
