#!/usr/bin/env bash
# prove-gate.sh - show, with figures, what the regression gate does: by default
# (MODE=ab) the same-job A/B gate, see below; with MODE=baseline ONE new run
# judged against a multi-run baseline (the gate before the A/B one):
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
# Usage: MODE=baseline reports/prove-gate.sh            (defaults below)
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

# ---------------------------------------------------------------------------
# MODE=ab (the default): the same-job A/B gate as `make gate` runs it
# (reports/gate-ab.sh: the reference build GATE_BASE against this tree's build
# in interleaved rounds). Per iteration, one gate run each of:
#   - the new build slowed with ENG_TEST_SLOWDOWN=gcm:10, then xts:10: is a metric
#     of the slowed mode (engine or store cells of it, and their ratios)
#     flagged? A flag on any other metric is counted apart;
#   - A/A: the new build unchanged (its engine is the reference's: any alarm is false);
#   - ENG_TEST_SLOWDOWN=gcm:5: the detection rate of a 5% slowdown, whatever it is.
#   TRIES=10 slowed runs of each mode, PAIRS=20 A/A runs, SMALL=10 runs at 5%
#   (runs of one kind stop when their count is reached); AB_ROUNDS, AB_SAMPLES,
#   GATE_BASE as for gate-ab.sh; KEEP=DIR keeps every verdict.
# MODE=baseline: the committed multi-run baseline model (below).
# ---------------------------------------------------------------------------
MODE=${MODE:-ab}
if [ "$MODE" = ab ]; then
    TRIES=${TRIES:-10}
    PAIRS=${PAIRS:-20}
    SMALL=${SMALL:-10}
    SLOWS=${SLOWS:-gcm:10 xts:10}
    SMALL_SLOW=${SMALL_SLOW:-gcm:5}
    KEEP=${KEEP:-}
    if [ -n "$KEEP" ]; then
        mkdir -p "$KEEP"
        work=$KEEP
    else
        work=$(mktemp -d /tmp/prove-gate-ab.XXXXXX)
        trap 'rm -rf "$work"' EXIT
    fi
    # abgate OUT [ENV] -> exit code of gate-ab.sh; its verdict in OUT/gate.json
    abgate() {
        local rc=0
        REP_OUT=$1 GATE_NEW_ENV=${2:-} reports/gate-ab.sh >"$1.log" 2>&1 || rc=$?
        [ "$rc" -le 1 ] || { tail -30 "$1.log" >&2; exit 2; }
        return "$rc"
    }
    # flagged metrics in OUT/gate.json: "IN OTHER", IN of mode MODE (engine/store cells of it, their ratios)
    count() {
        python3 - "$1/gate.json" "$2" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
mode = sys.argv[2]
inm = oth = 0
for m in g["metrics"]:
    if m["verdict"] != "REGRESSION":
        continue
    n = m["name"]
    if n.startswith("engine %s " % mode) or n.startswith("store %s " % mode):
        inm += 1
    else:
        oth += 1
print(inm, oth)
EOF
    }
    names() {
        python3 -c 'import json,sys; print("; ".join("%s %+.1f%%" % (m["name"], 100 * m["change"]) for m in json.load(open(sys.argv[1]))["metrics"] if m["verdict"] == "REGRESSION"))' "$1/gate.json"
    }
    echo "prove-gate: A/B mode; TRIES=$TRIES per slowdown ($SLOWS), PAIRS=$PAIRS A/A, SMALL=$SMALL at $SMALL_SLOW;" \
        "AB_ROUNDS=${AB_ROUNDS:-8} AB_SAMPLES=${AB_SAMPLES:-3}; load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
    t0=$(date +%s)
    declare -A hit other failed
    quiet=0 small_hit=0 nrun=0 tsum=0
    n=$((TRIES > PAIRS ? TRIES : PAIRS))
    n=$((SMALL > n ? SMALL : n))
    for k in $(seq 1 "$n"); do
        kinds=()
        if [ "$k" -le "$TRIES" ]; then
            for s in $SLOWS; do kinds+=("slow:$s"); done
        fi
        if [ "$k" -le "$PAIRS" ]; then kinds+=("aa"); fi
        if [ "$k" -le "$SMALL" ]; then kinds+=("small:$SMALL_SLOW"); fi
        for kind in "${kinds[@]}"; do
            out=$work/${kind//:/-}-$k
            ts=$(date +%s)
            rc=0
            case $kind in
                slow:*)
                    s=${kind#slow:}
                    abgate "$out" "ENG_TEST_SLOWDOWN=$s" || rc=$?
                    read -r inm oth < <(count "$out" "${s%%:*}")
                    if [ "$inm" -gt 0 ]; then hit[$s]=$((${hit[$s]:-0} + 1)); fi
                    other[$s]=$((${other[$s]:-0} + oth))
                    if [ "$rc" -eq 1 ]; then failed[$s]=$((${failed[$s]:-0} + 1)); fi
                    echo "slowed $s run $k: exit $rc, $inm ${s%%:*} and $oth other metrics flagged" \
                        "($(($(date +%s) - ts)) s, load $(cut -d' ' -f1 /proc/loadavg)): $(names "$out")"
                    ;;
                aa)
                    abgate "$out" || rc=$?
                    if [ "$rc" -eq 0 ]; then quiet=$((quiet + 1)); fi
                    echo "A/A run $k: exit $rc ($(($(date +%s) - ts)) s, load $(cut -d' ' -f1 /proc/loadavg))" \
                        "$(names "$out")"
                    ;;
                small:*)
                    s=${kind#small:}
                    abgate "$out" "ENG_TEST_SLOWDOWN=$s" || rc=$?
                    read -r inm oth < <(count "$out" "${s%%:*}")
                    if [ "$inm" -gt 0 ]; then small_hit=$((small_hit + 1)); fi
                    other[$s]=$((${other[$s]:-0} + oth))
                    echo "slowed $s run $k: exit $rc, $inm ${s%%:*} and $oth other metrics flagged" \
                        "($(($(date +%s) - ts)) s, load $(cut -d' ' -f1 /proc/loadavg)): $(names "$out")"
                    ;;
            esac
            nrun=$((nrun + 1))
            tsum=$((tsum + $(date +%s) - ts))
        done
    done
    echo "prove-gate: $nrun A/B gate runs in $(($(date +%s) - t0)) s (mean $((tsum / nrun)) s a run);" \
        "load at end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "RESULT A/B gate: AB_ROUNDS=${AB_ROUNDS:-8} AB_SAMPLES=${AB_SAMPLES:-3}, reference" \
        "$(git rev-parse --short=12 "${GATE_BASE:-$(cat reports/baseline/BASE)}"), alpha 0.01 (Holm), minimum effect 5%"
    for s in $SLOWS; do
        echo "RESULT slowdown $s flagged in ${hit[$s]:-0} of $TRIES A/B runs (${other[$s]:-0} flags on other modes;" \
            "gate failed in ${failed[$s]:-0})"
    done
    echo "RESULT A/A (identical engine): no alarm in $quiet of $PAIRS"
    echo "RESULT slowdown $SMALL_SLOW detected in $small_hit of $SMALL A/B runs (${other[$SMALL_SLOW]:-0} flags on other modes)"
    exit 0
fi


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
