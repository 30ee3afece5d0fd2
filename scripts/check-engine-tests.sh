#!/usr/bin/env bash
# check-engine-tests.sh - every engine source file (engine/src/*.c, engine/cli/*.c)
# has a row in engine/tests/README.md's table "Which test covers which source
# file", and every test file a row names exists in engine/tests/. Run by
# `make test`; exit 1 with one line per problem, else 0 and one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
table=engine/tests/README.md
bad=0
rows=0
for src in engine/src/*.c engine/cli/*.c; do
    row=$(grep -E "^\| *\`?${src//./\\.}\`? *\|" "$table" || true)
    if [ -z "$row" ]; then
        echo "check-engine-tests: $src has no row in $table (add the tests that cover it)" >&2
        bad=1
        continue
    fi
    rows=$((rows + 1))
    tests=$(awk -F'|' '{print $3}' <<<"$row" | tr ',' ' ')
    if [ -z "${tests// /}" ]; then
        echo "check-engine-tests: $src: its row in $table names no test" >&2
        bad=1
    fi
    for t in $tests; do
        t=${t//\`/}
        if [ ! -f "engine/tests/$t" ]; then
            echo "check-engine-tests: $src: $table names engine/tests/$t, which does not exist" >&2
            bad=1
        fi
    done
done
if [ "$bad" -ne 0 ]; then
    exit 1
fi
echo "check-engine-tests: $rows engine source files, each with its tests in $table"
