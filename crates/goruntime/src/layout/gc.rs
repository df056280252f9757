//! Where the garbage collector keeps its pointer bitmaps, resolved once:
//! which heap-bits scheme this runtime uses, the offsets that reach each
//! bitmap, the `abi.Type` members of a type's pointer mask, and the
//! data/bss masks of `firstmoduledata`.
//!
//! Owns: `runtime.heapArena.bitmap` (Go 1.21), `runtime.spanInlineMarkBits`
//! (1.26+ Green Tea), the `internal/abi.Type` mask members
//! (`Size_`, `PtrBytes`, `TFlag`, `Kind_`, `GCData`), masks built on demand
//! (`runtime.getGCMaskOnDemand`, `runtime.inProgress`), and
//! `runtime.firstmoduledata`'s `data`/`edata`/`bss`/`ebss` and
//! `gcdatamask`/`gcbssmask`. Reading the bitmaps out of memory is the
//! Go-heap layer's (mapscope-gomaps `pointers`); this only says where they
//! are.

use crate::process::GoProcess;

/// `abi.KindGCProg` (Go ≤ 1.23): `GCData` is a GC program, not a mask.
pub const KIND_GC_PROG: u8 = 1 << 6;
/// `abi.TFlagGCMaskOnDemand` (Go 1.24+): `GCData` points to the mask slot.
pub const TFLAG_GC_MASK_ON_DEMAND: u8 = 1 << 4;

/// How the heap records which words of an object hold pointers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeapBits {
    /// Go 1.22+: objects of at most `header_min` bytes have heap bits at
    /// the end of their span (one per word of the span); larger objects
    /// carry their type in a malloc header (or `mspan.largeType`).
    InSpan { header_min: u64 },
    /// Go 1.21: one bit per word of the arena in `heapArena.bitmap`.
    ArenaBitmap(ArenaBitmapLayout),
    /// Neither could be resolved: scan conservatively.
    Unknown,
}

/// Go 1.21's arena bitmap, reached through `mheap_.arenas[l1][l2]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArenaBitmapLayout {
    /// Address of `mheap_.arenas`.
    pub arenas: u64,
    /// Offset of `bitmap` in `heapArena`.
    pub bitmap_offset: u64,
    pub arena_bytes: u64,
    pub base_offset: u64,
    pub l1_bits: u64,
    pub l2_bits: u64,
}

/// Offsets of the `internal/abi.Type` members a pointer mask needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeMaskFields {
    pub size: u64,
    pub ptr_bytes: u64,
    /// One byte.
    pub tflag: u64,
    /// One byte.
    pub kind: u64,
    pub gcdata: u64,
}

/// One segment of `firstmoduledata` with its pointer mask: offsets of the
/// start and end words, of the mask's bit count (`uint32`) and its
/// `bytedata` pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaskedSegment {
    pub start: u64,
    pub end: u64,
    pub mask_bits: u64,
    pub mask_data: u64,
}

/// `runtime.firstmoduledata` and its data and bss segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModuleDataLayout {
    /// Address (as mapped) of `runtime.firstmoduledata`.
    pub address: u64,
    pub data: MaskedSegment,
    pub bss: MaskedSegment,
}

/// Everything needed to read the GC's pointer bitmaps of one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcLayout {
    pub heap_bits: HeapBits,
    /// Bytes of `spanInlineMarkBits` between a span's objects and its heap
    /// bits, for spans of objects of at least 16 bytes (0 when absent).
    pub inline_mark_bytes: u64,
    pub type_mask: Option<TypeMaskFields>,
    /// The runtime builds some type masks on demand (1.24+): `GCData` of a
    /// type with [`TFLAG_GC_MASK_ON_DEMAND`] points to the mask's slot.
    pub mask_on_demand: bool,
    /// `runtime.inProgress`: the slot value of a mask being built (0 when
    /// unknown).
    pub in_progress: u64,
    pub moduledata: Option<ModuleDataLayout>,
}

impl GcLayout {
    /// Resolves the layout; `None` without DWARF. Parts that cannot be
    /// resolved are `Unknown`/`None` (the caller scans conservatively).
    pub fn resolve(process: &GoProcess) -> Option<GcLayout> {
        let dwarf = process.dwarf()?;
        let types = dwarf.types();
        let layout = process.layout().ok();
        let heap_bits = match layout.and_then(|l| l.constants.malloc_header) {
            Some((_, min)) => HeapBits::InSpan { header_min: min },
            None => {
                let mheap = process.global("runtime.mheap_").map(|g| g.address);
                let bitmap_offset = types.field_offset("runtime.heapArena", "bitmap");
                match (layout, mheap, bitmap_offset) {
                    (Some(l), Some(mheap), Some(bitmap_offset)) => {
                        HeapBits::ArenaBitmap(ArenaBitmapLayout {
                            arenas: mheap.wrapping_add(l.mheap.arenas),
                            bitmap_offset,
                            arena_bytes: l.constants.heap_arena_bytes,
                            base_offset: l.constants.arena_base_offset,
                            l1_bits: l.constants.arena_l1_bits,
                            l2_bits: l.constants.arena_l2_bits,
                        })
                    }
                    _ => HeapBits::Unknown,
                }
            }
        };
        let inline_mark_bytes = types
            .by_name("runtime.spanInlineMarkBits")
            .and_then(|t| types.size_of(t))
            .unwrap_or(0);
        let field = |name: &str| types.field_offset("internal/abi.Type", name);
        let type_mask = match (
            field("Size_"),
            field("PtrBytes"),
            field("TFlag"),
            field("Kind_"),
            field("GCData"),
        ) {
            (Some(size), Some(ptr_bytes), Some(tflag), Some(kind), Some(gcdata)) => {
                Some(TypeMaskFields {
                    size,
                    ptr_bytes,
                    tflag,
                    kind,
                    gcdata,
                })
            }
            _ => None,
        };
        let mask_on_demand = process
            .pclntab()
            .is_some_and(|p| p.func_by_name("runtime.getGCMaskOnDemand").is_some());
        let in_progress = process
            .global("runtime.inProgress")
            .map(|g| g.address)
            .unwrap_or(0);
        let moduledata = process.global("runtime.firstmoduledata").and_then(|md| {
            let off = |p: &str| types.field_offset("runtime.moduledata", p);
            let segment = |start: &str, end: &str, mask: &str| {
                Some(MaskedSegment {
                    start: off(start)?,
                    end: off(end)?,
                    mask_bits: off(&format!("{mask}.n"))?,
                    mask_data: off(&format!("{mask}.bytedata"))?,
                })
            };
            Some(ModuleDataLayout {
                address: md.address,
                data: segment("data", "edata", "gcdatamask")?,
                bss: segment("bss", "ebss", "gcbssmask")?,
            })
        });
        Some(GcLayout {
            heap_bits,
            inline_mark_bytes,
            type_mask,
            mask_on_demand,
            in_progress,
            moduledata,
        })
    }
}
