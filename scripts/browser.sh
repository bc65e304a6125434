#!/usr/bin/env bash
# Debian's chromium + chromedriver for the web UI's browser test (never a browser download at test time).
# Installs them when missing and this runs as root with apt-get; otherwise says what the test will skip.
set -uo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; }
fi
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "note: chromium/chromedriver not installed; the web UI browser test will be skipped" >&2
fi
exit 0
