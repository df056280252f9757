//! The heap's object graph and retained bytes.
//!
//! Owns: [`ObjectGraph`] (heap objects with their pointer edges in CSR
//! form, built in parallel from the runtime's pointer bitmaps,
//! [`crate::pointers`], conservatively where there are none, and one bit
//! per object that has edges: the walks pass leaves by) and the
//! reachability questions asked of it: retained bytes and objects of one
//! structure ([`ObjectGraph::retained`]) or of many at once
//! ([`ObjectGraph::retained_many`]), the one root reaching each object
//! ([`ObjectGraph::root_labels`]), shortest paths from the roots
//! ([`ObjectGraph::shortest_paths`]), predecessors, scans of root ranges.
//! Must not touch: finding maps or decoding them, or the heap walk itself
//! (object ids come from mapscope-goruntime's [`ObjectIndex`]).
//!
//! Retained bytes use the "exclusive reachability" method: the objects
//! reachable from the structure's own objects that are not reachable from
//! the root set (globals, goroutine stacks and finalizers, found as the GC
//! finds them: [`crate::roots`])
//! once the structure's objects are blocked. This equals the dominator-tree
//! answer for the group of the structure's objects. Given what the roots
//! reach at all ([`Reached`]), a structure small next to the heap is
//! measured from its own reach instead of two walks of the whole heap
//! ([`ObjectGraph::retained_many`]'s structures measured alone).

pub(crate) use mapscope_goruntime::heap::prefetch;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use mapscope_goruntime::heap::{Heap, ObjectIndex};
use mapscope_goruntime::timing::Phase;
use mapscope_goruntime::GoProcess;
use rayon::prelude::*;

use crate::pointers::PointerMaps;

/// Heap objects with conservative edges in CSR form. Object ids are the
/// heap's ([`ObjectIndex`]: allocated objects in address order); the
/// parallel build tasks write their chunks of consecutive ids into one
/// pair of arrays in place (`build_in_place`), or, where that cannot be
/// done, keep a piece per chunk, joined when possible (`build_joined`).
#[derive(Default)]
pub struct ObjectGraph {
    index: Arc<ObjectIndex>,
    chunks: Vec<EdgeChunk>,
    /// The objects with at least one edge: the walks do not push the
    /// others (most objects of a map-heavy heap are leaves: strings'
    /// bytes, values without pointers), sparing a read of their edge
    /// range each (n / 8 bytes, cache-resident where the offsets are not).
    inner: IdSet,
}

/// The edges of objects `first_id..first_id + offsets.len() - 1`.
#[derive(Default)]
struct EdgeChunk {
    first_id: u32,
    offsets: Vec<u32>,
    edges: Vec<u32>,
}

/// The edges of objects `first..first + offsets.len() - 1`, borrowed: the
/// successors of object `first + i` are `edges[offsets[i]..offsets[i + 1]]`
/// (what [`crate::dominators`] passes over in parallel, in id order).
#[derive(Clone, Copy, Debug)]
pub(crate) struct EdgeSlices<'a> {
    pub first: u32,
    pub offsets: &'a [u32],
    pub edges: &'a [u32],
}

/// Bytes of heap one build task scans (then its pages are released).
const BUILD_CHUNK_BYTES: u64 = 8 << 20;

/// Label of an object no traversal reached.
const UNSEEN: u32 = u32::MAX;
/// Label of an object the roots reach without passing any structure.
const FROM_ROOTS: u32 = u32::MAX - 1;
/// Label of an object several unrelated structures reach.
const SHARED: u32 = u32::MAX - 2;
/// [`ObjectGraph::root_labels`]' label of an object several roots reach.
pub const ROOT_SHARED: u32 = SHARED;
/// [`ObjectGraph::root_labels`]' label of an object no root reaches.
pub const ROOT_NONE: u32 = UNSEEN;
/// Objects a graph walk takes from its stack at once (see walk 2 of
/// [`ObjectGraph::retained_many`]).
const WALK_BATCH: usize = 64;
/// Deepest family nesting [`ObjectGraph::retained_many`] follows.
const MAX_NESTING: usize = 8;
/// Structure-to-structure links a thread collects before it sorts them
/// and drops repeats (then again each time they double).
const LINKS_COMPACT: usize = 1 << 16;

/// Whether bit `id` of the bit set `words` is set.
#[inline]
pub(crate) fn bit_set(words: &[u64], id: u32) -> bool {
    words
        .get(id as usize / 64)
        .is_some_and(|w| w >> (id % 64) & 1 == 1)
}

/// The set bits of `words`, in increasing order.
pub(crate) fn set_bits(words: &[u64]) -> impl Iterator<Item = u32> + '_ {
    words.iter().enumerate().flat_map(|(w, &word)| {
        let mut x = word;
        std::iter::from_fn(move || {
            if x == 0 {
                return None;
            }
            let b = x.trailing_zeros();
            x &= x - 1;
            Some(w as u32 * 64 + b)
        })
    })
}

/// Links between structures one thread of [`ObjectGraph::retained_many`]
/// found, as `(from, to)` pairs: sorted and made unique each time they
/// double past [`LINKS_COMPACT`], so repeats (a family's storage points
/// at each of its members once per slot) cost no hashing and little
/// memory.
#[derive(Default)]
struct Links {
    pairs: Vec<(u32, u32)>,
    compact_at: usize,
}

impl Links {
    fn push(&mut self, from: u32, to: u32) {
        self.pairs.push((from, to));
        if self.pairs.len() >= self.compact_at.max(LINKS_COMPACT) {
            self.pairs.sort_unstable();
            self.pairs.dedup();
            self.compact_at = 2 * self.pairs.len();
        }
    }

    fn into_sorted(mut self) -> Vec<(u32, u32)> {
        self.pairs.sort_unstable();
        self.pairs.dedup();
        self.pairs
    }
}

/// [`IdSet`] for walks on several threads: a bit is set with one atomic
/// `fetch_or`, and only the thread that set it gets `true`.
struct AtomicIdSet(Vec<AtomicU64>);

impl AtomicIdSet {
    fn new(n: usize) -> AtomicIdSet {
        AtomicIdSet((0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect())
    }
    /// Adds `id`; whether this call added it (false for ids out of range).
    #[inline]
    fn insert(&self, id: u32) -> bool {
        let Some(w) = self.0.get(id as usize / 64) else {
            return false;
        };
        let bit = 1u64 << (id % 64);
        w.load(Relaxed) & bit == 0 && w.fetch_or(bit, Relaxed) & bit == 0
    }
    fn into_set(self) -> IdSet {
        IdSet(self.0.into_iter().map(AtomicU64::into_inner).collect())
    }
}

/// A set of objects, one bit per object id.
#[derive(Default)]
struct IdSet(Vec<u64>);

impl IdSet {
    fn new(n: usize) -> IdSet {
        IdSet(vec![0; n.div_ceil(64)])
    }
    #[inline]
    fn contains(&self, id: u32) -> bool {
        bit_set(&self.0, id)
    }
    /// Adds `id`; whether it was new (false for ids out of range too).
    #[inline]
    fn insert(&mut self, id: u32) -> bool {
        match self.0.get_mut(id as usize / 64) {
            Some(w) if *w >> (id % 64) & 1 == 0 => {
                *w |= 1 << (id % 64);
                true
            }
            _ => false,
        }
    }
    /// The members, in increasing order.
    fn members(&self) -> impl Iterator<Item = u32> + '_ {
        set_bits(&self.0)
    }

    /// Moves the members into `seen` and appends them (only those in
    /// `only`, when given) to `out` in increasing order, leaving the set
    /// empty: one pass over its words.
    fn drain_into(&mut self, seen: &mut IdSet, only: Option<&IdSet>, out: &mut Vec<u32>) {
        for (w, (word, into)) in self.0.iter_mut().zip(seen.0.iter_mut()).enumerate() {
            let mut x = std::mem::take(word);
            *into |= x;
            if let Some(only) = only {
                x &= only.0.get(w).copied().unwrap_or(0);
            }
            while x != 0 {
                out.push(w as u32 * 64 + x.trailing_zeros());
                x &= x - 1;
            }
        }
    }

    /// Members among ids `first..first + count`.
    fn count_range(&self, first: u32, count: u32) -> u64 {
        let (mut id, end) = (first as u64, first as u64 + count as u64);
        let mut n = 0u64;
        while id < end {
            let w = (id / 64) as usize;
            let lo = id % 64;
            let hi = (end - (id - lo)).min(64);
            let mut word = self.0.get(w).copied().unwrap_or(0) >> lo;
            if hi - lo < 64 {
                word &= (1u64 << (hi - lo)) - 1;
            }
            n += word.count_ones() as u64;
            id = id - lo + hi;
        }
        n
    }
}

/// A structure measured alone walks only its own reach while that is at
/// most 1/`WITHIN_SHARE` of the heap
/// ([`ObjectGraph::retained_ids_within`]), else the heap.
const WITHIN_SHARE: usize = 32;
/// Structures measured within their reaches by one pass over the edges.
const WITHIN_BATCH: usize = 16;
/// Objects one parallel task of a pass over all edges takes
/// ([`edge_blocks`]).
const EDGE_BLOCK: usize = 1 << 14;

/// The blocks of consecutive ids the passes over all edges take in
/// parallel: (piece, first index, end index) within the piece.
pub(crate) fn edge_blocks<'g>(graph: &[EdgeSlices<'g>]) -> Vec<(EdgeSlices<'g>, usize, usize)> {
    graph
        .iter()
        .flat_map(|c| {
            let ids = c.offsets.len().saturating_sub(1);
            (0..ids.div_ceil(EDGE_BLOCK))
                .map(move |b| (*c, b * EDGE_BLOCK, ((b + 1) * EDGE_BLOCK).min(ids)))
        })
        .collect()
}

/// The objects the roots reach, one bit per object id: what
/// [`ObjectGraph::retained_many`] needs of [`ObjectGraph::shortest_paths`],
/// in 1/32 of its memory.
pub struct Reached(IdSet);

