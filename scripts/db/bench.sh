#!/usr/bin/env bash
# bench.sh - the database bench of issue 15 (make db-bench): fio and pgbench
# on each filesystem target, the targets interleaved in rounds (A B C D,
# D C B A, A B C D, ...), statistics, table and bars by cmk-db-stats.
#
# usage: scripts/db/bench.sh [--quick] [--rounds N] [--targets "T1 T2 ..."]
#            [--backing tmpfs|disk|tmpfs,disk] [--seconds S] [--fio-size SIZE]
#            [--scale N] [--shared-buffers SIZE] [--out FILE] [--stats PATH]
#            [--commit ID] [--workloads "W1 W2 ..."] [--cpus LIST] [--order abba|fixed]
#            [--layout fresh|kept]
#
#   targets   default: every target of scripts/db/target.sh that can run here
#             (the rest are listed as skipped, with the reason)
#   backing   tmpfs (default: a tmpfs mounted for the run, which takes the disk
#             out of the comparison) and/or disk (a folder under /var/tmp)
#   full      5 rounds; fio psync 256 MiB file, 1 MiB sequential read and write,
#             8 KiB random read and write, 4 s each; pgbench scale 10,
#             shared_buffers 16MB, read-write and -S at 1 and 2 clients, 5 s each
#   --workloads  only these of the profile's workloads (fio-seqread fio-seqwrite
#             fio-randread fio-randwrite pg-rw-c1 pg-rw-c2 pg-ro-c1 pg-ro-c2);
#             without a pg-* one, no PostgreSQL is set up (a fio-only run)
#   --cpus    pin the run (every process it starts: file system daemons, vault,
#             PostgreSQL, pgbench, fio) to these CPUs (taskset list, e.g. 1);
#             default: the scheduler places them (CMK_DB_CPUS sets the default)
#   --order   abba (default): odd rounds run the targets in the given order, even
#             rounds in reverse, so no target always runs after another; fixed:
#             the given order every round
#   --layout  fresh (default): from round 2 on, every target's turn starts (untimed)
#             with a new fio file and, in the full profile, a new copy of the
#             template cluster, so each round measures a new placement of the
#             files in memory or on disk (one placement can be 5-10% faster or
#             slower for a whole run); kept: the setup's files for every round
#   --quick   the standard profile's short section (within 2 minutes): 5 rounds,
#             64 MiB fio file, 0.5 s per fio run (sequential write, random read
#             and write), pgbench read-write and -S at 1 client for 1 s each, the
#             servers kept running across rounds; only cmkfs-smk, cmkfs-cmk and
#             gocryptfs (and plain when cmk-fs is not built)
#
# Output: reports/out/db-bench.json (--out) with every sample, each target's
# median and 95% interval, per-round paired ratios and the bars.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
t0=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

args=("$@")
cpus=${CMK_DB_CPUS:-} order=abba layout=fresh
quick=0 rounds=5 targets='' backings=tmpfs seconds='' fio_size='' scale=10 sb=16MB only=
out=$repo/reports/out/db-bench.json stats=$repo/bin/cmk-db-stats commit=
usage() { echo "bench.sh: $*" >&2; sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
need() { [ $# -ge 2 ] || usage "option '$1' needs a value"; }
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=1; shift ;;
    --rounds) need "$@"; rounds=$2; shift 2 ;;
    --targets) need "$@"; targets=$2; shift 2 ;;
    --backing) need "$@"; backings=${2//,/ }; shift 2 ;;
    --seconds) need "$@"; seconds=$2; shift 2 ;;
    --fio-size) need "$@"; fio_size=$2; shift 2 ;;
    --scale) need "$@"; scale=$2; shift 2 ;;
    --shared-buffers) need "$@"; sb=$2; shift 2 ;;
    --out) need "$@"; out=$2; shift 2 ;;
    --stats) need "$@"; stats=$2; shift 2 ;;
    --commit) need "$@"; commit=$2; shift 2 ;;
    --workloads) need "$@"; only=$2; shift 2 ;;
    --cpus) need "$@"; cpus=$2; shift 2 ;;
    --order) need "$@"; order=$2; shift 2 ;;
    --layout) need "$@"; layout=$2; shift 2 ;;
    -h | --help) sed -n '2,41p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage "unknown option '$1'" ;;
    esac
