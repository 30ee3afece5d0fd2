#!/usr/bin/env bash
# check-circles.sh - find call circles between source files in the built objects.
#
#   scripts/check-circles.sh [--tests] [OBJ_ROOT]   check the objects under OBJ_ROOT
#   scripts/check-circles.sh --self-test            prove the check finds a circle
#
# OBJ_ROOT defaults to build/release (what `make build` leaves). Every *.o under
# it is one source file: OBJ_ROOT/engine/src/cipher.o is engine/src/cipher.c.
# Objects under a tests/ folder are left out unless --tests is given; so are
# stale objects, whose source is neither in the tree (relative to the current
# folder: run it from the top) nor next to the object (generated sources).
#
# The graph: an edge "A -> B" when A's object references (nm: U) a global
# symbol that B's object defines (nm: T, D, B, R, C, W, V, ...). Static and
# inlined symbols are local (lowercase in nm) and make no edge; a symbol that
# is defined but never referenced makes no edge. A circle is a strongly
# connected component of more than one file, within a module or across
# modules. Each is printed as
#
#   circle: a.c -> b.c -> a.c (a.c->b.c: sym1, sym2; b.c->a.c: sym3)
#
# one line per short cycle through each edge of the component, so every edge
# that could be cut is named. Exit status: 1 when there is a circle, 0 (with a
# one-line summary) when the graph is acyclic, 2 on a usage or tool error.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

# expect WHAT DIR RC LINE: the check on DIR must exit RC and print LINE.
expect() {
    local rc=0 out
    out="$("$0" "$2" 2>&1)" || rc=$?
    if [ "$rc" -ne "$3" ] || ! grep -qxF "$4" <<<"$out"; then
        echo "check-circles self-test: FAILED: $1 (exit $rc, want $3 and the line: $4):" >&2
        echo "$out" >&2
        return 1
    fi
}

