//! The root set for retained bytes, found the way Go's garbage collector
//! finds it: the pointer words of the data and bss segments (the runtime's
//! `gcdatamask`/`gcbssmask`), and every live goroutine's stack scanned with
//! the compiler's stack maps — live pointer slots per frame, plus the stack
//! objects a live stack pointer reaches (`runtime.scanstack`).
//!
//! Frames without a usable stack map (the innermost frame of a thread
//! stopped between calls, frames around an async preemption, functions
//! without maps, the unwalked rest of a stack) are scanned conservatively,
//! as the runtime itself does for async-preempted frames; how many is
//! reported. Objects with finalizers are roots too (their specials), as
//! the runtime's `markrootSpans` makes them.
//!
//! Owns: turning goroutines and pointer maps into graph root ids. Must not
//! touch: graph construction (discover.rs) or the heap walk.

use std::collections::HashSet;

use mapscope_goruntime::dwarf::TypeId;
use mapscope_goruntime::goroutines::{FrameRoots, Goroutines};
use mapscope_goruntime::heap::{Heap, SpecialKind};
use mapscope_goruntime::GoProcess;

use crate::graph::ObjectGraph;
use crate::pointers::PointerMaps;

/// Bound on stack objects scanned per goroutine.
const MAX_STACK_OBJECTS: usize = 1 << 16;

/// What [`collect`] found.
#[derive(Debug, Default)]
pub struct RootSet {
    /// Graph ids of the heap objects the roots point at (sorted, unique).
    pub ids: Vec<u32>,
    /// Frames scanned precisely with stack maps.
    pub precise_frames: usize,
    /// Frames scanned conservatively (see [`RootSet::fallbacks`]).
    pub conservative_frames: usize,
    /// Goroutine stacks (or their unwalked rest) scanned conservatively.
    pub conservative_stacks: usize,
    /// Why frames fell back, with counts.
    pub fallbacks: Vec<(String, usize)>,
    /// Objects with finalizers whose contents were made roots.
    pub finalizers: usize,
    /// Whether the globals were scanned with the runtime's pointer masks.
    pub precise_globals: bool,
    pub warnings: Vec<String>,
}

