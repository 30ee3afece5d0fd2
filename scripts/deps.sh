#!/usr/bin/env bash
# deps.sh - make sure the Debian packages cmk-harness needs are installed.
# As root it installs what is missing with apt-get; otherwise it prints the
# exact command to run and fails.
set -euo pipefail

PKGS=(build-essential pkg-config git libssl-dev libipsec-mb-dev libcurl4-openssl-dev
      libcjson-dev libcriterion-dev gnuplot-nox libmicrohttpd-dev python3-cryptography-vectors
      openssl ca-certificates curl jq libxml2-utils libfuse3-dev fuse3
      clang-format)
# The database harness (scripts/db/): PostgreSQL 15, fio and the FUSE targets.
PKGS+=(postgresql-15 postgresql-client-15 fio gocryptfs securefs cryfs)
PKGS+=(${CMK_EXTRA_PKGS:-})

missing=()
for p in "${PKGS[@]}"; do
    [ -n "$p" ] || continue
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
