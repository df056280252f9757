//! The runtime's own heap statistics as the core holds them, computed the
//! way `runtime.ReadMemStats` computes `HeapAlloc`, `HeapObjects`,
//! `HeapInuse` and `BySize`, to set beside the walk's totals.
//!
//! `ReadMemStats` first flushes every P's mcache; a core is taken without
//! that flush, so slots allocated from a span *while it is cached* are not
//! yet in `memstats.heapStats`. They are exactly `allocCount −
//! allocCountBeforeCache` of each cached span (`sweepgen == mheap_.sweepgen
//! + 3`), which the walk knows, and are added here ("pending").

use super::{Heap, Warnings};
use crate::layout::{word_at, RuntimeLayout};
use crate::process::GoProcess;

/// Relative difference above which walk and runtime disagree (1%).
const TOLERANCE: f64 = 0.01;

/// Allocation counts of one size class, as in `MemStats.BySize`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SizeClassStat {
    pub size_class: u8,
    pub size: u64,
    pub mallocs: u64,
    pub frees: u64,
}

/// What the runtime's statistics in the core say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimeStats {
    /// `HeapAlloc` as `ReadMemStats` would report it at the moment of the
    /// core: consistent stats plus slots allocated from mcache-cached spans.
    pub heap_alloc: u64,
    /// `HeapObjects`, likewise.
    pub heap_objects: u64,
    /// The part of `heap_alloc` from `memstats.heapStats` alone.
    pub heap_alloc_consistent: u64,
    pub heap_objects_consistent: u64,
    /// Bytes and objects allocated from cached spans since they were cached.
    pub mcache_pending_bytes: u64,
    pub mcache_pending_objects: u64,
    /// `TotalAlloc`, `Mallocs`, `Frees` (cumulative; pending included).
    pub total_alloc: u64,
    pub mallocs: u64,
    pub frees: u64,
    /// `HeapInuse` (`gcController.heapInUse`).
    pub heap_inuse: Option<u64>,
    /// `mheap_.pagesInUse × pageSize` (the same quantity, counted apart).
    pub pages_in_use_bytes: Option<u64>,
    /// `HeapIdle − HeapReleased` and `HeapReleased`.
    pub heap_free: Option<u64>,
    pub heap_released: Option<u64>,
    /// `StackInuse` (`heapStats.inStacks`).
    pub stack_inuse: u64,
    /// `gcController.heapLive` / `heapMarked`: live heap as the GC pacer
    /// sees it, and what the last mark found.
    pub heap_live: Option<u64>,
    pub heap_marked: Option<u64>,
    /// `NumGC`.
    pub num_gc: Option<u64>,
    /// `MemStats.BySize` (all classes, including empty ones).
    pub by_size: Vec<SizeClassStat>,
}

impl RuntimeStats {
    /// Adds a warning for every total where the walk and the runtime differ
    /// by more than 1%, with both numbers.
    pub(super) fn compare_with_walk(&self, heap: &Heap, warnings: &mut Warnings) {
        let mut check = |what: &str, walk: u64, runtime: u64| {
            let diff = walk.abs_diff(runtime) as f64;
            if diff > TOLERANCE * (runtime.max(1) as f64) {
                warnings.push(format!(
                    "{what}: the heap walk found {walk} but the runtime's statistics say {runtime} ({:+.2}%)",
                    (walk as f64 - runtime as f64) * 100.0 / runtime.max(1) as f64
                ));
            }
        };
        check(
            "heap bytes in use (HeapAlloc)",
            heap.in_use_bytes(),
            self.heap_alloc,
        );
        check(
            "heap objects (HeapObjects)",
            heap.object_count(),
            self.heap_objects,
        );
        if let Some(inuse) = self.heap_inuse {
            check("in-use span bytes (HeapInuse)", heap.span_bytes(), inuse);
        }
    }
}