done
[[ "$rounds" =~ ^[0-9]+$ ]] && [ "$rounds" -ge 1 ] || usage "--rounds '$rounds': give a count >= 1"
case "$order" in abba | fixed) ;; *) usage "--order '$order': abba or fixed" ;; esac
case "$layout" in fresh | kept) ;; *) usage "--layout '$layout': fresh or kept" ;; esac
if [ -n "$cpus" ] && [ "${CMK_DB_PINNED:-}" != "$cpus" ]; then
    # Once, before anything starts: every process of the run inherits the CPU set.
    command -v taskset >/dev/null || { echo "bench.sh: --cpus needs taskset (util-linux)" >&2; exit 1; }
    taskset -c "$cpus" true 2>/dev/null ||
        usage "--cpus '$cpus': not a CPU list this machine can run on ($(nproc --all) CPUs: 0-$(($(nproc --all) - 1)))"
    export CMK_DB_PINNED=$cpus
    exec taskset -c "$cpus" "$0" "${args[@]}"
fi
[ -z "$seconds" ] || { [[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -ge 1 ]; } ||
    usage "--seconds '$seconds': give whole seconds >= 1 (pgbench -T takes no fractions)"
[[ "$scale" =~ ^[0-9]+$ ]] && [ "$scale" -ge 1 ] || usage "--scale '$scale': give a count >= 1"
for b in $backings; do
    case "$b" in tmpfs | disk) ;; *) usage "--backing '$b': tmpfs or disk" ;; esac
done
[ -x "$stats" ] || { echo "bench.sh: '$stats' is not built (make bin/cmk-db-stats)" >&2; exit 1; }
[ -n "$commit" ] || commit=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
export CMK_DB_COMMIT=$commit # what target.sh version names for cmk-fs, fixed at the start

if [ $quick -eq 1 ]; then
    fio_secs=${seconds:-500ms} pg_secs=${seconds:-1} fio_size=${fio_size:-64M}
    workloads="fio-seqwrite fio-randread fio-randwrite pg-rw-c1 pg-ro-c1"
    # The bars' targets; plain only when cmk-fs is not built (to fit the 2 minutes).
    if [ -z "$targets" ]; then
        targets="cmkfs-smk cmkfs-cmk gocryptfs"
        "$here/target.sh" check cmkfs-smk >/dev/null 2>&1 || targets="plain $targets"
    fi
else
    fio_secs=${seconds:-4} pg_secs=${seconds:-5} fio_size=${fio_size:-256M}
    workloads="fio-seqread fio-seqwrite fio-randread fio-randwrite pg-rw-c1 pg-rw-c2 pg-ro-c1 pg-ro-c2"
    [ -n "$targets" ] || targets=$("$here/target.sh" list)
fi
if [ -n "$only" ]; then
    for w in $only; do
        [[ " $workloads " == *" $w "* ]] || usage "--workloads: '$w' is not one of: $workloads"
    done
    workloads=$only
fi
pg=0 fio=0
[[ " $workloads " != *" pg-"* ]] || pg=1
[[ " $workloads " != *" fio-"* ]] || fio=1
run=()
for t in $targets; do
    rc=0
    why=$("$here/target.sh" check "$t") || rc=$?
    if [ $rc -eq 0 ]; then run+=("$t");
    elif [ $rc -eq 77 ]; then echo "db-bench: skipped: $why"
    else exit "$rc"; fi
