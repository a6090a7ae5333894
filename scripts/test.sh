#!/usr/bin/env bash
# Install everything the tests need (Debian packages, the venv with the test extras), then run
# the whole suite: lint, unit, contract, real-server, and real-browser tests.
# With CI=true nothing may skip. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venv.sh

# Debian's Chromium for the browser tests (Playwright drives it; no browser download), with a font.
apt_install_packages chromium fonts-dejavu-core
for extra in .ci/install-*.sh; do
    [ -e "$extra" ] && bash "$extra"
done
ensure_venv "[test]"

.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
