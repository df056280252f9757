//! The typed root walk: from DWARF-typed roots (globals, goroutine frame
//! locals, finalizer objects) through typed pointers, struct fields and
//! slices/arrays to every map, `sync.Map` and map family.
//!
//! Owns: following static types from a root to a map header, building
//! families (map of maps, slice/array of maps) and the Go-syntax root
//! paths (`main.registry.endpoints`, `main.tenantConfigs[*]`); decoding
//! the maps it meets on rayon tasks alongside the walk (a family's
//! members in parallel batches) and assembling the results in the order
//! of the walk.
//! Must not touch: decoding one map (the decoder modules), the object
//! graph and retained bytes ([`crate::graph`]), or the heap walk
//! (mapscope-goruntime).
//!
//! The walk is breadth-first, one root kind after the other (all
//! globals, then every goroutine's frame locals, then finalizer objects),
//! so a map reached several ways is named by the root kind that comes
//! first and, within it, by the path of fewest steps (a step: a pointer
//! dereference, a struct field, an element). An embedded field counts
//! as a step but is not printed unless it is the map itself: the path is
//! Go's promoted selector (`ctxt.ldr.symsByName`, not
//! `ctxt.ErrorReporter.ErrorReporter.ldr.symsByName`), and a direct field
//! of the same length wins over one reached through embedded structs.
//! Paths are kept as parent links in an arena and formatted only for the
//! maps found.
//!
//! Bounds (the core may not match the executable's types): depth
//! ([`MAX_DEPTH`]), elements per slice/array ([`MAX_ELEMS`], and a slice
//! never past the heap object holding its data), each heap object and
//! each slice backing array walked once (cycles), and a global budget of
//! queued values proportional to the heap's object count: when it runs
//! out the walk stops with one warning and returns what it found.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, OnceLock};

use mapscope_goruntime::dwarf::{DwarfInfo, TypeId, TypeKind};
use mapscope_goruntime::goroutines::Goroutines;
use mapscope_goruntime::heap::{Heap, HeapObject};
use mapscope_goruntime::GoProcess;
use rayon::prelude::*;

use crate::addrhash::{AddrHashBuilder, AddrSet};
use crate::alloc::{SizeSource, StorageKind};
use crate::discover::{
    key_value, key_value_cached, FoundMap, KeyValue, Place, RootKind, RootOrigin, RootVia,
};
use crate::reader::Reader;
use crate::{DecodeOptions, MapDecoder, MapInstance, MapTarget, Prepared};

/// Bound on the typed walk's depth (steps from a root).
const MAX_DEPTH: usize = 12;
/// Bound on how many elements of one slice/array the walk visits.
const MAX_ELEMS: u64 = 1 << 20;
/// The walk's budget of queued values: this many, plus
/// [`BUDGET_PER_OBJECT`] per heap object. A consistent core needs far
/// fewer (only values whose type leads to a map are queued, and each
/// heap object is entered once); a core read with another build's types
/// would otherwise follow garbage slices and pointers for hours.
const BUDGET_BASE: u64 = 1 << 20;
/// See [`BUDGET_BASE`].
const BUDGET_PER_OBJECT: u64 = 2;
/// Bound on the warnings the walk keeps.
const MAX_WARNINGS: usize = 100;
/// Family members decoded per parallel task (small maps: one task each
/// would cost more than the decoding).
const MEMBERS_PER_TASK: usize = 256;
/// A slice family owns the heap object holding its backing array only if
/// the object is not much larger than the array (size-class rounding):
/// never an enclosing struct that a subslice points into.
const OWN_ARRAY_SLACK: u64 = 8 << 10;
/// No parent in the path arena.
const NO_PARENT: u32 = u32::MAX;
/// How many queued values ahead [`Walker::drain`] prefetches.
const QUEUE_AHEAD: usize = 8;
/// [`Walker::contains_map`]'s memo: no value of the type leads to a map.
const NO_MAP: u8 = 1;
/// [`Walker::contains_map`]'s memo: a value of the type may lead to a map.
const LEADS_TO_MAP: u8 = 2;

/// Notes `value` for type `id` in `memo`, an array by type id grown (with
/// `unknown`) to the `types` the table has; nothing for an id past them.
fn memoise<T: Clone>(memo: &mut Vec<T>, id: TypeId, types: usize, unknown: T, value: T) {
    if id.index() >= types {
        return;
    }
    if memo.len() <= id.index() {
        memo.resize(types, unknown);
    }
    if let Some(slot) = memo.get_mut(id.index()) {
        *slot = value;
    }
}

/// A map's decoding: the found map (`None` when decoding failed) and the
/// decoder's warnings, or its error.
type Decoded = (Option<FoundMap>, Vec<String>);

/// A decoding running in parallel with the walk, filled in by its task.
type Pending<T> = Arc<OnceLock<T>>;

