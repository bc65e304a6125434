"""Held-out pairs for the learned judge, and its ROC-AUC beside the recall stage's.

    # the top-8 candidates (by calibrated recall confidence) of the first 400 dev contents, as judge prompts
    .venv/bin/python -m bench.diagnosis.judge_eval_pairs make --project debtags --data ../shared/data/debtags \\
        --documents 400 --out dev_pairs.jsonl
    # after bench/gpu/judge_lora.py scored them (report.json): ROC-AUC alone and stacked with recall
    .venv/bin/python -m bench.diagnosis.judge_eval_pairs analyse --pairs dev_pairs.jsonl --report report.json
    # or score them here with the embedded llama.cpp judge, without and with an installed adapter
    .venv/bin/python -m bench.diagnosis.judge_eval_pairs score --pairs dev_pairs.jsonl --adapter judge.gguf \\
        --report report.json

``make`` writes ``{"doc", "tag", "y", "recall", "messages"}`` rows, the judge's own prompt without the
answer: what ``llm4tag.finetune.judge`` reads as held-out data. ``analyse`` reports the ROC-AUC of the recall
confidence (in-sample where the ranker was fitted on these dev contents), of the base model's and the
adapter's P(Yes), and of each P(Yes) stacked with the recall confidence (logistic, 5 folds by content).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.common import annotated, machine

TOP = 8


def make(project_dir: str, data: str, documents: int, out: Path) -> int:
    from llm4tag.generation.judge import Judge
    from llm4tag.generation.prompts import load_prompt
    from llm4tag.project import Project

    class _PromptsOnly:  # the judge here only renders prompts
        name = "prompts-only"

    rows = 0
    with Project.open(project_dir) as project, out.open("w", encoding="utf-8") as handle:
        dev = annotated(data, "dev", project.library)[:documents]
        judge = Judge(_PromptsOnly(), load_prompt("judge"), project.library)
        for doc, result in zip(dev, project.pipeline(llm=False).run(dev)):
            candidates, confidence = result.recall.candidates, result.scored.candidate_conf
            for i in np.argsort(-np.asarray(confidence))[:TOP]:
                tag_id = candidates[i].tag_id
                row = {"doc": doc.id, "tag": tag_id, "y": int(tag_id in doc.tags), "recall": float(confidence[i])}
                handle.write(json.dumps({**row, "messages": judge.request(doc.text, tag_id).messages}) + "\n")
                rows += 1
    return rows


def score(pairs: Path, adapter: str, report: Path, model: str, threads: int) -> None:
    """P(Yes) of the embedded judge for each pair, base and with ``adapter``, as ``analyse`` reads them."""
    from llm4tag.llm.base import ChatRequest, yes_probability
    from llm4tag.llm.llamacpp import LlamaCppBackend

    rows = [json.loads(line) for line in pairs.read_text().splitlines()]
    evaluation = {}
    for name, lora in (("base", None), ("tuned", adapter)):
        llm = LlamaCppBackend(model, threads=threads, adapter=lora)
        try:
            evaluation[f"{name}_p_yes"] = [
                yes_probability(llm.chat(ChatRequest(r["messages"], max_tokens=1, top_logprobs=20)).logprobs[0])
                for r in rows
            ]
        finally:
            llm.close()
    report.write_text(json.dumps({"evaluation": evaluation}))


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def analyse(pairs: Path, report: Path, folds: int = 5) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold

    rows = [json.loads(line) for line in pairs.read_text().splitlines()]
    evaluation = json.loads(report.read_text())["evaluation"]
    y = np.array([r["y"] for r in rows])
    groups = np.array([r["doc"] for r in rows])
    recall = np.array([r["recall"] for r in rows])
    out = {"pairs": len(y), "contents": len(set(groups)), "right_share": round(float(y.mean()), 3)}
    out["recall_confidence"] = round(float(roc_auc_score(y, recall)), 4)
    for name in ("base", "tuned"):
        p_yes = np.array(evaluation[f"{name}_p_yes"])
        out[f"{name}_p_yes"] = round(float(roc_auc_score(y, p_yes)), 4)
        features, stacked = np.column_stack([_logit(recall), _logit(p_yes)]), np.zeros(len(y))
        for train, test in GroupKFold(folds).split(features, y, groups):
            stacked[test] = LogisticRegression().fit(features[train], y[train]).decision_function(features[test])
        out[f"{name}_stacked_with_recall"] = round(float(roc_auc_score(y, stacked)), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make")
    m.add_argument("--project", required=True)
    m.add_argument("--data", default="../shared/data/debtags")
    m.add_argument("--documents", type=int, default=400)
    m.add_argument("--out", type=Path, required=True)
    a = sub.add_parser("analyse")
    a.add_argument("--pairs", type=Path, required=True)
    a.add_argument("--report", type=Path, required=True, help="report.json of bench/gpu/judge_lora.py")
    c = sub.add_parser("score")
    c.add_argument("--pairs", type=Path, required=True)
    c.add_argument("--adapter", required=True, help="a LoRA GGUF (llm4tag finetune install writes one)")
    c.add_argument("--report", type=Path, required=True)
    c.add_argument("--model", default="qwen2.5-coder-1.5b")
    c.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.command == "score":
        score(args.pairs, args.adapter, args.report, args.model, args.threads)
    elif args.command == "make":
        print(f"{make(args.project, args.data, args.documents, args.out)} pairs written to {args.out}")
    else:
        print(json.dumps({"machine": machine(), **analyse(args.pairs, args.report)}, indent=2))


if __name__ == "__main__":
    main()
