//! Map storage no typed root path reaches (issue #6, Build 5): bucket and
//! group arrays the heap walk names by their runtime type (malloc header or
//! `mspan.largeType`: `map.bucket[K]V`, `noalg.map.group[K]V`) that belong
//! to no map found from the roots — maps held only through an
//! `unsafe.Pointer`, a `uintptr`, an interface or a runtime structure, and
//! storage nothing holds any more.
//!
//! Each such storage object is split by reachability from the GC's root
//! set ([`crate::roots`], over the object graph's shortest paths,
//! [`ObjectGraph::shortest_paths`]):
//!
//! - **Reachable**: listed as a map named by its shortest object path from
//!   a root (`main.opaqueIndex (unsafe.Pointer) → map`, `goroutine 7
//!   main.worker → main.Job → map`); the root end is the global variable,
//!   goroutine or finalizer whose pointer slot starts the path (the named
//!   roots of [`RootSet::named`]).
//! - **Unreachable**: garbage awaiting collection, summed in one
//!   [`Garbage`] line, never listed as a map (nor in findings). It is split
//!   by what can be proved from the heap: a *dropped map* when a map header
//!   (itself unreachable) still points at the storage; *old storage left
//!   by growth* when no map header points at it and a map of the same type
//!   is in the core (live, or a dropped one) — a map header always points
//!   at its current storage (and at the old one while it grows), so an
//!   array no header points at is one a map let go of: a classic bucket
//!   array after evacuation, a Swiss table's groups after the table grew or
//!   split. *Other* is the rest (no header, no map of its type: e.g. a map
//!   whose header was a stack object of a finished call). Only storage the
//!   heap types is counted; [`Garbage::heap_unreachable`] is every
//!   unreachable object.
//!
//! Headers are searched among the objects pointing (transitively, a few
//! levels: a Swiss group array ← table ← directory ← map) at the storage,
//! and kept only when decoding that candidate as `map[K]V` claims the
//! storage; with no header, the storage itself is listed.
//!
//! Type names are DWARF's (`map[string]*cmd/compile/internal/types.Sym`,
//! as the typed walk spells them): a runtime storage name
//! (`map.bucket[string]*types.Sym`) is looked up among DWARF's map types
//! by its package-name spelling, and kept as the runtime spells it only
//! when DWARF has no such map type or several (two packages named
//! `types`).
//!
//! Limits: pointer-free storage (`map[int]int`) and arrays of 512 bytes or
//! less carry no type in the heap, so they cannot be found this way.
//!
//! Owns: finding those maps, naming their paths (and any heap object's:
//! [`name_objects`], for the dominator tree's top-level retainers), and
//! the garbage summary.
//! Must not touch: the typed root walk (walker.rs), the graph's algorithms
//! (graph.rs) or the root set (roots.rs).

use std::collections::{HashMap, HashSet};

use mapscope_goruntime::dwarf::{DwarfInfo, TypeId};
use mapscope_goruntime::heap::{Heap, HeapObject};
use mapscope_goruntime::timing::Phase;
use mapscope_goruntime::GoProcess;
use rayon::prelude::*;
use serde::Serialize;

use crate::discover::{key_value, FoundMap, Place, RootKind, RootVia};
use crate::graph::{ObjectGraph, UNREACHED};
use crate::layout::map_type_of_storage;
use crate::roots::{NamedRoot, RootSet};
use crate::{MapDecoder, MapInstance, MapLayout, MapTarget};

/// How many levels of pointers above the storage a header is looked for.
const MAX_HEADER_DEPTH: usize = 3;
/// Candidates tried per level (a storage array has one or two owners).
const MAX_CANDIDATES: usize = 64;
/// Root path printed for these maps.
pub const UNKNOWN_ROOT: &str = "(unknown)";

