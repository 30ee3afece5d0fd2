#!/usr/bin/env bash
# load-test.sh - vault-mock under concurrent unwrapkey at its maximum rate,
# from a separate load process on loopback (bin/vault-mock-bench), for
# LOAD_SECONDS (default 120). Checks and prints:
#   - errors beyond configured throttling (throttling is off here): must be 0
#   - resident memory of the server, sampled every 5 s: growth after the
#     warm-up (the first WARMUP_SECONDS, default 20) must stay under 5%
#   - one audit line per request: unwrapkey audit lines == requests sent
# Usage: vault-mock/tests/load-test.sh   (make vault-load)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${LOAD_SECONDS:-120}
WARM=${WARMUP_SECONDS:-20}
THREADS=${LOAD_THREADS:-2}
BITS=${LOAD_RSA_BITS:-2048}
work=$(mktemp -d /tmp/vmock-load.XXXXXX)
chmod 700 "$work"
srv=""
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

bin/vault-mock --state "$work/state" --listen 127.0.0.1:0 --throttle off >"$work/ready" 2>"$work/stderr" &
srv=$!
for _ in $(seq 1 100); do grep -q 'ready' "$work/ready" 2>/dev/null && break; sleep 0.1; done
grep -q 'ready' "$work/ready" || { echo "load-test: vault-mock did not start"; cat "$work/stderr"; exit 1; }
url=$(sed -n 's/.* url=\([^ ]*\).*/\1/p' "$work/ready")
ca=$(sed -n 's/.* ca=\([^ ]*\).*/\1/p' "$work/ready")
audit=$(sed -n 's/.* audit=\([^ ]*\).*/\1/p' "$work/ready")
tok() { sed -n "s/.*\"$1\":[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$work/state/tokens.json"; }
officer=$(tok keyofficer)
service=$(tok dbservice)
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ca" -X POST \
    -H "Authorization: Bearer $officer" -H 'Content-Type: application/json' \
    -d "{\"kty\":\"RSA\",\"key_size\":$BITS}" "$url/keys/loadkey/create?api-version=7.4")
[ "$code" = 200 ] || { echo "load-test: create answered $code"; exit 1; }

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$srv/status"; }
(umask 077; printf '%s\n' "$service" >"$work/service.token")
bin/vault-mock-bench --url "$url" --ca "$ca" --token-file "$work/service.token" --key loadkey --op unwrapkey \
    --threads "$THREADS" --seconds "$SECS" >"$work/bench.out" 2>&1 &
load=$!
echo "load-test: $THREADS clients, unwrapkey RSA-$BITS, ${SECS} s, server pid $srv"
printf '%8s %10s\n' "t (s)" "RSS (KiB)" | tee "$work/rss"
t=0
warm_rss=""
max_after=0
while kill -0 "$load" 2>/dev/null; do
    r=$(rss)
    printf '%8d %10d\n' "$t" "$r" | tee -a "$work/rss"
    if [ "$t" -ge "$WARM" ]; then
        [ -z "$warm_rss" ] && warm_rss=$r
        [ "$r" -gt "$max_after" ] && max_after=$r
    fi
    sleep 5
    t=$((t + 5))
done
wait "$load" || true
cat "$work/bench.out"
requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' "$work/bench.out" | tail -1)
errors=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' "$work/bench.out" | tail -1)
sleep 0.5
lines=$(grep -c '"unwrapkey"' "$audit" || true)
growth=$(awk -v a="${warm_rss:-0}" -v b="$max_after" 'BEGIN { if (a > 0) printf "%.2f", 100 * (b - a) / a; else print "n/a" }')
echo
echo "| check | measured | bar | verdict |"
echo "|---|---|---|---|"
fail=0
v() { if [ "$1" = 1 ]; then echo PASS; else echo FAIL; fail=1; fi; }
echo "| errors (throttling off) | ${errors:-?} of ${requests:-?} requests | 0 | $(v $([ "${errors:-1}" = 0 ] && echo 1 || echo 0)) |"
echo "| RSS growth after ${WARM} s warm-up | ${growth}% (${warm_rss:-?} -> ${max_after} KiB max) | < 5% | $(v $(awk -v g="$growth" 'BEGIN { print (g != "n/a" && g < 5) ? 1 : 0 }')) |"
echo "| unwrapkey audit lines per request | ${lines} lines / ${requests:-?} requests | equal | $(v $([ "${lines}" = "${requests:-x}" ] && echo 1 || echo 0)) |"
exit "$fail"
