//! How big is the allocation behind a pointer the map holds?
//!
//! The decoder asks an [`AllocationLookup`] (the heap walk provides one) for
//! the heap object containing each storage address. When the lookup does
//! not know ([`Allocation::Unknown`]), the size is computed the way
//! `mallocgc` would have rounded the requested size — size class (the
//! core's own table when it can be read), page rounding for large objects,
//! and the malloc header of pointerful objects over 512 bytes (Go 1.22+) —
//! and the object is marked as estimated. The allocator's facts are the
//! Go-runtime layer's ([`AllocLayout`]); this module only rounds.

use std::collections::BTreeMap;

use mapscope_elfcore::ProcessMemory;
use mapscope_goruntime::dwarf::DwarfInfo;
use mapscope_goruntime::layout::{AllocLayout, FALLBACK_CLASS_SIZES};
use rayon::slice::ParallelSliceMut;
use serde::Serialize;

/// What the heap knows about an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allocation {
    /// The allocated heap object containing the address: its first byte
    /// (before any malloc header) and its allocated (size-class) size.
    Object { base: u64, size: u64 },
    /// The address is not in the Go heap (a global, a goroutine stack).
    NotInHeap,
    /// The lookup cannot tell (no heap walk, or the span is unreadable).
    Unknown,
}

/// Finds the heap object containing an address. The heap walk implements
/// it; closures `Fn(u64) -> Allocation` implement it too.
pub trait AllocationLookup {
    fn object_at(&self, addr: u64) -> Allocation;

    /// Whether the objects this lookup returns are disjoint allocation
    /// slots and every byte of a slot is answered with that same slot.
    /// Decoders then deduplicate storage by slot base in constant time
    /// instead of an ordered search; the result is the same. `false`
    /// (the default) is always safe.
    fn exact_slots(&self) -> bool {
        false
    }

    /// This lookup as one threads can share, if it is `Sync`: decoders
    /// then walk independent parts of a large map in parallel.
    fn as_sync(&self) -> Option<&(dyn AllocationLookup + Sync)> {
        None
    }
}

impl<F: Fn(u64) -> Allocation + ?Sized> AllocationLookup for F {
    fn object_at(&self, addr: u64) -> Allocation {
        self(addr)
    }
}

/// The heap walk's answer: the allocated slot containing the address
/// (`base` is the slot start, before any malloc header). An address in no
/// in-use span is not a heap object; one in a span but in a free slot is
/// unknown (the map should not point there) and gets estimated.
impl AllocationLookup for mapscope_goruntime::heap::Heap {
    fn object_at(&self, addr: u64) -> Allocation {
        match mapscope_goruntime::heap::Heap::object_at(self, addr) {
            Some(object) => Allocation::Object {
                base: object.address,
                size: object.size,
            },
            // With every span known, an address in none is not a heap
            // object; with spans missing (a cut core), only an address
            // outside every known arena is, and the rest is estimated.
            None if self.span_index_of(addr).is_none()
                && (self.spans_complete() || self.outside_known_arenas(addr)) =>
            {
                Allocation::NotInHeap
            }
            None => Allocation::Unknown,
        }
    }

    /// The heap walk keeps only sorted, non-overlapping spans of
    /// `nelems × elemsize` (elemsize > 0) bytes, and answers an interior
    /// address with the slot that contains it. Not so when spans are
    /// missing: estimated objects are not slots.
    fn exact_slots(&self) -> bool {
        self.spans_complete()
    }

    fn as_sync(&self) -> Option<&(dyn AllocationLookup + Sync)> {
        Some(self)
    }
}

/// A lookup that knows nothing: every size is estimated from the size
/// classes.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHeapIndex;

impl AllocationLookup for NoHeapIndex {
    fn object_at(&self, _addr: u64) -> Allocation {
        Allocation::Unknown
    }
}

/// Where a storage object's size came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SizeSource {
    /// The heap walk's object (exact).
    Heap,
    /// The requested size rounded like `mallocgc` (the lookup said Unknown).
    SizeClass,
    /// Not a heap object (a global or stack slot): counts 0 bytes.
    NotInHeap,
}

