#!/usr/bin/env bash
# Create .venv and install llm4tag with everything the embedded default and the tests need.
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
if ! .venv/bin/python -c "import llm4tag, sentence_transformers, xllamacpp, pytest" 2>/dev/null \
        || [ pyproject.toml -nt .venv/.llm4tag-installed ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    # torch first, pinned: on this kind of machine 2.13.0 is the CPU wheel (an unpinned torch pulls a CUDA build).
    .venv/bin/python -m pip install -q "torch==2.13.0"
    .venv/bin/python -m pip install -q -e ".[dev]"
    touch .venv/.llm4tag-installed
fi
