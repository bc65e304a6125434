"""Using a project: ``recall`` (candidates with provenance) and ``tag`` (the whole pipeline, locally or as a
Ray Data job)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llm4tag.cli.common import (
    add_command,
    add_contents_io,
    add_pipeline_overrides,
    corpus,
    input_documents,
    open_project,
    overrides,
    write_jsonl,
)
from llm4tag.errors import Llm4tagError


def register(sub) -> None:
    p = add_command(sub, "recall", cmd_recall, "recall candidate tags with provenance (JSONL out)")
    add_contents_io(p)
    p.add_argument("--top-n", type=int)

    p = add_command(
        sub, "tag", cmd_tag, "tag contents: recall, LLM selection/judgement, calibrated confidence (JSONL out)"
    )
    add_contents_io(p)
    p.add_argument("--no-examples", action="store_true", help="leave retrieved examples out of the prompt")
    p.add_argument("--candidates", action="store_true", help="include the recalled candidates in the output")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--batch-size", type=int, default=64, help="contents per chunk (each chunk is saved at once)")
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="ray: a Ray Data job (extra [scale])")
    p.add_argument("--actors", type=int, default=2, help="Ray actors (each opens the project)")
    p.add_argument("--ray-address", help="Ray cluster address (default: start a local Ray)")
    add_pipeline_overrides(p)


def cmd_recall(args: argparse.Namespace) -> None:
    with open_project(args) as project:
        docs = input_documents(args, project)
        if args.limit:
            docs = docs[: args.limit]
        library = project.library
        results = project.recall([d.text for d in docs], top_n=args.top_n)
        records = [
            {
                "id": doc.id,
                "candidates": [{**c.to_dict(), "label": library[c.tag_id].label} for c in result.candidates],
                "neighbours": [[c, round(s, 4)] for c, s in result.neighbours],
            }
            for doc, result in zip(docs, results)
        ]
        write_jsonl(records, args.output)


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
            overrides=overrides(args),
        )
        print(report, file=sys.stderr)
        return
    with open_project(args) as project:
        pipeline = project.pipeline(**overrides(args))
        if streaming:  # constant memory, appended chunk by chunk, resumable
            from llm4tag.scale import tag_stream

            docs = corpus(project, args.input, args.format)
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
        docs = input_documents(args, project)
        if args.limit:
            docs = docs[: args.limit]
        results = pipeline.run(docs, progress=not args.quiet)
        write_jsonl((r.to_dict(with_candidates=args.candidates) for r in results), args.output)