/// The allocator facts needed to estimate an allocation's size.
#[derive(Clone, Debug)]
pub struct SizeClasses {
    class_to_size: Vec<u64>,
    max_small_size: u64,
    page_size: u64,
    /// `Some(8)` on Go 1.22+.
    malloc_header: Option<u64>,
    /// Pointerful objects larger than this carry a malloc header.
    min_size_for_header: u64,
    /// Where the table came from, for reports.
    pub source: &'static str,
}

impl SizeClasses {
    /// The allocator facts of this process as the Go-runtime layer
    /// resolves them ([`AllocLayout`]); the core's size class table, else
    /// Go's built-in one.
    pub fn load(mem: &ProcessMemory, dwarf: &DwarfInfo) -> SizeClasses {
        SizeClasses::from_layout(AllocLayout::resolve(mem, dwarf))
    }

    fn from_layout(alloc: AllocLayout) -> SizeClasses {
        let (class_to_size, source) = if alloc.class_sizes.is_empty() {
            (FALLBACK_CLASS_SIZES.map(u64::from).to_vec(), "built-in")
        } else {
            (
                alloc.class_sizes.iter().map(|&s| u64::from(s)).collect(),
                "core",
            )
        };
        SizeClasses {
            class_to_size,
            max_small_size: alloc.max_small_size,
            page_size: alloc.page_size,
            malloc_header: alloc.malloc_header.map(|(size, _)| size),
            min_size_for_header: alloc.malloc_header.map_or(512, |(_, min)| min),
            source,
        }
    }

    /// Whether this Go prepends malloc headers (1.22+).
    pub fn has_malloc_headers(&self) -> bool {
        self.malloc_header.is_some()
    }

    /// The malloc header size a pointerful object of `requested` bytes
    /// carries (0 when none).
    pub fn header_for(&self, requested: u64, pointerful: bool) -> u64 {
        match self.malloc_header {
            Some(h)
                if pointerful
                    && requested > self.min_size_for_header
                    && requested <= self.max_small_size.saturating_sub(h) =>
            {
                h
            }
            _ => 0,
        }
    }

    /// `mallocgc`'s rounding of a request: size class for small objects,
    /// whole pages for large ones. Includes the malloc header.
    pub fn allocation_size(&self, requested: u64, pointerful: bool) -> u64 {
        let with_header = requested.saturating_add(self.header_for(requested, pointerful));
        if with_header == 0 {
            return 0;
        }
        // With malloc headers, everything above maxSmallSize − header gets
        // its own span, pointers or not (mallocgc's small-object test).
        let small_limit = self
            .max_small_size
            .saturating_sub(self.malloc_header.unwrap_or(0));
        if requested <= small_limit {
            if let Some(&size) = self.class_to_size.iter().find(|&&s| s >= with_header) {
                return size;
            }
        }
        let page = self.page_size.max(1);
        with_header.div_ceil(page).saturating_mul(page)
    }
}

/// One allocation counted as map storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StorageObject {
    pub kind: StorageKind,
    /// The address the map holds (for arrays with a malloc header, base + 8).
    pub address: u64,
    /// First byte of the allocation.
    pub base: u64,
    /// Allocated bytes (0 when not in the heap).
    pub size: u64,
    /// Bytes the runtime asked for (type size × count).
    pub requested: u64,
    pub size_source: SizeSource,
}

/// What a storage object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StorageKind {
    /// `hmap` / `maps.Map` (or the `sync.Map` value itself).
    Header,
    /// Classic: the bucket array `hmap.buckets` (with preallocated overflow
    /// buckets at its end).
    Buckets,
    /// Classic: `hmap.oldbuckets` during growth.
    OldBuckets,
    /// Classic: an overflow bucket allocated on its own.
    OverflowBucket,
    /// Classic: `hmap.extra` (`mapextra`).
    MapExtra,
    /// Classic: the `*[]*bmap` slice header and its backing array kept in
    /// `mapextra.overflow`/`oldoverflow` (maps without pointers).
    OverflowList,
    /// Swiss: the directory array of `*table`.
    Directory,
    /// Swiss: a `table` struct.
    Table,
    /// Swiss: a table's group array, or the single group of a small map.
    Groups,
    /// A key stored indirectly (> 128 bytes).
    IndirectKey,
    /// A value stored indirectly (> 128 bytes).
    IndirectElem,
    /// `sync.Map` (read-dirty): the `readOnly` struct.
    SyncReadOnly,
    /// `sync.Map` (read-dirty): an `*entry`.
    SyncEntry,
    /// `sync.Map` (read-dirty): the `any` box an entry's `p` points to.
    SyncValueBox,
    /// `sync.Map` (hash trie): an indirect node.
    TrieIndirect,
    /// `sync.Map` (hash trie): an entry node.
    TrieEntry,
}

