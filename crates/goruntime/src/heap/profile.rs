//! Span specials and the runtime's heap-profile buckets.
//!
//! Every sampled live object carries a special of kind
//! `_KindSpecialProfile` on its span's `specials` list: `{offset, b}` with
//! `b` an mProf bucket. `runtime.mbuckets` heads the list (`allnext`) of all
//! heap-profile buckets; after the `bucket` header come `nstk` return PCs and
//! then the `memRecord` (`active` plus three `future` cycles). Reading them
//! rebuilds the heap profile as of the crash; the special gives the exact
//! join object → bucket (stack).

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use super::{Heap, Warnings};
use crate::layout::{word_at, RuntimeLayout};
use crate::process::GoProcess;

/// More buckets than this is not a real profile (the runtime's hash table
/// has 179999 slots; a program has a few thousand allocation sites).
const MAX_BUCKETS: usize = 1 << 22;

/// What a special record is for (numbers differ per release; mapped from
/// the DWARF constants).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpecialKind {
    /// Heap-profile sample (`_KindSpecialProfile`).
    Profile,
    /// `runtime.SetFinalizer` (`_KindSpecialFinalizer`).
    Finalizer,
    /// `runtime.AddCleanup` (`_KindSpecialCleanup`, 1.24+).
    Cleanup,
    /// `weak.Pointer` handle (`_KindSpecialWeakHandle`).
    WeakHandle,
    /// Any other kind, with its number.
    Other(u8),
}

/// One special record of an in-use span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecialRecord {
    /// Base address of the object the special is attached to.
    pub object: u64,
    pub kind: SpecialKind,
    /// Address of the special record itself (e.g. a `specialfinalizer`).
    pub record: u64,
    /// For profile specials: the bucket id (index in
    /// [`Heap::profile_buckets`]), when the bucket is on `mbuckets`.
    pub bucket: Option<u32>,
}

/// Allocation and free counts of a `memRecordCycle`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemCounts {
    pub allocs: u64,
    pub frees: u64,
    pub alloc_bytes: u64,
    pub free_bytes: u64,
}

impl MemCounts {
    fn add(&mut self, o: &MemCounts) {
        self.allocs = self.allocs.wrapping_add(o.allocs);
        self.frees = self.frees.wrapping_add(o.frees);
        self.alloc_bytes = self.alloc_bytes.wrapping_add(o.alloc_bytes);
        self.free_bytes = self.free_bytes.wrapping_add(o.free_bytes);
    }
    /// Live sampled objects (`allocs − frees`).
    pub fn inuse_objects(&self) -> u64 {
        self.allocs.saturating_sub(self.frees)
    }
    /// Live sampled bytes (`alloc_bytes − free_bytes`).
    pub fn inuse_bytes(&self) -> u64 {
        self.alloc_bytes.saturating_sub(self.free_bytes)
    }
    fn is_zero(&self) -> bool {
        *self == MemCounts::default()
    }
}

/// One heap-profile bucket (an allocation stack and size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProfileBucket {
    /// Address of the `runtime.bucket`.
    pub address: u64,
    /// Allocation size of the objects this bucket counts (`bucket.size`).
    pub size: u64,
    pub(super) stack_start: u64,
    pub(super) stack_len: u64,
    /// `memRecord.active` as stored.
    pub active: MemCounts,
    /// What `runtime.MemProfile` would report at the moment of the core:
    /// `active` plus the cycle it flushes first (`future[cycle % 3]`).
    /// Use this to compare with a `heap.pb.gz`.
    pub published: MemCounts,
    /// Samples of the cycles not yet published (allocated since the last
    /// completed GC).
    pub unpublished: MemCounts,
}

impl ProfileBucket {
    /// `(inuse_objects, inuse_space)` as `runtime/pprof` writes them for
    /// this bucket's published counts at sampling rate `rate`.
    pub fn scaled_inuse(&self, rate: i64) -> (i64, i64) {
        scale_heap_sample(
            self.published.inuse_objects() as i64,
            self.published.inuse_bytes() as i64,
            rate,
        )
    }
    /// `(alloc_objects, alloc_space)` as `runtime/pprof` writes them.
    pub fn scaled_alloc(&self, rate: i64) -> (i64, i64) {
        scale_heap_sample(
            self.published.allocs as i64,
            self.published.alloc_bytes as i64,
            rate,
        )
    }
}

