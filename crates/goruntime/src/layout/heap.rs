//! Runtime struct layouts and constants for the heap walk, resolved once
//! from DWARF into small structs of plain offsets.
//!
//! Owns: every offset into `runtime.mheap`, `runtime.heapArena`,
//! `runtime.mspan`, `runtime.special`, `runtime.specialprofile`,
//! `runtime.bucket`, `runtime.memRecord`, `runtime.mstats`
//! (`heapStatsDelta`), `runtime.gcControllerState`, `internal/abi.Type`,
//! and of the finalizer special (`runtime.specialfinalizer`,
//! `internal/abi.PtrType`); the runtime constants (page size, arena
//! geometry, span states, special kinds, malloc headers, size classes); the
//! addresses of the runtime globals the walk starts from. This is the ONLY
//! place those are looked up by name; the heap walk reads through the
//! resolved numbers, and the map decoders' size estimates through
//! [`AllocLayout`] (the same constants and size class table, one
//! resolution: Go's built-in class table is the estimates' fallback only,
//! never what spans are checked against).
//!
//! Version differences are expressed as what DWARF contains, never as a
//! version test: a member's width comes from its DWARF type (`nelems` is a
//! `uintptr` until 1.21 and a `uint16` after; `special.offset` widened in
//! 1.24), optional members are `Option`s (`mspan.largeType` exists exactly
//! when malloc headers do), renamed members and globals are tried under
//! each name (`heapArenas`/`allArenas`, `internal/runtime/gc.SizeClassToSize`
//! / `runtime.class_to_size`).
//!
//! Constants DWARF does not record fall back to the documented linux/amd64
//! and linux/arm64 values, each with a warning in [`RuntimeLayout::warnings`].
//! A layout that cannot be resolved at all is a typed error, never a guess.

use mapscope_elfcore::{Arch, ProcessMemory};

use crate::dwarf::{DwarfInfo, TypeId, TypeTable};
use crate::error::GoRuntimeError;
use crate::process::GoProcess;

/// An integer member whose width differs between releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntField {
    pub offset: u64,
    /// 1, 2, 4 or 8 bytes.
    pub size: u8,
}

impl IntField {
    /// Reads the member from the bytes of its struct (little-endian);
    /// `None` when `bytes` is too short.
    #[inline]
    pub fn get(&self, bytes: &[u8]) -> Option<u64> {
        let at = usize::try_from(self.offset).ok()?;
        let b = bytes.get(at..at.checked_add(self.size as usize)?)?;
        Some(match self.size {
            1 => b[0] as u64,
            2 => u16::from_le_bytes([b[0], b[1]]) as u64,
            4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64,
            _ => u64::from_le_bytes(b.try_into().ok()?),
        })
    }
}

