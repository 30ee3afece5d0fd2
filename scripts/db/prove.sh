#!/usr/bin/env bash
# prove.sh CONTROL - the database compliance controls (compliance/controls/comp_ctl_db.c runs
# them for `make compliance`): a real PostgreSQL 15 on a cmk-fs mount under a customer-managed
# key in a vault-mock started here (scripts/db/target.sh, pg.sh, lib.sh do the work).
#
#   prove.sh check   exit 0 when the controls can run here, else "skip: REASON" and exit 77
#   prove.sh del     DB-DEL: delete, then disable, the key while pgbench and two probe clients
#                    run; the time from the vault call to the first failed write and read
#                    (bound: PROVE_REVAL_S + 2 s); what PostgreSQL did; recover/re-enable,
#                    remount, crash recovery, every acknowledged commit present
#   prove.sh cov     DB-COV: canary rows, temporary files (work_mem 64kB, a large sort held
#                    open by a cursor, log_temp_files = 0), WAL, a checkpoint; every byte of the
#                    backing folder scanned (0 hits); the mount scanned as positive control
#   prove.sh bak     DB-BAK: a copy of the backing folder (ciphertext and key table) taken
#                    between pg_backup_start and pg_backup_stop, 0 canary hits; restored into a
#                    new folder, mounted, started, rows present; after a purge of the key the
#                    copy does not mount (exit 3); finding: a pg_basebackup to a plain folder
#   prove.sh crash   DB-CRASH: PROVE_CRASH_POINTS (20) kill -9 of cmk-fs under pgbench and an
#                    acknowledging client; after each: remount, crash recovery, every
#                    acknowledged commit present, count(*) of every table, pg_amcheck; at the
#                    end pg_checksums --check on the cleanly stopped cluster
#
# Output, one item a line: "ev: TEXT" evidence, "measured: TEXT", "fail: TEXT" (each failure),
# "pass: TEXT" (the verdict when nothing failed), "skip: REASON". Exit 0 pass, 1 fail,
# 2 usage, 77 skipped (no PostgreSQL 15, not root, no FUSE, cmk-fs or vault-mock not built).
#
# Environment: PROVE_TARGET (cmkfs-cmk; cov also takes cmkfs-pass or plain, bak cmkfs-pass:
# the tests' way to make DB-COV and DB-BAK fail), PROVE_REVAL_S (2: the interval the bound is judged against),
# PROVE_FS_REVAL_S (the mount's --revalidate-s, default PROVE_REVAL_S: a test mounts with 600
# to make DB-DEL fail), PROVE_CRASH_POINTS (20), PROVE_SEED (15: the kill delays), PGBIN.
set -Eeuo pipefail
trap 'echo "prove.sh: line $LINENO: a command failed with status $?" >&2' ERR
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BIN=${CMK_BIN_DIR:-$repo/bin}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PGBIN
T=${PROVE_TARGET:-cmkfs-cmk}
REVAL=${PROVE_REVAL_S:-2}
FS_REVAL=${PROVE_FS_REVAL_S:-$REVAL}
POINTS=${PROVE_CRASH_POINTS:-20}
SEED=${PROVE_SEED:-15}
FAILS=0
T0=$(date +%s.%N)

ev() { echo "ev: $*"; }
fail() { echo "fail: $*"; FAILS=$((FAILS + 1)); }
skip() { echo "skip: $*"; exit 77; }
usage() { echo "prove.sh: $*" >&2; sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
now() { date +%s.%N; }
# since T: seconds from T to now, 0.01 s.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
one_line() { tr '\n' ' ' | sed 's/  */ /g' | cut -c1-"${1:-200}"; }

ctl=${1:-}
case "$ctl" in check | del | cov | bak | crash) ;; *) usage "unknown control '$ctl' (check, del, cov, bak, crash)" ;; esac
[ $# -eq 1 ] || usage "one control, no more arguments"
for v in "$REVAL" "$FS_REVAL" "$POINTS" "$SEED"; do
    [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || usage "PROVE_* numbers must be whole numbers >= 1 (got '$v')"
done
case "$ctl:$T" in
cov:plain | cov:cmkfs-pass | bak:cmkfs-pass | *:cmkfs-cmk) ;;
*) usage "PROVE_TARGET '$T' does not fit '$ctl' (cmkfs-cmk; cov also takes cmkfs-pass, plain; bak cmkfs-pass)" ;;
esac

