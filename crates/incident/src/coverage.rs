//! What a core holds of what its headers declare, per kind of Go memory
//! ([`Coverage`]): for a cut core (systemd-coredump's size limit,
//! `RLIMIT_CORE`, a full disk, an interrupted copy) or one whose anonymous
//! mappings `coredump_filter` left out. Every command that reads a core
//! reports it as one warning ([`Coverage::warning`]) and as the `coverage`
//! field of its JSON.
//!
//! Kinds, each byte counted once, in this order: `globals` (the
//! executable's writable data and bss), `stacks` (goroutine stacks, which
//! Go allocates inside the heap arenas, and the Ms' system and signal
//! stacks), `heap-arenas`
//! (the walked arena list, else the arena `mheap_.curArena` names),
//! `files` (other file mappings), `runtime-metadata`
//! (other anonymous memory: spans, bitmaps, arena records — what a cut
//! loses first). `span_source` says where the heap walk found its spans.
//!
//! Does not touch: reading memory (absent bytes stay absent, never zeros),
//! the heap walk, exit codes.

use mapscope_goruntime::GoProcess;
use serde::Serialize;

/// Bytes of one kind of memory: in the file / declared by the headers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KindCoverage {
    /// `globals`, `stacks`, `heap-arenas`, `files`, `runtime-metadata`.
    pub kind: &'static str,
    pub present_bytes: u64,
    pub declared_bytes: u64,
    /// Writable anonymous memory the core has a segment for but no bytes
    /// of (the kernel left it out: `coredump_filter` or `MADV_DONTDUMP`).
    pub not_dumped_bytes: u64,
}

/// What of the core's declared contents the file holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Every declared byte is in the file and no writable mapping was
    /// left out of the dump.
    pub complete: bool,
    pub file_bytes: u64,
    /// Bytes the headers declare (the furthest `p_offset + p_filesz`).
    pub declared_bytes: u64,
    /// `PT_LOAD` segments with file bytes declared.
    pub segments: usize,
    /// Segments the file ends inside of.
    pub segments_cut: usize,
    /// Segments entirely past the end of the file.
    pub segments_absent: usize,
    /// Writable anonymous segments with no file bytes at all (`p_filesz`
    /// 0): left out by `coredump_filter` (anonymous private memory when
    /// its bit 0 is clear) or `MADV_DONTDUMP`. A complete Go core has
    /// none: the kernel's default filter dumps every writable anonymous
    /// mapping, only reservations (`---p`) and unwritten file mappings
    /// are left out.
    pub segments_not_dumped: usize,
    /// Where the heap walk found its spans: `allspans`, `arena-spans`,
    /// `none`; null when the heap was not walked.
    pub span_source: Option<&'static str>,
    /// Every in-use span is known (false when mspan records are cut: the
    /// heap's objects, and so retained bytes, are then incomplete).
    pub spans_complete: bool,
    /// Heap arena ranges are the runtime's full list (not a guess from
    /// `mheap_.curArena`).
    pub heap_arenas_known: bool,
    pub kinds: Vec<KindCoverage>,
}

const KINDS: [&str; 5] = [
    "globals",
    "stacks",
    "heap-arenas",
    "files",
    "runtime-metadata",
];

