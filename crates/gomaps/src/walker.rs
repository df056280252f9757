//! The typed root walk: from DWARF-typed roots (globals, goroutine frame
//! locals, finalizer objects) through typed pointers, struct fields and
//! slices/arrays to every map, `sync.Map` and map family.
//!
//! Owns: following static types from a root to a map header, building
//! families (map of maps, slice/array of maps) and the Go-syntax root
//! paths (`main.registry.endpoints`, `main.tenantConfigs[*]`); decoding
//! the maps it meets on rayon tasks alongside the walk (a family's
//! members in parallel batches) and assembling the results in the order
//! of a sequential walk.
//! Must not touch: decoding one map (the decoder modules), the object
//! graph and retained bytes ([`crate::graph`]), or the heap walk
//! (mapscope-goruntime).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use mapscope_goruntime::dwarf::{DwarfInfo, TypeId, TypeKind};
use mapscope_goruntime::goroutines::Goroutines;
use mapscope_goruntime::heap::Heap;
use mapscope_goruntime::GoProcess;
use rayon::prelude::*;

use crate::addrhash::AddrSet;
use crate::alloc::{SizeSource, StorageKind};
use crate::discover::{FoundMap, RootKind};
use crate::reader::Reader;
use crate::{DecodeOptions, MapDecoder, MapInstance, MapTarget, Prepared};

/// Bound on the typed walk's depth (pointer chains, nested structs).
const MAX_DEPTH: usize = 12;
/// Bound on how many elements of one slice/array the walk visits.
const MAX_ELEMS: u64 = 1 << 20;
/// Bound on the warnings the walk keeps.
const MAX_WARNINGS: usize = 100;
/// Family members decoded per parallel task (small maps: one task each
/// would cost more than the decoding).
const MEMBERS_PER_TASK: usize = 256;

/// A map's decoding: the found map (`None` when decoding failed) and the
/// decoder's warnings, or its error.
type Decoded = (Option<FoundMap>, Vec<String>);

/// A decoding running in parallel with the walk, filled in by its task.
type Pending<T> = Arc<OnceLock<T>>;

/// A family once its members are decoded: the family with its members
/// added, and the members (in order) with each one's warnings.
#[derive(Clone)]
struct FamilyDone {
    fam: FoundMap,
    members: Vec<(TypeId, u64)>,
    messages: Vec<Vec<String>>,
}

/// What the walk found, in the order it found it. Which maps the walk
/// meets, and in which order, does not depend on what decoding them finds
/// (except for a map of maps, decoded on the spot): each is decoded by a
/// task of its own, in parallel with the walk, and the results are
/// assembled in this order — the output, warnings included, is that of a
/// walk that decoded each map where it met it.
enum Found {
    /// A map or `sync.Map` at `addr`.
    Map {
        addr: u64,
        decoded: Pending<Decoded>,
    },
    /// A map of maps whose decoding failed: its warning only.
    Failed { addr: u64, message: String },
    /// A family: the warnings of its map of maps (decoded by the walk),
    /// the family being decoded, and whether it is reported without
    /// members.
    Family {
        parent: Option<(u64, Vec<String>)>,
        done: Pending<FamilyDone>,
        keep_empty: bool,
    },
}

/// What the decoding tasks share with the walk.
/// Storage objects at least this large have their pages released once
/// decoded (one `madvise` each: only arrays big enough to matter).
const RELEASE_AFTER_DECODE: u64 = 8 << 10;

struct Shared<'a> {
    decoder: MapDecoder<'a>,
    heap: &'a Heap,
}