/// `runtime/pprof.scaleHeapSample`: undoes the Poisson sampling of the heap
/// profiler. A sample of average size S was recorded with probability
/// `1 − exp(−S/rate)`; both values are divided by it (truncated to
/// integers as Go's `int64(float64(x) * scale)` does). `rate ≤ 1` means
/// every allocation was recorded (or unknown): no scaling.
pub fn scale_heap_sample(count: i64, size: i64, rate: i64) -> (i64, i64) {
    if count == 0 || size == 0 {
        return (0, 0);
    }
    if rate <= 1 {
        return (count, size);
    }
    let avg = size as f64 / count as f64;
    let scale = 1.0 / (1.0 - (-avg / rate as f64).exp());
    ((count as f64 * scale) as i64, (size as f64 * scale) as i64)
}

/// One `memRecordCycle`; without byte counters (1.27+) bytes are counts ×
/// the bucket's object size, as `runtime.MemProfile` computes them.
fn read_counts(raw: &[u8], at: u64, layout: &crate::layout::BucketLayout, size: u64) -> MemCounts {
    let w = |off: u64| word_at(raw, at + off).unwrap_or(0);
    let allocs = w(layout.allocs);
    let frees = w(layout.frees);
    MemCounts {
        allocs,
        frees,
        alloc_bytes: layout
            .alloc_bytes
            .map(w)
            .unwrap_or_else(|| allocs.wrapping_mul(size)),
        free_bytes: layout
            .free_bytes
            .map(w)
            .unwrap_or_else(|| frees.wrapping_mul(size)),
    }
}

/// Walks `runtime.mbuckets` → `allnext` (bounded, cycle-safe).
pub(super) fn read_buckets(
    heap: &mut Heap,
    process: &GoProcess,
    layout: &RuntimeLayout,
    warnings: &mut Warnings,
) {
    let (Some(bl), Some(head_at)) = (layout.bucket.as_ref(), layout.globals.mbuckets) else {
        return;
    };
    let mem = process.memory();
    let c = &layout.constants;
    heap.mem_profile_rate = layout
        .globals
        .mem_profile_rate
        .and_then(|a| mem.read_i64(a).ok());
    let cycle = layout
        .globals
        .mprof_cycle
        .and_then(|a| mem.read_u32(a).ok())
        .map(|v| v >> 1);
    if cycle.is_none() {
        warnings.push(
            "runtime.mProfCycle unreadable: the rebuilt profile uses memRecord.active only"
                .to_string(),
        );
    }
    let flush_index = cycle.map(|c| c as u64 % bl.future_len.max(1));

    let mut b = match mem.read_ptr(head_at) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(format!("runtime.mbuckets unreadable: {e}"));
            return;
        }
    };
    let mut seen: HashSet<u64> = HashSet::new();
    let mut buckets = Vec::new();
    let mut pcs: Vec<u64> = Vec::new();
    let mut raw = Vec::new();
    while b != 0 {
        if buckets.len() >= MAX_BUCKETS {
            warnings.push(format!(
                "runtime.mbuckets: stopped after {MAX_BUCKETS} buckets"
            ));
            break;
        }
        if !seen.insert(b) {
            warnings.push(format!(
                "runtime.mbuckets: the allnext list loops back to {b:#x}"
            ));
            break;
        }
        let mut header = vec![0u8; bl.header_size as usize];
        if let Err(e) = mem.read(b, &mut header) {
            warnings.push(format!("profile bucket {b:#x} unreadable: {e}"));
            break;
        }
        let next = word_at(&header, bl.allnext).unwrap_or(0);
        let typ = bl.typ.get(&header).unwrap_or(0);
        let nstk = word_at(&header, bl.nstk).unwrap_or(u64::MAX);
        let size = word_at(&header, bl.size).unwrap_or(0);
        if typ != c.mem_profile_bucket {
            warnings.push(format!(
                "profile bucket {b:#x} on mbuckets has type {typ}, not memProfile: skipped"
            ));
            b = next;
            continue;
        }
        if nstk > c.max_stack_depth {
            warnings.push(format!(
                "profile bucket {b:#x}: stack depth {nstk} exceeds {}: list abandoned",
                c.max_stack_depth
            ));
            break;
        }
        let body_len = nstk * 8 + bl.record_size;
        raw.resize(body_len as usize, 0);
        if let Err(e) = mem.read(b + bl.header_size, &mut raw) {
            warnings.push(format!(
                "profile bucket {b:#x}: stack or memRecord unreadable: {e}"
            ));
            b = next;
            continue;
        }
        let stack_start = pcs.len() as u64;
        pcs.extend(
            raw[..(nstk * 8) as usize]
                .chunks_exact(8)
                .map(|w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))),
        );
        let rec = nstk * 8;
        let active = read_counts(&raw, rec + bl.active, bl, size);
        let futures: Vec<MemCounts> = (0..bl.future_len)
            .map(|i| read_counts(&raw, rec + bl.future + i * bl.cycle_size, bl, size))
            .collect();
        let mut published = active;
        let mut unpublished = MemCounts::default();
        for (i, f) in futures.iter().enumerate() {
            if Some(i as u64) == flush_index {
                published.add(f);
            } else {
                unpublished.add(f);
            }
        }
        buckets.push(ProfileBucket {
            address: b,
            size,
            stack_start,
            stack_len: nstk,
            active,
            published,
            unpublished,
        });
        b = next;
    }
    // Like runtime.MemProfile: with no published data at all (no GC has
    // completed), every cycle counts.
    if !buckets.is_empty() && buckets.iter().all(|b| b.published.is_zero()) {
        for b in &mut buckets {
            b.published.add(&b.unpublished);
            b.unpublished = MemCounts::default();
        }
    }
    heap.buckets = buckets;
    heap.bucket_pcs = pcs;
}

