"""``python -m llm4tag``: the same CLI as the ``llm4tag`` command, with its exit code."""

from llm4tag.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
