"""Yes/No judgement cost and signal: naive (no prompt cache) vs. content prefix shared, on debtags test.

    .venv/bin/python -m bench.quality.judge --project debtags --documents 8 --candidates 8 --mode shared
    .venv/bin/python -m bench.quality.judge --project debtags --documents 8 --candidates 8 --mode naive

Documents: the first N of the seeded 300-document sample (seed 0). Reports seconds per pair and the ROC-AUC
of P(Yes) against the gold tags over the judged candidates.
"""

from __future__ import annotations

import json
import time

from sklearn.metrics import roc_auc_score

from bench.common import SAMPLE_SEED, SAMPLE_SIZE, annotated, machine, project_parser
from llm4tag.corpus import seeded_sample
from llm4tag.generation.judge import Judge
from llm4tag.generation.prompts import load_prompt
from llm4tag.llm import yes_probability
from llm4tag.project import Project


def main() -> None:
    parser = project_parser()
    parser.add_argument("--documents", type=int, default=8)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--mode", choices=("shared", "naive"), default="shared")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    with Project.open(args.project) as project:
        if args.model:
            project.config.llm.options["model"] = args.model
        library = project.library
        docs = seeded_sample(annotated(args.data, "test", library), SAMPLE_SIZE, SAMPLE_SEED)[: args.documents]
        recalls = project.recall([d.text for d in docs])
        judge = Judge(project.llm.get(), load_prompt("judge"), library)
        labels, scores, seconds, cached = [], [], [], []
        for doc, recall in zip(docs, recalls):
            for candidate in recall.candidates[: args.candidates]:
                request = judge.request(doc.text, candidate.tag_id)
                if args.mode == "naive":
                    request.extra_body["cache_prompt"] = False
                start = time.perf_counter()
                [result] = project.llm.get().chat_batch([request])
                seconds.append(time.perf_counter() - start)
                cached.append(result.cached_tokens / max(result.prompt_tokens, 1))
                scores.append(yes_probability(result.logprobs[0]))
                labels.append(int(candidate.tag_id in doc.tags))
        report = {
            "machine": machine(),
            "model": project.config.llm.options.get("model"),
            "mode": args.mode,
            "pairs": len(labels),
            "seconds_per_pair": sum(seconds) / len(seconds),
            "share_of_prompt_cached": sum(cached) / len(cached),
            "roc_auc_p_yes": roc_auc_score(labels, scores) if 0 < sum(labels) < len(labels) else None,
            "mean_p_yes_gold": sum(s for s, y in zip(scores, labels) if y) / max(sum(labels), 1),
            "mean_p_yes_other": sum(s for s, y in zip(scores, labels) if not y) / max(len(labels) - sum(labels), 1),
        }
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
