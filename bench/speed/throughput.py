"""Throughput of the embedded default, by stage, in one run: embedding, recall, generation, judgement.

    .venv/bin/python -m bench.speed.throughput --project debtags --documents 8

Contents: debtags test documents outside the seeded 300-document sample (nothing cached). Reports
contents per second of each stage, LLM calls and tokens per content, and the whole pipeline's time over
the LLM's own time (the overhead of everything around the model). Generation on, then judgement of the
top 8 candidates (and the picks) routed by the band ``optimize`` chose (judgement cache off).
"""

from __future__ import annotations

import json
import time

from bench.common import machine, outside_sample, project_parser
from llm4tag.pipeline import ContentState
from llm4tag.project import Project


def main() -> None:
    parser = project_parser()
    parser.add_argument("--documents", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    docs = outside_sample(args.data)[-args.documents :]
    texts = [d.text for d in docs]
    with Project.open(args.project) as project:
        project.config.generation.enabled = True
        project.config.pipeline.judge, project.config.confidence.cache = "candidates", False
        project.config.llm.options["threads"] = args.threads
        llm = project.llm.get()
        usage = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0}
        chat = llm.chat

        def counted(request):
            result = chat(request)
            usage["calls"] += 1
            usage["prompt_tokens"] += result.prompt_tokens
            usage["completion_tokens"] += result.completion_tokens
            usage["seconds"] += result.seconds
            return result

        llm.chat = counted
        project.recall(["warm-up"])
        full = project.pipeline()
        # judgement as measured in docs/benchmarks.md: the top 8 plus the picks, routed by the band
        # ``optimize`` chose for the judge pipeline (settings-candidates.json)
        routed_judge = project.pipeline(generation=False).stage("judge")
        pipeline_stages = [routed_judge if s.name == "judge" else s for s in full.stages]
        stages, per_stage_usage = {}, {}

        def timed(name, func):
            before = dict(usage)
            started = time.perf_counter()
            out = func()
            stages[name] = time.perf_counter() - started
            per_stage_usage[name] = {k: usage[k] - before[k] for k in usage}
            return out

        timed("embedding", lambda: project.embedder.embedder.encode(texts))  # the model itself, not the cache
        batch = [ContentState(doc) for doc in docs]
        names = {"select": "generation", "judge": "judgement"}
        for stage in pipeline_stages:  # recall, select, consider, judge, score, prune
            timed(names.get(stage.name, stage.name), lambda stage=stage: stage.run(batch))
        total = sum(stages.values())
    n = len(docs)
    report = {
        "machine": machine(),
        "model": project.config.llm.options.get("model"),
        "llm_threads": args.threads,
        "documents": n,
        "contents_per_second": {name: n / seconds for name, seconds in stages.items()},
        "seconds_per_content": {name: seconds / n for name, seconds in stages.items()},
        "llm_per_content": {
            name: {k: (v / n if k != "seconds" else v / n) for k, v in u.items()}
            for name, u in per_stage_usage.items()
            if u["calls"]
        },
        "pipeline_seconds_per_content": total / n,
        "llm_seconds_per_content": usage["seconds"] / n,
        "pipeline_time_over_llm_time": total / usage["seconds"] if usage["seconds"] else None,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
