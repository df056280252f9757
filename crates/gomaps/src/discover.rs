//! Finds every map instance of a process from its roots and measures the
//! bytes each would free (retained bytes).
//!
//! Owns: the typed root walk (DWARF globals, typed pointers into the heap,
//! goroutine frame locals), families (map of maps, slice/array of maps,
//! `sync.Map`), and the conservative object graph used for retained bytes.
//! Must not touch: decoding one map (the decoder modules) or the heap walk
//! itself (mapscope-goruntime).
//!
//! Retained bytes use the "exclusive reachability" method: the objects
//! reachable from the structure's own objects that are not reachable from
//! the root set (global data and goroutine stacks, scanned conservatively)
//! once the structure's objects are blocked. This equals the dominator-tree
//! answer for the group of the structure's objects.

use std::collections::{HashMap, HashSet};

use mapscope_goruntime::dwarf::{TypeId, TypeKind};
use mapscope_goruntime::heap::{Heap, HeapObject};
use mapscope_goruntime::GoProcess;
use rayon::prelude::*;
use serde::Serialize;

use crate::{MapDecoder, MapInstance, MapKind, MapTarget};

/// Bound on the typed walk's depth (pointer chains, nested structs).
const MAX_DEPTH: usize = 12;
/// Bound on how many elements of one slice/array the walk visits.
const MAX_ELEMS: u64 = 1 << 20;
/// Family children whose retained bytes are measured one by one.
const MEASURED_CHILDREN: usize = 8;

/// Where the path to a map starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RootKind {
    Global,
    Heap,
    Goroutine,
    Unknown,
}

/// One map, `sync.Map` or family found from the roots.
#[derive(Clone, Debug, Serialize)]
pub struct FoundMap {
    /// Go-syntax path from a root (`main.registry.endpoints`).
    pub root: String,
    pub root_kind: RootKind,
    /// `%T` of the structure (`map[int64]*main.Session`, `sync.Map`,
    /// `[]map[string]int`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// `map`, `sync.Map` or `map-family`.
    pub kind: &'static str,
    /// Map header, `sync.Map` value, or a slice family's backing array.
    pub address: u64,
    pub len: u64,
    pub live_entries: u64,
    pub capacity: u64,
    pub tombstones: u64,
    pub growing: bool,
    pub storage_bytes: u64,
    /// Bytes freed if this structure were dropped; `None` when not measured.
    pub retained_bytes: Option<u64>,
    pub children: Vec<FoundMap>,
    /// Heap objects the structure owns (header, storage, family container).
    #[serde(skip)]
    pub owned: Vec<u64>,
}

/// Everything [`discover`] found.
#[derive(Debug, Default)]
pub struct Discovery {
    pub maps: Vec<FoundMap>,
    pub warnings: Vec<String>,
}

struct Walker<'a> {
    process: &'a GoProcess,
    decoder: MapDecoder<'a>,
    heap: &'a Heap,
    seen_maps: HashSet<u64>,
    seen_objects: HashSet<u64>,
    contains: HashMap<TypeId, bool>,
    found: Vec<FoundMap>,
    warnings: Vec<String>,
}

