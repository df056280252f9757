//! The typed root walk: from DWARF-typed roots (globals, goroutine frame
//! locals, finalizer objects) through typed pointers, struct fields and
//! slices/arrays to every map, `sync.Map` and map family.
//!
//! Owns: following static types from a root to a map header, building
//! families (map of maps, slice/array of maps) and the Go-syntax root
//! paths (`main.registry.endpoints`, `main.tenantConfigs[*]`).
//! Must not touch: decoding one map (the decoder modules), the object
//! graph and retained bytes ([`crate::graph`]), or the heap walk
//! (mapscope-goruntime).

use std::collections::{HashMap, HashSet};

use mapscope_goruntime::dwarf::{DwarfInfo, TypeId, TypeKind};
use mapscope_goruntime::goroutines::Goroutines;
use mapscope_goruntime::heap::Heap;
use mapscope_goruntime::GoProcess;

use crate::discover::{FoundMap, RootKind};
use crate::{MapDecoder, MapInstance, MapTarget};

/// Bound on the typed walk's depth (pointer chains, nested structs).
const MAX_DEPTH: usize = 12;
/// Bound on how many elements of one slice/array the walk visits.
const MAX_ELEMS: u64 = 1 << 20;

pub(crate) struct Walker<'a> {
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
    pub(crate) fn new(process: &'a GoProcess, dwarf: &'a DwarfInfo, heap: &'a Heap) -> Walker<'a> {
        Walker {
            process,
            decoder: MapDecoder::new(process.memory(), dwarf),
            heap,
            seen_maps: HashSet::new(),
            seen_objects: HashSet::new(),
            contains: HashMap::new(),
            found: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Walks every root: globals, then the locals of every goroutine
    /// frame, then objects with finalizers (from their static type, the
    /// special's `ot`: the pointer type SetFinalizer was given).
    pub(crate) fn walk_roots(&mut self, goroutines: Option<&Goroutines>) {
        let dwarf = self.decoder.dwarf();
        for g in dwarf.globals().all() {
            self.walk(g.ty, g.address, &g.name, RootKind::Global, 0);
        }
        for g in goroutines.map(|gs| gs.goroutines.as_slice()).unwrap_or(&[]) {
            for f in &g.frames {
                for l in f.locals() {
                    let Some(a) = l.address() else { continue };
                    let path = format!("goroutine {} {}.{}", g.id, f.function, l.name);
                    self.walk(l.ty, a, &path, RootKind::Goroutine, 0);
                }
            }
        }
        for (object, ty, name) in crate::roots::finalizer_objects(self.process, self.heap) {
            let path = format!("finalizer({name})");
            self.walk(ty, object, &path, RootKind::Finalizer, 0);
        }
    }

    /// The maps found so far and the walk's warnings.
    pub(crate) fn take_results(&mut self) -> (Vec<FoundMap>, Vec<String>) {
        (
            std::mem::take(&mut self.found),
            std::mem::take(&mut self.warnings),
        )
    }

    /// The decoder the walk used (its caches serve later decoding).
    pub(crate) fn decoder(&self) -> &MapDecoder<'a> {
        &self.decoder
    }

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
        FoundMap::new(inst, root, kind, self.object_bases(inst))
    }

    /// Decodes the map whose header pointer (or `sync.Map` value) is `addr`.
    fn decode(&mut self, ty: TypeId, addr: u64) -> Option<MapInstance> {
        if addr == 0 {
            return None;
        }
        match self.decoder.decode(ty, addr, self.heap) {
            Ok(i) => {
                // The decoder's doubts (len ≠ counted entries, unreadable
                // storage) must reach the report: a map has no warnings
                // field of its own in the output.
                for w in &i.warnings {
                    if self.warnings.len() < 100 {
                        self.warnings.push(format!("map at {addr:#x}: {w}"));
                    }
                }
                Some(i)
            }
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
