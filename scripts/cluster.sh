#!/usr/bin/env bash
# A cluster on this machine: PostgreSQL, N llm4tag replicas (each with an empty directory and only the store's
# URL) and nginx balancing them, for trying the multi-machine layout by hand (docs/deployment.md).
#   bash scripts/cluster.sh --project sample-project --replicas 2
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/postgres.sh
bash scripts/nginx.sh
exec .venv/bin/python -m tests.cluster "$@"