impl Reached {
    /// The objects `paths` ([`ObjectGraph::shortest_paths`]) reaches.
    pub fn from_paths(paths: &[u32]) -> Reached {
        Reached(IdSet(
            paths
                .par_chunks(64)
                .map(|c| {
                    c.iter()
                        .enumerate()
                        .fold(0u64, |w, (i, &p)| w | u64::from(p != UNREACHED) << i)
                })
                .collect(),
        ))
    }
}

/// One structure for [`ObjectGraph::retained_many`]: the heap objects it
/// owns (header, storage, family container: base addresses or any
/// interior address) and, for a member of a family measured on its own,
/// the index of the family in the same list (whose `owned` includes the
/// member's).
#[derive(Clone, Copy, Debug)]
pub struct Structure<'a> {
    pub owned: &'a [u64],
    pub parent: Option<usize>,
}

/// What [`ObjectGraph::retained_many`] measured: per structure, the bytes
/// and objects it retains (a family's include its members').
pub struct RetainedMany {
    /// Per object id: the innermost structure retaining it, or a marker.
    labels: Vec<u32>,
    parents: Vec<Option<usize>>,
    bytes: Vec<u64>,
    /// Structures measured one by one (the shared pass could not decide
    /// them exactly): their objects, sorted.
    exact: Vec<Option<Vec<u64>>>,
    index: Arc<ObjectIndex>,
}

impl RetainedMany {
    /// Retained bytes of structure `i` (0 for an unknown index).
    pub fn bytes(&self, i: usize) -> u64 {
        self.bytes.get(i).copied().unwrap_or(0)
    }

    fn within(&self, i: usize, ancestor: usize) -> bool {
        result_within(&self.parents, i, ancestor)
    }

    /// Whether structure `i` was measured alone (its objects are listed,
    /// not labelled): [`RetainedMany::structure_of`] does not report it.
    pub fn measured_alone(&self, i: usize) -> bool {
        matches!(self.exact.get(i), Some(Some(_)))
    }

    /// Whether structure `i` retains the object containing `address`
    /// (its own objects or one reachable only through them), without
    /// listing the objects.
    pub fn retains(&self, i: usize, address: u64) -> bool {
        if let Some(Some(list)) = self.exact.get(i) {
            let base = self.index.object_at(address).map_or(address, |o| o.address);
            return list.binary_search(&base).is_ok();
        }
        let Some(id) = self.index.id_of(address) else {
            return false;
        };
        let l = self.labels.get(id as usize).copied().unwrap_or(UNSEEN) as usize;
        l < self.parents.len() && self.within(l, i)
    }

    /// The innermost structure retaining the object at `address`, if any
    /// (structures measured one by one are not reported here).
    pub fn structure_of(&self, address: u64) -> Option<usize> {
        let id = self.index.id_of(address)?;
        let l = *self.labels.get(id as usize)? as usize;
        (l < self.parents.len()).then_some(l)
    }
}

/// Base addresses of the allocated objects of one span, in order.
fn span_objects(index: &ObjectIndex, span: usize) -> impl Iterator<Item = u64> + '_ {
    let bits = index.span_bits(span);
    let base = index.span_layout(span);
    bits.iter().enumerate().flat_map(move |(w, &word)| {
        let mut x = word;
        std::iter::from_fn(move || {
            if x == 0 {
                return None;
            }
            let b = x.trailing_zeros() as u64;
            x &= x - 1;
            let (start, size) = base;
            Some(start + ((w as u64) * 64 + b) * size)
        })
    })
}

impl ObjectGraph {
    /// Scans every allocated object of every scannable span for the words
    /// `pointers` says hold pointers into an allocated object, in parallel
    /// over chunks of spans, each writing its part of the CSR arrays in
    /// place; for a core large next to the machine's memory the core pages
    /// of each chunk are released once scanned, so the process never holds
    /// the whole heap resident.
    pub fn build_with(process: &GoProcess, heap: &Heap, pointers: &PointerMaps) -> ObjectGraph {
        let index = heap.object_index();
        let mem = process.memory();
        let spans = heap.spans();
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let (mut from, mut bytes) = (0usize, 0u64);
        for (i, s) in spans.iter().enumerate() {
            bytes += s.span_bytes();
            if bytes >= BUILD_CHUNK_BYTES {
                ranges.push((from, i + 1));
                (from, bytes) = (i + 1, 0);
            }
        }
        if from < spans.len() {
            ranges.push((from, spans.len()));
        }
        // Pages the walks before touched are not needed again soon: all
        // but the heap chunks', which each task releases once it scanned
        // them (releasing them now would only make the scan fault them in
        // again).
        let mut scanned_to = 0u64;
        for &(a, b) in &ranges {
            if let (Some(first), Some(last)) = (spans.get(a), spans.get(b.wrapping_sub(1))) {
                if first.start > scanned_to {
                    mem.release(scanned_to, first.start - scanned_to);
                }
                scanned_to = scanned_to.max(last.end);
            }
        }
        mem.release(scanned_to, u64::MAX - scanned_to);
        let scan = HeapScan {
            mem,
            index: &index,
            spans,
            pointers,
        };
        let first_id = |s: usize| match spans.get(s) {
            Some(_) => index.first_id(s),
            None => u32::try_from(index.len()).unwrap_or(u32::MAX),
        };
        let words: Vec<u64> = ranges
            .iter()
            .map(|&(a, b)| {
                let spans = spans.get(a..b).unwrap_or(&[]);
                let scanned = spans.iter().filter(|s| !s.noscan);
                scanned.map(|s| s.end.saturating_sub(s.start) / 8).sum()
            })
            .collect();
        let chunks = match build_in_place(&ranges, &words, index.len(), first_id, &scan) {
            Some(one) => vec![one],
            // Edge counts over the u32 range, or memory for the in-place
            // arrays refused.
            None => build_joined(&ranges, first_id, &scan),
        };
        ObjectGraph::from_chunks(index, chunks)
    }

    /// The graph of `chunks`, with its objects that have edges marked.
    fn from_chunks(index: Arc<ObjectIndex>, chunks: Vec<EdgeChunk>) -> ObjectGraph {
        // One past the last id of a chunk.
        let end = |c: &EdgeChunk| c.first_id as u64 + c.offsets.len().saturating_sub(1) as u64;
        let n = index
            .len()
            .max(chunks.iter().map(|c| end(c) as usize).max().unwrap_or(0));
        let mut words = vec![0u64; n.div_ceil(64)];
        words
            .par_chunks_mut(1 << 10)
            .enumerate()
            .for_each(|(b, block)| {
                for (j, word) in block.iter_mut().enumerate() {
                    let base = ((b << 10) + j) as u64 * 64;
                    // The chunks (in id order) that cover ids of this word.
                    let first = chunks.partition_point(|c| end(c) <= base);
                    for c in chunks.get(first..).unwrap_or(&[]) {
                        let (lo, hi) = (c.first_id as u64, end(c));
                        if lo >= base + 64 {
                            break;
                        }
                        for id in base.max(lo)..(base + 64).min(hi) {
                            let i = (id - lo) as usize;
                            if c.offsets.get(i) < c.offsets.get(i + 1) {
                                *word |= 1 << (id - base);
                            }
                        }
                    }
                }
            });
        ObjectGraph {
            index,
            chunks,
            inner: IdSet(words),
        }
    }

