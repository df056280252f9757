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
//! Besides the union of root ids, [`RootSet`] keeps a per-root view
//! ([`NamedRoot`]): each global variable (named from DWARF by the address
//! of its pointer slots), each goroutine (`goroutine N` and its innermost
//! function outside the runtime) and the finalizers of one type, each with
//! the graph ids it points at — what the per-root retained bytes
//! ([`crate::dominators::retention`]) start from.
//!
//! Data/bss pointer words no DWARF global covers: with the program's
//! DWARF they are one root, [`UNNAMED_GLOBALS`] (linker and runtime
//! internals). Without it (`-ldflags=-w`, `-s -w`: only the layout table's
//! runtime globals are typed) they are the program's globals, one root
//! per covering ELF data/bss symbol ([`GlobalSymbols`]: `main.sessionsByID`)
//! and, where no symbol covers a word (`-s` removes the table), one root
//! per pointer word named by its link address (`global 0x66d918`): without
//! symbols a variable's extent is unknown, and adjacent pointer globals
//! must not merge into one root.
//!
//! Owns: turning goroutines and pointer maps into graph root ids, named
//! per root, the names of globals without DWARF ([`GlobalSymbols`]), and
//! the root vocabulary ([`RootKind`], [`RootOrigin`]) the map layer's
//! paths start from. Must not touch: graph construction
//! ([`crate::graph`]) or the heap walk.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use mapscope_goruntime::dwarf::TypeId;
use mapscope_goruntime::goroutines::{FrameRoots, Goroutines};
use mapscope_goruntime::heap::{Heap, SpecialKind};
use mapscope_goruntime::layout::funcs::is_runtime_function;
use mapscope_goruntime::layout::FinalizerLayout;
use mapscope_goruntime::symbols::SymbolClass;
use mapscope_goruntime::GoProcess;
use serde::Serialize;

use crate::graph::ObjectGraph;
use crate::pointers::PointerMaps;

/// Where the path to a map starts, as the contract's `root_kind` says it
/// (`docs/cli.md`): `heap` is a global's path that goes through a heap
/// pointer. The typed start of the path is [`RootOrigin`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RootKind {
    Global,
    Heap,
    Goroutine,
    /// Reached from an object with a finalizer (the runtime keeps what a
    /// finalized object points to alive).
    Finalizer,
    #[default]
    Unknown,
}

impl RootKind {
    /// The JSON spelling (`global`, `heap`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RootKind::Global => "global",
            RootKind::Heap => "heap",
            RootKind::Goroutine => "goroutine",
            RootKind::Finalizer => "finalizer",
            RootKind::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for RootKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for RootKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for RootKind {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// The root a map's path starts at, typed: what `root` names in its
/// first words, never parsed back from it. JSON: `root_origin`, an object
/// tagged by `kind`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum RootOrigin {
    /// A global variable (`main.registry`).
    Global {
        #[serde(serialize_with = "arc_str")]
        variable: Arc<str>,
    },
    /// A goroutine: by a local of one of its frames (the typed walk:
    /// `function` is that frame's), or by its stack as a whole (an object
    /// path: `function` is its first non-runtime frame's, possibly empty).
    Goroutine {
        goroutine: u64,
        #[serde(serialize_with = "arc_str")]
        function: Arc<str>,
    },
    /// The objects with a finalizer of one type (`*os.File`).
    Finalizer {
        #[serde(serialize_with = "arc_str")]
        object_type: Arc<str>,
    },
    /// No root is known (`root` is `(unknown)`).
    #[default]
    Unknown,
}

fn arc_str<S: serde::Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

/// Bound on stack objects scanned per goroutine.
const MAX_STACK_OBJECTS: usize = 1 << 16;

/// Name of the root holding data/bss pointer words no DWARF global covers.
pub const UNNAMED_GLOBALS: &str = "(data/bss without DWARF name)";

/// One root of the per-root view: a global variable, a goroutine's stack,
/// or the finalizers of one type; its targets are
/// [`RootSet::targets_of`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedRoot {
    /// `main.registry`, `goroutine 7 main.worker`, `finalizer(*os.File)`.
    pub name: String,
    pub kind: RootKind,
    /// The global's DWARF type, the finalized objects' `*T`; empty for a
    /// goroutine.
    pub type_name: String,
    /// The root typed (a goroutine's id and function are not parsed back
    /// from `name`).
    pub origin: RootOrigin,
    /// Range of this root's ids in the set's flat target list.
    start: u32,
    end: u32,
}