/// Reads a little-endian word at `offset` of `bytes`.
#[inline]
pub(crate) fn word_at(bytes: &[u8], offset: u64) -> Option<u64> {
    let at = usize::try_from(offset).ok()?;
    let b = bytes.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// `runtime.mheap` members.
#[derive(Clone, Copy, Debug)]
pub struct MheapLayout {
    pub sweepgen: IntField,
    /// `allspans []*mspan`: slice header offset.
    pub allspans: u64,
    pub pages_in_use: u64,
    /// `arenas [1 << arenaL1Bits]*[1 << arenaL2Bits]*heapArena`.
    pub arenas: u64,
    /// `heapArenas` (1.25+) or `allArenas` (before): `[]arenaIdx`.
    pub heap_arenas: Option<u64>,
}

/// `runtime.heapArena` members.
#[derive(Clone, Copy, Debug)]
pub struct HeapArenaLayout {
    /// `spans [pagesPerArena]*mspan`.
    pub spans: u64,
}

/// `runtime.mspan` members.
#[derive(Clone, Copy, Debug)]
pub struct SpanLayout {
    /// Size of the struct: bytes read at once per span.
    pub size: u64,
    pub start_addr: u64,
    pub npages: u64,
    pub freeindex: IntField,
    pub nelems: IntField,
    pub alloc_bits: u64,
    pub sweepgen: IntField,
    pub alloc_count: IntField,
    pub alloc_count_before_cache: Option<IntField>,
    pub spanclass: IntField,
    /// `state.s`: the state as its small integer.
    pub state: IntField,
    pub elemsize: u64,
    pub specials: u64,
    /// `largeType *_type`: present exactly when objects carry malloc headers.
    pub large_type: Option<u64>,
}

/// `runtime.special` and `runtime.specialprofile` members.
#[derive(Clone, Copy, Debug)]
pub struct SpecialLayout {
    pub next: u64,
    pub offset: IntField,
    pub kind: IntField,
    /// Offset of `b *bucket` in `specialprofile`.
    pub profile_bucket: u64,
    /// Bytes to read for a profile special.
    pub profile_size: u64,
}

/// `runtime.bucket`, `runtime.memRecord` and `runtime.memRecordCycle`.
#[derive(Clone, Copy, Debug)]
pub struct BucketLayout {
    /// The header size; the stack's PCs follow it.
    pub header_size: u64,
    pub allnext: u64,
    pub typ: IntField,
    pub size: u64,
    pub nstk: u64,
    /// `memRecord.active` and `memRecord.future` offsets, and the size of a
    /// `memRecordCycle` (the stride of `future`).
    pub active: u64,
    pub future: u64,
    pub future_len: u64,
    pub cycle_size: u64,
    pub allocs: u64,
    pub frees: u64,
    /// Byte counters; absent from 1.27, where bytes are counts × `bucket.size`.
    pub alloc_bytes: Option<u64>,
    pub free_bytes: Option<u64>,
    /// Size of `memRecord` (bytes read after the stack).
    pub record_size: u64,
}

/// `runtime.heapStatsDelta` (the shards of `memstats.heapStats`), and the
/// `gcControllerState` members with the heap totals.
#[derive(Clone, Copy, Debug)]
pub struct StatsLayout {
    /// Offset of `memstats.heapStats.stats` (an array of 3 deltas).
    pub heap_stats: u64,
    pub delta_size: u64,
    pub delta_count: u64,
    pub tiny_alloc_count: u64,
    pub large_alloc: u64,
    pub large_alloc_count: u64,
    pub small_alloc_count: u64,
    pub large_free: u64,
    pub large_free_count: u64,
    pub small_free_count: u64,
    pub in_heap: u64,
    pub in_stacks: u64,
    pub committed: u64,
    /// Number of entries of `smallAllocCount` (= number of size classes).
    pub size_classes: u64,
    /// `memstats.numgc`, if present.
    pub numgc: Option<IntField>,
    /// `gcControllerState.heapInUse`, `heapFree`, `heapReleased`,
    /// `heapLive`, `heapMarked`, `totalAlloc`, `totalFree`.
    pub gc_heap_in_use: Option<u64>,
    pub gc_heap_free: Option<u64>,
    pub gc_heap_released: Option<u64>,
    pub gc_heap_live: Option<u64>,
    pub gc_heap_marked: Option<u64>,
    pub gc_total_alloc: Option<u64>,
    pub gc_total_free: Option<u64>,
}

/// `internal/abi.Type` (the runtime's `_type`).
#[derive(Clone, Copy, Debug)]
pub struct AbiTypeLayout {
    pub size: u64,
    pub size_field: u64,
    pub ptr_bytes: u64,
    pub tflag: IntField,
    pub kind: IntField,
    pub str_off: IntField,
    /// `TFlagExtraStar`: the name string starts with a `*` to drop.
    pub tflag_extra_star: u64,
}

/// `runtime.specialfinalizer` and `internal/abi.PtrType`: what a
/// finalizer special records. Each member is `None` when DWARF lacks it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FinalizerLayout {
    /// Offset of `fn *funcval` in the special (the finalizer's closure).
    pub func: Option<u64>,
    /// Offset of `ot *ptrtype` in the special (the static type
    /// `SetFinalizer` saw).
    pub ot: Option<u64>,
    /// Offset of `Elem` in `abi.PtrType`.
    pub ptr_elem: Option<u64>,
}

