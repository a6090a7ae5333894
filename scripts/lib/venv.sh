# Sourced by serve.sh and test.sh: find Python 3.13 and keep .venv installed with the given extras.
# Usage: ensure_venv "" | ensure_venv "[test]"

find_python313() {
    if command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
        command -v python3.13; return
    fi
    if command -v pyenv >/dev/null 2>&1; then
        local prefix
        for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.13(\.|$)' | sort -V -r); do
            prefix="$(pyenv prefix "$v")" && [ -x "$prefix/bin/python3.13" ] && { echo "$prefix/bin/python3.13"; return; }
        done
    fi
    for p in /usr/local/bin/python3.13 /usr/bin/python3.13; do
        [ -x "$p" ] && { echo "$p"; return; }
    done
    echo "quart-chat needs Python 3.13 (Quart 0.23): install it (e.g. 'pyenv install 3.13') and run this again." >&2
    return 1
}

ensure_venv() {
    local extras="$1" stamp
    if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
        rm -rf .venv
        "$(find_python313)" -m venv .venv
    fi
    # Reinstall only when pyproject.toml or the extras changed.
    stamp=".venv/.installed-$(echo "$extras" | tr -c 'a-z0-9' '_')-$(sha256sum pyproject.toml | cut -c1-16)"
    if [ ! -e "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
        touch "$stamp"
    fi
}

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
        echo "need root for: $*" >&2; return 1; fi
}

apt_install_packages() {
    # apt_install_packages PACKAGE...: install the Debian packages that are not installed yet.
    local missing=() pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}
