//! [`ObjectIndex`]: address → allocated object resolution over the walked
//! heap, in constant time, and dense object ids.
//!
//! Object ids number the allocated objects in address order (0, 1, 2, …):
//! the id of a slot is the number of allocation bits set before its bit,
//! answered from a per-word prefix count kept next to the word (one cache
//! line per lookup), or, in a span whose every slot is allocated (most of
//! a heap's: 99.7% of the graph build's lookups on the benchmark core, 54%
//! on go1.26-compile's), from the span's first id without reading the
//! bits. A page table (one `u32` per heap page between the lowest and
//! highest in-use span) finds the span of an address without a search; a
//! heap spread too thinly for such a table falls back to a binary search;
//! a batch of lookups
//! ([`ObjectIndex::span_candidate`] for each address, then
//! [`ObjectIndex::id_in_span`]) overlaps the span records' cache misses
//! (the graph build's). Nothing here allocates per object: the whole index
//! is a few bytes per span plus 24 bytes per 64 slots and 4 per page.
//!
//! Owns only lookups; the walk that fills it is in `spans.rs`.

use super::{HeapObject, Span};

/// A page table larger than this (entries) is not built: binary search.
const MAX_PAGE_TABLE: u64 = 1 << 25;

/// One word of allocation bits with the number of bits set before it.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(16))]
struct RankedWord {
    bits: u64,
    rank: u32,
}

/// The part of a [`Span`] the lookups need, kept compact.
#[derive(Clone, Copy, Debug)]
struct IndexSpan {
    start: u64,
    end: u64,
    elem_size: u64,
    /// `ceil(2^32 / elem_size)` for spans under 4 GiB: slot index by a
    /// multiplication (corrected below), as the Go runtime's `divMul`.
    div_mul: u64,
    /// First word of the span's allocation bits.
    first_word: u32,
    nelems: u32,
    /// Id of the span's first allocated object (when `full`: of slot 0).
    first_id: u32,
    /// Every slot is allocated (and no bit past the last is set): slot
    /// `i`'s id is `first_id + i`, without reading the bits.
    full: bool,
    noscan: bool,
    has_header: bool,
}

/// Constant-time address → object lookups and dense object ids; shared
/// (behind an `Arc`) by the heap and the object graphs built on it.
#[derive(Debug, Default)]
pub struct ObjectIndex {
    spans: Vec<IndexSpan>,
    /// Each span's `first_id`, in one array: [`ObjectIndex::span_of_id`]'s
    /// binary search reads 4 bytes per step.
    first_ids: Vec<u32>,
    /// Allocation bits of every span's slots, LSB first per word; each span
    /// starts on a word boundary.
    pub(super) alloc_bits: Vec<u64>,
    /// Per word `w` of `alloc_bits`: the word and the allocation bits set
    /// in `alloc_bits[..w]`, side by side so that an id lookup reads one
    /// cache line.
    ranked: Vec<RankedWord>,
    /// Allocation bits set in all of `alloc_bits`: the object count.
    total: u32,
    page_shift: u32,
    first_page: u64,
    /// Span index + 1 for every page from `first_page` (0: no span).
    page_table: Vec<u32>,
    /// Lowest span start and highest span end.
    min: u64,
    max: u64,
}

/// Whether the `nelems` bits from word `first` of `ranked` are all set
/// and no later bit of their last word is.
fn all_allocated(ranked: &[RankedWord], first: usize, nelems: u32) -> bool {
    let words = (nelems as usize).div_ceil(64);
    let Some(span) = first
        .checked_add(words)
        .and_then(|end| ranked.get(first..end))
    else {
        return false;
    };
    span.iter().enumerate().all(|(i, w)| {
        let left = nelems as usize - i * 64;
        let want = if left >= 64 {
            u64::MAX
        } else {
            (1u64 << left) - 1
        };
        w.bits == want
    })
}