done
[ ${#run[@]} -gt 0 ] || { echo "bench.sh: no target can run here" >&2; exit 1; }

# shellcheck source=lib.sh
. "$here/lib.sh"
db_root_make
mkdir -p "$(dirname "$out")"
samples=$DB_ROOT/samples.tsv
: >"$samples"
template=

# step SECS WHAT CMD...: CMD (a program), stopped after SECS s: a FUSE target that hangs must
# not hang the bench (cryfs 0.11 once sat 12 minutes without I/O or CPU in pgbench -i). A stop
# ends the run, naming WHAT; the exit trap unmounts and stops what was set up.
step() {
    local secs=$1 what=$2 rc=0
    shift 2
    timeout -k 10 "$secs" "$@" || rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        echo "bench.sh: $what did not finish within $secs s; stopped" >&2
        exit 1
    fi
    return $rc
}

# fio_run MNT WORKLOAD: one time-based psync job on MNT/fio.dat; prints MB/s.
fio_run() {
    local rw bs
    case "$2" in
    fio-seqread) rw=read bs=1M ;;
    fio-seqwrite) rw=write bs=1M ;;
    fio-randread) rw=randread bs=8k ;;
    fio-randwrite) rw=randwrite bs=8k ;;
    esac
    timeout -k 10 600 fio --name="$2" --filename="$1/fio.dat" --ioengine=psync --rw=$rw --bs=$bs --size="$fio_size" \
        --time_based --runtime="$fio_secs" --randseed=15 --invalidate=1 --output-format=json \
        >"$DB_ROOT/fio.json" 2>"$DB_ROOT/fio.err" ||
        { cat "$DB_ROOT/fio.err" >&2; echo "bench.sh: fio $2 failed on $1" >&2; return 1; }
    jq -r '.jobs[0] | (.read.bw_bytes + .write.bw_bytes) / 1e6' "$DB_ROOT/fio.json"
}

# pg_run DATA WORKLOAD: prints "TPS FAILED".
pg_run() {
    local -a a=(-n -T "$pg_secs" -M prepared)
    case "$2" in
    pg-rw-c1) a+=(-c 1 -j 1) ;;
    pg-rw-c2) a+=(-c 2 -j 2) ;;
    pg-ro-c1) a+=(-S -c 1 -j 1) ;;
    pg-ro-c2) a+=(-S -c 2 -j 2) ;;
    esac
    timeout -k 10 600 "$here/pg.sh" pgbench "$1" "${a[@]}" postgres >"$DB_ROOT/pgbench.log" 2>&1 ||
        { tail -n 20 "$DB_ROOT/pgbench.log" >&2; echo "bench.sh: pgbench $2 failed on $1" >&2; return 1; }
    local tps failed
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$DB_ROOT/pgbench.log" | tail -n 1)
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$DB_ROOT/pgbench.log")
    [ -n "$tps" ] || { echo "bench.sh: pgbench $2 printed no tps" >&2; return 1; }
    echo "$tps ${failed:-0}"
}

# fio_file T MNT: (re)writes the fio file on target T's mount.
fio_file() {
    rm -f "$2/fio/fio.dat"
    mkdir -p "$2/fio"
    step 600 "writing the fio file on $1" fio --name=layout --filename="$2/fio/fio.dat" \
        --ioengine=psync --rw=write --bs=1M --size="$fio_size" --output-format=terse >/dev/null
}

# fresh_layout T MNT: --layout fresh, a turn after the first: a new fio file and (full
# profile, server stopped) a new copy of the template cluster. Sets layout_s to the seconds
# it took. (Not run in a command substitution, where set -e would not stop a failed step.)
fresh_layout() {
    local ts
    ts=$(date +%s.%N)
    [ $fio -eq 0 ] || fio_file "$1" "$2"
    if [ $pg -eq 1 ] && [ $quick -eq 0 ]; then
        rm -rf "$2/pgdata"
        step 600 "copying the template cluster onto $1" "$here/pg.sh" clone "$template" "$2/pgdata"
    fi
    layout_s=$(since "$ts")
}

