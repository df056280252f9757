//! Reading the span table: `mheap_.heapArenas` → arena ranges,
//! `mheap_.allspans` → in-use spans with their allocation bits, in parallel;
//! when `allspans` is unreadable (a cut core), the arenas' `spans` tables,
//! else no spans ([`SpanSource`]).

use rayon::prelude::*;

use mapscope_elfcore::ProcessMemory;

use super::{Span, SpanSource, Warnings};
use crate::error::GoRuntimeError;
use crate::layout::{word_at, IntField, RuntimeLayout};
use crate::process::GoProcess;

/// More arenas than this (4M × 64 MiB = 256 TiB) is not a real heap.
const MAX_ARENAS: u64 = 1 << 22;
/// More spans than this is not a real heap (2^28 × 8 KiB = 2 TiB).
const MAX_SPANS: u64 = 1 << 28;
/// A span larger than 1 TiB is not real.
const MAX_SPAN_BYTES: u64 = 1 << 40;

/// What the warning of a span whose mspan record is not readable says.
const UNREADABLE_MSPAN: &str = "is unreadable";

/// One `allspans` entry read: `Ok(None)` for a span not in use, `Err` with
/// a warning for an in-use span that fails validation.
type SpanRead = Result<Option<(Span, Vec<u64>)>, String>;

pub(super) struct SpanWalk {
    pub spans: Vec<Span>,
    pub alloc_bits: Vec<u64>,
    pub arenas: Vec<(u64, u64)>,
    pub source: SpanSource,
    /// Every in-use span is known: from `allspans`, or from the span
    /// tables of every arena with no unreadable mspan.
    pub complete: bool,
}

fn read_int(mem: &ProcessMemory, address: u64, field: IntField) -> Option<u64> {
    let mut buf = [0u8; 8];
    let n = field.size as usize;
    mem.read(address.checked_add(field.offset)?, &mut buf[..n])
        .ok()?;
    Some(u64::from_le_bytes(buf))
}

/// Reads a slice header `{ptr, len, cap}` at `address`.
fn read_slice(
    mem: &ProcessMemory,
    address: u64,
) -> Result<(u64, u64), mapscope_elfcore::ReadError> {
    let ptr = mem.read_ptr(address)?;
    let len = mem.read_u64(address.wrapping_add(8))?;
    Ok((ptr, len))
}

/// Reads `count` words at `address`: borrowed when contiguous in one file,
/// copied otherwise (the caller has bounded `count`).
fn read_words(
    mem: &ProcessMemory,
    address: u64,
    count: u64,
) -> Result<Vec<u64>, mapscope_elfcore::ReadError> {
    let len = count * 8;
    let bytes_owned;
    let bytes: &[u8] = match mem.bytes(address, len as usize) {
        Ok(b) => b,
        Err(mapscope_elfcore::ReadError::Discontiguous { .. }) => {
            let mut v = vec![0u8; len as usize];
            mem.read(address, &mut v)?;
            bytes_owned = v;
            &bytes_owned
        }
        Err(e) => return Err(e),
    };
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect())
}

