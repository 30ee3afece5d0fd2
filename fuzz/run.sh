#!/usr/bin/env bash
# fuzz/run.sh BIN_DIR OUT_DIR SECONDS "EXTRA_ARGS" NAME... - run each libFuzzer
# target for SECONDS from its committed seeds (fuzz/corpus/NAME, read only)
# plus the inputs earlier runs found (OUT_DIR/corpus/NAME, where new ones
# go). Fixed seed (-seed=1) so a run is repeatable on the same machine.
# A crash, leak, timeout, out-of-memory or sanitizer report fails the
# target; its input is kept in OUT_DIR/crashes/. One line per target with
# runs, coverage and speed, then "fuzz: N passed, N failed".
set -uo pipefail
bin=$1 out=$2 secs=$3 extra=$4
shift 4
passed=0 failed=0
mkdir -p "$out/crashes" "$out/logs"
# Temporary files of the targets (key file, vault state): on tmpfs when
# there is one, removed after each target even if it crashed.
tmp_base=/tmp
[ -w /dev/shm ] && tmp_base=/dev/shm
export FUZZ_TMPDIR="$tmp_base/cmk-fuzz-$$"
trap 'rm -rf "$FUZZ_TMPDIR"' EXIT
for name in "$@"; do
    work="$out/corpus/$name"
    log="$out/logs/$name.log"
    mkdir -p "$work" "$FUZZ_TMPDIR"
    # shellcheck disable=SC2086
    "$bin/fuzz_$name" -seed=1 -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/crashes/$name-" $extra \
        "$work" "fuzz/corpus/$name" >"$log" 2>&1
    rc=$?
    rm -rf "$FUZZ_TMPDIR"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov=\1 ft=\2 corpus=\3/p' <<<"$last")
    # libFuzzer's -timeout is wall-clock time: on a loaded machine a niced
    # run can be starved past it. The targets are deterministic, so a timeout
    # unit is replayed alone; one that then runs within a second was the
    # machine, not the code (the run still stopped early: its runs say so).
    unit=$(sed -n 's/.*Test unit written to \(.*timeout-[0-9a-f]*\).*/\1/p' "$log" | tail -1)
    if [ "$rc" -ne 0 ] && [ -n "$unit" ] && [ -f "$unit" ]; then
        t0=$(date +%s%N)
        "$bin/fuzz_$name" -timeout=25 -rss_limit_mb=2048 "$unit" >"$log.replay" 2>&1
        rrc=$?
        ms=$((($(date +%s%N) - t0) / 1000000))
        if [ "$rrc" -eq 0 ] && [ "$ms" -lt 1000 ]; then
            passed=$((passed + 1))
            echo "fuzz: $name ok, stopped early: ${secs}s runs=${runs:-?} ${cov:-}; a timeout under load that the unit does not repeat alone (${ms} ms; $unit)"
            continue
        fi
    fi
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "fuzz: $name ok: ${secs}s runs=${runs:-?} exec/s=${speed:-?} ${cov:-}"
    else
        failed=$((failed + 1))
        echo "fuzz: $name FAILED (exit $rc): ${secs}s runs=${runs:-?} ${cov:-}; log $log"
        grep -E 'ERROR|SUMMARY|Test unit written|deadly signal' "$log" | head -5 | sed 's/^/    /'
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