for b in $backings; do
    if [ "$b" = tmpfs ]; then
        base=$DB_ROOT/tmpfs
        if [ "$(id -u)" -eq 0 ]; then
            db_tmpfs "$base" 4G
        else
            base=$(mktemp -d /dev/shm/cmk-db.XXXXXX)
            chmod 0711 "$base"
            DB_DIRS+=("$base")
            echo "db-bench: not root: backing folders in $base (a tmpfs) instead of a new tmpfs"
        fi
    else
        base=$(mktemp -d /var/tmp/cmk-db-disk.XXXXXX)
        chmod 0711 "$base"
        DB_DIRS+=("$base")
    fi
    setup="a template cluster (initdb, pgbench -i -s $scale) once; per target: mount, fio file $fio_size, a copy of the cluster"
    [ $pg -eq 1 ] || setup="mount, fio file $fio_size (no PostgreSQL: fio-only workloads)"
    echo "db-bench: backing $b ($base); setup: $setup"
    echo "db-bench: CPUs: ${cpus:-the scheduler places every process} (${cpus:+pinned with taskset; }$(nproc --all) on this machine); order: $order; layout: $layout"
    if [ $pg -eq 1 ] && [ -z "$template" ]; then
        # One cluster with the pgbench tables, made once on this backing without FUSE and copied
        # onto every target: the same bytes everywhere, and the section's time goes to measuring.
        ts=$(date +%s.%N)
        template=$base/template
        DB_CLUSTERS+=("$template")
        step 600 "initdb of the template" "$here/pg.sh" init "$template" "$DB_ROOT/sock" --shared-buffers "$sb"
        step 120 "starting the template" "$here/pg.sh" start "$template"
        step 1200 "pgbench -i -s $scale on the template" "$here/pg.sh" pgbench "$template" -i -s "$scale" \
            -q -I dtGvp postgres >"$DB_ROOT/init.log" 2>&1 || { tail -n 20 "$DB_ROOT/init.log" >&2; exit 1; }
        step 120 "stopping the template" "$here/pg.sh" stop "$template"
        echo "db-bench:   template cluster (initdb, pgbench -i -s $scale) ready in $(since "$ts") s"
    fi
    for t in "${run[@]}"; do
        ts=$(date +%s.%N)
        DB_UP_TIMEOUT=300 db_up "$t" "$b-$t" "$base" ||
            { [ $? -ne 124 ] || echo "bench.sh: mounting $t did not finish within 300 s; stopped" >&2; exit 1; }
        mnt=$DB_ROOT/$b-$t.mnt
        fio_file "$t" "$mnt"
        if [ $pg -eq 1 ]; then
            DB_CLUSTERS+=("$mnt/pgdata")
            step 600 "copying the template cluster onto $t" "$here/pg.sh" clone "$template" "$mnt/pgdata"
        fi
        echo "db-bench:   $t ready in $(since "$ts") s"
    done
    for r in $(seq 1 "$rounds"); do
        order_r=("${run[@]}")
        if [ "$order" = abba ] && [ $((r % 2)) -eq 0 ]; then
            order_r=()
            for ((i = ${#run[@]} - 1; i >= 0; i--)); do order_r+=("${run[i]}"); done
        fi
        for t in "${order_r[@]}"; do
            mnt=$DB_ROOT/$b-$t.mnt
            line="db-bench: $b round $r/$rounds $t:"
            if [ "$layout" = fresh ] && [ "$r" -gt 1 ]; then
                fresh_layout "$t" "$mnt"
                line+=" (fresh layout $layout_s s)"
            fi
            started=0
            for w in $workloads; do
                case "$w" in
                fio-*)
                    v=$(fio_run "$mnt/fio" "$w")
                    printf '%s\t%s\t%s\t%d\t%s\t%s\t%d\n' "$b" "$t" "$w" "$r" "$v" MB/s 0 >>"$samples"
                    line+=" $w=$(printf '%.0f' "$v")"
                    ;;
                pg-*)
                    if [ $started -eq 0 ] && [ ! -f "$mnt/pgdata/postmaster.pid" ]; then
                        step 300 "starting PostgreSQL on $t" "$here/pg.sh" start "$mnt/pgdata"
                    fi
                    started=1
                    v='' f=''
                    read -r v f < <(pg_run "$mnt/pgdata" "$w")
                    [ -n "${v:-}" ] || exit 1
                    printf '%s\t%s\t%s\t%d\t%s\t%s\t%d\n' "$b" "$t" "$w" "$r" "$v" tps "$f" >>"$samples"
                    line+=" $w=$(printf '%.0f' "$v")"
                    ;;
                esac
            done
            [ $started -eq 0 ] || [ $quick -eq 1 ] || "$here/pg.sh" stop "$mnt/pgdata"
            echo "$line"
        done
    done
    # This backing's clusters and mounts go now (the exit trap covers failures).
    for t in "${run[@]}"; do "$here/pg.sh" stop "$DB_ROOT/$b-$t.mnt/pgdata"; done
    for t in "${run[@]}"; do "$here/target.sh" down "$t" "$DB_ROOT/$b-$t.mnt" "$DB_ROOT/$b-$t.state"; done
done

elapsed=$(since "$t0")
versions=$(for t in "${run[@]}"; do "$here/target.sh" version "$t"; done | jq -R . | jq -s .)
jq -n --arg commit "$commit" --arg kernel "$(uname -srm)" \
    --arg cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
    --argjson cores "$(nproc)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg fio "$(fio --version)" --arg postgres "$("${PGBIN:-/usr/lib/postgresql/15/bin}/postgres" --version)" \
    --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --argjson targets "$versions" \
    '{commit: $commit, date: $date, kernel: $kernel, cpu: $cpu, cores: $cores, loadavg: $load,
      fio: $fio, postgres: $postgres, targets: $targets}' >"$DB_ROOT/env.json"
