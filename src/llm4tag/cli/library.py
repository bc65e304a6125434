"""Building a project: ``init``, ``add-tags``, ``add``, ``index``, ``learn``."""

from __future__ import annotations

import argparse
from pathlib import Path

from llm4tag.cli.common import add_command, corpus_formats, open_project
from llm4tag.cli.reports import print_contents, print_init

#: ``init`` options that write the configuration (refused by ``init --force`` without ``--reset-config``)
_CONFIG_OPTIONS = ("language", "embedding", "embedding_model", "llm", "llm_model", "llm_base_url")


def register(sub) -> None:
    from llm4tag.embedding import BACKENDS as EMBEDDERS
    from llm4tag.library.loaders import FORMATS as TAG_FORMATS
    from llm4tag.llm import BACKENDS as LLMS

    p = add_command(sub, "init", cmd_init, "create a project directory", project=False)
    p.add_argument("directory")
    p.add_argument("--tags", help="tag library file (JSONL, CSV/TSV, Annif vocabulary TSV, SKOS .ttl/.rdf)")
    p.add_argument("--tags-format", choices=TAG_FORMATS)
    p.add_argument("--language", help="language of the tag labels (SKOS prefLabels); default en")
    p.add_argument("--corpus", help="annotated corpus (JSONL, Annif corpus TSV, CSV/TSV, directory)")
    p.add_argument("--corpus-format", choices=corpus_formats())
    p.add_argument("--skip-unknown", action="store_true", help="drop annotations with unknown tag ids (counted)")
    p.add_argument(
        "--embedding",
        choices=EMBEDDERS,
        help="model2vec: static vectors distilled offline from the default model, about 50x faster to encode",
    )
    p.add_argument(
        "--embedding-model", help="model directory/name (sentence-transformers, model2vec) or model id (openai)"
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

    p = add_command(sub, "add-tags", cmd_add_tags, "add or update tags")
    p.add_argument("file")
    p.add_argument("--format", choices=TAG_FORMATS)
    p.add_argument("--no-index", action="store_true")

    p = add_command(sub, "add", cmd_add, "add annotated contents")
    p.add_argument("file")
    p.add_argument("--format", choices=corpus_formats())
    p.add_argument("--skip-unknown", action="store_true")
    p.add_argument("--no-index", action="store_true")

    p = add_command(sub, "index", cmd_index, "bring indexes and graph up to date (incremental)")
    p.add_argument(
        "--refit",
        action="store_true",
        help="refit the learned recall paths now (otherwise: once the annotated contents grew by"
        " [recall] refit_growth, default 10%%, or rows were edited)",
    )

    p = add_command(sub, "learn", cmd_learn, "add short-term knowledge: examples, corrections, tag notes (JSONL)")
    p.add_argument("file")


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
        print_init(project.init_report, args.directory, tags=bool(args.tags), contents=bool(args.corpus))


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


def cmd_add_tags(args: argparse.Namespace) -> None:
    with open_project(args) as project:
        added, updated = project.add_tags(args.file, args.format)
        print(f"tags: {added} added, {updated} updated")
        if not args.no_index:
            print(project.index())


def cmd_add(args: argparse.Namespace) -> None:
    with open_project(args) as project:
        on_unknown = "skip" if args.skip_unknown else "error"
        print_contents(*project.add_contents(args.file, args.format, on_unknown=on_unknown))
        if not args.no_index:
            print(project.index())


def cmd_index(args: argparse.Namespace) -> None:
    with open_project(args) as project:
        print(project.index(refit=args.refit))


def cmd_learn(args: argparse.Namespace) -> None:
    with open_project(args) as project:
        counts = project.learn(args.file)
        print("learned: " + ", ".join(f"{n} {kind}(s)" for kind, n in counts.items()))
        print(project.index())