/// A type name as the runtime spells it: package import paths cut to the
/// package name (`map[string]*encoding/json.field` →
/// `map[string]*json.field`).
fn runtime_spelling(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut segment = String::new();
    let flush = |segment: &mut String, out: &mut String| {
        match segment.rfind('/') {
            Some(i) => out.push_str(segment.get(i + 1..).unwrap_or("")),
            None => out.push_str(segment),
        }
        segment.clear();
    };
    for c in name.chars() {
        if "[]*(),{}<> ;".contains(c) {
            flush(&mut segment, &mut out);
            out.push(c);
        } else {
            segment.push(c);
        }
    }
    flush(&mut segment, &mut out);
    out
}

/// Heap objects already claimed by a map, one bit per graph id (millions
/// of storage objects on a large heap: no hash set).
pub(crate) struct Claimed(Vec<u64>);

impl Claimed {
    /// The objects of every found map, family member and nested map of
    /// the lists `maps`.
    pub(crate) fn of(graph: &ObjectGraph, maps: &[&[FoundMap]]) -> Claimed {
        fn lists<'m>(maps: &'m [FoundMap], out: &mut Vec<&'m [u64]>) {
            for m in maps {
                out.push(&m.owned);
                lists(&m.children, out);
            }
        }
        // One list per map and member: a family of a million members is
        // spread over the threads too.
        let mut owned: Vec<&[u64]> = Vec::new();
        for list in maps {
            lists(list, &mut owned);
        }
        let ids: Vec<u32> = owned
            .par_iter()
            .with_min_len(64)
            .flat_map_iter(|l| l.iter().filter_map(|&a| graph.id_of_address(a)))
            .collect();
        let mut set = Claimed(vec![0; graph.len().div_ceil(64)]);
        for id in ids {
            set.insert_id(id);
        }
        set
    }

    fn insert_id(&mut self, id: u32) {
        if let Some(w) = self.0.get_mut(id as usize / 64) {
            *w |= 1 << (id % 64);
        }
    }

    pub(crate) fn insert(&mut self, graph: &ObjectGraph, address: u64) {
        if let Some(id) = graph.id_of_address(address) {
            self.insert_id(id);
        }
    }

    pub(crate) fn contains(&self, graph: &ObjectGraph, address: u64) -> bool {
        graph.id_of_address(address).is_some_and(|id| {
            self.0
                .get(id as usize / 64)
                .is_some_and(|w| w >> (id % 64) & 1 == 1)
        })
    }
}

pub(crate) fn bases(heap: &Heap, inst: &MapInstance, out: &mut Vec<u64>) {
    out.extend(inst.objects.iter().map(|o| o.base));
    if let Some(o) = heap.object_at(inst.address) {
        out.push(o.address);
    }
    for i in &inst.inner {
        bases(heap, i, out);
    }
}

/// Bytes and objects of one part of [`Garbage`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GarbagePart {
    pub objects: u64,
    pub bytes: u64,
}

impl GarbagePart {
    fn add(&mut self, bytes: u64) {
        self.objects += 1;
        self.bytes = self.bytes.saturating_add(bytes);
    }
}

/// Map storage no root reaches: garbage the next GC cycle frees, reported
/// as one line instead of as maps (see the module doc for the parts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Garbage {
    /// Map storage objects (and dropped maps' headers and overflow
    /// buckets) no root reaches: the sum of the three parts below.
    pub objects: u64,
    pub bytes: u64,
    /// Storage no map header points at, of a type a map in the core
    /// (live or dropped) has.
    pub left_by_growth: GarbagePart,
    /// Whole maps no root reaches: header, storage, overflow.
    pub dropped_maps: GarbagePart,
    /// How many maps `dropped_maps` holds.
    pub dropped_map_count: u64,
    /// Storage no map header points at, of a type no map in the core has.
    pub other: GarbagePart,
    /// Every heap object no root reaches, map storage or not (all the next
    /// GC frees; the heap's in-use bytes minus the live bytes).
    pub heap_unreachable: GarbagePart,
}