/// One storage allocation to record: `requested` bytes of a type with or
/// without pointers, at the address the map holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request {
    pub kind: StorageKind,
    pub address: u64,
    pub requested: u64,
    pub pointerful: bool,
}

/// The set of storage objects of one map, deduplicated by allocation:
/// an overflow bucket inside a bucket array's allocation is not counted
/// again.
///
/// An address counts as inside a recorded allocation when the recorded
/// allocation with the greatest base at or below it extends past it. While
/// every recorded allocation is a heap slot from a lookup that vouches for
/// its slots ([`AllocationLookup::exact_slots`]), the allocations are
/// disjoint and the lookup names the slot of any address, so that question
/// becomes "is this slot already recorded?": the set is the slots in the
/// order first met. Past [`SMALL_SET`] objects, repeats are then kept and
/// dropped at the end, by one sort — cheaper than a hash probe per object
/// on maps of a million objects, and with the same result. The first
/// estimated allocation, object inserted from elsewhere or lookup that
/// does not vouch switches to the ordered search for good; both give the
/// same answers.
#[derive(Debug, Default)]
pub(crate) struct ObjectSet {
    objects: Vec<StorageObject>,
    /// Slots index only: `objects` may hold a slot more than once (only
    /// the first counts; see [`ObjectSet::drop_repeats`]).
    repeats: bool,
    /// base → end of every allocation recorded, once the set is ordered.
    ordered: Option<BTreeMap<u64, u64>>,
}

/// Up to this many objects, a slot is looked for in the objects at once.
const SMALL_SET: usize = 16;

/// The extent an object occupies in the dedup index (`None`: not in the
/// heap, not indexed).
fn extent(object: &StorageObject) -> Option<(u64, u64)> {
    (object.size_source != SizeSource::NotInHeap)
        .then(|| (object.base, object.base.saturating_add(object.size.max(1))))
}

/// Whether `addr` lies inside an allocation of the ordered index.
fn ordered_contains(extents: &BTreeMap<u64, u64>, addr: u64) -> bool {
    extents
        .range(..=addr)
        .next_back()
        .is_some_and(|(_, &end)| addr < end)
}

/// Keeps the first object of each base (objects not in the heap are all
/// kept), in order.
fn drop_repeats(objects: &mut Vec<StorageObject>) {
    let mut keys: Vec<(u64, usize)> = objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.size_source != SizeSource::NotInHeap)
        .map(|(i, o)| (o.base, i))
        .collect();
    if keys
        .windows(2)
        .all(|w| matches!((w.first(), w.get(1)), (Some(a), Some(b)) if a.0 < b.0))
    {
        return; // already in address order: no repeats
    }
    keys.par_sort_unstable();
    let mut repeated = vec![false; objects.len()];
    for w in keys.windows(2) {
        if let (Some(&(a, _)), Some(&(b, i))) = (w.first(), w.get(1)) {
            if a == b {
                if let Some(r) = repeated.get_mut(i) {
                    *r = true;
                }
            }
        }
    }
    let mut index = 0;
    objects.retain(|_| {
        let keep = !repeated.get(index).copied().unwrap_or(false);
        index += 1;
        keep
    });
}

impl ObjectSet {
    /// Drops the repeated slots kept by the slots index.
    fn settle(&mut self) {
        if self.repeats {
            drop_repeats(&mut self.objects);
            self.repeats = false;
        }
    }

    /// The ordered index, built from the recorded objects on first use.
    fn make_ordered(&mut self) -> &mut BTreeMap<u64, u64> {
        self.settle();
        // Every recorded non-NotInHeap object is one extent with a distinct
        // base (a recorded base is never recorded again).
        let objects = &self.objects;
        self.ordered
            .get_or_insert_with(|| objects.iter().filter_map(extent).collect())
    }

