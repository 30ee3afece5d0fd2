#!/usr/bin/env bash
# valgrind-tests.sh - run each test program under valgrind memcheck, on the
# narrow CPU path (ENG_ARCH=avx2: valgrind cannot run AVX-512), following
# every child (Criterion workers, bin/vault-mock, bin/cmk, sh).
#
#   scripts/valgrind-tests.sh [-o LOGDIR] TEST...
#
# Per test program: LOGDIR/<name>/output.txt (what the program printed) and
# LOGDIR/<name>/vg.<pid>.log (one valgrind log per process). A program is
# clean when it exits 0 and every process log ends with
# "ERROR SUMMARY: 0 errors" (a SIGKILLed child writes no summary: its log
# must then hold no error report either). Memory errors count, leaks do not
# (killed children and Criterion's own worker model leave reachable memory).
# Heavy tests read CMK_UNDER_VALGRIND=1 to cut their iteration counts;
# AVX-512-only tests skip. Suppressions: scripts/valgrind.supp (each entry
# says why it is a library false positive).
# Closing line: "valgrind: N tests, N clean, total T s"; exit 1 unless all clean.
set -u
logdir=build/valgrind
if [ "${1:-}" = "-o" ]; then
    logdir=$2
    shift 2
fi
here=$(cd "$(dirname "$0")" && pwd)
supp="$here/valgrind.supp"
export ENG_ARCH=avx2 CMK_UNDER_VALGRIND=1
total=0
clean=0
bad=()
t0=$(date +%s)
for t in "$@"; do
    total=$((total + 1))
    name=$(basename "$t")
    d="$logdir/$name"
    rm -rf "$d"
    mkdir -p "$d"
    d=$(cd "$d" && pwd) # absolute: tests start children in other folders (cd DIR && cmk ...)
    if [ ! -x "$t" ]; then
        echo "valgrind: $t is not built" | tee "$d/output.txt"
        bad+=("$name")
        continue
    fi
    s=$(date +%s)
    echo "=== $t (valgrind)"
    valgrind --tool=memcheck --trace-children=yes --child-silent-after-fork=no \
        --leak-check=no --error-exitcode=99 --suppressions="$supp" \
        --log-file="$d/vg.%p.log" "$t" >"$d/output.txt" 2>&1
    rc=$?
    errs=0
    for f in "$d"/vg.*.log; do
        [ -e "$f" ] || continue
        if grep -q 'ERROR SUMMARY:' "$f"; then
            grep -q 'ERROR SUMMARY: 0 errors' "$f" || errs=$((errs + 1))
        elif grep -Eq '^==[0-9]+== +(Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination|Argument)' "$f"; then
            errs=$((errs + 1))
        fi
    done
    grep -a 'Synthesis:' "$d/output.txt" | tail -1
    secs=$(($(date +%s) - s))
    if [ "$rc" -eq 0 ] && [ "$errs" -eq 0 ]; then
        clean=$((clean + 1))
        echo "    clean in ${secs} s"
    else
        bad+=("$name")
        echo "    NOT CLEAN in ${secs} s: exit $rc, $errs process log(s) with errors (see $d)"
    fi
done
[ ${#bad[@]} -gt 0 ] && echo "valgrind: not clean: ${bad[*]}"
echo "valgrind: $total tests, $clean clean, total $(($(date +%s) - t0)) s"
[ "$clean" -eq "$total" ]