/// Computes the roots: globals and goroutine stacks (see the module doc).
pub fn collect(
    process: &GoProcess,
    graph: &ObjectGraph,
    pointers: &PointerMaps,
    goroutines: Option<&Goroutines>,
) -> RootSet {
    let mut set = RootSet::default();
    let mut ids: Vec<u32> = match pointers.global_words() {
        Some(words) => {
            set.precise_globals = true;
            let mem = process.memory();
            let values: Vec<u64> = words.iter().filter_map(|&a| mem.read_u64(a).ok()).collect();
            graph.ids_of_values(&values)
        }
        None => {
            let ranges: Vec<(u64, u64)> = process
                .dwarf()
                .map(|d| {
                    d.globals()
                        .all()
                        .iter()
                        .filter(|g| g.size > 0 && g.size < (1 << 30))
                        .map(|g| (g.address, g.end()))
                        .collect()
                })
                .unwrap_or_default();
            graph.scan_ranges(process, &ranges)
        }
    };
    let mem = process.memory();
    let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
    if let Some(gs) = goroutines {
        for g in &gs.goroutines {
            let Some((lo, hi)) = g.stack_range() else {
                continue;
            };
            let mut values: Vec<u64> = Vec::new();
            let mut conservative: Vec<(u64, u64)> = Vec::new();
            let mut objects = Vec::new();
            for f in &g.frames {
                match &f.roots {
                    FrameRoots::Precise(p) => {
                        set.precise_frames += 1;
                        values.extend(p.words.iter().filter_map(|&a| mem.read_u64(a).ok()));
                        objects.extend(p.objects.iter());
                    }
                    FrameRoots::Conservative { reason, ranges } => {
                        set.conservative_frames += 1;
                        let key = reason.split(": ").nth(1).unwrap_or(reason).to_string();
                        *reasons.entry(key).or_default() += 1;
                        conservative.extend(ranges.iter().copied());
                    }
                }
            }
            // The part of the stack the walk did not reach.
            let walked_to = g.frames.last().map(|f| f.cfa);
            match walked_to {
                None => {
                    // Not walked: from the saved SP when it is on the
                    // stack (below it is dead), else the whole stack.
                    set.conservative_stacks += 1;
                    let from = if (lo..hi).contains(&g.sched_sp) {
                        g.sched_sp
                    } else {
                        lo
                    };
                    conservative.push((from, hi));
                }
                Some(top) if g.incomplete.is_some() && top < hi => {
                    set.conservative_stacks += 1;
                    conservative.push((top.max(lo), hi));
                }
                _ => {}
            }
            for &(a, b) in &conservative {
                let (a, b) = (a.max(lo), b.min(hi));
                values.extend(words_of(process, a, b));
            }
            // Stack objects reached from live stack pointers, transitively.
            objects.sort_by_key(|o| o.address);
            let mut scanned: HashSet<u64> = HashSet::new();
            let mut work: Vec<u64> = values
                .iter()
                .copied()
                .filter(|v| (lo..hi).contains(v))
                .collect();
            let mut heap_values = values;
            while let Some(p) = work.pop() {
                if scanned.len() >= MAX_STACK_OBJECTS {
                    break;
                }
                let i = objects.partition_point(|o| o.address <= p);
                let Some(o) = i.checked_sub(1).and_then(|i| objects.get(i)) else {
                    continue;
                };
                if p >= o.address.saturating_add(o.size) || !scanned.insert(o.address) {
                    continue;
                }
                let found: Vec<u64> = match &o.pointer_words {
                    Some(words) => words.iter().filter_map(|&a| mem.read_u64(a).ok()).collect(),
                    None => words_of(process, o.address, o.address.saturating_add(o.ptr_bytes)),
                };
                work.extend(found.iter().copied().filter(|v| (lo..hi).contains(v)));
                heap_values.extend(found);
            }
            ids.extend(graph.ids_of_values(&heap_values));
        }
    }
    // Finalizers: what a finalized object points to, and the finalizer's
    // closure, stay alive (runtime markrootSpans); the object itself does
    // not.
    if let Ok(heap) = process.heap() {
        let mut values = Vec::new();
        let fn_off = process
            .dwarf()
            .and_then(|d| d.types().field_offset("runtime.specialfinalizer", "fn"));
        for sp in heap
            .specials()
            .iter()
            .filter(|s| s.kind == SpecialKind::Finalizer)
        {
            if let Some(v) = fn_off.and_then(|o| mem.read_u64(sp.record.checked_add(o)?).ok()) {
                values.push(v);
            }
            let Some(obj) = heap.object_at(sp.object) else {
                continue;
            };
            let Some(span) = heap.spans().get(obj.span as usize) else {
                continue;
            };
            let precise = pointers.scan_object(mem, span, obj.address, |v| values.push(v));
            if !precise && !span.noscan {
                values.extend(words_of(process, obj.address, obj.end()));
            }
            set.finalizers += 1;
        }
        ids.extend(graph.ids_of_values(&values));
    }
    set.fallbacks = reasons.into_iter().collect();
    if set.conservative_frames > 0 || set.conservative_stacks > 0 {
        let why: Vec<String> = set
            .fallbacks
            .iter()
            .map(|(r, n)| format!("{n}× {r}"))
            .collect();
        set.warnings.push(format!(
            "stack roots: {} frames precise (stack maps), {} frames and {} stack remainders conservative ({})",
            set.precise_frames,
            set.conservative_frames,
            set.conservative_stacks,
            why.join("; ")
        ));
    }
    ids.sort_unstable();
    ids.dedup();
    set.ids = ids;
    set
}

/// The aligned words of `[lo, hi)` (unreadable words skipped).
fn words_of(process: &GoProcess, lo: u64, hi: u64) -> Vec<u64> {
    let mem = process.memory();
    let mut out = Vec::new();
    let mut a = lo.saturating_add(7) & !7;
    // Stacks are at most 1 GiB in Go.
    let hi = hi.min(a.saturating_add(1 << 30));
    while a < hi {
        if let Ok(v) = mem.read_u64(a) {
            out.push(v);
        }
        let Some(next) = a.checked_add(8) else { break };
        a = next;
    }
    out
}

/// Objects with a finalizer and the static type `SetFinalizer` saw (the
/// element of the special's `ot` pointer type): `(object, DWARF type,
/// "*T")`. Objects whose type DWARF does not describe are left out.
pub fn finalizer_objects(process: &GoProcess, heap: &Heap) -> Vec<(u64, TypeId, String)> {
    let Some(dwarf) = process.dwarf() else {
        return Vec::new();
    };
    let types = dwarf.types();
    let (Some(ot_off), Some(elem_off)) = (
        types.field_offset("runtime.specialfinalizer", "ot"),
        types.field_offset("internal/abi.PtrType", "Elem"),
    ) else {
        return Vec::new();
    };
    let mem = process.memory();
    let bias = process.load_bias();
    let mut out = Vec::new();
    for sp in heap
        .specials()
        .iter()
        .filter(|s| s.kind == SpecialKind::Finalizer)
    {
        let elem = sp
            .record
            .checked_add(ot_off)
            .and_then(|a| mem.read_u64(a).ok())
            .filter(|&ot| ot != 0)
            .and_then(|ot| mem.read_u64(ot.checked_add(elem_off)?).ok());
        let Some(ty) = elem.and_then(|e| dwarf.type_by_runtime_address(e.wrapping_sub(bias)))
        else {
            continue;
        };
        let name = format!("*{}", types.get(ty).name);
        out.push((sp.object, ty, name));
    }
    out
}