impl FinalizerLayout {
    pub fn resolve(types: &TypeTable) -> FinalizerLayout {
        FinalizerLayout {
            func: types.field_offset("runtime.specialfinalizer", "fn"),
            ot: types.field_offset("runtime.specialfinalizer", "ot"),
            ptr_elem: types.field_offset("internal/abi.PtrType", "Elem"),
        }
    }
}

/// Runtime constants the walk needs.
#[derive(Clone, Copy, Debug)]
pub struct HeapConstants {
    pub page_size: u64,
    pub page_shift: u64,
    pub heap_arena_bytes: u64,
    pub arena_base_offset: u64,
    pub arena_l1_bits: u64,
    pub arena_l2_bits: u64,
    pub arena_l1_shift: u64,
    pub pages_per_arena: u64,
    pub span_in_use: u64,
    /// `_KindSpecialProfile` (2 in 1.21–1.23, 3 in 1.24, 4 from 1.25).
    pub kind_special_profile: Option<u64>,
    pub kind_special_finalizer: Option<u64>,
    pub kind_special_cleanup: Option<u64>,
    pub kind_special_weak_handle: Option<u64>,
    /// `memProfile`, the bucket type of heap-profile buckets.
    pub mem_profile_bucket: u64,
    /// Malloc headers: `(header size, exclusive minimum object size)`, or
    /// `None` when objects carry no header (before 1.22).
    pub malloc_header: Option<(u64, u64)>,
    pub max_small_size: u64,
    /// Upper bound on a profile bucket's stack depth.
    pub max_stack_depth: u64,
}

/// Addresses (as mapped) of the runtime globals the walk starts from.
#[derive(Clone, Copy, Debug)]
pub struct RuntimeGlobals {
    pub mheap: u64,
    pub mbuckets: Option<u64>,
    pub memstats: Option<u64>,
    pub gc_controller: Option<u64>,
    pub mem_profile_rate: Option<u64>,
    pub mprof_cycle: Option<u64>,
}

/// Everything the heap walk needs, resolved once.
#[derive(Clone, Debug)]
pub struct RuntimeLayout {
    pub mheap: MheapLayout,
    pub heap_arena: HeapArenaLayout,
    pub span: SpanLayout,
    pub special: Option<SpecialLayout>,
    pub bucket: Option<BucketLayout>,
    pub stats: Option<StatsLayout>,
    pub abi_type: Option<AbiTypeLayout>,
    pub constants: HeapConstants,
    pub globals: RuntimeGlobals,
    /// Object size per size class (index 0 = large objects, size 0).
    pub class_sizes: Vec<u32>,
    /// What had to fall back or is missing (profile specials, stats...).
    pub warnings: Vec<String>,
}

/// Looks members up in one struct and reports the first one missing.
struct StructView<'a> {
    types: &'a TypeTable,
    name: &'static str,
    id: TypeId,
}

/// Largest runtime struct whose size is read from DWARF and used to size a
/// read buffer (`mspan`, `g`, `bucket`, … are well under 1 KiB).
const MAX_RUNTIME_STRUCT: u64 = 1 << 16;

