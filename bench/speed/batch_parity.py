"""Does a content get the same tags in a service's small batches as in one large batch?

    .venv/bin/python -m bench.speed.batch_parity --project debtags --documents 500 --batch-size 4

Tags the first ``--documents`` test contents (no LLM) twice: in batches of ``--batch-size`` (as two service
workers under load batch them) and in one call (as ``tag`` and ``eval`` batch them). Reports how many contents
got a different tag set, the largest confidence difference, and each run's document F1 against the gold tags.
Small and large batches take different routes through the dense search (``llm4tag.index.dense``); this checks
that they agree.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.common import machine, project_parser
from llm4tag.corpus import Document
from llm4tag.corpus.loaders import load_corpus
from llm4tag.metrics.sets import set_scores
from llm4tag.project import Project


def main() -> None:
    parser = project_parser()
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    with Project.open(args.project) as project:
        annotated = load_corpus(Path(args.data) / "test.jsonl", library=project.library, on_unknown="skip")
        annotated = annotated[: args.documents]
        docs = [Document(d.id, d.text) for d in annotated]
        gold = [set(d.tags) for d in annotated]
        pipeline = project.pipeline(llm=False)
        large = pipeline.run(docs, batch_size=len(docs))
        small = []
        for start in range(0, len(docs), args.batch_size):
            small.extend(pipeline.run(docs[start : start + args.batch_size]))
    tags = [[{t.tag_id: t.score for t in r.tags} for r in run] for run in (large, small)]
    differ = sum(set(a) != set(b) for a, b in zip(*tags))
    gap = max((abs(a[t] - b[t]) for a, b in zip(*tags) for t in set(a) & set(b)), default=0.0)
    report = {
        "machine": machine(),
        "project": args.project,
        "documents": len(docs),
        "batch_size": args.batch_size,
        "contents_with_other_tags": differ,
        "largest_confidence_difference": gap,
        "document_f1_one_batch": round(set_scores(gold, [list(t) for t in tags[0]]).f1, 4),
        "document_f1_small_batches": round(set_scores(gold, [list(t) for t in tags[1]]).f1, 4),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
