# shellcheck shell=bash
# lib.sh - sourced by the database harness (e2e.sh, bench.sh): a run's
# temporary root and the cleanup that stops every cluster and unmounts every
# mount it registered, on every path: normal exit, failure (set -e), Ctrl-C
# (INT) and TERM. Cleanup ignores further INT/TERM until it is done.
#
#   db_root_make           DB_ROOT: a fresh 0711 folder under ${TMPDIR:-/tmp}, so the
#                          postgres user can traverse to the cluster folders below it
#   db_up TARGET NAME [BASE]  (DB_UP_TIMEOUT=S: stopped after S s, exit 124)
#                          mount TARGET with backing DB_ROOT/NAME.backing at
#                          DB_ROOT/NAME.mnt (state: DB_ROOT/NAME.state), registered
#   db_pg_init DATA        pg.sh init with the socket in DB_ROOT/sock, registered
#   db_tmpfs DIR SIZE      mount a tmpfs at DIR (root only), registered
#   DB_DIRS+=(DIR)         a folder outside DB_ROOT to remove at the end
#   db_leftovers           print what of this run is still mounted or running

DB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DB_CLUSTERS=()
DB_MOUNTS=()
DB_TMPFS=()
DB_DIRS=()
DB_ROOT=

db_log() { echo "db: $*" >&2; }

db_root_make() {
    DB_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/cmk-db.XXXXXX")
    chmod 0711 "$DB_ROOT"
    mkdir -m 0711 "$DB_ROOT/sock"
}

db_cleanup() {
    local rc=$? i t m s d
    trap '' INT TERM
    set +e
    for ((i = ${#DB_CLUSTERS[@]} - 1; i >= 0; i--)); do
        "$DB_HERE/pg.sh" stop "${DB_CLUSTERS[i]}"
    done
    for ((i = ${#DB_MOUNTS[@]} - 1; i >= 0; i--)); do
        IFS='|' read -r t m s <<<"${DB_MOUNTS[i]}"
        "$DB_HERE/target.sh" down "$t" "$m" "$s"
    done
    for ((i = ${#DB_TMPFS[@]} - 1; i >= 0; i--)); do
        umount "${DB_TMPFS[i]}" || umount -l "${DB_TMPFS[i]}"
    done
    for d in "${DB_DIRS[@]}"; do
        if awk -v r="$d/" 'index($2, r) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
            db_log "something under $d is still mounted; leaving the folder"
            rc=1
        else
            rm -rf "$d"
        fi
    done
    if [ -n "$DB_ROOT" ] && [ -d "$DB_ROOT" ]; then
        if awk -v r="$DB_ROOT/" 'index($2, r) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
            db_log "something under $DB_ROOT is still mounted; leaving the folder"
            rc=1
        elif [ -z "${DB_KEEP:-}" ]; then
            rm -rf "$DB_ROOT"
        fi
    fi
    DB_CLUSTERS=() DB_MOUNTS=() DB_TMPFS=() DB_DIRS=()
    exit "$rc"
}
trap db_cleanup EXIT
trap 'db_log "interrupted"; exit 130' INT
trap 'db_log "terminated"; exit 143' TERM

db_up() {
    local t=$1 n=$2 base=${3:-$DB_ROOT}
    mkdir -p "$base/$n.backing"
    mkdir -m 0700 "$DB_ROOT/$n.state"
    DB_MOUNTS+=("$t|$DB_ROOT/$n.mnt|$DB_ROOT/$n.state")
    ${DB_UP_TIMEOUT:+timeout -k 10 "$DB_UP_TIMEOUT"} \
        "$DB_HERE/target.sh" up "$t" "$base/$n.backing" "$DB_ROOT/$n.mnt" "$DB_ROOT/$n.state"
}

db_pg_init() {
    DB_CLUSTERS+=("$1")
    "$DB_HERE/pg.sh" init "$1" "$DB_ROOT/sock" "${@:2}"
}

db_tmpfs() {
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2,mode=0711" tmpfs "$1"
    DB_TMPFS+=("$1")
}

db_leftovers() {
    awk -v r="$DB_ROOT/" 'index($2, r) == 1 { print "mounted: " $2 }' /proc/self/mounts
    local p c w
    for p in /proc/[0-9]*; do
        c=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null || true)
        w=$(readlink "$p/cwd" 2>/dev/null || true)
        case "$c $w/" in
        *"$DB_ROOT/"*) echo "process: ${p#/proc/} (cwd $w) $(printf '%s' "$c" | cut -c1-120)" ;;
        esac
    done
}