impl Garbage {
    /// The one line reports print, or `None` when no map storage is
    /// garbage.
    pub fn describe(&self) -> Option<String> {
        if self.objects == 0 {
            return None;
        }
        let mut parts = Vec::new();
        if self.left_by_growth.objects > 0 {
            parts.push(format!(
                "{} objects, {} B old storage left by growth",
                self.left_by_growth.objects, self.left_by_growth.bytes
            ));
        }
        if self.dropped_map_count > 0 {
            parts.push(format!(
                "{} dropped maps, {} objects, {} B",
                self.dropped_map_count, self.dropped_maps.objects, self.dropped_maps.bytes
            ));
        }
        if self.other.objects > 0 {
            parts.push(format!(
                "{} objects, {} B other storage no header points at",
                self.other.objects, self.other.bytes
            ));
        }
        Some(format!(
            "garbage awaiting collection: {} map storage objects, {} B no root reaches ({}); not listed as maps; {} B of heap unreachable in all",
            self.objects,
            self.bytes,
            parts.join("; "),
            self.heap_unreachable.bytes
        ))
    }
}

/// What [`unrooted_maps`] found.
#[derive(Default)]
pub struct Unrooted {
    /// Maps no typed root path reaches but a root does, named by path.
    pub maps: Vec<FoundMap>,
    pub garbage: Garbage,
}

/// The tiers of [`ObjectGraph::shortest_paths`] from a root set: the
/// targets of its globals, then of its goroutines, then of its finalizers
/// (the typed walk's order); its union of ids when it names no roots.
pub fn root_tiers(roots: &RootSet) -> Vec<Vec<u32>> {
    if roots.named.is_empty() {
        return vec![roots.ids.clone()];
    }
    let mut tiers: Vec<Vec<u32>> = Vec::new();
    for kinds in TIER_KINDS {
        let mut t: Vec<u32> = roots
            .named
            .iter()
            .enumerate()
            .filter(|(_, r)| kinds.contains(&r.kind))
            .flat_map(|(i, _)| roots.targets_of(i).iter().copied())
            .collect();
        t.sort_unstable();
        t.dedup();
        tiers.push(t);
    }
    tiers
}

/// Root kinds of each tier, in order.
const TIER_KINDS: [&[RootKind]; 3] = [
    &[RootKind::Global, RootKind::Heap, RootKind::Unknown],
    &[RootKind::Goroutine],
    &[RootKind::Finalizer],
];

/// Longest object path followed back to its root.
const MAX_PATH: usize = 1 << 20;
/// Objects of a path shown at each end before the middle is elided.
const PATH_HEAD: usize = 2;
const PATH_TAIL: usize = 3;

/// The object path from a root to `id` (root first), or `None` when no
/// root reaches it.
pub(crate) fn path_to(parents: &[u32], mut id: u32) -> Option<Vec<u32>> {
    let mut path = vec![id];
    for _ in 0..MAX_PATH {
        let p = *parents.get(id as usize)?;
        if p == UNREACHED {
            return None;
        }
        if p == id {
            path.reverse();
            return Some(path);
        }
        path.push(p);
        id = p;
    }
    None
}

/// Names heap objects by their type for paths: DWARF's name of the heap
/// type (`[]T` when the object holds several), else the runtime's, else
/// its size.
pub(crate) struct Labeller<'a> {
    process: &'a GoProcess,
    heap: &'a Heap,
    dwarf: &'a DwarfInfo,
    names: HashMap<u64, Option<(String, u64)>>,
}

