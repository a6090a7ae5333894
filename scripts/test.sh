#!/usr/bin/env bash
# Install everything the tests need (Debian packages, the venv with the test extras), then run
# the whole suite: lint, unit, contract, real-server, and real-browser tests.
# With CI=true nothing may skip. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venv.sh

apt_install_missing chromium chromium
for extra in .ci/install-*.sh; do
    [ -e "$extra" ] && bash "$extra"
done
ensure_venv "[test]"

.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