pub(super) fn walk_spans(
    process: &GoProcess,
    layout: &RuntimeLayout,
    warnings: &mut Warnings,
) -> Result<SpanWalk, GoRuntimeError> {
    let mem = process.memory();
    let mheap = layout.globals.mheap;
    let sweepgen = read_int(mem, mheap, layout.mheap.sweepgen).ok_or(GoRuntimeError::Corrupt {
        what: "runtime.mheap_",
        address: mheap,
        problem: "unreadable (sweepgen)".to_string(),
    })? as u32;

    let (arenas, records) = read_arenas(process, layout, warnings);

    let ctx = SpanContext {
        mem,
        layout,
        sweepgen,
        arenas: &arenas,
    };
    // Span sources, best first: `allspans`; else the arenas' `spans`
    // arrays (a cut core loses the runtime's off-heap metadata first);
    // else no spans at all, said so.
    let mut all_tables = true;
    let (span_ptrs, source) = match read_allspans(mem, layout) {
        Ok(ptrs) => (ptrs, SpanSource::AllSpans),
        Err(e) => {
            let from_arenas = arena_span_pointers(mem, layout, &records);
            let usable = from_arenas.1;
            all_tables = usable == records.len();
            warnings.push(format!(
                "span metadata incomplete: {e}; {}",
                if usable > 0 {
                    format!(
                        "spans taken from the heap arenas' span tables ({usable} of {} arena records readable)",
                        records.len()
                    )
                } else {
                    format!(
                        "no heap arena span table is readable either ({} arena records known): the heap walk has no spans; objects are sized from map headers and size classes",
                        records.len()
                    )
                }
            ));
            if usable > 0 {
                (from_arenas.0, SpanSource::ArenaSpans)
            } else {
                (Vec::new(), SpanSource::None)
            }
        }
    };
    let results: Vec<SpanRead> = span_ptrs.par_iter().map(|&p| ctx.read_span(p)).collect();

    let mut spans: Vec<(Span, Vec<u64>)> = Vec::with_capacity(results.len() / 2);
    let mut bad = 0u64;
    // Spans whose mspan record is not in the core (a cut core): the list
    // is then incomplete, whatever its source.
    let mut unreadable = 0u64;
    for r in results {
        match r {
            Ok(Some(s)) => spans.push(s),
            Ok(None) => {}
            Err(w) => {
                bad += 1;
                if w.contains(UNREADABLE_MSPAN) {
                    unreadable += 1;
                }
                warnings.push(w);
            }
        }
    }
    if bad > 0 {
        warnings.push(format!(
            "{bad} in-use spans skipped as invalid (see the warnings above)"
        ));
    }
    // In address order: the keys are sorted, not the 96-byte records,
    // which are then taken in that order (on the bench core's 212,369
    // spans: 10-14 ms instead of 25-47 ms of a 0.2 s walk). Spans with
    // the same start keep their order in the list (the later one is
    // dropped as overlapping, below).
    let mut order: Vec<(u64, usize)> = spans
        .iter()
        .enumerate()
        .map(|(i, (s, _))| (s.start, i))
        .collect();
    order.sort_unstable();
    let mut spans: Vec<Option<(Span, Vec<u64>)>> = spans.into_iter().map(Some).collect();

    // Assign bit offsets; drop spans that overlap their predecessor.
    let total_slots: u64 = spans.iter().flatten().map(|(s, _)| s.nelems as u64).sum();
    let mut alloc_bits: Vec<u64> =
        Vec::with_capacity(total_slots.div_ceil(64) as usize + spans.len());
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    let mut prev_end = 0u64;
    let sorted = order
        .iter()
        .filter_map(|&(_, i)| spans.get_mut(i).and_then(Option::take));
    for (mut span, words) in sorted {
        if span.start < prev_end {
            warnings.push(format!(
                "span {:#x} at {:#x}-{:#x} overlaps the previous span (ending {prev_end:#x}): skipped",
                span.mspan, span.start, span.end
            ));
            continue;
        }
        prev_end = span.end;
        // Each span starts on a word boundary: simple, at most 63 bits lost.
        span.bits_offset = alloc_bits.len() as u64 * 64;
        alloc_bits.extend_from_slice(&words);
        out.push(span);
    }
    Ok(SpanWalk {
        spans: out,
        alloc_bits,
        arenas,
        source,
        complete: match source {
            SpanSource::AllSpans => unreadable == 0,
            SpanSource::ArenaSpans => all_tables && bad == 0,
            SpanSource::None => false,
        },
    })
}