/// Reads every in-use span's specials list (in parallel, each bounded).
pub(super) fn read_specials(
    heap: &mut Heap,
    process: &GoProcess,
    layout: &RuntimeLayout,
    warnings: &mut Warnings,
) {
    let Some(sl) = layout.special.as_ref() else {
        return;
    };
    let mem = process.memory();
    let c = &layout.constants;
    let kind_of = |k: u64| -> SpecialKind {
        if Some(k) == c.kind_special_profile {
            SpecialKind::Profile
        } else if Some(k) == c.kind_special_finalizer {
            SpecialKind::Finalizer
        } else if Some(k) == c.kind_special_cleanup {
            SpecialKind::Cleanup
        } else if Some(k) == c.kind_special_weak_handle {
            SpecialKind::WeakHandle
        } else {
            SpecialKind::Other(k as u8)
        }
    };
    let bucket_ids: HashMap<u64, u32> = heap
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| (b.address, i as u32))
        .collect();
    let read_size = sl.profile_size.max(sl.profile_bucket + 8).min(256) as usize;
    let per_span: Vec<(Vec<SpecialRecord>, Option<String>)> = heap
        .spans
        .par_iter()
        .filter(|s| s.specials != 0)
        .map(|span| {
            let mut out = Vec::new();
            let mut problem = None;
            // A span has at most a few specials per object.
            let bound = span.nelems as u64 * 8 + 64;
            let mut p = span.specials;
            let mut steps = 0u64;
            while p != 0 {
                steps += 1;
                if steps > bound {
                    problem = Some(format!(
                        "span {:#x}: specials list longer than {bound}: cut",
                        span.mspan
                    ));
                    break;
                }
                let mut buf = [0u8; 256];
                let full_ok = mem.read(p, &mut buf[..read_size]).is_ok();
                if !full_ok {
                    // A short record (not a profile special) may end the mapping.
                    let short = (sl.profile_bucket as usize).min(read_size);
                    if let Err(e) = mem.read(p, &mut buf[..short]) {
                        problem = Some(format!(
                            "span {:#x}: special {p:#x} unreadable: {e}",
                            span.mspan
                        ));
                        break;
                    }
                }
                let raw = &buf[..read_size];
                let next = word_at(raw, sl.next).unwrap_or(0);
                let offset = sl.offset.get(raw).unwrap_or(u64::MAX);
                let kind = kind_of(sl.kind.get(raw).unwrap_or(0));
                if offset >= span.span_bytes() {
                    problem = Some(format!(
                        "span {:#x}: special {p:#x} offset {offset} is outside the span",
                        span.mspan
                    ));
                    break;
                }
                let object = span.start + offset - offset % span.elem_size;
                let bucket = if kind == SpecialKind::Profile && full_ok {
                    let b = word_at(raw, sl.profile_bucket).unwrap_or(0);
                    bucket_ids.get(&b).copied()
                } else {
                    None
                };
                out.push(SpecialRecord {
                    object,
                    kind,
                    record: p,
                    bucket,
                });
                p = next;
            }
            (out, problem)
        })
        .collect();
    let mut specials = Vec::new();
    for (list, problem) in per_span {
        specials.extend(list);
        if let Some(w) = problem {
            warnings.push(w);
        }
    }
    specials.sort_by_key(|s| s.object);
    let mut unmatched = 0u64;
    let mut profiled = Vec::new();
    for s in &specials {
        if s.kind != SpecialKind::Profile {
            continue;
        }
        match s.bucket {
            Some(b)
                if heap
                    .object_at(s.object)
                    .is_some_and(|o| o.address == s.object) =>
            {
                profiled.push((s.object, b))
            }
            Some(_) => {}
            None => unmatched += 1,
        }
    }
    if unmatched > 0 {
        warnings.push(format!(
            "{unmatched} heap-profile specials point at buckets missing from runtime.mbuckets"
        ));
    }
    heap.specials = specials;
    heap.profiled = profiled;
}