/// What [`collect`] found.
#[derive(Debug, Default)]
pub struct RootSet {
    /// Graph ids of the heap objects the roots point at (sorted, unique):
    /// the union of every named root's targets.
    pub ids: Vec<u32>,
    /// The roots one by one (globals, goroutines, finalizers by type);
    /// only roots that point at a heap object are kept.
    pub named: Vec<NamedRoot>,
    /// Targets of all named roots, each root's sorted and unique, one
    /// after the other ([`NamedRoot`]'s range).
    targets: Vec<u32>,
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

impl RootSet {
    /// The graph ids root `i` of [`RootSet::named`] points at (sorted,
    /// unique; empty for an unknown index).
    pub fn targets_of(&self, i: usize) -> &[u32] {
        self.named
            .get(i)
            .and_then(|r| self.targets.get(r.start as usize..r.end as usize))
            .unwrap_or(&[])
    }

    /// Every named root's targets, in the order of [`RootSet::named`].
    pub fn target_lists(&self) -> Vec<&[u32]> {
        (0..self.named.len()).map(|i| self.targets_of(i)).collect()
    }

    /// Adds a named root pointing at `ids` (sorted, unique); a root
    /// pointing at no heap object is left out.
    fn push(&mut self, name: String, kind: RootKind, type_name: String, ids: &[u32]) {
        let origin = match kind {
            RootKind::Global | RootKind::Heap => RootOrigin::Global {
                variable: name.as_str().into(),
            },
            RootKind::Finalizer => RootOrigin::Finalizer {
                object_type: type_name.as_str().into(),
            },
            RootKind::Goroutine | RootKind::Unknown => RootOrigin::Unknown,
        };
        self.push_origin(name, kind, type_name, ids, origin);
    }

    fn push_origin(
        &mut self,
        name: String,
        kind: RootKind,
        type_name: String,
        ids: &[u32],
        origin: RootOrigin,
    ) {
        if ids.is_empty() {
            return;
        }
        let (Ok(start), Ok(end)) = (
            u32::try_from(self.targets.len()),
            u32::try_from(self.targets.len() + ids.len()),
        ) else {
            return;
        };
        self.targets.extend_from_slice(ids);
        self.named.push(NamedRoot {
            name,
            kind,
            type_name,
            origin,
            start,
            end,
        });
    }
}

/// Index in `globals` (sorted by address) of the global whose bytes hold
/// `address` (as [`mapscope_goruntime::dwarf::Globals::containing`]).
fn global_index(globals: &[mapscope_goruntime::dwarf::Global], address: u64) -> Option<usize> {
    let after = globals.partition_point(|g| g.address <= address);
    (after.saturating_sub(8)..after)
        .rev()
        .find(|&i| globals.get(i).is_some_and(|g| address < g.end()))
}

/// What holds a data/bss pointer word in the per-root view.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holder {
    /// A DWARF (or layout-table stand-in) global, by index.
    Dwarf(usize),
    /// A data/bss symbol of [`GlobalSymbols`], by index (no DWARF).
    Symbol(usize),
    /// No symbol covers the word: named by its link address (no DWARF).
    Word(u64),
}

/// One data or bss symbol of [`GlobalSymbols`] (link addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalSymbol<'p> {
    pub address: u64,
    pub size: u64,
    pub name: &'p str,
}

/// Data and bss symbols with a size, by address (section markers such as
/// `runtime.bss` have none and name no variable): what names the globals
/// of an executable without DWARF (`-ldflags=-w` keeps the symbol table;
/// with `-s` there is none and globals are named by address).
pub struct GlobalSymbols<'p> {
    bias: u64,
    symbols: Vec<GlobalSymbol<'p>>,
}

