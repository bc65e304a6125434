#!/usr/bin/env bash
# Debian's PostgreSQL server for the tests that run against a real one (tests/pg.py starts a throwaway cluster
# from it; nothing is served on a public address). Installs it when missing and this runs as root with apt-get.
set -uo pipefail
if command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1; }
fi
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null; then
    echo "note: PostgreSQL is not installed; the tests against it will be skipped (and fail under CI=true)" >&2
fi
exit 0
