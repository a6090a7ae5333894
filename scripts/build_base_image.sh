#!/usr/bin/env bash
# Build a local stand-in for the official python:3.13-slim image.
#
# Why: these machines cannot pull images, so CI makes the base image from Debian
# packages instead. Debian 13 "trixie" ships Python 3.13; debootstrap lays down a
# minimal trixie, we add python3/venv/pip and the CA bundle, and `docker import`
# it under the official tag so the project's Dockerfile builds unchanged.
#
# Usage: scripts/build_base_image.sh            (uses $DOCKER_HOST if set)
# Env:   BASE_TAG     image tag to create              (default python:3.13-slim)
#        SUITE        Debian release to debootstrap    (default trixie)
#        MIRROR       Debian mirror URL                (default: the host apt's own mirror)
#        EXTRA_CA_DIR extra PEM certificates (*.crt) to trust inside the image, copied from
#                     the host so TLS to PyPI works exactly as it does on the host
#                     (default /usr/local/share/ca-certificates; set empty to skip)
#        FORCE=1      rebuild even if the tag exists
set -euo pipefail

BASE_TAG=${BASE_TAG:-python:3.13-slim}
SUITE=${SUITE:-trixie}
EXTRA_CA_DIR=${EXTRA_CA_DIR-/usr/local/share/ca-certificates}
PACKAGES=python3,python3-venv,python3-pip,ca-certificates

log() { printf '[build_base_image] %s\n' "$*" >&2; }

if [[ ${FORCE:-0} != 1 ]] && docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
    log "$BASE_TAG already exists; skipping (FORCE=1 to rebuild)"
    exit 0
fi

for tool in debootstrap docker tar; do
    command -v "$tool" >/dev/null || { log "missing tool: $tool"; exit 2; }
done
[[ $(id -u) == 0 ]] || { log "debootstrap needs root"; exit 2; }

host_mirror() {
    # The first Debian (non-security) mirror the host's apt uses, deb822 or one-line format.
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        uri=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f" | grep -v security | head -n1 || true)
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $f ]] || continue
        uri=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}' "$f" \
            | grep -v security | grep '/debian/\?$' | head -n1 || true)
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
}
MIRROR=${MIRROR:-$(host_mirror)}
[[ -n $MIRROR ]] || { log "cannot find the host's Debian mirror; set MIRROR"; exit 2; }

work=$(mktemp -d /tmp/qc-base.XXXXXX)
rootfs=$work/rootfs
cleanup() {
    # debootstrap may leave proc/sys mounted if it fails half-way.
    for m in proc sys dev/pts dev; do
        mountpoint -q "$rootfs/$m" 2>/dev/null && umount -l "$rootfs/$m" || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

start=$(date +%s)
log "debootstrap $SUITE from $MIRROR into $rootfs"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -n 40 "$work/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
}

if [[ -n $EXTRA_CA_DIR ]] && compgen -G "$EXTRA_CA_DIR/*.crt" >/dev/null; then
    log "trusting the host's extra CA certificates from $EXTRA_CA_DIR"
    mkdir -p "$rootfs/usr/local/share/ca-certificates"
    cp "$EXTRA_CA_DIR"/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
fi

# Make `python` and `pip` behave like the official image's: on PATH under /usr/local/bin,
# and no PEP 668 marker (the official image installs Python outside the distro's package
# manager, so it has none). The project's Dockerfile uses a venv either way.
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python3"
ln -sf /usr/bin/pip3 "$rootfs/usr/local/bin/pip"
ln -sf /usr/bin/pip3 "$rootfs/usr/local/bin/pip3"
rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED

# Slim it down the way the official slim image is: no apt lists, caches, docs or man pages.
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/tmp/* "$rootfs"/var/tmp/*
# The official image is built with networking and DNS supplied by Docker at run time.
: >"$rootfs/etc/resolv.conf"
: >"$rootfs/etc/hostname"

pyver=$(chroot "$rootfs" python3 -c 'import platform; print(platform.python_version())')
log "Python $pyver; importing as $BASE_TAG"
tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "ENV PYTHON_VERSION=$pyver" \
    --change 'CMD ["python3"]' \
    --change "LABEL org.opencontainers.image.description=\"Stand-in for python:3.13-slim: Debian $SUITE, Python $pyver\"" \
    --message "debootstrap $SUITE + $PACKAGES" \
    - "$BASE_TAG" >/dev/null

docker run --rm --network host "$BASE_TAG" python -c 'import ssl, venv, ensurepip; print("python ok")' >&2
log "built $BASE_TAG in $(($(date +%s) - start))s ($(docker image inspect -f '{{.Size}}' "$BASE_TAG") bytes)"