impl<'a> Labeller<'a> {
    pub(crate) fn new(
        process: &'a GoProcess,
        heap: &'a Heap,
        dwarf: &'a DwarfInfo,
    ) -> Labeller<'a> {
        Labeller {
            process,
            heap,
            dwarf,
            names: HashMap::new(),
        }
    }

    pub(crate) fn label_id(&mut self, graph: &ObjectGraph, id: u32) -> String {
        graph
            .object(id)
            .map_or_else(|| "?".to_string(), |o| self.label(&o))
    }

    fn label(&mut self, obj: &HeapObject) -> String {
        let data = obj
            .size
            .saturating_sub(obj.data_start().saturating_sub(obj.address));
        let (process, heap, dwarf) = (self.process, self.heap, self.dwarf);
        let named = heap.object_type_address(process, obj).and_then(|t| {
            self.names
                .entry(t)
                .or_insert_with(|| {
                    let rt = heap.runtime_type(process, t)?;
                    let name = dwarf
                        .type_by_runtime_address(t.wrapping_sub(process.load_bias()))
                        .map(|id| dwarf.types().get(id).name.clone())
                        .unwrap_or(rt.name);
                    Some((name, rt.size))
                })
                .clone()
        });
        match named {
            Some((name, _)) if name.is_empty() => format!("{}-byte object", obj.size),
            Some((name, size)) if size > 0 && data >= size.saturating_mul(2) => format!("[]{name}"),
            Some((name, _)) => name,
            None => format!("{}-byte object", obj.size),
        }
    }
}