impl ObjectIndex {
    /// Builds the index over sorted, non-overlapping spans whose bits start
    /// at `bits_offset` (a multiple of 64) in `alloc_bits`.
    pub(super) fn build(spans: &[Span], alloc_bits: Vec<u64>, page_size: u64) -> ObjectIndex {
        let mut ranked = Vec::with_capacity(alloc_bits.len());
        let mut total = 0u32;
        for &bits in &alloc_bits {
            ranked.push(RankedWord { bits, rank: total });
            total = total.saturating_add(bits.count_ones());
        }
        let index_spans: Vec<IndexSpan> = spans
            .iter()
            .map(|s| {
                let first_word = u32::try_from(s.bits_offset / 64).unwrap_or(u32::MAX);
                let first = first_word as usize;
                IndexSpan {
                    start: s.start,
                    end: s.end,
                    elem_size: s.elem_size,
                    div_mul: if s.end - s.start < (1 << 32) && s.elem_size > 0 {
                        (1u64 << 32).div_ceil(s.elem_size)
                    } else {
                        0
                    },
                    first_word,
                    nelems: s.nelems,
                    first_id: ranked.get(first).map_or(total, |r| r.rank),
                    full: s.nelems > 0 && all_allocated(&ranked, first, s.nelems),
                    noscan: s.noscan,
                    has_header: s.has_header,
                }
            })
            .collect();
        let first_ids = index_spans.iter().map(|s| s.first_id).collect();
        let min = index_spans.first().map_or(0, |s| s.start);
        let max = index_spans.last().map_or(0, |s| s.end);
        let mut index = ObjectIndex {
            spans: index_spans,
            first_ids,
            alloc_bits,
            ranked,
            total,
            page_shift: 0,
            first_page: 0,
            page_table: Vec::new(),
            min,
            max,
        };

        if page_size.is_power_of_two() && max > min {
            let shift = page_size.trailing_zeros();
            let first = min >> shift;
            let pages = ((max - 1) >> shift) - first + 1;
            if pages <= MAX_PAGE_TABLE {
                let mut table = vec![0u32; pages as usize];
                for (i, s) in index.spans.iter().enumerate() {
                    let lo = ((s.start >> shift) - first) as usize;
                    let hi = (((s.end - 1) >> shift) - first) as usize;
                    if let Some(slots) = table.get_mut(lo..=hi) {
                        slots.fill(i as u32 + 1);
                    }
                }
                index.page_shift = shift;
                index.first_page = first;
                index.page_table = table;
            }
        }
        index
    }

    /// Allocation bits set in `alloc_bits[..w]` (`w` up to its length).
    #[inline]
    fn rank(&self, w: usize) -> Option<u32> {
        match self.ranked.get(w) {
            Some(r) => Some(r.rank),
            None => (w == self.ranked.len()).then_some(self.total),
        }
    }

