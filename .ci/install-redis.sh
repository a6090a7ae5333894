#!/bin/sh
# Install Debian's redis-server for the Redis hub tests, only if it is missing. Idempotent.
# Nothing is started here: the tests start their own server on a free loopback port.
set -eu

if command -v redis-server >/dev/null 2>&1; then
    echo "redis-server present: $(redis-server --version)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-redis: need root or sudo" >&2; exit 1; }
    SUDO="sudo"
fi

# The package would start a system redis on :6379; a temporary policy-rc.d forbids service starts.
POLICY=/usr/sbin/policy-rc.d
ADDED_POLICY=""
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    ADDED_POLICY=1
fi
cleanup() { if [ -n "$ADDED_POLICY" ]; then $SUDO rm -f "$POLICY"; fi; }
trap cleanup EXIT

$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server
echo "installed: $(redis-server --version)"
