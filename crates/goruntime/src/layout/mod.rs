//! The Go runtime's structures, globals, constants and function names,
//! resolved once into plain offsets, addresses and flags. The crates above
//! mapscope-goruntime read these resolved structs and name no runtime
//! struct, global, constant or function themselves (enforced by
//! `tests/boundary.rs`). Inside this crate, the goroutine walk still names
//! the globals it starts from (`allgs`, `allm`, `sched`) and the status
//! and wait-reason constants (`goroutines/`).
//!
//! - `heap.rs` (its items re-exported here): the heap walk's layouts
//!   (`mheap`, `heapArena`, `mspan`, specials, profile buckets, memory
//!   statistics, `abi.Type`), the heap constants, the allocator's size
//!   classes and malloc-header rule ([`AllocLayout`], also what the map
//!   decoders estimate sizes with) and the finalizer special
//!   ([`FinalizerLayout`]).
//! - `goroutines.rs` (crate-private): `runtime.g`, `runtime.m` and the
//!   signal frame, with the per-release table for executables without
//!   DWARF.
//! - [`maps`]: classic `hmap`/`bmap`, Swiss `maps.Map`/`table`/groups and
//!   both `sync.Map` implementations, the `hashWriting` flag, the
//!   `sync.expunged` marker and the indirect key/value limit.
//! - [`gc`]: where the garbage collector keeps pointer bitmaps (heap bits
//!   in spans or the arena bitmap, type masks, the data/bss masks of
//!   `firstmoduledata`).
//! - [`funcs`]: which functions are the runtime's own.
//!
//! Resolvers read [`crate::dwarf::DwarfInfo`] / [`crate::dwarf::TypeTable`]
//! by type and member name, so a table that describes the same types
//! (for an executable without DWARF) plugs in below them. Version
//! differences are what those tables contain, never a version test.

pub mod funcs;
pub mod gc;
pub(crate) mod goroutines;
mod heap;
pub mod maps;

pub use heap::*;

/// The resolutions on the shipped samples, against the Go sources of each
/// release (the numbers below are theirs, not mapscope's).
#[cfg(test)]
mod tests {
    use super::gc::{GcLayout, HeapBits};
    use super::*;
    use crate::process::GoProcess;

    fn open(name: &str) -> GoProcess {
        let sample = mapscope_testsupport::sample(name);
        GoProcess::open(&sample.core, Some(&sample.exe)).expect("sample opens")
    }

    /// runtime/sizeclasses.go (`class_to_size`, `_MaxSmallSize`,
    /// `_PageShift`) and malloc.go (`mallocHeaderSize = 8`,
    /// `minSizeForMallocHeader = goarch.PtrSize * ptrBits = 512`), Go 1.22
    /// and 1.26: one resolution for the heap walk and the estimates.
    #[test]
    fn allocator_facts_are_the_go_sources_and_resolved_once() {
        for name in ["go1.22", "go1.26"] {
            let process = open(name);
            let dwarf = process.dwarf().expect("sample has DWARF");
            let alloc = AllocLayout::resolve(process.memory(), dwarf);
            assert_eq!(alloc.class_sizes, FALLBACK_CLASS_SIZES, "{name}");
            assert_eq!(alloc.page_size, 8192, "{name}");
            assert_eq!(alloc.max_small_size, 32768, "{name}");
            assert_eq!(alloc.malloc_header, Some((8, 512)), "{name}");
            assert!(alloc.warnings.is_empty(), "{name}: {:?}", alloc.warnings);
            let layout = process.layout().expect("layout");
            assert_eq!(layout.class_sizes, alloc.class_sizes, "{name}");
            assert_eq!(layout.constants.page_size, alloc.page_size, "{name}");
            assert_eq!(layout.constants.max_small_size, alloc.max_small_size);
            assert_eq!(layout.constants.malloc_header, alloc.malloc_header);
        }
    }

    /// Go 1.22 and 1.26 keep heap bits in spans (mbitmap.go); 1.26's Green
    /// Tea `spanInlineMarkBits` is `[63]uint8 + uint8 + [63]uint8 +
    /// spanClass` = 128 bytes (mgcmark_greenteagc.go); masks are built on
    /// demand from 1.24 (`getGCMaskOnDemand`, type.go).
    #[test]
    fn gc_bitmap_scheme_matches_the_release() {
        let old = GcLayout::resolve(&open("go1.22")).expect("DWARF");
        assert_eq!(old.heap_bits, HeapBits::InSpan { header_min: 512 });
        assert_eq!(old.inline_mark_bytes, 0);
        assert!(!old.mask_on_demand);
        assert!(old.type_mask.is_some() && old.moduledata.is_some());
        let new = GcLayout::resolve(&open("go1.26")).expect("DWARF");
        assert_eq!(new.heap_bits, HeapBits::InSpan { header_min: 512 });
        assert_eq!(new.inline_mark_bytes, 128);
        assert!(new.mask_on_demand && new.in_progress != 0);
        assert!(new.type_mask.is_some() && new.moduledata.is_some());
    }

    /// runtime/map.go (1.22): `hashWriting = 4`; sync/map.go keeps
    /// `var expunged` until the 1.24 `HashTrieMap` rewrite removed it; the
    /// finalizer special has `fn` and `ot` in every release (mheap.go).
    #[test]
    fn map_and_finalizer_facts() {
        let old = open("go1.22");
        let dwarf = old.dwarf().expect("DWARF");
        assert_eq!(maps::hash_writing_flag(dwarf), 4);
        assert!(maps::sync_expunged_address(dwarf).is_some());
        let f = FinalizerLayout::resolve(dwarf.types());
        assert!(f.func.is_some() && f.ot.is_some() && f.ptr_elem.is_some());
        let new = open("go1.26");
        let dwarf = new.dwarf().expect("DWARF");
        assert_eq!(maps::sync_expunged_address(dwarf), None);
        let f = FinalizerLayout::resolve(dwarf.types());
        assert!(f.func.is_some() && f.ot.is_some() && f.ptr_elem.is_some());
    }
}