impl<'a> StructView<'a> {
    fn new(types: &'a TypeTable, name: &'static str) -> Result<StructView<'a>, GoRuntimeError> {
        let id = types
            .by_name(name)
            .map(|id| types.resolve(id))
            .filter(|&id| types.layout_of(id).is_some())
            .ok_or_else(|| missing(format!("struct {name}")))?;
        Ok(StructView { types, name, id })
    }

    /// The struct's byte size; callers allocate buffers of this size, so
    /// a damaged DWARF size beyond [`MAX_RUNTIME_STRUCT`] counts as missing.
    fn size(&self) -> Result<u64, GoRuntimeError> {
        self.types
            .size_of(self.id)
            .filter(|&s| s <= MAX_RUNTIME_STRUCT)
            .ok_or_else(|| missing(format!("a plausible size of {}", self.name)))
    }

    fn offset(&self, path: &str) -> Result<u64, GoRuntimeError> {
        self.opt_offset(path)
            .ok_or_else(|| missing(format!("member {}.{path}", self.name)))
    }

    fn opt_offset(&self, path: &str) -> Option<u64> {
        self.types.field_path(self.id, path).map(|f| f.offset)
    }

    /// An integer member; its width is the size of its DWARF type.
    fn int(&self, path: &str) -> Result<IntField, GoRuntimeError> {
        self.opt_int(path)
            .ok_or_else(|| missing(format!("integer member {}.{path}", self.name)))
    }

    fn opt_int(&self, path: &str) -> Option<IntField> {
        let f = self.types.field_path(self.id, path)?;
        let size = self.types.size_of(f.ty)?;
        matches!(size, 1 | 2 | 4 | 8).then_some(IntField {
            offset: f.offset,
            size: size as u8,
        })
    }

    /// Element count of an array member.
    fn array_len(&self, path: &str) -> Option<u64> {
        let f = self.types.field_path(self.id, path)?;
        match self.types.get(self.types.resolve(f.ty)).kind {
            crate::dwarf::TypeKind::Array { count, .. } => Some(count),
            _ => None,
        }
    }
}

fn missing(what: String) -> GoRuntimeError {
    GoRuntimeError::MissingLayout {
        what,
        purpose: "walk the Go heap",
    }
}

impl RuntimeLayout {
    /// Resolves every layout from the process's DWARF. Fails when a layout
    /// the span walk cannot do without is missing; optional parts
    /// (specials, buckets, stats, type names) become warnings.
    pub fn resolve(
        process: &GoProcess,
        dwarf: &DwarfInfo,
    ) -> Result<RuntimeLayout, GoRuntimeError> {
        let types = dwarf.types();
        let mut warnings = Vec::new();
        let constants = resolve_constants(dwarf, process.arch(), &mut warnings);

        let mheap = StructView::new(types, "runtime.mheap")?;
        let mheap_layout = MheapLayout {
            sweepgen: mheap.int("sweepgen")?,
            allspans: mheap.offset("allspans")?,
            pages_in_use: mheap.offset("pagesInUse")?,
            arenas: mheap.offset("arenas")?,
            heap_arenas: mheap
                .opt_offset("heapArenas")
                .or_else(|| mheap.opt_offset("allArenas")),
        };
        if mheap_layout.heap_arenas.is_none() {
            warnings.push("DWARF lacks runtime.mheap.heapArenas/allArenas: heap arena ranges are derived from the spans".to_string());
        }
        let arena = StructView::new(types, "runtime.heapArena")?;
        let heap_arena = HeapArenaLayout {
            spans: arena.offset("spans")?,
        };

        let span = StructView::new(types, "runtime.mspan")?;
        let span_layout = SpanLayout {
            size: span.size()?,
            start_addr: span.offset("startAddr")?,
            npages: span.offset("npages")?,
            freeindex: span.int("freeindex")?,
            nelems: span.int("nelems")?,
            alloc_bits: span.offset("allocBits")?,
            sweepgen: span.int("sweepgen")?,
            alloc_count: span.int("allocCount")?,
            alloc_count_before_cache: span.opt_int("allocCountBeforeCache"),
            spanclass: span.int("spanclass")?,
            state: span
                .opt_int("state.s")
                .or_else(|| span.opt_int("state.s.value"))
                .or_else(|| span.opt_int("state"))
                .ok_or_else(|| missing("member runtime.mspan.state.s".to_string()))?,
            elemsize: span.offset("elemsize")?,
            specials: span.offset("specials")?,
            large_type: span.opt_offset("largeType"),
        };
        if span_layout.large_type.is_some() && constants.malloc_header.is_none() {
            warnings.push("runtime.mspan has largeType but DWARF lacks minSizeForMallocHeader: assuming 8-byte headers on objects over 512 bytes".to_string());
        }

        let special = resolve_special(types)
            .map_err(|e| warnings.push(format!("heap-profile specials unavailable: {e}")))
            .ok();
        let bucket = resolve_bucket(types)
            .map_err(|e| warnings.push(format!("profile buckets unavailable: {e}")))
            .ok();
        let stats = resolve_stats(types)
            .map_err(|e| warnings.push(format!("runtime memory statistics unavailable: {e}")))
            .ok();
        let abi_type = resolve_abi_type(types, dwarf)
            .map_err(|e| warnings.push(format!("runtime type names unavailable: {e}")))
            .ok();

        let global = |name: &str| process.global(name).map(|g| g.address);
        let mheap_address = global("runtime.mheap_").ok_or(GoRuntimeError::MissingGlobal {
            name: "runtime.mheap_",
        })?;
        let globals = RuntimeGlobals {
            mheap: mheap_address,
            mbuckets: global("runtime.mbuckets"),
            memstats: global("runtime.memstats"),
            gc_controller: global("runtime.gcController"),
            mem_profile_rate: global("runtime.MemProfileRate"),
            mprof_cycle: global("runtime.mProfCycle"),
        };
        let class_sizes = read_class_sizes(
            process.memory(),
            |name| process.global(name).map(|g| (g.address, g.size)),
            &mut warnings,
        );

        Ok(RuntimeLayout {
            mheap: mheap_layout,
            heap_arena,
            span: span_layout,
            special,
            bucket,
            stats,
            abi_type,
            constants,
            globals,
            class_sizes,
            warnings,
        })
    }

