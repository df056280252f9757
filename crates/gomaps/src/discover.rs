//! Finds every map instance of a process from its roots and measures the
//! bytes each would free (retained bytes).
//!
//! Owns: the order of the discovery pipeline — the typed root walk
//! (`walker`), pointer maps and the object graph
//! ([`crate::graph`]), the GC's root set ([`crate::roots`]) and the
//! shortest paths from it, the dominator tree's retainers
//! ([`crate::dominators`], named by [`crate::unrooted::name_objects`]),
//! without DWARF the maps inside typed heap objects
//! (`typedheap`), unrooted map storage and garbage
//! ([`crate::unrooted`]; without DWARF these two are how maps are found,
//! their globals then named by [`crate::stripped`]) and the
//! retained-size measurement; which of these run side by side (the
//! typed walk beside the graph build, the dominator tree beside root
//! paths → typed heap objects → unrooted storage: each pair reads the
//! same heap or graph and nothing of the other, and the results are
//! assembled — warnings too — in the order of a sequential run) — and its
//! result types ([`FoundMap`] — the one typed record of a map, with its
//! root ([`RootKind`], [`RootOrigin`], [`RootVia`]), kind ([`FoundKind`])
//! and key/value types ([`SlotType`]) — and [`Discovery`]).
//! On a heap whose span list is incomplete (a cut core lost `allspans` or
//! the mspans) the typed walk still finds every map whose header and
//! storage are in the core, sized from its header; retained bytes are
//! then lower bounds ([`Discovery::retained_lower_bound`]).
//! Must not touch: decoding one map (the decoder modules), graph
//! algorithms, or the heap walk itself (mapscope-goruntime).

use mapscope_goruntime::timing::phase;
use mapscope_goruntime::GoProcess;
use rayon::prelude::*;
use serde::Serialize;

use std::sync::Arc;

use mapscope_goruntime::dwarf::{TypeId, TypeTable};

use crate::error::DiscoverError;
use crate::model::Storage;
use crate::pointers::PointerMaps;
use crate::walker::Walker;
use crate::{MapInstance, MapKind};

pub use crate::graph::{ObjectGraph, Reached, RetainedMany, Structure};
pub use crate::unrooted::{Garbage, GarbagePart};

/// Deepest family nesting followed up from a member to its map.
const MAX_NESTING: usize = 8;
/// Family children whose retained bytes are measured one by one (the
/// largest by storage: members are sorted so before measuring).
const MEASURED_CHILDREN: usize = 8;

/// How many family members reports list by default (`--children`): a
/// family of a million maps is summed in its own row; listing every member
/// would make a report of hundreds of MB that nobody reads.
pub const LISTED_CHILDREN: usize = 100;

pub use mapscope_goheap::roots::{RootKind, RootOrigin};

/// How `root` goes from its origin to the map. JSON: `root_via`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RootVia {
    /// The root is the variable holding the structure itself (the map,
    /// `sync.Map` or family slice: `main.sessionsByID`, `main.smallMaps`,
    /// `goroutine 5 main.worker.m`).
    Variable,
    /// A Go selector path of DWARF-typed fields, pointers and elements
    /// (`main.registry.endpoints`, `main.tenantConfigs[*]`).
    Typed,
    /// The shortest path through heap objects, some untyped
    /// (`main.x (unsafe.Pointer) → map`; [`crate::unrooted`]).
    Objects,
    /// No path (`(unknown)`).
    #[default]
    None,
}

/// What a record is. JSON: `kind` (`map`, `sync.Map`, `map-family`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum FoundKind {
    #[default]
    #[serde(rename = "map")]
    Map,
    #[serde(rename = "sync.Map")]
    SyncMap,
    /// A map of maps, or a slice/array of maps: `len` counts members.
    #[serde(rename = "map-family")]
    Family,
}

impl FoundKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FoundKind::Map => "map",
            FoundKind::SyncMap => "sync.Map",
            FoundKind::Family => "map-family",
        }
    }
}