/// The maps whose storage the heap walk typed but no typed root path
/// reached: those a root reaches, named by path, and the garbage summary
/// of those none reaches. `parents` is
/// [`ObjectGraph::shortest_paths`] over [`root_tiers`] of `roots`.
pub fn unrooted_maps(
    process: &GoProcess,
    heap: &Heap,
    decoder: &MapDecoder<'_>,
    graph: &ObjectGraph,
    found: &[FoundMap],
    roots: &RootSet,
    parents: &[u32],
) -> Unrooted {
    let mut out = Unrooted::default();
    let timing = Phase::start("maps: unrooted storage: unreachable objects");
    // Every heap object no root reaches.
    // Counted span by span (the objects of a span share their size), not
    // object by object (finding an object's span from its id is a search).
    let ranges: Vec<(u32, u32, u64)> = graph.id_ranges().collect();
    let (objects, bytes) = ranges
        .par_iter()
        .with_min_len(64)
        .map(|&(first, count, size)| {
            let unreached = (first..first.saturating_add(count))
                .filter(|&id| parents.get(id as usize).is_none_or(|&p| p == UNREACHED))
                .count() as u64;
            (unreached, unreached.saturating_mul(size))
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1.saturating_add(b.1)));
    out.garbage.heap_unreachable = GarbagePart { objects, bytes };
    let reached = |a: u64| {
        graph
            .id_of_address(a)
            .and_then(|id| parents.get(id as usize))
            .is_some_and(|&p| p != UNREACHED)
    };
    drop(timing);
    let timing = Phase::start("maps: unrooted storage: claimed objects");
    let mut owned = Claimed::of(graph, &[found]);
    drop(timing);
    let Some(dwarf) = process.dwarf() else {
        return out;
    };
    let timing = Phase::start("maps: unrooted storage: typed objects");
    let typed = typed_objects(process, heap, graph, &owned, |_| true);
    // DWARF spells packages by import path (`encoding/json.field`), the
    // runtime by name (`json.field`): prefer DWARF's name of the storage
    // type for the lookup. One lookup per type.
    let mut names: HashMap<u64, Option<String>> = HashMap::new();
    let mut storage: Vec<(u64, String)> = Vec::new();
    for (object, t) in typed.into_iter().map(|(o, t)| (o.address, t)) {
        let name = names.entry(t).or_insert_with(|| {
            dwarf
                .type_by_runtime_address(t.wrapping_sub(process.load_bias()))
                .and_then(|id| map_type_of_storage(&dwarf.types().get(id).name))
                .or_else(|| {
                    heap.runtime_type(process, t)
                        .and_then(|rt| map_type_of_storage(&rt.name))
                })
        });
        if let Some(n) = name {
            storage.push((object, n.clone()));
        }
    }
    if storage.is_empty() {
        return out;
    }
    drop(timing);
    let _timing = Phase::start("maps: unrooted storage: headers");
    let tys = dwarf_map_types(dwarf, &storage);
    let headers = find_headers(heap, decoder, graph, &tys, &storage);
    // Types of the maps in the core (live, and dropped ones below), in
    // both spellings.
    let mut live_types: HashSet<String> = HashSet::new();
    fn note_types(maps: &[FoundMap], set: &mut HashSet<String>) {
        for m in maps {
            if !set.contains(&m.type_name) {
                set.insert(runtime_spelling(&m.type_name));
                set.insert(m.type_name.clone());
            }
            note_types(&m.children, set);
        }
    }
    note_types(found, &mut live_types);
    // Maps a root reaches, with the object their path ends at.
    let mut listed: Vec<(FoundMap, u32, bool)> = Vec::new();
    let mut listed_at: HashSet<u64> = HashSet::new();
    let mut garbage_storage: Vec<(u64, String)> = Vec::new();
    let size_of = |a: u64| heap.object_at(a).map_or(0, |o| o.size);
    for (((object, runtime_name), header), ty) in storage.into_iter().zip(headers).zip(&tys) {
        if owned.contains(graph, object) {
            continue;
        }
        // DWARF's spelling when DWARF has this map type (see the module doc).
        let map_name = ty.map_or(runtime_name, |t| dwarf.types().get(t).name.clone());
        if !reached(object) {
            match header {
                Some(inst) => {
                    live_types.insert(runtime_spelling(&inst.type_name));
                    live_types.insert(inst.type_name.clone());
                    let mut own = Vec::new();
                    bases(heap, &inst, &mut own);
                    own.push(object);
                    own.sort_unstable();
                    own.dedup();
                    out.garbage.dropped_map_count += 1;
                    for a in own {
                        if !owned.contains(graph, a) {
                            owned.insert(graph, a);
                            out.garbage.dropped_maps.add(size_of(a));
                        }
                    }
                }
                None => {
                    owned.insert(graph, object);
                    garbage_storage.push((object, map_name));
                }
            }
            continue;
        }
        let (m, target, has_header) = match header {
            Some(inst) => {
                let mut own = Vec::new();
                bases(heap, &inst, &mut own);
                let at = if reached(inst.address) {
                    inst.address
                } else {
                    object
                };
                let place = Place {
                    root: UNKNOWN_ROOT.to_string(),
                    ..Place::default()
                };
                let kv = key_value(dwarf.types(), &inst);
                let m = FoundMap::new(&inst, place, own, kv);
                (m, at, at == inst.address)
            }
            None => {
                // Storage alone: no header, so no key/value layout read.
                let m = FoundMap {
                    root: UNKNOWN_ROOT.to_string(),
                    type_name: map_name,
                    address: object,
                    storage_bytes: size_of(object),
                    owned: vec![object],
                    ..FoundMap::default()
                };
                (m, object, false)
            }
        };
        // Several arrays of one map (Swiss tables) yield it once.
        if !listed_at.insert(m.address) {
            continue;
        }
        for &a in &m.owned {
            owned.insert(graph, a);
        }
        owned.insert(graph, object);
        let Some(target) = graph.id_of_address(target) else {
            continue;
        };
        listed.push((m, target, has_header));
    }
    // Garbage storage no header points at: left by growth when a map of
    // its type is in the core (live, or dropped: its own old arrays).
    for (object, name) in garbage_storage {
        let live = live_types.contains(&name) || live_types.contains(&runtime_spelling(&name));
        let part = if live {
            &mut out.garbage.left_by_growth
        } else {
            &mut out.garbage.other
        };
        part.add(size_of(object));
    }
    let g = &mut out.garbage;
    g.objects = g.left_by_growth.objects + g.dropped_maps.objects + g.other.objects;
    g.bytes = g
        .left_by_growth
        .bytes
        .saturating_add(g.dropped_maps.bytes)
        .saturating_add(g.other.bytes);
    drop(_timing);
    let _timing = Phase::start("maps: unrooted storage: paths");
    out.maps = name_paths(process, heap, dwarf, graph, roots, parents, listed);
    out
}