# ---- can it run here? -------------------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "not root (PostgreSQL runs as the postgres user on a FUSE mount served by root with allow_other)"
for p in initdb pg_ctl postgres psql pgbench pg_basebackup pg_amcheck pg_checksums; do
    [ -x "$PGBIN/$p" ] || skip "PostgreSQL 15 not installed ($PGBIN/$p missing; scripts/deps.sh installs postgresql-15)"
done
id postgres >/dev/null 2>&1 || skip "no postgres user (Debian's postgresql-15 makes it)"
for p in curl jq grep awk; do command -v "$p" >/dev/null || skip "$p not installed"; done
why=$("$here/target.sh" check "$T" 2>&1) || skip "${why:-target $T not available}"
[ "$ctl" != check ] || { echo "ok: $T"; exit 0; }

# shellcheck source=lib.sh
. "$here/lib.sh"
db_root_make
echo "root=$DB_ROOT"
ST=$DB_ROOT/db.state
MNT=$DB_ROOT/db.mnt
BACKING=$DB_ROOT/db.backing
DATA=$MNT/pgdata
PGLOG=$DB_ROOT/db.pg.log
export CMKFS_MOUNT_OPTS=
[ "$T" = plain ] || CMKFS_MOUNT_OPTS="--revalidate-s $FS_REVAL --log-file $DB_ROOT/db.fs.log"

psql_q() { "$here/pg.sh" psql "$DATA" -At -d postgres "$@"; }

# up_cluster: mount the target, initdb on it, start the server (log outside the mount, so
# that what PostgreSQL says after a revocation is kept).
up_cluster() {
    db_up "$T" db
    db_pg_init "$DATA"
    "$here/pg.sh" start "$DATA" "$PGLOG"
    # The clients connect without reading the mount (see pg.sh psql).
    PGSH_PORT=$("$here/pg.sh" port "$DATA")
    PGSH_SOCKDIR=$("$here/pg.sh" sockdir "$DATA")
    export PGSH_PORT PGSH_SOCKDIR
    ev "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on $("$here/target.sh" version "$T")," \
        "data folder on the mount, backing $BACKING${CMKFS_MOUNT_OPTS:+, cmk-fs --revalidate-s $FS_REVAL}"
}