impl std::fmt::Display for FoundKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for FoundKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for FoundKind {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// A map's key or value type as its storage holds it (DWARF's type and
/// size; `indirect`: the slot holds a pointer to it, Go's rule for keys
/// and values over 128 bytes, read from the decoded layout). JSON: `key`
/// and `value`, `{"type","size","indirect"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SlotType {
    #[serde(rename = "type", serialize_with = "arc_str")]
    pub type_name: Arc<str>,
    /// The type's own size (not the slot's when indirect).
    pub size: u64,
    pub indirect: bool,
    #[serde(skip)]
    pub type_id: TypeId,
}

/// The key and value types of a decoded map (`None` when the decoder did
/// not know one).
pub type KeyValue = (Option<SlotType>, Option<SlotType>);

fn arc_str<S: serde::Serializer>(s: &Arc<str>, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s)
}

/// The key and value of `inst` with DWARF's names and sizes.
pub(crate) fn key_value(types: &TypeTable, inst: &MapInstance) -> KeyValue {
    let (ik, ie) = indirect_flags(inst);
    let slot = |id: TypeId, indirect: bool| {
        (id != TypeId::UNKNOWN).then(|| SlotType {
            type_name: Arc::from(types.get(id).name.as_str()),
            size: types.size_of(id).unwrap_or(0),
            indirect,
            type_id: id,
        })
    };
    (slot(inst.key_type, ik), slot(inst.elem_type, ie))
}

/// [`key_value`], reusing `cached` (a family's members share their type)
/// when it describes the same types.
pub(crate) fn key_value_cached(
    types: &TypeTable,
    inst: &MapInstance,
    cached: &std::sync::OnceLock<KeyValue>,
) -> KeyValue {
    let kv = cached.get_or_init(|| key_value(types, inst));
    let (ik, ie) = indirect_flags(inst);
    let same = |s: &Option<SlotType>, id: TypeId, ind: bool| match s {
        Some(s) => s.type_id == id && s.indirect == ind,
        None => id == TypeId::UNKNOWN,
    };
    if same(&kv.0, inst.key_type, ik) && same(&kv.1, inst.elem_type, ie) {
        kv.clone()
    } else {
        key_value(types, inst)
    }
}

fn indirect_flags(inst: &MapInstance) -> (bool, bool) {
    match &inst.storage {
        Storage::Classic(s) => (s.indirect_keys, s.indirect_elems),
        Storage::Swiss(s) => (s.indirect_keys, s.indirect_elems),
        Storage::None => (false, false),
    }
}

/// One map, `sync.Map` or family found from the roots: the one record of
/// a map that discovery, findings, `maps` and `analyze` share. Printed by
/// one serializer, `mapscope_incident::analyze::MapReport` (the MAP
/// object of `docs/cli.md`), which names its fields as this record does
/// except `origin` (`root_origin`), `via` (`root_via`) and `type_name`
/// (`type`).
#[derive(Clone, Debug, Default)]
pub struct FoundMap {
    /// The path from a root as printed (`main.registry.endpoints`,
    /// `goroutine 7 main.worker.m`, `main.x (unsafe.Pointer) → map`).
    pub root: String,
    pub root_kind: RootKind,
    /// The root the path starts at (typed).
    pub origin: RootOrigin,
    pub via: RootVia,
    /// `%T` of the structure (`map[int64]*main.Session`, `sync.Map`,
    /// `[]map[string]int`).
    pub type_name: String,
    pub kind: FoundKind,
    /// Key and value types (`None` for a family — its members have
    /// theirs — and when the decoder did not know them).
    pub key: Option<SlotType>,
    pub value: Option<SlotType>,
    /// Map header, `sync.Map` value, or a slice family's backing array.
    pub address: u64,
    pub len: u64,
    pub live_entries: u64,
    pub capacity: u64,
    pub tombstones: u64,
    /// Entries the storage proves the map once held at the same time (0:
    /// no proof). Classic maps only: a finished doubling grow (`oldbuckets`
    /// nil, `nevacuate` = 2^(B−1)) started on an insert when the count
    /// passed the load factor × 2^(B−1), at least 6 × 2^(B−1) in every Go
    /// version — a map made with a size hint starts with `nevacuate` 0.
    /// The findings tell a map that was filled and emptied from one made
    /// large by `make(map, hint)` with it.
    pub peak_len_at_least: u64,
    pub growing: bool,
    pub storage_bytes: u64,
    /// Bytes freed if this structure were dropped; `None` when not measured.
    pub retained_bytes: Option<u64>,
    pub children: Vec<FoundMap>,
    /// Members of a family not kept in `children` ([`DiscoverOptions`]:
    /// the smallest by storage), and their `len` summed: the family's own
    /// numbers (`len`, `storage_bytes`, `owned`) count them all.
    pub omitted_members: u64,
    pub omitted_entries: u64,
    /// Heap objects the structure owns (header, storage, family container).
    pub owned: Vec<u64>,
}

