"""Which tags win the reserved slots, and how often rightly: a diagnosis for the slots' hubs.

    .venv/bin/python -m bench.diagnosis.slot_hubs --project cold/learn [--data ../shared/data/debtags] [--top 15]

Recalls every test content (no LLM) and counts, per tag, the contents whose reserved slots it took, how many of
those carry it, its occurrences in test and its annotated examples. A tag whose prototype lies near the middle
of the contents (a hub) takes the slots of most contents while it belongs to few.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

from bench.common import project_parser
from llm4tag.corpus.loaders import load_corpus
from llm4tag.project import Project


def main() -> None:
    parser = project_parser()
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    with Project.open(args.project) as project:
        docs = load_corpus(Path(args.data) / "test.jsonl", library=project.library, on_unknown="skip")
        results = project.recall_index.recall([d.text for d in docs])
        graph = project.recall_index.graph
        wins, right, occurrences = collections.Counter(), collections.Counter(), collections.Counter()
        for doc, result in zip(docs, results):
            for candidate in result.candidates:
                if candidate.reserved:
                    wins[candidate.tag_id] += 1
                    right[candidate.tag_id] += candidate.tag_id in doc.tags
            occurrences.update(doc.tags)
        report = {
            "contents": len(docs),
            "slot_wins": sum(wins.values()),
            "tags_winning_slots": len(wins),
            "top": [
                {
                    "tag": tag,
                    "slots_won": count,
                    "right": right[tag],
                    "test_occurrences": occurrences[tag],
                    "examples": int(graph.tag_frequency[graph.tag_position[tag]]),
                }
                for tag, count in wins.most_common(args.top)
            ],
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
