#!/usr/bin/env bash
# Install (if needed), build a sample project from the debtags sample shipped in the package and tag a few
# unseen test documents end to end. DEBTAGS=DIR (or --data DIR) uses another copy, e.g. the full data set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev,model-default
data=()
if [ -n "${DEBTAGS:-}" ]; then
    data=(--data "$DEBTAGS")
fi
exec .venv/bin/llm4tag demo --project sample-project "${data[@]}" "$@"