    /// Number of objects (ids are `0..len`).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn id_of(&self, addr: u64) -> Option<u32> {
        self.index.id_of(addr)
    }

    /// The graph id of the object containing `address`.
    pub fn id_of_address(&self, address: u64) -> Option<u32> {
        self.id_of(address)
    }

    /// The object with graph id `id`.
    pub fn object(&self, id: u32) -> Option<mapscope_goruntime::heap::HeapObject> {
        self.index.object_by_id(id)
    }

    /// For each of `targets`, the objects with an edge to it (one pass
    /// over all edges).
    pub fn predecessors(&self, targets: &[u32]) -> HashMap<u32, Vec<u32>> {
        predecessors_in(&self.edge_slices(), self.len(), targets)
    }

    /// Ids of the objects the given values point into (sorted, unique):
    /// for roots found precisely (pointer slots already read).
    pub fn ids_of_values(&self, values: &[u64]) -> Vec<u32> {
        let mut out: Vec<u32> = values.iter().filter_map(|&v| self.id_of(v)).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Objects that words of the given address ranges point into.
    pub fn scan_ranges(&self, process: &GoProcess, ranges: &[(u64, u64)]) -> Vec<u32> {
        let mem = process.memory();
        let mut out: Vec<u32> = ranges
            .par_iter()
            .flat_map_iter(|&(lo, hi)| {
                let mut v = Vec::new();
                scan_words(mem, &self.index, lo, hi, &mut v);
                v
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Successors of `id` (sorted, unique; empty for an unknown id).
    #[inline]
    pub(crate) fn succ(&self, id: u32) -> &[u32] {
        if !self.has_succ(id) {
            return &[];
        }
        let c = match self.chunks.as_slice() {
            [one] => one,
            many => {
                let Some(c) = many
                    .partition_point(|c| c.first_id <= id)
                    .checked_sub(1)
                    .and_then(|i| many.get(i))
                else {
                    return &[];
                };
                c
            }
        };
        if id < c.first_id {
            return &[];
        }
        let i = (id - c.first_id) as usize;
        let (Some(&a), Some(&b)) = (c.offsets.get(i), c.offsets.get(i + 1)) else {
            return &[];
        };
        c.edges.get(a as usize..b as usize).unwrap_or(&[])
    }

    /// The edges in CSR pieces of consecutive ids, in id order (ids no
    /// piece covers have no edges).
    pub(crate) fn edge_slices(&self) -> Vec<EdgeSlices<'_>> {
        self.chunks
            .iter()
            .map(|c| EdgeSlices {
                first: c.first_id,
                offsets: &c.offsets,
                edges: &c.edges,
            })
            .collect()
    }

    /// Puts `id`, just reached, on a walk's `stack` if it has edges (a
    /// leaf has nothing to walk), and starts loading its edge range, read
    /// when it is taken (a hint only).
    #[inline(always)]
    fn push_to_walk(&self, id: u32, stack: &mut Vec<u32>) {
        if !self.has_succ(id) {
            return;
        }
        if let [c] = self.chunks.as_slice() {
            if let Some(o) = c
                .offsets
                .get((id as usize).wrapping_sub(c.first_id as usize))
            {
                prefetch(o);
            }
        }
        stack.push(id);
    }

    /// Whether `id` has an edge (a walk that reached it has more to do).
    #[inline(always)]
    fn has_succ(&self, id: u32) -> bool {
        self.inner.contains(id)
    }

    /// Runs of consecutive ids of one object size: `(first id, count,
    /// size)`, in id order.
    pub fn id_ranges(&self) -> impl Iterator<Item = (u32, u32, u64)> + '_ {
        self.index
            .span_id_ranges()
            .map(|(_, first, count, size, _)| (first, count, size))
    }

    /// Bytes of the objects in `set`.
    fn bytes_of(&self, set: &IdSet) -> u64 {
        self.index
            .span_id_ranges()
            .map(|(_, first, count, size, _)| set.count_range(first, count) * size)
            .sum()
    }

    /// The objects reachable from `owned` that the roots cannot reach
    /// without passing through `owned` (`owned` itself included).
    fn retained_set(&self, roots: &[u32], owned: &[u64]) -> IdSet {
        let owned: Vec<u32> = owned.iter().filter_map(|&a| self.id_of(a)).collect();
        self.retained_ids(self.len(), roots, &owned)
    }

    /// [`ObjectGraph::retained_set`] over ids `0..n`, from `owned` ids.
    fn retained_ids(&self, n: usize, roots: &[u32], owned: &[u32]) -> IdSet {
        let mut blocked = IdSet::new(n);
        for &o in owned {
            blocked.insert(o);
        }
        // Both walks in parallel (see `walk_from`): a bit is set once, by
        // whichever thread gets there first, so the sets are those of a
        // sequential walk.
        let reached = AtomicIdSet::new(n);
        self.walk_from(roots, |s| !blocked.contains(s) && reached.insert(s));
        let reached = reached.into_set();
        // Now walk from the owned objects through what the roots missed.
        let mine = AtomicIdSet::new(n);
        self.walk_from(owned, |s| !reached.contains(s) && mine.insert(s));
        mine.into_set()
    }

    /// [`ObjectGraph::retained_ids`] of each of several structures
    /// (`owned`), each walking only its own reach W (every object its
    /// objects lead to) instead of the heap, given which objects the roots
    /// reach at all (`from_roots`). An object of W the roots reach without
    /// passing the structure is entered from outside W — it is a root, or
    /// an object outside W that the roots reach points at it (that
    /// object's root paths cannot pass the structure, or it would be in
    /// W) — and every object after it on the path is in W: walking W from
    /// those entries finds exactly the objects of W the heap-wide walk
    /// from the roots would. One parallel pass over the edges finds the
    /// entries into every reach; the walks are W's size. That is cheaper
    /// than the heap-wide walks only while W is a small part of the heap
    /// (maps nested only inside a `sync.Map`, say): a structure whose W
    /// passes `n / WITHIN_SHARE` objects (its walk stops there) is
    /// measured by the heap-wide walks instead, beside the others. Per
    /// structure: its objects, and whether they were found within W.
    fn retained_ids_within(
        &self,
        n: usize,
        roots: &[u32],
        from_roots: impl Fn(u32) -> bool + Sync,
        owned: &[&[u32]],
    ) -> Vec<(IdSet, bool)> {
        let budget = n / WITHIN_SHARE;
        // Each structure's reach, or None past the budget.
        let reaches: Vec<Option<IdSet>> = owned
            .iter()
            .map(|ids| {
                let reach = AtomicIdSet::new(n);
                let size = AtomicUsize::new(0);
                self.walk_from(ids, |s| {
                    size.load(Relaxed) <= budget
                        && reach.insert(s)
                        && size.fetch_add(1, Relaxed) < budget
                });
                (size.into_inner() <= budget).then(|| reach.into_set())
            })
            .collect();
        // The others by the heap-wide walks, beside.
        let (mut out, within) = rayon::join(
            || {
                reaches
                    .par_iter()
                    .zip(owned.par_iter())
                    .map(|(r, o)| match r {
                        None => Some(self.retained_ids(n, roots, o)),
                        Some(_) => None,
                    })
                    .collect::<Vec<Option<IdSet>>>()
            },
            || self.finish_within(n, roots, &from_roots, owned, &reaches),
        );
        for (o, w) in out.iter_mut().zip(within) {
            if o.is_none() {
                *o = w;
            }
        }
        out.into_iter()
            .zip(&reaches)
            .map(|(o, r)| (o.unwrap_or_else(|| IdSet::new(n)), r.is_some()))
            .collect()
    }

    /// [`ObjectGraph::retained_ids_within`] of the structures whose reach
    /// (`reaches`) is known.
    fn finish_within(
        &self,
        n: usize,
        roots: &[u32],
        from_roots: &(impl Fn(u32) -> bool + Sync),
        owned: &[&[u32]],
        reaches: &[Option<IdSet>],
    ) -> Vec<Option<IdSet>> {
        if reaches.iter().all(Option::is_none) {
            return reaches.iter().map(|_| None).collect();
        }
        let mut blocked: Vec<Vec<u32>> = owned.iter().map(|ids| ids.to_vec()).collect();
        for b in &mut blocked {
            b.sort_unstable();
        }
        let mut union = IdSet::new(n);
        for r in reaches.iter().flatten() {
            for (u, w) in union.0.iter_mut().zip(&r.0) {
                *u |= w;
            }
        }
        let inside = |j: usize, x: u32| {
            reaches[j].as_ref().is_some_and(|r| r.contains(x))
                && blocked[j].binary_search(&x).is_err()
        };
        // Entries: roots inside a reach, and edges into one from an
        // object the roots reach outside it.
        let mut entries: Vec<(usize, u32)> = Vec::new();
        for j in 0..owned.len() {
            entries.extend(roots.iter().filter(|&&r| inside(j, r)).map(|&r| (j, r)));
        }
        let pieces = self.edge_slices();
        let blocks = edge_blocks(&pieces);
        entries.par_extend(blocks.par_iter().flat_map_iter(|&(p, lo, hi)| {
            let mut found: Vec<(usize, u32)> = Vec::new();
            for i in lo..hi {
                let u = p.first.wrapping_add(i as u32);
                if !from_roots(u) {
                    continue;
                }
                let (a, b) = (p.offsets[i] as usize, p.offsets[i + 1] as usize);
                for &s in p.edges.get(a..b).unwrap_or(&[]) {
                    if !union.contains(s) {
                        continue;
                    }
                    for (j, r) in reaches.iter().enumerate() {
                        if r.as_ref().is_some_and(|r| !r.contains(u)) && inside(j, s) {
                            found.push((j, s));
                        }
                    }
                }
            }
            found
        }));
        entries.sort_unstable();
        (0..owned.len())
            .map(|j| {
                reaches.get(j)?.as_ref()?;
                let from = entries.partition_point(|e| e.0 < j);
                let to = entries.partition_point(|e| e.0 <= j);
                let starts: Vec<u32> = entries[from..to].iter().map(|e| e.1).collect();
                let survivors = AtomicIdSet::new(n);
                self.walk_from(&starts, |s| inside(j, s) && survivors.insert(s));
                let survivors = survivors.into_set();
                let mine = AtomicIdSet::new(n);
                self.walk_from(owned[j], |s| !survivors.contains(s) && mine.insert(s));
                Some(mine.into_set())
            })
            .collect()
    }

    /// The objects each structure retains, measured alone: within its own
    /// reach when `reached` is given and the reach is small (all of those
    /// in one pass over the edges), else by the walks of the whole heap.
    fn measure_alone(
        &self,
        roots: &[u32],
        owned: &[&[u64]],
        reached: Option<&Reached>,
    ) -> Vec<IdSet> {
        let n = self.len();
        match reached {
            // A bit set per structure of a batch: a few at a time.
            Some(Reached(reached)) if reached.0.len() == n.div_ceil(64) => owned
                .chunks(WITHIN_BATCH)
                .flat_map(|batch| {
                    let ids: Vec<Vec<u32>> = batch
                        .iter()
                        .map(|o| o.iter().filter_map(|&a| self.id_of(a)).collect())
                        .collect();
                    let ids: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
                    let from_roots = |u: u32| reached.contains(u);
                    self.retained_ids_within(n, roots, from_roots, &ids)
                })
                .map(|(set, _)| set)
                .collect(),
            _ => owned
                .par_iter()
                .map(|o| self.retained_set(roots, o))
                .collect(),
        }
    }

    /// Walks from `starts` along the edges into every object `enter`
    /// accepts (`enter` is asked once per edge and start, and must accept
    /// an object at most once), in parallel: the walk's stack splits
    /// between the threads as it grows.
    fn walk_from(&self, starts: &[u32], enter: impl Fn(u32) -> bool + Sync) {
        let step = |v: u32, stack: &mut Vec<u32>| {
            for &s in self.succ(v) {
                if enter(s) {
                    self.push_to_walk(s, stack);
                }
            }
        };
        rayon::scope(|scope| {
            for chunk in starts.chunks(256) {
                let stack: Vec<u32> = chunk.iter().copied().filter(|&r| enter(r)).collect();
                let step = &step;
                scope.spawn(move |scope| walk_split(scope, stack, step));
            }
        });
    }

    /// Bytes of the objects reachable from `owned` that the roots cannot
    /// reach without passing through `owned`. One walk of the graph per
    /// call: to measure many structures use [`ObjectGraph::retained_many`].
    pub fn retained(&self, roots: &[u32], owned: &[u64]) -> u64 {
        self.bytes_of(&self.retained_set(roots, owned))
    }

    /// Base addresses (sorted) of the objects [`ObjectGraph::retained`]
    /// counts: reachable from `owned` but not from the roots without
    /// passing through `owned`.
    pub fn retained_objects(&self, roots: &[u32], owned: &[u64]) -> Vec<u64> {
        let set = self.retained_set(roots, owned);
        self.addresses_of(&set)
    }

    fn addresses_of(&self, set: &IdSet) -> Vec<u64> {
        let mut out = Vec::new();
        for (si, first, count, _, _) in self.index.span_id_ranges() {
            if set.count_range(first, count) == 0 {
                continue;
            }
            for (k, obj) in span_objects(&self.index, si).enumerate() {
                if set.contains(first + k as u32) {
                    out.push(obj);
                }
            }
        }
        out
    }

    /// Retained bytes and objects of many structures, in two walks of the
    /// graph: the objects the roots reach without passing any structure,
    /// then every structure's reach, labelling each object with the
    /// innermost structure that reaches it or `SHARED` when unrelated
    /// structures both do. A label is exact for a structure when every
    /// other structure the roots reach stays reachable once the structure
    /// is removed (checked on the small structure-to-structure graph); the
    /// rare structure for which that fails (another one nested only inside
    /// it) is measured alone with [`ObjectGraph::retained`]'s walk.
    ///
    /// `reached`, when the caller has it: what `roots` reach ([`Reached`]);
    /// a structure measured alone then walks only its own reach
    /// (`ObjectGraph::retained_ids_within`) instead of the heap twice.
    /// Same answer either way.
    pub fn retained_many(
        &self,
        roots: &[u32],
        structures: &[Structure],
        reached: Option<&Reached>,
    ) -> RetainedMany {
        let n = self.len();
        let k = structures.len();
        let parents: Vec<Option<usize>> = structures
            .iter()
            .enumerate()
            .map(|(i, s)| s.parent.filter(|&p| p < k && p != i))
            .collect();
        let depth = |mut i: usize| {
            let mut d = 0;
            while let Some(p) = parents.get(i).copied().flatten() {
                d += 1;
                i = p;
                if d > MAX_NESTING {
                    break;
                }
            }
            d
        };
        let mut result = RetainedMany {
            labels: vec![UNSEEN; n],
            parents: parents.clone(),
            bytes: vec![0; k],
            exact: vec![None; k],
            index: Arc::clone(&self.index),
        };
        let timing = Phase::start("maps: retained sizes: owned objects");
        // Owned objects: outer structures first, so a member overrides its family.
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by_key(|&i| depth(i));
        let mut owned = IdSet::new(n);
        let mut ids: Vec<u32> = Vec::new();
        for &i in &order {
            // The lookups in parallel, the labels in order.
            ids.clear();
            ids.par_extend(
                structures[i]
                    .owned
                    .par_iter()
                    .with_min_len(1 << 12)
                    .filter_map(|&a| self.id_of(a)),
            );
            for &id in &ids {
                owned.insert(id);
                if let Some(l) = result.labels.get_mut(id as usize) {
                    if *l == UNSEEN || result_within(&parents, i, *l as usize) {
                        *l = i as u32;
                    }
                }
            }
        }
        // Both walks run in parallel on atomic labels: a label only moves up
        // (unseen → a structure → its family … → shared), so concurrent
        // updates converge to the same answer as a sequential walk.
        let labels: Vec<AtomicU32> = std::mem::take(&mut result.labels)
            .into_iter()
            .map(AtomicU32::new)
            .collect();
        let label = |id: u32| labels.get(id as usize).map_or(SHARED, |l| l.load(Relaxed));
        drop(timing);
        let timing = Phase::start("maps: retained sizes: walk from the roots");
        // Walk 1: what the roots reach around every structure.
        let entered: Vec<AtomicBool> = (0..k).map(|_| AtomicBool::new(false)).collect();
        let enter = |id: u32, stack: &mut Vec<u32>| {
            if owned.contains(id) {
                if let Some(e) = entered.get(label(id) as usize) {
                    e.store(true, Relaxed);
                }
            } else if let Some(l) = labels.get(id as usize) {
                if l.compare_exchange(UNSEEN, FROM_ROOTS, Relaxed, Relaxed)
                    .is_ok()
                {
                    self.push_to_walk(id, stack);
                }
            }
        };
        let step = |v: u32, stack: &mut Vec<u32>| {
            let succ = self.succ(v);
            // The successors' labels are random: start loading them all
            // before the first is read.
            for &s in succ {
                if let Some(l) = labels.get(s as usize) {
                    prefetch(l);
                }
            }
            for &s in succ {
                enter(s, stack);
            }
        };
        // A few roots may lead to most of the heap: the walk splits its
        // stack between the threads as it grows.
        rayon::scope(|scope| {
            for chunk in roots.chunks(256) {
                let mut stack: Vec<u32> = Vec::new();
                for &r in chunk {
                    enter(r, &mut stack);
                }
                scope.spawn(|scope| walk_split(scope, stack, &step));
            }
        });
        let entered: Vec<bool> = entered.into_iter().map(AtomicBool::into_inner).collect();
        drop(timing);
        let timing = Phase::start("maps: retained sizes: walk from the structures");
        // Walk 2: each structure's reach, labels joined up the nesting.
        let nca = |a: u32, b: u32| -> u32 {
            if a as usize >= k || b as usize >= k {
                return SHARED;
            }
            let mut x = a as usize;
            for _ in 0..=MAX_NESTING {
                if result_within(&parents, b as usize, x) {
                    return x as u32;
                }
                match parents.get(x).copied().flatten() {
                    Some(p) => x = p,
                    None => break,
                }
            }
            SHARED
        };
        let seeds: Vec<u32> = owned.members().collect();
        // Objects are taken from the stack a batch at a time and each
        // step's loads (edge ranges, edges, successors' labels) are issued
        // for the whole batch before they are used: the cache misses
        // overlap instead of following one another. Labels only move up,
        // so the order of the updates does not change where they end.
        let batch =
            |stack: &mut Vec<u32>, links: &mut Links, pending: &mut Vec<(u32, u32, u32)>| {
                let from_at = stack.len().saturating_sub(WALK_BATCH);
                let mut ranges: [(u32, &[u32]); WALK_BATCH] = [(UNSEEN, &[]); WALK_BATCH];
                let mut taken = 0;
                for (r, v) in ranges.iter_mut().zip(stack.drain(from_at..)) {
                    *r = (label(v), self.succ(v));
                    // The edges are read below: start loading them now.
                    if let Some(e) = r.1.first() {
                        prefetch(e);
                    }
                    taken += 1;
                }
                pending.clear();
                for &(from, succ) in ranges.iter().take(taken) {
                    pending.extend(succ.iter().map(|&s| (s, from, UNSEEN)));
                }
                for p in pending.iter_mut() {
                    p.2 = label(p.0);
                }
                for &(s, from, seen) in pending.iter() {
                    let Some(slot) = labels.get(s as usize) else {
                        continue;
                    };
                    let mut l = seen;
                    if owned.contains(s) {
                        if (from as usize) < k && l != from {
                            links.push(from, l);
                        }
                        continue;
                    }
                    loop {
                        let new = match l {
                            FROM_ROOTS | SHARED => break,
                            UNSEEN => from,
                            l if l == from => break,
                            l => nca(l, from),
                        };
                        if new == l {
                            break;
                        }
                        match slot.compare_exchange_weak(l, new, Relaxed, Relaxed) {
                            Ok(_) => {
                                self.push_to_walk(s, stack);
                                break;
                            }
                            Err(now) => l = now,
                        }
                    }
                }
            };
        // One seed may reach most of the heap: a walk splits its stack
        // between the threads as it grows.
        let found: Mutex<Vec<Vec<(u32, u32)>>> = Mutex::new(Vec::new());
        rayon::scope(|scope| {
            seeds.par_chunks(64).for_each(|chunk| {
                walk_split_links(scope, chunk.to_vec(), &batch, &found);
            });
        });
        let mut links: Vec<(u32, u32)> = found
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .concat();
        links.sort_unstable();
        links.dedup();
        drop(timing);
        let timing = Phase::start("maps: retained sizes: sums and exactness");
        let labels: Vec<u32> = labels.into_iter().map(AtomicU32::into_inner).collect();
        // Bytes per label, then members added to their families.
        let mut own_bytes = vec![0u64; k];
        for (_, first, count, size, _) in self.index.span_id_ranges() {
            for &l in labels
                .get(first as usize..(first + count) as usize)
                .unwrap_or(&[])
            {
                if let Some(b) = own_bytes.get_mut(l as usize) {
                    *b += size;
                }
            }
        }
        result.labels = labels;
        for (i, &own) in own_bytes.iter().enumerate() {
            let mut x = i;
            for _ in 0..=MAX_NESTING {
                if let Some(b) = result.bytes.get_mut(x) {
                    *b += own;
                }
                match parents.get(x).copied().flatten() {
                    Some(p) => x = p,
                    None => break,
                }
            }
        }
        // Exactness: every structure the roots reach must stay reachable
        // with structure i (and its members) removed.
        let mut succ_of: Vec<Vec<usize>> = vec![Vec::new(); k];
        for &(a, b) in &links {
            if let Some(v) = succ_of.get_mut(a as usize) {
                v.push(b as usize);
            }
        }
        let reach = |skip: Option<usize>| -> Vec<bool> {
            let mut seen = vec![false; k];
            let mut st: Vec<usize> = Vec::new();
            for (i, &e) in entered.iter().enumerate() {
                if e && !skip.is_some_and(|s| result_within(&parents, i, s)) {
                    seen[i] = true;
                    st.push(i);
                }
            }
            while let Some(x) = st.pop() {
                for &y in &succ_of[x] {
                    if !seen[y] && !skip.is_some_and(|s| result_within(&parents, y, s)) {
                        seen[y] = true;
                        st.push(y);
                    }
                }
            }
            seen
        };
        let all = reach(None);
        // Only a structure with a link out of it (or out of a member) can
        // have another one nested only inside it: check just those.
        let linking: Vec<usize> = (0..k).filter(|&j| !succ_of[j].is_empty()).collect();
        let inexact: Vec<usize> = (0..k)
            .into_par_iter()
            .filter(|&i| linking.iter().any(|&j| result_within(&parents, j, i)))
            .filter(|&i| {
                let without = reach(Some(i));
                (0..k).any(|j| all[j] && !without[j] && !result_within(&parents, j, i))
            })
            .collect();
        drop(timing);
        let _timing = Phase::start("maps: retained sizes: measured alone");
        let owned: Vec<&[u64]> = inexact.iter().map(|&i| structures[i].owned).collect();
        let sets = self.measure_alone(roots, &owned, reached);
        let measured: Vec<(usize, Vec<u64>, u64)> = inexact
            .par_iter()
            .zip(sets)
            .map(|(&i, set)| (i, self.addresses_of(&set), self.bytes_of(&set)))
            .collect();
        for (i, objects, bytes) in measured {
            result.bytes[i] = bytes;
            result.exact[i] = Some(objects);
        }
        result
    }
}

impl ObjectGraph {
    /// Per object id, the index of the one root that reaches it (the
    /// object is reachable from `roots[i]`, the ids root `i` points at,
    /// and from no other root), [`ROOT_SHARED`] when several do,
    /// [`ROOT_NONE`] when none does. One multi-source walk labels each
    /// object with the one root that reaches it, or shared once a second
    /// one does; labels only move up (unseen → a root → shared), so each
    /// object is pushed at most twice and the parallel walk ends with the
    /// labels a sequential one would give. (Retained bytes per root are
    /// the dominator tree's: [`crate::dominators`].)
    pub fn root_labels(&self, roots: &[&[u32]]) -> Vec<u32> {
        let n = self.len();
        let k = roots.len().min(SHARED as usize);
        let labels: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(UNSEEN)).collect();
        // Raises the label of `id` to `l` joined with what it is; whether
        // it changed (then the object must be (re)visited).
        let raise = |id: u32, l: u32| -> bool {
            let Some(slot) = labels.get(id as usize) else {
                return false;
            };
            let mut cur = slot.load(Relaxed);
            loop {
                let new = match cur {
                    UNSEEN => l,
                    SHARED => return false,
                    c if c == l => return false,
                    _ => SHARED,
                };
                match slot.compare_exchange_weak(cur, new, Relaxed, Relaxed) {
                    Ok(_) => return true,
                    Err(now) => cur = now,
                }
            }
        };
        let mut seeds: Vec<u32> = Vec::new();
        for (i, targets) in roots.iter().take(k).enumerate() {
            for &id in targets.iter() {
                if raise(id, i as u32) {
                    seeds.push(id);
                }
            }
        }
        let step = |v: u32, stack: &mut Vec<u32>| {
            let l = labels.get(v as usize).map_or(SHARED, |l| l.load(Relaxed));
            for &s in self.succ(v) {
                if raise(s, l) {
                    stack.push(s);
                }
            }
        };
        rayon::scope(|scope| {
            for chunk in seeds.chunks(256) {
                let stack = chunk.to_vec();
                scope.spawn(|scope| walk_split(scope, stack, &step));
            }
        });
        labels.into_iter().map(AtomicU32::into_inner).collect()
    }
}

