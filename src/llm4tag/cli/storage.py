"""The store of record: ``store migrate`` (create or upgrade the tables on a PostgreSQL server) and
``store copy`` (a project's rows from one store into another: SQLite to PostgreSQL and back)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from llm4tag.cli.common import add_command
from llm4tag.errors import Llm4tagError


def register(sub) -> None:
    p = add_command(sub, "store", None, "the store of record: migrate a PostgreSQL store, copy between stores",
                    project=False)  # fmt: skip
    store = p.add_subparsers(dest="store_command", required=True)
    m = store.add_parser("migrate", help="create or upgrade llm4tag's tables on a PostgreSQL server (one at a time)")
    m.add_argument("-p", "--project", default=".", help="a project whose [store] url names the server")
    m.add_argument("--url", help="the server's postgresql:// URL (default: the project's, or LLM4TAG_STORE_URL)")
    m.set_defaults(func=cmd_migrate)
    c = store.add_parser("copy", help="copy every row of a project's store into another (resumable, counted)")
    c.add_argument("--from", dest="source", required=True, help="a project directory or a postgresql:// URL")
    c.add_argument("--to", dest="target", required=True, help="a project directory or a postgresql:// URL")
    c.add_argument("--quiet", "-q", action="store_true", help="no progress")
    c.set_defaults(func=cmd_copy)


def _url_of_project(directory: str) -> str:
    from llm4tag.config import ProjectConfig
    from llm4tag.store.opening import store_url

    return store_url(ProjectConfig.load(Path(directory)).store)


def cmd_migrate(args: argparse.Namespace) -> None:
    from llm4tag.store.postgres import migrate

    url = args.url or _url_of_project(args.project)
    if not url:
        raise Llm4tagError(f"{args.project} keeps its store in SQLite (no [store] url): there is nothing to migrate")
    print(migrate(url))


def _open(location: str, *, target: bool):
    """The store at ``location``: a postgresql:// URL, or a project directory (its [store] url, else its SQLite
    file; a target directory that is no project gets a new SQLite file)."""
    from llm4tag.store.settings import SCHEMES

    url = location if location.startswith(SCHEMES) else ""
    directory = Path(location)
    if not url and (directory / "llm4tag.toml").exists():
        from llm4tag.config import ProjectConfig

        url = ProjectConfig.load(directory).store.url  # as written: LLM4TAG_STORE_URL is not the copy's business
    if url:
        from llm4tag.store.postgres import PostgresStore, migrate

        if target:
            migrate(url)
        return PostgresStore(url)
    from llm4tag.store.sqlite import SQLiteStore

    if not target and not (directory / "store.sqlite").is_file():
        raise Llm4tagError(f"{location} is neither a postgresql:// URL nor a project directory with a store")
    return SQLiteStore(directory / "store.sqlite", create=target)


def _push_project_files(directory: Path, store) -> None:
    """A project's fitted files into a server store: replicas with an empty directory serve from them."""
    from llm4tag.store.shared_files import push_directory, push_file

    push_file(store, "config", directory / "llm4tag.toml")
    push_directory(store, "calibration", directory / "calibration")
    for learned in sorted((directory / "graph" / "learned").glob("*/")):
        push_directory(store, f"learned/{learned.name}", learned)


def _pull_project_files(store, directory: Path) -> None:
    from llm4tag.recall.settings import LEARNED_PATHS
    from llm4tag.store.shared_files import pull_directory, pull_file

    pull_file(store, "config", directory / "llm4tag.toml")
    pull_directory(store, "calibration", directory / "calibration")
    for name in LEARNED_PATHS:
        pull_directory(store, f"learned/{name}", directory / "graph" / "learned" / name)


def cmd_copy(args: argparse.Namespace) -> None:
    from llm4tag.store.copying import copy_store

    def progress(table: str, rows: int) -> None:
        if not args.quiet:
            print(f"\r{table}: {rows} rows", end="", file=sys.stderr, flush=True)

    with _open(args.source, target=False) as source, _open(args.target, target=True) as target:
        counts = copy_store(source, target, progress=progress)
        if Path(args.source).is_dir() and target.shares_files:
            _push_project_files(Path(args.source), target)
        if Path(args.target).is_dir() and source.shares_files:
            _pull_project_files(source, Path(args.target))
    if not args.quiet:
        print(file=sys.stderr)
    print("copied and counted: " + ", ".join(f"{table} {n}" for table, n in counts.items()))