    /// Records the allocation holding `request.address`, unless it is
    /// already counted.
    pub fn add<L: AllocationLookup + ?Sized>(
        &mut self,
        lookup: &L,
        classes: &SizeClasses,
        request: Request,
        not_in_heap: impl Fn(u64) -> bool,
    ) {
        let Request {
            kind,
            address,
            requested,
            pointerful,
        } = request;
        if address == 0 {
            return;
        }
        if self.ordered.is_none() && !lookup.exact_slots() {
            self.make_ordered();
        }
        if let Some(extents) = &self.ordered {
            if ordered_contains(extents, address) {
                return;
            }
        }
        let allocation = lookup.object_at(address);
        if let (None, Allocation::Object { base, size }) = (&self.ordered, allocation) {
            if base <= address && address < base.saturating_add(size.max(1)) {
                // Slots are disjoint and the lookup names the slot of every
                // byte: the address is inside a recorded allocation iff its
                // slot is recorded.
                if !self.repeats {
                    let recorded = |o: &StorageObject| {
                        o.base == base && o.size_source != SizeSource::NotInHeap
                    };
                    if self.objects.iter().any(recorded) {
                        return;
                    }
                    self.repeats = self.objects.len() >= SMALL_SET;
                }
                self.objects.push(StorageObject {
                    kind,
                    address,
                    base,
                    size,
                    requested,
                    size_source: SizeSource::Heap,
                });
                return;
            }
            // A slot that does not hold the address: trust nothing.
            if ordered_contains(self.make_ordered(), address) {
                return;
            }
        }
        // Slots index: the address is in no allocated slot (the lookup
        // would have named it), so in no recorded allocation.
        let object = match allocation {
            Allocation::Object { base, size } => StorageObject {
                kind,
                address,
                base,
                size,
                requested,
                size_source: SizeSource::Heap,
            },
            Allocation::NotInHeap => StorageObject {
                kind,
                address,
                base: address,
                size: 0,
                requested,
                size_source: SizeSource::NotInHeap,
            },
            Allocation::Unknown if not_in_heap(address) => StorageObject {
                kind,
                address,
                base: address,
                size: 0,
                requested,
                size_source: SizeSource::NotInHeap,
            },
            Allocation::Unknown => {
                let header = classes.header_for(requested, pointerful);
                StorageObject {
                    kind,
                    address,
                    base: address.saturating_sub(header),
                    size: classes.allocation_size(requested, pointerful),
                    requested,
                    size_source: SizeSource::SizeClass,
                }
            }
        };
        if let Some((base, end)) = extent(&object) {
            // An estimated extent is not a slot: keep ordered extents.
            let extents = self.make_ordered();
            if extents.contains_key(&base) {
                return;
            }
            extents.insert(base, end);
        }
        self.objects.push(object);
    }

    /// Records an object already sized (e.g. from an inner map), unless
    /// its allocation is already counted.
    pub fn insert(&mut self, object: StorageObject) {
        let extents = self.make_ordered();
        if let Some((base, end)) = extent(&object) {
            if ordered_contains(extents, base) {
                return;
            }
            extents.insert(base, end);
        }
        self.objects.push(object);
    }

    pub fn into_objects(mut self) -> Vec<StorageObject> {
        self.settle();
        self.objects
    }

    /// Whether every recorded allocation is a heap slot of a vouching
    /// lookup (the slots index is in use).
    pub fn is_slots(&self) -> bool {
        self.ordered.is_none()
    }

    /// Makes room for `additional` more objects (already held elsewhere).
    pub fn reserve(&mut self, additional: usize) {
        self.objects.reserve_exact(additional);
    }

