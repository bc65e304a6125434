"""The LLM once per tag: ``synthesize`` (example contents for tags with few, and ``--check`` whether they pay),
``describe`` (descriptions and aliases for tags without), ``forget --synthetic`` (remove what an LLM wrote)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llm4tag.cli.common import add_command, open_project
from llm4tag.errors import Llm4tagError


def _tag_list(value: str | None) -> list[str] | None:
    return [t.strip() for t in value.split(",") if t.strip()] if value else None


def register(sub) -> None:
    p = add_command(sub, "synthesize", cmd_synthesize,
                    "the LLM writes example contents for tags with few examples (a learn file to review)")  # fmt: skip
    p.add_argument("--output", "-o", default="synthetic.jsonl",
                   help="the learn file (a status file beside it says what each tag got); a rerun resumes")  # fmt: skip
    p.add_argument("--below", type=int, default=5, help="tags with fewer annotated examples than this (default 5)")
    p.add_argument("--per-tag", type=int, default=5, help="contents written per tag (default 5)")
    p.add_argument("--tags", help="only these tag ids (comma-separated)")
    p.add_argument("--max-rank", type=int,
                   help="keep a written content only if its tag is among this many tags nearest it"
                   " (default: 5%% of the tags, at least 10)")  # fmt: skip
    p.add_argument("--check", action="store_true",
                   help="instead: measure on held-out real contents whether the learned synthetic contents pay,"
                   " per group of tags (0, 1-4, 5+ examples); keep them only where they do")  # fmt: skip
    p.add_argument("--dry-run", action="store_true", help="with --check: measure and save, remove nothing")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    p = add_command(sub, "describe", cmd_describe,
                    "the LLM writes descriptions and aliases for tags without (a tag file to review)")  # fmt: skip
    p.add_argument("--output", "-o", default="descriptions.jsonl",
                   help="the tag file; apply it with llm4tag add-tags; a rerun resumes")  # fmt: skip
    p.add_argument("--min-chars", type=int, default=20, help="describe tags whose description is shorter (default 20)")
    p.add_argument("--tags", help="only these tag ids (comma-separated)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    p = add_command(sub, "forget", cmd_forget, "remove the contents an LLM wrote (synthetic), all or per tag")
    p.add_argument("--synthetic", action="store_true", required=True, help="the synthetic contents")
    p.add_argument("--tag", action="append", help="only those written for this tag id (repeatable)")


def cmd_synthesize(args: argparse.Namespace) -> None:
    from llm4tag.generation.prompts import load_prompt
    from llm4tag.synthesis import SynthesisSettings, Synthesizer, check_synthetic, status_path

    with open_project(args) as project:
        if args.check:
            decision = check_synthetic(project, apply=not args.dry_run)
            print(json.dumps(decision, indent=2))
            if decision["removed"]:
                print(f"removed {decision['removed']} synthetic contents of the groups where they did not pay")
            return
        settings = SynthesisSettings(below=args.below, per_tag=args.per_tag, tags=_tag_list(args.tags),
                                     max_rank=args.max_rank)  # fmt: skip
        template = load_prompt("synthesize", project.directory / project.config.generation.prompt_dir)
        summary = Synthesizer(project, project.llm.get(), template, settings).run(
            Path(args.output), progress=not args.quiet
        )
    print(json.dumps(summary))
    print(f"examples: {args.output} (what each tag got: {status_path(Path(args.output))});"
          f" review it, then: llm4tag learn -p {args.project} {args.output} && llm4tag index -p {args.project}"
          " --refit")  # fmt: skip


def cmd_describe(args: argparse.Namespace) -> None:
    from llm4tag.generation.prompts import load_prompt
    from llm4tag.synthesis import Describer, DescribeSettings

    with open_project(args) as project:
        template = load_prompt("describe", project.directory / project.config.generation.prompt_dir)
        settings = DescribeSettings(min_chars=args.min_chars, tags=_tag_list(args.tags))
        summary = Describer(project, project.llm.get(), template, settings).run(
            Path(args.output), progress=not args.quiet
        )
    print(json.dumps(summary))
    print(f"descriptions: {args.output}; review it, then: llm4tag add-tags -p {args.project} {args.output}")


def cmd_forget(args: argparse.Namespace) -> None:
    with open_project(args) as project:
        found = project.store.synthetic_contents()
        if args.tag:
            unknown = [t for t in args.tag if t not in project.library]
            if unknown:
                raise Llm4tagError(f"not in the tag library: {', '.join(unknown)}")
            found = [(c, meta) for c, meta in found if meta.get("for_tag") in args.tag]
        removed = project.forget([c for c, _ in found])
    print(json.dumps({"removed": removed}))
