#!/usr/bin/env bash
# target.sh - mount and unmount the filesystems the database harness measures.
#
#   target.sh list                       every target name
#   target.sh check TARGET               exit 0 when TARGET can run here, else print
#                                        "TARGET: not available: REASON" and exit 77
#   target.sh up TARGET BACKING MNT STATE
#                                        make the filesystem in BACKING (when BACKING is
#                                        empty) and mount it at MNT; keys, passwords and
#                                        the vault go to STATE (a private folder)
#   target.sh down TARGET MNT STATE      unmount MNT (and stop the target's vault)
#   target.sh version TARGET             one line: what runs the target
#
# Targets:
#   plain       the backing folder itself, no FUSE (MNT becomes a symbolic link to it)
#   gocryptfs   Debian's gocryptfs, a password file, -allow_other
#   securefs    Debian's securefs (format 4), a key file, allow_other
#   cryfs       Debian's cryfs, AES-256-GCM, the password on stdin (noninteractive), allow_other
#   cmkfs-pass  bin/cmk-fs --passthrough (the same FUSE code, no cipher)
#   cmkfs-smk   bin/cmk-fs under a service-managed key file (made with bin/cmk)
#   cmkfs-cmk   bin/cmk-fs under an RSA-3072 key in a vault-mock started here
#
# Environment (for scripts/db/prove.sh): CMKFS_MOUNT_OPTS extra `cmk-fs mount` options (e.g.
# "--revalidate-s 2 --log-file F"); VAULT_MOCK_OPTS extra vault-mock options (e.g.
# "--purge-protection off"); TARGET_KEEP_VAULT=1 makes `down` leave the vault running (remount).
#
# Exit codes: 0 ok, 1 failure, 2 usage, 77 target not available.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BIN=${CMK_BIN_DIR:-$repo/bin}
TARGETS="plain cmkfs-pass cmkfs-smk cmkfs-cmk gocryptfs securefs cryfs"

die() { echo "target.sh: $*" >&2; exit 1; }
usage() { echo "target.sh: $*" >&2; exit 2; }
known() { case " $TARGETS " in *" $1 "*) return 0 ;; esac; usage "unknown target '$1' (one of: $TARGETS)"; }

is_mounted() { awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; }

# unavailable TARGET: the reason it cannot run here, or nothing.
unavailable() {
    case "$1" in
    plain) ;;
    gocryptfs) command -v gocryptfs >/dev/null || echo "gocryptfs not installed" ;;
    securefs) command -v securefs >/dev/null || echo "securefs not installed" ;;
    cryfs) command -v cryfs >/dev/null || echo "cryfs not installed" ;;
    cmkfs-*)
        if [ ! -x "$BIN/cmk-fs" ]; then
            echo "cmk-fs not built ($BIN/cmk-fs missing)"
        elif [ "$1" = cmkfs-smk ] && [ ! -x "$BIN/cmk" ]; then
            echo "bin/cmk not built (makes the key file)"
        elif [ "$1" = cmkfs-cmk ] && [ ! -x "$BIN/vault-mock" ]; then
            echo "bin/vault-mock not built"
        fi
        ;;
    esac
    case "$1" in plain) ;; *)
        [ -e /dev/fuse ] || echo "/dev/fuse missing"
        command -v fusermount3 >/dev/null || echo "fusermount3 missing (Debian fuse3)" ;;
    esac
}

# wait_mounted MNT PID-OR-EMPTY: poll /proc/self/mounts (generous deadline).
wait_mounted() {
    for _ in $(seq 1 300); do
        is_mounted "$1" && return 0
        sleep 0.1
    done
    die "'$1' did not appear in /proc/self/mounts within 30 s"
}

