"""What several commands share: opening the project, reading contents, writing JSONL, the pipeline-shape
options (``--judge``, ``--generation``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from llm4tag.errors import Llm4tagError


def add_command(
    sub, name: str, func: Callable | None, help_text: str, *, project: bool = True
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text)
    if project:
        p.add_argument("-p", "--project", default=".", help="project directory (default: current)")
    p.set_defaults(func=func)
    return p


def corpus_formats() -> tuple[str, ...]:
    from llm4tag.corpus.loaders import FORMATS

    return FORMATS


def open_project(args: argparse.Namespace):
    from llm4tag.project import Project

    return Project.open(args.project)


def write_jsonl(records, output: str | None) -> None:
    from llm4tag.fileio import atomic_write

    if output in (None, "-"):
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    with atomic_write(output) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def corpus(project, path: str, fmt: str | None):
    """Contents of a user's file, streamed: unknown tag ids dropped (counted), the project's text limit enforced."""
    from llm4tag.corpus.loaders import iter_corpus

    return iter_corpus(
        path, fmt, library=project.library, on_unknown="skip", max_text_chars=project.config.index.max_text_chars
    )


def input_documents(args: argparse.Namespace, project):
    from llm4tag.corpus.documents import Document

    if args.text:
        return [Document(id=f"text-{i + 1}", text=t) for i, t in enumerate(args.text)]
    if args.input:
        return list(corpus(project, args.input, args.format))
    raise Llm4tagError("give --text TEXT (repeatable) or --input FILE")


def annotated(args: argparse.Namespace, project) -> list:
    docs = [d for d in list(corpus(project, args.corpus, args.format)) if d.tags]
    if not docs:
        raise Llm4tagError(f"{args.corpus}: no annotated contents (every document needs at least one known tag)")
    return docs[: args.limit] if args.limit else docs


def add_contents_io(p: argparse.ArgumentParser) -> None:
    p.add_argument("--text", action="append", help="a content (repeatable)")
    p.add_argument("--input", help="corpus file of contents (JSONL, Annif TSV, CSV/TSV, directory)")
    p.add_argument("--format", choices=corpus_formats())
    p.add_argument("--output", "-o", help="output file: JSONL, or Parquet by suffix (default: stdout JSONL)")
    p.add_argument("--limit", type=int)


def add_pipeline_overrides(p: argparse.ArgumentParser) -> None:
    from llm4tag.pipeline.settings import JUDGE_MODES

    p.add_argument("--judge", choices=JUDGE_MODES, help="override [pipeline] judge")
    choice = p.add_mutually_exclusive_group()
    choice.add_argument("--no-generation", action="store_true", help="override [generation] enabled = false")
    choice.add_argument("--generation", action="store_true", help="override [generation] enabled = true")


def overrides(args: argparse.Namespace) -> dict:
    """--judge / --no-generation / --no-examples: another shape of the pipeline than the configured one, the same
    way for tag, calibrate, optimize, eval, serve and Ray (``Pipeline.with_overrides``)."""
    out: dict = {}
    if getattr(args, "judge", None):
        out["judge"] = args.judge
    if getattr(args, "no_generation", False):
        out["generation"] = False
    if getattr(args, "generation", False):
        out["generation"] = True
    if getattr(args, "no_examples", False):
        out["examples"] = False
    return out
