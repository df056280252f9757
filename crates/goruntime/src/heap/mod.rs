//! The Go heap of a core: arenas → spans → allocated objects, the span
//! specials (heap-profile records, finalizers, cleanups), the runtime's own
//! heap-profile buckets (`runtime.mbuckets`), and the runtime's memory
//! statistics (`runtime.memstats`, `runtime.gcController`) to compare with.
//!
//! Owns: the walk and its compact model ([`Heap`]): a sorted vector of
//! in-use [`Span`]s plus one bit vector of allocation bits (one bit per
//! object slot, already merged with `freeindex`), so that objects are
//! enumerated lazily and an address is resolved to its object with a binary
//! search and index arithmetic — no per-object storage, no copy of the heap.
//!
//! Does not touch: struct offsets (all from [`crate::layout`]), map
//! decoding, output. Nothing here tests a Go version.
//!
//! Rules the walk follows (see `docs/go-runtime.md`):
//! - spans come from `mheap_.allspans` (else the arenas' span tables,
//!   else none: [`SpanSource`]); only `state == mSpanInUse` count;
//! - an object slot is allocated iff its `allocBits` bit is set or its index
//!   is below `freeindex` (`allocCache` and mark bits are ignored);
//! - every span is validated (inside a heap arena, `nelems × elemsize ≤
//!   npages × pageSize`, size class consistent, allocation bits readable);
//!   a bad span is skipped with a warning, never a panic;
//! - every list read from the core is walked with a bound.

mod histogram;
mod index;
mod profile;
mod spans;
mod stats;
mod types;

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

pub use histogram::{TypeRow, UNTYPED_POINTER_FREE, UNTYPED_WITH_POINTERS};
pub use index::{prefetch, ObjectIndex};
pub use profile::{scale_heap_sample, MemCounts, ProfileBucket, SpecialKind, SpecialRecord};
pub use stats::RuntimeStats;
pub use types::RuntimeType;

use crate::error::GoRuntimeError;
use crate::layout::RuntimeLayout;
use crate::process::GoProcess;

/// Bound on warnings kept verbatim (the rest are counted).
const MAX_WARNINGS: usize = 64;

/// Where the walk found its spans (a cut core loses the runtime's
/// off-heap metadata first: `allspans`, the mspans, the arena records).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SpanSource {
    /// `mheap_.allspans`: every span the runtime has.
    #[default]
    AllSpans,
    /// The heap arenas' `heapArena.spans` page tables (`allspans` was
    /// unreadable); spans whose mspan record is cut are missing.
    ArenaSpans,
    /// No span metadata was readable: the heap has no spans and no
    /// objects; decoders size storage from map headers and size classes.
    None,
}

impl SpanSource {
    /// `allspans`, `arena-spans` or `none` (reports and JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            SpanSource::AllSpans => "allspans",
            SpanSource::ArenaSpans => "arena-spans",
            SpanSource::None => "none",
        }
    }
}

/// One in-use heap span (`mspan` with `state == mSpanInUse`), compact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// First byte of the span (`startAddr`).
    pub start: u64,
    /// One past the last byte (`startAddr + npages × pageSize`).
    pub end: u64,
    /// Address of the `runtime.mspan` record itself.
    pub mspan: u64,
    /// Slot size (`elemsize`).
    pub elem_size: u64,
    /// Number of slots (`nelems`).
    pub nelems: u32,
    /// Allocated slots (allocation bits ∪ below `freeindex`).
    pub allocated: u32,
    /// Size class (`spanclass >> 1`); 0 for a large object's span.
    pub size_class: u8,
    /// `spanclass & 1`: objects hold no pointers.
    pub noscan: bool,
    /// Objects start with an 8-byte `*_type` malloc header.
    pub has_header: bool,
    /// Cached in a P's mcache: slots allocated since caching are not yet in
    /// the runtime's consistent statistics.
    pub cached: bool,
    /// `allocCount − allocCountBeforeCache` for cached spans.
    pub pending_allocs: u32,
    /// `largeType` of a large-object span (0 when none).
    pub large_type: u64,
    /// Head of the `specials` list (0 when none).
    pub specials: u64,
    /// Offset of this span's first bit in the heap's allocation bit vector.
    bits_offset: u64,
}

impl Span {
    /// Bytes of the span (`npages × pageSize`).
    pub fn span_bytes(&self) -> u64 {
        self.end - self.start
    }

