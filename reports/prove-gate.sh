#!/usr/bin/env bash
# prove-gate.sh - show, with figures, that the regression gate
#   1. flags an injected 10% slowdown of one engine path
#      (ENG_TEST_SLOWDOWN=gcm:10 makes every GCM batch do 10% more cipher
#      work, so engine gcm / raw ratios drop by about 9%), and
#   2. stays quiet on A/A pairs: two runs of the same build.
# Both use the gate as CI does: ratios measured in one run (--absolute off).
# The A/A pairs are also judged with absolute figures (same machine) for
# comparison. The last lines are the summary.
#
# Usage: reports/prove-gate.sh            (defaults below)
#   PAIRS=20    A/A pairs
#   TRIES=10    slowdown tries (each: a clean run, then a slowed run)
#   FILTER=gcm  cells measured (cmk-bench --filter)
#   SAMPLES=    samples per cell (empty: the quick profile's 5)
#   SLOW=gcm:10 the injected slowdown
#   ALPHA=0.01 MIN_EFFECT=0.05
set -euo pipefail
cd "$(dirname "$0")/.."

PAIRS=${PAIRS:-20}
TRIES=${TRIES:-10}
FILTER=${FILTER:-gcm}
SAMPLES=${SAMPLES:-}
SLOW=${SLOW:-gcm:10}
ALPHA=${ALPHA:-0.01}
MIN_EFFECT=${MIN_EFFECT:-0.05}
SLOW_MODE=${SLOW%%:*}

make -s -j2 bin/cmk-bench bin/cmk-gate >/dev/null
work=$(mktemp -d /tmp/prove-gate.XXXXXX)
trap 'rm -rf "$work"' EXIT

bench() { # bench OUTDIR [env...]
    local out=$1
    shift
    env "$@" bin/cmk-bench --profile quick --filter "$FILTER" ${SAMPLES:+--samples "$SAMPLES"} \
        --out "$out" >"$out.log" 2>&1 || { cat "$out.log" >&2; exit 2; }
}

gate() { # gate BASE NEW OUTDIR ABSOLUTE -> exit code of cmk-gate
    local rc=0
    bin/cmk-gate --baseline "$1/bench.json" --new "$2/bench.json" --out "$3" --absolute "$4" \
        --alpha "$ALPHA" --min-effect "$MIN_EFFECT" >"$3.md" 2>&1 || rc=$?
    [ "$rc" -le 1 ] || { cat "$3.md" >&2; exit 2; }
    return "$rc"
}

# change of every engine/raw ratio of the slowed mode, from gate.json
changes() {
    python3 - "$1/gate.json" "$SLOW_MODE" <<'EOF' 2>/dev/null || echo "(python3 missing: see $1/gate.md)"
import json, sys
g = json.load(open(sys.argv[1]))
ms = [m for m in g["metrics"] if m["type"] == "engine/raw" and m["change"] is not None
      and (" " + sys.argv[2] + " ") in m["name"]]
flagged = sum(m["verdict"] == "REGRESSION" for m in ms)
print("%d of %d %s ratios flagged; changes %s" % (flagged, len(ms), sys.argv[2],
      " ".join("%+.1f%%" % (100 * m["change"]) for m in ms)))
EOF
}

alarms() { grep -c '| \*\*REGRESSION\*\* |' "$1.md" || true; }

samples_txt=${SAMPLES:-5 (quick profile)}
echo "prove-gate: filter '$FILTER', samples per cell $samples_txt, alpha $ALPHA, minimum effect $MIN_EFFECT"
echo "prove-gate: load average at start: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

flagged=0
other=0
for t in $(seq 1 "$TRIES"); do
    bench "$work/clean$t"
    bench "$work/slow$t" ENG_TEST_SLOWDOWN="$SLOW"
    if gate "$work/clean$t" "$work/slow$t" "$work/g-slow$t" off; then
        verdict="pass (missed)"
    else
        verdict="REGRESSION"
        flagged=$((flagged + 1))
    fi
    # a flag on a metric of another mode would be a false alarm
    n_other=$(grep '| \*\*REGRESSION\*\* |' "$work/g-slow$t.md" | grep -vc " $SLOW_MODE " || true)
    other=$((other + n_other))
    echo "slowdown try $t: $verdict; $(changes "$work/g-slow$t")"
done

quiet=0
quiet_abs=0
for i in $(seq 1 "$PAIRS"); do
    bench "$work/a$i"
    bench "$work/b$i"
    r="pass"
    if gate "$work/a$i" "$work/b$i" "$work/g-aa$i" off; then
        quiet=$((quiet + 1))
    else
        r="ALARM ($(alarms "$work/g-aa$i") metrics)"
    fi
    ra="pass"
    if gate "$work/a$i" "$work/b$i" "$work/g-aaabs$i" on; then
        quiet_abs=$((quiet_abs + 1))
    else
        ra="ALARM ($(alarms "$work/g-aaabs$i") metrics)"
    fi
    echo "A/A pair $i: ratios $r; with absolute figures $ra"
done

echo "prove-gate: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "RESULT slowdown $SLOW flagged in $flagged of $TRIES tries ($other flags on other modes)"
echo "RESULT A/A ratios: no alarm in $quiet of $PAIRS pairs"
echo "RESULT A/A ratios + absolute figures: no alarm in $quiet_abs of $PAIRS pairs"