/// Where a found map's path starts and how it is named.
#[derive(Clone, Debug, Default)]
pub(crate) struct Place {
    pub root: String,
    pub kind: RootKind,
    pub origin: RootOrigin,
    pub via: RootVia,
}

impl FoundMap {
    /// The members a report lists: the first `limit` (0: all), largest
    /// storage first, and how many are left out.
    pub fn listed_children(&self, limit: usize) -> (&[FoundMap], u64) {
        let n = if limit == 0 {
            self.children.len()
        } else {
            limit.min(self.children.len())
        };
        let shown = self.children.get(..n).unwrap_or(&[]);
        let left = (self.children.len() - shown.len()) as u64;
        (shown, left.saturating_add(self.omitted_members))
    }

    /// Adds member `c`'s numbers and objects to this family's (not `c`
    /// itself to `children`).
    pub(crate) fn count_member(&mut self, c: &FoundMap) {
        self.len += 1;
        self.add_sums(Sums::of_found(c));
        self.owned.extend(c.owned.iter().copied());
    }

    /// [`FoundMap::count_member`] for a member decoded as `inst`, owning
    /// `owned`, that is not kept in `children` (counted as omitted, as
    /// [`FoundMap::keep_largest_children`] counts those it drops).
    pub(crate) fn count_omitted(&mut self, inst: &MapInstance, owned: &[u64]) {
        self.len += 1;
        self.add_sums(Sums {
            live_entries: inst.live_entries,
            capacity: inst.capacity,
            tombstones: inst.tombstones,
            growing: inst.growing,
            storage_bytes: inst.storage_bytes,
        });
        self.owned.extend_from_slice(owned);
        self.omitted_members += 1;
        self.omitted_entries = self.omitted_entries.saturating_add(inst.len);
    }

    /// Adds the numbers a family sums over its members (of a member, or
    /// of a tally of members).
    fn add_sums(&mut self, c: Sums) {
        self.live_entries += c.live_entries;
        self.capacity += c.capacity;
        self.tombstones += c.tombstones;
        self.growing |= c.growing;
        self.storage_bytes += c.storage_bytes;
    }

    /// Adds `tally`'s members — what [`FoundMap::count_member`] added to
    /// it, its omitted members and its `children` — to this family, taking
    /// its objects and children, then keeps the `keep` largest children
    /// once there are more than `above` ([`FoundMap::keep_largest_children`]).
    pub(crate) fn add_tally(&mut self, tally: &mut FoundMap, keep: usize, above: usize) {
        self.len += tally.len;
        self.add_sums(Sums::of_found(tally));
        self.owned.append(&mut tally.owned);
        self.omitted_members += tally.omitted_members;
        self.omitted_entries = self.omitted_entries.saturating_add(tally.omitted_entries);
        self.children.append(&mut tally.children);
        self.keep_largest_children(keep, above);
    }

    /// Keeps the `keep` largest of `children` (storage, then lowest
    /// address: what a report lists first) once there are more than
    /// `above`, the others counted as omitted.
    pub(crate) fn keep_largest_children(&mut self, keep: usize, above: usize) {
        if self.children.len() <= above.max(keep) {
            return;
        }
        self.children.select_nth_unstable_by(keep, |a, b| {
            b.storage_bytes
                .cmp(&a.storage_bytes)
                .then(a.address.cmp(&b.address))
        });
        for c in self.children.drain(keep..) {
            self.omitted_members += 1;
            self.omitted_entries = self.omitted_entries.saturating_add(c.len);
        }
    }

    /// A family's members, those not kept in `children` included.
    pub fn member_count(&self) -> u64 {
        (self.children.len() as u64).saturating_add(self.omitted_members)
    }