impl<'p> GlobalSymbols<'p> {
    pub fn new(process: &'p GoProcess) -> GlobalSymbols<'p> {
        let mut symbols: Vec<GlobalSymbol<'p>> = process
            .symbols()
            .iter()
            .filter(|s| matches!(s.class, SymbolClass::Data | SymbolClass::Bss) && s.size > 0)
            .map(|s| GlobalSymbol {
                address: s.address,
                size: s.size,
                name: s.name,
            })
            .collect();
        symbols
            .sort_unstable_by(|a, b| (a.address, a.size, a.name).cmp(&(b.address, b.size, b.name)));
        GlobalSymbols {
            bias: process.load_bias(),
            symbols,
        }
    }

    /// Whether the executable has no sized data/bss symbol (`-s`).
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// The symbols by address.
    pub fn iter(&self) -> impl Iterator<Item = GlobalSymbol<'p>> + '_ {
        self.symbols.iter().copied()
    }

    /// The symbol at `index` (of [`GlobalSymbols::index_of`]).
    pub fn get(&self, index: usize) -> Option<GlobalSymbol<'p>> {
        self.symbols.get(index).copied()
    }

    /// Index of the symbol whose bytes hold the link address `link`.
    pub fn index_of(&self, link: u64) -> Option<usize> {
        let i = self.symbols.partition_point(|s| s.address <= link);
        i.checked_sub(1).filter(|&i| {
            self.symbols
                .get(i)
                .is_some_and(|s| link - s.address < s.size)
        })
    }

    /// The symbol covering the pointer word at `word` (a runtime address).
    pub fn covering(&self, word: u64) -> Option<GlobalSymbol<'p>> {
        self.index_of(word.wrapping_sub(self.bias))
            .and_then(|i| self.get(i))
    }

    /// The name of the global holding the pointer word at `word` (a
    /// runtime address): the covering symbol (`+0x10` when the word is
    /// not its first), else `global 0x…` (link address).
    pub fn name(&self, word: u64) -> String {
        let link = word.wrapping_sub(self.bias);
        match self.covering(word) {
            Some(s) if s.address == link => s.name.to_string(),
            Some(s) => format!("{}+{:#x}", s.name, link - s.address),
            None => format!("global {link:#x}"),
        }
    }
}

/// What a goroutine is named by in the per-root view: `goroutine N` and
/// its innermost function outside the runtime (else its innermost
/// function, else the function that started it).
fn goroutine_name(g: &mapscope_goruntime::goroutines::Goroutine) -> (String, RootOrigin) {
    let func = g
        .frames
        .iter()
        .map(|f| f.function.as_str())
        .find(|f| !is_runtime_function(f))
        .or_else(|| g.frames.first().map(|f| f.function.as_str()))
        .or_else(|| g.created_by.as_ref().map(|c| c.function.as_str()));
    let name = match func {
        Some(f) if !f.is_empty() => format!("goroutine {} {f}", g.id),
        _ => format!("goroutine {}", g.id),
    };
    let origin = RootOrigin::Goroutine {
        goroutine: g.id,
        function: func.unwrap_or("").into(),
    };
    (name, origin)
}

