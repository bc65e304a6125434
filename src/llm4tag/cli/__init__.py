"""The ``llm4tag`` command line. Each subcommand is a thin layer over the Python API; each module here
registers its commands' arguments beside their handlers.

User mistakes (bad files, bad config) print one clear line and exit 2; they never end in a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from llm4tag.errors import Llm4tagError

EXIT_USER_ERROR = 2
# the modules whose ``register(subparsers)`` adds their commands, in the order ``--help`` lists them
COMMANDS = ("library", "tagging", "tuning", "synthesis", "discovery", "finetune", "serving", "storage")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llm4tag")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llm4tag", description="Automatic tagging with LLMs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and details")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"llm4tag.cli.{name}").register(sub)
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
        from llm4tag.store.diagnosis import store_error_message

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
