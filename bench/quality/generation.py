"""Knowledge-enhanced generation on a fixed, seeded sample of debtags test documents.

Runs recall + LLM selection and writes one JSONL line per document as it goes (an interrupted run keeps
what it did; a rerun with the same --out skips finished documents). Then reports precision/recall/F1 of
the generated tag sets, the recall stage's top-k at the best k on the same documents (baseline, same run),
the invalid-output rate before validation, seconds and LLM tokens per content.

    .venv/bin/python -m bench.quality.generation --project sample-full --sample 300 --out gen-examples.jsonl
    .venv/bin/python -m bench.quality.generation --project sample-full --sample 300 --no-examples --out gen-zero.jsonl
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.common import add_sample_arguments, ids_in, machine, project_parser, sample_and_shard
from llm4tag.metrics.sets import set_scores
from llm4tag.project import Project


def main() -> None:
    parser = project_parser()
    add_sample_arguments(parser)
    parser.add_argument("--no-examples", action="store_true")
    parser.add_argument("--free-text", action="store_true", help="no JSON-schema constraint")
    parser.add_argument("--model", help="override [llm] model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prompt-dir", help="directory with a select.toml to use instead of the project's")
    parser.add_argument("--candidates", type=int, help="override [generation] candidates")
    parser.add_argument("--examples", type=int, help="override [generation] examples")
    parser.add_argument("--out", required=True, help="per-document JSONL (appended, resumable)")
    parser.add_argument("--report-only", nargs="*", help="only score these JSONL files together")
    args = parser.parse_args()

    with Project.open(args.project) as project:
        library = project.library
        sample, mine = sample_and_shard(args, library)
        if args.report_only is None:
            if args.model:
                project.config.llm.options["model"] = args.model
            project.config.llm.options["threads"] = args.threads
            if args.free_text:
                project.config.generation.constrained = False
            if args.prompt_dir:
                project.config.generation.prompt_dir = str(Path(args.prompt_dir).resolve())
            if args.candidates:
                project.config.generation.candidates = args.candidates
            if args.examples is not None:
                project.config.generation.examples = args.examples
            out = Path(args.out)
            done = ids_in(out)
            todo = [d for d in mine if d.id not in done]
            pipeline = project.pipeline(examples=not args.no_examples)
            with out.open("a", encoding="utf-8") as handle:
                for doc in todo:
                    start = time.perf_counter()
                    [result] = pipeline.run([doc])
                    record = result.to_dict(with_candidates=True)
                    record["gold"] = doc.tags
                    record["wall_s"] = time.perf_counter() - start
                    handle.write(json.dumps(record) + "\n")
                    handle.flush()
            files = [out]
        else:
            files = [Path(f) for f in args.report_only]
        records = {}
        for file in files:
            for line in file.read_text().splitlines():
                if line.strip():
                    record = json.loads(line)
                    records[record["id"]] = record
        ids = [d.id for d in sample if d.id in records]
        rows = [records[i] for i in ids]
        golds = [set(r["gold"]) for r in rows]
        report = {
            "machine": machine(),
            "documents": len(rows),
            "sample": f"{args.sample} {args.split} documents, seed {args.seed}",
            "generated": set_scores(golds, [[t["tag_id"] for t in r["tags"]] for r in rows]).to_dict(),
        }
        best = None
        for k in range(1, 11):
            scores = set_scores(golds, [[c["tag_id"] for c in r["candidates"][:k]] for r in rows])
            if best is None or scores.f1 > best[1].f1:
                best = (k, scores)
        report["recall_top_k_best"] = {"k": best[0], **best[1].to_dict()}
        llm = [r["llm"] for r in rows if "llm" in r]
        n_answers = sum(len(r["tags"]) for r in rows) + sum(x["invalid"] for x in llm)
        report["invalid_answers_before_validation"] = sum(x["invalid"] for x in llm) / max(n_answers, 1)
        report["mapped_near_misses"] = sum(x["mapped"] for x in llm)
        report["llm_seconds_per_content"] = sum(x["seconds"] for x in llm) / max(len(llm), 1)
        report["wall_seconds_per_content"] = sum(r.get("wall_s", 0) for r in rows) / max(len(rows), 1)
        report["prompt_tokens_per_content"] = sum(x["prompt_tokens"] for x in llm) / max(len(llm), 1)
        report["completion_tokens_per_content"] = sum(x["completion_tokens"] for x in llm) / max(len(llm), 1)
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