    /// Number of allocated objects (ids are `0..len`).
    pub fn len(&self) -> usize {
        self.total as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lowest and highest (exclusive) address of any in-use span: a word
    /// outside this range is no heap pointer.
    pub fn bounds(&self) -> (u64, u64) {
        (self.min, self.max)
    }

    /// Number of in-use spans (the heap's [`super::Heap::spans`]).
    pub fn span_count(&self) -> usize {
        self.spans.len()
    }

    /// The span containing `address`, as an index into the heap's spans.
    #[inline]
    pub fn span_of(&self, address: u64) -> Option<usize> {
        if address < self.min || address >= self.max {
            return None;
        }
        let i = if self.page_table.is_empty() {
            self.spans
                .partition_point(|s| s.start <= address)
                .checked_sub(1)?
        } else {
            let page = (address >> self.page_shift) - self.first_page;
            (*self.page_table.get(page as usize)? as usize).checked_sub(1)?
        };
        let s = self.spans.get(i)?;
        (address >= s.start && address < s.end).then_some(i)
    }

    /// Slot of `address` in span `s` (`None` past the last slot).
    #[inline]
    fn slot(s: &IndexSpan, address: u64) -> Option<u32> {
        let off = address - s.start;
        let slot = if s.nelems == 1 {
            if off >= s.elem_size {
                return None;
            }
            0
        } else if s.div_mul != 0 {
            let mut q = (off * s.div_mul) >> 32;
            // The reciprocal may overshoot by one for some sizes: correct.
            while q > 0 && q * s.elem_size > off {
                q -= 1;
            }
            while (q + 1) * s.elem_size <= off {
                q += 1;
            }
            q
        } else {
            off / s.elem_size.max(1)
        };
        (slot < s.nelems as u64).then_some(slot as u32)
    }

    /// The id of the allocated object containing `address` (any interior
    /// byte), or `None` when the address is not in an allocated slot.
    #[inline]
    pub fn id_of(&self, address: u64) -> Option<u32> {
        let si = self.span_of(address)?;
        let s = self.spans.get(si)?;
        self.id_in(s, address)
    }

    /// First step of a batch of lookups: the span that may hold `address`
    /// (an index into the spans, from the page table, checked by
    /// [`ObjectIndex::id_in_span`]), its record starting to load. A caller
    /// with many addresses takes this step for all of them, then the
    /// second: their cache misses overlap instead of following one
    /// another. Same answers as [`ObjectIndex::id_of`].
    #[inline]
    pub fn span_candidate(&self, address: u64) -> Option<u32> {
        if self.page_table.is_empty() {
            return self.span_of(address).map(|i| i as u32);
        }
        if address < self.min || address >= self.max {
            return None;
        }
        let page = (address >> self.page_shift) - self.first_page;
        let i = (*self.page_table.get(page as usize)?).checked_sub(1)?;
        if let Some(s) = self.spans.get(i as usize) {
            prefetch(s);
        }
        Some(i)
    }

    /// Second step of a batch of lookups: the id of the allocated object
    /// containing `address` in span `span` ([`ObjectIndex::span_candidate`]).
    #[inline]
    pub fn id_in_span(&self, span: u32, address: u64) -> Option<u32> {
        let s = self.spans.get(span as usize)?;
        if address < s.start || address >= s.end {
            return None;
        }
        self.id_in(s, address)
    }

    /// The id of the allocated object of span `s` containing `address`.
    #[inline]
    fn id_in(&self, s: &IndexSpan, address: u64) -> Option<u32> {
        let slot = Self::slot(s, address)?;
        if s.full {
            return Some(s.first_id + slot);
        }
        let bit = s.first_word as u64 * 64 + slot as u64;
        let w = self.ranked.get((bit / 64) as usize)?;
        let b = bit % 64;
        if w.bits >> b & 1 == 0 {
            return None;
        }
        let below = (w.bits & ((1u64 << b) - 1)).count_ones();
        Some(w.rank + below)
    }

    /// The allocated object containing `address`, with its span index.
    #[inline]
    pub fn object_at(&self, address: u64) -> Option<HeapObject> {
        let si = self.span_of(address)?;
        let s = self.spans.get(si)?;
        let slot = Self::slot(s, address)?;
        if !s.full {
            let bit = s.first_word as u64 * 64 + slot as u64;
            let word = self.ranked.get((bit / 64) as usize)?.bits;
            if word >> (bit % 64) & 1 == 0 {
                return None;
            }
        }
        Some(self.object(si, slot))
    }

    /// Slot `index` of span `span_index` (not checked for allocation).
    #[inline]
    pub(super) fn object(&self, span_index: usize, index: u32) -> HeapObject {
        let (start, size, has_header) = self
            .spans
            .get(span_index)
            .map_or((0, 0, false), |s| (s.start, s.elem_size, s.has_header));
        HeapObject {
            address: start + index as u64 * size,
            size,
            span: span_index as u32,
            index,
            has_header,
        }
    }

    /// Start address and slot size of span `span_index` (slot `i` starts
    /// at `start + i × size`).
    pub fn span_layout(&self, span_index: usize) -> (u64, u64) {
        self.spans
            .get(span_index)
            .map_or((0, 0), |s| (s.start, s.elem_size))
    }

    /// Id of the first allocated object of span `span_index` (the ids of
    /// its objects are consecutive from there).
    pub fn first_id(&self, span_index: usize) -> u32 {
        self.first_ids.get(span_index).copied().unwrap_or(0)
    }

    /// The span holding object `id`.
    pub fn span_of_id(&self, id: u32) -> Option<usize> {
        if id as usize >= self.len() {
            return None;
        }
        // Last span whose first id is <= id and that has objects: a
        // binary search over the spans' first ids, side by side (a span
        // whose bits lie past the end has the object count: after every
        // id, as its missing rank would be).
        let i = self.first_ids.partition_point(|&f| f <= id);
        let mut i = i.checked_sub(1)?;
        // Spans without allocated objects share the next span's first id.
        while self.allocated_in(i) == 0 {
            i = i.checked_sub(1)?;
        }
        Some(i)
    }

    fn allocated_in(&self, span_index: usize) -> u32 {
        let Some(s) = self.spans.get(span_index) else {
            return 0;
        };
        let first = s.first_word as usize;
        let words = (s.nelems as usize).div_ceil(64);
        match (self.rank(first), self.rank(first + words)) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        }
    }

