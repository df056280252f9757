#!/usr/bin/env bash
# bench.sh — mapscope at production scale (issue #9): wall time and peak RSS
# of `mapscope analyze` (with the profile), `mapscope maps` and
# `mapscope heap` on a large incident, against the physical baseline of
# reading the core once (`cat core > /dev/null`, warm page cache), plus the
# linearity check on a half-size incident and the parallel speed-up
# (`--jobs 1` vs the default).
#
# Usage:
#   scripts/bench.sh [--large DIR] [--half DIR] [--generate] [--bin MAPSCOPE]
#                    [--go-version 1.26] [--scale N] [--out DIR] [--no-jobs1]
#                    [--viewcore BIN]
#
#   --large DIR    incident directory (core, mapzoo, heap.pb.gz) of the large run
#                  (default: OUT/large/go<V>-scale<N>)
#   --half DIR     the half-size incident for the linearity check
#                  (default: OUT/half/go<V>-scale<N/2>); skipped when absent
#   --generate     make the incidents first with scripts/gen-samples.sh
#                  (--scale N, default 500: a 2 GB+ core, ~10 M+ live objects;
#                  the half one at N/2). Takes several minutes each.
#   --bin PATH     the mapscope binary (default: cargo build --release, then
#                  $CARGO_TARGET_DIR/release/mapscope)
#   --out DIR      where generated incidents live (default /tmp/bench)
#   --no-jobs1     skip the single-thread run of analyze (--jobs 1)
#   --viewcore BIN also time golang/debug's viewcore (`BIN CORE --exe EXE histogram`)
#
# Nothing here asserts a time: the script prints numbers and ratios, and the
# machine load (uptime) before every measurement so that noisy runs show.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
large=""
half=""
generate=0
bin=""
go_version=1.26
scale=500
out=/tmp/bench
jobs1=1
viewcore=""

die() { echo "bench: $*" >&2; exit 2; }
log() { echo "bench: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --large) large=$2; shift 2 ;;
        --half) half=$2; shift 2 ;;
        --generate) generate=1; shift ;;
        --bin) bin=$2; shift 2 ;;
        --go-version) go_version=$2; shift 2 ;;
        --scale) scale=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --no-jobs1) jobs1=0; shift ;;
        --viewcore) viewcore=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
case "$scale" in *[!0-9]*|""|0|1) die "--scale wants an integer >= 2, got '$scale'" ;; esac
half_scale=$((scale / 2))
[ -n "$large" ] || large="$out/large/go$go_version-scale$scale"
[ -n "$half" ] || half="$out/half/go$go_version-scale$half_scale"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is needed for peak RSS"