pub(crate) struct Walker<'a> {
    process: &'a GoProcess,
    shared: Arc<Shared<'a>>,
    heap: &'a Heap,
    seen_maps: AddrSet,
    seen_objects: AddrSet,
    contains: HashMap<TypeId, bool>,
    found: Vec<Found>,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(process: &'a GoProcess, dwarf: &'a DwarfInfo, heap: &'a Heap) -> Walker<'a> {
        // Entries are read only for maps of maps (their members), which ask
        // for them; nobody reads the others'.
        let options = DecodeOptions {
            collect_entries: false,
        };
        let decoder = MapDecoder::with_options(process.memory(), dwarf, options);
        Walker {
            process,
            shared: Arc::new(Shared { decoder, heap }),
            heap,
            seen_maps: AddrSet::default(),
            seen_objects: AddrSet::default(),
            contains: HashMap::new(),
            found: Vec::new(),
        }
    }

    /// Walks every root: globals, then the locals of every goroutine
    /// frame, then objects with finalizers (from their static type, the
    /// special's `ot`: the pointer type SetFinalizer was given).
    ///
    /// The maps met are decoded by tasks running alongside; this returns
    /// when all are decoded.
    pub(crate) fn walk_roots(&mut self, goroutines: Option<&Goroutines>) {
        let dwarf = self.shared.decoder.dwarf();
        rayon::scope(|s| {
            for g in dwarf.globals().all() {
                self.walk(s, g.ty, g.address, &g.name, RootKind::Global, 0);
            }
            for g in goroutines.map(|gs| gs.goroutines.as_slice()).unwrap_or(&[]) {
                for f in &g.frames {
                    for l in f.locals() {
                        let Some(a) = l.address() else { continue };
                        let path = format!("goroutine {} {}.{}", g.id, f.function, l.name);
                        self.walk(s, l.ty, a, &path, RootKind::Goroutine, 0);
                    }
                }
            }
            for (object, ty, name) in crate::roots::finalizer_objects(self.process, self.heap) {
                let path = format!("finalizer({name})");
                self.walk(s, ty, object, &path, RootKind::Finalizer, 0);
            }
        });
    }

    /// The maps found, in the order the walk found them (decoded), and
    /// the walk's warnings.
    pub(crate) fn take_results(&mut self) -> (Vec<FoundMap>, Vec<String>) {
        let mut warnings = Vec::new();
        // The decoder's doubts (len ≠ counted entries, unreadable storage)
        // must reach the report: a map has no warnings field of its own in
        // the output.
        let mut warn = |addr: u64, messages: &[String]| {
            for m in messages {
                if warnings.len() < MAX_WARNINGS {
                    warnings.push(format!("map at {addr:#x}: {m}"));
                }
            }
        };
        let mut maps = Vec::new();
        for f in std::mem::take(&mut self.found) {
            match f {
                Found::Map { addr, decoded } => {
                    let (map, messages) = take_pending(decoded).unwrap_or_default();
                    warn(addr, &messages);
                    maps.extend(map);
                }
                Found::Failed { addr, message } => warn(addr, &[message]),
                Found::Family {
                    parent,
                    done,
                    keep_empty,
                } => {
                    if let Some((addr, messages)) = &parent {
                        warn(*addr, messages);
                    }
                    let Some(done) = take_pending(done) else {
                        continue;
                    };
                    for ((_, addr), messages) in done.members.iter().zip(&done.messages) {
                        warn(*addr, messages);
                    }
                    if keep_empty || done.fam.len > 0 {
                        maps.push(done.fam);
                    }
                }
            }
        }
        (maps, warnings)
    }

    /// The decoder the walk used (its caches serve later decoding).
    pub(crate) fn decoder(&self) -> &MapDecoder<'a> {
        &self.shared.decoder
    }

    fn mem(&self) -> &'a mapscope_elfcore::ProcessMemory {
        self.process.memory()
    }

    fn types(&self) -> &'a mapscope_goruntime::dwarf::TypeTable {
        self.shared.decoder.dwarf().types()
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
            if self.shared.decoder.target(t).is_some() {
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

    /// Records a map found at `path`, decoded by a task of its own.
    fn found_map<'s>(
        &mut self,
        s: &rayon::Scope<'s>,
        ty: TypeId,
        addr: u64,
        path: &str,
        kind: RootKind,
    ) where
        'a: 's,
    {
        let decoded: Pending<Decoded> = Arc::default();
        self.found.push(Found::Map {
            addr,
            decoded: decoded.clone(),
        });
        let shared = self.shared.clone();
        let root = path.to_string();
        s.spawn(move |_| {
            let _ = decoded.set(shared.decode_one(&Prepared::Other(ty), addr, &root, kind));
        });
    }

    /// Records a family of members (`(type, header pointer)`), each
    /// decoded later unless an earlier root reached it.
    #[allow(clippy::too_many_arguments)]
    fn family<'s>(
        &mut self,
        s: &rayon::Scope<'s>,
        members: Vec<(TypeId, u64)>,
        root: &str,
        kind: RootKind,
        type_name: String,
        address: u64,
        container: Vec<u64>,
        parent: Option<(u64, Vec<String>, u64)>,
    ) where
        'a: 's,
    {
        let (parent, storage_bytes) = match parent {
            Some((addr, messages, bytes)) => (Some((addr, messages)), bytes),
            None => (None, 0),
        };
        let fam = FoundMap {
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
            storage_bytes,
            retained_bytes: None,
            children: Vec::new(),
            owned: container,
        };
        let mut members = members;
        // Sized by the members already read from the core.
        self.seen_maps.reserve(members.len());
        members.retain(|&(_, p)| p != 0 && self.seen_maps.insert(p));
        // A map of maps is reported even without members.
        let keep_empty = parent.is_some();
        let done: Pending<FamilyDone> = Arc::default();
        self.found.push(Found::Family {
            parent,
            done: done.clone(),
            keep_empty,
        });
        let shared = self.shared.clone();
        s.spawn(move |_| {
            let _ = done.set(shared.decode_family(fam, members));
        });
    }

    /// A map of maps: decodes the parent now (its entries are the
    /// members) and records the family.
    fn map_of_maps<'s>(
        &mut self,
        s: &rayon::Scope<'s>,
        (id, map): (TypeId, mapscope_goruntime::dwarf::MapType),
        value_type: TypeId,
        p: u64,
        path: &str,
        kind: RootKind,
    ) where
        'a: 's,
    {
        let with_entries = DecodeOptions {
            collect_entries: true,
        };
        let decoded = self
            .shared
            .decoder
            .decode_map_type(id, &map, p, self.heap, with_entries);
        let inst = match decoded {
            Ok(inst) => inst,
            Err(e) => {
                self.found.push(Found::Failed {
                    addr: p,
                    message: e.to_string(),
                });
                return;
            }
        };
        let reader = Reader::new(self.mem());
        let members: Vec<(TypeId, u64)> = inst
            .entries
            .iter()
            .filter_map(|e| reader.u64(e.elem).ok())
            .map(|m| (value_type, m))
            .collect();
        let own = object_bases(self.heap, &inst);
        let type_name = inst.type_name.clone();
        let parent = Some((p, inst.warnings, inst.storage_bytes));
        self.family(s, members, path, kind, type_name, p, own, parent);
    }

    /// Walks the value of type `ty` stored at `addr`.
    fn walk<'s>(
        &mut self,
        s: &rayon::Scope<'s>,
        ty: TypeId,
        addr: u64,
        path: &str,
        kind: RootKind,
        depth: usize,
    ) where
        'a: 's,
    {
        if depth > MAX_DEPTH || !self.contains_map(ty) {
            return;
        }
        let types = self.types();
        let rt = types.resolve(ty);
        if let Some(target) = self.shared.decoder.target(rt) {
            match target {
                MapTarget::SyncMap { .. } => {
                    if addr != 0 && self.seen_maps.insert(addr) {
                        self.found_map(s, rt, addr, path, kind);
                    }
                }
                MapTarget::Map { id, map } => {
                    let Ok(p) = self.mem().read_u64(addr) else {
                        return;
                    };
                    if p == 0 || self.seen_maps.contains(&p) {
                        return;
                    }
                    self.seen_maps.insert(p);
                    let vt = types.resolve(map.value);
                    if matches!(self.shared.decoder.target(vt), Some(MapTarget::Map { .. })) {
                        // A map of maps: the members are the values.
                        self.map_of_maps(s, (id, map), vt, p, path, kind);
                    } else {
                        self.found_map(s, rt, p, path, kind);
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
                self.walk(s, x, p, path, k, depth + 1);
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
                    self.walk(s, fty, a, &format!("{path}.{name}"), kind, depth + 1);
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
                if matches!(self.shared.decoder.target(ve), Some(MapTarget::Map { .. })) {
                    let reader = Reader::new(self.mem());
                    let members: Vec<(TypeId, u64)> = (0..n)
                        .filter_map(|i| reader.u64(data.wrapping_add(i.wrapping_mul(esize))).ok())
                        .map(|m| (ve, m))
                        .collect();
                    let container = self
                        .heap
                        .object_at(data)
                        .map(|o| vec![o.address])
                        .unwrap_or_default();
                    self.family(
                        s,
                        members,
                        path,
                        kind,
                        t.name.clone(),
                        data,
                        container,
                        None,
                    );
                } else {
                    for i in 0..n {
                        self.walk(
                            s,
                            elem,
                            data.wrapping_add(i.wrapping_mul(esize)),
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

impl Shared<'_> {
    /// Decodes the map at `addr` into a found map rooted at `root`.
    fn decode_one(&self, ty: &Prepared, addr: u64, root: &str, kind: RootKind) -> Decoded {
        match self.decoder.decode_prepared(ty, addr, self.heap) {
            Ok(mut inst) => {
                // Large storage arrays are read once here: their core pages
                // leave the resident set (they stay in the page cache and
                // map again if read later), so decoding every map of a
                // multi-GB heap does not hold it all resident.
                for o in inst
                    .objects
                    .iter()
                    .filter(|o| o.size >= RELEASE_AFTER_DECODE)
                {
                    self.decoder.memory().release(o.base, o.size);
                }
                let owned = object_bases(self.heap, &inst);
                // Moved rather than copied: a million family members.
                let type_name = std::mem::take(&mut inst.type_name);
                let mut f = FoundMap::new(&inst, root.to_string(), kind, owned);
                f.type_name = type_name;
                (Some(f), inst.warnings)
            }
            Err(e) => (None, vec![e.to_string()]),
        }
    }

    /// Decodes a family's members (in parallel batches) and adds them to
    /// it.
    fn decode_family(&self, mut fam: FoundMap, members: Vec<(TypeId, u64)>) -> FamilyDone {
        let child_root = format!("{}[*]", fam.root);
        let kind = fam.root_kind;
        // The members of a family share their type: resolved once.
        let mut prepared: Option<(TypeId, Prepared)> = None;
        if let Some(&(ty, _)) = members.first() {
            if members.iter().all(|&(t, _)| t == ty) {
                prepared = Some((ty, self.decoder.prepare(ty)));
            }
        }
        let mut decoded = Vec::new();
        let mut messages = Vec::new();
        members
            .par_iter()
            .with_min_len(MEMBERS_PER_TASK)
            .map(|&(ty, addr)| match &prepared {
                Some((t, p)) if *t == ty => self.decode_one(p, addr, &child_root, kind),
                _ => self.decode_one(&Prepared::Other(ty), addr, &child_root, kind),
            })
            .unzip_into_vecs(&mut decoded, &mut messages);
        assemble(&mut fam, decoded);
        FamilyDone {
            fam,
            members,
            messages,
        }
    }
}

/// The result of a finished task (all are finished once the walk's scope
/// ends).
fn take_pending<T: Clone>(pending: Pending<T>) -> Option<T> {
    match Arc::try_unwrap(pending) {
        Ok(cell) => cell.into_inner(),
        Err(shared) => shared.get().cloned(),
    }
}

/// Adds the decoded members (in order, failed ones skipped) to `fam`.
fn assemble(fam: &mut FoundMap, decoded: Vec<Option<FoundMap>>) {
    // In place: the members' vector becomes the children's.
    #[allow(clippy::filter_map_identity)]
    let children: Vec<FoundMap> = decoded.into_iter().filter_map(|c| c).collect();
    let owned: usize = children.iter().map(|c| c.owned.len()).sum();
    fam.owned.reserve(owned);
    for child in &children {
        fam.len += 1;
        fam.live_entries += child.live_entries;
        fam.capacity += child.capacity;
        fam.tombstones += child.tombstones;
        fam.growing |= child.growing;
        fam.storage_bytes += child.storage_bytes;
        fam.owned.extend(child.owned.iter().copied());
    }
    if fam.children.is_empty() {
        fam.children = children;
    } else {
        fam.children.extend(children);
    }
}

/// Base addresses of the heap objects a decoded map owns: its storage
/// objects, the object holding its header, and those of its inner maps.
fn object_bases(heap: &Heap, inst: &MapInstance) -> Vec<u64> {
    fn count(inst: &MapInstance) -> usize {
        inst.objects.len() + 1 + inst.inner.iter().map(count).sum::<usize>()
    }
    let mut v = Vec::with_capacity(count(inst));
    push_object_bases(heap, inst, &mut v);
    v
}

fn push_object_bases(heap: &Heap, inst: &MapInstance, out: &mut Vec<u64>) {
    out.extend(inst.objects.iter().map(|o| o.base));
    // The decoders record the header first, from this same heap: its
    // base is the heap object holding the header (none when the heap
    // did not name one), without a second lookup.
    let header = match inst.objects.first() {
        Some(o) if o.kind == StorageKind::Header && o.address == inst.address => {
            (o.size_source == SizeSource::Heap).then_some(o.base)
        }
        _ => heap.object_at(inst.address).map(|o| o.address),
    };
    out.extend(header);
    for i in &inst.inner {
        push_object_bases(heap, i, out);
    }
}