    /// Number of objects held (repeats included, see [`ObjectSet`]).
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Appends the objects of `later` as if they had been added to this
    /// set after its own, both with the slots index (see
    /// [`ObjectSet::is_slots`]; otherwise `later` is dropped and `false`
    /// returned): a slot recorded by both counts once, first here.
    pub fn append_slots(&mut self, later: ObjectSet) -> bool {
        if !(self.is_slots() && later.is_slots()) {
            return false;
        }
        self.repeats |= later.repeats || !(self.objects.is_empty() || later.objects.is_empty());
        self.objects.extend(later.objects);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classes(header: bool) -> SizeClasses {
        SizeClasses {
            class_to_size: FALLBACK_CLASS_SIZES.map(u64::from).to_vec(),
            max_small_size: 32768,
            page_size: 8192,
            malloc_header: header.then_some(8),
            min_size_for_header: 512,
            source: "test",
        }
    }

    #[test]
    fn rounds_like_mallocgc() {
        let c = classes(true);
        assert_eq!(c.allocation_size(48, true), 48);
        assert_eq!(c.allocation_size(49, false), 64);
        // 8 groups of 200 B, pointerful: 1600 + 8 header -> 1792.
        assert_eq!(c.allocation_size(1600, true), 1792);
        assert_eq!(c.header_for(1600, true), 8);
        assert_eq!(c.allocation_size(1600, false), 1792);
        assert_eq!(c.allocation_size(512, true), 512);
        // Large: whole pages, no header.
        assert_eq!(c.allocation_size(294912, true), 294912);
        // 32761 B: a large object (4 pages) without a header.
        assert_eq!(c.header_for(32761, true), 0);
        assert_eq!(c.allocation_size(32761, true), 32768);
        assert_eq!(c.allocation_size(40000, true), 40960);
        assert_eq!(c.allocation_size(32760, false), 32768);
        assert_eq!(classes(false).allocation_size(32768, false), 32768);
        let old = classes(false);
        assert_eq!(old.header_for(1600, true), 0);
        assert_eq!(old.allocation_size(0, true), 0);
    }

    /// The pre-index implementation: every extent in an ordered map.
    #[derive(Default)]
    struct ReferenceSet {
        objects: Vec<StorageObject>,
        extents: BTreeMap<u64, u64>,
    }

    impl ReferenceSet {
        fn contains(&self, addr: u64) -> bool {
            ordered_contains(&self.extents, addr)
        }

        fn add<L: AllocationLookup + ?Sized>(
            &mut self,
            lookup: &L,
            classes: &SizeClasses,
            r: Request,
            not_in_heap: impl Fn(u64) -> bool,
        ) -> bool {
            if r.address == 0 || self.contains(r.address) {
                return false;
            }
            let (base, size, size_source) = match lookup.object_at(r.address) {
                Allocation::Object { base, size } => (base, size, SizeSource::Heap),
                Allocation::NotInHeap => (r.address, 0, SizeSource::NotInHeap),
                Allocation::Unknown if not_in_heap(r.address) => {
                    (r.address, 0, SizeSource::NotInHeap)
                }
                Allocation::Unknown => (
                    r.address
                        .saturating_sub(classes.header_for(r.requested, r.pointerful)),
                    classes.allocation_size(r.requested, r.pointerful),
                    SizeSource::SizeClass,
                ),
            };
            let object = StorageObject {
                kind: r.kind,
                address: r.address,
                base,
                size,
                requested: r.requested,
                size_source,
            };
            if size_source != SizeSource::NotInHeap {
                if self.extents.contains_key(&base) {
                    return false;
                }
                self.extents.insert(base, base.saturating_add(size.max(1)));
            }
            self.objects.push(object);
            true
        }

        fn insert(&mut self, object: StorageObject) -> bool {
            if object.size_source != SizeSource::NotInHeap {
                if self.contains(object.base) {
                    return false;
                }
                let end = object.base.saturating_add(object.size.max(1));
                self.extents.insert(object.base, end);
            }
            self.objects.push(object);
            true
        }
    }

    /// A heap of disjoint slots: some allocated, some free (Unknown),
    /// gaps not in the heap.
    struct SlotHeap {
        /// (base, size, allocated), sorted, disjoint.
        slots: Vec<(u64, u64, bool)>,
        vouch: bool,
    }

    impl AllocationLookup for SlotHeap {
        fn object_at(&self, addr: u64) -> Allocation {
            let i = self.slots.partition_point(|&(b, _, _)| b <= addr);
            match i.checked_sub(1).and_then(|i| self.slots.get(i)) {
                Some(&(base, size, true)) if addr < base + size => {
                    Allocation::Object { base, size }
                }
                Some(&(base, size, false)) if addr < base + size => Allocation::Unknown,
                _ => Allocation::NotInHeap,
            }
        }

        fn exact_slots(&self) -> bool {
            self.vouch
        }
    }

    /// The slot index gives the ordered index's answers, objects and all,
    /// with estimates, globals, inserted objects and either lookup kind.
    #[test]
    fn slot_index_matches_ordered_index() {
        let c = classes(true);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let kinds = [
            StorageKind::Header,
            StorageKind::Groups,
            StorageKind::TrieEntry,
            StorageKind::IndirectElem,
        ];
        for round in 0..400u64 {
            let mut slots = Vec::new();
            let mut at = 0x10_000u64;
            for _ in 0..(next() % 200 + 1) {
                at += [0, 0, 16, 4096][(next() % 4) as usize];
                let size = [8, 16, 48, 144, 1024, 8192][(next() % 6) as usize];
                slots.push((at, size, next() % 8 != 0));
                at += size;
            }
            let heap = SlotHeap {
                slots,
                vouch: round % 5 != 0,
            };
            let span = at - 0x10_000 + 8192;
            let mut fast = ObjectSet::default();
            let mut reference = ReferenceSet::default();
            let globals = 0x10_000 + span / 2;
            let not_in_heap = |a: u64| a >= globals && a < globals + 64;
            for _ in 0..(next() % 600) {
                let address = if next() % 50 == 0 {
                    0
                } else {
                    0x10_000 - 64 + next() % span
                };
                let request = Request {
                    kind: kinds[(next() % 4) as usize],
                    address,
                    requested: [0, 8, 48, 200, 600, 5000][(next() % 6) as usize],
                    pointerful: next() % 2 == 0,
                };
                if next() % 40 == 0 {
                    let object = StorageObject {
                        kind: request.kind,
                        address,
                        base: address,
                        size: request.requested,
                        requested: request.requested,
                        size_source: [SizeSource::Heap, SizeSource::SizeClass]
                            [(next() % 2) as usize],
                    };
                    fast.insert(object);
                    reference.insert(object);
                    continue;
                }
                fast.add(&heap, &c, request, not_in_heap);
                reference.add(&heap, &c, request, not_in_heap);
            }
            assert_eq!(fast.into_objects(), reference.objects, "round {round}");
        }
    }

    #[test]
    fn dedupes_objects_inside_arrays() {
        let c = classes(true);
        let mut set = ObjectSet::default();
        let req = |kind, address, requested| Request {
            kind,
            address,
            requested,
            pointerful: false,
        };
        set.add(
            &NoHeapIndex,
            &c,
            req(StorageKind::Buckets, 0x1000, 4096),
            |_| false,
        );
        // Inside the bucket array: not counted again.
        set.add(
            &NoHeapIndex,
            &c,
            req(StorageKind::OverflowBucket, 0x1800, 144),
            |_| false,
        );
        set.add(
            &NoHeapIndex,
            &c,
            req(StorageKind::OverflowBucket, 0x2000, 144),
            |_| false,
        );
        // A global is not a heap object: listed, 0 bytes.
        set.add(
            &NoHeapIndex,
            &c,
            req(StorageKind::Header, 0x9000, 48),
            |_| true,
        );
        let objects = set.into_objects();
        assert_eq!(objects.len(), 3);
        assert_eq!(objects[1].address, 0x2000);
        assert_eq!(objects[2].size, 0);
        assert_eq!(objects[2].size_source, SizeSource::NotInHeap);
    }

    /// Past the small-set scan, repeated slots are dropped at the end, the
    /// first of each kept in order.
    #[test]
    fn drops_repeated_slots_of_large_sets() {
        let c = classes(true);
        let heap = SlotHeap {
            slots: (0..100u64).map(|i| (0x1000 + i * 64, 64, true)).collect(),
            vouch: true,
        };
        let mut set = ObjectSet::default();
        for i in (0..100u64).chain((0..100).rev()).chain([7, 99, 0]) {
            let request = Request {
                kind: StorageKind::TrieEntry,
                address: 0x1000 + i * 64 + (i % 3) * 8,
                requested: 48,
                pointerful: true,
            };
            set.add(&heap, &c, request, |_| false);
        }
        let objects = set.into_objects();
        let bases: Vec<u64> = objects.iter().map(|o| o.base).collect();
        assert_eq!(
            bases,
            (0..100u64).map(|i| 0x1000 + i * 64).collect::<Vec<_>>()
        );
        assert!(objects.iter().all(|o| o.size_source == SizeSource::Heap));
    }
}
