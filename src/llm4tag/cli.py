"""The ``llm4tag`` command line. Each subcommand is a thin layer over the Python API.

User mistakes (bad files, bad config) print one clear line and exit 2;
they never end in a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from llm4tag.errors import Llm4tagError

EXIT_USER_ERROR = 2


def _project(args: argparse.Namespace):
    from llm4tag.project import Project

    return Project.open(args.project)


def _write_jsonl(records, output: str | None) -> None:
    from llm4tag.fileio import atomic_write

    if output in (None, "-"):
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    with atomic_write(output) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def cmd_init(args: argparse.Namespace) -> None:
    from llm4tag.config import ProjectConfig
    from llm4tag.errors import ConfigError
    from llm4tag.project import Project

    directory = Path(args.directory)
    existing = args.force and (directory / "llm4tag.toml").exists()
    if existing and not args.reset_config:
        changes = [f"--{name.replace('_', '-')}" for name in _CONFIG_OPTIONS if getattr(args, name) not in (None, "")]
        if changes:
            raise ConfigError(
                f"{directory} is a project: 'init --force' keeps its llm4tag.toml and the calibration fitted under"
                f" it, so {', '.join(changes)} would not apply; edit llm4tag.toml, or add --reset-config to start"
                " from the defaults (its calibration is set aside)"
            )
        config = ProjectConfig.load(directory)  # keys, embedder, LLM, recall settings and project id stay
    else:
        config = _new_config(directory, args)
    with Project.init(
        directory,
        config,
        exist_ok=args.force,
        reset_config=bool(existing and args.reset_config),
        tags=args.tags,
        tags_format=args.tags_format,
        corpus=args.corpus,
        corpus_format=args.corpus_format,
        on_unknown="skip" if args.skip_unknown else "error",
    ) as project:
        _print_init(project, args)


def _new_config(directory: Path, args: argparse.Namespace):
    """A project's configuration from the defaults and ``init``'s options."""
    from llm4tag.config import ProjectConfig

    config = ProjectConfig(name=directory.name, language=args.language or "en")
    if args.embedding:
        config.embedding.backend = args.embedding
        config.embedding.options = {} if args.embedding != "sentence-transformers" else config.embedding.options
    if args.embedding_model:
        config.embedding.options["model"] = args.embedding_model
    if args.llm:
        config.llm.backend = args.llm
        config.llm.options = {} if args.llm != "llamacpp" else config.llm.options
    if args.llm_model:
        config.llm.options["model"] = args.llm_model
    if args.llm_base_url:
        config.llm.options["base_url"] = args.llm_base_url
    return config


#: ``init`` options that write the configuration (refused by ``init --force`` without ``--reset-config``)
_CONFIG_OPTIONS = ("language", "embedding", "embedding_model", "llm", "llm_model", "llm_base_url")


def _print_init(project, args: argparse.Namespace) -> None:
    done = project.init_report
    if args.tags:
        print("tags: {} added, {} updated".format(*done["tags"]))
    if args.corpus:
        _print_contents(*done["contents"], done["load"])
    if done.get("set_aside"):
        print(f"calibration fitted under the old configuration set aside in {done['set_aside']}")
    print(f"project ready in {args.directory}; next: llm4tag index -p {args.directory}")


def _import_corpus(project, path: str, args: argparse.Namespace) -> None:
    added, updated, report = project.add_contents(
        path, args.corpus_format, on_unknown="skip" if args.skip_unknown else "error"
    )
    _print_contents(added, updated, report)


def _print_contents(added: int, updated: int, report) -> None:
    note = f", skipped {report.skipped_unknown_tags} unknown tag id(s)" if report.skipped_unknown_tags else ""
    print(f"contents: {added} added, {updated} updated{note}")


def cmd_add_tags(args: argparse.Namespace) -> None:
    with _project(args) as project:
        added, updated = project.add_tags(args.file, args.format)
        print(f"tags: {added} added, {updated} updated")
        if not args.no_index:
            print(project.index())


def cmd_add(args: argparse.Namespace) -> None:
    with _project(args) as project:
        args.corpus_format = args.format
        _import_corpus(project, args.file, args)
        if not args.no_index:
            print(project.index())


def cmd_index(args: argparse.Namespace) -> None:
    with _project(args) as project:
        print(project.index(refit=args.refit))


def _corpus(project, path: str, fmt: str | None):
    """Contents of a user's file, streamed: unknown tag ids dropped (counted), the project's text limit enforced."""
    from llm4tag.corpus.loaders import iter_corpus

    return iter_corpus(
        path, fmt, library=project.library, on_unknown="skip", max_text_chars=project.config.index.max_text_chars
    )


def _input_documents(args: argparse.Namespace, project):
    from llm4tag.corpus.documents import Document

    if args.text:
        return [Document(id=f"text-{i + 1}", text=t) for i, t in enumerate(args.text)]
    if args.input:
        return list(_corpus(project, args.input, args.format))
    raise Llm4tagError("give --text TEXT (repeatable) or --input FILE")


def cmd_recall(args: argparse.Namespace) -> None:
    with _project(args) as project:
        docs = _input_documents(args, project)
        if args.limit:
            docs = docs[: args.limit]
        library = project.library
        results = project.recall([d.text for d in docs], top_n=args.top_n)
        records = []
        for doc, result in zip(docs, results):
            records.append(
                {
                    "id": doc.id,
                    "candidates": [{**c.to_dict(), "label": library[c.tag_id].label} for c in result.candidates],
                    "neighbours": [[c, round(s, 4)] for c, s in result.neighbours],
                }
            )
        _write_jsonl(records, args.output)


def cmd_tag(args: argparse.Namespace) -> None:
    from itertools import islice

    streaming = args.input and args.output not in (None, "-")
    if streaming and Path(args.input).resolve() == Path(args.output).resolve():
        raise Llm4tagError(f"{args.output}: the output is the input file; give another --output")
    if args.engine == "ray":
        if not streaming:
            raise Llm4tagError("--engine ray needs --input FILE and --output FILE")
        from llm4tag.scale.ray_engine import tag_with_ray

        report = tag_with_ray(
            args.project,
            args.input,
            args.output,
            fmt=args.format,
            actors=args.actors,
            batch_size=args.batch_size,
            address=args.ray_address,
            with_candidates=args.candidates,
            overrides=_overrides(args),
        )
        print(report, file=sys.stderr)
        return
    with _project(args) as project:
        pipeline = project.pipeline(**_overrides(args))
        if streaming:  # constant memory, appended chunk by chunk, resumable
            from llm4tag.scale import tag_stream

            docs = _corpus(project, args.input, args.format)
            if args.limit:
                docs = islice(docs, args.limit)
            report = tag_stream(
                pipeline.run,
                docs,
                args.output,
                chunk_size=args.batch_size,
                with_candidates=args.candidates,
                progress=not args.quiet,
            )
            print(report, file=sys.stderr)
            return
        docs = _input_documents(args, project)
        if args.limit:
            docs = docs[: args.limit]
        results = pipeline.run(docs, progress=not args.quiet)
        _write_jsonl((r.to_dict(with_candidates=args.candidates) for r in results), args.output)


def cmd_learn(args: argparse.Namespace) -> None:
    with _project(args) as project:
        counts = project.learn(args.file)
        print("learned: " + ", ".join(f"{n} {kind}(s)" for kind, n in counts.items()))
        print(project.index())


def _annotated(args: argparse.Namespace, project) -> list:

    docs = [d for d in list(_corpus(project, args.corpus, args.format)) if d.tags]
    if not docs:
        raise Llm4tagError(f"{args.corpus}: no annotated contents (every document needs at least one known tag)")
    return docs[: args.limit] if args.limit else docs


def _overrides(args: argparse.Namespace) -> dict:
    """--judge / --no-generation / --no-examples: another shape of the pipeline than the configured one, the same
    way for tag, calibrate, optimize, eval, serve and Ray (``Pipeline.with_overrides``)."""
    overrides: dict = {}
    if getattr(args, "judge", None):
        overrides["judge"] = args.judge
    if getattr(args, "no_generation", False):
        overrides["generation"] = False
    if getattr(args, "generation", False):
        overrides["generation"] = True
    if getattr(args, "no_examples", False):
        overrides["examples"] = False
    return overrides


def _tuning_data(args: argparse.Namespace, project):
    """The held-out file the user gave, or None: the project then sets a share of its own contents aside."""
    return _annotated(args, project) if args.corpus else None


def cmd_calibrate(args: argparse.Namespace) -> None:
    with _project(args) as project:
        report = project.calibrate(
            _tuning_data(args, project),
            overrides=_overrides(args),
            method=args.method,
            per_tag=False if args.global_only else None,
            llm_sample=args.llm_sample,
            seed=args.seed,
            progress=not args.quiet,
        )
        print(json.dumps(report, indent=2))


def cmd_optimize(args: argparse.Namespace) -> None:
    with _project(args) as project:
        report = project.optimize(
            _tuning_data(args, project),
            overrides=_overrides(args),
            target_precision=args.target_precision,
            max_f1_loss=args.max_f1_loss,
            llm_sample=args.llm_sample,
            seed=args.seed,
            progress=not args.quiet,
            plots=args.plots,
            tune_seconds=args.tune_seconds,
        )
        print(json.dumps(report, indent=2))
        if report.get("recall_tuning", {}).get("chosen"):
            tuning = report["recall_tuning"]
            print(
                f"recall settings chosen on dev: {tuning['chosen']} (document F1 {tuning['start_doc_f1']:.3f} ->"
                f" {tuning['doc_f1']:.3f}, saved to llm4tag.toml; the ranker was refitted)",
                file=sys.stderr,
            )
        _print_pruning(report)
        note = report.get("llm", {}).get("few_examples_floor_note") or report.get(
            "few_examples_floor_note"
        )  # the LLM's shape first
        if note:
            print(note, file=sys.stderr)
        if "llm" in report:
            _print_pruning(report["llm"], what="with the LLM (on its sample)")
            decision = report["llm"]["llm_decision"]
            chosen = f"judge = {decision['judge']}" + (", generation" if decision["generation"] else "")
            print(
                f"LLM stages {'ON (' + chosen + ')' if decision['use_llm'] else 'off'}: {decision['reason']} "
                f"[cross-validated on {decision['documents']} held-out contents, recall only"
                f" {decision['recall_only_f1']:.3f}, with the LLM {decision['with_llm_f1']:.3f},"
                f" {decision['llm_calls_per_content']:.1f} LLM calls per content; saved to {decision['saved_to']}]",
                file=sys.stderr,
            )


def _print_pruning(report: dict, what: str = "") -> None:
    choice = report["pruning"]
    rule = "best expected F1 per content" if choice["rule"] == "expected_f1" else f"threshold {choice['threshold']}"
    print(
        f"{what + ': ' if what else ''}{rule}, at most {choice['max_tags']} tags: F1 {choice['f1']:.3f}, "
        f"precision {choice['micro_precision']:.3f}, contents with a tag {choice['coverage']:.1%} "
        f"(saved to {report['saved_to']})",
        file=sys.stderr,
    )


def cmd_finetune_export(args: argparse.Namespace) -> None:
    from llm4tag.finetune import export_sft

    with _project(args) as project:
        if args.corpus:
            docs = list(_corpus(project, args.corpus, args.format))
        else:
            docs = project.store.get_contents([r.id for r in project.store.content_rows()])
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

    with _project(args) as project:
        done = install_judge_adapter(project, args.adapter)
    print(f"judge adapter installed: {done['path']} ([llm] adapter)")
    if done["removed"]:
        print(f"removed what was fitted on the previous judge: {', '.join(done['removed'])}")
    print("next: llm4tag calibrate DEV --llm-sample N, then llm4tag optimize DEV --llm-sample N")


def cmd_eval(args: argparse.Namespace) -> None:
    from llm4tag.corpus.documents import seeded_sample
    from llm4tag.evaluation.harness import evaluate

    with _project(args) as project:
        docs = _annotated(args, project)
        if args.sample:
            docs = seeded_sample(docs, args.sample, args.seed)
        without = {w.strip() for w in args.without.split(",") if w.strip()} if args.without else set()
        ns = tuple(int(n) for n in args.ns.split(","))
        pipeline = project.pipeline(**_overrides(args))
        report = evaluate(pipeline, docs, stage=args.stage, without=without, ns=ns, progress=not args.quiet)
        text = json.dumps(report.to_dict(), indent=2) if args.json else report.to_markdown()
        if args.output:
            from llm4tag.fileio import atomic_write

            with atomic_write(args.output) as handle:
                handle.write(text + "\n")
        else:
            print(text)


def cmd_serve(args: argparse.Namespace) -> None:
    try:
        import uvicorn

        from llm4tag.service import create_app
    except ImportError as exc:
        raise Llm4tagError(
            f"the service needs its extra: pip install 'llm4tag[serve]' ({exc.name} is missing)"
        ) from None
    from llm4tag.project import Project

    with Project.open(args.project, durable=True) as project:
        config = project.config.service
        config.host = args.host or config.host
        config.port = args.port or config.port
        config.workers = config.workers if args.workers is None else args.workers
        if config.workers < 1:
            raise Llm4tagError(f"--workers ([service] workers) must be at least 1, got {config.workers}")
        app = create_app(project, config, overrides=_overrides(args))  # checked here, once, in every case
        # a request stuck behind a hung backend must not hold up SIGTERM: give in-flight requests a few seconds
        log_level = "warning" if args.quiet else "info"
        options = {"log_level": log_level, "timeout_graceful_shutdown": config.shutdown_seconds}
        if config.workers == 1:
            uvicorn.run(app, host=config.host, port=config.port, **options)
            return
    from llm4tag.service.processes import serve

    del app  # each worker opens the project itself
    serve(args.project, config.host, config.port, config.workers, _overrides(args), options)


def cmd_demo(args: argparse.Namespace) -> None:
    from llm4tag.demo import run_demo

    run_demo(
        Path(args.data) if args.data else None,
        Path(args.project),
        train_limit=args.train_limit,
        documents=args.documents,
        use_llm=not args.no_llm,
        embedding=args.embedding,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llm4tag")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    from llm4tag.corpus.loaders import FORMATS as CORPUS_FORMATS
    from llm4tag.embedding import BACKENDS as EMBEDDERS
    from llm4tag.library.loaders import FORMATS as TAG_FORMATS
    from llm4tag.llm import BACKENDS as LLMS
    from llm4tag.pipeline.settings import JUDGE_MODES

    parser = argparse.ArgumentParser(prog="llm4tag", description="Automatic tagging with LLMs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Callable, help_text: str, project: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if project:
            p.add_argument("-p", "--project", default=".", help="project directory (default: current)")
        p.set_defaults(func=func)
        return p

    p = add("init", cmd_init, "create a project directory", project=False)
    p.add_argument("directory")
    p.add_argument("--tags", help="tag library file (JSONL, CSV/TSV, Annif vocabulary TSV, SKOS .ttl/.rdf)")
    p.add_argument("--tags-format", choices=TAG_FORMATS)
    p.add_argument("--language", help="language of the tag labels (SKOS prefLabels); default en")
    p.add_argument("--corpus", help="annotated corpus (JSONL, Annif corpus TSV, CSV/TSV, directory)")
    p.add_argument("--corpus-format", choices=CORPUS_FORMATS)
    p.add_argument("--skip-unknown", action="store_true", help="drop annotations with unknown tag ids (counted)")
    p.add_argument(
        "--embedding",
        choices=EMBEDDERS,
        help="model2vec: static vectors distilled offline from the default model, about 50x faster to encode",
    )
    p.add_argument(
        "--embedding-model",
        help="model directory/name (sentence-transformers, model2vec) or model id (openai)",
    )
    p.add_argument("--llm", choices=LLMS, help="LLM backend (default llamacpp)")
    p.add_argument("--llm-model", help="preset name or GGUF path (llamacpp), model name (openai), directory")
    p.add_argument("--llm-base-url", help="OpenAI-compatible server, e.g. http://localhost:8000/v1")
    p.add_argument(
        "--force", action="store_true", help="add tags and contents to an existing project, keeping its llm4tag.toml"
    )
    p.add_argument(
        "--reset-config",
        action="store_true",
        help="with --force: write a new llm4tag.toml from the defaults and these options; calibration is set aside",
    )

    p = add("add-tags", cmd_add_tags, "add or update tags")
    p.add_argument("file")
    p.add_argument("--format", choices=TAG_FORMATS)
    p.add_argument("--no-index", action="store_true")

    p = add("add", cmd_add, "add annotated contents")
    p.add_argument("file")
    p.add_argument("--format", choices=CORPUS_FORMATS)
    p.add_argument("--skip-unknown", action="store_true")
    p.add_argument("--no-index", action="store_true")

    p = add("index", cmd_index, "bring indexes and graph up to date (incremental)")
    p.add_argument(
        "--refit",
        action="store_true",
        help="refit the learned recall paths now (otherwise: once the annotated contents grew by"
        " [recall] refit_growth, default 10%%, or rows were edited)",
    )

    def add_pipeline_overrides(p: argparse.ArgumentParser) -> None:
        p.add_argument("--judge", choices=JUDGE_MODES, help="override [pipeline] judge")
        choice = p.add_mutually_exclusive_group()
        choice.add_argument("--no-generation", action="store_true", help="override [generation] enabled = false")
        choice.add_argument("--generation", action="store_true", help="override [generation] enabled = true")

    def add_contents_io(p: argparse.ArgumentParser) -> None:
        p.add_argument("--text", action="append", help="a content (repeatable)")
        p.add_argument("--input", help="corpus file of contents (JSONL, Annif TSV, CSV/TSV, directory)")
        p.add_argument("--format", choices=CORPUS_FORMATS)
        p.add_argument("--output", "-o", help="output file: JSONL, or Parquet by suffix (default: stdout JSONL)")
        p.add_argument("--limit", type=int)

    p = add("recall", cmd_recall, "recall candidate tags with provenance (JSONL out)")
    add_contents_io(p)
    p.add_argument("--top-n", type=int)

    p = add("tag", cmd_tag, "tag contents: recall, LLM selection/judgement, calibrated confidence (JSONL out)")
    add_contents_io(p)
    p.add_argument("--no-examples", action="store_true", help="leave retrieved examples out of the prompt")
    p.add_argument("--candidates", action="store_true", help="include the recalled candidates in the output")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--batch-size", type=int, default=64, help="contents per chunk (each chunk is saved at once)")
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="ray: a Ray Data job (extra [scale])")
    p.add_argument("--actors", type=int, default=2, help="Ray actors (each opens the project)")
    p.add_argument("--ray-address", help="Ray cluster address (default: start a local Ray)")
    add_pipeline_overrides(p)

    p = add("learn", cmd_learn, "add short-term knowledge: examples, corrections, tag notes (JSONL)")
    p.add_argument("file")

    def add_held_out(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "corpus",
            nargs="?",
            help="held-out annotated contents (not in the project), e.g. a dev split; default: a seeded 10%% of the"
            " project's own, recalled as if never annotated (learned paths refitted without them)",
        )
        p.add_argument("--format", choices=CORPUS_FORMATS)
        p.add_argument("--limit", type=int)
        p.add_argument(
            "--llm-sample", type=int, default=200, help="contents the LLM sees (seeded sample; bounds LLM time)"
        )
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
        add_pipeline_overrides(p)

    p = add("calibrate", cmd_calibrate, "fit confidence calibrators (recall-only, and recall + LLM judge)")
    add_held_out(p)
    p.add_argument(
        "--method",
        choices=("auto", "boosting", "platt", "isotonic"),
        default="auto",
        help="recall-only calibrator and ranker: boosting (gradient-boosted trees over every candidate feature),"
        " platt (logistic regression), isotonic; auto: the lower cross-validated log-loss of boosting and platt",
    )
    p.add_argument("--global-only", action="store_true", help="no per-tag calibrators")

    p = add("optimize", cmd_optimize, "choose the pruning threshold, tag limit and routing band on held-out contents")
    add_held_out(p)
    p.add_argument("--target-precision", type=float, help="most coverage at this precision (default: best F1)")
    p.add_argument("--max-f1-loss", type=float, default=0.01, help="routing: F1 allowed below judging every pair")
    p.add_argument("--plots", help="directory for reliability and precision/coverage PNGs")
    p.add_argument(
        "--tune-seconds",
        type=float,
        default=0,
        help="recall-only pipelines with a dev file: seconds to search recall settings (neighbours, vote power,"
        " dense/lexical mix) before choosing the pruning, e.g. 300; default 0: keep them (on debtags and"
        " debtags-short the search found no gain that held on test: docs/experiments/ranking.md)",
    )

    p = add("finetune", None, "long-term knowledge: export SFT data, train a LoRA adapter", project=False)
    fine = p.add_subparsers(dest="finetune_command", required=True)
    e = fine.add_parser("export", help="write selection.jsonl and judgement.jsonl (chat format)")
    e.add_argument("-p", "--project", default=".")
    e.add_argument("--corpus", help="annotated corpus (default: the project's annotated contents)")
    e.add_argument("--format", choices=CORPUS_FORMATS)
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

    p = add("eval", cmd_eval, "evaluate the pipeline (or parts of it switched off) on an annotated corpus")
    p.add_argument("corpus")
    p.add_argument("--stage", default="full", choices=("recall", "full"), help="recall: the recall stage alone")
    p.add_argument("--without", help="switch off: graph, knowledge, judge, generation, calibration, finetune")
    p.add_argument("--format", choices=CORPUS_FORMATS)
    p.add_argument("--ns", default="10,20,30,50", help="comma-separated N for candidate recall@N")
    p.add_argument("--limit", type=int)
    p.add_argument("--sample", type=int, help="a seeded sample of this many documents (bounds LLM time)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="JSON instead of Markdown")
    p.add_argument("--output", "-o", help="write the report here (default: stdout)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_pipeline_overrides(p)

    p = add("serve", cmd_serve, "HTTP service: API (/docs), Annif-compatible API, web UI (/), metrics")
    p.add_argument("--host", help="bind address (default [service] host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default [service] port, 8080)")
    p.add_argument("--quiet", "-q", action="store_true", help="no access log")
    p.add_argument(
        "--workers",
        type=int,
        help="processes serving on the port (default [service] workers, 1); on two cores, 2 serve 1.04-1.26x the"
        " recall-only requests of one; each holds its own copy of the models",
    )
    add_pipeline_overrides(p)

    p = add("demo", cmd_demo, "build a sample project from debtags and tag a few test documents", project=False)
    p.add_argument(
        "--data", help="a debtags directory (tags, train, dev, test .jsonl[.gz]; default: the sample in the package)"
    )
    p.add_argument("--project", default="sample-project", help="where to build the sample project")
    p.add_argument("--train-limit", type=int, default=5000, help="annotated documents to index (0 = all)")
    p.add_argument("--documents", type=int, default=5, help="test documents to tag")
    p.add_argument("--no-llm", action="store_true", help="recall only, no LLM")
    p.add_argument(
        "--embedding",
        choices=("sentence-transformers", "model2vec"),
        help="embedder of a new sample project (default: MiniLM; model2vec: static vectors, seconds to build)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        args.func(args)
    except Llm4tagError as exc:
        print(f"llm4tag: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except sqlite3.Error as exc:  # after the store was opened (its check passed): a full disk, a lock, damage
        from llm4tag.store.sqlite import store_error_message

        where = Path(getattr(args, "project", ".") or ".") / "store.sqlite"
        print(f"llm4tag: error: {store_error_message(where, exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # a full disk, a read-only mount, an unwritable cache: the path and the cause
        from llm4tag.errors import os_error_message

        print(f"llm4tag: error: {os_error_message(exc, writing=False)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("llm4tag: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