    /// Object size of size class `class` (0 for large objects or unknown).
    #[inline]
    pub fn class_size(&self, class: u8) -> u32 {
        self.class_sizes.get(class as usize).copied().unwrap_or(0)
    }
}

fn resolve_special(types: &TypeTable) -> Result<SpecialLayout, GoRuntimeError> {
    let special = StructView::new(types, "runtime.special")?;
    let profile = StructView::new(types, "runtime.specialprofile")?;
    Ok(SpecialLayout {
        next: special.offset("next")?,
        offset: special.int("offset")?,
        kind: special.int("kind")?,
        profile_bucket: profile.offset("b")?,
        profile_size: profile.size()?,
    })
}

fn resolve_bucket(types: &TypeTable) -> Result<BucketLayout, GoRuntimeError> {
    let bucket = StructView::new(types, "runtime.bucket")?;
    let record = StructView::new(types, "runtime.memRecord")?;
    let cycle = StructView::new(types, "runtime.memRecordCycle")?;
    Ok(BucketLayout {
        header_size: bucket.size()?,
        allnext: bucket.offset("allnext")?,
        typ: bucket.int("typ")?,
        size: bucket.offset("size")?,
        nstk: bucket.offset("nstk")?,
        active: record.offset("active")?,
        future: record.offset("future")?,
        future_len: record.array_len("future").unwrap_or(3),
        cycle_size: cycle.size()?,
        allocs: cycle.offset("allocs")?,
        frees: cycle.offset("frees")?,
        alloc_bytes: cycle.opt_offset("alloc_bytes"),
        free_bytes: cycle.opt_offset("free_bytes"),
        record_size: record.size()?,
    })
}