/// Joins the build tasks' chunks (consecutive ids, in order) into one, so
/// that finding an object's edges is two loads; each chunk is freed as soon
/// as it is copied. Kept apart when the edges outgrow `u32` offsets.
/// Scans chunk `a..b` of the heap's spans for the graph build.
trait ChunkScan: Sync {
    /// Calls `emit(successors)` once per allocated object of spans
    /// `a..b`, in id order (successors sorted, unique).
    fn scan(&self, a: usize, b: usize, emit: &mut impl FnMut(&[u32]));
}

/// [`ChunkScan`] of a core's heap: pointer words by the runtime's bitmaps
/// (conservatively where there are none), each chunk's core pages mapped
/// before and released after.
struct HeapScan<'a> {
    mem: &'a mapscope_elfcore::ProcessMemory,
    index: &'a ObjectIndex,
    spans: &'a [mapscope_goruntime::heap::Span],
    pointers: &'a PointerMaps,
}

impl ChunkScan for HeapScan<'_> {
    fn scan(&self, a: usize, b: usize, emit: &mut impl FnMut(&[u32])) {
        let HeapScan {
            mem,
            index,
            spans,
            pointers,
        } = *self;
        let (Some(first), Some(last)) = (spans.get(a), spans.get(b.wrapping_sub(1))) else {
            return;
        };
        // Map the pages to be scanned (not those of pointer-free
        // spans, never read) in one call per run of spans rather
        // than one fault every few pages.
        let mut run: Option<(u64, u64)> = None;
        for s in spans.get(a..b).unwrap_or(&[]) {
            match run {
                _ if s.noscan => {}
                Some((lo, hi)) if hi == s.start => run = Some((lo, s.end)),
                _ => {
                    if let Some((lo, hi)) = run {
                        mem.prefetch(lo, hi.saturating_sub(lo));
                    }
                    run = Some((s.start, s.end));
                }
            }
        }
        if let Some((lo, hi)) = run {
            mem.prefetch(lo, hi.saturating_sub(lo));
        }
        // Scratch lists per task: no allocation per object.
        let mut scratch: Vec<u32> = Vec::new();
        let mut batch = LookupBatch::default();
        for si in a..b {
            let Some(s) = spans.get(si) else { continue };
            if s.noscan {
                let count: usize = index
                    .span_bits(si)
                    .iter()
                    .map(|w| w.count_ones() as usize)
                    .sum();
                for _ in 0..count {
                    emit(&[]);
                }
                continue;
            }
            let mut scan = pointers.span_scan(mem, s);
            for obj in span_objects(index, si) {
                // Precise where the runtime's pointer bitmaps say
                // which words are pointers (crate::pointers): the values
                // wait in the batch for their lookups.
                let from = batch.values.len();
                if pointers.scan_in_span(mem, s, &mut scan, obj, &mut batch.values) {
                    batch.ends.push(batch.values.len());
                    if batch.values.len() >= LOOKUP_BATCH {
                        batch.flush(index, &mut scratch, emit);
                    }
                } else {
                    batch.values.truncate(from);
                    batch.flush(index, &mut scratch, emit);
                    scratch.clear();
                    scan_words(mem, index, obj, obj + s.elem_size, &mut scratch);
                    sort_unique(&mut scratch);
                    emit(&scratch);
                }
            }
            batch.flush(index, &mut scratch, emit);
        }
        mem.release(first.start, last.end.saturating_sub(first.start));
    }
}