    /// Entries held: a family's members' `len` summed (its own `len`
    /// counts members), else `len`.
    pub fn entries(&self) -> u64 {
        match self.kind {
            FoundKind::Family => self
                .children
                .iter()
                .map(|c| c.len)
                .fold(self.omitted_entries, u64::saturating_add),
            _ => self.len,
        }
    }

    /// `live_entries / capacity` of a map (`None` for `sync.Map`, families
    /// and a zero capacity).
    pub fn load_factor(&self) -> Option<f64> {
        (self.capacity > 0 && self.kind == FoundKind::Map)
            .then(|| self.live_entries as f64 / self.capacity as f64)
    }

    /// A found map as decoded, before its retained bytes are measured;
    /// `owned` holds the base addresses of its storage objects.
    pub(crate) fn new(inst: &MapInstance, place: Place, owned: Vec<u64>, kv: KeyValue) -> FoundMap {
        FoundMap {
            root: place.root,
            root_kind: place.kind,
            origin: place.origin,
            via: place.via,
            type_name: inst.type_name.clone(),
            kind: if inst.kind == MapKind::SyncMap {
                FoundKind::SyncMap
            } else {
                FoundKind::Map
            },
            key: kv.0,
            value: kv.1,
            address: inst.address,
            len: inst.len,
            live_entries: inst.live_entries,
            capacity: inst.capacity,
            tombstones: inst.tombstones,
            peak_len_at_least: peak_len_at_least(&inst.header),
            growing: inst.growing,
            storage_bytes: inst.storage_bytes,
            retained_bytes: None,
            children: Vec::new(),
            omitted_members: 0,
            omitted_entries: 0,
            owned,
        }
    }
}

/// The numbers a family sums over its members ([`FoundMap::add_sums`]).
struct Sums {
    live_entries: u64,
    capacity: u64,
    tombstones: u64,
    growing: bool,
    storage_bytes: u64,
}

impl Sums {
    fn of_found(c: &FoundMap) -> Sums {
        Sums {
            live_entries: c.live_entries,
            capacity: c.capacity,
            tombstones: c.tombstones,
            growing: c.growing,
            storage_bytes: c.storage_bytes,
        }
    }
}

/// See [`FoundMap::peak_len_at_least`].
fn peak_len_at_least(header: &crate::model::Header) -> u64 {
    match header {
        crate::model::Header::Classic(h)
            if h.oldbuckets == 0 && h.b >= 1 && h.b < 64 && h.nevacuate == 1u64 << (h.b - 1) =>
        {
            6u64.saturating_mul(1u64 << (h.b - 1))
        }
        _ => 0,
    }
}

/// Top-level heap objects of the dominator tree named, largest first
/// (the rest are counted, not named).
pub const NAMED_TOP_OBJECTS: usize = 50_000;
/// Groups of top-level objects kept in [`Discovery::object_retainers`].
pub const KEPT_OBJECT_RETAINERS: usize = 1000;

/// Heap objects at the top level of the dominator tree — several roots
/// reach each, none alone retains it — with the same shortest path from
/// a root and the same type (the elements of one slice, say), summed.
/// Their retained sets never overlap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRetainer {
    /// The largest member's address.
    pub address: u64,
    /// How many objects share this path and type.
    pub count: u64,
    /// `cmd/link/internal/ld.ctxt (*ld.Link) → ld.Link`: the root, then
    /// the objects of the path, this object last
    /// ([`crate::unrooted::name_objects`]).
    pub path: String,
    /// Kind of the root the path starts at.
    pub root_kind: RootKind,
    /// The object's heap type, else `N-byte object`.
    pub type_name: String,
    /// Bytes and objects the members dominate (themselves included),
    /// summed: what dropping them one by one would free (together they
    /// may free more — objects only they share).
    pub retained_bytes: u64,
    pub objects: u64,
}

