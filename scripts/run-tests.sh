#!/usr/bin/env bash
# run-tests.sh - run each test program, keep going past failures, and close
# with one line "tests: N passed, N failed" counted from Criterion's
# "Synthesis:" lines (or 1 per plain program by its exit code). $VALGRIND,
# when set, is the command prefix each test program runs under.
set -u
pass=0
fail=0
bad=()
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
    [ "$rc" -ne 0 ] && bad+=("$t")
    rm -f "$out"
done
[ ${#bad[@]} -gt 0 ] && echo "failed suites: ${bad[*]}"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