fn resolve_stats(types: &TypeTable) -> Result<StatsLayout, GoRuntimeError> {
    let mstats = StructView::new(types, "runtime.mstats")?;
    let delta = StructView::new(types, "runtime.heapStatsDelta")?;
    let gc = StructView::new(types, "runtime.gcControllerState").ok();
    let gc_offset = |name: &str| gc.as_ref().and_then(|g| g.opt_offset(name));
    Ok(StatsLayout {
        heap_stats: mstats.offset("heapStats.stats")?,
        delta_size: delta.size()?,
        delta_count: StructView::new(types, "runtime.consistentHeapStats")?
            .array_len("stats")
            .unwrap_or(3),
        tiny_alloc_count: delta.offset("tinyAllocCount")?,
        large_alloc: delta.offset("largeAlloc")?,
        large_alloc_count: delta.offset("largeAllocCount")?,
        small_alloc_count: delta.offset("smallAllocCount")?,
        large_free: delta.offset("largeFree")?,
        large_free_count: delta.offset("largeFreeCount")?,
        small_free_count: delta.offset("smallFreeCount")?,
        in_heap: delta.offset("inHeap")?,
        in_stacks: delta.offset("inStacks")?,
        committed: delta.offset("committed")?,
        size_classes: delta.array_len("smallAllocCount").ok_or_else(|| {
            missing("runtime.heapStatsDelta.smallAllocCount array length".to_string())
        })?,
        numgc: mstats.opt_int("numgc"),
        gc_heap_in_use: gc_offset("heapInUse"),
        gc_heap_free: gc_offset("heapFree"),
        gc_heap_released: gc_offset("heapReleased"),
        gc_heap_live: gc_offset("heapLive"),
        gc_heap_marked: gc_offset("heapMarked"),
        gc_total_alloc: gc_offset("totalAlloc"),
        gc_total_free: gc_offset("totalFree"),
    })
}

fn resolve_abi_type(types: &TypeTable, dwarf: &DwarfInfo) -> Result<AbiTypeLayout, GoRuntimeError> {
    let t = StructView::new(types, "internal/abi.Type")
        .or_else(|_| StructView::new(types, "runtime._type"))?;
    Ok(AbiTypeLayout {
        size: t.size()?,
        size_field: t.offset("Size_")?,
        ptr_bytes: t.offset("PtrBytes")?,
        tflag: t.int("TFlag")?,
        kind: t.int("Kind_")?,
        str_off: t.int("Str")?,
        tflag_extra_star: dwarf
            .constant("internal/abi.TFlagExtraStar")
            .map(|v| v as u64)
            .unwrap_or(2),
    })
}

/// A constant under any of `names`, else the documented fallback (with a
/// warning naming it).
fn constant_or(
    dwarf: &DwarfInfo,
    names: &[&str],
    fallback: u64,
    warnings: &mut Vec<String>,
) -> u64 {
    if let Some(v) = names.iter().find_map(|n| dwarf.constant(n)) {
        return v as u64;
    }
    warnings.push(format!(
        "DWARF lacks the constant {}: using the documented linux value {fallback:#x}",
        names.first().copied().unwrap_or("?")
    ));
    fallback
}

