//! Finds every map instance of a process from its roots and measures the
//! bytes each would free (retained bytes).
//!
//! Owns: the order of the discovery pipeline — the typed root walk
//! ([`crate::walker`]), pointer maps and the object graph
//! ([`crate::graph`]), the GC's root set ([`crate::roots`]) and the
//! shortest paths from it, unrooted map storage and garbage
//! ([`crate::unrooted`]) and the retained-size measurement — and its
//! result types ([`FoundMap`], [`Discovery`]).
//! Must not touch: decoding one map (the decoder modules), graph
//! algorithms, or the heap walk itself (mapscope-goruntime).

use mapscope_goruntime::timing::{phase, Phase};
use mapscope_goruntime::GoProcess;
use rayon::prelude::*;
use serde::Serialize;

use crate::pointers::PointerMaps;
use crate::walker::Walker;
use crate::{MapInstance, MapKind};

pub use crate::graph::{ObjectGraph, RetainedMany, Structure};
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

/// Where the path to a map starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RootKind {
    Global,
    Heap,
    Goroutine,
    /// Reached from an object with a finalizer (the runtime keeps what a
    /// finalized object points to alive).
    Finalizer,
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
    /// Entries the storage proves the map once held at the same time (0:
    /// no proof). Classic maps only: a finished doubling grow (`oldbuckets`
    /// nil, `nevacuate` = 2^(B−1)) started on an insert when the count
    /// passed the load factor × 2^(B−1), at least 6 × 2^(B−1) in every Go
    /// version — a map made with a size hint starts with `nevacuate` 0.
    /// The findings tell a map that was filled and emptied from one made
    /// large by `make(map, hint)` with it.
    #[serde(skip)]
    pub peak_len_at_least: u64,
    pub growing: bool,
    pub storage_bytes: u64,
    /// Bytes freed if this structure were dropped; `None` when not measured.
    pub retained_bytes: Option<u64>,
    pub children: Vec<FoundMap>,
    /// Heap objects the structure owns (header, storage, family container).
    #[serde(skip)]
    pub owned: Vec<u64>,
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
        (shown, (self.children.len() - shown.len()) as u64)
    }

    /// A found map as decoded, before its retained bytes are measured;
    /// `owned` holds the base addresses of its storage objects.
    pub(crate) fn new(
        inst: &MapInstance,
        root: String,
        kind: RootKind,
        owned: Vec<u64>,
    ) -> FoundMap {
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
            peak_len_at_least: peak_len_at_least(&inst.header),
            growing: inst.growing,
            storage_bytes: inst.storage_bytes,
            retained_bytes: None,
            children: Vec::new(),
            owned,
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
    /// Retained bytes of each of `roots.named` (objects only that root
    /// reaches), and the shared and unreached rest
    /// ([`ObjectGraph::label_roots`]).
    pub root_retention: crate::graph::RootRetention,
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
}

/// Finds every map reachable from the process's roots and measures the
/// retained bytes of each. Sorted by retained bytes, largest first.
pub fn discover(process: &GoProcess) -> Result<Discovery, String> {
    let dwarf = process
        .dwarf()
        .ok_or_else(|| "the executable has no DWARF: cannot type roots".to_string())?;
    let heap = process.heap().map_err(|e| e.to_string())?;
    let typed_walk = Phase::start("maps: typed root walk");
    let mut w = Walker::new(process, dwarf, heap);
    let goroutines = process.goroutines();
    w.walk_roots(goroutines.as_ref().ok());
    let (mut maps, mut warnings) = w.take_results();
    if let Err(e) = &goroutines {
        warnings.push(format!("goroutines: {e}"));
    }
    drop(typed_walk);
    // Roots and edges as the garbage collector sees them (crate::roots,
    // crate::pointers).
    let pointers = phase("maps: pointer maps", || PointerMaps::load(process, heap));
    warnings.extend(pointers.warnings.iter().cloned());
    let graph = phase("maps: graph build", || {
        ObjectGraph::build_with(process, heap, &pointers)
    });
    let roots = phase("maps: roots", || {
        crate::roots::collect(process, &graph, &pointers, goroutines.as_ref().ok())
    });
    let mut roots = roots;
    warnings.append(&mut roots.warnings);
    let root_ids = roots.ids.clone();
    // Shortest paths from the roots: what is reachable, and from where.
    let paths = phase("maps: root paths", || {
        let tiers = crate::unrooted::root_tiers(&roots);
        let tiers: Vec<&[u32]> = tiers.iter().map(Vec::as_slice).collect();
        graph.shortest_paths(&tiers)
    });
    // Map storage the heap names by type that no typed root path reached:
    // maps named by their path, and garbage.
    let unrooted = phase("maps: unrooted storage", || {
        crate::unrooted::unrooted_maps(process, heap, w.decoder(), &graph, &maps, &roots, &paths)
    });
    drop(paths);
    maps.extend(unrooted.maps);
    let garbage = unrooted.garbage;
    // Members largest first: those are measured and listed (addresses
    // are unique, so the order is total; a family may have millions).
    for m in &mut maps {
        m.children.par_sort_unstable_by(|a, b| {
            b.storage_bytes
                .cmp(&a.storage_bytes)
                .then(a.address.cmp(&b.address))
        });
    }
    let (result, parents, structure_of_map) = phase("maps: retained sizes", || {
        measure(&graph, &root_ids, &mut maps)
    });
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
    let maps: Vec<FoundMap> = order.into_iter().map(|(m, _)| m).collect();
    warnings.extend(heap.warnings().iter().take(20).cloned());
    let root_retention = phase("maps: root retention", || {
        graph.label_roots(&roots.target_lists())
    });
    Ok(Discovery {
        maps,
        warnings,
        graph,
        root_ids,
        roots,
        root_retention,
        garbage,
        retained: Some(Retention {
            result,
            parents,
            map_of,
            alone,
        }),
    })
}

/// Measures every map and its first members in one [`RetainedMany`] pass;
/// returns it with each structure's family (parent) and each map's
/// structure index.
fn measure(
    graph: &ObjectGraph,
    roots: &[u32],
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
    let r = graph.retained_many(roots, &structures);
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
