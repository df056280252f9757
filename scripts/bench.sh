#!/usr/bin/env bash
# bench.sh — mapscope at production scale (issues #9 and #20). Prints, in one
# run, every figure issue #20 asks for, each ratio taken between numbers of
# the same run (the VM's baseline moves by 4x between hours):
#
#   - `mapscope analyze --profile` on a large incident (2 GB+ core, 15 M+
#     objects): median wall of RUNS runs against the median of RUNS warm
#     `cat core > /dev/null` (target: <= 3x);
#   - its peak anonymous and peak file-backed RSS, sampled separately from
#     /proc/PID/status (RssAnon / RssFile) every 10 ms (target: anonymous
#     <= 0.25x the core's size; mapped core pages are reclaimable, the
#     analysis' own memory is not);
#   - with --viewcore BIN: golang/debug's `viewcore CORE --exe EXE histogram`
#     on the same core, median of RUNS (target: viewcore / analyze >= 5x);
#   - the linearity check on a half-size incident: large / half live heap,
#     and large / half analyze time (target: <= 1.1x the heap ratio);
#   - with --huge DIR: analyze on a core larger than half of the machine's
#     memory (12 GB+): time, anonymous RSS / core size (<= 0.25), and
#     whether it swapped or was OOM-killed (exit status, the kernel log,
#     /proc/vmstat pswpout, the process's VmSwap);
#   - for reference, one run each of `mapscope heap` and `mapscope maps`, and
#     the parallel speed-up (`analyze --jobs 1` vs the default).
# A final "targets" block says met / NOT met for each target.
#
# Usage:
#   scripts/bench.sh [--large DIR] [--half DIR] [--huge DIR] [--generate]
#                    [--bin MAPSCOPE] [--go-version 1.26] [--scale N]
#                    [--out DIR] [--runs N] [--no-jobs1] [--no-extra]
#                    [--viewcore BIN]
#
#   --large DIR    incident directory (core, mapzoo, heap.pb.gz) of the large run
#                  (default: OUT/large/go<V>-scale<N>)
#   --half DIR     the half-size incident for the linearity check
#                  (default: OUT/half/go<V>-scale<N/2>); skipped when absent
#   --huge DIR     an incident whose core is larger than half of the machine's
#                  memory; analyze runs once on it. Make it with
#                  gen-samples.sh --versions 1.26 --scale 2500 --ready-timeout
#                  6000 (scale 2300 gave a 12.58 GB core, 0.498 of a 23.5 GiB
#                  VM, in 40 minutes; it needs about the core's size free in
#                  RAM while generating, and on disk)
#   --generate     make the large and half incidents first with
#                  scripts/gen-samples.sh (--scale N, default 500: a 2 GB+
#                  core, ~20 M live objects; the half one at N/2). Several
#                  minutes each. (Not the huge one: see --huge.)
#   --bin PATH     the mapscope binary (default: cargo build --release, then
#                  $CARGO_TARGET_DIR/release/mapscope)
#   --out DIR      where generated incidents live (default /tmp/bench)
#   --runs N       runs per median (default 3)
#   --no-jobs1     skip the single-thread run of analyze (--jobs 1)
#   --no-extra     skip the one-off `heap` and `maps` runs
#   --viewcore BIN also time golang/debug's viewcore (`BIN CORE --exe EXE histogram`)
#
# Nothing here asserts a time: the script prints numbers, ratios and the
# verdicts, and the machine load (1/5/15-minute averages) before every
# measurement, so that noisy runs show. Exit status 0 unless an input is
# missing or a tool is absent.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
large=""
half=""
huge=""
generate=0
bin=""
go_version=1.26
scale=500
out=/tmp/bench
runs=3
jobs1=1
extra=1
viewcore=""

die() { echo "bench: $*" >&2; exit 2; }
log() { echo "bench: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --large) large=$2; shift 2 ;;
        --half) half=$2; shift 2 ;;
        --huge) huge=$2; shift 2 ;;
        --generate) generate=1; shift ;;
        --bin) bin=$2; shift 2 ;;
        --go-version) go_version=$2; shift 2 ;;
        --scale) scale=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --no-jobs1) jobs1=0; shift ;;
        --no-extra) extra=0; shift ;;
        --viewcore) viewcore=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