pub(super) fn read_stats(
    process: &GoProcess,
    layout: &RuntimeLayout,
    heap: &Heap,
    warnings: &mut Warnings,
) -> Option<RuntimeStats> {
    let sl = layout.stats.as_ref()?;
    let mem = process.memory();
    let Some(memstats) = layout.globals.memstats else {
        warnings.push("runtime.memstats not found: no runtime statistics to compare".to_string());
        return None;
    };
    let classes = sl.size_classes as usize;
    let mut small_alloc = vec![0u64; classes];
    let mut small_free = vec![0u64; classes];
    let (mut large_alloc, mut large_alloc_count, mut large_free, mut large_free_count) =
        (0u64, 0u64, 0u64, 0u64);
    let (mut tiny, mut in_stacks) = (0u64, 0i64);
    let mut delta = vec![0u8; sl.delta_size as usize];
    for i in 0..sl.delta_count {
        let at = memstats + sl.heap_stats + i * sl.delta_size;
        if let Err(e) = mem.read(at, &mut delta) {
            warnings.push(format!(
                "runtime.memstats.heapStats unreadable at {at:#x}: {e}"
            ));
            return None;
        }
        let w = |off: u64| word_at(&delta, off).unwrap_or(0);
        large_alloc = large_alloc.wrapping_add(w(sl.large_alloc));
        large_alloc_count = large_alloc_count.wrapping_add(w(sl.large_alloc_count));
        large_free = large_free.wrapping_add(w(sl.large_free));
        large_free_count = large_free_count.wrapping_add(w(sl.large_free_count));
        tiny = tiny.wrapping_add(w(sl.tiny_alloc_count));
        in_stacks = in_stacks.wrapping_add(w(sl.in_stacks) as i64);
        for c in 0..classes {
            small_alloc[c] = small_alloc[c].wrapping_add(w(sl.small_alloc_count + 8 * c as u64));
            small_free[c] = small_free[c].wrapping_add(w(sl.small_free_count + 8 * c as u64));
        }
    }
    let size = |c: usize| layout.class_size(c as u8) as u64;

    let mut pending = vec![0u64; classes];
    for s in heap.spans() {
        if s.cached && (s.size_class as usize) < classes {
            pending[s.size_class as usize] += s.pending_allocs as u64;
        }
    }
    let mcache_pending_objects: u64 = pending.iter().sum();
    let mcache_pending_bytes: u64 = pending.iter().enumerate().map(|(c, n)| n * size(c)).sum();

    let mut total_alloc = large_alloc;
    let mut total_free = large_free;
    let mut mallocs = large_alloc_count;
    let mut frees = large_free_count;
    let mut by_size = Vec::with_capacity(classes);
    for c in 0..classes {
        total_alloc = total_alloc.wrapping_add(small_alloc[c].wrapping_mul(size(c)));
        total_free = total_free.wrapping_add(small_free[c].wrapping_mul(size(c)));
        mallocs = mallocs.wrapping_add(small_alloc[c]);
        frees = frees.wrapping_add(small_free[c]);
        by_size.push(SizeClassStat {
            size_class: c as u8,
            size: size(c),
            mallocs: small_alloc[c] + pending[c],
            frees: small_free[c],
        });
    }
    let heap_alloc_consistent = total_alloc.wrapping_sub(total_free);
    let heap_objects_consistent = mallocs.wrapping_sub(frees);

    let gc = layout.globals.gc_controller;
    let gc_word = |off: Option<u64>| -> Option<u64> { mem.read_u64(gc?.checked_add(off?)?).ok() };
    let pages_in_use_bytes = mem
        .read_u64(layout.globals.mheap + layout.mheap.pages_in_use)
        .ok()
        .map(|p| p.wrapping_mul(layout.constants.page_size));
    let num_gc = sl.numgc.and_then(|f| {
        let mut b = [0u8; 8];
        mem.read(memstats + f.offset, &mut b[..f.size as usize])
            .ok()?;
        Some(u64::from_le_bytes(b))
    });

    Some(RuntimeStats {
        heap_alloc: heap_alloc_consistent.wrapping_add(mcache_pending_bytes),
        heap_objects: heap_objects_consistent.wrapping_add(mcache_pending_objects),
        heap_alloc_consistent,
        heap_objects_consistent,
        mcache_pending_bytes,
        mcache_pending_objects,
        total_alloc: total_alloc.wrapping_add(mcache_pending_bytes),
        mallocs: mallocs
            .wrapping_add(mcache_pending_objects)
            .wrapping_add(tiny),
        frees: frees.wrapping_add(tiny),
        heap_inuse: gc_word(sl.gc_heap_in_use),
        pages_in_use_bytes,
        heap_free: gc_word(sl.gc_heap_free),
        heap_released: gc_word(sl.gc_heap_released),
        stack_inuse: in_stacks.max(0) as u64,
        heap_live: gc_word(sl.gc_heap_live),
        heap_marked: gc_word(sl.gc_heap_marked),
        num_gc,
        by_size,
    })
}
