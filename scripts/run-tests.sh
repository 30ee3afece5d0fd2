#!/usr/bin/env bash
# run-tests.sh - run each test program, keep going past failures, and close
# with one line "tests: N passed, N failed" counted from Criterion's
# "Synthesis:" lines (or 1 per plain program by its exit code). $VALGRIND,
# when set, is the command prefix each test program runs under. The failure
# lines of every failed suite (Criterion's "[----]", "[FAIL]" and crash
# lines, or a plain program's last lines) are repeated just before the
# closing line, so a log that keeps only its tail still says what failed.
set -u
pass=0
fail=0
bad=()
why=$(mktemp)
trap 'rm -f "$why"' EXIT
for t in "$@"; do
    [ -x "$t" ] || { echo "run-tests: $t is not built" >&2; fail=$((fail + 1)); bad+=("$t"); continue; }
    echo "=== $t"
    out=$(mktemp)
    ${VALGRIND:-} "$t" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    syn=$(grep -a 'Synthesis:' "$out" | tail -1)
    if [ -n "$syn" ]; then
        p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$syn")
        f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$syn")
        c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$syn")
        pass=$((pass + ${p:-0}))
        fail=$((fail + ${f:-0} + ${c:-0}))
        if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ] && [ "${c:-0}" -eq 0 ]; then
            fail=$((fail + 1))
        fi
    elif [ "$rc" -eq 0 ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
    fi
    if [ "$rc" -ne 0 ]; then
        bad+=("$t")
        {
            echo "--- $t (exit $rc)"
            lines=$(grep -a -E '^\[(----|FAIL|ERR|WARN)\]|CRASH|Timed out|Assertion|Segmentation|Aborted' "$out" | head -40)
            if [ -n "$lines" ]; then echo "$lines"; else tail -n 15 "$out"; fi
        } >>"$why"
    fi
    rm -f "$out"
done
if [ ${#bad[@]} -gt 0 ]; then
    echo "=== failures, repeated"
    cat "$why"
    echo "failed suites: ${bad[*]}"
fi
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