/// Everything [`discover`] found.
#[derive(Default)]
pub struct Discovery {
    pub maps: Vec<FoundMap>,
    pub warnings: Vec<String>,
    /// The object graph the retained sizes were measured on; callers that
    /// need more reachability questions reuse it instead of rebuilding it.
    pub graph: ObjectGraph,
    /// Graph ids of the objects the roots (globals, live stacks) point at.
    pub root_ids: Vec<u32>,
    /// Map storage no root reaches (garbage awaiting collection): one
    /// summary, never listed in `maps` ([`crate::unrooted`]).
    pub garbage: Garbage,
    /// The GC's roots one by one (globals, goroutines, finalizers by
    /// type) with the ids each points at ([`crate::roots::RootSet`]).
    pub roots: crate::roots::RootSet,
    /// The dominator tree's retained sizes ([`crate::dominators`]): per
    /// root of `roots.named` (objects only that root reaches), the largest
    /// heap objects at the tree's top level (reachable from several roots,
    /// retained by none alone), and the reachable and unreached totals.
    pub dominance: crate::dominators::Dominance,
    /// The largest of `dominance.objects` named by their shortest path
    /// from a root and grouped by path and type, largest first.
    pub object_retainers: Vec<ObjectRetainer>,
    /// The heap's span list is incomplete (a cut core: `allspans` or the
    /// mspans are missing): object extents are unknown, and each map's
    /// `retained_bytes` is a lower bound — its own storage as sized from
    /// its header — not a measurement.
    pub retained_lower_bound: bool,
    /// The retained-size pass over `maps` (and their first members), kept
    /// to answer "which map retains this object" without another walk.
    retained: Option<Retention>,
}

/// [`RetainedMany`] and how its structures relate to [`Discovery::maps`].
struct Retention {
    result: RetainedMany,
    /// Per structure, its family's structure (members) or `None`.
    parents: Vec<Option<usize>>,
    /// Per structure, the index in `maps` of a top-level structure.
    map_of: Vec<Option<usize>>,
    /// (map index, structure) of the maps measured alone.
    alone: Vec<(usize, usize)>,
}

impl Discovery {
    /// The map (index into `maps`) that retains the object containing
    /// `address` — its own storage or an object reachable only through it
    /// — and whether another map retains it too (then the lowest index is
    /// given). `(None, false)` for objects of no map.
    pub fn map_retaining(&self, address: u64) -> (Option<usize>, bool) {
        let Some(r) = &self.retained else {
            return (None, false);
        };
        let mut found: Option<usize> = None;
        let mut more = false;
        let mut note = |mi: usize| match found {
            None => found = Some(mi),
            Some(f) if f != mi => {
                more = true;
                found = Some(f.min(mi));
            }
            Some(_) => {}
        };
        if let Some(mut s) = r.result.structure_of(address) {
            for _ in 0..=MAX_NESTING {
                match r.parents.get(s).copied().flatten() {
                    Some(p) => s = p,
                    None => break,
                }
            }
            if !r.result.measured_alone(s) {
                if let Some(Some(mi)) = r.map_of.get(s) {
                    note(*mi);
                }
            }
        }
        for &(mi, s) in &r.alone {
            if r.result.retains(s, address) {
                note(mi);
            }
        }
        (found, more)
    }

    /// Which measured member of map `map` (index into its `children`; the
    /// first members only are measured) retains the object containing
    /// `address`, if one does.
    pub fn member_retaining(&self, address: u64, map: usize) -> Option<usize> {
        let r = self.retained.as_ref()?;
        let s = r.result.structure_of(address)?;
        let family = r.parents.get(s).copied().flatten()?;
        // Members are measured right after their family (see `measure`).
        (r.map_of.get(family).copied().flatten() == Some(map))
            .then(|| s.checked_sub(family + 1))
            .flatten()
    }
}

/// What [`discover_with`] keeps of what it finds.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiscoverOptions {
    /// Members kept per family found by the walk (0: all), the largest by
    /// storage (ties: lowest address): what a report lists. The others
    /// are counted in [`FoundMap::omitted_members`] and
    /// [`FoundMap::omitted_entries`], their objects stay the family's
    /// (`owned`), so every number but the member list is unchanged. At
    /// least the measured members (the first 8) are kept. A family of a
    /// million small maps then costs its objects' addresses, not a million
    /// records.
    pub members_kept: usize,
}

