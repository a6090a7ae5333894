#!/usr/bin/env bash
# Install (first run only) and start quart-chat on its embedded defaults:
# local accounts and SQLite in ./data, one process, http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venv.sh
ensure_venv ""
exec .venv/bin/quart-chat
