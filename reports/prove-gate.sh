#!/usr/bin/env bash
# prove-gate.sh - show, with figures, what the regression gate does in the
# configuration CI uses: ONE new run judged against a multi-run baseline.
#
#   1. records a baseline of R runs once (as `make baseline` does);
#   2. TRIES slowed runs (ENG_TEST_SLOWDOWN=gcm:10: every GCM batch does 10%
#      more cipher work, so engine gcm / raw ratios drop by up to ~9%), each
#      judged against that baseline: is a metric of the slowed mode flagged?
#      A flag on any other mode is a false alarm and is counted apart;
#   3. PAIRS clean runs of the same build, each judged against the same
#      baseline: any alarm is a false alarm (the A/A bar: >= 19 of 20 quiet).
# Slowed and clean runs alternate, so a change of the machine's state over
# the minutes this takes hits both alike. The gate runs as in CI (ratios
# only, --absolute off); clean runs are also judged with the absolute
# figures for comparison. The RESULT lines at the end are the summary.
#
# Usage: reports/prove-gate.sh            (defaults below)
#   R=5          baseline runs
#   TRIES=10     slowed runs
#   PAIRS=20     clean runs
#   FILTER=      cells measured (cmk-bench --filter; empty: every quick cell, as CI)
#   SAMPLES=15   samples per cell (as CI and make baseline)
#   SLOW=gcm:10  the injected slowdown
#   ALPHA=0.01 MIN_EFFECT=0.05
#   KEEP=DIR     keep every run and verdict in DIR (default: a temporary folder, removed)
#   BASE=FILE    judge against this baseline (e.g. the committed one, made by
#                `make baseline`) instead of recording R runs first
set -euo pipefail
cd "$(dirname "$0")/.."

R=${R:-5}
TRIES=${TRIES:-10}
PAIRS=${PAIRS:-20}
FILTER=${FILTER:-}
SAMPLES=${SAMPLES:-15}
SLOW=${SLOW:-gcm:10}
ALPHA=${ALPHA:-0.01}
MIN_EFFECT=${MIN_EFFECT:-0.05}
KEEP=${KEEP:-}
BASE=${BASE:-}
SLOW_MODE=${SLOW%%:*}

make -s -j2 bin/cmk-bench bin/cmk-gate >/dev/null
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP"
    work=$KEEP
else
    work=$(mktemp -d /tmp/prove-gate.XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi

bench() { # bench OUTDIR [env...]
    local out=$1
    shift
    env "$@" bin/cmk-bench --profile quick ${FILTER:+--filter "$FILTER"} --samples "$SAMPLES" --commit "$commit" \
        --out "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 2; }
}

gate() { # gate NEW OUTDIR ABSOLUTE -> exit code of cmk-gate
    local rc=0
    bin/cmk-gate --baseline "$work/baseline.json" --new "$1/bench.json" --out "$2" --absolute "$3" \
        --alpha "$ALPHA" --min-effect "$MIN_EFFECT" >"$2.md" 2>"$2.err" || rc=$?
    [ "$rc" -le 1 ] || { cat "$2.md" "$2.err" >&2; exit 2; }
    return "$rc"
}

# flagged metrics of a verdict: all, of the slowed mode, of other modes
flags() { grep -c '| \*\*REGRESSION\*\* |' "$1.md" || true; }
flags_mode() { grep '| \*\*REGRESSION\*\* |' "$1.md" | grep -c "^| engine $SLOW_MODE " || true; }

# change of every ratio of the slowed mode, from gate.json
changes() {
    python3 - "$1/gate.json" "$SLOW_MODE" <<'EOF' 2>/dev/null || echo "(python3 missing: see $1.md)"
import json, sys
g = json.load(open(sys.argv[1]))
ms = [m for m in g["metrics"] if m["type"] == "engine/raw" and m["change"] is not None
      and m["name"].startswith("engine " + sys.argv[2] + " ")]
print("%s ratios: %s" % (sys.argv[2], " ".join("%+.1f%%" % (100 * m["change"]) for m in ms)))
EOF
}

load() { cut -d' ' -f1 /proc/loadavg; }

if [ -n "$BASE" ]; then
    R=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["runs"]))' "$BASE" 2>/dev/null || echo "?")
fi
echo "prove-gate: baseline of $R runs${BASE:+ ($BASE)}; filter '${FILTER:-(all quick cells)}', $SAMPLES samples per cell," \
     "alpha $ALPHA, minimum effect $MIN_EFFECT"
echo "prove-gate: load average at start: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
t0=$(date +%s)
if [ -n "$BASE" ]; then
    cp "$BASE" "$work/baseline.json"
else
    runs=()
    for i in $(seq 1 "$R"); do
        bench "$work/base$i"
        runs+=("$work/base$i/bench.json")
        echo "baseline run $i recorded (load $(load))"
    done
    bin/cmk-gate --make-baseline "$work/baseline.json" "${runs[@]}" >/dev/null
    echo "prove-gate: baseline recorded in $(($(date +%s) - t0)) s"
fi

flagged=0
failed_slow=0
other=0
quiet=0
quiet_abs=0
n=$((TRIES > PAIRS ? TRIES : PAIRS))
for k in $(seq 1 "$n"); do
    if [ "$k" -le "$TRIES" ]; then
        bench "$work/slow$k" ENG_TEST_SLOWDOWN="$SLOW"
        v="pass (missed)"
        if ! gate "$work/slow$k" "$work/g-slow$k" off; then
            failed_slow=$((failed_slow + 1))
            v="REGRESSION"
        fi
        nm=$(flags_mode "$work/g-slow$k")
        no=$(($(flags "$work/g-slow$k") - nm))
        other=$((other + no))
        [ "$nm" -gt 0 ] && flagged=$((flagged + 1))
        echo "slowed run $k (load $(load)): gate $v, $nm $SLOW_MODE and $no other metrics flagged; $(changes "$work/g-slow$k")"
    fi
    if [ "$k" -le "$PAIRS" ]; then
        bench "$work/clean$k"
        r="pass"
        if gate "$work/clean$k" "$work/g-clean$k" off; then
            quiet=$((quiet + 1))
        else
            r="ALARM ($(flags "$work/g-clean$k") metrics: $(grep '| \*\*REGRESSION\*\* |' "$work/g-clean$k.md" |
                cut -d'|' -f2,6 | tr -s ' ' | paste -sd';' -))"
        fi
        ra="pass"
        if gate "$work/clean$k" "$work/g-cleanabs$k" on; then
            quiet_abs=$((quiet_abs + 1))
        else
            ra="ALARM ($(flags "$work/g-cleanabs$k") metrics)"
        fi
        echo "clean run $k (load $(load)): ratios $r; with absolute figures $ra"
    fi
done

echo "prove-gate: load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $(($(date +%s) - t0)) s in all"
echo "RESULT R=$R baseline runs, TRIES=$TRIES, PAIRS=$PAIRS, filter '${FILTER:-(all quick cells)}', $SAMPLES samples, alpha $ALPHA, minimum effect $MIN_EFFECT"
echo "RESULT slowdown $SLOW flagged in $flagged of $TRIES slowed runs ($other flags on other modes; gate failed in $failed_slow)"
echo "RESULT clean runs (ratios, as CI): no alarm in $quiet of $PAIRS"
echo "RESULT clean runs (ratios + absolute figures): no alarm in $quiet_abs of $PAIRS"
