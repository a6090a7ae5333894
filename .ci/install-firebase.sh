#!/usr/bin/env bash
# Install what the Firebase emulator tests need; safe to run again (does nothing when all is there).
#   - the Firebase CLI (Auth emulator), pinned in package.json/package-lock.json, into ./node_modules
#   - axe-core (pinned there too), which the browser tests inject to check accessibility; never served
#   - Java 17 and the Cloud Firestore emulator JAR (Debian packages)
# Writes nothing outside the checkout except what apt-get installs.
set -euo pipefail
cd "$(dirname "$0")/.."

export NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export npm_config_cache="$PWD/.cache/npm"   # no writes to ~/.npm
export XDG_CONFIG_HOME="$PWD/.cache/xdg-config" CI=true   # the Firebase CLI's configstore stays in the checkout

if [ ! -x node_modules/.bin/firebase ] || [ ! -f node_modules/axe-core/axe.min.js ]; then
    if ! command -v npm >/dev/null; then
        echo "install-firebase: npm is missing; install Node.js 20+ (Debian: apt-get install nodejs npm)" >&2
        exit 1
    fi
    echo "install-firebase: npm ci --ignore-scripts (firebase-tools for the Auth emulator, axe-core for the a11y tests)"
    npm ci --ignore-scripts --no-fund --no-audit
fi

JAR=/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar
need=()
command -v java >/dev/null || need+=(openjdk-17-jre-headless)
[ -f "$JAR" ] || need+=(google-cloud-cli-firestore-emulator)

if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    for pkg in "${need[@]}"; do
        candidate=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')
        if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
            echo "install-firebase: $pkg is not available from the configured apt sources" \
                 "(the Firestore emulator comes from Google's cloud-sdk apt repository)" >&2
            exit 1
        fi
    done
    echo "install-firebase: apt-get install ${need[*]}"
    apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

echo "install-firebase: firebase $(node_modules/.bin/firebase --version 2>/dev/null || echo '?'), $(java -version 2>&1 | head -1), $JAR"
