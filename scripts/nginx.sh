#!/usr/bin/env bash
# Debian's nginx for the cluster tests (tests/cluster.py runs it as a balancer on loopback, never as a service
# of the machine). Installs it when missing and this runs as root with apt-get.
set -uo pipefail
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q nginx >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q nginx >/dev/null 2>&1; }
fi
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    echo "note: nginx is not installed; the cluster tests will be skipped (and fail under CI=true)" >&2
fi
exit 0