/// Heap objects with a runtime type (malloc header or large span type)
/// that no found map claims (`owned`) and `keep` accepts (by address),
/// with their type's address, in address order (spans in parallel).
pub(crate) fn typed_objects(
    process: &GoProcess,
    heap: &Heap,
    graph: &ObjectGraph,
    owned: &Claimed,
    keep: impl Fn(u64) -> bool + Sync,
) -> Vec<(HeapObject, u64)> {
    let spans = heap.spans();
    (0..spans.len())
        .into_par_iter()
        .filter(|&i| {
            spans
                .get(i)
                .is_some_and(|s| s.has_header || (s.size_class == 0 && s.large_type != 0))
        })
        .flat_map_iter(|i| {
            let keep = &keep;
            heap.span_objects(i).filter_map(move |o| {
                if owned.contains(graph, o.address) || !keep(o.address) {
                    return None;
                }
                let t = heap.object_type_address(process, &o)?;
                Some((o, t))
            })
        })
        .collect()
}

/// Names each map by its shortest path from a root (see the module doc).
fn name_paths(
    process: &GoProcess,
    heap: &Heap,
    dwarf: &DwarfInfo,
    graph: &ObjectGraph,
    roots: &RootSet,
    parents: &[u32],
    listed: Vec<(FoundMap, u32, bool)>,
) -> Vec<FoundMap> {
    let targets: Vec<u32> = listed.iter().map(|(_, target, _)| *target).collect();
    let (paths, wanted) = trace_paths(roots, parents, &targets);
    let mut labeller = Labeller::new(process, heap, dwarf);
    let mut out = Vec::with_capacity(listed.len());
    for ((mut m, _, has_header), path) in listed.into_iter().zip(paths) {
        if let Some(path) = path {
            let root = path
                .first()
                .and_then(|r| wanted.get(r).copied().flatten())
                .and_then(|i| roots.named.get(i));
            // The objects before the map itself.
            let before = path.get(..path.len().saturating_sub(1)).unwrap_or(&[]);
            let mut s = path_text(root, before, |id| labeller.label_id(graph, id));
            s.push_str(if has_header {
                " → map"
            } else {
                " → map storage"
            });
            m.root = s;
            m.origin = root.map(|r| r.origin.clone()).unwrap_or_default();
            m.via = RootVia::Objects;
            m.root_kind = match root.map(|r| r.kind) {
                // A global that points at the map header itself holds the
                // map as a map variable does; through heap objects, it is
                // reached from the heap (the typed walk's convention).
                Some(RootKind::Global) if before.is_empty() && has_header => RootKind::Global,
                Some(RootKind::Global | RootKind::Heap) => RootKind::Heap,
                Some(k) => k,
                None => RootKind::Unknown,
            };
        }
        out.push(m);
    }
    out
}

/// What both namers need for `targets`: each one's shortest path from a
/// root (`None` when no root reaches it; traced in parallel: up to tens
/// of thousands), and the named root each path starts at.
#[allow(clippy::type_complexity)]
fn trace_paths(
    roots: &RootSet,
    parents: &[u32],
    targets: &[u32],
) -> (Vec<Option<Vec<u32>>>, HashMap<u32, Option<usize>>) {
    let paths: Vec<Option<Vec<u32>>> = targets.par_iter().map(|&t| path_to(parents, t)).collect();
    let wanted = first_roots(
        roots,
        paths.iter().flatten().filter_map(|p| p.first().copied()),
    );
    (paths, wanted)
}

/// The first named root (tier order) pointing at each of `ends`: one
/// pass over the roots' targets.
pub(crate) fn first_roots(
    roots: &RootSet,
    ends: impl Iterator<Item = u32>,
) -> HashMap<u32, Option<usize>> {
    let mut wanted: HashMap<u32, Option<usize>> = ends.map(|r| (r, None)).collect();
    for kinds in TIER_KINDS {
        for (i, r) in roots.named.iter().enumerate() {
            if !kinds.contains(&r.kind) {
                continue;
            }
            for t in roots.targets_of(i) {
                if let Some(slot @ None) = wanted.get_mut(t) {
                    *slot = Some(i);
                }
            }
        }
    }
    wanted
}