/// Finds every map reachable from the process's roots and measures the
/// retained bytes of each, keeping every family member. Sorted by
/// retained bytes, largest first. Fails ([`DiscoverError`]) only when
/// there are no types or no heap walk; what else goes wrong is a warning
/// on the result.
pub fn discover(process: &GoProcess) -> Result<Discovery, DiscoverError> {
    discover_with(process, &DiscoverOptions::default())
}

/// [`discover`], keeping what `options` say.
pub fn discover_with(
    process: &GoProcess,
    options: &DiscoverOptions,
) -> Result<Discovery, DiscoverError> {
    let dwarf = process.dwarf().ok_or(DiscoverError::NoDwarf)?;
    let heap = process.heap().map_err(DiscoverError::Heap)?;
    let members_kept = match options.members_kept {
        0 => usize::MAX,
        n => n.max(MEASURED_CHILDREN),
    };
    let mut w = Walker::new(process, dwarf, heap).with_members_kept(members_kept);
    let goroutines = process.goroutines();
    // The typed walk and the graph of the garbage collector's roots and
    // edges (crate::roots, crate::pointers) read the same heap and nothing
    // of each other: they share the threads (neither alone keeps both busy).
    let ((mut maps, mut warnings), (pointers, graph)) = rayon::join(
        || {
            phase("maps: typed root walk", || {
                w.walk_roots(goroutines.as_ref().ok());
                w.take_results()
            })
        },
        || {
            let pointers = phase("maps: pointer maps", || PointerMaps::load(process, heap));
            let graph = phase("maps: graph build", || {
                ObjectGraph::build_with(process, heap, &pointers)
            });
            (pointers, graph)
        },
    );
    if let Err(e) = &goroutines {
        warnings.push(format!("goroutines: {e}"));
    }
    warnings.extend(pointers.warnings.iter().cloned());
    // The walk's sets are freed: their pages back before the graph phases.
    mapscope_goheap::trim_allocator();
    let mut roots = phase("maps: roots", || {
        crate::roots::collect(process, &graph, &pointers, goroutines.as_ref().ok())
    });
    warnings.append(&mut roots.warnings);
    let root_ids = roots.ids.clone();
    // What each root, and each object several roots reach, retains (the
    // dominator tree), beside the shortest paths from the roots (what is
    // reachable, and from where), what needs them and the maps' retained
    // sizes: independent walks of the same graph, side by side (each
    // side's sequential steps run while the other keeps the threads busy).
    let first_untyped = maps.len();
    let (dominance, (paths, later_warnings, garbage, measured)) = rayon::join(
        || {
            phase("maps: dominator tree", || {
                crate::dominators::retention(&graph, &roots.target_lists(), NAMED_TOP_OBJECTS)
            })
        },
        || {
            let paths = phase("maps: root paths", || {
                let tiers = crate::unrooted::root_tiers(&roots);
                let tiers: Vec<&[u32]> = tiers.iter().map(Vec::as_slice).collect();
                graph.shortest_paths(&tiers)
            });
            // Warnings of this side, after the dominator tree's.
            let mut later = Vec::new();
            // No DWARF: maps held inside heap objects the runtime types
            // (crate::typedheap), before the storage search.
            if !dwarf.has_program_types() {
                let held = phase("maps: typed heap objects", || {
                    crate::typedheap::heap_held_maps(
                        process, heap, &mut w, &graph, &maps, &roots, &paths,
                    )
                });
                later = held.warnings;
                maps.extend(held.maps);
            }
            // Map storage the heap names by type that no typed root path
            // reached: maps named by their path, and garbage.
            let unrooted = phase("maps: unrooted storage", || {
                crate::unrooted::unrooted_maps(
                    process,
                    heap,
                    w.decoder(),
                    &graph,
                    &maps,
                    &roots,
                    &paths,
                )
            });
            maps.extend(unrooted.maps);
            if !dwarf.has_program_types() {
                later.extend(without_dwarf(
                    process,
                    heap,
                    &mut w,
                    &graph,
                    &pointers,
                    &roots,
                    &paths,
                    &mut maps,
                    first_untyped,
                ));
            }
            // What the roots reach, for the structures measured alone.
            let reached = Reached::from_paths(&paths);
            // Members largest first: those are measured and listed
            // (addresses are unique, so the order is total; a family may
            // have millions).
            for m in &mut maps {
                m.children.par_sort_unstable_by(|a, b| {
                    b.storage_bytes
                        .cmp(&a.storage_bytes)
                        .then(a.address.cmp(&b.address))
                });
            }
            let measured = phase("maps: retained sizes", || {
                measure(&graph, &root_ids, &reached, &mut maps)
            });
            (paths, later, unrooted.garbage, measured)
        },
    );
    let dominance = dominance.unwrap_or_else(|e| {
        warnings.push(e.to_string());
        crate::dominators::Dominance::default()
    });
    warnings.extend(later_warnings);
    let object_retainers = phase("maps: retainer names", || {
        object_retainers(process, heap, dwarf, &graph, &roots, &paths, &dominance)
    });
    drop(paths);
    let (result, parents, structure_of_map) = measured;
    // Largest first; each map keeps its structure index.
    let mut order: Vec<(FoundMap, usize)> = maps.into_iter().zip(structure_of_map).collect();
    order.sort_by_key(|(m, _)| std::cmp::Reverse(m.retained_bytes));
    let mut map_of = vec![None; parents.len()];
    let mut alone = Vec::new();
    for (mi, (_, s)) in order.iter().enumerate() {
        if let Some(slot) = map_of.get_mut(*s) {
            *slot = Some(mi);
        }
        if result.measured_alone(*s) {
            alone.push((mi, *s));
        }
    }
    let mut maps: Vec<FoundMap> = order.into_iter().map(|(m, _)| m).collect();
    let retained_lower_bound = !heap.spans_complete();
    if retained_lower_bound {
        // Without spans the graph has no objects to measure: a map frees
        // at least its own storage (sized from its header).
        lower_bound_retained(&mut maps);
        maps.sort_by_key(|m| std::cmp::Reverse(m.retained_bytes));
        warnings.push(format!(
            "heap spans incomplete (from {}): retained bytes are lower bounds (each map's own storage, sized from its header); objects reachable only through a map are not counted",
            heap.span_source().as_str()
        ));
    }
    warnings.extend(heap.warnings().iter().take(20).cloned());
    Ok(Discovery {
        maps,
        warnings,
        graph,
        root_ids,
        roots,
        dominance,
        object_retainers,
        garbage,
        retained_lower_bound,
        retained: Some(Retention {
            result,
            parents,
            map_of,
            alone,
        }),
    })
}