/// `mheap_.allspans` → the mspan pointers it lists.
fn read_allspans(mem: &ProcessMemory, layout: &RuntimeLayout) -> Result<Vec<u64>, GoRuntimeError> {
    let allspans_at = layout.globals.mheap + layout.mheap.allspans;
    let (spans_ptr, spans_len) =
        read_slice(mem, allspans_at).map_err(|source| GoRuntimeError::Read {
            what: "runtime.mheap_.allspans",
            source,
        })?;
    if spans_len > MAX_SPANS || (spans_len > 0 && !mem.is_readable(spans_ptr, spans_len * 8)) {
        return Err(GoRuntimeError::Corrupt {
            what: "runtime.mheap_.allspans",
            address: allspans_at,
            problem: format!("{spans_len} entries at {spans_ptr:#x} are not readable"),
        });
    }
    read_words(mem, spans_ptr, spans_len).map_err(|source| GoRuntimeError::Read {
        what: "runtime.mheap_.allspans array",
        source,
    })
}

/// The distinct mspan pointers of the arenas' `heapArena.spans` tables
/// (one entry per page; a span's pages repeat its pointer), and how many
/// arena records had a readable table.
fn arena_span_pointers(
    mem: &ProcessMemory,
    layout: &RuntimeLayout,
    records: &[u64],
) -> (Vec<u64>, usize) {
    let c = &layout.constants;
    let pages = match c.heap_arena_bytes.checked_div(c.page_size) {
        Some(p) if p > 0 && p <= 1 << 20 => p,
        _ => return (Vec::new(), 0),
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut usable = 0usize;
    for &record in records {
        let Some(at) = record.checked_add(layout.heap_arena.spans) else {
            continue;
        };
        let Ok(words) = read_words(mem, at, pages) else {
            continue;
        };
        usable += 1;
        let mut last = 0u64;
        for w in words {
            if w != 0 && w != last && seen.insert(w) {
                out.push(w);
            }
            last = w;
        }
    }
    (out, usable)
}

/// `mheap_.heapArenas` (or `allArenas`) → arena address ranges, each
/// checked to have a `heapArena` record in `mheap_.arenas`.
fn read_arenas(
    process: &GoProcess,
    layout: &RuntimeLayout,
    warnings: &mut Warnings,
) -> (Vec<(u64, u64)>, Vec<u64>) {
    let mem = process.memory();
    let c = &layout.constants;
    let Some(list_off) = layout.mheap.heap_arenas else {
        return (Vec::new(), Vec::new());
    };
    let at = layout.globals.mheap + list_off;
    let (ptr, len) = match read_slice(mem, at) {
        Ok(v) => v,
        Err(e) => {
            warnings.push(format!("runtime.mheap_.heapArenas unreadable: {e}"));
            return (Vec::new(), Vec::new());
        }
    };
    if len > MAX_ARENAS || (len > 0 && !mem.is_readable(ptr, len * 8)) {
        warnings.push(format!(
            "runtime.mheap_.heapArenas: {len} entries at {ptr:#x} are not readable"
        ));
        return (Vec::new(), Vec::new());
    }
    let indices = match read_words(mem, ptr, len) {
        Ok(v) => v,
        Err(e) => {
            warnings.push(format!("runtime.mheap_.heapArenas array unreadable: {e}"));
            return (Vec::new(), Vec::new());
        }
    };
    let l2_mask = if c.arena_l2_bits >= 64 {
        u64::MAX
    } else {
        (1u64 << c.arena_l2_bits) - 1
    };
    let mut ranges = Vec::with_capacity(indices.len());
    let mut records = Vec::with_capacity(indices.len());
    let mut missing = 0u64;
    for idx in indices {
        let (l1, l2) = if c.arena_l1_bits == 0 {
            (0, idx)
        } else {
            (idx >> c.arena_l1_shift, idx & l2_mask)
        };
        if l1 >> c.arena_l1_bits.min(63) != 0 && c.arena_l1_bits != 0 || l2 > l2_mask {
            missing += 1;
            continue;
        }
        let l2_table = mem
            .read_ptr(layout.globals.mheap + layout.mheap.arenas + l1 * 8)
            .unwrap_or(0);
        let record = if l2_table == 0 {
            0
        } else {
            mem.read_ptr(l2_table.wrapping_add(l2 * 8)).unwrap_or(0)
        };
        if record == 0 {
            missing += 1;
            continue;
        }
        let base = idx
            .wrapping_mul(c.heap_arena_bytes)
            .wrapping_add(c.arena_base_offset);
        ranges.push((base, base.saturating_add(c.heap_arena_bytes)));
        records.push(record);
    }
    if missing > 0 {
        warnings.push(format!("{missing} heap arenas listed in runtime.mheap_.heapArenas have no readable heapArena record"));
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if last.1 >= s => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    (merged, records)
}

struct SpanContext<'a> {
    mem: &'a ProcessMemory,
    layout: &'a RuntimeLayout,
    sweepgen: u32,
    arenas: &'a [(u64, u64)],
}

impl SpanContext<'_> {
    fn in_arenas(&self, start: u64, end: u64) -> bool {
        if self.arenas.is_empty() {
            return true;
        }
        let i = self.arenas.partition_point(|a| a.0 <= start);
        i > 0 && self.arenas.get(i - 1).is_some_and(|a| end <= a.1)
    }

    /// One `allspans` entry: `Ok(None)` for spans not in use, `Err` with a
    /// warning for an in-use span that fails validation.
    fn read_span(&self, mspan: u64) -> SpanRead {
        let l = &self.layout.span;
        let c = &self.layout.constants;
        if mspan == 0 {
            return Ok(None);
        }
        let owned;
        let raw: &[u8] = match self.mem.bytes(mspan, l.size as usize) {
            Ok(b) => b,
            Err(mapscope_elfcore::ReadError::Discontiguous { .. }) => {
                let mut v = vec![0u8; l.size as usize];
                self.mem
                    .read(mspan, &mut v)
                    .map_err(|e| format!("mspan {mspan:#x} {UNREADABLE_MSPAN}: {e}"))?;
                owned = v;
                &owned
            }
            Err(e) => return Err(format!("mspan {mspan:#x} {UNREADABLE_MSPAN}: {e}")),
        };
        let bad = |what: String| Err(format!("mspan {mspan:#x}: {what}"));
        let state = l.state.get(raw).unwrap_or(u64::MAX);
        if state != c.span_in_use {
            return Ok(None);
        }
        let start = word_at(raw, l.start_addr).unwrap_or(0);
        let npages = word_at(raw, l.npages).unwrap_or(0);
        let elem_size = word_at(raw, l.elemsize).unwrap_or(0);
        let nelems = l.nelems.get(raw).unwrap_or(0);
        let freeindex = l.freeindex.get(raw).unwrap_or(0);
        let spanclass = l.spanclass.get(raw).unwrap_or(0);
        let alloc_bits_ptr = word_at(raw, l.alloc_bits).unwrap_or(0);
        let span_bytes = match npages.checked_mul(c.page_size) {
            Some(b) if npages > 0 && b <= MAX_SPAN_BYTES => b,
            _ => return bad(format!("npages {npages} is impossible")),
        };
        let Some(end) = start.checked_add(span_bytes) else {
            return bad(format!("start {start:#x} + {span_bytes} bytes overflows"));
        };
        if start % c.page_size != 0 {
            return bad(format!("start {start:#x} is not page aligned"));
        }
        if !self.in_arenas(start, end) {
            return bad(format!(
                "span {start:#x}-{end:#x} lies outside every heap arena"
            ));
        }
        if elem_size == 0 || nelems == 0 || nelems > u32::MAX as u64 {
            return bad(format!("elemsize {elem_size}, nelems {nelems}"));
        }
        if !matches!(nelems.checked_mul(elem_size), Some(total) if total <= span_bytes) {
            return bad(format!(
                "nelems {nelems} × elemsize {elem_size} exceeds the span's {span_bytes} bytes"
            ));
        }
        let size_class = (spanclass >> 1) as u8;
        let noscan = spanclass & 1 == 1;
        if size_class != 0 && !self.layout.class_sizes.is_empty() {
            let expected = self.layout.class_size(size_class) as u64;
            if expected != elem_size {
                return bad(format!(
                    "size class {size_class} has elemsize {elem_size}, the table says {expected}"
                ));
            }
        }
        if freeindex > nelems {
            return bad(format!("freeindex {freeindex} > nelems {nelems}"));
        }
        let nbytes = nelems.div_ceil(8) as usize;
        let bits = match self.mem.bytes(alloc_bits_ptr, nbytes) {
            Ok(b) => b,
            Err(e) => return bad(format!("allocBits {alloc_bits_ptr:#x} unreadable: {e}")),
        };
        let (words, allocated) = alloc_words(bits, nelems as u32, freeindex as u32);

        let span_sweepgen = l.sweepgen.get(raw).unwrap_or(0) as u32;
        let cached = span_sweepgen == self.sweepgen.wrapping_add(3);
        let pending_allocs = if cached {
            let count = l.alloc_count.get(raw).unwrap_or(0);
            let before = l
                .alloc_count_before_cache
                .and_then(|f| f.get(raw))
                .unwrap_or(count);
            count.saturating_sub(before) as u32
        } else {
            0
        };
        let min_header = c.malloc_header.map(|(_, m)| m).unwrap_or(512);
        let has_header =
            l.large_type.is_some() && !noscan && size_class != 0 && elem_size > min_header;
        // A pointer-free large span's `largeType` is never read by the
        // runtime and may be stale: Go 1.22 does not clear it when a span
        // of a typed object is reused for a noscan one.
        let large_type = match (size_class, l.large_type) {
            (0, Some(off)) if !noscan => word_at(raw, off).unwrap_or(0),
            _ => 0,
        };
        Ok(Some((
            Span {
                start,
                end,
                mspan,
                elem_size,
                nelems: nelems as u32,
                allocated,
                size_class,
                noscan,
                has_header,
                cached,
                pending_allocs,
                large_type,
                specials: word_at(raw, l.specials).unwrap_or(0),
                bits_offset: 0,
            },
            words,
        )))
    }
}