/// `root (T) → A → B → … n objects … → X → Y → Z`: the root, then the
/// labels of `objects` (the middle of a long path elided).
pub(crate) fn path_text(
    root: Option<&NamedRoot>,
    objects: &[u32],
    mut label: impl FnMut(u32) -> String,
) -> String {
    let mut s = match root {
        Some(r) if r.type_name.is_empty() => r.name.clone(),
        Some(r) => format!("{} ({})", r.name, r.type_name),
        None => "(root)".to_string(),
    };
    if objects.len() > PATH_HEAD + PATH_TAIL + 1 {
        for &id in objects.iter().take(PATH_HEAD) {
            s.push_str(&format!(" → {}", label(id)));
        }
        let skipped = objects.len() - PATH_HEAD - PATH_TAIL;
        s.push_str(&format!(" → … {skipped} objects …"));
        for &id in objects.iter().skip(objects.len() - PATH_TAIL) {
            s.push_str(&format!(" → {}", label(id)));
        }
    } else {
        for &id in objects {
            s.push_str(&format!(" → {}", label(id)));
        }
    }
    s
}

/// A heap object named by its shortest path from a root
/// ([`name_objects`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectName {
    /// `main.cache (*main.Cache) → main.Entry → []*main.Node`: the root,
    /// then the objects of the path, the object itself last.
    pub path: String,
    /// Index in [`RootSet::named`] of the root the path starts at.
    pub root: Option<usize>,
    /// The object's type: DWARF's name of its heap type (`[]T` when it
    /// holds several), else the runtime's, else `N-byte object`.
    pub type_name: String,
}

/// Names heap objects (graph ids) by their shortest path from a root, as
/// the maps of this module are named; `None` for an object no root
/// reaches. `parents` is [`ObjectGraph::shortest_paths`] over
/// [`root_tiers`] of `roots`.
pub fn name_objects(
    process: &GoProcess,
    heap: &Heap,
    dwarf: &DwarfInfo,
    graph: &ObjectGraph,
    roots: &RootSet,
    parents: &[u32],
    ids: &[u32],
) -> Vec<Option<ObjectName>> {
    // Labelled in parallel, a type-name cache per thread (the names do
    // not depend on which thread asks).
    let (paths, wanted) = trace_paths(roots, parents, ids);
    paths
        .into_par_iter()
        .map_init(
            || Labeller::new(process, heap, dwarf),
            |labeller, path| {
                let path = path?;
                let root = path.first().and_then(|r| wanted.get(r).copied().flatten());
                let &last = path.last()?;
                Some(ObjectName {
                    path: path_text(root.and_then(|i| roots.named.get(i)), &path, |id| {
                        labeller.label_id(graph, id)
                    }),
                    root,
                    type_name: labeller.label_id(graph, last),
                })
            },
        )
        .collect()
}

/// DWARF's map type for each storage's `map[K]V` name: by DWARF's name,
/// else by the runtime's package-name spelling when exactly one DWARF map
/// type has it.
fn dwarf_map_types(dwarf: &DwarfInfo, storage: &[(u64, String)]) -> Vec<Option<TypeId>> {
    let types = dwarf.types();
    // DWARF map types by their runtime spelling (`json.field` for
    // `encoding/json.field`); `None` when two packages share a name.
    let mut by_short: HashMap<String, Option<TypeId>> = HashMap::new();
    for (id, _) in types.map_types() {
        by_short
            .entry(runtime_spelling(&types.get(id).name))
            .and_modify(|e| {
                if *e != Some(id) {
                    *e = None;
                }
            })
            .or_insert(Some(id));
    }
    storage
        .iter()
        .map(|(_, n)| {
            types
                .by_name(n)
                .or_else(|| by_short.get(&runtime_spelling(n)).copied().flatten())
        })
        .collect()
}