    /// Bytes of allocated objects (`allocated × elemsize`).
    pub fn in_use_bytes(&self) -> u64 {
        self.allocated as u64 * self.elem_size
    }

    /// Whether `address` lies in the span's pages.
    pub fn contains(&self, address: u64) -> bool {
        address >= self.start && address < self.end
    }
}

/// One allocated heap object (a slot of a span).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapObject {
    /// Base address of the slot (where the malloc header is, if any).
    pub address: u64,
    /// Slot size in bytes (size-class rounded; what `HeapAlloc` counts).
    pub size: u64,
    /// Index of the span in [`Heap::spans`].
    pub span: u32,
    /// Slot index within the span.
    pub index: u32,
    /// The slot starts with an 8-byte `*_type` header; data follows it.
    pub has_header: bool,
}

impl HeapObject {
    /// Where the object's data starts (after the malloc header).
    pub fn data_start(&self) -> u64 {
        if self.has_header {
            self.address + 8
        } else {
            self.address
        }
    }
    /// One past the object's last byte.
    pub fn end(&self) -> u64 {
        self.address + self.size
    }
}

/// Totals of one size class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SizeClassTotals {
    pub size_class: u8,
    /// Slot size of the class (for class 0: 0, objects vary).
    pub size: u64,
    pub objects: u64,
    pub bytes: u64,
    pub spans: u64,
}

/// Totals of objects of one runtime type (only objects whose type the
/// runtime records: malloc headers and large spans).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeTotals {
    /// Address of the runtime type descriptor (`*_type`).
    pub type_address: u64,
    /// The runtime's name of the type (`main.Session`,
    /// `map.bucket[string]int`, `noalg.map.group[...]`), if readable.
    pub name: Option<String>,
    pub objects: u64,
    pub bytes: u64,
}

/// The walked heap.
#[derive(Debug, Default)]
pub struct Heap {
    spans: Vec<Span>,
    /// Allocation bits, object ids and address lookups.
    index: Arc<ObjectIndex>,
    arenas: Vec<(u64, u64)>,
    objects: u64,
    in_use_bytes: u64,
    span_bytes: u64,
    size_classes: Vec<SizeClassTotals>,
    types: Vec<TypeTotals>,
    type_names: HashMap<u64, RuntimeType>,
    specials: Vec<SpecialRecord>,
    profiled: Vec<(u64, u32)>,
    buckets: Vec<ProfileBucket>,
    bucket_pcs: Vec<u64>,
    stats: Option<RuntimeStats>,
    mem_profile_rate: Option<i64>,
    warnings: Vec<String>,
    suppressed_warnings: u64,
    page_size: u64,
    span_source: SpanSource,
    spans_complete: bool,
}

/// Spans per task of [`Heap::read_types`].
const TYPES_CHUNK_SPANS: usize = 256;

/// `[start, end)` of each run of adjacent small-object spans with malloc
/// headers in `spans` (sorted): the pages [`Heap::read_types`] reads.
fn header_runs(spans: &[Span]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for s in spans.iter().filter(|s| s.size_class != 0 && s.has_header) {
        match runs.last_mut() {
            Some((_, hi)) if *hi == s.start => *hi = s.end,
            _ => runs.push((s.start, s.end)),
        }
    }
    runs
}

/// Iterator over the allocated objects of one span (see
/// [`Heap::span_objects`]).
pub struct SpanObjects<'a> {
    heap: &'a Heap,
    span_index: usize,
    first_word: usize,
    next_word: usize,
    end_word: usize,
    /// Slot index of bit 0 of `current`.
    word_base: u32,
    current: u64,
}

impl Iterator for SpanObjects<'_> {
    type Item = HeapObject;

    #[inline]
    fn next(&mut self) -> Option<HeapObject> {
        while self.current == 0 {
            if self.next_word >= self.end_word {
                return None;
            }
            self.current = self
                .heap
                .index
                .alloc_bits
                .get(self.next_word)
                .copied()
                .unwrap_or(0);
            self.word_base = ((self.next_word - self.first_word) * 64) as u32;
            self.next_word += 1;
        }
        let bit = self.current.trailing_zeros();
        self.current &= self.current - 1;
        Some(self.heap.object(self.span_index, self.word_base + bit))
    }
}

/// Collects warnings with a bound.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    pub list: Vec<String>,
    pub suppressed: u64,
}

impl Warnings {
    pub fn push(&mut self, w: String) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(w);
        } else {
            self.suppressed += 1;
        }
    }
}