/// An object's successors as the graph keeps them: sorted, unique.
fn sort_unique(ids: &mut Vec<u32>) {
    if ids.len() > 1 {
        ids.sort_unstable();
        ids.dedup();
    }
}

/// Pointer values [`HeapScan`] gathers before it looks their objects up.
const LOOKUP_BATCH: usize = 256;

/// Pointer values of consecutive objects, looked up together
/// ([`ObjectIndex::span_candidate`] for all, then
/// [`ObjectIndex::id_in_span`]): the span records' cache misses overlap.
#[derive(Default)]
struct LookupBatch {
    values: Vec<u64>,
    /// Per object, the end of its values.
    ends: Vec<usize>,
    spans: Vec<u32>,
}

impl LookupBatch {
    /// Emits each object's successors (sorted, unique), in order.
    fn flush(
        &mut self,
        index: &ObjectIndex,
        scratch: &mut Vec<u32>,
        emit: &mut impl FnMut(&[u32]),
    ) {
        self.spans.clear();
        self.spans.extend(
            self.values
                .iter()
                .map(|&v| index.span_candidate(v).unwrap_or(u32::MAX)),
        );
        let mut from = 0;
        for &end in &self.ends {
            scratch.clear();
            for (&v, &span) in self
                .values
                .get(from..end)
                .unwrap_or(&[])
                .iter()
                .zip(self.spans.get(from..end).unwrap_or(&[]))
            {
                if let Some(id) = index.id_in_span(span, v) {
                    scratch.push(id);
                }
            }
            sort_unique(scratch);
            emit(scratch);
            from = end;
        }
        self.values.clear();
        self.ends.clear();
    }
}