    /// The object with id `id`.
    pub fn object_by_id(&self, id: u32) -> Option<HeapObject> {
        let si = self.span_of_id(id)?;
        let s = self.spans.get(si)?;
        let mut want = id - self.first_id(si);
        let first = s.first_word as usize;
        for w in 0..(s.nelems as usize).div_ceil(64) {
            let word = *self.alloc_bits.get(first + w)?;
            let n = word.count_ones();
            if want < n {
                let mut x = word;
                for _ in 0..want {
                    x &= x - 1;
                }
                return Some(self.object(si, (w * 64) as u32 + x.trailing_zeros()));
            }
            want -= n;
        }
        None
    }

    /// Spans with the id range of their objects, the slot size and whether
    /// the objects may hold pointers: `(span index, first id, count,
    /// elem_size, noscan)`, in address order.
    pub fn span_id_ranges(&self) -> impl Iterator<Item = (usize, u32, u32, u64, bool)> + '_ {
        (0..self.spans.len()).map(move |i| {
            let s = &self.spans[i];
            (
                i,
                self.first_id(i),
                self.allocated_in(i),
                s.elem_size,
                s.noscan,
            )
        })
    }

    /// The allocation bits of span `span_index` (bit i = slot i).
    pub fn span_bits(&self, span_index: usize) -> &[u64] {
        let Some(s) = self.spans.get(span_index) else {
            return &[];
        };
        let first = s.first_word as usize;
        self.alloc_bits
            .get(first..first + (s.nelems as usize).div_ceil(64))
            .unwrap_or(&[])
    }
}

