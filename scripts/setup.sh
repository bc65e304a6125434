#!/usr/bin/env bash
# Create .venv and install llm4tag with the given extras (default: dev = tests + embedded models).
# Idempotent: a second run with the same extras and an unchanged pyproject.toml installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=${1:-dev}
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
marker=".venv/.llm4tag-installed-${EXTRAS//,/-}"
if [ ! -f "$marker" ] || [ pyproject.toml -nt "$marker" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    # torch first, pinned: on this kind of machine 2.13.0 is the CPU wheel (an unpinned torch pulls a CUDA build).
    .venv/bin/python -m pip install -q "torch==2.13.0"
    .venv/bin/python -m pip install -q -e ".[$EXTRAS]"
    touch "$marker"
fi