/// Allocation bits as words (bit i = slot i), with every slot below
/// `freeindex` set and bits past `nelems` cleared; returns the count too.
fn alloc_words(bits: &[u8], nelems: u32, freeindex: u32) -> (Vec<u64>, u32) {
    let nwords = (nelems as usize).div_ceil(64);
    let mut words = Vec::with_capacity(nwords);
    let mut count = 0u32;
    for w in 0..nwords {
        let mut b = [0u8; 8];
        let from = w * 8;
        let to = (from + 8).min(bits.len());
        if let Some(src) = bits.get(from..to) {
            b[..src.len()].copy_from_slice(src);
        }
        let mut word = u64::from_le_bytes(b);
        let lo = (w * 64) as u32;
        // Slots below freeindex are allocated whatever the bits say.
        if freeindex > lo {
            let n = (freeindex - lo).min(64);
            word |= if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
        }
        let valid = (nelems - lo).min(64);
        if valid < 64 {
            word &= (1u64 << valid) - 1;
        }
        count += word.count_ones();
        words.push(word);
    }
    (words, count)
}

#[cfg(test)]
mod tests {
    use super::alloc_words;

    #[test]
    fn freeindex_and_tail_bits() {
        // 10 slots; bits 1 and 9 set, bit 12 (past nelems) set; freeindex 3.
        let bits = [0b0000_0010u8, 0b0001_0010];
        let (words, count) = alloc_words(&bits, 10, 3);
        assert_eq!(words, vec![0b10_0000_0111]);
        assert_eq!(count, 4);
        let (words, count) = alloc_words(&[], 70, 70);
        assert_eq!(count, 70);
        assert_eq!(words.len(), 2);
    }
}
