"""Long-term knowledge: ``finetune export`` (SFT data), ``finetune judge`` (the judge's LoRA, on a GPU),
``finetune install`` (an adapter into a project), ``finetune train`` (LoRA SFT on a local model)."""

from __future__ import annotations

import argparse
from pathlib import Path

from llm4tag.cli.common import add_command, corpus, corpus_formats, open_project
from llm4tag.cli.reports import print_adapter_installed


def register(sub) -> None:
    p = add_command(sub, "finetune", None, "long-term knowledge: export SFT data, train a LoRA adapter", project=False)
    fine = p.add_subparsers(dest="finetune_command", required=True)
    e = fine.add_parser("export", help="write selection.jsonl and judgement.jsonl (chat format)")
    e.add_argument("-p", "--project", default=".")
    e.add_argument("--corpus", help="annotated corpus (default: the project's annotated contents)")
    e.add_argument("--format", choices=corpus_formats())
    e.add_argument("--out", required=True, help="output directory")
    e.add_argument("--limit", type=int)
    e.add_argument("--negatives", type=int, default=2, help="hard-negative judgements per content")
    e.add_argument("--sample", type=int, help="a seeded sample of this many annotated contents")
    e.add_argument("--seed", type=int, default=0)
    e.set_defaults(func=cmd_finetune_export)
    j = fine.add_parser(
        "judge", help="train the judge's LoRA adapter on judgement.jsonl (a GPU machine; base weights from a GGUF)"
    )
    j.add_argument("--base", default="qwen2.5-coder-1.5b", help="a model preset, GGUF file or local HF folder")
    j.add_argument("--data", required=True, help="judgement.jsonl from 'finetune export'")
    j.add_argument("--eval", help="held-out judgement rows: ROC-AUC before and after")
    j.add_argument("--out", required=True)
    j.add_argument("--epochs", type=float, default=1.0)
    j.add_argument("--learning-rate", type=float, default=2e-4)
    j.add_argument("--batch-size", type=int, default=32)
    j.add_argument("--lora-r", type=int, default=8)
    j.add_argument("--max-pairs", type=int)
    j.add_argument("--max-seconds", type=float, help="stop training after about this long")
    j.set_defaults(func=cmd_finetune_judge)
    i = fine.add_parser("install", help="use a trained judge adapter in a project (converted to a LoRA GGUF)")
    i.add_argument("adapter", help="the adapter folder 'finetune judge' wrote (OUT/adapter), or a LoRA .gguf")
    i.add_argument("-p", "--project", default=".")
    i.set_defaults(func=cmd_finetune_install)
    t = fine.add_parser("train", help="LoRA SFT with peft/trl on a local Hugging Face model directory")
    t.add_argument("--base", required=True, help="local Hugging Face model directory")
    t.add_argument("--data", nargs="+", required=True, help="chat-format JSONL files from 'finetune export'")
    t.add_argument("--out", required=True)
    t.add_argument("--steps", type=int, default=200)
    t.add_argument("--learning-rate", type=float, default=2e-4)
    t.add_argument("--batch-size", type=int, default=4)
    t.add_argument("--lora-r", type=int, default=16)
    t.add_argument("--lora-alpha", type=int, default=32)
    t.add_argument("--max-length", type=int, default=1536)
    t.set_defaults(func=cmd_finetune_train)


def cmd_finetune_export(args: argparse.Namespace) -> None:
    from llm4tag.finetune import export_sft

    with open_project(args) as project:
        if args.corpus:
            docs = list(corpus(project, args.corpus, args.format))
        else:
            from llm4tag.corpus.documents import is_synthetic

            # an LLM's own examples would teach the judge what the LLM already thinks: written contents only
            docs = project.store.get_contents([r.id for r in project.store.content_rows() if not is_synthetic(r.id)])
        if args.limit:
            docs = docs[: args.limit]
        if args.sample:
            from llm4tag.corpus.documents import seeded_sample

            docs = seeded_sample([d for d in docs if d.tags], args.sample, args.seed)
        print(export_sft(project, docs, args.out, negatives_per_document=args.negatives))


def cmd_finetune_train(args: argparse.Namespace) -> None:
    from llm4tag.finetune.train import train_lora

    report = train_lora(
        args.base,
        args.data,
        args.out,
        max_steps=args.steps,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        lora_r=args.lora_r,
        lora_alpha=args.lora_alpha,
        max_length=args.max_length,
    )
    print(report)


def cmd_finetune_judge(args: argparse.Namespace) -> None:
    from llm4tag.finetune.judge import train_judge_lora
    from llm4tag.llm.models import resolve_model

    report = train_judge_lora(
        args.base if Path(args.base).exists() else resolve_model(args.base),
        args.data,
        args.out,
        eval_data=args.eval,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        max_pairs=args.max_pairs,
        max_seconds=args.max_seconds,
    )
    print(report)


def cmd_finetune_install(args: argparse.Namespace) -> None:
    from llm4tag.finetune.install import install_judge_adapter

    with open_project(args) as project:
        done = install_judge_adapter(project, args.adapter)
    print_adapter_installed(done)
