#!/usr/bin/env bash
# interop.sh [VAULT_MOCK] - `make interop`: the official Azure SDK (@azure/keyvault-keys,
# installed in vault-mock/tools/node_modules by the make target) against two fresh
# vault-mocks: one as the controls use it (purge protection on) and one with
# --purge-protection off. Each vault gets a new state folder, is stopped (SIGTERM to the
# process this script started) and removed at the end. Exit: js-sdk-check.js's (0 every
# step passed, 1 a step failed), 1 when a vault did not start.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-bin/vault-mock}"
work="$(mktemp -d /tmp/cmk-interop-XXXXXX)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

# start NAME ARGS...: starts a vault in $work/NAME and sets url_NAME, state_NAME
start() {
    local name="$1"
    shift
    mkdir -m 0700 "$work/$name"
    "$bin" --state "$work/$name/state" --listen 127.0.0.1:0 --throttle off "$@" \
        > "$work/$name/out" 2> "$work/$name/err" &
    pids+=("$!")
    local line="" i
    for ((i = 0; i < 300; i++)); do # poll the ready line, 30 s at most
        line="$(grep -m1 '^vault-mock ready ' "$work/$name/out" || true)"
        [ -n "$line" ] && break
        if ! kill -0 "${pids[-1]}" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    if [ -z "$line" ]; then
        echo "interop: vault-mock $name did not start:" >&2
        cat "$work/$name/err" >&2
        exit 1
    fi
    local url state
    url="$(sed -n 's/.* url=\([^ ]*\).*/\1/p' <<< "$line")"
    state="$(sed -n 's/.* state=\([^ ]*\).*/\1/p' <<< "$line")"
    printf -v "url_$name" '%s' "$url"
    printf -v "state_$name" '%s' "$state"
}

start main
start nopurge --purge-protection off
# one CA file that holds both vaults' CAs
cat "$state_main/ca.pem" "$state_nopurge/ca.pem" > "$work/ca.pem"
NODE_PATH="$here/node_modules" NODE_EXTRA_CA_CERTS="$work/ca.pem" \
    node "$here/js-sdk-check.js" "$url_main" "$state_main/tokens.json" \
    "$url_nopurge" "$state_nopurge/tokens.json"
