#!/usr/bin/env bash
# e2e.sh TARGET - PostgreSQL end to end on one filesystem target (make test
# runs it through db/tests/test_pg_e2e.c): mount, initdb --data-checksums,
# pgbench -i -s 1, count pgbench_accounts, pgbench -t 200 -c 1, stop, unmount,
# and check that nothing of the run is left mounted or running. Prints
# key=value lines (root, accounts, tps, failed, leftovers). Exit 0 ok,
# 1 failure, 2 usage, 77 target not available here.
#
# For the harness's own tests: DB_E2E_FAIL_AT=started makes the run fail
# (exit 1) with the server running on the mount; DB_E2E_WAIT_AT=started
# prints "stage=started" and waits there for a signal.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: e2e.sh TARGET" >&2; exit 2; }
t=$1
rc=0
"$here/target.sh" check "$t" >/dev/null || rc=$?
if [ $rc -ne 0 ]; then
    [ $rc -eq 77 ] && { "$here/target.sh" check "$t"; exit 77; }
    "$here/target.sh" check "$t"
    exit "$rc"
fi

# shellcheck source=lib.sh
. "$here/lib.sh"
db_root_make
echo "root=$DB_ROOT"
db_up "$t" "$t"
data="$DB_ROOT/$t.mnt/pgdata"
db_pg_init "$data"
"$here/pg.sh" start "$data"

if [ "${DB_E2E_FAIL_AT:-}" = started ]; then
    echo "stage=started"
    db_log "failing on purpose (DB_E2E_FAIL_AT=started)"
    exit 1
fi
if [ "${DB_E2E_WAIT_AT:-}" = started ]; then
    echo "stage=started"
    while :; do sleep 0.2; done
fi

"$here/pg.sh" pgbench "$data" -i -s 1 -q postgres >"$DB_ROOT/pgbench-init.log" 2>&1 ||
    { tail -n 20 "$DB_ROOT/pgbench-init.log" >&2; exit 1; }

accounts=$("$here/pg.sh" psql "$data" -At -d postgres -c 'SELECT count(*) FROM pgbench_accounts')
branches=$("$here/pg.sh" psql "$data" -At -d postgres -c 'SELECT count(*) FROM pgbench_branches')
echo "accounts=$accounts"
echo "branches=$branches"
"$here/pg.sh" pgbench "$data" -n -t 200 -c 1 postgres >"$DB_ROOT/pgbench.log" 2>&1 ||
    { tail -n 20 "$DB_ROOT/pgbench.log" >&2; exit 1; }
tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$DB_ROOT/pgbench.log" | tail -n 1)
failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$DB_ROOT/pgbench.log")
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$DB_ROOT/pgbench.log")
echo "tps=${tps:-missing}"
echo "failed=${failed:-missing}"
echo "processed=${processed:-missing}"
"$here/pg.sh" psql "$data" -At -d postgres -c 'CHECKPOINT' >/dev/null

# Stop and unmount here (not only in the exit trap) to check the result.
root=$DB_ROOT
# shellcheck disable=SC2034 # read by db_cleanup (lib.sh)
DB_KEEP=1
trap - EXIT
db_cleanup_rc=0
(db_cleanup) || db_cleanup_rc=$?
left=$(db_leftovers)
echo "leftovers=$(printf '%s' "$left" | grep -c . || true)"
[ -z "$left" ] || printf '%s\n' "$left" >&2
[ -n "$left" ] || rm -rf "$root"
bad=()
[ "$db_cleanup_rc" -eq 0 ] || bad+=("stop/unmount failed (exit $db_cleanup_rc)")
[ "$accounts" = 100000 ] || bad+=("pgbench_accounts has $accounts rows, not 100000")
[ "$branches" = 1 ] || bad+=("pgbench_branches has $branches rows, not 1")
[ "${failed:-x}" = 0 ] || bad+=("failed transactions: ${failed:-not reported}")
[ "${processed:-x}" = 200 ] || bad+=("processed ${processed:-no} transactions, not 200")
[ -n "$tps" ] || bad+=("pgbench reported no tps")
[ -z "$left" ] || bad+=("left behind: $(printf '%s' "$left" | tr '\n' ';')")
if [ ${#bad[@]} -gt 0 ]; then
    printf 'e2e: %s: %s\n' "$t" "${bad[@]}" >&2
    exit 1
fi
echo "e2e: $t ok"