# start_vault STATE: a vault-mock on 127.0.0.1 with its state in STATE/vault,
# and an RSA-3072 key "db-kek" created by the key officer. Leaves STATE/vault.pid,
# STATE/vault.url, STATE/service.token.
start_vault() {
    local st=$1 url ready
    mkdir -m 700 "$st/vault"
    # shellcheck disable=SC2086 # VAULT_MOCK_OPTS is a list of options
    "$BIN/vault-mock" --state "$st/vault" --listen 127.0.0.1:0 ${VAULT_MOCK_OPTS:-} >"$st/vault.out" 2>"$st/vault.err" &
    echo $! >"$st/vault.pid"
    for _ in $(seq 1 300); do
        ready=$(grep -m1 '^vault-mock ready ' "$st/vault.out" 2>/dev/null || true)
        [ -n "$ready" ] && break
        kill -0 "$(cat "$st/vault.pid")" 2>/dev/null ||
            die "vault-mock exited: $(tail -n 3 "$st/vault.err")"
        sleep 0.1
    done
    [ -n "$ready" ] || die "vault-mock did not get ready within 30 s"
    url=${ready#*url=}
    url=${url%% *}
    echo "$url" >"$st/vault.url"
    (umask 077
     printf 'Authorization: Bearer %s\n' "$(jq -r .keyofficer "$st/vault/tokens.json")" >"$st/officer.header"
     jq -r .dbservice "$st/vault/tokens.json" >"$st/service.token")
    curl -sS --fail-with-body --cacert "$st/vault/ca.pem" -H @"$st/officer.header" \
        -H 'Content-Type: application/json' \
        -d '{"kty": "RSA", "key_size": 3072, "key_ops": ["wrapKey", "unwrapKey"]}' \
        "$url/keys/db-kek/create?api-version=7.4" >"$st/key.json" ||
        die "creating the vault key failed: $(cat "$st/key.json")"
}

cmkfs_keyopts() {
    local st=$1
    case "$2" in
    cmkfs-pass) ;;
    cmkfs-smk) echo "--key-file $st/smk.key" ;;
    cmkfs-cmk)
        echo "--vault-url $(cat "$st/vault.url") --vault-key db-kek --vault-ca $st/vault/ca.pem" \
            "--vault-token-file $st/service.token"
        ;;
    esac
}

up() {
    local t=$1 backing=$2 mnt=$3 st=$4 fresh=0 why
    why=$(unavailable "$t")
    [ -z "$why" ] || { echo "$t: not available: $why" >&2; exit 77; }
    [ -d "$backing" ] || die "backing folder '$backing' does not exist"
    [ -d "$st" ] || die "state folder '$st' does not exist"
    [ -z "$(ls -A "$backing")" ] && fresh=1
    if [ "$t" = plain ]; then
        [ ! -e "$mnt" ] || [ -L "$mnt" ] || rmdir "$mnt" 2>/dev/null ||
            die "mount point '$mnt' exists and is not an empty folder"
        ln -sfn "$backing" "$mnt"
        return 0
    fi
    mkdir -p "$mnt"
    is_mounted "$mnt" && die "'$mnt' is already mounted"
    printf '%s\n' "$backing" >"$st/backing"
    case "$t" in
    gocryptfs)
        [ -f "$st/gocryptfs.pass" ] || (umask 077; head -c 24 /dev/urandom | base64 >"$st/gocryptfs.pass")
        if [ $fresh -eq 1 ]; then
            gocryptfs -init -q -passfile "$st/gocryptfs.pass" "$backing" >/dev/null ||
                die "gocryptfs -init failed on '$backing'"
        fi
        gocryptfs -q -nosyslog -allow_other -passfile "$st/gocryptfs.pass" "$backing" "$mnt" ||
            die "gocryptfs mount of '$backing' on '$mnt' failed"
        ;;
    securefs)
        # A key file (random bytes) instead of a password: nothing secret on a command line.
        [ -f "$st/securefs.key" ] || (umask 077; head -c 32 /dev/urandom >"$st/securefs.key")
        if [ $fresh -eq 1 ]; then
            securefs create --format 4 --keyfile "$st/securefs.key" "$backing" >"$st/securefs.log" 2>&1 ||
                die "securefs create failed on '$backing': $(tail -n 3 "$st/securefs.log")"
        fi
        securefs mount -b --keyfile "$st/securefs.key" --log "$st/securefs.log" -o allow_other \
            "$backing" "$mnt" >>"$st/securefs.log" 2>&1 ||
            die "securefs mount failed: $(tail -n 3 "$st/securefs.log")"
        ;;
    cryfs)
        [ -f "$st/cryfs.pass" ] || (umask 077; head -c 24 /dev/urandom | base64 >"$st/cryfs.pass")
        # The first mount of an empty folder creates the filesystem; the password comes on
        # stdin in the noninteractive frontend, so no question is asked.
        CRYFS_FRONTEND=noninteractive CRYFS_NO_UPDATE_CHECK=true \
            cryfs --cipher aes-256-gcm "$backing" "$mnt" -- -o allow_other \
            <"$st/cryfs.pass" >"$st/cryfs.log" 2>&1 ||
            die "cryfs mount failed: $(tail -n 3 "$st/cryfs.log")"
        ;;
    cmkfs-*)
        # Freshness anchors of this run's key tables stay in its state folder.
        mkdir -p -m 0700 "$st/anchors"
        export CMK_ANCHOR_DIR="$st/anchors"
        local -a extra=()
        [ "$t" = cmkfs-pass ] && extra=(--passthrough)
        if [ "$t" = cmkfs-smk ] && [ ! -f "$st/smk.key" ]; then
            # bin/cmk creates a missing key file (0600) when it makes a store.
            (umask 077; "$BIN/cmk" --key-file "$st/smk.key" create "$st/smk-seed-store" --units 1 \
                >/dev/null) || die "making the SMK key file with bin/cmk failed"
        fi
        if [ "$t" = cmkfs-cmk ] && [ ! -f "$st/vault.url" ]; then
            start_vault "$st"
        fi
        # shellcheck disable=SC2046
        if [ $fresh -eq 1 ]; then
            "$BIN/cmk-fs" init "$backing" "${extra[@]}" $(cmkfs_keyopts "$st" "$t") ||
                die "cmk-fs init failed on '$backing'"
        fi
        # shellcheck disable=SC2046
        "$BIN/cmk-fs" mount "$backing" "$mnt" "${extra[@]}" $(cmkfs_keyopts "$st" "$t") \
            ${CMKFS_MOUNT_OPTS:-} ||
            die "cmk-fs mount of '$backing' on '$mnt' failed"
        ;;
    esac
    wait_mounted "$mnt"
    # The cluster's files are created by the postgres user through the mount.
    chmod 0755 "$mnt"
}