fn resolve_constants(dwarf: &DwarfInfo, arch: Arch, warnings: &mut Vec<String>) -> HeapConstants {
    let page_shift = constant_or(
        dwarf,
        &[
            "internal/runtime/gc.PageShift",
            "runtime._PageShift",
            "runtime.pageShift",
        ],
        13,
        warnings,
    );
    let page_size = page_size(dwarf, warnings);
    let heap_arena_bytes = constant_or(dwarf, &["runtime.heapArenaBytes"], 64 << 20, warnings);
    let arena_base_fallback = match arch {
        Arch::X86_64 => 0xffff_8000_0000_0000,
        Arch::Aarch64 => 0,
    };
    let arena_base_offset = constant_or(
        dwarf,
        &["runtime.arenaBaseOffsetUintptr", "runtime.arenaBaseOffset"],
        arena_base_fallback,
        warnings,
    );
    let arena_l1_bits = constant_or(dwarf, &["runtime.arenaL1Bits"], 0, warnings);
    let arena_l2_bits = constant_or(dwarf, &["runtime.arenaL2Bits"], 22, warnings);
    let arena_l1_shift = constant_or(dwarf, &["runtime.arenaL1Shift"], 22, warnings);
    let pages_per_arena = constant_or(dwarf, &["runtime.pagesPerArena"], 8192, warnings);
    let span_in_use = constant_or(dwarf, &["runtime.mSpanInUse"], 1, warnings);
    let mem_profile_bucket = constant_or(dwarf, &["runtime.memProfile"], 1, warnings);
    let max_small_size = max_small_size(dwarf, warnings);
    // Special kinds were renumbered twice; there is no safe fallback.
    let kind_special_profile = dwarf
        .constant("runtime._KindSpecialProfile")
        .map(|v| v as u64);
    if kind_special_profile.is_none() {
        warnings.push(
            "DWARF lacks runtime._KindSpecialProfile: heap-profile specials are not decoded"
                .to_string(),
        );
    }
    let malloc_header = malloc_header(dwarf);
    // `maxProfStackDepth` (1.23+) bounds the stack; before it was `maxStack` (32).
    let max_stack_depth = ["runtime.maxProfStackDepth", "runtime.maxStack"]
        .iter()
        .find_map(|n| dwarf.constant(n))
        .map(|v| v as u64)
        .unwrap_or(1024)
        .clamp(1, 4096);
    let kind = |name: &str| dwarf.constant(name).map(|v| v as u64);
    HeapConstants {
        kind_special_finalizer: kind("runtime._KindSpecialFinalizer"),
        kind_special_cleanup: kind("runtime._KindSpecialCleanup"),
        kind_special_weak_handle: kind("runtime._KindSpecialWeakHandle"),
        page_size,
        page_shift,
        heap_arena_bytes,
        arena_base_offset,
        arena_l1_bits,
        arena_l2_bits,
        arena_l1_shift,
        pages_per_arena,
        span_in_use,
        kind_special_profile,
        mem_profile_bucket,
        malloc_header,
        max_small_size,
        max_stack_depth,
    }
}

/// `page_size` as the allocator rounds large objects (8192 when DWARF
/// lacks it or says 0, with a warning).
fn page_size(dwarf: &DwarfInfo, warnings: &mut Vec<String>) -> u64 {
    positive_constant_or(
        dwarf,
        &[
            "internal/runtime/gc.PageSize",
            "runtime.pageSize",
            "runtime._PageSize",
        ],
        8192,
        warnings,
    )
}

/// `maxSmallSize`: the largest object with a size class (32768 when DWARF
/// lacks it or says 0, with a warning).
fn max_small_size(dwarf: &DwarfInfo, warnings: &mut Vec<String>) -> u64 {
    positive_constant_or(
        dwarf,
        &[
            "internal/runtime/gc.MaxSmallSize",
            "runtime.maxSmallSize",
            "runtime._MaxSmallSize",
        ],
        32768,
        warnings,
    )
}

/// [`constant_or`] for a constant that cannot be 0.
fn positive_constant_or(
    dwarf: &DwarfInfo,
    names: &[&str],
    fallback: u64,
    warnings: &mut Vec<String>,
) -> u64 {
    if let Some(v) = names
        .iter()
        .find_map(|n| dwarf.constant(n))
        .filter(|&v| v > 0)
    {
        return v as u64;
    }
    warnings.push(format!(
        "DWARF lacks the constant {}: using the documented linux value {fallback:#x}",
        names.first().copied().unwrap_or("?")
    ));
    fallback
}

/// Malloc headers (Go 1.22+): `(header size, exclusive minimum object
/// size)` when DWARF records both constants and the size is plausible
/// (1–64 bytes); `None` before 1.22.
fn malloc_header(dwarf: &DwarfInfo) -> Option<(u64, u64)> {
    let header_size = [
        "internal/runtime/gc.MallocHeaderSize",
        "runtime.mallocHeaderSize",
    ]
    .iter()
    .find_map(|n| dwarf.constant(n))
    .and_then(|v| u64::try_from(v).ok())
    .filter(|v| (1..=64).contains(v))?;
    let header_min = [
        "internal/runtime/gc.MinSizeForMallocHeader",
        "runtime.minSizeForMallocHeader",
    ]
    .iter()
    .find_map(|n| dwarf.constant(n))?;
    Some((header_size, header_min as u64))
}

