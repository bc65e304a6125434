"""``discover``: propose the tags the library is missing, from the contents it serves badly; ``--decide`` applies
a curator's decisions (``"decision": "accept"`` or ``"reject"`` added to lines of the proposals file)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llm4tag.cli.common import add_command, corpus, open_project
from llm4tag.errors import InputError, Llm4tagError


def register(sub) -> None:
    p = add_command(sub, "discover", cmd_discover, "propose the tags the library is missing, with their evidence")
    p.add_argument("--input", help="new contents to read (default: the project's annotated contents)")
    p.add_argument("--format", help="format of --input (as for tag)")
    p.add_argument("--output", "-o", default="proposals.jsonl",
                   help="the reviewable proposals (JSONL, a Markdown report beside it); a rerun resumes")  # fmt: skip
    p.add_argument("--namer", choices=("llm", "words"), default="llm",
                   help="llm: the LLM proposes each tag; words: each group's most distinctive words")  # fmt: skip
    p.add_argument("--max-groups", type=int, help="name only the largest groups (each costs one LLM call)")
    p.add_argument("--min-group", type=int, default=5, help="the fewest contents a group has")
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.5,
        help="a content whose best confidence is under this is poorly covered",
    )
    p.add_argument("--decide", metavar="FILE", help="apply the decisions written in a proposals file and stop")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def cmd_discover(args: argparse.Namespace) -> None:
    from llm4tag.discovery import Discovery, DiscoverySettings
    from llm4tag.discovery.naming import LLMProposer, WordsProposer
    from llm4tag.generation.prompts import load_prompt

    with open_project(args) as project:
        if args.decide:
            decide(project, Path(args.decide))
            return
        if args.namer == "llm":
            template = load_prompt("discover", project.directory / project.config.generation.prompt_dir)
            proposer = LLMProposer(project.llm.get(), template)
        else:
            proposer = WordsProposer()
        settings = DiscoverySettings(min_group=args.min_group, max_groups=args.max_groups,
                                     min_confidence=args.min_confidence)  # fmt: skip
        docs = list(corpus(project, args.input, args.format)) if args.input else None
        summary = Discovery(project, proposer, settings).run(Path(args.output), docs, progress=not args.quiet)
    print(json.dumps(summary))
    print(f"proposals: {args.output} (report: {Path(args.output).with_suffix('.md')})")


def decide(project, path: Path) -> None:
    """Each line with a ``decision``: accept (the line's ``proposal`` fields, edited or not, and an optional
    ``id``) or reject. Every line is checked before any is applied."""
    from llm4tag.discovery import Discovery
    from llm4tag.fileio import iter_jsonl

    discovery = Discovery(project, None)
    stored = {r["key"] for r in discovery.proposals()}
    records = []
    for line, record in iter_jsonl(path):
        if not record.get("decision"):
            continue
        if record["decision"] not in ("accept", "reject"):
            raise InputError("expected accept or reject", path=path, line=line, field="decision")
        if record.get("key") not in stored:
            raise InputError("not a proposal of the project's last discovery run", path=path, line=line, field="key")
        records.append(record)
    if not records:
        raise Llm4tagError(f'{path}: no line has a "decision" (accept or reject)')
    for record in records:
        edits = {**(record.get("proposal") or {}), **({"id": record["id"]} if record.get("id") else {})}
        print(json.dumps(discovery.decide(record["key"], record["decision"], edits)))
