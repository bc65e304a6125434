#!/usr/bin/env bash
# Install (if needed), build a sample project from debtags and tag a few real test documents end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev,model-default
exec .venv/bin/llm4tag demo --data "${DEBTAGS:-../shared/data/debtags}" --project sample-project "$@"