if [ $generate -eq 1 ]; then
    for pair in "$scale:$out/large" "$half_scale:$out/half"; do
        s=${pair%%:*}; dir=${pair#*:}
        log "generating scale $s into $dir (several minutes)"
        "$repo/scripts/gen-samples.sh" --versions "$go_version" --scale "$s" \
            --out "$dir" --ready-timeout 3000 --reuse
    done
fi
[ -f "$large/core" ] || die "no core in $large (use --generate or --large DIR)"

if [ -z "$bin" ]; then
    (cd "$repo" && cargo build --release -q -p mapscope) || die "cargo build failed"
    bin="${CARGO_TARGET_DIR:-$repo/target}/release/mapscope"
fi
[ -x "$bin" ] || die "no mapscope binary at $bin"

# measure LABEL CMD...: runs CMD once under GNU time; prints one line and
# sets $wall and $cpu (user + system, seconds) and $rss (KiB). CPU time is
# printed too because wall time on a shared, loaded machine is noise.
measure() {
    local label=$1 tf rc=0
    shift
    tf=$(mktemp)
    /usr/bin/time -v -o "$tf" "$@" > /dev/null 2> "$tf.err" || rc=$?
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {
        n = split($2, p, ":"); s = 0
        for (i = 1; i <= n; i++) s = s * 60 + p[i]
        printf "%.2f", s }' "$tf")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$tf")
    printf '%-34s %8s s wall %8s s cpu  peak RSS %8.1f MiB  exit %d  (load %s)\n' \
        "$label" "$wall" "$cpu" "$(echo "$rss / 1024" | bc -l)" "$rc" "$(load)"
    if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
        log "$label failed (exit $rc):"; head -5 "$tf.err" >&2
    fi
    rm -f "$tf" "$tf.err"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }

# objects COREDIR: live heap objects and in-use bytes per `mapscope heap`.
heap_numbers() {
    "$bin" heap "$1/core" --exe "$1/mapzoo" --format json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
def find(o, keys):
    if isinstance(o, dict):
        for k in keys:
            if k in o and isinstance(o[k], int):
                return o[k]
        for v in o.values():
            r = find(v, keys)
            if r is not None:
                return r
    return None
print(find(d, ["objects", "in_use_objects"]) or 0, find(d, ["in_use_bytes", "bytes"]) or 0)'
}

# bench_one DIR: the full set on one incident; sets analyze_wall, core_bytes, heap_bytes.
bench_one() {
    local dir=$1 core=$1/core exe=$1/mapzoo prof=$1/heap.pb.gz
    core_bytes=$(stat -c %s "$core")
    read -r objects heap_bytes < <(heap_numbers "$dir")
    echo
    echo "== $dir"
    printf 'core %d bytes (%.2f GiB), live heap %d bytes (%.2f GiB), %d live objects\n' \
        "$core_bytes" "$(echo "$core_bytes / 2^30" | bc -l)" "$heap_bytes" \
        "$(echo "$heap_bytes / 2^30" | bc -l)" "$objects"
    cat "$core" > /dev/null           # warm the page cache
    # The baseline is the median of three reads: one read is noisy on a VM.
    local reads=()
    for _ in 1 2 3; do
        measure "baseline: cat core > /dev/null" cat "$core"
        reads+=("$wall")
    done
    wall=$(printf '%s\n' "${reads[@]}" | sort -n | sed -n 2p)
    echo "baseline (median of 3): $wall s"
    local base=$wall base_s
    base_s=$(echo "if ($base < 0.01) 0.01 else $base" | bc -l)
    measure "mapscope heap" "$bin" heap "$core" --exe "$exe"
    heap_wall=$wall; heap_rss=$rss; heap_cpu=$cpu
    measure "mapscope maps" "$bin" maps "$core" --exe "$exe"
    maps_wall=$wall; maps_rss=$rss; maps_cpu=$cpu
    measure "mapscope analyze --profile" "$bin" analyze "$core" --exe "$exe" --profile "$prof"
    analyze_wall=$wall; analyze_rss=$rss; analyze_cpu=$cpu
    local kib=$((core_bytes / 1024))
    echo "ratios (wall time / baseline wall, peak RSS / core size):"
    printf '  heap     %6sx   RSS %s of the core\n' "$(ratio "$heap_wall" "$base_s")" "$(ratio "$heap_rss" "$kib")"
    printf '  maps     %6sx   RSS %s of the core\n' "$(ratio "$maps_wall" "$base_s")" "$(ratio "$maps_rss" "$kib")"
    printf '  analyze  %6sx   RSS %s of the core\n' "$(ratio "$analyze_wall" "$base_s")" "$(ratio "$analyze_rss" "$kib")"
    if [ -n "$viewcore" ]; then
        measure "viewcore histogram (peer)" "$viewcore" "$core" --exe "$exe" histogram
        printf '  viewcore %6sx baseline, %sx mapscope heap\n' "$(ratio "$wall" "$base_s")" "$(ratio "$wall" "$heap_wall")"
    fi
}

echo "mapscope bench: $(date -u '+%F %T') UTC, $(nproc) CPUs, $("$bin" --version 2>/dev/null || echo mapscope)"
bench_one "$large"
large_analyze=$analyze_wall; large_heap_bytes=$heap_bytes; large_heap_wall=$heap_wall
large_analyze_cpu=$analyze_cpu; large_maps_cpu=$maps_cpu; large_heap_cpu=$heap_cpu

if [ $jobs1 -eq 1 ]; then
    echo
    echo "== parallel speed-up ($large)"
    measure "analyze --jobs 1" "$bin" analyze "$large/core" --jobs 1 \
        --exe "$large/mapzoo" --profile "$large/heap.pb.gz"
    printf '  speed-up default/1 thread: %sx wall (CPU %s s with 1 thread, %s s default)\n' \
        "$(ratio "$wall" "$large_analyze")" "$cpu" "$large_analyze_cpu"
fi

if [ -f "$half/core" ]; then
    bench_one "$half"
    echo
    echo "== linearity (large / half)"
    printf '  live heap ratio %s (target: time ratio <= 1.1 x this)\n' "$(ratio "$large_heap_bytes" "$heap_bytes")"
    printf '  wall: analyze %s, heap %s\n' "$(ratio "$large_analyze" "$analyze_wall")" "$(ratio "$large_heap_wall" "$heap_wall")"
    printf '  cpu:  analyze %s, maps %s, heap %s\n' "$(ratio "$large_analyze_cpu" "$analyze_cpu")" \
        "$(ratio "$large_maps_cpu" "$maps_cpu")" "$(ratio "$large_heap_cpu" "$heap_cpu")"
else
    log "no half-size incident at $half: linearity not measured"
fi