down() {
    local t=$1 mnt=$2 st=$3 pid
    if [ "$t" = plain ]; then
        [ ! -L "$mnt" ] || rm -f "$mnt"
    elif is_mounted "$mnt"; then
        for _ in $(seq 1 100); do
            fusermount3 -u "$mnt" 2>/dev/null && break
            is_mounted "$mnt" || break
            sleep 0.2
        done
        if is_mounted "$mnt"; then
            echo "target.sh: '$mnt' stayed busy for 20 s; lazy unmount" >&2
            fusermount3 -u -z "$mnt" || umount -l "$mnt" || true
        fi
        is_mounted "$mnt" && die "'$mnt' is still mounted"
        # The kernel is done when fusermount3 returns; a cmk-fs daemon still holds
        # BACKING/mount.lock while it writes back and wipes its keys. Wait for its exit, so a
        # mount right after this is not refused as "already mounted".
        local lock
        lock="$(cat "$st/backing" 2>/dev/null)/mount.lock"
        if [ -f "$lock" ] && ! flock -w 60 "$lock" true; then
            die "the cmk-fs daemon of '$mnt' still holds '$lock' after 60 s"
        fi
    fi
    if [ -f "$st/vault.pid" ] && [ -z "${TARGET_KEEP_VAULT:-}" ]; then
        pid=$(cat "$st/vault.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$st/vault.pid"
    fi
    return 0
}

version() {
    case "$1" in
    plain) echo "plain: $(uname -r)" ;;
    gocryptfs) echo "gocryptfs: $(gocryptfs --version 2>/dev/null | head -n 1)" ;;
    cryfs) echo "cryfs: $(cryfs --version 2>/dev/null | sed -n 's/^CryFS Version //p' | head -n 1)" ;;
    securefs) echo "securefs: $(dpkg-query -W -f='${Version}' securefs 2>/dev/null || echo unknown)" ;;
    # CMK_DB_COMMIT: the commit the caller built from (bench.sh's --commit, taken when the run
    # began); else this tree's HEAD now
    cmkfs-*) echo "$1: cmk-fs ${CMK_DB_COMMIT:-$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null)}" ;;
    esac
}

cmd=${1:-}
case "$cmd" in
list) echo "$TARGETS" ;;
check) [ $# -eq 2 ] || usage "check needs TARGET"; known "$2"
       why=$(unavailable "$2"); [ -z "$why" ] || { echo "$2: not available: $why"; exit 77; } ;;
up) [ $# -eq 5 ] || usage "up needs TARGET BACKING MNT STATE"; known "$2"; up "$2" "$3" "$4" "$5" ;;
down) [ $# -eq 4 ] || usage "down needs TARGET MNT STATE"; known "$2"; down "$2" "$3" "$4" ;;
version) [ $# -eq 2 ] || usage "version needs TARGET"; known "$2"; version "$2" ;;
*) usage "unknown command '${cmd}' (list, check, up, down, version)" ;;
esac