impl Heap {
    /// Walks the heap of `process` with the resolved `layout`.
    pub(crate) fn walk(
        process: &GoProcess,
        layout: &RuntimeLayout,
    ) -> Result<Heap, GoRuntimeError> {
        let mut warnings = Warnings::default();
        for w in &layout.warnings {
            warnings.push(w.clone());
        }
        let walk = crate::timing::phase("heap walk: spans", || {
            spans::walk_spans(process, layout, &mut warnings)
        })?;
        let index = crate::timing::phase("heap walk: object index", || {
            ObjectIndex::build(&walk.spans, walk.alloc_bits, layout.constants.page_size)
        });
        let mut heap = Heap {
            spans: walk.spans,
            index: Arc::new(index),
            arenas: walk.arenas,
            page_size: layout.constants.page_size,
            span_source: walk.source,
            spans_complete: walk.complete,
            ..Heap::default()
        };
        heap.summarize(layout);
        crate::timing::phase("heap walk: types", || heap.read_types(process, layout));
        crate::timing::phase("heap walk: profile records", || {
            profile::read_buckets(&mut heap, process, layout, &mut warnings);
            profile::read_specials(&mut heap, process, layout, &mut warnings);
        });
        heap.stats = stats::read_stats(process, layout, &heap, &mut warnings);
        if let Some(s) = &heap.stats {
            s.compare_with_walk(&heap, &mut warnings);
        }
        heap.warnings = warnings.list;
        heap.suppressed_warnings = warnings.suppressed;
        Ok(heap)
    }

    fn summarize(&mut self, layout: &RuntimeLayout) {
        let classes = layout.class_sizes.len().max(1);
        let mut totals: Vec<SizeClassTotals> = (0..classes)
            .map(|c| SizeClassTotals {
                size_class: c as u8,
                size: layout.class_size(c as u8) as u64,
                ..SizeClassTotals::default()
            })
            .collect();
        for s in &self.spans {
            self.objects += s.allocated as u64;
            self.in_use_bytes += s.in_use_bytes();
            self.span_bytes += s.span_bytes();
            let c = s.size_class as usize;
            if c >= totals.len() {
                totals.resize(c + 1, SizeClassTotals::default());
                totals[c].size_class = c as u8;
                totals[c].size = s.elem_size;
            }
            let t = &mut totals[c];
            t.objects += s.allocated as u64;
            t.bytes += s.in_use_bytes();
            t.spans += 1;
        }
        self.size_classes = totals;
    }

    /// Histogram of recorded object types (malloc headers, large spans).
    fn read_types(&mut self, process: &GoProcess, layout: &RuntimeLayout) {
        let mem = process.memory();
        // Spans in chunks, in parallel: the pages of each run of adjacent
        // header spans are mapped in one call before the headers are read
        // (instead of a fault every few pages) and released in one call
        // after (they are not read again soon).
        let chunks = self.spans.len().div_ceil(TYPES_CHUNK_SPANS);
        let counts: HashMap<u64, (u64, u64)> = (0..chunks)
            .into_par_iter()
            .fold(HashMap::new, |mut acc: HashMap<u64, (u64, u64)>, c| {
                let from = c * TYPES_CHUNK_SPANS;
                let to = (from + TYPES_CHUNK_SPANS).min(self.spans.len());
                let spans = self.spans.get(from..to).unwrap_or(&[]);
                let runs = header_runs(spans);
                for &(lo, hi) in &runs {
                    mem.prefetch(lo, hi - lo);
                }
                for (i, span) in (from..to).zip(spans) {
                    if span.size_class == 0 {
                        if span.large_type != 0 && span.allocated > 0 {
                            let e = acc.entry(span.large_type).or_default();
                            e.0 += 1;
                            e.1 += span.elem_size;
                        }
                    } else if span.has_header {
                        // One lookup for the span, then plain loads.
                        let bytes = mem
                            .bytes(span.start, span.span_bytes() as usize)
                            .unwrap_or(&[]);
                        for obj in self.span_objects(i) {
                            let at = (obj.address - span.start) as usize;
                            let t = match bytes.get(at..at + 8) {
                                Some(w) => u64::from_le_bytes(w.try_into().unwrap_or([0; 8])),
                                None => mem.read_ptr(obj.address).unwrap_or(0),
                            };
                            if t != 0 {
                                let e = acc.entry(t).or_default();
                                e.0 += 1;
                                e.1 += obj.size;
                            }
                        }
                    }
                }
                for &(lo, hi) in &runs {
                    mem.release(lo, hi - lo);
                }
                acc
            })
            .reduce(HashMap::new, |mut a, b| {
                for (k, v) in b {
                    let e = a.entry(k).or_default();
                    e.0 += v.0;
                    e.1 += v.1;
                }
                a
            });
        let mut names = HashMap::with_capacity(counts.len());
        let mut types: Vec<TypeTotals> = counts
            .into_iter()
            .map(|(addr, (objects, bytes))| {
                let rt = types::read_runtime_type(process, layout, addr);
                let name = rt.as_ref().map(|t| t.name.clone());
                if let Some(rt) = rt {
                    names.insert(addr, rt);
                }
                TypeTotals {
                    type_address: addr,
                    name,
                    objects,
                    bytes,
                }
            })
            .collect();
        types.sort_by(|a, b| {
            b.bytes
                .cmp(&a.bytes)
                .then(a.type_address.cmp(&b.type_address))
        });
        self.types = types;
        self.type_names = names;
    }

