#!/usr/bin/env bash
# pg.sh - a throw-away PostgreSQL 15 cluster whose data folder lives on a
# folder of the caller's choice (a mount of the filesystem under test).
#
#   pg.sh init DATA SOCKDIR [--shared-buffers SIZE]   initdb --data-checksums, free port
#   pg.sh clone TEMPLATE DATA                         copy a stopped cluster made by init into
#                                                     DATA (empty or new), with a free port of its own
#   pg.sh start DATA [LOG]                            pg_ctl start -w (log: LOG, default DATA.log)
#   pg.sh stop DATA                                   fast shutdown; immediate, then SIGKILL
#                                                     of the postmaster if that fails
#   pg.sh port DATA | sockdir DATA                    what init chose
#   pg.sh psql DATA ARGS... | pgbench DATA ARGS...    the client against the cluster
#   pg.sh pg_basebackup DATA ARGS... | pg_amcheck DATA ARGS...   (also connected to it)
#   pg.sh checksums DATA                              pg_checksums --check (server stopped)
#
# As root every server-side step runs as the `postgres` user (PostgreSQL
# refuses root): DATA is chowned to it, and the folders above DATA and
# SOCKDIR must let it traverse (mode 0711 or wider). The server listens on
# its unix socket in SOCKDIR only (listen_addresses = ''), on a port that
# no one listens on at init. shared_buffers defaults to 16MB so that reads
# go through the filesystem. Exit codes: 0 ok, 1 failure, 2 usage.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
die() { echo "pg.sh: $*" >&2; exit 1; }
usage() { echo "pg.sh: $*" >&2; sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# free_port: a TCP port on 127.0.0.1 that nothing accepts connections on.
free_port() {
    local p
    for _ in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found in 200 tries"
}

# alive PID: the process exists and is not a zombie (a killed postmaster's
# parent is init, which may reap it late).
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

# postmaster_of DATA: the pid of the postmaster started with -D DATA, or nothing.
postmaster_of() {
    local p
    for p in /proc/[0-9]*; do
        if [ "$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)" = "$PGBIN/postgres -D $1 " ]; then
            echo "${p#/proc/}"
            return 0
        fi
    done
}

conf_get() { sed -n "s/^# cmk-harness $2=//p" "$1/postgresql.auto.conf.cmk" 2>/dev/null; }

cmd=${1:-}
[ -n "$cmd" ] || usage "missing command"
shift
case "$cmd" in
init)
    [ $# -ge 2 ] || usage "init needs DATA SOCKDIR"
    data=$1 sock=$2
    shift 2
    sb=16MB
    while [ $# -gt 0 ]; do
        case "$1" in
        --shared-buffers) [ $# -ge 2 ] || usage "--shared-buffers needs a value"; sb=$2; shift 2 ;;
        *) usage "unknown option '$1'" ;;
        esac
    done
    [[ "$sb" =~ ^[0-9]+(kB|MB|GB)$ ]] || usage "--shared-buffers '$sb': give a size like 16MB"
    [ -d "$sock" ] || die "socket folder '$sock' does not exist"
    mkdir -p "$data"
    [ -z "$(ls -A "$data")" ] || die "data folder '$data' is not empty"
    chmod 0700 "$data"
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres:postgres "$data"
        chown postgres:postgres "$sock"
    fi
    as_pg "$PGBIN/initdb" -D "$data" --data-checksums -A trust -U postgres -E UTF8 \
        --locale=C.UTF-8 >"$data.initdb.log" 2>&1 ||
        { tail -n 20 "$data.initdb.log" >&2; die "initdb failed on '$data' (log: $data.initdb.log)"; }
    port=$(free_port)
    as_pg tee -a "$data/postgresql.conf" >/dev/null <<CONF
# cmk-harness (scripts/db/pg.sh)
port = $port
listen_addresses = ''
unix_socket_directories = '$sock'
shared_buffers = $sb
max_connections = 20
fsync = on
synchronous_commit = on
full_page_writes = on
logging_collector = off
# No parallel index builds: on 2 cores they add noise, and gocryptfs 2.3 (root,
# allow_other) once refused a parallel build's shared temporary file with EPERM
# (base/pgsql_tmp/pgsql_tmpN.0.fileset/0.0), failing pgbench -i by chance.
max_parallel_maintenance_workers = 0
CONF
    as_pg tee "$data/postgresql.auto.conf.cmk" >/dev/null <<CONF
# cmk-harness port=$port
# cmk-harness sockdir=$sock
CONF
    ;;
clone)
    [ $# -eq 2 ] || usage "clone needs TEMPLATE DATA"
    tmpl=$1 data=$2
    [ -n "$(conf_get "$tmpl" port)" ] || die "'$tmpl' was not made by pg.sh init"
    [ ! -e "$tmpl/postmaster.pid" ] || die "'$tmpl' is running; stop it before cloning"
    mkdir -p "$data"
    [ -z "$(ls -A "$data")" ] || die "data folder '$data' is not empty"
    chmod 0700 "$data"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$data"
    # As the postgres user, so that everything on the target is created by it, as by initdb.
    as_pg cp -a "$tmpl/." "$data/" || die "copying '$tmpl' into '$data' failed"
    port=$(free_port)
    as_pg sed -i "s/^port = .*/port = $port/" "$data/postgresql.conf"
    as_pg sed -i "s/^# cmk-harness port=.*/# cmk-harness port=$port/" "$data/postgresql.auto.conf.cmk"
    [ "$(conf_get "$data" port)" = "$port" ] || die "could not give '$data' its own port"
    ;;
start)
    [ $# -ge 1 ] && [ $# -le 2 ] || usage "start needs DATA [LOG]"
    data=$1
    [ -f "$data/PG_VERSION" ] || die "'$data' holds no cluster (run pg.sh init)"
    log=${2:-$data.log}
    # A postmaster.pid left by a server that died with its filesystem names a process that is
    # gone or a zombie (its parent, init, may reap it late): PostgreSQL would refuse to start.
    # The same holds for its socket's lock file.
    for lock in "$data/postmaster.pid" "$(conf_get "$data" sockdir)/.s.PGSQL.$(conf_get "$data" port).lock"; do
        old=$(head -n 1 "$lock" 2>/dev/null || true)
        if [[ "$old" =~ ^[0-9]+$ ]] && ! alive "$old"; then
            echo "pg.sh: removing $lock of the dead postmaster $old" >&2
            rm -f "$lock"
        fi
    done
    [ "$(id -u)" -ne 0 ] || { touch "$log"; chown postgres "$log"; }
    as_pg "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 120 start >/dev/null ||
        { tail -n 20 "$log" >&2; die "the server on '$data' did not start (log: $log)"; }
    ;;
stop)
    [ $# -eq 1 ] || usage "stop needs DATA"
    data=$1
    pid=
    if [ -r "$data/postmaster.pid" ]; then
        pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    fi
    if [ -z "$pid" ]; then
        # The data folder cannot be read (a filesystem that died, ENOTCONN, or whose key was
        # revoked, EIO) or holds no cluster: find the postmaster by its command line.
        pid=$(postmaster_of "$data")
    fi
    [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid" || exit 0
    if [ -r "$data/postmaster.pid" ] &&
        ! as_pg "$PGBIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1; then
        echo "pg.sh: fast shutdown of '$data' failed; immediate" >&2
        as_pg "$PGBIN/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    if alive "$pid" && grep -qa postgres "/proc/$pid/cmdline" 2>/dev/null; then
        echo "pg.sh: postmaster $pid of '$data' still alive; SIGKILL to it and its children" >&2
        kids=$(awk -v p="$pid" '$1 == "PPid:" && $2 == p { print FILENAME }' /proc/[0-9]*/status \
            2>/dev/null | cut -d/ -f3)
        kill -KILL "$pid" $kids 2>/dev/null || true
        for _ in $(seq 1 100); do
            alive=0
            for k in $pid $kids; do alive "$k" && alive=1; done
            [ $alive -eq 1 ] || break
            sleep 0.1
        done
        [ $alive -eq 0 ] || die "postmaster $pid of '$data' or a child survived SIGKILL"
    fi
    ;;
port) [ $# -eq 1 ] || usage "port needs DATA"; conf_get "$1" port ;;
sockdir) [ $# -eq 1 ] || usage "sockdir needs DATA"; conf_get "$1" sockdir ;;
checksums)
    [ $# -eq 1 ] || usage "checksums needs DATA"
    as_pg "$PGBIN/pg_checksums" --check -D "$1"
    ;;
psql | pgbench | pg_basebackup | pg_amcheck)
    [ $# -ge 1 ] || usage "$cmd needs DATA"
    data=$1
    shift
    # PGSH_PORT / PGSH_SOCKDIR (what `port` and `sockdir` said) spare the read of DATA: a client
    # of a server whose filesystem fails must fail in the server, not here.
    port=${PGSH_PORT:-$(conf_get "$data" port)}
    sock=${PGSH_SOCKDIR:-$(conf_get "$data" sockdir)}
    [ -n "$port" ] && [ -n "$sock" ] || die "'$data' was not made by pg.sh init"
    if [ "$cmd" = psql ]; then
        as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres "$@"
    else
        as_pg "$PGBIN/$cmd" -h "$sock" -p "$port" -U postgres "$@"
    fi
    ;;
*) usage "unknown command '$cmd'" ;;
esac