/// The graph's CSR arrays written in place by the chunk scans: chunk `i`
/// of spans (`ranges[i]`, scanned by `scan`) gets a region of one edge
/// array of `words[i]` entries, its words in pointer-bearing spans (a bound
/// on its edges: an object's successors are some of its words) and the slice of the offsets array of its objects; the regions
/// are then moved down to close the gaps (sequentially, in order: each
/// moves to or below where it was) and the unused tail is freed. Only the
/// pages written become resident (the arrays start as fresh zero pages),
/// so nothing is allocated or copied per chunk and no second copy of the
/// edges exists, as joining per-chunk arrays needs. `None` when the bound
/// exceeds the u32 range, the memory is refused, or a chunk's objects or
/// edges do not fit what the index promised (then the caller joins
/// per-chunk arrays instead).
fn build_in_place(
    ranges: &[(usize, usize)],
    words: &[u64],
    objects: usize,
    first_id: impl Fn(usize) -> u32 + Sync,
    scan: &impl ChunkScan,
) -> Option<EdgeChunk> {
    if ranges.first().is_none_or(|&(a, _)| first_id(a) != 0) || words.len() != ranges.len() {
        return None;
    }
    // Per chunk: its objects, and its region (first entry, entries: its
    // words in pointer-bearing spans).
    let counts: Vec<usize> = ranges
        .iter()
        .map(|&(a, b)| Some(first_id(b).checked_sub(first_id(a))? as usize))
        .collect::<Option<_>>()?;
    let mut regions: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    let mut bound = 0usize;
    for &words in words {
        let words = usize::try_from(words).ok()?;
        regions.push((bound, words));
        bound = bound.checked_add(words)?;
    }
    if bound > u32::MAX as usize || counts.iter().sum::<usize>() != objects {
        return None;
    }
    let mut offsets = zeroed_u32s(objects.checked_add(1)?)?;
    let mut edges = zeroed_u32s(bound)?;
    // Disjoint slices per chunk: its objects' end offsets, its region.
    let lens: Vec<usize> = regions.iter().map(|r| r.1).collect();
    let jobs: Vec<_> = ranges
        .iter()
        .zip(&regions)
        .zip(split_lens(offsets.get_mut(1..)?, &counts)?)
        .zip(split_lens(&mut edges, &lens)?)
        .map(|(((&(a, b), &(base, _)), o), e)| (a, b, base as u32, o, e))
        .collect();
    // Per chunk: the edges written, or None when it did not fit.
    let written: Vec<Option<usize>> = jobs
        .into_par_iter()
        .map(|(a, b, base, o, e)| {
            let (mut obj, mut at, mut fits) = (0usize, 0usize, true);
            scan.scan(a, b, &mut |succ: &[u32]| {
                let end = at + succ.len();
                match (e.get_mut(at..end), o.get_mut(obj)) {
                    (Some(to), Some(off)) if fits => {
                        to.copy_from_slice(succ);
                        *off = base + end as u32;
                        (obj, at) = (obj + 1, end);
                    }
                    _ => fits = false,
                }
            });
            (fits && obj == o.len()).then_some(at)
        })
        .collect();
    let written: Vec<usize> = written.into_iter().collect::<Option<_>>()?;
    // Close the gaps: region i moves down to the end of region i - 1.
    let _timing = Phase::start("maps: graph build: close gaps");
    let mut to = 0usize;
    let mut shifts = Vec::with_capacity(regions.len());
    for (&(base, _), &n) in regions.iter().zip(&written) {
        if base != to {
            edges.copy_within(base..base + n, to);
        }
        shifts.push((base - to) as u32);
        to += n;
    }
    let pieces = split_lens(offsets.get_mut(1..)?, &counts)?;
    pieces.into_par_iter().zip(shifts).for_each(|(o, shift)| {
        if shift != 0 {
            for x in o {
                *x -= shift;
            }
        }
    });
    edges.truncate(to);
    edges.shrink_to_fit();
    Some(EdgeChunk {
        first_id: 0,
        offsets,
        edges,
    })
}

/// The graph's CSR arrays as one piece per chunk of spans (`ranges`,
/// scanned by `scan`), then joined into one ([`flatten`]) when their ids
/// are contiguous and the edges fit `u32` offsets: [`build_in_place`]'s
/// fallback.
fn build_joined(
    ranges: &[(usize, usize)],
    first_id: impl Fn(usize) -> u32 + Sync,
    scan: &impl ChunkScan,
) -> Vec<EdgeChunk> {
    let chunks: Vec<EdgeChunk> = ranges
        .par_iter()
        .map(|&(a, b)| {
            let mut chunk = EdgeChunk {
                first_id: first_id(a),
                offsets: vec![0],
                edges: Vec::new(),
            };
            scan.scan(a, b, &mut |succ: &[u32]| {
                chunk.edges.extend_from_slice(succ);
                let at = u32::try_from(chunk.edges.len()).unwrap_or(u32::MAX);
                chunk.offsets.push(at);
            });
            chunk
        })
        .collect();
    let _timing = Phase::start("maps: graph build: join chunks");
    flatten(chunks)
}

/// `slice` cut into consecutive pieces of the lengths `lens`; `None` when
/// they add up to more than its length.
fn split_lens<'s, T>(mut slice: &'s mut [T], lens: &[usize]) -> Option<Vec<&'s mut [T]>> {
    let mut out = Vec::with_capacity(lens.len());
    for &n in lens {
        if n > slice.len() {
            return None;
        }
        let (piece, rest) = std::mem::take(&mut slice).split_at_mut(n);
        out.push(piece);
        slice = rest;
    }
    Some(out)
}

/// `n` zeroed `u32`s, or `None` when the allocator refuses them. Large
/// arrays come as fresh zero pages from the kernel, resident only once
/// written.
fn zeroed_u32s(n: usize) -> Option<Vec<u32>> {
    if n == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u32>(n).ok()?;
    // SAFETY: the layout has a non-zero size; zeroed memory is a valid
    // `[u32; n]`; the pointer comes from the global allocator with the
    // layout of a `Vec<u32>` of capacity n, as `from_raw_parts` requires.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout).cast::<u32>();
        if p.is_null() {
            return None;
        }
        Some(Vec::from_raw_parts(p, n, n))
    }
}

fn flatten(chunks: Vec<EdgeChunk>) -> Vec<EdgeChunk> {
    let total: usize = chunks.iter().map(|c| c.edges.len()).sum();
    let objects: usize = chunks
        .iter()
        .map(|c| c.offsets.len().saturating_sub(1))
        .sum();
    let contiguous = chunks.first().is_none_or(|c| c.first_id == 0)
        && chunks.windows(2).all(|w| {
            w[0].first_id as usize + w[0].offsets.len().saturating_sub(1) == w[1].first_id as usize
        });
    if chunks.len() < 2 || total > u32::MAX as usize || !contiguous {
        return chunks;
    }
    // Each chunk's offsets and edges go to their place in the joined
    // arrays, in parallel (the arrays start zeroed: fresh pages, no fill).
    let mut offsets: Vec<u32> = vec![0; objects + 1];
    let mut edges: Vec<u32> = vec![0; total];
    let counts: Vec<usize> = chunks
        .iter()
        .map(|c| c.offsets.len().saturating_sub(1))
        .collect();
    let lens: Vec<usize> = chunks.iter().map(|c| c.edges.len()).collect();
    let bases = lens.iter().scan(0u32, |base, &n| {
        let at = *base;
        *base += n as u32;
        Some(at)
    });
    let (Some(o), Some(e)) = (
        split_lens(&mut offsets[1..], &counts),
        split_lens(&mut edges, &lens),
    ) else {
        return chunks;
    };
    let jobs: Vec<_> = chunks.into_iter().zip(bases).zip(o).zip(e).collect();
    jobs.into_par_iter().for_each(|(((c, base), o), e)| {
        for (to, &from) in o.iter_mut().zip(c.offsets.iter().skip(1)) {
            *to = base + from;
        }
        e.copy_from_slice(&c.edges);
    });
    vec![EdgeChunk {
        first_id: 0,
        offsets,
        edges,
    }]
}

/// Stack size at which [`walk_split`] hands half of its stack to another
/// task.
const SPLIT_AT: usize = 4096;

/// Pops objects off `stack` and calls `step` on each (which pushes what
/// is to be visited next) until the stack is empty; whenever the stack
/// reaches [`SPLIT_AT`] entries, half of it becomes a new task of `scope`
/// that an idle thread can take.
fn walk_split<'s, F>(scope: &rayon::Scope<'s>, mut stack: Vec<u32>, step: &'s F)
where
    F: Fn(u32, &mut Vec<u32>) + Sync,
{
    while let Some(v) = stack.pop() {
        step(v, &mut stack);
        if stack.len() >= SPLIT_AT {
            let half = stack.split_off(stack.len() / 2);
            scope.spawn(move |scope| walk_split(scope, half, step));
        }
    }
}

/// Runs `batch` over `stack` until it is empty, as [`walk_split`] does
/// (half of a stack that reaches [`SPLIT_AT`] entries becomes a new task of
/// `scope`); each task's structure-to-structure links go to `found`.
fn walk_split_links<'s, F>(
    scope: &rayon::Scope<'s>,
    mut stack: Vec<u32>,
    batch: &'s F,
    found: &'s Mutex<Vec<Vec<(u32, u32)>>>,
) where
    F: Fn(&mut Vec<u32>, &mut Links, &mut Vec<(u32, u32, u32)>) + Sync,
{
    let mut links = Links::default();
    let mut pending = Vec::new();
    while !stack.is_empty() {
        batch(&mut stack, &mut links, &mut pending);
        if stack.len() >= SPLIT_AT {
            let half = stack.split_off(stack.len() / 2);
            scope.spawn(move |scope| walk_split_links(scope, half, batch, found));
        }
    }
    let links = links.into_sorted();
    if !links.is_empty() {
        found.lock().unwrap_or_else(|e| e.into_inner()).push(links);
    }
}

/// Whether structure `i` is `ancestor` or nested in it.
fn result_within(parents: &[Option<usize>], mut i: usize, ancestor: usize) -> bool {
    for _ in 0..=MAX_NESTING {
        if i == ancestor {
            return true;
        }
        match parents.get(i).copied().flatten() {
            Some(p) => i = p,
            None => return false,
        }
    }
    false
}

/// Appends the ids of the objects that aligned words of `[lo, hi)` point
/// into. Reads whole contiguous pieces of the memory view (no copy);
/// unreadable pages are skipped.
fn scan_words(
    mem: &mapscope_elfcore::ProcessMemory,
    index: &ObjectIndex,
    lo: u64,
    hi: u64,
    out: &mut Vec<u32>,
) {
    let (min, max) = index.bounds();
    if min >= max {
        return;
    }
    let mut a = lo.saturating_add(7) & !7;
    while a < hi {
        match mem.contiguous_at(a) {
            Ok(bytes) => {
                let n = (bytes.len() as u64).min(hi - a) as usize & !7;
                if n == 0 {
                    break;
                }
                for w in bytes.get(..n).unwrap_or(&[]).chunks_exact(8) {
                    let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                    if v >= min && v < max {
                        if let Some(id) = index.id_of(v) {
                            out.push(id);
                        }
                    }
                }
                a += n as u64;
            }
            // Skip to the next page.
            Err(_) => a = (a | 0xfff).saturating_add(1),
        }
    }
}