# the requested targets that did not run, each with target.sh check's reason
skipped=$(for t in $targets; do
    why=$("$here/target.sh" check "$t") || jq -n --arg t "$t" --arg r "${why#"$t: not available: "}" '{target: $t, reason: $r}'
done | jq -s .)
jq -n --argjson quick "$quick" --argjson rounds "$rounds" --arg backings "$backings" \
    --arg workloads "$workloads" --arg fio_size "$fio_size" --arg fio_s "$fio_secs" \
    --argjson pg_s "$pg_secs" --argjson scale "$scale" --arg sb "$sb" --arg torder "${run[*]}" --arg order "$order" --arg cpus "$cpus" --arg layout "$layout" --argjson fresh_cluster "$((quick == 0 && pg == 1))" \
    --argjson skipped "$skipped" \
    '{profile: (if $quick == 1 then "quick" else "full" end), rounds: $rounds,
      backings: ($backings | split(" ")), targets_order: ($torder | split(" ")),
      order: (if $order == "abba" then "abba: odd rounds in targets_order, even rounds reversed"
              else "fixed: targets_order every round" end),
      cpus: (if $cpus == "" then "scheduler" else $cpus end),
      layout: (if $layout == "fresh" then
                 "fresh: from round 2 every turn starts with a new fio file" +
                 (if $fresh_cluster == 1 then " and a new copy of the template cluster" else "" end)
               else "kept: the files made at setup, every round" end),
      workloads: ($workloads | split(" ")), skipped: $skipped,
      fio: {ioengine: "psync", size: $fio_size, runtime: $fio_s, seq_bs: "1M", rand_bs: "8k"},
      pgbench: {scale: $scale, seconds: $pg_s, shared_buffers: $sb, mode: "prepared",
                restart_per_round: ($quick == 0)}}' >"$DB_ROOT/config.json"
budget=()
[ $quick -eq 0 ] || budget=(--elapsed "$elapsed" --budget 120)
[ $quick -eq 1 ] || budget=(--elapsed "$elapsed")
"$stats" --samples "$samples" --env "$DB_ROOT/env.json" --config "$DB_ROOT/config.json" \
    --out "$out" "${budget[@]}"