/// A family once its members are decoded: the family with its members
/// added, and the members that have warnings (in member order: the
/// member's address and its warnings; most members have none).
#[derive(Clone)]
struct FamilyDone {
    fam: FoundMap,
    messages: Vec<(u64, Vec<String>)>,
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

/// Storage objects at least this large have their pages released once
/// decoded (only arrays big enough to matter).
const RELEASE_AFTER_DECODE: u64 = 8 << 10;
/// Family members decoded and assembled at a time (see
/// [`crate::discover::DiscoverOptions`]).
const MEMBERS_PER_SLICE: usize = 1 << 16;
/// Released storage objects this close to each other are released in one
/// `madvise` with the pages between them (other objects' pages: a later
/// read maps them again): a map of 30,000 bucket arrays is a few calls,
/// not 30,000.
const RELEASE_GAP: u64 = 256 << 10;

/// What the decoding tasks share with the walk.
struct Shared<'a> {
    decoder: MapDecoder<'a>,
    heap: &'a Heap,
    /// Members kept per family ([`crate::discover::DiscoverOptions`]).
    members_kept: usize,
}

/// One step of a root path.
enum Step<'a> {
    /// The root itself (`main.registry`, `goroutine 7 main.f.m`).
    Root(Cow<'a, str>),
    /// A struct field: `.name`.
    Field(&'a str),
    /// An embedded field: printed only when it is the last step.
    Embedded(&'a str),
    /// An element: `[i]`.
    Index(u64),
}

/// A path as a link to its parent (an index into the arena).
struct PathNode<'a> {
    parent: u32,
    step: Step<'a>,
}

/// A value waiting to be walked.
#[derive(Clone, Copy)]
struct Item {
    ty: TypeId,
    addr: u64,
    path: u32,
    kind: RootKind,
    /// Index of the root's origin in [`Walker::origins`].
    origin: u32,
    depth: u8,
}

pub(crate) struct Walker<'a> {
    process: &'a GoProcess,
    shared: Arc<Shared<'a>>,
    heap: &'a Heap,
    seen_maps: AddrSet,
    /// Pointers dereferenced: one bit per heap object id for a pointer
    /// to an object's start (most), the others by address.
    seen_object_ids: Vec<u64>,
    seen_objects: AddrSet,
    /// The walk's reads of pointer and slice words (the last piece of the
    /// core cached: no search per read).
    reader: Reader<'a>,
    /// Slice backing arrays walked, with their element type.
    seen_arrays: HashSet<(u64, TypeId), AddrHashBuilder>,
    /// Per resolved type id: whether a value of it may lead to a map
    /// ([`Walker::contains_map`]; 0 unknown, else [`NO_MAP`] or
    /// [`LEADS_TO_MAP`]), and what it designates
    /// ([`Walker::target`]; `None` unknown). Asked once per value the walk
    /// queues or visits: indexed, not hashed.
    contains: Vec<u8>,
    targets: Vec<Option<Option<MapTarget>>>,
    found: Vec<Found>,
    /// Paths of the queued values (parent links).
    paths: Vec<PathNode<'a>>,
    /// The roots pushed, typed (one per root: the budget bounds them).
    origins: Vec<RootOrigin>,
    queue: VecDeque<Item>,
    /// Values still allowed into the queue.
    budget: u64,
    /// Set once the budget ran out (one warning).
    exhausted: bool,
    warnings: Vec<String>,
}

impl<'a> Walker<'a> {
    pub(crate) fn new(process: &'a GoProcess, dwarf: &'a DwarfInfo, heap: &'a Heap) -> Walker<'a> {
        let budget =
            BUDGET_BASE.saturating_add(heap.object_count().saturating_mul(BUDGET_PER_OBJECT));
        Walker::with_budget(process, dwarf, heap, budget)
    }

    /// A walker that queues at most `budget` values.
    fn with_budget(
        process: &'a GoProcess,
        dwarf: &'a DwarfInfo,
        heap: &'a Heap,
        budget: u64,
    ) -> Walker<'a> {
        // Entries are read only for maps of maps (their members), which ask
        // for them; nobody reads the others'.
        let options = DecodeOptions {
            collect_entries: false,
        };
        let decoder = MapDecoder::with_options(process.memory(), dwarf, options);
        Walker {
            process,
            shared: Arc::new(Shared {
                decoder,
                heap,
                members_kept: usize::MAX,
            }),
            heap,
            seen_maps: AddrSet::default(),
            seen_object_ids: Vec::new(),
            seen_objects: AddrSet::default(),
            reader: Reader::new(process.memory()),
            seen_arrays: HashSet::default(),
            contains: Vec::new(),
            targets: Vec::new(),
            found: Vec::new(),
            paths: Vec::new(),
            origins: Vec::new(),
            queue: VecDeque::new(),
            budget,
            exhausted: false,
            warnings: Vec::new(),
        }
    }

