#!/usr/bin/env bash
# gate-ab.sh - the same-job A/B regression gate (`make gate`).
#
#   1. builds the reference commit (GATE_BASE, default the commit in
#      reports/baseline/BASE, which `make baseline` writes) in its own git
#      worktree and build folder, GATE_REF_DIR/tree (default build/gate-ref/tree,
#      objects in build/gate-ref/tree/build/release), next to this tree's build;
#   2. runs both builds' cmk-bench in AB_ROUNDS interleaved rounds on this
#      machine, with the same cells: reference, new, new, reference, reference,
#      new, ... (the order alternates, so that "ran second" is no advantage for
#      either build), each run AB_SAMPLES samples per cell;
#   3. `cmk-gate --ab` judges every metric (ratios and absolute figures) on its
#      per-round paired differences (exit 1 on a regression, 2 when fewer than
#      90% of the metrics have a counterpart: see reports/README.md);
#   4. as a second opinion, the committed multi-run baseline of this machine's
#      CPU class (reports/baseline/bench-quick-CLASS.json), if there is one, judges
#      the first new run (ratios only); it is reported, it does not decide.
#
# Environment:
#   GATE_BASE=COMMIT   the reference (default: reports/baseline/BASE)
#   AB_ROUNDS=8        rounds (each: one run of each build)
#   AB_SAMPLES=3       samples per cell per run (cmk-bench --samples)
#   AB_FILTER=F        cells (cmk-bench --filter, substrings separated by |; default
#                      'engine |raw |ceiling |store ': every throughput cell of the quick profile)
#   GATE_REF_DIR=DIR   where the reference worktree and build go (default build/gate-ref)
#   REP_OUT=DIR        outputs: gate.md, gate.json, gate-junit.xml, gate-ab/ (the rounds)
#   GATE_ARGS=...      more cmk-gate options (--alpha, --min-effect, --retired FILE)
#   GATE_NEW_ENV=...   environment for the NEW build's runs only (proving the gate:
#                      GATE_NEW_ENV=ENG_TEST_SLOWDOWN=gcm:10)
# Exit: cmk-gate's (0 pass, 1 regression, 2 input error or too few metrics in common).
set -euo pipefail
cd "$(dirname "$0")/.."

AB_ROUNDS=${AB_ROUNDS:-8}
AB_SAMPLES=${AB_SAMPLES:-3}
# Every throughput cell of the quick profile (engine, raw, ceiling, store): the
# vault, latency and rotation cells time a local HTTP server, which on a shared
# machine moves by more than a build does, and take most of a quick run's time.
AB_FILTER=${AB_FILTER-engine |raw |ceiling |store }
GATE_REF_DIR=${GATE_REF_DIR:-build/gate-ref}
REP_OUT=${REP_OUT:-reports/out}
GATE_ARGS=${GATE_ARGS:-}
GATE_NEW_ENV=${GATE_NEW_ENV:-}

die() {
    echo "gate-ab: $*" >&2
    exit 2
}
# make without the calling make's flags (make gate runs this script)
submake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make "$@"; }

t0=$(date +%s)
base=${GATE_BASE:-}
if [ -z "$base" ]; then
    [ -f reports/baseline/BASE ] || die "no reference commit: set GATE_BASE=COMMIT or record one with 'make baseline' (reports/baseline/BASE)"
    base=$(tr -d ' \n' <reports/baseline/BASE)
fi
base_full=$(git rev-parse --verify --quiet "$base^{commit}") ||
    die "reference commit '$base' is not in this clone (a shallow CI clone needs 'git fetch --unshallow', or set GATE_BASE)"
ref_label=$(git rev-parse --short=12 "$base_full")
new_label=$(git rev-parse --short=12 HEAD)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)

# 1. the reference build, in its own worktree (reused while it is at the same commit)
tree=$GATE_REF_DIR/tree
if [ -d "$tree" ] && [ "$(git -C "$tree" rev-parse HEAD 2>/dev/null)" != "$base_full" ]; then
    git worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
fi
if [ ! -d "$tree" ]; then
    git worktree prune
    mkdir -p "$GATE_REF_DIR"
    git worktree add --detach "$tree" "$base_full" >/dev/null 2>&1 || die "cannot check out $ref_label into $tree"
fi
echo "gate-ab: reference $ref_label in $tree; new $new_label (this tree)"
submake -C "$tree" -j2 bin/cmk-bench >"$GATE_REF_DIR/build.log" 2>&1 ||
    { tail -20 "$GATE_REF_DIR/build.log" >&2; die "the reference build failed (log: $GATE_REF_DIR/build.log)"; }
submake -s -j2 bin/cmk-bench bin/cmk-gate >/dev/null
t_built=$(date +%s)
echo "gate-ab: both builds ready in $((t_built - t0)) s"

# 2. interleaved rounds
work=$REP_OUT/gate-ab
rm -rf "$work"
mkdir -p "$work"
run() { # run WHICH ROUND
    local bin=bin/cmk-bench commit=$new_label envs=$GATE_NEW_ENV out=$work/$1-$(printf %02d "$2")
    if [ "$1" = ref ]; then
        bin=$tree/bin/cmk-bench commit=$ref_label envs=
    fi
    # shellcheck disable=SC2086 # GATE_NEW_ENV holds NAME=VALUE words
    (cd "$(dirname "$bin")/.." && env $envs bin/cmk-bench --profile quick --samples "$AB_SAMPLES" \
        ${AB_FILTER:+--filter "$AB_FILTER"} --commit "$commit" --out "$out") >"$out.log" 2>&1 ||
        { cat "$out.log" >&2; die "cmk-bench of the $1 build failed in round $2"; }
}
case "$work" in /*) ;; *) work=$PWD/$work ;; esac
for i in $(seq 1 "$AB_ROUNDS"); do
    if [ $((i % 2)) -eq 1 ]; then
        run ref "$i"
        run new "$i"
    else
        run new "$i"
        run ref "$i"
    fi
    echo "gate-ab: round $i of $AB_ROUNDS done (load $(cut -d' ' -f1 /proc/loadavg))"
done
t_measured=$(date +%s)

# 3. the A/B verdict
rc=0
# shellcheck disable=SC2086 # GATE_ARGS holds options
bin/cmk-gate --ab "$work" --out "$REP_OUT" $GATE_ARGS || rc=$?

# 4. the second opinion: the committed baseline of this CPU class
class=$(bin/cmk-gate --cpu-class "$work/new-01/bench.json" 2>/dev/null || echo unknown)
file=reports/baseline/bench-quick-$class.json
if [ -f "$file" ]; then
    src=0
    bin/cmk-gate --baseline "$file" --new "$work/new-01/bench.json" --absolute off --out "$REP_OUT/gate-baseline" \
        >"$REP_OUT/gate-baseline.md" 2>"$REP_OUT/gate-baseline.err" || src=$?
    case $src in
        0) v="PASS" ;;
        1) v="REGRESSION" ;;
        *) v="no verdict (exit $src: $(head -c 300 "$REP_OUT/gate-baseline.err"))" ;;
    esac
    echo "gate-ab: second opinion: CPU class $class, committed baseline $file judging the first new run: $v" \
        "(see $REP_OUT/gate-baseline.md; it does not decide)"
else
    echo "gate-ab: second opinion: none: no committed baseline for CPU class $class ($file); the A/B verdict alone decides"
fi
t1=$(date +%s)
echo "gate-ab: $AB_ROUNDS rounds of $AB_SAMPLES samples; build $((t_built - t0)) s, measuring $((t_measured - t_built)) s," \
    "$((t1 - t0)) s in all; exit $rc"
exit "$rc"
