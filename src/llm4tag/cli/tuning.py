"""Measuring and tuning on held-out contents: ``calibrate``, ``optimize``, ``eval``."""

from __future__ import annotations

import argparse
import json

from llm4tag.cli.common import add_command, add_pipeline_overrides, annotated, corpus_formats, open_project, overrides
from llm4tag.cli.reports import print_optimize


def _add_held_out(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "corpus",
        nargs="?",
        help="held-out annotated contents (not in the project), e.g. a dev split; default: a seeded 10%% of the"
        " project's own, recalled as if never annotated (learned paths refitted without them)",
    )
    p.add_argument("--format", choices=corpus_formats())
    p.add_argument("--limit", type=int)
    p.add_argument("--llm-sample", type=int, default=200, help="contents the LLM sees (seeded sample; bounds LLM time)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_pipeline_overrides(p)


def register(sub) -> None:
    p = add_command(sub, "calibrate", cmd_calibrate, "fit confidence calibrators (recall-only, and recall + LLM judge)")
    _add_held_out(p)
    p.add_argument(
        "--method",
        choices=("auto", "boosting", "platt", "isotonic"),
        default="auto",
        help="recall-only calibrator and ranker: boosting (gradient-boosted trees over every candidate feature),"
        " platt (logistic regression), isotonic; auto: the lower cross-validated log-loss of boosting and platt",
    )
    p.add_argument("--global-only", action="store_true", help="no per-tag calibrators")

    p = add_command(
        sub, "optimize", cmd_optimize, "choose the pruning threshold, tag limit and routing band on held-out contents"
    )
    _add_held_out(p)
    p.add_argument("--target-precision", type=float, help="most coverage at this precision (default: best F1)")
    p.add_argument("--max-f1-loss", type=float, default=0.01, help="routing: F1 allowed below judging every pair")
    p.add_argument("--plots", help="directory for reliability and precision/coverage PNGs")
    p.add_argument(
        "--tune-seconds",
        type=float,
        default=0,
        help="recall-only pipelines with a dev file: seconds to search recall settings (neighbours, vote power,"
        " dense/lexical mix) before choosing the pruning, e.g. 300; default 0: keep them (measured:"
        " docs/experiments/ranking.md)",
    )

    p = add_command(sub, "eval", cmd_eval, "evaluate the pipeline (or parts of it switched off) on an annotated corpus")
    p.add_argument("corpus")
    p.add_argument("--stage", default="full", choices=("recall", "full"), help="recall: the recall stage alone")
    p.add_argument("--without", help="switch off: graph, knowledge, judge, generation, calibration, finetune")
    p.add_argument("--format", choices=corpus_formats())
    p.add_argument("--ns", default="10,20,30,50", help="comma-separated N for candidate recall@N")
    p.add_argument("--limit", type=int)
    p.add_argument("--sample", type=int, help="a seeded sample of this many documents (bounds LLM time)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="JSON instead of Markdown")
    p.add_argument("--output", "-o", help="write the report here (default: stdout)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_pipeline_overrides(p)


def _tuning_data(args: argparse.Namespace, project):
    """The held-out file the user gave, or None: the project then sets a share of its own contents aside."""
    return annotated(args, project) if args.corpus else None


def cmd_calibrate(args: argparse.Namespace) -> None:
    with open_project(args) as project:
        report = project.calibrate(
            _tuning_data(args, project),
            overrides=overrides(args),
            method=args.method,
            per_tag=False if args.global_only else None,
            llm_sample=args.llm_sample,
            seed=args.seed,
            progress=not args.quiet,
        )
        print(json.dumps(report, indent=2))


def cmd_optimize(args: argparse.Namespace) -> None:
    with open_project(args) as project:
        report = project.optimize(
            _tuning_data(args, project),
            overrides=overrides(args),
            target_precision=args.target_precision,
            max_f1_loss=args.max_f1_loss,
            llm_sample=args.llm_sample,
            seed=args.seed,
            progress=not args.quiet,
            plots=args.plots,
            tune_seconds=args.tune_seconds,
        )
        print(json.dumps(report, indent=2))
        print_optimize(report)


def cmd_eval(args: argparse.Namespace) -> None:
    from llm4tag.corpus.documents import seeded_sample
    from llm4tag.evaluation.harness import evaluate

    with open_project(args) as project:
        docs = annotated(args, project)
        if args.sample:
            docs = seeded_sample(docs, args.sample, args.seed)
        without = {w.strip() for w in args.without.split(",") if w.strip()} if args.without else set()
        ns = tuple(int(n) for n in args.ns.split(","))
        pipeline = project.pipeline(**overrides(args))
        report = evaluate(pipeline, docs, stage=args.stage, without=without, ns=ns, progress=not args.quiet)
        text = json.dumps(report.to_dict(), indent=2) if args.json else report.to_markdown()
        if args.output:
            from llm4tag.fileio import atomic_write

            with atomic_write(args.output) as handle:
                handle.write(text + "\n")
        else:
            print(text)