self_test() {
    local fix="$here/check-circles-fixture" tmp
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' RETURN
    local cc="${CC:-cc}"
    # A circle: cycle/a.c and cycle/b.c call each other.
    # A DAG: dag/a.c calls dag/b.c; each has a static helper of the same name
    # and b.c an unused global, which must make no edge.
    for d in cycle dag; do
        mkdir -p "$tmp/$d/src"
        for f in "$fix/$d"/*.c; do
            cp "$f" "$tmp/$d/src/"
            "$cc" -O2 -c -o "$tmp/$d/src/$(basename "${f%.c}").o" "$f"
        done
    done
    expect "the circle a.c <-> b.c was not reported" "$tmp/cycle" 1 \
        'circle: src/a.c -> src/b.c -> src/a.c (src/a.c->src/b.c: fix_b_work; src/b.c->src/a.c: fix_a_done)' ||
        return 1
    expect "the DAG a.c -> b.c was not passed" "$tmp/dag" 0 \
        'check-circles: 2 source files, 1 edges, no circles' || return 1
    echo "check-circles self-test: circle a.c <-> b.c found (exit 1), DAG a.c -> b.c passed (exit 0)"
}

tests=0
root=""
while [ $# -gt 0 ]; do
    case "$1" in
    --self-test) self_test; exit $? ;;
    --tests) tests=1 ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    -*) echo "check-circles: unknown option $1 (see --help)" >&2; exit 2 ;;
    *)
        [ -z "$root" ] || { echo "check-circles: one OBJ_ROOT only" >&2; exit 2; }
        root="$1"
        ;;
    esac
    shift
done
root="${root:-build/release}"
[ -d "$root" ] || { echo "check-circles: no folder $root (run make build first)" >&2; exit 2; }
command -v nm >/dev/null || { echo "check-circles: nm not found (binutils)" >&2; exit 2; }

exec python3 - "$root" "$tests" <<'PY'
import os, subprocess, sys
from collections import deque

root, with_tests = sys.argv[1], sys.argv[2] == "1"

def die(msg):
    print(f"check-circles: {msg}", file=sys.stderr)
    sys.exit(2)

objs = []
for d, dirs, files in os.walk(root):
    dirs.sort()
    rel = os.path.relpath(d, root)
    parts = [] if rel == "." else rel.split(os.sep)
    if not with_tests and "tests" in parts:
        continue
    objs += [os.path.join(d, f) for f in sorted(files) if f.endswith(".o")]
if not objs:
    die(f"no objects under {root} (run make build first)")

def src(o):
    return os.path.relpath(o, root)[:-2] + ".c"

# An object whose source is gone (renamed or deleted since it was built) is
# stale: it would add edges the next build does not have. A source is in the
# tree (relative to the current folder) or, generated, next to its object.
stale = [o for o in objs if not os.path.exists(src(o)) and not os.path.exists(o[:-2] + ".c")]
if stale:
    print(f"check-circles: skipped {len(stale)} stale objects (no source): "
          f"{' '.join(sorted(src(o) for o in stale))}", file=sys.stderr)
    objs = [o for o in objs if o not in stale]
    if not objs:
        die(f"only stale objects under {root} (run make build first)")

defs = {}      # symbol -> list of (strong, file)
uses = {}      # file -> set of symbols
for o in objs:
    f = src(o)
    r = subprocess.run(["nm", "-P", o], capture_output=True, text=True)
    if r.returncode != 0:
        die(f"nm {o}: {r.stderr.strip()}")
    uses[f] = set()
    for line in r.stdout.splitlines():
        p = line.split()
        if len(p) < 2:
            continue
        sym, t = p[0], p[1]
        if t == "U" or (t in "wv" and len(p) < 3):
            uses[f].add(sym)            # undefined (a weak one has no value)
        elif t in "TDBRCGSVWuvw":
            # A global definition (lowercase ones are static, except u, v, w:
            # unique global and weak); weak ones yield to a strong one.
            defs.setdefault(sym, []).append((t not in "VWvw", f))

def module(f):
    return f.split("/", 1)[0]

edges = {f: {} for f in uses}   # a -> {b: [symbols]}
ambiguous = []
for a, syms in uses.items():
    for s in sorted(syms):
        ds = defs.get(s)
        if not ds:
            continue            # a library symbol (libc, OpenSSL, ...)
        strong = [f for st, f in ds if st] or [f for _, f in ds]
        if len(strong) > 1:
            # Several programs may define the same name; the one in the
            # user's own folder, then module, is the one it links with.
            same = [f for f in strong if os.path.dirname(f) == os.path.dirname(a)] \
                or [f for f in strong if module(f) == module(a)]
            if len(same) == 1:
                strong = same
            else:
                ambiguous.append((a, s, strong))
        for b in strong:
            if b != a:
                edges[a].setdefault(b, []).append(s)

for a, s, fs in ambiguous:
    print(f"check-circles: warning: {a} uses {s}, defined in {', '.join(fs)}", file=sys.stderr)

# Tarjan's strongly connected components (iterative).
index, low, on, stack, sccs = {}, {}, set(), [], []
counter = 0
for v0 in sorted(edges):
    if v0 in index:
        continue
    work = [(v0, iter(sorted(edges[v0])))]
    index[v0] = low[v0] = counter; counter += 1
    stack.append(v0); on.add(v0)
    while work:
        v, it = work[-1]
        for w in it:
            if w not in index:
                index[w] = low[w] = counter; counter += 1
                stack.append(w); on.add(w)
                work.append((w, iter(sorted(edges[w]))))
                break
            if w in on:
                low[v] = min(low[v], index[w])
        else:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop(); on.discard(w); comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    sccs.append(sorted(comp))

def shortest(start, goal, members):
    prev = {start: None}
    q = deque([start])
    while q:
        v = q.popleft()
        if v == goal:
            path = []
            while v is not None:
                path.append(v); v = prev[v]
            return path[::-1]
        for w in sorted(edges[v]):
            if w in members and w not in prev:
                prev[w] = v; q.append(w)
    return None

nedges = sum(len(e) for e in edges.values())
ncycles = 0
for comp in sorted(sccs):
    members = set(comp)
    print(f"component ({len(comp)} files): {' '.join(comp)}")
    seen = set()
    for a in comp:
        for b in sorted(edges[a]):
            if b not in members:
                continue
            cyc = [a] + shortest(b, a, members)[:-1]
            i = cyc.index(min(cyc))
            cyc = tuple(cyc[i:] + cyc[:i])
            if cyc in seen:
                continue
            seen.add(cyc)
            ncycles += 1
            ring = list(cyc) + [cyc[0]]
            why = "; ".join(f"{x}->{y}: {', '.join(edges[x][y])}" for x, y in zip(ring, ring[1:]))
            print(f"circle: {' -> '.join(ring)} ({why})")
if sccs:
    nfiles = sum(len(c) for c in sccs)
    print(f"check-circles: {len(edges)} source files, {nedges} edges, "
          f"{len(sccs)} components with circles ({nfiles} files, {ncycles} circles)")
    sys.exit(1)
print(f"check-circles: {len(edges)} source files, {nedges} edges, no circles")
PY