/// No DWARF: the maps of `maps` from `first_untyped` on (found outside
/// the typed walk) completed — sync.Maps and maps recognised by their
/// shape (crate::stripped_shapes), globals named by symbol or address
/// (crate::stripped), maps of maps made families as the typed walk makes
/// them — and the warnings of those steps, in order.
#[allow(clippy::too_many_arguments)]
fn without_dwarf(
    process: &GoProcess,
    heap: &mapscope_goruntime::heap::Heap,
    w: &mut Walker<'_>,
    graph: &ObjectGraph,
    pointers: &PointerMaps,
    roots: &crate::roots::RootSet,
    paths: &[u32],
    maps: &mut Vec<FoundMap>,
    first_untyped: usize,
) -> Vec<String> {
    let shapes = phase("maps: shapes without DWARF", || {
        crate::stripped_shapes::find(
            process,
            heap,
            w.decoder(),
            graph,
            pointers,
            roots,
            paths,
            &[maps],
        )
    });
    let mut found = maps.split_off(first_untyped.min(maps.len()));
    found.retain(|m| !shapes.replaced.contains(&m.address));
    found.extend(shapes.maps);
    let mut warnings = shapes.warnings;
    crate::stripped::name_global_roots(
        process,
        pointers,
        graph,
        paths,
        w.decoder().size_classes(),
        &mut found,
    );
    crate::typedheap::name_members(&mut found);
    let types = w.decoder().dwarf().types();
    let map_types = types
        .map_types()
        .filter(|(id, _)| types.get(*id).runtime_type_offset.is_some())
        .count();
    warnings.push(crate::stripped::warning(
        &found,
        map_types,
        shapes.recognised,
    ));
    let words = pointers.global_words().unwrap_or(&[]);
    let nested = phase("maps: maps of maps without DWARF", || {
        crate::typedheap::nest_maps_of_maps(process, heap, w, graph, words, &mut found)
    });
    warnings.extend(nested);
    maps.extend(found);
    warnings
}

