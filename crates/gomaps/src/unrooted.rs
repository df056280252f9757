//! Map storage no typed root path reaches (issue #6, Build 5): bucket and
//! group arrays the heap walk names by their runtime type (malloc header or
//! `mspan.largeType`: `map.bucket[K]V`, `noalg.map.group[K]V`) that belong
//! to no map found from the roots — maps held only through an
//! `unsafe.Pointer`, a `uintptr`, an interface or a runtime structure.
//!
//! Each is listed with `root_kind: unknown` rather than dropped. Its header
//! is searched among the objects pointing (transitively, a few levels: a
//! Swiss group array ← table ← directory ← map) at the storage, and kept
//! only when decoding that candidate as `map[K]V` claims the storage; with
//! no header, the storage itself is listed.
//!
//! Limits: pointer-free storage (`map[int]int`) and arrays of 512 bytes or
//! less carry no type in the heap, so they cannot be found this way.
//!
//! Owns: finding those maps. Must not touch: the typed root walk
//! (walker.rs) or the graph (graph.rs).

use std::collections::{HashMap, HashSet};

use mapscope_goruntime::heap::Heap;
use mapscope_goruntime::GoProcess;
use rayon::prelude::*;

use crate::discover::{FoundMap, RootKind};
use crate::graph::ObjectGraph;
use crate::{MapDecoder, MapInstance, MapLayout, MapTarget};

/// How many levels of pointers above the storage a header is looked for.
const MAX_HEADER_DEPTH: usize = 3;
/// Candidates tried per level (a storage array has one or two owners).
const MAX_CANDIDATES: usize = 64;
/// Root path printed for these maps.
pub const UNKNOWN_ROOT: &str = "(unknown)";

/// `map[K]V` from a storage type name (runtime `map.bucket[K]V`,
/// `noalg.map.group[K]V`; DWARF's classic `bucket<K,V>`), or `None` when it
/// names no storage.
pub fn map_type_of_storage(name: &str) -> Option<String> {
    if let Some(inner) = name
        .strip_prefix("bucket<")
        .and_then(|r| r.strip_suffix('>'))
    {
        // Split at the top-level comma (keys may be generic types).
        let mut depth = 0i32;
        for (i, c) in inner.char_indices() {
            match c {
                '[' | '(' | '<' | '{' => depth += 1,
                ']' | ')' | '>' | '}' => depth -= 1,
                ',' if depth == 0 => {
                    let (k, v) = (inner.get(..i)?, inner.get(i + 1..)?);
                    return Some(format!("map[{k}]{v}"));
                }
                _ => {}
            }
        }
        return None;
    }
    ["noalg.map.group[", "map.group[", "map.bucket["]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .map(|rest| format!("map[{rest}"))
}

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
struct Claimed(Vec<u64>);

impl Claimed {
    /// The objects of every found map, family member and nested map.
    fn of(graph: &ObjectGraph, maps: &[FoundMap]) -> Claimed {
        fn lists<'m>(maps: &'m [FoundMap], out: &mut Vec<&'m [u64]>) {
            for m in maps {
                out.push(&m.owned);
                lists(&m.children, out);
            }
        }
        // One list per map and member: a family of a million members is
        // spread over the threads too.
        let mut owned: Vec<&[u64]> = Vec::new();
        lists(maps, &mut owned);
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

    fn insert(&mut self, graph: &ObjectGraph, address: u64) {
        if let Some(id) = graph.id_of_address(address) {
            self.insert_id(id);
        }
    }

    fn contains(&self, graph: &ObjectGraph, address: u64) -> bool {
        graph.id_of_address(address).is_some_and(|id| {
            self.0
                .get(id as usize / 64)
                .is_some_and(|w| w >> (id % 64) & 1 == 1)
        })
    }
}

fn bases(heap: &Heap, inst: &MapInstance, out: &mut Vec<u64>) {
    out.extend(inst.objects.iter().map(|o| o.base));
    if let Some(o) = heap.object_at(inst.address) {
        out.push(o.address);
    }
    for i in &inst.inner {
        bases(heap, i, out);
    }
}