/// Parent of an object no root reaches, in [`ObjectGraph::shortest_paths`].
pub const UNREACHED: u32 = u32::MAX;

impl ObjectGraph {
    /// Shortest paths from the roots, breadth-first: per object id, the
    /// object it was first reached from ([`UNREACHED`] when no root
    /// reaches it; a root is its own parent). The tiers are walked one
    /// after the other, each to the end, so an object any root of an
    /// earlier tier reaches is named from that tier (globals before
    /// goroutines before finalizers, as the typed walk prefers them). Each
    /// level is expanded in parallel; among the objects of one level that
    /// point at a new object, the lowest id becomes its parent, so the
    /// answer does not depend on the threads. Each level is taken in id
    /// order (sorted; a large level is marked in a bitset and read back,
    /// one pass over n / 64 words instead of a sort). Every object enters
    /// a level at most once: the walk is bounded by the objects and edges.
    pub fn shortest_paths(&self, tiers: &[&[u32]]) -> Vec<u32> {
        paths_from(self.len(), |v| self.succ(v), Some(&self.inner), tiers)
    }
}

/// [`ObjectGraph::shortest_paths`] over nodes `0..n` with successors
/// `succ`; with `inner` (the nodes with successors), the others are
/// marked reached but left out of the levels (nothing to expand).
fn paths_from<'a, F>(n: usize, succ: F, inner: Option<&IdSet>, tiers: &[&[u32]]) -> Vec<u32>
where
    F: Fn(u32) -> &'a [u32] + Sync,
{
    let parent: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(UNREACHED)).collect();
    let mut seen = IdSet::new(n);
    let mut fresh = IdSet::new(n);
    // Below this many objects a level is expanded on this thread (long
    // chains make many tiny levels).
    const PARALLEL_LEVEL: usize = 4096;
    for tier in tiers {
        let mut frontier: Vec<u32> = Vec::new();
        for &r in tier.iter() {
            if (r as usize) < n && seen.insert(r) {
                if let Some(p) = parent.get(r as usize) {
                    p.store(r, Relaxed);
                }
                frontier.push(r);
            }
        }
        frontier.sort_unstable();
        let expands = |v: &u32| inner.is_none_or(|set| set.contains(*v));
        frontier.retain(expands);
        while !frontier.is_empty() {
            let expand = |v: u32, next: &mut Vec<u32>| {
                for &s in succ(v) {
                    if seen.contains(s) {
                        continue;
                    }
                    if let Some(p) = parent.get(s as usize) {
                        // A plain load first: most edges meet an object
                        // this level already gave a lower parent, and a
                        // read-modify-write costs a locked instruction.
                        if p.load(Relaxed) <= v {
                            continue;
                        }
                        if p.fetch_min(v, Relaxed) == UNREACHED {
                            next.push(s);
                        }
                    }
                }
            };
            // The next level, in pieces (one per thread's run of chunks:
            // never concatenated before it is known to be small).
            let pieces: Vec<Vec<u32>> = if frontier.len() < PARALLEL_LEVEL {
                let mut next = Vec::new();
                for &v in &frontier {
                    expand(v, &mut next);
                }
                vec![next]
            } else {
                frontier
                    .par_chunks(256)
                    .fold(Vec::new, |mut next, chunk| {
                        for &v in chunk {
                            expand(v, &mut next);
                        }
                        next
                    })
                    .collect()
            };
            drop(frontier);
            let len: usize = pieces.iter().map(Vec::len).sum();
            let mut next: Vec<u32> = Vec::new();
            if len >= (n / 1024).max(4096) {
                // A large level: marked, then read back in id order
                // (one pass over n / 64 words, cheaper than sorting).
                for piece in pieces {
                    for &s in &piece {
                        fresh.insert(s);
                    }
                }
                next.reserve_exact(len);
                fresh.drain_into(&mut seen, inner, &mut next);
            } else {
                next.reserve_exact(len);
                for piece in pieces {
                    next.extend_from_slice(&piece);
                }
                next.sort_unstable();
                for &s in &next {
                    seen.insert(s);
                }
                next.retain(expands);
            }
            frontier = next;
        }
    }
    parent.into_iter().map(AtomicU32::into_inner).collect()
}