/// The top-level objects of `dominance` named by their shortest path
/// (`paths`) and grouped by path and type, largest first (at most
/// [`KEPT_OBJECT_RETAINERS`]).
fn object_retainers(
    process: &GoProcess,
    heap: &mapscope_goruntime::heap::Heap,
    dwarf: &mapscope_goruntime::dwarf::DwarfInfo,
    graph: &ObjectGraph,
    roots: &crate::roots::RootSet,
    paths: &[u32],
    dominance: &crate::dominators::Dominance,
) -> Vec<ObjectRetainer> {
    let ids: Vec<u32> = dominance.objects.iter().map(|o| o.id).collect();
    let names = crate::unrooted::name_objects(process, heap, dwarf, graph, roots, paths, &ids);
    let mut groups: Vec<ObjectRetainer> = Vec::new();
    let mut index: std::collections::HashMap<(String, String), usize> = Default::default();
    // Objects come largest first: a group's address is its largest's.
    for (o, name) in dominance.objects.iter().zip(names) {
        let name = name.unwrap_or_else(|| crate::unrooted::ObjectName {
            path: crate::unrooted::UNKNOWN_ROOT.to_string(),
            root: None,
            type_name: String::new(),
        });
        let kind = name
            .root
            .and_then(|i| roots.named.get(i))
            .map_or(RootKind::Unknown, |r| r.kind);
        let key = (name.path, name.type_name);
        match index.get(&key) {
            Some(&g) => {
                if let Some(g) = groups.get_mut(g) {
                    g.count += 1;
                    g.retained_bytes = g.retained_bytes.saturating_add(o.bytes);
                    g.objects = g.objects.saturating_add(o.objects);
                }
            }
            None => {
                index.insert(key.clone(), groups.len());
                groups.push(ObjectRetainer {
                    address: graph.object(o.id).map_or(0, |x| x.address),
                    count: 1,
                    path: key.0,
                    root_kind: kind,
                    type_name: key.1,
                    retained_bytes: o.bytes,
                    objects: o.objects,
                });
            }
        }
    }
    groups.sort_by(|a, b| {
        b.retained_bytes
            .cmp(&a.retained_bytes)
            .then_with(|| a.path.cmp(&b.path))
    });
    groups.truncate(KEPT_OBJECT_RETAINERS);
    groups
}

/// Sets each map's and member's retained bytes to at least its storage.
fn lower_bound_retained(maps: &mut [FoundMap]) {
    for m in maps {
        m.retained_bytes = Some(m.retained_bytes.unwrap_or(0).max(m.storage_bytes));
        lower_bound_retained(&mut m.children);
    }
}

/// Measures every map and its first members in one [`RetainedMany`] pass;
/// returns it with each structure's family (parent) and each map's
/// structure index.
fn measure(
    graph: &ObjectGraph,
    roots: &[u32],
    reached: &Reached,
    maps: &mut [FoundMap],
) -> (RetainedMany, Vec<Option<usize>>, Vec<usize>) {
    // Every structure and its first members at once (two graph walks).
    let mut structures: Vec<Structure> = Vec::new();
    for m in maps.iter() {
        let family = structures.len();
        structures.push(Structure {
            owned: &m.owned,
            parent: None,
        });
        for c in m.children.iter().take(MEASURED_CHILDREN) {
            structures.push(Structure {
                owned: &c.owned,
                parent: Some(family),
            });
        }
    }
    let r = graph.retained_many(roots, &structures, Some(reached));
    let parents: Vec<Option<usize>> = structures.iter().map(|s| s.parent).collect();
    let mut of_map = Vec::with_capacity(maps.len());
    let mut i = 0;
    for m in maps.iter_mut() {
        m.retained_bytes = Some(r.bytes(i));
        of_map.push(i);
        i += 1;
        for c in m.children.iter_mut().take(MEASURED_CHILDREN) {
            c.retained_bytes = Some(r.bytes(i));
            i += 1;
        }
    }
    (r, parents, of_map)
}