# vault METHOD PATH [BODY]: the key officer's call to the run's vault; prints the HTTP status.
vault() {
    local -a d=()
    [ $# -lt 3 ] || d=(-H 'Content-Type: application/json' -d "$3")
    curl -sS -o "$DB_ROOT/vault.last" -w '%{http_code}' --cacert "$ST/vault/ca.pem" \
        -H @"$ST/officer.header" -X "$1" "${d[@]}" "$(cat "$ST/vault.url")$2?api-version=7.4" || true
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.05 s until it succeeds; 1 at the deadline.
wait_for() {
    local end
    end=$(awk -v n="$(now)" -v s="$1" 'BEGIN { printf "%.3f", n + s }')
    shift
    until "$@"; do
        awk -v n="$(now)" -v e="$end" 'BEGIN { exit !(n >= e) }' && return 1
        sleep 0.05
    done
}

# ack_loop FILE FIRST: the acknowledging client. Inserts id FIRST, FIRST+1, ... into ack, one
# autocommit statement (psql) each; "ack ID TIME" after the server acknowledged the commit,
# "fail TIME MESSAGE" at the first error, then ends. A killed loop under-claims, never over.
ack_loop() {
    local i=$2 err rc
    while :; do
        if err=$("$here/pg.sh" psql "$DATA" -d postgres -c "INSERT INTO ack(id) VALUES ($i)" 2>&1); then
            echo "ack $i $(now)" >>"$1"
        else
            rc=$?
            echo "fail $(now) psql exit $rc: $(printf '%s' "$err" | one_line 240)" >>"$1"
            return 0
        fi
        i=$((i + 1))
    done
}

# read_loop FILE: reads pgbench_accounts whole (a sequential scan larger than shared_buffers / 4
# goes through a ring buffer, so every read reaches the filesystem) until the first error.
read_loop() {
    local n=0 err rc
    while :; do
        if err=$("$here/pg.sh" psql "$DATA" -At -d postgres -c 'SELECT count(*) FROM pgbench_accounts' 2>&1); then
            n=$((n + 1))
        else
            rc=$?
            echo "fail $(now) psql exit $rc: $(printf '%s' "$err" | one_line 240) (after $n good reads)" >>"$1"
            return 0
        fi
    done
}

acks() { { awk '$1 == "ack"' "$1" 2>/dev/null || true; } | wc -l; }
has_fail() { grep -q '^fail ' "$1" 2>/dev/null; }

# check_acks FILE...: every id acknowledged in FILEs is in table ack. Sets ACKED, MISSING.
check_acks() {
    awk '$1 == "ack" { print $2 }' "$@" | sort -u >"$DB_ROOT/acked"
    psql_q -c 'SELECT id FROM ack' | sort -u >"$DB_ROOT/present"
    ACKED=$(wc -l <"$DB_ROOT/acked")
    MISSING=$(comm -23 "$DB_ROOT/acked" "$DB_ROOT/present" | wc -l)
    PRESENT=$(wc -l <"$DB_ROOT/present")
}

postmaster_pid() { head -n 1 "$DATA/postmaster.pid"; }
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }
# children_of PID: how many processes PID has (from /proc; a fresh Debian has no procps).
children_of() { { grep -l "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status 2>/dev/null || true; } | wc -l; }

# fs_daemon MNT: the pid of the cmk-fs process serving MNT.
fs_daemon() {
    local p c
    for p in /proc/[0-9]*; do
        c=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null || true)
        case "$c" in "$BIN/cmk-fs mount "*" $1 "*) echo "${p#/proc/}"; return 0 ;; esac
    done
    return 1
}

# scan DIR NEEDLE: "HITS FILES BYTES" over every regular file under DIR (symlink DIR followed).
scan() {
    local hits files bytes
    hits=$({ grep -raoF -- "$2" "$1/" 2>/dev/null || true; } | wc -l)
    files=$(find -L "$1/" -type f | wc -l)
    bytes=$(find -L "$1/" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
    echo "$hits $files $bytes"
}

new_canary() { echo "cmk-canary-$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')"; }

# Sessions held open: psql reading a fifo (SQL written to fd SESS_FD), output in FILE.
SESS_PID=
sess_open() { # NAME
    mkfifo "$DB_ROOT/$1.fifo"
    "$here/pg.sh" psql "$DATA" -At -d postgres <"$DB_ROOT/$1.fifo" >"$DB_ROOT/$1.out" 2>&1 &
    SESS_PID=$!
    exec {SESS_FD}>"$DB_ROOT/$1.fifo"
    echo "SET application_name = '$1';" >&"$SESS_FD"
}
sess_close() {
    exec {SESS_FD}>&-
    wait "$SESS_PID" || true
}
# sess_state NAME STATE QUERY: the session NAME is in pg_stat_activity with STATE, last QUERY LIKE.
sess_state() {
    [ "$(psql_q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$1' AND state = '$2' AND query LIKE '$3'")" = 1 ]
}

BG=()
bg_stop() { # stop the background clients of a phase (they end on their own after a failure)
    local p
    for p in "${BG[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${BG[@]}"; do wait "$p" 2>/dev/null || true; done
    BG=()
}
# lib.sh's cleanup (unmount, stop, remove) after the clients; it exits with the run's status.
prove_rc=0
trap 'prove_rc=$?; trap - ERR; set +e; bg_stop; (exit $prove_rc); db_cleanup' EXIT

# ---- DB-DEL -----------------------------------------------------------------------------------
# key_event EVENT FIRST-ID: EVENT is delete or disable.
key_event() {
    local ev_name=$1 first=$2 f="$DB_ROOT/ack-$1" r="$DB_ROOT/read-$1" bound t_ev st tw tr mw mr pm
    bound=$((REVAL + 2))
    local logstart
    logstart=$(wc -l <"$PGLOG")
    "$here/pg.sh" pgbench "$DATA" -n -c 2 -T 600 postgres >"$DB_ROOT/pgbench-$ev_name.log" 2>&1 &
    BG+=($!)
    ack_loop "$f" "$first" &
    BG+=($!)
    read_loop "$r" &
    BG+=($!)
    wait_for 60 eval '[ "$(acks "$f")" -ge 20 ]' || { fail "$ev_name: the client had fewer than 20 acknowledged commits after 60 s"; return 1; }
    pm=$(postmaster_pid)
    t_ev=$(now)
    if [ "$ev_name" = delete ]; then
        st=$(vault DELETE /keys/db-kek)
    else
        st=$(vault PATCH /keys/db-kek '{"attributes":{"enabled":false}}')
    fi
    [ "$st" = 200 ] || { fail "$ev_name: the vault answered $st: $(one_line 200 <"$DB_ROOT/vault.last")"; return 1; }
    wait_for $((bound + 20)) eval 'has_fail "$f" && has_fail "$r"' || true
    # A probe that never failed wrote no line (its file may not exist).
    tw=$(awk '$1 == "fail" { print $2; exit }' "$f" 2>/dev/null || true)
    tr=$(awk '$1 == "fail" { print $2; exit }' "$r" 2>/dev/null || true)
    mw=$({ sed -n 's/^fail [0-9.]* //p' "$f" 2>/dev/null || true; } | head -n 1)
    mr=$({ sed -n 's/^fail [0-9.]* //p' "$r" 2>/dev/null || true; } | head -n 1)
    local dw=none dr=none
    [ -z "$tw" ] || dw=$(awk -v a="$t_ev" -v b="$tw" 'BEGIN { printf "%.2f", b - a }')
    [ -z "$tr" ] || dr=$(awk -v a="$t_ev" -v b="$tr" 'BEGIN { printf "%.2f", b - a }')
    ev "$ev_name: key officer $([ "$ev_name" = delete ] && echo 'DELETE /keys/db-kek' || echo 'PATCH enabled=false') answered $st after $(acks "$f") acknowledged commits; first failed write after ${dw} s: ${mw:-none}"
    ev "$ev_name: first failed read after ${dr} s: ${mr:-none}"
    RESULT="$RESULT${RESULT:+, }$ev_name write ${dw} s read ${dr} s"
    if [ "$dw" = none ] || [ "$dr" = none ]; then
        fail "$ev_name: no failed $([ "$dw" = none ] && echo write || echo read) within $((bound + 20)) s of the $ev_name (bound $bound s = revalidation $REVAL s + 2 s)"
    else
        awk -v d="$dw" -v b="$bound" 'BEGIN { exit !(d <= b) }' || fail "$ev_name: first failed write after $dw s > bound $bound s"
        awk -v d="$dr" -v b="$bound" 'BEGIN { exit !(d <= b) }' || fail "$ev_name: first failed read after $dr s > bound $bound s"
    fi
    # What PostgreSQL did: its log (kept outside the mount) and the postmaster, 5 s later.
    wait_for 5 eval '! alive "$pm"' || true
    local panics errors fatals first_panic pmstate
    tail -n +"$((logstart + 1))" "$PGLOG" >"$DB_ROOT/pg-$ev_name.log"
    panics=$(grep -c 'PANIC:' "$DB_ROOT/pg-$ev_name.log" || true)
    errors=$(grep -c 'ERROR:' "$DB_ROOT/pg-$ev_name.log" || true)
    fatals=$(grep -c 'FATAL:' "$DB_ROOT/pg-$ev_name.log" || true)
    first_panic=$(grep -m1 'PANIC:' "$DB_ROOT/pg-$ev_name.log" | sed 's/^.*PANIC: */PANIC: /' | cut -c1-160 || true)
    # The server's own first I/O error (log lines start with "YYYY-MM-DD HH:MM:SS.mmm UTC").
    local eio_at eio_s=none
    eio_at=$(grep -m1 'Input/output error' "$DB_ROOT/pg-$ev_name.log" | awk '{ print $1 " " $2 " " $3 }' || true)
    [ -z "$eio_at" ] || eio_s=$(awk -v a="$t_ev" -v b="$(date -d "$eio_at" +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
    if alive "$pm"; then
        pmstate="postmaster $pm still running with $(children_of "$pm") children"
    else
        pmstate="postmaster $pm exited"
    fi
    ev "$ev_name: PostgreSQL's log since the $ev_name: $panics PANIC, $errors ERROR, $fatals FATAL lines, the first "Input/output error" after ${eio_s} s${first_panic:+; first $first_panic}; ${pmstate} $(since "$t_ev") s after the $ev_name; cmk-fs: $({ grep -m1 'revoked' "$DB_ROOT/db.fs.log" 2>/dev/null || echo 'no revocation logged'; } | sed 's/^[^ ]* [^ ]* //' | cut -c1-140)"
    bg_stop
    "$here/pg.sh" stop "$DATA"
    # Back: recover (or re-enable) the key, remount, start (crash recovery).
    TARGET_KEEP_VAULT=1 "$here/target.sh" down "$T" "$MNT" "$ST"
    if [ "$ev_name" = delete ]; then
        st=$(vault POST /deletedkeys/db-kek/recover)
    else
        st=$(vault PATCH /keys/db-kek '{"attributes":{"enabled":true}}')
    fi
    [ "$st" = 200 ] || { fail "$ev_name: restoring the key answered $st: $(one_line 200 <"$DB_ROOT/vault.last")"; return 1; }
    wait_for 30 eval '[ "$(vault GET /keys/db-kek)" = 200 ]' || { fail "$ev_name: the key did not come back within 30 s"; return 1; }
    : >"$DB_ROOT/db.fs.log"
    "$here/target.sh" up "$T" "$BACKING" "$MNT" "$ST"
    local t_rec
    t_rec=$(now)
    logstart=$(wc -l <"$PGLOG")
    "$here/pg.sh" start "$DATA" "$PGLOG"
    local rec_s redo
    rec_s=$(since "$t_rec")
    redo=$(tail -n +"$((logstart + 1))" "$PGLOG" | grep -m1 -o 'redo done at [0-9A-F/]*' || echo 'no redo line')
    check_acks "$DB_ROOT"/ack-*
    ev "$ev_name: key $([ "$ev_name" = delete ] && echo recovered || echo re-enabled), remounted, server up after ${rec_s} s ($redo); acknowledged commits so far $ACKED, present $PRESENT rows, missing $MISSING"
    RESULT="$RESULT, lost $MISSING of $ACKED"
    [ "$MISSING" -eq 0 ] || fail "$ev_name: $MISSING of $ACKED acknowledged commits missing after recovery (first: $(comm -23 "$DB_ROOT/acked" "$DB_ROOT/present" | head -n 3 | tr '\n' ' '))"
    return 0
}

ctl_del() {
    up_cluster
    "$here/pg.sh" pgbench "$DATA" -i -s 1 -q postgres >"$DB_ROOT/pgbench-init.log" 2>&1 ||
        { tail -n 5 "$DB_ROOT/pgbench-init.log" >&2; fail "pgbench -i failed"; return; }
    psql_q -c 'CREATE TABLE ack (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())'
    RESULT=
    local before=$FAILS
    key_event delete 1
    if [ "$FAILS" -eq "$before" ]; then
        key_event disable 1000000
    else
        ev "disable: not run (the delete step failed)"
    fi
    echo "measured: $RESULT (bound $((REVAL + 2)) s)"
    PASS="delete and disable: writes and reads failed within $((REVAL + 2)) s; no acknowledged commit lost after recovery"
}

# ---- DB-COV -----------------------------------------------------------------------------------
ctl_cov() {
    up_cluster
    local canary rows=40000
    canary=$(new_canary)
    psql_q -c "CREATE TABLE canary (id int, payload text)" \
        -c "INSERT INTO canary SELECT g, '$canary-' || g || repeat('.', 64) FROM generate_series(1, $rows) g" \
        -c "ALTER SYSTEM SET log_temp_files = 0" -c "SELECT pg_reload_conf()" >/dev/null
    # A sort larger than work_mem spills to base/pgsql_tmp; the open cursor keeps its files.
    sess_open cmkhold
    cat >&"$SESS_FD" <<SQL
SET work_mem = '64kB';
BEGIN;
DECLARE c CURSOR FOR SELECT payload FROM canary ORDER BY md5(payload);
FETCH 1 FROM c;
SQL
    wait_for 120 sess_state cmkhold 'idle in transaction' 'FETCH%' || { fail "the sort did not finish within 120 s"; sess_close; return; }
    psql_q -c CHECKPOINT >/dev/null
    local tmpfiles tmpbytes
    tmpfiles=$(find "$DATA/base/pgsql_tmp" -type f 2>/dev/null | wc -l)
    tmpbytes=$(find "$DATA/base/pgsql_tmp" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
    ev "$rows rows with canary $canary..., a sort under work_mem 64kB held open by a cursor: $tmpfiles temporary files ($tmpbytes bytes) in base/pgsql_tmp; CHECKPOINT done"
    local m_wal m_base m_tmp
    read -r bh bf bb <<<"$(scan "$BACKING" "$canary")"
    ev "backing folder $BACKING: $bf files, $bb bytes scanned, $bh canary hits"
    read -r m_wal _ _ <<<"$(scan "$DATA/pg_wal" "$canary")"
    m_base=$({ grep -raoF --exclude-dir=pgsql_tmp -- "$canary" "$DATA/base/" 2>/dev/null || true; } | wc -l)
    read -r m_tmp _ _ <<<"$(scan "$DATA/base/pgsql_tmp" "$canary")"
    read -r mh mf mb <<<"$(scan "$MNT" "$canary")"
    ev "positive control, the same scan of the mount: $mf files, $mb bytes, $mh hits (pg_wal $m_wal, relation files $m_base, temporary files $m_tmp)"
    echo "COMMIT;" >&"$SESS_FD"
    sess_close
    local logged
    logged=$(grep -c 'temporary file: path' "$PGLOG" || true)
    ev "log_temp_files = 0 logged $logged temporary files at their deletion"
    echo "measured: backing $bh canary hits in $bb bytes; mount $mh (WAL $m_wal, relations $m_base, temp $m_tmp)"
    [ "$bh" -eq 0 ] || fail "$bh canary hits in the backing folder ($T): plaintext at rest ($(grep -rlaF -- "$canary" "$BACKING/" | sed "s|^$BACKING/||" | head -n 3 | tr '\n' ' '))"
    [ "$tmpfiles" -gt 0 ] || fail "no temporary file existed at the scan"
    [ "$m_wal" -gt 0 ] || fail "positive control: no canary in pg_wal through the mount"
    [ "$m_base" -gt 0 ] || fail "positive control: no canary in the relation files through the mount"
    [ "$m_tmp" -gt 0 ] || fail "positive control: no canary in the temporary files through the mount"
    PASS="0 canary hits in every byte of the backing folder; the mount shows it in WAL, relations and temporary files"
}

# ---- DB-BAK -----------------------------------------------------------------------------------
ctl_bak() {
    export VAULT_MOCK_OPTS="--purge-protection off"
    up_cluster
    local canary
    canary=$(new_canary)
    psql_q -c "CREATE TABLE canary (id int PRIMARY KEY, payload text)" \
        -c "INSERT INTO canary SELECT g, '$canary-' || g FROM generate_series(1, 20000) g" -c CHECKPOINT >/dev/null
    # The copy: between pg_backup_start and pg_backup_stop (one session), rows committed during it.
    sess_open cmkbak
    echo "SELECT pg_backup_start('cmk-harness DB-BAK', true);" >&"$SESS_FD"
    wait_for 120 sess_state cmkbak idle '%pg_backup_start%' ||
        { fail "pg_backup_start did not return within 120 s"; sess_close; return; }
    psql_q -c "INSERT INTO canary SELECT g, '$canary-' || g FROM generate_series(20001, 21000) g"
    local bk=$DB_ROOT/backup.backing
    cp -a "$BACKING" "$bk"
    echo "SELECT labelfile FROM pg_backup_stop(false);" >&"$SESS_FD"
    sess_close
    # WAL written until pg_backup_stop (no archive): copied after it, as the documentation says.
    cp -a "$BACKING/files/pgdata/pg_wal/." "$bk/files/pgdata/pg_wal/"
    grep -q '^START WAL LOCATION' "$DB_ROOT/cmkbak.out" || { fail "pg_backup_stop gave no backup label: $(one_line 200 <"$DB_ROOT/cmkbak.out")"; return; }
    sed -n '/^START WAL LOCATION/,/^START TIMELINE/p' "$DB_ROOT/cmkbak.out" >"$DB_ROOT/backup_label"
    read -r hh hf hb <<<"$(scan "$bk" "$canary")"
    ev "backup: the backing folder copied between pg_backup_start and pg_backup_stop (1000 rows committed meanwhile), WAL copied after the stop: $hf files, $hb bytes, key table $({ find "$bk/keyring" -type f 2>/dev/null || true; } | wc -l) files; $hh canary hits"
    [ "$hh" -eq 0 ] || fail "$hh canary hits in the backup"
    # Finding: PostgreSQL's own backup tool writes wherever it is told, in plaintext.
    local pb=$DB_ROOT/basebackup
    mkdir -m 0700 "$pb"
    chown postgres:postgres "$pb"
    "$here/pg.sh" pg_basebackup "$DATA" -D "$pb" -X fetch -c fast >"$DB_ROOT/basebackup.log" 2>&1 ||
        fail "pg_basebackup failed: $(one_line 200 <"$DB_ROOT/basebackup.log")"
    read -r ph pf pbytes <<<"$(scan "$pb" "$canary")"
    ev "FINDING: pg_basebackup -D $pb (a plain folder outside the encrypted mount): $pf files, $pbytes bytes, $ph canary hits: PostgreSQL's own backups are plaintext unless written onto an encrypted mount"
    "$here/pg.sh" stop "$DATA"
    TARGET_KEEP_VAULT=1 "$here/target.sh" down "$T" "$MNT" "$ST"
    # Restore into a new folder with a new state folder (same vault, no freshness anchor yet).
    local rst=$DB_ROOT/restore.state rmnt=$DB_ROOT/restore.mnt rdata=$DB_ROOT/restore.mnt/pgdata
    mkdir -m 0700 "$rst"
    if [ "$T" = cmkfs-cmk ]; then
        ln -s "$ST/vault" "$rst/vault"
        cp "$ST/vault.url" "$ST/service.token" "$rst/"
    fi
    DB_MOUNTS+=("$T|$rmnt|$rst")
    export CMKFS_MOUNT_OPTS="--revalidate-s $FS_REVAL --log-file $DB_ROOT/restore.fs.log"
    "$here/target.sh" up "$T" "$bk" "$rmnt" "$rst"
    rm -f "$rdata/postmaster.pid"
    install -o postgres -g postgres -m 0600 "$DB_ROOT/backup_label" "$rdata/backup_label"
    DB_CLUSTERS+=("$rdata")
    local t_rec rows good
    t_rec=$(now)
    "$here/pg.sh" start "$rdata" "$DB_ROOT/restore.pg.log"
    rows=$("$here/pg.sh" psql "$rdata" -At -d postgres -c 'SELECT count(*) FROM canary')
    good=$("$here/pg.sh" psql "$rdata" -At -d postgres -c "SELECT count(*) FROM canary WHERE payload = '$canary-' || id")
    ev "restore: the copy mounted from a new folder ($bk at $rmnt), PostgreSQL started from the backup label in $(since "$t_rec") s ($(grep -m1 -o 'redo done at [0-9A-F/]*' "$DB_ROOT/restore.pg.log" || echo 'no redo line')); canary table $rows rows, $good intact"
    [ "$rows" = 21000 ] && [ "$good" = 21000 ] || fail "restored table has $rows rows ($good intact), expected 21000"
    "$here/pg.sh" stop "$rdata"
    TARGET_KEEP_VAULT=1 "$here/target.sh" down "$T" "$rmnt" "$rst"
    # Purge the key: the backup must not open any more.
    local sd sp rc=0 err
    local -a keyopts=(--passthrough)
    if [ "$T" = cmkfs-cmk ]; then
        sd=$(vault DELETE /keys/db-kek)
        sp=$(vault DELETE /deletedkeys/db-kek)
        ev "key officer DELETE /keys/db-kek: $sd; purge DELETE /deletedkeys/db-kek: $sp; GET /deletedkeys/db-kek: $(vault GET /deletedkeys/db-kek)"
        [ "$sd" = 200 ] && [ "$sp" = 204 ] || fail "delete/purge answered $sd/$sp, expected 200/204"
        keyopts=(--vault-url "$(cat "$ST/vault.url")" --vault-key db-kek --vault-ca "$ST/vault/ca.pem"
            --vault-token-file "$ST/service.token")
    else
        ev "$T: no key to delete or purge"
    fi
    mkdir -p "$rmnt"
    err=$(CMK_ANCHOR_DIR="$rst/anchors" "$BIN/cmk-fs" mount "$bk" "$rmnt" "${keyopts[@]}" 2>&1) || rc=$?
    ev "mount of the backup after the purge: exit $rc: $(printf '%s' "$err" | one_line 240)"
    [ "$rc" -eq 3 ] || fail "mounting the backup after the purge: exit $rc, expected 3 (key inaccessible)"
    case "$err" in *KEK_NOT_FOUND*) ;; *) fail "mounting the backup after the purge did not say ENG_ERR_KEK_NOT_FOUND: $(printf '%s' "$err" | one_line 200)" ;; esac
    echo "measured: backup $hh canary hits in $hb bytes; restore $rows/21000 rows; after purge exit $rc; pg_basebackup to a plain folder $ph hits"
    PASS="backup ciphertext only, restore works, purged key ends it (finding: pg_basebackup outside the mount holds $ph canary hits)"
}

# ---- DB-CRASH ---------------------------------------------------------------------------------
ctl_crash() {
    up_cluster
    "$here/pg.sh" pgbench "$DATA" -i -s 1 -q postgres >"$DB_ROOT/pgbench-init.log" 2>&1 ||
        { tail -n 5 "$DB_ROOT/pgbench-init.log" >&2; fail "pgbench -i failed"; return; }
    psql_q -c 'CREATE TABLE ack (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())' \
        -c 'CREATE EXTENSION amcheck' >/dev/null
    local i next=1 f base delay pid t_rec rec_s tables ntables amc amc_rc worst=0 lost=0 bad=0 line
    local redone=0
    for ((i = 1; i <= POINTS; i++)); do
        f="$DB_ROOT/ack-$i"
        base=0
        "$here/pg.sh" pgbench "$DATA" -n -c 2 -T 300 postgres >"$DB_ROOT/pgbench-$i.log" 2>&1 &
        BG+=($!)
        ack_loop "$f" "$next" &
        BG+=($!)
        wait_for 60 eval '[ "$(acks "$f")" -ge 3 ]' || { fail "kill $i: fewer than 3 acknowledged commits in 60 s"; break; }
        delay=$(awk -v s="$SEED" -v i="$i" 'BEGIN { srand(s * 1000 + i); printf "%.2f", rand() * 0.5 }')
        sleep "$delay" # where the kill lands: a fixed-seed spread over the workload
        pid=$(fs_daemon "$MNT") || { fail "kill $i: no cmk-fs process serves $MNT"; break; }
        base=$(acks "$f")
        kill -KILL "$pid"
        "$here/pg.sh" stop "$DATA"
        bg_stop
        TARGET_KEEP_VAULT=1 "$here/target.sh" down "$T" "$MNT" "$ST"
        "$here/target.sh" up "$T" "$BACKING" "$MNT" "$ST"
        t_rec=$(now)
        : >"$DB_ROOT/recovery.log"
        "$here/pg.sh" start "$DATA" "$DB_ROOT/recovery.log"
        rec_s=$(since "$t_rec")
        grep -q 'automatic recovery in progress' "$DB_ROOT/recovery.log" && redone=$((redone + 1))
        cat "$DB_ROOT/recovery.log" >>"$PGLOG"
        check_acks "$DB_ROOT"/ack-*
        ntables=$(psql_q -c 'SELECT count(*) FROM pg_tables')
        tables=$(psql_q -c "SELECT format('SELECT count(*) FROM %I.%I;', schemaname, tablename) FROM pg_tables" |
            "$here/pg.sh" psql "$DATA" -At -d postgres 2>&1 | grep -c '^[0-9][0-9]*$' || true)
        amc_rc=0
        amc=$("$here/pg.sh" pg_amcheck "$DATA" -d postgres 2>&1) || amc_rc=$?
        line="kill $i +${delay} s ($base acks): up in ${rec_s} s, acked $ACKED missing $MISSING, count(*) $tables/$ntables tables, amcheck $amc_rc"
        ev "$line"
        awk -v a="$rec_s" -v b="$worst" 'BEGIN { exit !(a > b) }' && worst=$rec_s
        [ "$MISSING" -eq 0 ] || { lost=$((lost + MISSING)); fail "kill $i: $MISSING acknowledged commits missing"; }
        [ "$amc_rc" -eq 0 ] || { bad=$((bad + 1)); fail "kill $i: pg_amcheck exit $amc_rc: $(printf '%s' "$amc" | one_line 200)"; }
        [ "$tables" -eq "$ntables" ] || fail "kill $i: count(*) worked on $tables of $ntables tables"
        next=$(( $(sort -n "$DB_ROOT/present" | tail -n 1) + 1 ))
    done
    "$here/pg.sh" stop "$DATA"
    local ck ck_rc=0
    ck=$("$here/pg.sh" checksums "$DATA" 2>&1) || ck_rc=$?
    ev "after $((i - 1)) kills, clean stop, pg_checksums --check: exit $ck_rc, $(printf '%s' "$ck" | grep -E 'Blocks scanned|Bad checksums' | one_line 120)"
    [ "$ck_rc" -eq 0 ] || fail "pg_checksums --check: exit $ck_rc: $(printf '%s' "$ck" | one_line 200)"
    ev "crash recovery (\"automatic recovery in progress\" in the server's log) after $redone of $((i - 1)) kills"
    [ "$redone" -eq $((i - 1)) ] || fail "only $redone of $((i - 1)) restarts logged a crash recovery"
    echo "measured: $((i - 1)) kill -9 points, $ACKED acknowledged commits, $lost lost, $bad amcheck failures, slowest recovery $worst s"
    PASS="$((i - 1)) kill -9 points of cmk-fs: no acknowledged commit lost, every table readable, amcheck and checksums clean"
}

RESULT=
PASS=
case "$ctl" in
del) ctl_del ;;
cov) ctl_cov ;;
bak) ctl_bak ;;
crash) ctl_crash ;;
esac
ev "duration $(since "$T0") s"
if [ "$FAILS" -eq 0 ] && [ -n "$PASS" ]; then
    echo "pass: $PASS"
    exit 0
fi
[ "$FAILS" -gt 0 ] || fail "the control reached no verdict"
exit 1