/// For each storage object, walks up through the objects pointing at it
/// (all storage objects together: one pass over the graph's edges per
/// level) and keeps the first candidate that decodes as its `map[K]V`
/// consistently (len equals the live entries counted, no warnings) and
/// claims the storage — a Swiss table decodes as a map header otherwise.
fn find_headers(
    heap: &Heap,
    decoder: &MapDecoder<'_>,
    graph: &ObjectGraph,
    tys: &[Option<TypeId>],
    storage: &[(u64, String)],
) -> Vec<Option<MapInstance>> {
    let mut found: Vec<Option<MapInstance>> = vec![None; storage.len()];
    // Allocated size of each storage's map header, when its layout is known.
    let header_sizes: Vec<Option<u64>> = tys
        .iter()
        .map(|ty| {
            let Some(MapTarget::Map { id, map }) = ty.and_then(|t| decoder.target(t)) else {
                return None;
            };
            let header = match *decoder.map_layout(id, &map).ok()? {
                MapLayout::Classic(c) => c.header_size,
                MapLayout::Swiss(s) => s.header_size,
            };
            Some(decoder.size_classes().allocation_size(header, true))
        })
        .collect();
    // (storage index, object id) pairs still being searched.
    let mut frontier: Vec<(usize, u32)> = storage
        .iter()
        .enumerate()
        .filter(|(i, _)| tys.get(*i).copied().flatten().is_some())
        .filter_map(|(i, (a, _))| Some((i, graph.id_of_address(*a)?)))
        .collect();
    let mut seen: HashSet<(usize, u32)> = frontier.iter().copied().collect();
    for _ in 0..MAX_HEADER_DEPTH {
        if frontier.is_empty() {
            break;
        }
        let mut targets: Vec<u32> = frontier.iter().map(|&(_, id)| id).collect();
        targets.sort_unstable();
        targets.dedup();
        let preds = graph.predecessors(&targets);
        let mut next = Vec::new();
        let mut per_storage: HashMap<usize, usize> = HashMap::new();
        for &(si, id) in &frontier {
            if found.get(si).is_some_and(Option::is_some) {
                continue;
            }
            for &p in preds.get(&id).map(Vec::as_slice).unwrap_or(&[]) {
                let n = per_storage.entry(si).or_default();
                if *n >= MAX_CANDIDATES || !seen.insert((si, p)) {
                    continue;
                }
                *n += 1;
                next.push((si, p));
            }
        }
        for &(si, p) in &next {
            if found.get(si).is_some_and(Option::is_some) {
                continue;
            }
            let (Some(Some(ty)), Some((storage_addr, _)), Some(obj)) =
                (tys.get(si), storage.get(si), graph.object(p))
            else {
                continue;
            };
            // A map header is an allocation of its own (makemap's
            // new(hmap) / new(maps.Map)): an object of another size is not
            // one, and decoding it as one could walk a whole other map.
            if header_sizes
                .get(si)
                .copied()
                .flatten()
                .is_some_and(|h| h != obj.size)
            {
                continue;
            }
            if let Some(inst) = decoder
                .decode(*ty, obj.data_start(), heap)
                .ok()
                .filter(|i| i.len == i.live_entries && i.warnings.is_empty())
            {
                let mut own = Vec::new();
                bases(heap, &inst, &mut own);
                if own.contains(storage_addr) {
                    if let Some(slot) = found.get_mut(si) {
                        *slot = Some(inst);
                    }
                }
            }
        }
        // Storage whose header this level found needs no further level.
        next.retain(|&(si, _)| found.get(si).is_some_and(Option::is_none));
        frontier = next;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::runtime_spelling;

    #[test]
    fn runtime_spelling_cuts_import_paths() {
        assert_eq!(
            runtime_spelling("map[string]*encoding/json.field"),
            "map[string]*json.field"
        );
        assert_eq!(
            runtime_spelling("map[example.com/a/b.K][]map[string]net/netip.Addr"),
            "map[b.K][]map[string]netip.Addr"
        );
        assert_eq!(runtime_spelling("map[int64]string"), "map[int64]string");
    }
}