/// [`ObjectGraph::predecessors`] over the CSR `pieces` of a graph of `n`
/// objects: parallel over the pieces, each read in order (no lookup of
/// the piece per object).
fn predecessors_in(pieces: &[EdgeSlices<'_>], n: usize, targets: &[u32]) -> HashMap<u32, Vec<u32>> {
    let mut wanted = IdSet::new(n);
    for &t in targets {
        wanted.insert(t);
    }
    // In blocks of consecutive ids (a graph is mostly one piece), in
    // parallel; each target's list is sorted below, so the order in which
    // blocks finish does not matter.
    let pairs: Vec<(u32, u32)> = edge_blocks(pieces)
        .par_iter()
        .fold(Vec::new, |mut v, &(piece, lo, hi)| {
            let offsets = piece.offsets.get(lo..=hi).unwrap_or(&[]);
            for (k, w) in offsets.windows(2).enumerate() {
                let edges = piece.edges.get(w[0] as usize..w[1] as usize).unwrap_or(&[]);
                for &s in edges {
                    if wanted.contains(s) {
                        v.push((s, piece.first.wrapping_add((lo + k) as u32)));
                    }
                }
            }
            v
        })
        .reduce(Vec::new, |mut a, b| {
            a.extend(b);
            a
        });
    let mut out: HashMap<u32, Vec<u32>> = HashMap::new();
    for (s, id) in pairs {
        out.entry(s).or_default().push(id);
    }
    for v in out.values_mut() {
        v.sort_unstable();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `build_in_place` against the definition: every object's successors
    /// are what the scan emitted for it, across chunks with gaps of every
    /// size (an empty chunk, a chunk whose bound is all used, one of
    /// pointer-free objects only); and `None` when a scan emits more
    /// objects or edges than promised.
    #[test]
    fn in_place_build_keeps_every_objects_successors() {
        let mut rnd = crate::testrng::below(0x9e37_79b9_7f4a_7c15);
        // Per chunk: objects, bound (words), successor lists.
        let mut chunks: Vec<(Vec<Vec<u32>>, u64)> = Vec::new();
        let n_chunks = 40;
        let mut lists_all: Vec<Vec<u32>> = Vec::new();
        for c in 0..n_chunks {
            let objects = match c {
                3 => 0,
                _ => rnd(50) as usize,
            };
            let lists: Vec<Vec<u32>> = (0..objects)
                .map(|_| match c {
                    5 => Vec::new(),
                    _ => (0..rnd(5)).map(|_| rnd(1000) as u32).collect(),
                })
                .collect();
            let used: u64 = lists.iter().map(|l| l.len() as u64).sum();
            let bound = match c {
                7 => used,
                _ => used + rnd(40),
            };
            lists_all.extend(lists.iter().cloned());
            chunks.push((lists, bound));
        }
        let ranges: Vec<(usize, usize)> = (0..n_chunks).map(|c| (c, c + 1)).collect();
        let firsts: Vec<u32> = std::iter::once(0)
            .chain(chunks.iter().scan(0u32, |t, (l, _)| {
                *t += l.len() as u32;
                Some(*t)
            }))
            .collect();
        let first_id = |s: usize| firsts[s.min(n_chunks)];
        let words: Vec<u64> = chunks.iter().map(|(_, b)| *b).collect();
        /// Chunk `a`'s lists, and with `extra` one more object in chunk 10.
        struct Lists<'a> {
            chunks: &'a [(Vec<Vec<u32>>, u64)],
            extra: bool,
        }
        impl ChunkScan for Lists<'_> {
            fn scan(&self, a: usize, _b: usize, emit: &mut impl FnMut(&[u32])) {
                for l in &self.chunks[a].0 {
                    emit(l);
                }
                if self.extra && a == 10 {
                    emit(&[]);
                }
            }
        }
        let scan = Lists {
            chunks: &chunks,
            extra: false,
        };
        let objects = lists_all.len();
        let built = build_in_place(&ranges, &words, objects, first_id, &scan).unwrap();
        assert_eq!(built.offsets.len(), objects + 1);
        assert_eq!(
            built.edges.len(),
            lists_all.iter().map(Vec::len).sum::<usize>()
        );
        // The fallback (a piece per chunk, joined) too.
        let joined =
            ObjectGraph::from_chunks(Arc::default(), build_joined(&ranges, first_id, &scan));
        assert_eq!(joined.chunks.len(), 1);
        for (i, l) in lists_all.iter().enumerate() {
            let (a, b) = (built.offsets[i] as usize, built.offsets[i + 1] as usize);
            assert_eq!(&built.edges[a..b], l.as_slice(), "object {i}");
            assert_eq!(joined.succ(i as u32), l.as_slice(), "object {i}, joined");
        }
        // A scan that emits more edges than its bound, or one object too
        // many: refused.
        let tight: Vec<u64> = chunks
            .iter()
            .map(|(l, _)| l.iter().map(|x| x.len() as u64).sum())
            .collect();
        let mut short = tight.clone();
        let c = (0..n_chunks).find(|&c| tight[c] > 0).unwrap();
        short[c] -= 1;
        assert!(build_in_place(&ranges, &short, objects, first_id, &scan).is_none());
        let extra = Lists {
            chunks: &chunks,
            extra: true,
        };
        assert!(build_in_place(&ranges, &tight, objects, first_id, &extra).is_none());
        assert!(build_in_place(&ranges, &tight, objects, first_id, &scan).is_some());
    }

    /// The set of objects with edges, and `succ`, over several pieces.
    #[test]
    fn objects_with_edges_are_marked_across_pieces() {
        // Three pieces of consecutive ids, boundaries inside bit words;
        // object i has i % 3 edges.
        let piece = |first: u32, count: u32| {
            let mut offsets = vec![0u32];
            let mut edges = Vec::new();
            for id in first..first + count {
                edges.extend(0..id % 3);
                offsets.push(edges.len() as u32);
            }
            EdgeChunk {
                first_id: first,
                offsets,
                edges,
            }
        };
        let graph = ObjectGraph::from_chunks(
            Arc::default(),
            vec![piece(0, 5), piece(5, 65), piece(70, 130)],
        );
        for id in 0..200u32 {
            assert_eq!(graph.has_succ(id), id % 3 != 0, "object {id}");
            assert_eq!(graph.succ(id).len() as u32, id % 3, "object {id}");
        }
        assert!(!graph.has_succ(200));
        assert!(graph.succ(200).is_empty());
    }

    /// `predecessors_in` against the definition (every edge into a
    /// target), on a pseudo-random graph cut into CSR pieces with ids no
    /// piece covers.
    #[test]
    fn predecessors_match_the_edges() {
        // Pieces [0, a), [a, b), [c, n): ids b..c have no edges. The large
        // graph spans several of the parallel blocks of ids.
        for (n, a, b, c) in [
            (500u32, 200u32, 350u32, 400u32),
            (40_000, 20_000, 35_000, 35_050),
        ] {
            let mut rnd = crate::testrng::below(0x2545_f491_4f6c_dd1d);
            let adj: Vec<Vec<u32>> = (0..n)
                .map(|_| (0..rnd(6)).map(|_| rnd(n as u64) as u32).collect())
                .collect();
            let owned =
                crate::testgraph::pieces(&adj, &[a as usize, b as usize], b as usize..c as usize);
            assert_eq!(owned.iter().map(|p| p.0).collect::<Vec<_>>(), [0, a, c]);
            let pieces = crate::testgraph::slices(&owned);
            let targets: Vec<u32> = (0..n).filter(|t| t % 7 == 0).collect();
            let got = predecessors_in(&pieces, n as usize, &targets);
            let mut want: HashMap<u32, Vec<u32>> = HashMap::new();
            for (v, succ) in adj.iter().enumerate() {
                if (b..c).contains(&(v as u32)) {
                    continue;
                }
                for &s in succ {
                    if s % 7 == 0 {
                        want.entry(s).or_default().push(v as u32);
                    }
                }
            }
            assert!(!want.is_empty());
            assert_eq!(got, want, "{n} objects");
        }
    }

    /// Retained objects by the definition: reachable from `owned` through
    /// objects the roots do not reach once `owned` is removed (sequential,
    /// on the adjacency lists).
    fn naive_retained(adj: &[Vec<u32>], roots: &[u32], owned: &[u32]) -> Vec<u32> {
        let n = adj.len();
        let walk = |starts: &[u32], ok: &dyn Fn(usize) -> bool| {
            let mut seen = vec![false; n];
            let mut stack: Vec<usize> = Vec::new();
            for &r in starts {
                let r = r as usize;
                if r < n && ok(r) && !seen[r] {
                    seen[r] = true;
                    stack.push(r);
                }
            }
            while let Some(v) = stack.pop() {
                for &s in &adj[v] {
                    let s = s as usize;
                    if s < n && ok(s) && !seen[s] {
                        seen[s] = true;
                        stack.push(s);
                    }
                }
            }
            seen
        };
        let reached = walk(roots, &|v| !owned.contains(&(v as u32)));
        let mine = walk(owned, &|v| !reached[v]);
        (0..n as u32).filter(|&v| mine[v as usize]).collect()
    }

    /// Structures measured within their own reaches (up to four sharing
    /// the pass over the edges) get the objects the heap-wide walks give,
    /// on random graphs with garbage pointing into a reach, roots inside
    /// it, edges back into the structure and owned objects no root
    /// reaches; a reach over the budget is measured by those walks.
    #[test]
    fn retained_within_own_reach_matches_the_heap_walks() {
        let mut rnd = crate::testrng::below(0x0ddb_a11c_afe5_eed5);
        let mut checked = 0;
        for round in 0..400 {
            let n = if round % 10 == 0 {
                5_000 + rnd(20_000) as usize
            } else {
                2 + rnd(600) as usize
            };
            let mut adj: Vec<Vec<u32>> = vec![Vec::new(); n];
            // Sparse graphs (small reaches) and dense ones (a giant one).
            let quarters = if round % 3 != 0 { rnd(3) } else { 4 + rnd(8) };
            for _ in 0..n * quarters as usize / 4 {
                let a = rnd(n as u64) as usize;
                adj[a].push(rnd(n as u64) as u32);
            }
            // Up to four structures measured together.
            let structures: Vec<Vec<u32>> = (0..1 + rnd(4))
                .map(|_| (0..1 + rnd(5)).map(|_| rnd(n as u64) as u32).collect())
                .collect();
            let mut roots: Vec<u32> = (0..1 + rnd(4)).map(|_| rnd(n as u64) as u32).collect();
            // Now and then an edge back into a structure from its reach,
            // and a root inside that reach.
            for owned in &structures {
                let reach = naive_retained(&adj, &[], owned);
                if rnd(2) == 0 {
                    let from = reach[rnd(reach.len() as u64) as usize];
                    adj[from as usize].push(owned[rnd(owned.len() as u64) as usize]);
                }
                if rnd(2) == 0 {
                    roots.push(reach[rnd(reach.len() as u64) as usize]);
                }
            }
            roots.sort_unstable();
            roots.dedup();
            for l in adj.iter_mut() {
                l.sort_unstable();
                l.dedup();
            }
            let pieces = crate::testgraph::pieces(&adj, &[], 0..0);
            let (first_id, offsets, edges) = pieces.into_iter().next().unwrap();
            let graph = ObjectGraph::from_chunks(
                Arc::default(),
                vec![EdgeChunk {
                    first_id,
                    offsets,
                    edges,
                }],
            );
            let Reached(reached) = Reached::from_paths(&naive_paths(&adj, &[roots.clone()]));
            let from_roots = |u: u32| reached.contains(u);
            let lists: Vec<&[u32]> = structures.iter().map(Vec::as_slice).collect();
            let alone = graph.retained_ids_within(n, &roots, from_roots, &lists);
            assert_eq!(alone.len(), structures.len());
            let members = |set: IdSet| set.members().collect::<Vec<u32>>();
            for (owned, (set, within)) in structures.iter().zip(alone) {
                let want = naive_retained(&adj, &roots, owned);
                let heap = members(graph.retained_ids(n, &roots, owned));
                assert_eq!(heap, want, "round {round} n {n}: heap walks");
                assert_eq!(members(set), want, "round {round} n {n}: within {within}");
                // A reach over 1/32 of the graph is left to the heap walks.
                let too_large = naive_retained(&adj, &[], owned).len() > n / WITHIN_SHARE;
                assert_eq!(within, !too_large, "round {round} n {n}");
                checked += usize::from(within);
            }
        }
        assert!(
            checked > 300,
            "{checked} structures measured within their reach"
        );
    }

    /// Breadth-first by the definition: tier after tier, level after
    /// level; an object's parent is the lowest id of the level before that
    /// points at it.
    fn naive_paths(adj: &[Vec<u32>], tiers: &[Vec<u32>]) -> Vec<u32> {
        let n = adj.len();
        let mut parent = vec![UNREACHED; n];
        for tier in tiers {
            let mut level: Vec<u32> = Vec::new();
            for &r in tier {
                if (r as usize) < n && parent[r as usize] == UNREACHED {
                    parent[r as usize] = r;
                    level.push(r);
                }
            }
            while !level.is_empty() {
                let mut best: std::collections::BTreeMap<u32, u32> = Default::default();
                for &v in &level {
                    for &s in &adj[v as usize] {
                        if (s as usize) < n && parent[s as usize] == UNREACHED {
                            let b = best.entry(s).or_insert(v);
                            *b = (*b).min(v);
                        }
                    }
                }
                for (&s, &v) in &best {
                    parent[s as usize] = v;
                }
                level = best.into_keys().collect();
            }
        }
        parent
    }

    #[test]
    fn shortest_paths_match_breadth_first_by_definition() {
        let mut rnd = crate::testrng::below(0x1234_5678_9abc_def1);
        for round in 0..60 {
            // Large graphs now and then: levels above the bitset threshold
            // (4096 objects) and below it, parallel and not.
            let n = if round % 3 == 0 {
                20_000 + rnd(30_000) as usize
            } else {
                1 + rnd(200) as usize
            };
            let mut adj: Vec<Vec<u32>> = vec![Vec::new(); n];
            // A wide fan-out from a few hubs, then random edges.
            for v in 0..n {
                if rnd(3) == 0 {
                    let hub = rnd(4) as usize % n;
                    adj[hub].push(v as u32);
                }
            }
            for _ in 0..n * (1 + rnd(3) as usize) {
                let a = rnd(n as u64) as usize;
                adj[a].push(rnd(n as u64 + 2) as u32);
            }
            for l in adj.iter_mut() {
                l.sort_unstable();
                l.dedup();
            }
            let tiers: Vec<Vec<u32>> = (0..1 + rnd(3))
                .map(|_| (0..rnd(4)).map(|_| rnd(n as u64) as u32).collect())
                .collect();
            let tier_refs: Vec<&[u32]> = tiers.iter().map(Vec::as_slice).collect();
            let got = paths_from(n, |v| adj[v as usize].as_slice(), None, &tier_refs);
            assert_eq!(got, naive_paths(&adj, &tiers), "round {round} n {n}");
            let mut inner = IdSet::new(n);
            for (v, l) in adj.iter().enumerate() {
                if !l.is_empty() {
                    inner.insert(v as u32);
                }
            }
            let got = paths_from(n, |v| adj[v as usize].as_slice(), Some(&inner), &tier_refs);
            assert_eq!(
                got,
                naive_paths(&adj, &tiers),
                "round {round} n {n}, leaves skipped"
            );
        }
    }
}
