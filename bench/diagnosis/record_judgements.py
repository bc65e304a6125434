"""Record Yes/No judgements of the top-N recalled candidates on a seeded sample, for calibration studies.

One JSONL line per document: gold tags, every candidate's recall features and recall-only confidence,
and for the top N the judge's P(Yes), seconds and cached prompt tokens. Appends and resumes; run shards
side by side (one llama.cpp thread each):

    .venv/bin/python -m bench.diagnosis.record_judgements --project debtags --split dev --sample 100 \
        --shard 0/2 --out judged_dev_0.jsonl --also-done judged_dev_1.jsonl        # and 1/2
    .venv/bin/python -m bench.diagnosis.record_judgements --project debtags --split test --sample 300 \
        --shard 0/2 --out judged_test_0.jsonl --also-done judged_test_1.jsonl      # and 1/2

``bench/quality/confidence.py`` fits the calibrators on the dev file and evaluates on the test file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.common import add_sample_arguments, ids_in, project_parser, sample_and_shard
from llm4tag.calibration.features import recall_features
from llm4tag.generation.judge import Judge
from llm4tag.generation.prompts import load_prompt
from llm4tag.project import Project


def main() -> None:
    parser = project_parser()
    add_sample_arguments(parser)
    parser.add_argument("--judge-top", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--also-done", nargs="*", default=[], help="other shards' files: skip what they hold")
    args = parser.parse_args()
    with Project.open(args.project) as project:
        project.config.llm.options["threads"] = args.threads
        library = project.library
        _, mine = sample_and_shard(args, library)
        out = Path(args.out)
        done = ids_in(out, *args.also_done)
        todo = [d for d in mine if d.id not in done]
        judge = Judge(project.llm.get(), load_prompt("judge", project.directory / "prompts"), library)
        with out.open("a", encoding="utf-8") as handle:
            for doc in todo:
                [tagged] = project.tag([doc], llm=False)
                recall, confidence = tagged.recall, tagged.scored.candidate_conf
                features, tag_ids = recall_features(recall)
                judged = []
                for tag_id in tag_ids[: args.judge_top]:
                    request = judge.request(doc.text, tag_id)
                    start = time.perf_counter()
                    [result] = project.llm.get().chat_batch([request])
                    [score] = judge.scores([tag_id], [result])
                    judged.append(
                        {
                            "p_yes": score.p_yes,
                            "seconds": time.perf_counter() - start,
                            "prompt_tokens": result.prompt_tokens,
                            "cached_tokens": result.cached_tokens,
                        }
                    )
                record = {
                    "id": doc.id,
                    "gold": doc.tags,
                    "candidates": [
                        {"tag_id": t, "features": [round(float(v), 6) for v in row], "recall_conf": float(p)}
                        for t, row, p in zip(tag_ids, features, confidence)
                    ],
                    "judged": judged,
                }
                handle.write(json.dumps(record) + "\n")
                handle.flush()


if __name__ == "__main__":
    main()