    /// Walks every root: globals, then the locals of every goroutine
    /// frame, then objects with finalizers (from their static type, the
    /// special's `ot`: the pointer type SetFinalizer was given). Each
    /// root kind is walked breadth-first to the end before the next.
    ///
    /// The maps met are decoded by tasks running alongside; this returns
    /// when all are decoded.
    pub(crate) fn walk_roots(&mut self, goroutines: Option<&Goroutines>) {
        let dwarf = self.shared.decoder.dwarf();
        rayon::scope(|s| {
            for g in dwarf.globals().all() {
                if !self.contains_map(g.ty) {
                    continue;
                }
                let root = Step::Root(Cow::Borrowed(g.name.as_str()));
                let origin = RootOrigin::Global {
                    variable: Arc::from(g.name.as_str()),
                };
                self.push_root(g.ty, g.address, root, RootKind::Global, origin);
            }
            self.drain(s);
            for g in goroutines.map(|gs| gs.goroutines.as_slice()).unwrap_or(&[]) {
                for f in &g.frames {
                    for l in f.locals() {
                        let Some(a) = l.address() else { continue };
                        if !self.contains_map(l.ty) {
                            continue;
                        }
                        let path = format!("goroutine {} {}.{}", g.id, f.function, l.name);
                        let origin = RootOrigin::Goroutine {
                            goroutine: g.id,
                            function: Arc::from(f.function.as_str()),
                        };
                        let root = Step::Root(Cow::Owned(path));
                        self.push_root(l.ty, a, root, RootKind::Goroutine, origin);
                    }
                }
            }
            self.drain(s);
            for (object, ty, name) in crate::roots::finalizer_objects(self.process, self.heap) {
                if !self.contains_map(ty) {
                    continue;
                }
                let path = format!("finalizer({name})");
                let origin = RootOrigin::Finalizer {
                    object_type: Arc::from(name.as_str()),
                };
                self.push_root(
                    ty,
                    object,
                    Step::Root(Cow::Owned(path)),
                    RootKind::Finalizer,
                    origin,
                );
            }
            self.drain(s);
        });
    }