impl Coverage {
    /// The coverage of `process`'s core, walking the heap (cached) and the
    /// goroutine list for the ranges of each kind.
    pub fn of(process: &GoProcess) -> Coverage {
        let mem = process.memory();
        let core = mem.core();
        let mut ranges: Vec<Vec<(u64, u64)>> = vec![Vec::new(); KINDS.len()];
        // globals: the executable's writable load segments, as mapped.
        if let (Some(exe), Some(p)) = (mem.executable(), mem.placement()) {
            for ph in exe.load_segments().filter(|ph| ph.flags & 2 != 0) {
                let start = p.runtime_address(ph.vaddr);
                ranges[0].push((start, start.saturating_add(ph.memsz)));
            }
        }
        let (arenas, arenas_known) = process.heap_extent();
        ranges[2] = arenas;
        // Every g's stack and each M's system (g0) and signal stacks.
        ranges[1] = process.goroutine_stack_ranges();
        ranges[3] = core
            .file_mappings()
            .iter()
            .map(|m| (m.start, m.end))
            .collect();
        for r in ranges.iter_mut() {
            normalize(r);
        }
        let mut kinds: Vec<KindCoverage> = KINDS
            .iter()
            .map(|k| KindCoverage {
                kind: k,
                present_bytes: 0,
                declared_bytes: 0,
                not_dumped_bytes: 0,
            })
            .collect();
        let (mut segments, mut cut, mut absent, mut not_dumped) = (0, 0, 0, 0);
        for s in core.segments() {
            let declared = s.filesz.min(s.memsz);
            if declared == 0 {
                // Writable file mappings never written are not dumped by
                // default (`coredump_filter` bit 2); anonymous memory is.
                let anonymous = !core.file_mappings().iter().any(|m| m.contains(s.vaddr));
                if s.perms().write && s.memsz > 0 && anonymous {
                    not_dumped += 1;
                    let mut rest = vec![(s.vaddr, s.end())];
                    for (k, kind_ranges) in ranges.iter().enumerate().take(KINDS.len() - 1) {
                        let (taken, left) = split(&rest, kind_ranges);
                        kinds[k].not_dumped_bytes =
                            taken.iter().fold(kinds[k].not_dumped_bytes, |n, (a, b)| {
                                n.saturating_add(b - a)
                            });
                        rest = left;
                    }
                    if let Some(last) = kinds.last_mut() {
                        last.not_dumped_bytes = rest
                            .iter()
                            .fold(last.not_dumped_bytes, |n, (a, b)| n.saturating_add(b - a));
                    }
                }
                continue;
            }
            segments += 1;
            if s.truncated {
                if s.present == 0 {
                    absent += 1;
                } else {
                    cut += 1;
                }
            }
            let whole = (s.vaddr, s.vaddr.saturating_add(declared));
            let present_end = s.vaddr.saturating_add(s.present.min(declared));
            // Each byte to the first kind whose ranges hold it; the rest
            // is runtime metadata.
            let mut rest = vec![whole];
            for (k, kind_ranges) in ranges.iter().enumerate().take(KINDS.len() - 1) {
                let (taken, left) = split(&rest, kind_ranges);
                add(&mut kinds[k], &taken, present_end);
                rest = left;
            }
            if let Some(last) = kinds.last_mut() {
                add(last, &rest, present_end);
            }
        }
        let heap = process.heap().ok();
        let span_source = heap.map(|h| h.span_source().as_str());
        let spans_complete = heap.is_some_and(|h| h.spans_complete());
        Coverage {
            complete: core.is_complete() && not_dumped == 0,
            file_bytes: core.file_size(),
            declared_bytes: core.declared_size(),
            segments,
            segments_cut: cut,
            segments_absent: absent,
            segments_not_dumped: not_dumped,
            span_source,
            spans_complete,
            heap_arenas_known: arenas_known,
            kinds,
        }
    }

    /// Bytes the file lacks.
    pub fn missing_bytes(&self) -> u64 {
        self.declared_bytes.saturating_sub(self.file_bytes)
    }

    /// The warning of a partial core (`None` when complete): its text
    /// ([`crate::Warning::PartialCore`]) gives the sizes, each kind
    /// present/declared, and the span source.
    pub fn warning(&self) -> Option<crate::Warning> {
        (!self.complete).then(|| crate::Warning::PartialCore(Box::new(self.clone())))
    }
}

/// `[start, end)`.
type Range = (u64, u64);

/// Sorts and merges ranges, dropping empty ones.
fn normalize(r: &mut Vec<(u64, u64)>) {
    r.retain(|(a, b)| a < b);
    r.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(r.len());
    for &(a, b) in r.iter() {
        match out.last_mut() {
            Some(last) if last.1 >= a => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *r = out;
}

/// Splits `pieces` into the parts inside `ranges` (sorted, merged) and
/// the parts outside.
fn split(pieces: &[Range], ranges: &[Range]) -> (Vec<Range>, Vec<Range>) {
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for &(a, b) in pieces {
        let mut at = a;
        let first = ranges.partition_point(|r| r.1 <= a);
        for &(ra, rb) in ranges.get(first..).unwrap_or(&[]) {
            if ra >= b {
                break;
            }
            if ra > at {
                outside.push((at, ra));
            }
            let lo = ra.max(at);
            let hi = rb.min(b);
            if hi > lo {
                inside.push((lo, hi));
            }
            at = at.max(hi);
        }
        if at < b {
            outside.push((at, b));
        }
    }
    (inside, outside)
}

/// Adds `pieces` to `k`: declared all, present below `present_end`.
fn add(k: &mut KindCoverage, pieces: &[(u64, u64)], present_end: u64) {
    for &(a, b) in pieces {
        k.declared_bytes = k.declared_bytes.saturating_add(b - a);
        k.present_bytes = k
            .present_bytes
            .saturating_add(b.min(present_end).saturating_sub(a));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_add_count_each_byte_once() {
        let (inside, outside) = split(&[(0, 100)], &[(10, 20), (50, 200)]);
        assert_eq!(inside, vec![(10, 20), (50, 100)]);
        assert_eq!(outside, vec![(0, 10), (20, 50)]);
        let mut k = KindCoverage {
            kind: "x",
            present_bytes: 0,
            declared_bytes: 0,
            not_dumped_bytes: 0,
        };
        add(&mut k, &inside, 60);
        assert_eq!((k.present_bytes, k.declared_bytes), (20, 60));
        let mut r = vec![(5, 9), (0, 3), (2, 4), (7, 7)];
        normalize(&mut r);
        assert_eq!(r, vec![(0, 4), (5, 9)]);
    }
}