/// Computes the roots: globals and goroutine stacks (see the module doc).
pub fn collect(
    process: &GoProcess,
    graph: &ObjectGraph,
    pointers: &PointerMaps,
    goroutines: Option<&Goroutines>,
) -> RootSet {
    let mut set = RootSet::default();
    let dwarf = process.dwarf();
    let bias = process.load_bias();
    let global_type = |g: &mapscope_goruntime::dwarf::Global| {
        dwarf.map_or(String::new(), |d| d.types().get(g.ty).name.clone())
    };
    match pointers.global_words() {
        Some(words) => {
            set.precise_globals = true;
            let mem = process.memory();
            let globals = dwarf.map(|d| d.globals().all()).unwrap_or(&[]);
            // Without the program's DWARF the words no (stand-in) global
            // covers are named by symbol or address, one root each; with
            // it they stay one unnamed root.
            let symbols = dwarf
                .is_none_or(|d| !d.has_program_types())
                .then(|| GlobalSymbols::new(process));
            // Pointer words grouped by the global holding them (words are
            // sorted, so each global's words are consecutive).
            let mut current: Option<(Holder, Vec<u64>)> = None;
            let mut unnamed: Vec<u64> = Vec::new();
            let flush = |set: &mut RootSet, cur: Option<(Holder, Vec<u64>)>| {
                let Some((holder, values)) = cur else { return };
                let (name, type_name) = match holder {
                    Holder::Dwarf(gi) => match globals.get(gi) {
                        Some(g) => (g.name.clone(), global_type(g)),
                        None => return,
                    },
                    Holder::Symbol(i) => match symbols.as_ref().and_then(|s| s.get(i)) {
                        Some(s) => (s.name.to_string(), String::new()),
                        None => return,
                    },
                    Holder::Word(link) => (format!("global {link:#x}"), String::new()),
                };
                let ids = graph.ids_of_values(&values);
                set.push(name, RootKind::Global, type_name, &ids);
            };
            for &a in words {
                let Ok(v) = mem.read_u64(a) else { continue };
                let link = a.wrapping_sub(bias);
                let holder = match (global_index(globals, link), &symbols) {
                    (Some(gi), _) => Holder::Dwarf(gi),
                    (None, Some(s)) => s.index_of(link).map_or(Holder::Word(link), Holder::Symbol),
                    (None, None) => {
                        unnamed.push(v);
                        continue;
                    }
                };
                match &mut current {
                    Some((cur, values)) if *cur == holder => values.push(v),
                    _ => {
                        let prev = current.replace((holder, vec![v]));
                        flush(&mut set, prev);
                    }
                }
            }
            flush(&mut set, current.take());
            let ids = graph.ids_of_values(&unnamed);
            set.push(
                UNNAMED_GLOBALS.to_string(),
                RootKind::Global,
                String::new(),
                &ids,
            );
        }
        None => {
            for g in dwarf
                .map(|d| d.globals().all())
                .unwrap_or(&[])
                .iter()
                .filter(|g| g.size > 0 && g.size < (1 << 30))
            {
                let lo = g.address.wrapping_add(bias);
                let ids = graph.scan_ranges(process, &[(lo, lo.saturating_add(g.size))]);
                set.push(g.name.clone(), RootKind::Global, global_type(g), &ids);
            }
        }
    }
    let mem = process.memory();
    let mut reasons: BTreeMap<String, usize> = Default::default();
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
            let ids = graph.ids_of_values(&heap_values);
            let (name, origin) = goroutine_name(g);
            set.push_origin(name, RootKind::Goroutine, String::new(), &ids, origin);
        }
    }
    // Finalizers: what a finalized object points to, and the finalizer's
    // closure, stay alive (runtime markrootSpans); the object itself does
    // not.
    if let Ok(heap) = process.heap() {
        // One root per finalized type (`finalizer(*os.File)`).
        let names: HashMap<u64, String> = finalizer_objects(process, heap)
            .into_iter()
            .map(|(object, _, name)| (object, name))
            .collect();
        let mut by_type: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let fn_off = process
            .dwarf()
            .and_then(|d| FinalizerLayout::resolve(d.types()).func);
        for sp in heap
            .specials()
            .iter()
            .filter(|s| s.kind == SpecialKind::Finalizer)
        {
            let ty = names.get(&sp.object).map_or("?", |n| n.as_str());
            let values = by_type.entry(ty.to_string()).or_default();
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
        for (ty, values) in by_type {
            let ids = graph.ids_of_values(&values);
            set.push(format!("finalizer({ty})"), RootKind::Finalizer, ty, &ids);
        }
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
    let mut ids = set.targets.clone();
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
    let finalizer = FinalizerLayout::resolve(types);
    let (Some(ot_off), Some(elem_off)) = (finalizer.ot, finalizer.ptr_elem) else {
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