    /// Keeps at most `n` members per family (see
    /// [`crate::discover::DiscoverOptions`]); before the walk starts.
    pub(crate) fn with_members_kept(mut self, n: usize) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.members_kept = n;
        }
        self
    }

    /// The maps found, in the order the walk found them (decoded), and
    /// the walk's warnings. Ends the walk: its sets and paths are freed
    /// (the walker lives on for its decoder, through the memory-heavy
    /// graph phases; a million-member family's seen set alone is ~20 MB).
    pub(crate) fn take_results(&mut self) -> (Vec<FoundMap>, Vec<String>) {
        self.seen_maps = AddrSet::default();
        self.seen_object_ids = Vec::new();
        self.seen_objects = AddrSet::default();
        self.seen_arrays = HashSet::default();
        self.paths = Vec::new();
        self.origins = Vec::new();
        self.queue = VecDeque::new();
        let mut warnings = std::mem::take(&mut self.warnings);
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
                    for (addr, messages) in &done.messages {
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

    /// Walks values whose type is known from elsewhere (heap objects the
    /// runtime types, without DWARF: [`crate::typedheap`]), each a root
    /// named `name` of unknown origin, after [`Walker::walk_roots`].
    pub(crate) fn walk_values(&mut self, values: Vec<(TypeId, u64, String, RootKind)>) {
        rayon::scope(|s| {
            for (ty, addr, name, kind) in values {
                let root = Step::Root(Cow::Owned(name));
                self.push_root(ty, addr, root, kind, RootOrigin::Unknown);
            }
            self.drain(s);
        });
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

    /// What the resolved type `rt` designates (the decoder's
    /// [`MapDecoder::target`], memoised).
    fn target(&mut self, rt: TypeId) -> Option<MapTarget> {
        if let Some(&Some(known)) = self.targets.get(rt.index()) {
            return known;
        }
        let found = self.shared.decoder.target(rt);
        let types = self.types().len();
        memoise(&mut self.targets, rt, types, None, Some(found));
        found
    }

    /// Whether pointer `p` (into heap object `object`, if any) is
    /// dereferenced for the first time: each heap object is entered once
    /// per address. A pointer to an object's start is noted as a bit of
    /// its id (a bit set the size of the heap's object count stays in
    /// cache where a hash set of millions of addresses misses), any other
    /// by its address.
    fn first_dereference(&mut self, p: u64, object: Option<HeapObject>) -> bool {
        let id = object
            .filter(|o| o.data_start() == p)
            .and_then(|_| self.heap.object_id(p))
            .map(|id| id as usize);
        let Some(id) = id else {
            return self.seen_objects.insert(p);
        };
        if self.seen_object_ids.is_empty() {
            let n = usize::try_from(self.heap.object_count()).unwrap_or(usize::MAX);
            self.seen_object_ids = vec![0; n.div_ceil(64)];
        }
        match self.seen_object_ids.get_mut(id / 64) {
            Some(w) => {
                let bit = 1u64 << (id % 64);
                let first = *w & bit == 0;
                *w |= bit;
                first
            }
            None => self.seen_objects.insert(p),
        }
    }

    /// Whether a value of `ty` may lead to a map (memoised, cycle-safe).
    pub(crate) fn contains_map(&mut self, ty: TypeId) -> bool {
        let types = self.types();
        let root = types.resolve(ty);
        match self.contains.get(root.index()) {
            Some(&NO_MAP) => return false,
            Some(&LEADS_TO_MAP) => return true,
            _ => {}
        }
        let mut stack = vec![ty];
        let mut visiting = HashSet::new();
        let mut result = false;
        while let Some(t) = stack.pop() {
            let t = types.resolve(t);
            match self.contains.get(t.index()) {
                Some(&LEADS_TO_MAP) => {
                    result = true;
                    break;
                }
                Some(&NO_MAP) => continue,
                _ => {}
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
        let known = if result { LEADS_TO_MAP } else { NO_MAP };
        memoise(&mut self.contains, root, types.len(), 0, known);
        result
    }

    /// Takes one value out of the budget; `false` (and one warning) once
    /// it is spent.
    fn spend(&mut self) -> bool {
        if self.budget > 0 {
            self.budget -= 1;
            return true;
        }
        if !self.exhausted {
            self.exhausted = true;
            self.warnings.push(format!(
                "typed root walk stopped: more than {} values queued (heap of {} objects); \
                 maps not reached by then are missing from the root walk \
                 (does the executable match the core?)",
                BUDGET_BASE
                    .saturating_add(self.heap.object_count().saturating_mul(BUDGET_PER_OBJECT)),
                self.heap.object_count()
            ));
        }
        false
    }

    /// Queues a root value.
    fn push_root(
        &mut self,
        ty: TypeId,
        addr: u64,
        root: Step<'a>,
        kind: RootKind,
        origin: RootOrigin,
    ) {
        if !self.contains_map(ty) || !self.spend() {
            return;
        }
        let path = self.add_path(NO_PARENT, root);
        let Ok(o) = u32::try_from(self.origins.len()) else {
            return;
        };
        self.origins.push(origin);
        self.queue.push_back(Item {
            ty,
            addr,
            path,
            kind,
            origin: o,
            depth: 0,
        });
    }

    /// Queues a value one step below `from` (`step`: its path step, `None`
    /// for a pointer dereference, which Go selectors do not print).
    fn push(&mut self, from: &Item, ty: TypeId, addr: u64, step: Option<Step<'a>>, kind: RootKind) {
        let depth = usize::from(from.depth) + 1;
        if depth > MAX_DEPTH || !self.contains_map(ty) || !self.spend() {
            return;
        }
        let path = match step {
            Some(step) => self.add_path(from.path, step),
            None => from.path,
        };
        self.queue.push_back(Item {
            ty,
            addr,
            path,
            kind,
            origin: from.origin,
            depth: depth as u8,
        });
    }

    fn add_path(&mut self, parent: u32, step: Step<'a>) -> u32 {
        // The arena holds at most one node per queued value: the budget
        // bounds it (and u32 ids suffice below it).
        let id = u32::try_from(self.paths.len()).unwrap_or(NO_PARENT - 1);
        self.paths.push(PathNode { parent, step });
        id
    }

    /// The Go-syntax path of a queued value.
    fn path_string(&self, mut id: u32) -> String {
        let mut steps = Vec::new();
        while let Some(node) = self.paths.get(id as usize) {
            steps.push(&node.step);
            if steps.len() > MAX_DEPTH + 1 || node.parent == NO_PARENT {
                break;
            }
            id = node.parent;
        }
        let mut out = String::new();
        let last = steps.first().map(|s| *s as *const Step);
        for step in steps.iter().rev() {
            match step {
                Step::Root(r) => out.push_str(r),
                Step::Field(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                Step::Embedded(name) => {
                    if Some(*step as *const Step) == last {
                        out.push('.');
                        out.push_str(name);
                    }
                }
                Step::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }

    /// Where a map met as `item` is: its path, root kind and origin; the
    /// root itself when the path is one step (pointer dereferences are
    /// not steps).
    fn place(&self, item: &Item) -> Place {
        let direct = self
            .paths
            .get(item.path as usize)
            .is_some_and(|n| n.parent == NO_PARENT);
        Place {
            root: self.path_string(item.path),
            kind: item.kind,
            origin: self
                .origins
                .get(item.origin as usize)
                .cloned()
                .unwrap_or_default(),
            via: if direct {
                RootVia::Variable
            } else {
                RootVia::Typed
            },
        }
    }

    /// Walks the queue breadth-first until it is empty.
    fn drain<'s>(&mut self, s: &rayon::Scope<'s>)
    where
        'a: 's,
    {
        while let Some(item) = self.queue.pop_front() {
            // The values queued are spread over the heap: start loading
            // the one visited a few steps later (its first word is read).
            if let Some(later) = self.queue.get(QUEUE_AHEAD) {
                if let Ok(bytes) = self.reader.bytes(later.addr, 1) {
                    if let Some(b) = bytes.first() {
                        mapscope_goruntime::heap::prefetch(b);
                    }
                }
            }
            self.visit(s, item);
        }
    }

    /// Records a map found at `path`, decoded by a task of its own.
    fn found_map<'s>(&mut self, s: &rayon::Scope<'s>, ty: TypeId, addr: u64, place: Place)
    where
        'a: 's,
    {
        let decoded: Pending<Decoded> = Arc::default();
        self.found.push(Found::Map {
            addr,
            decoded: decoded.clone(),
        });
        let shared = self.shared.clone();
        s.spawn(move |_| {
            let _ = decoded.set(shared.decode_one(&Prepared::Other(ty), addr, &place, None));
        });
    }

    /// Records a family of members (`(type, header pointer)`), each
    /// decoded later unless an earlier root reached it. `container`: the
    /// heap objects the family itself owns (a slice's own backing array,
    /// a map of maps' storage) — never an object the family only sits in.
    #[allow(clippy::too_many_arguments)]
    fn family<'s>(
        &mut self,
        s: &rayon::Scope<'s>,
        members: Vec<(TypeId, u64)>,
        place: Place,
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
            root: place.root,
            root_kind: place.kind,
            origin: place.origin,
            via: place.via,
            type_name,
            kind: crate::discover::FoundKind::Family,
            address,
            storage_bytes,
            owned: container,
            ..FoundMap::default()
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
        place: Place,
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
        self.family(s, members, place, type_name, p, own, parent);
    }

    /// The heap object holding a slice's backing array at `data`, if the
    /// slice owns it: the object's data starts at `data` and is not much
    /// larger than `cap` elements (a subslice of a bigger object, or of an
    /// array inside a struct, owns nothing).
    fn own_backing_array(&self, data: u64, cap: u64, esize: u64) -> Option<u64> {
        let o = self.heap.object_at(data)?;
        let bytes = cap.checked_mul(esize)?;
        let limit = bytes.saturating_mul(2).saturating_add(OWN_ARRAY_SLACK);
        (o.data_start() == data && o.size <= limit).then_some(o.address)
    }

    /// Walks one queued value: a map is recorded, anything else queues
    /// the values below it that may lead to a map.
    fn visit<'s>(&mut self, s: &rayon::Scope<'s>, item: Item)
    where
        'a: 's,
    {
        let Item { ty, addr, kind, .. } = item;
        let types = self.types();
        let rt = types.resolve(ty);
        if let Some(target) = self.target(rt) {
            match target {
                MapTarget::SyncMap { .. } => {
                    if addr != 0 && self.seen_maps.insert(addr) {
                        let place = self.place(&item);
                        self.found_map(s, rt, addr, place);
                    }
                }
                MapTarget::Map { id, map } => {
                    let Ok(p) = self.reader.u64(addr) else {
                        return;
                    };
                    if p == 0 || !self.seen_maps.insert(p) {
                        return;
                    }
                    let place = self.place(&item);
                    let vt = types.resolve(map.value);
                    if matches!(self.shared.decoder.target(vt), Some(MapTarget::Map { .. })) {
                        // A map of maps: the members are the values.
                        self.map_of_maps(s, (id, map), vt, p, place);
                    } else {
                        self.found_map(s, rt, p, place);
                    }
                }
            }
            return;
        }
        let t = types.get(rt);
        match t.kind {
            TypeKind::Pointer { target: Some(x) } => {
                let Ok(p) = self.reader.u64(addr) else {
                    return;
                };
                if p == 0 || !self.contains_map(x) {
                    return;
                }
                let object = self.heap.object_at(p);
                if !self.first_dereference(p, object) {
                    return;
                }
                let k = if object.is_some() {
                    match kind {
                        RootKind::Global => RootKind::Heap,
                        other => other,
                    }
                } else {
                    kind
                };
                self.push(&item, x, p, None, k);
            }
            TypeKind::Struct => {
                for f in &t.fields {
                    let Some(a) = addr.checked_add(f.offset) else {
                        continue;
                    };
                    let step = if f.embedded {
                        Step::Embedded(f.name.as_str())
                    } else {
                        Step::Field(f.name.as_str())
                    };
                    self.push(&item, f.ty, a, Some(step), kind);
                    if self.exhausted {
                        return;
                    }
                }
            }
            TypeKind::Slice { elem } | TypeKind::Array { elem, .. } => {
                let esize = types.size_of(elem).unwrap_or(0);
                if esize == 0 || !self.contains_map(elem) {
                    return;
                }
                let (data, n, owner) = match t.kind {
                    TypeKind::Slice { .. } => {
                        let d = self.reader.u64(addr).unwrap_or(0);
                        let n = self.reader.u64(addr.saturating_add(8)).unwrap_or(0);
                        let cap = self.reader.u64(addr.saturating_add(16)).unwrap_or(0);
                        if d == 0 || n == 0 || !self.seen_arrays.insert((d, types.resolve(elem))) {
                            return;
                        }
                        // Never past the heap object holding the data,
                        // nor past readable memory.
                        let n = match self.heap.object_at(d) {
                            Some(o) => n.min(o.end().saturating_sub(d) / esize),
                            None => {
                                let last =
                                    d.checked_add((n.min(MAX_ELEMS) - 1).saturating_mul(esize));
                                match last.map(|l| self.reader.u64(l)) {
                                    Some(Ok(_)) => n,
                                    _ => 0,
                                }
                            }
                        };
                        let owner = self.own_backing_array(d, cap.max(n), esize);
                        (d, n, owner)
                    }
                    // An array is inline: in a global, a frame or the
                    // object holding it, which it does not own.
                    TypeKind::Array { count, .. } => (addr, count, None),
                    _ => return,
                };
                if data == 0 || n == 0 {
                    return;
                }
                let n = n.min(MAX_ELEMS);
                let ve = types.resolve(elem);
                if matches!(self.shared.decoder.target(ve), Some(MapTarget::Map { .. })) {
                    let reader = Reader::new(self.mem());
                    let members: Vec<(TypeId, u64)> = (0..n)
                        .filter_map(|i| reader.u64(data.wrapping_add(i.wrapping_mul(esize))).ok())
                        .map(|m| (ve, m))
                        .collect();
                    let place = self.place(&item);
                    self.family(
                        s,
                        members,
                        place,
                        t.name.clone(),
                        data,
                        owner.into_iter().collect(),
                        None,
                    );
                } else {
                    for i in 0..n {
                        let a = data.wrapping_add(i.wrapping_mul(esize));
                        self.push(&item, elem, a, Some(Step::Index(i)), kind);
                        if self.exhausted {
                            return;
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

impl Shared<'_> {
    /// Decodes the map at `addr` into a found map rooted at `root`.
    /// `kv`: the key/value types a family's members share, filled by the
    /// first member decoded.
    fn decode_one(
        &self,
        ty: &Prepared,
        addr: u64,
        place: &Place,
        kv: Option<&OnceLock<KeyValue>>,
    ) -> Decoded {
        match self.decode_instance(ty, addr) {
            Ok(mut inst) => {
                let owned = object_bases(self.heap, &inst);
                let warnings = std::mem::take(&mut inst.warnings);
                (Some(self.found(inst, owned, place, kv)), warnings)
            }
            Err(e) => (None, vec![e.to_string()]),
        }
    }

    /// Decodes the map at `addr`.
    fn decode_instance(&self, ty: &Prepared, addr: u64) -> Result<MapInstance, crate::MapError> {
        let inst = self.decoder.decode_prepared(ty, addr, self.heap)?;
        // Large storage arrays are read once here: their core pages leave
        // the resident set (they stay in the page cache and map again if
        // read later), so decoding every map of a multi-GB heap does not
        // hold it all resident.
        release_storage(self.decoder.memory(), &inst.objects);
        Ok(inst)
    }

    /// The found map of decoded `inst` rooted at `place`, owning the heap
    /// objects `owned` (see [`Shared::decode_one`]).
    fn found(
        &self,
        mut inst: MapInstance,
        owned: Vec<u64>,
        place: &Place,
        kv: Option<&OnceLock<KeyValue>>,
    ) -> FoundMap {
        // Moved rather than copied: a million family members.
        let type_name = std::mem::take(&mut inst.type_name);
        let types = self.decoder.dwarf().types();
        let kv = match kv {
            Some(cache) => key_value_cached(types, &inst, cache),
            None => key_value(types, &inst),
        };
        let mut f = FoundMap::new(&inst, place.clone(), owned, kv);
        f.type_name = type_name;
        f
    }

    /// Decodes a family's members (in parallel batches) and adds them to
    /// it.
    fn decode_family(&self, mut fam: FoundMap, members: Vec<(TypeId, u64)>) -> FamilyDone {
        let child = Place {
            root: format!("{}[*]", fam.root),
            kind: fam.root_kind,
            origin: fam.origin.clone(),
            via: RootVia::Typed,
        };
        let kv: OnceLock<KeyValue> = OnceLock::new();
        // The members of a family share their type: resolved once.
        let mut prepared: Option<(TypeId, Prepared)> = None;
        if let Some(&(ty, _)) = members.first() {
            if members.iter().all(|&(t, _)| t == ty) {
                prepared = Some((ty, self.decoder.prepare(ty)));
            }
        }
        // Warnings are rare: kept aside with the member's index rather
        // than one (empty) list per member of a million.
        let warned: std::sync::Mutex<Vec<(usize, u64, Vec<String>)>> = Default::default();
        // Decoded a slice at a time and assembled before the next: when
        // only some members are kept (the largest), a million members
        // never exist as records at once.
        let slice = MEMBERS_PER_SLICE;
        let keep = self.members_kept;
        for (n, part) in members.chunks(slice).enumerate() {
            // Each task adds its members up in order (a tally with the
            // largest few kept, never a record per member collected and
            // moved), the tallies joined in order.
            let mut tally = part
                .par_iter()
                .enumerate()
                .with_min_len(MEMBERS_PER_TASK)
                .fold(MemberTally::default, |mut tally, (j, &(ty, addr))| {
                    // The family's shared type, resolved once, and its
                    // key/value cache; another type on its own.
                    let (decoded, kv) = match &prepared {
                        Some((t, p)) if *t == ty => (self.decode_instance(p, addr), Some(&kv)),
                        _ => (self.decode_instance(&Prepared::Other(ty), addr), None),
                    };
                    let messages = match decoded {
                        Ok(mut inst) => {
                            let messages = std::mem::take(&mut inst.warnings);
                            let owned = object_bases(self.heap, &inst);
                            if tally.drops(&inst) {
                                // Not among the largest: only counted.
                                tally.fam.count_omitted(&inst, &owned);
                            } else {
                                let c = self.found(inst, owned, &child, kv);
                                tally.fam.count_member(&c);
                                tally.fam.children.push(c);
                                tally.keep_largest(keep);
                            }
                            messages
                        }
                        Err(e) => vec![e.to_string()],
                    };
                    if !messages.is_empty() {
                        if let Ok(mut w) = warned.lock() {
                            w.push((n * slice + j, addr, messages));
                        }
                    }
                    tally
                })
                .map(|t| t.fam)
                .reduce(Box::<FoundMap>::default, |mut a, mut b| {
                    a.add_tally(&mut b, keep, keep.saturating_mul(2));
                    a
                });
            fam.add_tally(&mut tally, keep, keep);
        }
        if fam.children.len() < fam.children.capacity() / 2 {
            fam.children.shrink_to_fit();
        }
        drop(members);
        let mut warned = warned.into_inner().unwrap_or_default();
        warned.sort_unstable_by_key(|w| w.0);
        FamilyDone {
            fam,
            messages: warned.into_iter().map(|(_, a, m)| (a, m)).collect(),
        }
    }
}

/// A task's members of a family: their sums and objects in `fam`, its
/// largest members (storage, then lowest address) in `fam.children`,
/// between `keep` and twice as many; `floor`, once members were dropped,
/// the smallest member kept then: a member ranked after it can never be
/// among the largest, so it is counted without a record of its own.
#[derive(Default)]
struct MemberTally {
    fam: Box<FoundMap>,
    floor: Option<(u64, u64)>,
}

impl MemberTally {
    /// Whether a member decoded as `inst` ranks after the floor.
    fn drops(&self, inst: &MapInstance) -> bool {
        self.floor.is_some_and(|(storage, address)| {
            (inst.storage_bytes, std::cmp::Reverse(inst.address))
                < (storage, std::cmp::Reverse(address))
        })
    }

    /// [`FoundMap::keep_largest_children`] above twice `keep`, then the
    /// floor raised to the smallest member kept.
    fn keep_largest(&mut self, keep: usize) {
        let before = self.fam.children.len();
        self.fam.keep_largest_children(keep, keep.saturating_mul(2));
        if self.fam.children.len() < before {
            self.floor = self
                .fam
                .children
                .iter()
                .map(|c| (c.storage_bytes, std::cmp::Reverse(c.address)))
                .min()
                .map(|(s, a)| (s, a.0));
        }
    }
}

/// Releases the core pages of the storage objects of at least
/// [`RELEASE_AFTER_DECODE`] bytes, objects within [`RELEASE_GAP`] of each
/// other in one call.
fn release_storage(mem: &mapscope_elfcore::ProcessMemory, objects: &[crate::alloc::StorageObject]) {
    let mut ranges: Vec<(u64, u64)> = objects
        .iter()
        .filter(|o| o.size >= RELEASE_AFTER_DECODE)
        .map(|o| (o.base, o.base.saturating_add(o.size)))
        .collect();
    ranges.sort_unstable();
    let mut run: Option<(u64, u64)> = None;
    for (lo, hi) in ranges {
        run = match run {
            Some((a, b)) if lo <= b.saturating_add(RELEASE_GAP) => Some((a, b.max(hi))),
            Some((a, b)) => {
                mem.release(a, b - a);
                Some((lo, hi))
            }
            None => Some((lo, hi)),
        };
    }
    if let Some((a, b)) = run {
        mem.release(a, b - a);
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

#[cfg(test)]
mod tests {
    use super::*;
    use mapscope_testsupport::sample;

    fn walk_with(budget: Option<u64>) -> (Vec<FoundMap>, Vec<String>) {
        let s = sample("go1.26");
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
        let dwarf = process.dwarf().expect("dwarf");
        let heap = process.heap().expect("heap");
        let mut w = match budget {
            Some(b) => Walker::with_budget(&process, dwarf, heap, b),
            None => Walker::new(&process, dwarf, heap),
        };
        let goroutines = process.goroutines().ok();
        w.walk_roots(goroutines.as_ref());
        w.take_results()
    }

    fn stopped(warnings: &[String]) -> usize {
        warnings
            .iter()
            .filter(|w| w.starts_with("typed root walk stopped"))
            .count()
    }

    /// A spent budget stops the walk with exactly one warning, and what
    /// was found until then is returned; the default budget is never hit
    /// on a consistent core.
    #[test]
    fn budget_stops_the_walk_with_one_warning() {
        let (all, warnings) = walk_with(None);
        assert_eq!(stopped(&warnings), 0, "{warnings:?}");
        assert!(all.iter().any(|m| m.root == "main.sessionsByID"));
        let (few, warnings) = walk_with(Some(50));
        assert_eq!(stopped(&warnings), 1, "{warnings:?}");
        assert!(few.len() < all.len(), "{} vs {}", few.len(), all.len());
        let (none, warnings) = walk_with(Some(0));
        assert_eq!(stopped(&warnings), 1, "{warnings:?}");
        assert!(none.is_empty());
    }

    /// Walks the globals of `core` read `shift` bytes off; (maps found,
    /// budget warnings, time).
    fn walk_shifted(
        core: &std::path::Path,
        exe: &std::path::Path,
        shift: u64,
    ) -> (usize, usize, std::time::Duration) {
        let process = GoProcess::open(core, Some(exe)).expect("open");
        let dwarf = process.dwarf().expect("dwarf");
        let heap = process.heap().expect("heap");
        let start = std::time::Instant::now();
        let mut w = Walker::new(&process, dwarf, heap);
        let budget = w.budget;
        rayon::scope(|sc| {
            for g in dwarf.globals().all() {
                let root = Step::Root(Cow::Borrowed(g.name.as_str()));
                let origin = RootOrigin::Global {
                    variable: Arc::from(g.name.as_str()),
                };
                w.push_root(g.ty, g.address + shift, root, RootKind::Global, origin);
            }
            w.drain(sc);
        });
        let spent = budget - w.budget;
        let (maps, warnings) = w.take_results();
        eprintln!(
            "{} heap objects, budget {budget}, spent {spent}",
            heap.object_count()
        );
        (maps.len(), stopped(&warnings), start.elapsed())
    }

    /// The near miss of the field (a core read with the executable of
    /// another build of the same source): every global read a few words
    /// off, with the heap intact, so roots hold the wrong words and
    /// garbage slices and pointers lead into the heap. The walk ends well
    /// within its budget's time, with at most one warning.
    #[test]
    fn globals_read_off_by_some_words_are_walked_in_bounded_time() {
        let s = sample("go1.26");
        for shift in [8u64, 16, 32, 40, 64] {
            let (maps, stops, took) = walk_shifted(&s.core, &s.exe, shift);
            eprintln!("shift {shift}: {maps} maps, {stops} budget warnings, {took:?}");
            assert!(stops <= 1);
            assert!(
                took < std::time::Duration::from_secs(30),
                "shift {shift}: {took:?}"
            );
        }
    }

    /// The same on real programs' cores (Go's compile and link), from
    /// `MAPSCOPE_REALWORLD` (default /tmp/realworld): `<dir>/core` and the
    /// executable named like the directory's program.
    #[test]
    #[ignore = "needs real-program incidents in /tmp/realworld (MAPSCOPE_REALWORLD)"]
    fn real_programs_with_globals_read_off_are_walked_in_bounded_time() {
        let root = std::env::var("MAPSCOPE_REALWORLD").unwrap_or_else(|_| "/tmp/realworld".into());
        let mut runs = 0;
        for (dir, exe) in [("go1.26-compile", "compile"), ("go1.26-link", "link")] {
            let d = std::path::Path::new(&root).join(dir);
            if !d.join("core").is_file() || !d.join(exe).is_file() {
                continue;
            }
            for shift in [0u64, 8, 32] {
                let (maps, stops, took) = walk_shifted(&d.join("core"), &d.join(exe), shift);
                eprintln!("{dir} shift {shift}: {maps} maps, {stops} budget warnings, {took:?}");
                assert!(stops <= 1);
                assert!(
                    took < std::time::Duration::from_secs(120),
                    "{dir} shift {shift}: {took:?}"
                );
                runs += 1;
            }
        }
        assert!(runs > 0, "no real-program incident under {root}");
    }

    /// Paths are printed in Go selector syntax: pointers dereferenced
    /// implicitly, embedded fields left out unless last, elements indexed.
    #[test]
    fn path_strings() {
        let s = sample("go1.26");
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
        let dwarf = process.dwarf().expect("dwarf");
        let heap = process.heap().expect("heap");
        let mut w = Walker::with_budget(&process, dwarf, heap, 0);
        let root = w.add_path(NO_PARENT, Step::Root(Cow::Borrowed("ctxt")));
        let e1 = w.add_path(root, Step::Embedded("ErrorReporter"));
        let e2 = w.add_path(e1, Step::Embedded("ErrorReporter"));
        let ldr = w.add_path(e2, Step::Field("ldr"));
        let syms = w.add_path(ldr, Step::Field("symsByName"));
        assert_eq!(w.path_string(syms), "ctxt.ldr.symsByName");
        assert_eq!(w.path_string(e2), "ctxt.ErrorReporter");
        let i = w.add_path(syms, Step::Index(3));
        assert_eq!(w.path_string(i), "ctxt.ldr.symsByName[3]");
        assert_eq!(w.path_string(root), "ctxt");
    }
}