/// See [`Heap::pprof_stack`]. Mirrors `runtime/pprof.writeHeapProto` and
/// `appendLocsForStack`: a frame is "runtime" when the innermost function
/// at its PC (`runtime.FuncForPC`) starts with `runtime.` or
/// `internal/runtime/`.
pub(super) fn pprof_stack(process: &GoProcess, pcs: &[u64]) -> Vec<u64> {
    let bias = process.load_bias();
    let innermost = |pc: u64| -> Option<String> {
        let tab = process.pclntab()?;
        let link_pc = pc.wrapping_sub(bias);
        let frames = tab.frames(link_pc);
        match frames.first() {
            Some(f) => Some(f.function.to_string()),
            None => tab.func_for_pc(link_pc).map(|f| f.name().to_string()),
        }
    };
    let is_runtime =
        |name: &str| name.starts_with("runtime.") || name.starts_with("internal/runtime/");
    let mut end = pcs.len();
    // appendLocsForStack stops at runtime.goexit.
    if let Some(i) = pcs
        .iter()
        .position(|&pc| innermost(pc).as_deref() == Some("runtime.goexit"))
    {
        end = i;
    }
    let stack = &pcs[..end];
    let start = stack
        .iter()
        .position(|&pc| innermost(pc).is_some_and(|n| !is_runtime(&n)))
        .unwrap_or(0);
    // pprof's pcDeck: a PC joins the previous location when the previous
    // PC's innermost frame is inlined and both lie in the same physical
    // function (the runtime's "virtual" PCs of outer inlined frames).
    let frame_info = |pc: u64| -> Option<(u64, bool, String)> {
        let tab = process.pclntab()?;
        let link_pc = pc.wrapping_sub(bias);
        let f = tab.func_for_pc(link_pc)?;
        let frames = tab.frames(link_pc);
        let first = frames.first()?;
        Some((f.entry, first.inlined, first.function.to_string()))
    };
    let mut out = Vec::with_capacity(stack.len().saturating_sub(start));
    let mut previous: Option<(u64, bool, String)> = None;
    for &pc in &stack[start..] {
        let info = frame_info(pc.wrapping_sub(1));
        let joins = match (&previous, &info) {
            (Some((entry, inlined, name)), Some((new_entry, _, new_name))) => {
                *inlined && entry == new_entry && name != new_name
            }
            _ => false,
        };
        if !joins {
            out.push(pc.wrapping_sub(1));
        }
        previous = info;
    }
    out
}
