"""Would a probe on the LLM's own hidden state judge better than its zero-shot P(Yes)?

    .venv/bin/python -m bench.diagnosis.judge_probe --project debtags --data ../shared/data/debtags \\
        --documents 100 --pairs pairs.jsonl

For the first ``--documents`` dev contents, the top-8 candidates by the project's calibrated recall
confidence are put to the judge prompt, and the embedded 1.5B model's last-token hidden state for that
prompt (llama.cpp embeddings, last-token pooling, the prompt in Qwen's chat format) is saved with the label
(``--pairs``, JSONL, resumable by deleting it). Then, cross-validated by content (5 folds): ROC-AUC of the
recall confidence alone, of a logistic probe on the hidden state, and of the probe's out-of-fold score
stacked with the recall confidence.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.common import annotated, machine, project_parser
from llm4tag.generation.judge import Judge
from llm4tag.generation.prompts import load_prompt
from llm4tag.llm.models import resolve_model
from llm4tag.project import Project

TOP = 8


def chat_text(messages: list[dict[str, str]]) -> str:
    """The judge's messages in Qwen2.5's chat format, ready for the assistant's first token."""
    return "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages) + "<|im_start|>assistant\n"


def collect(project_dir: str, data: str, documents: int, out: Path, model: str, threads: int) -> None:
    import xllamacpp

    with Project.open(project_dir) as project:
        dev = annotated(data, "dev", project.library)[:documents]
        results = project.pipeline(llm=False).run(dev)
        params = xllamacpp.CommonParams()
        params.model.path = str(resolve_model(model))
        params.n_ctx = 4096
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads
        params.embedding = True
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_LAST
        params.ui, params.offline, params.warmup, params.verbosity = False, True, False, -1
        server = xllamacpp.Server(params)

        class _Unused:  # the judge here only renders prompts
            name = model

        judge = Judge(_Unused(), load_prompt("judge"), project.library)
        started, pairs = time.perf_counter(), 0
        with out.open("w", encoding="utf-8") as handle:
            for doc, result in zip(dev, results):
                candidates, confidence = result.recall.candidates, result.scored.candidate_conf
                for i in np.argsort(-np.asarray(confidence))[:TOP]:
                    c = candidates[i]
                    reply = server.handle_embeddings({"input": chat_text(judge.request(doc.text, c.tag_id).messages)})
                    reply = json.loads(reply) if isinstance(reply, str) else reply
                    row = {
                        "doc": doc.id,
                        "tag": c.tag_id,
                        "y": int(c.tag_id in doc.tags),
                        "recall": float(confidence[i]),
                    }
                    handle.write(json.dumps({**row, "state": reply["data"][0]["embedding"]}) + "\n")
                    pairs += 1
        print(f"{pairs} pairs, {(time.perf_counter() - started) / max(pairs, 1):.2f} s a pair", file=sys.stderr)


def analyse(path: Path, folds: int = 5) -> dict:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    X = np.array([r["state"] for r in rows])
    y = np.array([r["y"] for r in rows])
    groups = np.array([r["doc"] for r in rows])
    recall = np.clip(np.array([r["recall"] for r in rows]), 1e-6, 1 - 1e-6)
    recall_logit = np.log(recall / (1 - recall))
    report = {"pairs": len(y), "contents": len(set(groups)), "right_share": float(y.mean())}
    report["roc_auc_recall_confidence"] = roc_auc_score(y, recall)
    for C in (0.01, 0.1, 1.0):
        probe = np.zeros(len(y))
        for train, test in GroupKFold(folds).split(X, y, groups):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000)).fit(X[train], y[train])
            probe[test] = model.decision_function(X[test])
        report[f"roc_auc_probe_C{C}"] = roc_auc_score(y, probe)
        stacked = np.zeros(len(y))
        features = np.column_stack([probe, recall_logit])
        for train, test in GroupKFold(folds).split(features, y, groups):
            stacked[test] = LogisticRegression().fit(features[train], y[train]).decision_function(features[test])
        report[f"roc_auc_probe_C{C}_stacked_with_recall"] = roc_auc_score(y, stacked)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in report.items()}


def main() -> None:
    parser = project_parser()
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--pairs", required=True, help="JSONL of hidden states and labels (reused when present)")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    pairs = Path(args.pairs)
    if not pairs.exists():
        collect(args.project, args.data, args.documents, pairs, args.model, args.threads)
    print(json.dumps({"machine": machine(), **analyse(pairs)}, indent=2))


if __name__ == "__main__":
    main()
