//! mapscope-goheap: the Go heap as the garbage collector sees it, from a
//! core — the layer between the runtime view (mapscope-goruntime: heap
//! walk, goroutines, layouts) and the map layer (mapscope-gomaps).
//!
//! Owns:
//! - [`pointers`]: which words of heap objects and of data/bss hold
//!   pointers, read from the runtime's bitmaps (where they are is
//!   `mapscope_goruntime::layout::gc`'s);
//! - [`graph`]: the object graph (CSR edges over the heap walk's object
//!   ids) and the reachability questions asked of it: retained bytes,
//!   root labels, shortest paths;
//! - [`roots`]: the GC's root set (precise globals, stack maps per frame,
//!   finalizer specials), named per root ([`roots::RootKind`],
//!   [`roots::RootOrigin`]);
//! - [`dominators`]: the dominator tree under a virtual root of every
//!   named root, and the retained bytes it gives;
//! - [`trim_allocator`]: the allocator's free memory handed back to the
//!   kernel between the graph phases.
//!
//! Does not touch: maps (finding, decoding, naming them: mapscope-gomaps),
//! the heap walk itself (mapscope-goruntime), output. Names no runtime
//! struct, global or constant: every offset and address comes resolved
//! from `mapscope_goruntime::layout` (enforced by goruntime's
//! `tests/boundary.rs`).
//!
//! Untrusted input: every read is bounds-checked through the memory view;
//! walks are iterative and bounded (stack objects per goroutine, mask
//! sizes, the graph's own id space).

pub mod dominators;
pub mod graph;
pub mod pointers;
pub mod roots;
#[cfg(test)]
mod testgraph;
#[cfg(test)]
mod testrng;

/// Hands the memory allocator's free pages back to the kernel. After a
/// phase that frees hundreds of MB (the typed walk's sets) glibc keeps
/// them in its per-thread arenas, where the next phases' allocations
/// fragment around them instead of reusing them: on the benchmark core
/// the anonymous peak grew by ~100 MB once the typed walk and the graph
/// build ran side by side. `malloc_trim` releases every whole free page
/// (`MADV_DONTNEED` inside the arenas); a no-op elsewhere than glibc.
pub fn trim_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reads and updates the allocator's own
    // state under its locks; it is safe to call from any thread at any
    // time.
    unsafe {
        libc::malloc_trim(0);
    }
}