/// Starts loading `x` into the cache (a hint that never faults).
#[inline(always)]
pub fn prefetch<T>(x: &T) {
    // SAFETY: a prefetch is a hint that never faults or changes memory;
    // the address comes from a live reference anyway.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (x as *const T).cast(),
        )
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u64, pages: u64, elem: u64, bits_offset: u64, noscan: bool) -> Span {
        Span {
            start,
            end: start + pages * 8192,
            mspan: 0,
            elem_size: elem,
            nelems: ((pages * 8192) / elem) as u32,
            allocated: 0,
            size_class: 1,
            noscan,
            has_header: false,
            cached: false,
            pending_allocs: 0,
            large_type: 0,
            specials: 0,
            bits_offset,
        }
    }

    #[test]
    fn ids_are_ranks_in_address_order_and_interior_pointers_resolve() {
        // Span A: 1 page of 48-byte slots (170 slots, 3 words), slots 0, 5
        // and 169 allocated. A gap page. Span B: 1 page of 8192-byte slot.
        let a = span(0x10000, 1, 48, 0, false);
        let b = span(0x14000, 1, 8192, 192, true);
        let bits = vec![0b10_0001, 0, 1u64 << (169 - 128), 1];
        let idx = ObjectIndex::build(&[a, b], bits, 8192);
        assert_eq!(idx.len(), 4);
        assert_eq!(idx.id_of(0x10000), Some(0));
        assert_eq!(idx.id_of(0x10000 + 5 * 48 + 47), Some(1));
        assert_eq!(idx.id_of(0x10000 + 6 * 48), None);
        assert_eq!(idx.id_of(0x10000 + 169 * 48), Some(2));
        assert_eq!(idx.id_of(0x10000 + 170 * 48), None, "past the last slot");
        assert_eq!(idx.id_of(0x12000), None, "no span there");
        assert_eq!(idx.id_of(0x14000 + 100), Some(3));
        assert_eq!(idx.id_of(0x16000), None);
        // The two steps of a batch give id_of's answers, past the last
        // slot and between spans included.
        for addr in (0x0f000..0x17000).step_by(40) {
            let batched = idx
                .span_candidate(addr)
                .and_then(|c| idx.id_in_span(c, addr));
            assert_eq!(batched, idx.id_of(addr), "{addr:#x}");
        }
        for id in 0..4 {
            let o = idx.object_by_id(id).unwrap();
            assert_eq!(idx.id_of(o.address), Some(id));
        }
        assert_eq!(idx.object_by_id(4), None);
        assert_eq!(idx.first_id(1), 3);
    }

    #[test]
    fn full_spans_give_the_ids_the_bits_give() {
        // Three spans of 170 48-byte slots (3 words of bits each): every
        // slot allocated; every slot but 100; every slot and a stray bit
        // past the last; a free page after each. Ids counted bit by bit
        // must match every lookup.
        let last = (1u64 << (170 - 128)) - 1;
        let bits = vec![
            u64::MAX,
            u64::MAX,
            last,
            u64::MAX,
            !(1 << (100 - 64)),
            last,
            u64::MAX,
            u64::MAX,
            last | 1 << 50,
        ];
        let spans = [
            span(0x10000, 1, 48, 0, false),
            span(0x14000, 1, 48, 192, false),
            span(0x18000, 1, 48, 384, true),
        ];
        let idx = ObjectIndex::build(&spans, bits.clone(), 8192);
        let full: Vec<bool> = idx.spans.iter().map(|s| s.full).collect();
        assert_eq!(full, [true, false, false]);
        let mut id = 0u32;
        for (si, s) in spans.iter().enumerate() {
            for slot in 0..64 * 3 {
                let set = bits[si * 3 + slot / 64] >> (slot % 64) & 1 == 1;
                let addr = s.start + slot as u64 * 48;
                let want = (set && slot < 170).then_some(id);
                assert_eq!(idx.id_of(addr + 47), want, "span {si} slot {slot}");
                let batched = idx
                    .span_candidate(addr + 5)
                    .and_then(|c| idx.id_in_span(c, addr + 5));
                assert_eq!(batched, want, "span {si} slot {slot}, batched");
                assert_eq!(
                    idx.object_at(addr + 1).map(|o| o.address),
                    want.map(|_| addr),
                    "span {si} slot {slot}"
                );
                id += set as u32;
            }
        }
        assert_eq!(idx.len(), id as usize);
        assert_eq!((idx.first_id(1), idx.first_id(2)), (170, 339));
    }

    #[test]
    fn reciprocal_slot_matches_division_for_every_size_class() {
        let sizes = [
            8u64, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
            288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280,
            1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528,
            6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072,
            20480, 21760, 24576, 27264, 28672, 32768,
        ];
        for &e in &sizes {
            let pages = (e * 4).div_ceil(8192).max(1);
            let s = span(0, pages, e, 0, false);
            let is = IndexSpan {
                start: 0,
                end: s.end,
                elem_size: e,
                div_mul: (1u64 << 32).div_ceil(e),
                first_word: 0,
                nelems: s.nelems,
                first_id: 0,
                full: false,
                noscan: false,
                has_header: false,
            };
            for off in (0..s.nelems as u64 * e).step_by(7) {
                assert_eq!(
                    ObjectIndex::slot(&is, off),
                    Some((off / e) as u32),
                    "size {e} off {off}"
                );
            }
        }
    }
}