impl<'a> Walker<'a> {
    fn mem(&self) -> &'a mapscope_elfcore::ProcessMemory {
        self.process.memory()
    }

    fn types(&self) -> &'a mapscope_goruntime::dwarf::TypeTable {
        self.decoder.dwarf().types()
    }

    /// Whether a value of `ty` may lead to a map (memoised, cycle-safe).
    fn contains_map(&mut self, ty: TypeId) -> bool {
        let types = self.types();
        let mut stack = vec![ty];
        let mut visiting = HashSet::new();
        let mut result = false;
        while let Some(t) = stack.pop() {
            let t = types.resolve(t);
            if let Some(&known) = self.contains.get(&t) {
                if known {
                    result = true;
                    break;
                }
                continue;
            }
            if !visiting.insert(t) || visiting.len() > 100_000 {
                continue;
            }
            if self.decoder.target(t).is_some() {
                result = true;
                break;
            }
            let ty = types.get(t);
            match ty.kind {
                TypeKind::Pointer { target: Some(x) } => stack.push(x),
                TypeKind::Array { elem, .. } | TypeKind::Slice { elem } => stack.push(elem),
                TypeKind::Struct => stack.extend(ty.fields.iter().map(|f| f.ty)),
                _ => {}
            }
        }
        self.contains.insert(types.resolve(ty), result);
        result
    }

    fn object_bases(&self, inst: &MapInstance) -> Vec<u64> {
        let mut v: Vec<u64> = inst.objects.iter().map(|o| o.base).collect();
        if let Some(o) = self.heap.object_at(inst.address) {
            v.push(o.address);
        }
        for i in &inst.inner {
            v.extend(self.object_bases(i));
        }
        v
    }

    fn found_from(&self, inst: &MapInstance, root: String, kind: RootKind) -> FoundMap {
        FoundMap {
            root,
            root_kind: kind,
            type_name: inst.type_name.clone(),
            kind: if inst.kind == MapKind::SyncMap {
                "sync.Map"
            } else {
                "map"
            },
            address: inst.address,
            len: inst.len,
            live_entries: inst.live_entries,
            capacity: inst.capacity,
            tombstones: inst.tombstones,
            growing: inst.growing,
            storage_bytes: inst.storage_bytes,
            retained_bytes: None,
            children: Vec::new(),
            owned: self.object_bases(inst),
        }
    }

    /// Decodes the map whose header pointer (or `sync.Map` value) is `addr`.
    fn decode(&mut self, ty: TypeId, addr: u64) -> Option<MapInstance> {
        if addr == 0 {
            return None;
        }
        match self.decoder.decode(ty, addr, self.heap) {
            Ok(i) => Some(i),
            Err(e) => {
                if self.warnings.len() < 100 {
                    self.warnings.push(format!("map at {addr:#x}: {e}"));
                }
                None
            }
        }
    }

    /// Builds a family from members (`(type, header pointer)`).
    fn family(
        &mut self,
        members: Vec<(TypeId, u64)>,
        root: &str,
        kind: RootKind,
        type_name: String,
        address: u64,
        container: Vec<u64>,
    ) -> FoundMap {
        let mut fam = FoundMap {
            root: root.to_string(),
            root_kind: kind,
            type_name,
            kind: "map-family",
            address,
            len: 0,
            live_entries: 0,
            capacity: 0,
            tombstones: 0,
            growing: false,
            storage_bytes: 0,
            retained_bytes: None,
            children: Vec::new(),
            owned: container,
        };
        let child_root = format!("{root}[*]");
        for (ty, p) in members {
            if p == 0 || !self.seen_maps.insert(p) {
                continue;
            }
            let Some(inst) = self.decode(ty, p) else {
                continue;
            };
            let child = self.found_from(&inst, child_root.clone(), kind);
            fam.len += 1;
            fam.live_entries += child.live_entries;
            fam.capacity += child.capacity;
            fam.tombstones += child.tombstones;
            fam.growing |= child.growing;
            fam.storage_bytes += child.storage_bytes;
            fam.owned.extend(child.owned.iter().copied());
            fam.children.push(child);
        }
        fam
    }

    /// Walks the value of type `ty` stored at `addr`.
    fn walk(&mut self, ty: TypeId, addr: u64, path: &str, kind: RootKind, depth: usize) {
        if depth > MAX_DEPTH || !self.contains_map(ty) {
            return;
        }
        let types = self.types();
        let rt = types.resolve(ty);
        if let Some(target) = self.decoder.target(rt) {
            match target {
                MapTarget::SyncMap { .. } => {
                    if self.seen_maps.insert(addr) {
                        if let Some(inst) = self.decode(rt, addr) {
                            let f = self.found_from(&inst, path.to_string(), kind);
                            self.found.push(f);
                        }
                    }
                }
                MapTarget::Map { map, .. } => {
                    let Ok(p) = self.mem().read_u64(addr) else {
                        return;
                    };
                    if p == 0 || self.seen_maps.contains(&p) {
                        return;
                    }
                    let vt = types.resolve(map.value);
                    if matches!(self.decoder.target(vt), Some(MapTarget::Map { .. })) {
                        // A map of maps: the members are the values.
                        self.seen_maps.insert(p);
                        let Some(inst) = self.decode(rt, p) else {
                            return;
                        };
                        let members: Vec<(TypeId, u64)> = inst
                            .entries
                            .iter()
                            .filter_map(|e| self.mem().read_u64(e.elem).ok())
                            .map(|m| (vt, m))
                            .collect();
                        let own = self.object_bases(&inst);
                        let mut fam =
                            self.family(members, path, kind, inst.type_name.clone(), p, own);
                        fam.storage_bytes += inst.storage_bytes;
                        self.found.push(fam);
                    } else {
                        self.seen_maps.insert(p);
                        if let Some(inst) = self.decode(rt, p) {
                            let f = self.found_from(&inst, path.to_string(), kind);
                            self.found.push(f);
                        }
                    }
                }
            }
            return;
        }
        let t = types.get(rt);
        match t.kind {
            TypeKind::Pointer { target: Some(x) } => {
                let Ok(p) = self.mem().read_u64(addr) else {
                    return;
                };
                if p == 0 || !self.seen_objects.insert(p) {
                    return;
                }
                let k = if self.heap.object_at(p).is_some() {
                    match kind {
                        RootKind::Global => RootKind::Heap,
                        other => other,
                    }
                } else {
                    kind
                };
                self.walk(x, p, path, k, depth + 1);
            }
            TypeKind::Struct => {
                let fields: Vec<(String, u64, TypeId)> = t
                    .fields
                    .iter()
                    .map(|f| (f.name.clone(), f.offset, f.ty))
                    .collect();
                for (name, off, fty) in fields {
                    let Some(a) = addr.checked_add(off) else {
                        continue;
                    };
                    self.walk(fty, a, &format!("{path}.{name}"), kind, depth + 1);
                }
            }
            TypeKind::Slice { elem } | TypeKind::Array { elem, .. } => {
                let (data, n) = match t.kind {
                    TypeKind::Slice { .. } => {
                        let d = self.mem().read_u64(addr).unwrap_or(0);
                        let n = self.mem().read_u64(addr.saturating_add(8)).unwrap_or(0);
                        (d, n)
                    }
                    TypeKind::Array { count, .. } => (addr, count),
                    _ => return,
                };
                if data == 0 || n == 0 {
                    return;
                }
                let n = n.min(MAX_ELEMS);
                let esize = types.size_of(elem).unwrap_or(0);
                if esize == 0 {
                    return;
                }
                let ve = types.resolve(elem);
                if matches!(self.decoder.target(ve), Some(MapTarget::Map { .. })) {
                    let members: Vec<(TypeId, u64)> = (0..n)
                        .filter_map(|i| self.mem().read_u64(data + i * esize).ok())
                        .map(|m| (ve, m))
                        .collect();
                    let container = self
                        .heap
                        .object_at(data)
                        .map(|o| vec![o.address])
                        .unwrap_or_default();
                    let fam = self.family(members, path, kind, t.name.clone(), data, container);
                    if fam.len > 0 {
                        self.found.push(fam);
                    }
                } else {
                    for i in 0..n {
                        self.walk(
                            elem,
                            data + i * esize,
                            &format!("{path}[{i}]"),
                            kind,
                            depth + 1,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

/// Finds every map reachable from the process's roots and measures the
/// retained bytes of each. Sorted by retained bytes, largest first.
pub fn discover(process: &GoProcess) -> Result<Discovery, String> {
    let dwarf = process
        .dwarf()
        .ok_or_else(|| "the executable has no DWARF: cannot type roots".to_string())?;
    let heap = process.heap().map_err(|e| e.to_string())?;
    let mut w = Walker {
        process,
        decoder: MapDecoder::new(process.memory(), dwarf),
        heap,
        seen_maps: HashSet::new(),
        seen_objects: HashSet::new(),
        contains: HashMap::new(),
        found: Vec::new(),
        warnings: Vec::new(),
    };
    for g in dwarf.globals().all() {
        w.walk(g.ty, g.address, &g.name, RootKind::Global, 0);
    }
    let mut stack_ranges = Vec::new();
    match process.goroutines() {
        Ok(gs) => {
            // Only the live part of each stack: dead frames below the
            // innermost SP keep stale pointers that would pin objects.
            stack_ranges = gs
                .goroutines
                .iter()
                .filter(|g| g.stack_hi > g.stack_lo)
                .map(|g| {
                    let sp = g.frames.iter().map(|f| f.sp).min().unwrap_or(g.stack_lo);
                    (sp.clamp(g.stack_lo, g.stack_hi), g.stack_hi)
                })
                .collect();
            for g in &gs.goroutines {
                for f in &g.frames {
                    for l in f.locals() {
                        let Some(a) = l.address() else { continue };
                        let path = format!("goroutine {} {}.{}", g.id, f.function, l.name);
                        w.walk(l.ty, a, &path, RootKind::Goroutine, 0);
                    }
                }
            }
        }
        Err(e) => w.warnings.push(format!("goroutines: {e}")),
    }
    let mut maps = std::mem::take(&mut w.found);
    let mut warnings = std::mem::take(&mut w.warnings);
    let graph = ObjectGraph::build(process, heap);
    let mut roots: Vec<(u64, u64)> = dwarf
        .globals()
        .all()
        .iter()
        .filter(|g| g.size > 0 && g.size < (1 << 30))
        .map(|g| (g.address, g.end()))
        .collect();
    roots.extend(stack_ranges);
    let root_ids = graph.scan_ranges(process, &roots);
    measure(&graph, &root_ids, &mut maps);
    maps.sort_by_key(|m| std::cmp::Reverse(m.retained_bytes));
    warnings.extend(heap.warnings().iter().take(20).cloned());
    Ok(Discovery { maps, warnings })
}

fn measure(graph: &ObjectGraph, roots: &[u32], maps: &mut [FoundMap]) {
    let mut jobs: Vec<&mut FoundMap> = Vec::new();
    for m in maps.iter_mut() {
        jobs.push(m);
    }
    jobs.par_iter_mut().for_each(|m| {
        m.retained_bytes = Some(graph.retained(roots, &m.owned));
        for c in m.children.iter_mut().take(MEASURED_CHILDREN) {
            c.retained_bytes = Some(graph.retained(roots, &c.owned));
        }
    });
}

/// Heap objects (sorted by address, ids = index) with conservative edges
/// in CSR form.
pub struct ObjectGraph {
    objects: Vec<HeapObject>,
    offsets: Vec<u32>,
    edges: Vec<u32>,
}

impl ObjectGraph {
    /// Scans every object of every scannable span for words pointing into
    /// an allocated object (in parallel).
    pub fn build(process: &GoProcess, heap: &Heap) -> ObjectGraph {
        let mut objects: Vec<HeapObject> = heap.objects().collect();
        objects.sort_by_key(|o| o.address);
        let spans = heap.spans();
        let mem = process.memory();
        let lists: Vec<Vec<u32>> = objects
            .par_iter()
            .map(|o| {
                let noscan = spans.get(o.span as usize).is_some_and(|s| s.noscan);
                if noscan {
                    return Vec::new();
                }
                let mut out = Vec::new();
                scan_words(mem, o.address, o.end(), &objects, &mut out);
                out.sort_unstable();
                out.dedup();
                out
            })
            .collect();
        let mut offsets = Vec::with_capacity(lists.len() + 1);
        let mut edges = Vec::new();
        offsets.push(0u32);
        for l in lists {
            edges.extend(l);
            offsets.push(u32::try_from(edges.len()).unwrap_or(u32::MAX));
        }
        ObjectGraph {
            objects,
            offsets,
            edges,
        }
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    fn id_of(&self, addr: u64) -> Option<u32> {
        id_in(&self.objects, addr)
    }

    /// Objects that words of the given address ranges point into.
    pub fn scan_ranges(&self, process: &GoProcess, ranges: &[(u64, u64)]) -> Vec<u32> {
        let mem = process.memory();
        let mut out: Vec<u32> = ranges
            .par_iter()
            .flat_map_iter(|&(lo, hi)| {
                let mut v = Vec::new();
                scan_words(mem, lo, hi, &self.objects, &mut v);
                v
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn succ(&self, id: u32) -> &[u32] {
        let i = id as usize;
        let (Some(&a), Some(&b)) = (self.offsets.get(i), self.offsets.get(i + 1)) else {
            return &[];
        };
        self.edges.get(a as usize..b as usize).unwrap_or(&[])
    }

    /// Bytes of the objects reachable from `owned` that the roots cannot
    /// reach without passing through `owned`.
    pub fn retained(&self, roots: &[u32], owned: &[u64]) -> u64 {
        let n = self.objects.len();
        let owned_ids: Vec<u32> = owned.iter().filter_map(|&a| self.id_of(a)).collect();
        let mut blocked = vec![false; n];
        for &o in &owned_ids {
            if let Some(b) = blocked.get_mut(o as usize) {
                *b = true;
            }
        }
        let mut reached = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        for &r in roots {
            if !blocked.get(r as usize).copied().unwrap_or(true) {
                if let Some(x) = reached.get_mut(r as usize) {
                    if !*x {
                        *x = true;
                        stack.push(r);
                    }
                }
            }
        }
        while let Some(v) = stack.pop() {
            for &s in self.succ(v) {
                let si = s as usize;
                if blocked.get(si).copied().unwrap_or(true) {
                    continue;
                }
                if let Some(x) = reached.get_mut(si) {
                    if !*x {
                        *x = true;
                        stack.push(s);
                    }
                }
            }
        }
        // Now walk from the owned objects through what the roots missed.
        let mut mine = vec![false; n];
        let mut total = 0u64;
        for &o in &owned_ids {
            if let Some(x) = mine.get_mut(o as usize) {
                if !*x {
                    *x = true;
                    stack.push(o);
                }
            }
        }
        while let Some(v) = stack.pop() {
            total += self.objects.get(v as usize).map_or(0, |o| o.size);
            for &s in self.succ(v) {
                let si = s as usize;
                if reached.get(si).copied().unwrap_or(true) {
                    continue;
                }
                if let Some(x) = mine.get_mut(si) {
                    if !*x {
                        *x = true;
                        stack.push(s);
                    }
                }
            }
        }
        total
    }
}

fn id_in(objects: &[HeapObject], addr: u64) -> Option<u32> {
    let i = objects.partition_point(|o| o.address <= addr);
    let o = objects.get(i.checked_sub(1)?)?;
    if addr < o.end() {
        u32::try_from(i - 1).ok()
    } else {
        None
    }
}

fn scan_words(
    mem: &mapscope_elfcore::ProcessMemory,
    lo: u64,
    hi: u64,
    objects: &[HeapObject],
    out: &mut Vec<u32>,
) {
    let (Some(first), Some(last)) = (objects.first(), objects.last()) else {
        return;
    };
    let (min, max) = (first.address, last.end());
    let lo = (lo + 7) & !7;
    let mut a = lo;
    while a < hi {
        let chunk = (hi - a).min(1 << 16) as usize & !7;
        if chunk == 0 {
            break;
        }
        if let Ok(bytes) = mem.bytes(a, chunk) {
            for w in bytes.chunks_exact(8) {
                let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
                if v >= min && v < max {
                    if let Some(id) = id_in(objects, v) {
                        out.push(id);
                    }
                }
            }
        }
        a += chunk as u64;
    }
}

// Added for mapscope-correlate (profile attribution needs the object set,
// not only its bytes).
impl ObjectGraph {
    /// Base addresses (sorted) of the objects [`ObjectGraph::retained`]
    /// counts: reachable from `owned` but not from the roots without
    /// passing through `owned`.
    pub fn retained_objects(&self, roots: &[u32], owned: &[u64]) -> Vec<u64> {
        let n = self.objects.len();
        let owned_ids: Vec<u32> = owned.iter().filter_map(|&a| self.id_of(a)).collect();
        let mut blocked = vec![false; n];
        for &o in &owned_ids {
            if let Some(b) = blocked.get_mut(o as usize) {
                *b = true;
            }
        }
        let mut reached = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        let visit = |v: u32, flags: &mut Vec<bool>, stack: &mut Vec<u32>| {
            if let Some(x) = flags.get_mut(v as usize) {
                if !*x {
                    *x = true;
                    stack.push(v);
                }
            }
        };
        for &r in roots {
            if !blocked.get(r as usize).copied().unwrap_or(true) {
                visit(r, &mut reached, &mut stack);
            }
        }
        while let Some(v) = stack.pop() {
            for &s in self.succ(v) {
                if !blocked.get(s as usize).copied().unwrap_or(true) {
                    visit(s, &mut reached, &mut stack);
                }
            }
        }
        let mut mine = vec![false; n];
        for &o in &owned_ids {
            visit(o, &mut mine, &mut stack);
        }
        let mut out = Vec::new();
        while let Some(v) = stack.pop() {
            if let Some(o) = self.objects.get(v as usize) {
                out.push(o.address);
            }
            for &s in self.succ(v) {
                if !reached.get(s as usize).copied().unwrap_or(true) {
                    visit(s, &mut mine, &mut stack);
                }
            }
        }
        out.sort_unstable();
        out
    }
}