case "$scale" in *[!0-9]*|""|0|1) die "--scale wants an integer >= 2, got '$scale'" ;; esac
case "$runs" in *[!0-9]*|""|0) die "--runs wants an integer >= 1, got '$runs'" ;; esac
half_scale=$((scale / 2))
[ -n "$large" ] || large="$out/large/go$go_version-scale$scale"
[ -n "$half" ] || half="$out/half/go$go_version-scale$half_scale"
command -v python3 > /dev/null || die "python3 is needed (RSS sampler, JSON)"
command -v bc > /dev/null || die "bc is needed"
if [ -n "$viewcore" ]; then [ -x "$viewcore" ] || die "no viewcore binary at $viewcore"; fi
if [ -n "$huge" ]; then [ -f "$huge/core" ] || die "no core in $huge (--huge)"; fi

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

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The sampler: runs a command (stdout to /dev/null, stderr to a file), polls
# /proc/PID/status every 10 ms while a second thread waits for the exit, and
# prints one line: wall user sys peak_rss_kib peak_anon_kib peak_file_kib
# peak_swap_kib exit_code signal major_faults. The total peak is the
# kernel's VmHWM (last sample); the anonymous and file peaks are sampled, so a peak shorter than
# 10 ms can be missed. (rusage's ru_maxrss is not used: it counts the
# forking Python's own memory.)
cat > "$work/sample.py" <<'PY'
import os, sys, threading, time
errfile, argv = sys.argv[1], sys.argv[2:]
keys = ("VmHWM", "RssAnon", "RssFile", "VmSwap")
peak = dict.fromkeys(keys, 0)
any_peak = dict.fromkeys(keys, 0)
with open(os.devnull, "wb") as devnull, open(errfile, "wb") as err:
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.dup2(devnull.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
done = threading.Event()
result = {}
def waiter():
    _, status, ru = os.wait4(pid, 0)
    result["t1"] = time.monotonic()
    result["status"], result["ru"] = status, ru
    done.set()
threading.Thread(target=waiter, daemon=True).start()
path = "/proc/%d/status" % pid
name = os.path.basename(argv[0])[:15]
while not done.is_set():
    try:
        with open(path) as f:
            now = {}
            for line in f:
                k, _, v = line.partition(":")
                now[k] = v.strip()
        # Before the exec the child is still a copy of this Python: its
        # samples count only if no sample ever shows the command's name
        # (argv[0] a symbolic link to a differently named file).
        for d, ok in ((peak, now.get("Name") == name), (any_peak, True)):
            for k in keys:
                if ok and k in now:
                    d[k] = max(d[k], int(now[k].split()[0]))
    except (OSError, ValueError, IndexError):
        pass
    done.wait(0.01)
if not any(peak.values()):
    peak = any_peak
st, ru = result["status"], result["ru"]
code = os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
sig = os.WTERMSIG(st) if os.WIFSIGNALED(st) else 0
print("%.3f %.3f %.3f %d %d %d %d %d %d %d" % (result["t1"] - t0, ru.ru_utime, ru.ru_stime,
      peak["VmHWM"], peak["RssAnon"], peak["RssFile"], peak["VmSwap"], code, sig, ru.ru_majflt))
PY

load() { cut -d' ' -f1-3 /proc/loadavg; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
mib() { printf '%.0f' "$(echo "$1 / 1024" | bc -l)"; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -1; }

# measure LABEL CMD...: one run under the sampler; prints one line and sets
# wall, cpu (user + system, s), rss / anon / file / swap (KiB), rc, sig,
# majflt (major page faults: pages read from disk, e.g. an evicted core).
measure() {
    local label=$1 l line
    shift
    l=$(load)
    line=$(python3 "$work/sample.py" "$work/stderr" "$@")
    read -r wall user sys rss anon file swap rc sig majflt <<< "$line"
    cpu=$(printf '%.2f' "$(echo "$user + $sys" | bc -l)")
    printf '%-30s %7.2f s wall %7.2f s cpu  RSS peak %6s MiB (anon %6s, file %6s)  majflt %d  exit %d  (load %s)\n' \
        "$label" "$wall" "$cpu" "$(mib "$rss")" "$(mib "$anon")" "$(mib "$file")" "$majflt" "$rc" "$l"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
        log "$label failed (exit $rc):"; head -5 "$work/stderr" >&2
    fi
}

# measure_n N LABEL CMD...: N runs; sets m_wall / m_cpu (medians), m_rss /
# m_anon / m_file / m_swap (maxima over the runs) and m_rc (worst exit).
measure_n() {
    local n=$1 label=$2 i walls=() cpus=() rsss=() anons=() files=() swaps=() rcs=()
    shift 2
    for ((i = 1; i <= n; i++)); do
        measure "$label" "$@"
        walls+=("$wall"); cpus+=("$cpu"); rsss+=("$rss"); anons+=("$anon")
        files+=("$file"); swaps+=("$swap"); rcs+=("$rc")
    done
    m_wall=$(median "${walls[@]}"); m_cpu=$(median "${cpus[@]}")
    m_rss=$(maxof "${rsss[@]}"); m_anon=$(maxof "${anons[@]}")
    m_file=$(maxof "${files[@]}"); m_swap=$(maxof "${swaps[@]}"); m_rc=$(maxof "${rcs[@]}")
    if [ "$n" -gt 1 ]; then
        printf '%-30s %7.2f s wall %7.2f s cpu  (median of %d; walls %s)\n' \
            "  => median" "$m_wall" "$m_cpu" "$n" "${walls[*]}"
    fi
}

# heap_numbers DIR: live heap objects and in-use bytes per `mapscope heap`.
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

# analyze_cmd DIR: the measured analysis.
analyze_args() { echo "$1/core" --exe "$1/mapzoo" --profile "$1/heap.pb.gz"; }

# describe DIR: prints the incident's sizes; sets core_bytes, heap_bytes, objects.
describe() {
    core_bytes=$(stat -c %s "$1/core")
    read -r objects heap_bytes < <(heap_numbers "$1")
    echo
    echo "== $1"
    printf 'core %d bytes (%.2f GiB), live heap %d bytes (%.2f GiB), %d live objects\n' \
        "$core_bytes" "$(echo "$core_bytes / 2^30" | bc -l)" "$heap_bytes" \
        "$(echo "$heap_bytes / 2^30" | bc -l)" "$objects"
}

# baseline DIR N: median of N warm reads of the core; sets base (s, >= 0.01).
baseline() {
    cat "$1/core" > /dev/null           # warm the page cache
    measure_n "$2" "cat core > /dev/null" cat "$1/core"
    base=$(echo "if ($m_wall < 0.01) 0.01 else $m_wall" | bc -l)
}

# bench_one DIR: baseline, analyze (median of runs), heap and maps once, viewcore.
# Sets an_wall an_cpu an_rss an_anon an_file base core_bytes heap_bytes vc_wall.
bench_one() {
    local dir=$1 kib
    describe "$dir"
    baseline "$dir" "$runs"
    # shellcheck disable=SC2046
    measure_n "$runs" "mapscope analyze --profile" "$bin" analyze $(analyze_args "$dir")
    an_wall=$m_wall; an_cpu=$m_cpu; an_rss=$m_rss; an_anon=$m_anon; an_file=$m_file
    if [ $extra -eq 1 ]; then
        measure "mapscope heap" "$bin" heap "$dir/core" --exe "$dir/mapzoo"
        hp_wall=$wall; hp_cpu=$cpu
        measure "mapscope maps" "$bin" maps "$dir/core" --exe "$dir/mapzoo"
        mp_wall=$wall; mp_cpu=$cpu
    fi
    vc_wall=""
    if [ -n "$viewcore" ]; then
        measure_n "$runs" "viewcore histogram (peer)" "$viewcore" "$dir/core" --exe "$dir/mapzoo" histogram
        vc_wall=$m_wall; vc_cpu=$m_cpu
    fi
    kib=$((core_bytes / 1024))
    echo "ratios (medians; wall / baseline wall, RSS / core size):"
    printf '  analyze  %6sx the read (CPU time %s s: %sx the read'"'"'s wall)\n' "$(ratio "$an_wall" "$base")" \
        "$an_cpu" "$(ratio "$an_cpu" "$base")"
    printf '  analyze  peak RSS: anon %s, file-backed %s, total %s of the core\n' \
        "$(ratio "$an_anon" "$kib")" "$(ratio "$an_file" "$kib")" "$(ratio "$an_rss" "$kib")"
    if [ $extra -eq 1 ]; then
        printf '  heap     %6sx the read;  maps %sx\n' "$(ratio "$hp_wall" "$base")" "$(ratio "$mp_wall" "$base")"
    fi
    if [ -n "$vc_wall" ]; then
        printf '  viewcore %6sx the read = %sx analyze (CPU time: %sx)\n' "$(ratio "$vc_wall" "$base")" \
            "$(ratio "$vc_wall" "$an_wall")" "$(ratio "$vc_cpu" "$an_cpu")"
    fi
}

verdicts=()
verdict() { # verdict NAME VALUE OP TARGET
    local ok
    ok=$(echo "$2 $3 $4" | bc -l)
    if [ "$ok" = 1 ]; then verdicts+=("met      $1: $2 (target $3 $4)")
    else verdicts+=("NOT met  $1: $2 (target $3 $4)"); fi
}

echo "mapscope bench: $(date -u '+%F %T') UTC, $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 2^20}' /proc/meminfo), swap $(awk '/SwapTotal/ {printf "%.1f GiB", $2 / 2^20}' /proc/meminfo), load $(load)"
echo "binary: $bin ($("$bin" --version 2>/dev/null || echo '?'))"
echo "runs per median: $runs; RSS sampled from /proc/PID/status every 10 ms"
# What else shapes this machine's speed: the baseline moves between hours
# (see docs/performance.md), and these say why when it does.
steal() { awk '/^cpu / {print $9}' /proc/stat; }
steal_start=$(steal)
damon=off
for st in /sys/kernel/mm/damon/admin/kdamonds/*/state; do
    [ -r "$st" ] && [ "$(cat "$st")" = on ] && damon=on
done
echo "machine: transparent huge pages $(sed 's/.*\[\(.*\)\].*/\1/' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo '?'), DAMON $damon"

bench_one "$large"
L_wall=$an_wall; L_cpu=$an_cpu; L_heap=$heap_bytes; L_core=$core_bytes
verdict "analyze / warm read (large)" "$(ratio "$an_wall" "$base")" "<=" 3
verdict "peak anon RSS / core (large)" "$(ratio "$an_anon" "$((core_bytes / 1024))")" "<=" 0.25
if [ -n "$vc_wall" ]; then
    verdict "viewcore / analyze (large)" "$(ratio "$vc_wall" "$an_wall")" ">=" 5
fi

if [ $jobs1 -eq 1 ]; then
    echo
    echo "== parallel speed-up ($large)"
    # shellcheck disable=SC2046
    measure "analyze --jobs 1" "$bin" analyze --jobs 1 $(analyze_args "$large")
    printf '  speed-up default / 1 thread: %sx wall (CPU %s s with 1 thread, %s s default)\n' \
        "$(ratio "$wall" "$L_wall")" "$cpu" "$L_cpu"
fi

if [ -f "$half/core" ]; then
    bench_one "$half"
    echo
    echo "== linearity (large / half)"
    hr=$(ratio "$L_heap" "$heap_bytes")
    printf '  live heap ratio %s; analyze wall ratio %s, CPU ratio %s (target: <= 1.1 x the heap ratio = %s)\n' \
        "$hr" "$(ratio "$L_wall" "$an_wall")" "$(ratio "$L_cpu" "$an_cpu")" "$(ratio "$hr * 1.1" 1)"
    verdict "linearity: analyze wall large/half" "$(ratio "$L_wall" "$an_wall")" "<=" "$(ratio "$hr * 1.1" 1)"
else
    log "no half-size incident at $half: linearity not measured"
    verdicts+=("not measured  linearity (no half-size incident at $half)")
fi

if [ -n "$huge" ]; then
    describe "$huge"
    mem_kib=$(awk '/MemTotal/ {print $2}' /proc/meminfo)
    mem_share=$(printf '%.3f' "$(echo "$core_bytes / 1024 / $mem_kib" | bc -l)")
    printf 'core / machine memory: %s (must be > 0.5)\n' "$mem_share"
    baseline "$huge" 1
    swp0=$(awk '/^pswpout/ {print $2}' /proc/vmstat)
    oom0=$(awk '/^oom_kill / {print $2}' /proc/vmstat)
    # shellcheck disable=SC2046
    measure "mapscope analyze (huge)" "$bin" analyze $(analyze_args "$huge")
    swp1=$(awk '/^pswpout/ {print $2}' /proc/vmstat)
    oom1=$(awk '/^oom_kill / {print $2}' /proc/vmstat)
    kib=$((core_bytes / 1024))
    oomlog=$(dmesg 2>/dev/null | grep -ciE 'out of memory|oom-kill|killed process' || true)
    printf '  analyze %sx the read; anon RSS %s, file RSS %s of the core; exit %d (signal %d)\n' \
        "$(ratio "$wall" "$base")" "$(ratio "$anon" "$kib")" "$(ratio "$file" "$kib")" "$rc" "$sig"
    printf '  pages swapped out during the run: %d; process VmSwap peak %s KiB; OOM kills during the run: %d (kernel log OOM lines, whole boot: %s)\n' \
        "$((swp1 - swp0))" "$swap" "$((oom1 - oom0))" "${oomlog:-?}"
    verdict "huge: core / machine memory" "$mem_share" ">" 0.5
    verdict "huge: peak anon RSS / core" "$(ratio "$anon" "$kib")" "<=" 0.25
    if [ "$rc" -le 1 ] && [ $((oom1 - oom0)) -eq 0 ] && [ $((swp1 - swp0)) -eq 0 ] && [ "$swap" -eq 0 ]; then
        verdicts+=("met      huge: no OOM, no swap, exit $rc")
    else
        verdicts+=("NOT met  huge: exit $rc, OOM kills $((oom1 - oom0)), pages swapped $((swp1 - swp0))")
    fi
else
    verdicts+=("not measured  12 GB+ core (use --huge DIR)")
fi
[ -n "$viewcore" ] || verdicts+=("not measured  viewcore ratio (use --viewcore BIN)")

echo
echo "== targets (issue #20; load now $(load); CPU time stolen by the host during the run: $(awk -v a="$steal_start" -v b="$(steal)" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f s", (b - a) / hz}'))"
printf '  %s\n' "${verdicts[@]}"