/// The size class table's names (1.25+, before).
const SIZE_CLASS_TABLES: [&str; 2] = [
    "internal/runtime/gc.SizeClassToSize",
    "runtime.class_to_size",
];

/// Reads the size class table (`[N]uint16` in rodata: from the core, or
/// from the executable for pages the kernel left out): the first of its
/// names `global` resolves (to the address as mapped and the byte size)
/// that is readable and plausible — 2 to 256 entries, increasing after
/// class 0. Empty (with a warning) when there is none.
fn read_class_sizes(
    mem: &ProcessMemory,
    global: impl Fn(&str) -> Option<(u64, u64)>,
    warnings: &mut Vec<String>,
) -> Vec<u32> {
    let mut problem = None;
    for name in SIZE_CLASS_TABLES {
        let Some((address, size)) = global(name) else {
            continue;
        };
        let count = size / 2;
        if !(2..=256).contains(&count) {
            problem = Some(format!(
                "size class table at {address:#x} has {count} entries"
            ));
            continue;
        }
        let mut buf = vec![0u8; (count * 2) as usize];
        if let Err(e) = mem.read(address, &mut buf) {
            problem = Some(format!("size class table at {address:#x} unreadable: {e}"));
            continue;
        }
        let sizes: Vec<u32> = buf
            .chunks_exact(2)
            .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])))
            .collect();
        if sizes.windows(2).skip(1).all(|w| w[0] < w[1]) {
            return sizes;
        }
        problem = Some(format!(
            "size class table at {address:#x} is not increasing"
        ));
    }
    warnings.push(problem.unwrap_or_else(|| "size class table (internal/runtime/gc.SizeClassToSize / runtime.class_to_size) not found: per-class totals use span element sizes".to_string()));
    Vec::new()
}

/// Go's size classes (`class_to_size`), unchanged from 1.21 to 1.27: what
/// size estimates round with when the core's own table cannot be read.
/// The heap walk never checks spans against it.
pub const FALLBACK_CLASS_SIZES: [u32; 68] = [
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
    352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
    2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728,
    10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672,
    32768,
];

/// What `mallocgc` rounds a request with: the size classes, page size,
/// small-object limit and malloc-header rule — the same resolution the
/// heap walk uses ([`RuntimeLayout`]), for callers with only memory and
/// DWARF (the map decoders' size estimates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllocLayout {
    /// The core's size class table (index 0 = large objects, size 0);
    /// empty when it cannot be read (see [`FALLBACK_CLASS_SIZES`]).
    pub class_sizes: Vec<u32>,
    pub page_size: u64,
    pub max_small_size: u64,
    /// `(header size, exclusive minimum object size)` on Go 1.22+.
    pub malloc_header: Option<(u64, u64)>,
    /// Fallbacks taken.
    pub warnings: Vec<String>,
}

impl AllocLayout {
    pub fn resolve(mem: &ProcessMemory, dwarf: &DwarfInfo) -> AllocLayout {
        let bias = mem.placement().map(|p| p.bias).unwrap_or(0);
        let mut warnings = Vec::new();
        let page_size = page_size(dwarf, &mut warnings);
        let max_small_size = max_small_size(dwarf, &mut warnings);
        let malloc_header = malloc_header(dwarf);
        let class_sizes = read_class_sizes(
            mem,
            |name| {
                dwarf
                    .globals()
                    .by_name(name)
                    .map(|g| (g.address.wrapping_add(bias), g.size))
            },
            &mut warnings,
        );
        AllocLayout {
            class_sizes,
            page_size,
            max_small_size,
            malloc_header,
            warnings,
        }
    }
}