    // ---- the public model ----

    /// In-use spans, sorted by address, non-overlapping.
    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    /// Heap arenas `[start, end)`, sorted and merged.
    pub fn arena_ranges(&self) -> Vec<(u64, u64)> {
        self.arenas.clone()
    }

    /// In-use span ranges `[start, end)`, sorted, adjacent spans merged.
    pub fn span_ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for s in &self.spans {
            match out.last_mut() {
                Some(last) if last.1 == s.start => last.1 = s.end,
                _ => out.push((s.start, s.end)),
            }
        }
        out
    }

    /// Number of allocated objects.
    pub fn object_count(&self) -> u64 {
        self.objects
    }

    /// Bytes of allocated objects (slot sizes; comparable to `HeapAlloc`).
    pub fn in_use_bytes(&self) -> u64 {
        self.in_use_bytes
    }

    /// Bytes of in-use spans (comparable to `HeapInuse`).
    pub fn span_bytes(&self) -> u64 {
        self.span_bytes
    }

    /// Per size class totals, indexed by size class (class 0 = large).
    pub fn size_classes(&self) -> &[SizeClassTotals] {
        &self.size_classes
    }

    /// Objects by recorded runtime type, largest bytes first.
    pub fn types(&self) -> &[TypeTotals] {
        &self.types
    }

    /// The runtime's statistics read from the core, if readable.
    pub fn runtime_stats(&self) -> Option<&RuntimeStats> {
        self.stats.as_ref()
    }

    /// What the walk skipped or could not check.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Warnings beyond those kept in [`Heap::warnings`].
    pub fn suppressed_warnings(&self) -> u64 {
        self.suppressed_warnings
    }

    /// The span containing `address`, as an index into [`Heap::spans`].
    pub fn span_index_of(&self, address: u64) -> Option<usize> {
        self.index.span_of(address)
    }

    /// Object ids and constant-time address lookups (shared, cheap to clone).
    pub fn object_index(&self) -> Arc<ObjectIndex> {
        Arc::clone(&self.index)
    }

    /// The id of the allocated object containing `address` (ids number the
    /// allocated objects in address order, see [`ObjectIndex`]).
    #[inline]
    pub fn object_id(&self, address: u64) -> Option<u32> {
        self.index.id_of(address)
    }

    /// The allocated object containing `address` (any interior byte), or
    /// `None` when the address is not in an allocated heap slot.
    #[inline]
    pub fn object_at(&self, address: u64) -> Option<HeapObject> {
        self.index.object_at(address)
    }

    #[inline]
    fn object(&self, span_index: usize, index: u32) -> HeapObject {
        self.index.object(span_index, index)
    }

    /// The allocated objects of span `span_index`, in address order
    /// (walks the allocation bits a word at a time).
    pub fn span_objects(&self, span_index: usize) -> SpanObjects<'_> {
        let (first_word, words) = match self.spans.get(span_index) {
            Some(s) => (
                (s.bits_offset / 64) as usize,
                (s.nelems as usize).div_ceil(64),
            ),
            None => (0, 0),
        };
        SpanObjects {
            heap: self,
            span_index,
            first_word,
            next_word: first_word,
            end_word: first_word + words,
            word_base: 0,
            current: 0,
        }
    }

    /// Every allocated object, in address order (lazy).
    pub fn objects(&self) -> impl Iterator<Item = HeapObject> + '_ {
        (0..self.spans.len()).flat_map(move |i| self.span_objects(i))
    }

    /// Every allocated object, in parallel (rayon), span by span.
    pub fn par_objects(&self) -> impl ParallelIterator<Item = HeapObject> + '_ {
        (0..self.spans.len())
            .into_par_iter()
            .flat_map_iter(move |i| self.span_objects(i))
    }

    /// The `*_type` the runtime recorded for `object` (malloc header or the
    /// large span's `largeType`); `None` for small objects without a header
    /// (≤ 512 bytes, or any object before Go 1.22) and noscan objects.
    pub fn object_type_address(&self, process: &GoProcess, object: &HeapObject) -> Option<u64> {
        let span = self.spans.get(object.span as usize)?;
        let t = if span.size_class == 0 {
            span.large_type
        } else if span.has_header {
            process.memory().read_ptr(object.address).ok()?
        } else {
            0
        };
        (t != 0).then_some(t)
    }

    /// The runtime type descriptor at `type_address` (name, size, kind);
    /// cached for every type seen in the walk, read on demand otherwise.
    pub fn runtime_type(&self, process: &GoProcess, type_address: u64) -> Option<RuntimeType> {
        if let Some(t) = self.type_names.get(&type_address) {
            return Some(t.clone());
        }
        let layout = process.layout().ok()?;
        types::read_runtime_type(process, layout, type_address)
    }

    /// Every special record of in-use spans (profile, finalizer, cleanup...),
    /// sorted by object address.
    pub fn specials(&self) -> &[SpecialRecord] {
        &self.specials
    }

    /// The runtime's heap-profile buckets (`runtime.mbuckets`), in list order.
    /// A bucket's id is its index here.
    pub fn profile_buckets(&self) -> &[ProfileBucket] {
        &self.buckets
    }

    /// The return PCs of a bucket's stack (leaf first), as the runtime
    /// recorded them (link addresses; the executable is not relocated for a
    /// non-PIE).
    pub fn bucket_stack(&self, bucket: &ProfileBucket) -> &[u64] {
        self.bucket_pcs
            .get(bucket.stack_start as usize..(bucket.stack_start + bucket.stack_len) as usize)
            .unwrap_or(&[])
    }

    /// The location addresses `runtime/pprof` writes for this bucket's
    /// sample in a `heap.pb.gz`: leading `runtime.`/`internal/runtime/`
    /// frames hidden (unless nothing else is left), the trailing
    /// `runtime.goexit` dropped, each return PC minus one. Equal keys join a
    /// profile file's samples with the core's buckets (several buckets can
    /// share one key when they differ only inside the runtime).
    pub fn pprof_stack(&self, process: &GoProcess, bucket: &ProfileBucket) -> Vec<u64> {
        profile::pprof_stack(process, self.bucket_stack(bucket))
    }

    /// Sampled live objects: `(object base address, bucket id)`, sorted by
    /// address. Only objects whose profile special sits on an allocated slot.
    pub fn profiled_objects(&self) -> &[(u64, u32)] {
        &self.profiled
    }

    /// The bucket id of the profile special on the object at `object_base`.
    pub fn bucket_of_object(&self, object_base: u64) -> Option<u32> {
        let i = self
            .profiled
            .binary_search_by_key(&object_base, |p| p.0)
            .ok()?;
        self.profiled.get(i).map(|p| p.1)
    }

    /// `runtime.MemProfileRate` as the process had it (the profile's
    /// sampling period), if readable.
    pub fn mem_profile_rate(&self) -> Option<i64> {
        self.mem_profile_rate
    }

    /// Where the spans came from (see [`Heap::spans_complete`] for whether
    /// the list is complete).
    pub fn span_source(&self) -> SpanSource {
        self.span_source
    }

    /// Whether every in-use span of the runtime is known (an address in no
    /// span is then not a heap object): from `allspans`, or from every
    /// arena's span table with every mspan readable.
    pub fn spans_complete(&self) -> bool {
        self.spans_complete
    }

    /// Whether heap arenas are known and `address` lies in none of them.
    pub fn outside_known_arenas(&self, address: u64) -> bool {
        if self.arenas.is_empty() {
            return false;
        }
        let i = self.arenas.partition_point(|a| a.0 <= address);
        !(i > 0 && self.arenas.get(i - 1).is_some_and(|a| address < a.1))
    }

    /// Page size the walk used.
    pub fn page_size(&self) -> u64 {
        self.page_size
    }
}