/// The maps whose storage the heap walk typed but no root path reached.
pub fn unrooted_maps(
    process: &GoProcess,
    heap: &Heap,
    decoder: &MapDecoder<'_>,
    graph: &ObjectGraph,
    found: &[FoundMap],
) -> Vec<FoundMap> {
    let mut owned = Claimed::of(graph, found);
    let Some(dwarf) = process.dwarf() else {
        return Vec::new();
    };
    // Objects with a heap type (malloc header or large type) no found map
    // claims, with their type's address: spans in parallel, in order.
    let spans = heap.spans();
    let typed: Vec<(u64, u64)> = (0..spans.len())
        .into_par_iter()
        .filter(|&i| {
            spans
                .get(i)
                .is_some_and(|s| s.has_header || (s.size_class == 0 && s.large_type != 0))
        })
        .flat_map_iter(|i| {
            let owned = &owned;
            heap.span_objects(i).filter_map(move |o| {
                if owned.contains(graph, o.address) {
                    return None;
                }
                Some((o.address, heap.object_type_address(process, &o)?))
            })
        })
        .collect();
    // DWARF spells packages by import path (`encoding/json.field`), the
    // runtime by name (`json.field`): prefer DWARF's name of the storage
    // type for the lookup. One lookup per type.
    let mut names: HashMap<u64, Option<String>> = HashMap::new();
    let mut storage: Vec<(u64, String)> = Vec::new();
    for (object, t) in typed {
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
        return Vec::new();
    }
    let headers = find_headers(heap, decoder, graph, dwarf, &storage);
    let mut out = Vec::new();
    for ((object, map_name), header) in storage.into_iter().zip(headers) {
        if owned.contains(graph, object) {
            continue;
        }
        let m = match header {
            Some(inst) => {
                let mut own = Vec::new();
                bases(heap, &inst, &mut own);
                FoundMap::new(&inst, UNKNOWN_ROOT.to_string(), RootKind::Unknown, own)
            }
            None => {
                let size = heap.object_at(object).map_or(0, |o| o.size);
                FoundMap {
                    root: UNKNOWN_ROOT.to_string(),
                    root_kind: RootKind::Unknown,
                    type_name: map_name,
                    kind: "map",
                    address: object,
                    len: 0,
                    live_entries: 0,
                    capacity: 0,
                    tombstones: 0,
                    growing: false,
                    storage_bytes: size,
                    retained_bytes: None,
                    children: Vec::new(),
                    owned: vec![object],
                }
            }
        };
        // Several arrays of one map (Swiss tables) yield it once.
        if out.iter().any(|o: &FoundMap| o.address == m.address) {
            continue;
        }
        for &a in &m.owned {
            owned.insert(graph, a);
        }
        owned.insert(graph, object);
        out.push(m);
    }
    out
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
    dwarf: &mapscope_goruntime::dwarf::DwarfInfo,
    storage: &[(u64, String)],
) -> Vec<Option<MapInstance>> {
    let types = dwarf.types();
    let mut found: Vec<Option<MapInstance>> = vec![None; storage.len()];
    // DWARF map types by their runtime spelling too (`json.field` for
    // `encoding/json.field`).
    let by_short: HashMap<String, mapscope_goruntime::dwarf::TypeId> = types
        .map_types()
        .map(|(id, _)| (runtime_spelling(&types.get(id).name), id))
        .collect();
    let tys: Vec<Option<mapscope_goruntime::dwarf::TypeId>> = storage
        .iter()
        .map(|(_, n)| {
            types
                .by_name(n)
                .or_else(|| by_short.get(&runtime_spelling(n)).copied())
        })
        .collect();
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
    use super::{map_type_of_storage, runtime_spelling};

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

    #[test]
    fn storage_names_give_map_types() {
        assert_eq!(
            map_type_of_storage("noalg.map.group[int64]string").as_deref(),
            Some("map[int64]string")
        );
        assert_eq!(
            map_type_of_storage("map.bucket[string]*main.Session").as_deref(),
            Some("map[string]*main.Session")
        );
        assert_eq!(
            map_type_of_storage("bucket<string,*encoding/json.field>").as_deref(),
            Some("map[string]*encoding/json.field")
        );
        assert_eq!(
            map_type_of_storage("bucket<main.Pair[int,string],map[string]int>").as_deref(),
            Some("map[main.Pair[int,string]]map[string]int")
        );
        assert_eq!(map_type_of_storage("main.Session"), None);
        assert_eq!(map_type_of_storage("bucket<int>"), None);
    }
}
