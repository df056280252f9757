//! Maps held inside heap objects whose type the runtime records, in an
//! executable without DWARF (issue #17): the typed walk's machinery
//! ([`crate::walker`]) run from heap objects instead of DWARF globals.
//!
//! A heap object of more than 512 bytes carries its type in a malloc
//! header (a large object in `mspan.largeType`, Go 1.22 on), and
//! `mapscope_goruntime::rtype` imports every type that holds a map
//! (struct fields, array and slice elements, pointer targets) with its
//! runtime address. Each such object no found map owns and some root
//! reaches is:
//!
//! - **a holder** (a struct, an array, a pointer-holding element type):
//!   walked as a root of its type, so the maps inside it — a field, an
//!   inline array of maps (a family), an embedded struct's promoted
//!   field, a map behind a pointer field, even a small map whose own
//!   storage carries no type — are found with their exact types and Go
//!   selector paths (`main.loader.byKind` when a one-word global points
//!   at the holder, else `root → main.Loader.byKind`); an object
//!   holding several values of its type (a slice's backing array) is
//!   walked element by element (`[]main.Shard[3].index`);
//! - **a slice's backing array of maps** (the header names the element
//!   type `map[string]int`): a family of the maps its words point at
//!   (`[]map[string]int`, owning its backing array), named by its
//!   variable when a global points at it directly (`main.smallMaps`,
//!   `global 0x…`), its members `…[*]`.
//!
//! Paths start at the root the graph's shortest path to the holder
//! starts at ([`crate::unrooted`]'s naming: `main.registry → …`), then
//! the holder's type and the walk's selector; a global of one pointer
//! word pointing at the holder is a typed pointer variable, named as
//! DWARF names it (`main.loader.byKind`, root via `typed`). Map storage
//! objects (a group or bucket array) are never holders.
//!
//! **Maps of maps** ([`nest_maps_of_maps`], once every map is found and
//! named): a map whose value type is a map type — or whose shape left its
//! type open and exactly one of its possible types has a map value type
//! that the maps its values point at may all have — is walked again from
//! a pointer word holding its header, so the walk builds the family it
//! builds with DWARF (kind, `len`, storage, members `…[*]`); the members
//! found on their own leave the top level.
//!
//! Owns: choosing the typed heap objects, the backing-array families,
//! the maps of maps and the names of what it finds. Must not touch: the
//! walk itself (walker.rs: one entry point, [`Walker::walk_values`]), the
//! unrooted storage search, or global names (`crate::stripped`).

use std::collections::{HashMap, HashSet};

use mapscope_goruntime::dwarf::{TypeId, TypeKind};
use mapscope_goruntime::heap::{Heap, HeapObject};
use mapscope_goruntime::timing::{phase, Phase};
use mapscope_goruntime::GoProcess;
use rayon::prelude::*;

use crate::discover::{key_value, FoundKind, FoundMap, Place, RootKind, RootOrigin, RootVia};
use crate::graph::{ObjectGraph, UNREACHED};
use crate::layout::map_type_of_storage;
use crate::reader::Reader;
use crate::roots::{GlobalSymbols, RootSet};
use crate::stripped_shapes::may_have_type;
use crate::unrooted::{bases, first_roots, path_text, path_to, Claimed, Labeller};
use crate::walker::Walker;
use crate::MapTarget;

/// Values of one heap object walked at most (a slice's backing array).
const MAX_ELEMENTS: u64 = 1 << 16;
/// Members of one backing array of maps read at most.
const MAX_MEMBERS: u64 = 1 << 20;
/// Words of one object read at most looking for a pointer to a map of
/// maps' header.
const MAX_WORDS: u64 = 1 << 20;
/// Delimits a holder's index in the walk's root names (never printed:
/// every name is rewritten before it leaves this module).
const MARK: char = '\u{1}';

/// What [`heap_held_maps`] found.
#[derive(Default)]
pub(crate) struct HeapHeld {
    pub maps: Vec<FoundMap>,
    pub warnings: Vec<String>,
}

/// What a heap type is to this search.
#[derive(Clone, Copy)]
enum Class {
    Other,
    /// Walked as values of this type and size (a pointer type: `true`).
    Holder(TypeId, u64, bool),
    /// An array of map headers of this map type.
    Maps(TypeId, u64),
}

/// The maps held in typed heap objects (see the module doc). `found`:
/// the maps found so far (their objects are not searched again);
/// `parents`: [`ObjectGraph::shortest_paths`] over
/// [`crate::unrooted::root_tiers`] of `roots`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn heap_held_maps(
    process: &GoProcess,
    heap: &Heap,
    walker: &mut Walker<'_>,
    graph: &ObjectGraph,
    found: &[FoundMap],
    roots: &RootSet,
    parents: &[u32],
) -> HeapHeld {
    let mut out = HeapHeld::default();
    let Some(dwarf) = process.dwarf() else {
        return out;
    };
    let reached = |a: u64| {
        graph
            .id_of_address(a)
            .and_then(|id| parents.get(id as usize))
            .is_some_and(|&p| p != UNREACHED)
    };
    let select = Phase::start("maps: typed heap objects: select");
    let owned = Claimed::of(graph, &[found]);
    // Typed objects no found map owns and a root reaches, in address
    // order (spans in parallel, in order).
    let typed = crate::unrooted::typed_objects(process, heap, graph, &owned, reached);
    let types = dwarf.types();
    let bias = process.load_bias();
    let mut classes: HashMap<u64, Class> = HashMap::new();
    // Holders (graph id, element index) by the index their root names.
    let mut holders: Vec<(u32, Option<u64>)> = Vec::new();
    let mut values: Vec<(TypeId, u64, String, RootKind)> = Vec::new();
    let mut arrays: Vec<(HeapObject, TypeId, u64)> = Vec::new();
    let reader = Reader::new(process.memory());
    let mut pointees: HashSet<u64> = HashSet::new();
    for (o, t) in typed {
        let class = *classes.entry(t).or_insert_with(|| {
            let Some(id) = dwarf.type_by_runtime_address(t.wrapping_sub(bias)) else {
                return Class::Other;
            };
            // A named map type is a typedef of its `map[K]V`.
            let id = types.resolve(id);
            let size = types.size_of(id).unwrap_or(0);
            if size == 0 || map_type_of_storage(&types.get(id).name).is_some() {
                return Class::Other;
            }
            match walker.decoder().target(id) {
                Some(MapTarget::Map { .. }) => Class::Maps(id, size),
                _ if walker.contains_map(id) => {
                    let pointer =
                        matches!(types.get(types.resolve(id)).kind, TypeKind::Pointer { .. });
                    Class::Holder(id, size, pointer)
                }
                _ => Class::Other,
            }
        });
        let data = o
            .size
            .saturating_sub(o.data_start().saturating_sub(o.address));
        match class {
            Class::Other => {}
            Class::Maps(id, size) => arrays.push((o, id, (data / size).min(MAX_MEMBERS))),
            Class::Holder(id, size, pointer) => {
                let Some(gid) = graph.id_of_address(o.address) else {
                    continue;
                };
                let n = data / size;
                for j in 0..n.min(MAX_ELEMENTS) {
                    let at = o.data_start().wrapping_add(j.wrapping_mul(size));
                    // A pointer element: nil, or an object an earlier
                    // element points at, leads nowhere new.
                    if pointer {
                        match reader.u64(at) {
                            Ok(p) if p != 0 && pointees.insert(p) => {}
                            _ => continue,
                        }
                    }
                    let name = format!("{MARK}{}{MARK}", holders.len());
                    holders.push((gid, (n > 1).then_some(j)));
                    values.push((id, at, name, RootKind::Heap));
                }
            }
        }
    }
    drop(select);
    if !values.is_empty() {
        phase("maps: typed heap objects: walk", || {
            walker.walk_values(values)
        });
        let (maps, warnings) = walker.take_results();
        out.maps = maps;
        out.warnings = warnings;
    }
    // Maps found so far, by header address: a backing array's members
    // are not found twice.
    let mut seen: HashSet<u64> = HashSet::new();
    fn note(maps: &[FoundMap], seen: &mut HashSet<u64>) {
        for m in maps {
            seen.insert(m.address);
            note(&m.children, seen);
        }
    }
    note(found, &mut seen);
    note(&out.maps, &mut seen);
    let families = phase("maps: typed heap objects: families", || {
        array_families(process, heap, walker, &arrays, &mut seen)
    });
    phase("maps: typed heap objects: names", || {
        name(
            process,
            heap,
            graph,
            roots,
            parents,
            &holders,
            &mut out.maps,
            families,
        )
    });
    out
}

/// A family per backing array of map headers: the maps its words point
/// at that decode consistently (`len` equals the live entries counted,
/// no warnings; a word past the slice's `len` may be stale).
fn array_families(
    process: &GoProcess,
    heap: &Heap,
    walker: &Walker<'_>,
    arrays: &[(HeapObject, TypeId, u64)],
    seen: &mut HashSet<u64>,
) -> Vec<(FoundMap, u64)> {
    let Some(dwarf) = process.dwarf() else {
        return Vec::new();
    };
    let types = dwarf.types();
    let reader = Reader::new(process.memory());
    let decoder = walker.decoder();
    let mut out = Vec::new();
    for &(o, id, n) in arrays {
        let data = o.data_start();
        let members: Vec<u64> = (0..n)
            .filter_map(|i| reader.u64(data.wrapping_add(i.wrapping_mul(8))).ok())
            .filter(|&p| p != 0 && !seen.contains(&p))
            .collect();
        let children: Vec<FoundMap> = members
            .par_iter()
            .with_min_len(256)
            .filter_map(|&p| {
                let inst = decoder
                    .decode(id, p, heap)
                    .ok()
                    .filter(|i| i.len == i.live_entries && i.warnings.is_empty())?;
                let mut own = Vec::new();
                bases(heap, &inst, &mut own);
                own.sort_unstable();
                own.dedup();
                let kv = key_value(types, &inst);
                Some(FoundMap::new(&inst, Place::default(), own, kv))
            })
            .collect();
        if children.is_empty() {
            continue;
        }
        let mut fam = FoundMap {
            type_name: format!("[]{}", types.get(id).name),
            kind: FoundKind::Family,
            address: data,
            owned: vec![o.address],
            ..FoundMap::default()
        };
        for c in &children {
            seen.insert(c.address);
            fam.count_member(c);
        }
        fam.children = children;
        out.push((fam, o.address));
    }
    out
}

/// The root kind of a map reached through heap objects from a root of
/// kind `k` (the typed walk's convention: a global's pointer makes it
/// the heap's).
fn through_heap(k: Option<RootKind>) -> RootKind {
    match k {
        Some(RootKind::Global | RootKind::Heap) => RootKind::Heap,
        Some(k) => k,
        None => RootKind::Unknown,
    }
}

/// Names the walk's maps (their roots hold a holder's index) and the
/// backing-array families by the shortest path from a root to their
/// heap object, and appends the families to `maps`.
#[allow(clippy::too_many_arguments)]
fn name(
    process: &GoProcess,
    heap: &Heap,
    graph: &ObjectGraph,
    roots: &RootSet,
    parents: &[u32],
    holders: &[(u32, Option<u64>)],
    maps: &mut Vec<FoundMap>,
    families: Vec<(FoundMap, u64)>,
) {
    let Some(dwarf) = process.dwarf() else {
        return;
    };
    // The heap object each map's name starts from.
    let holder_of = |m: &FoundMap| -> Option<(usize, String)> {
        let rest = m.root.strip_prefix(MARK)?;
        let (index, suffix) = rest.split_once(MARK)?;
        Some((index.parse().ok()?, suffix.to_string()))
    };
    let mut targets: Vec<u32> = maps
        .iter()
        .map(|m| {
            holder_of(m)
                .and_then(|(i, _)| holders.get(i))
                .map_or(UNREACHED, |h| h.0)
        })
        .collect();
    targets.extend(
        families
            .iter()
            .map(|(_, o)| graph.id_of_address(*o).unwrap_or(UNREACHED)),
    );
    let paths: Vec<Option<Vec<u32>>> = targets
        .iter()
        .map(|&t| (t != UNREACHED).then(|| path_to(parents, t)).flatten())
        .collect();
    let wanted = first_roots(
        roots,
        paths.iter().flatten().filter_map(|p| p.first().copied()),
    );
    let mut labeller = Labeller::new(process, heap, dwarf);
    let mut texts: HashMap<u32, (String, Option<usize>)> = HashMap::new();
    // The path's text up to (not including) its last object, and the
    // named root it starts at.
    let mut prefix = |labeller: &mut Labeller<'_>, path: &[u32]| -> (String, Option<usize>) {
        let Some(&last) = path.last() else {
            return (String::new(), None);
        };
        texts
            .entry(last)
            .or_insert_with(|| {
                let root = path.first().and_then(|r| wanted.get(r).copied().flatten());
                let before = path.get(..path.len() - 1).unwrap_or(&[]);
                let text = path_text(root.and_then(|i| roots.named.get(i)), before, |id| {
                    labeller.label_id(graph, id)
                });
                (text, root)
            })
            .clone()
    };
    let symbols = GlobalSymbols::new(process);
    let mut sizes: Option<HashMap<&str, u64>> = None;
    let mut paths = paths.into_iter();
    for m in maps.iter_mut() {
        let path = paths.next().flatten();
        let (Some((index, suffix)), Some(path)) = (holder_of(m), path) else {
            m.root = crate::unrooted::UNKNOWN_ROOT.to_string();
            continue;
        };
        let (text, root) = prefix(&mut labeller, &path);
        let root = root.and_then(|i| roots.named.get(i));
        let element = holders
            .get(index)
            .and_then(|h| h.1)
            .map_or(String::new(), |j| format!("[{j}]"));
        let holder = path
            .last()
            .map_or_else(String::new, |&id| labeller.label_id(graph, id));
        let kind = through_heap(root.map(|r| r.kind));
        let origin = root.map(|r| r.origin.clone()).unwrap_or_default();
        // A global of one pointer word pointing at the holder: a typed
        // pointer variable, named as DWARF names it (`main.loader.byKind`).
        let pointer_variable = path.len() == 1
            && root.is_some_and(|r| {
                r.kind == RootKind::Global && one_word(&symbols, &mut sizes, r.origin.clone())
            });
        let (head, via) = if pointer_variable {
            (text, RootVia::Typed)
        } else {
            (format!("{text} → {holder}"), RootVia::Objects)
        };
        let rename = |f: &mut FoundMap, suffix: &str| {
            f.root = format!("{head}{element}{suffix}");
            f.root_kind = kind;
            f.origin = origin.clone();
            f.via = via;
        };
        rename(m, &suffix);
        for c in &mut m.children {
            let suffix = holder_of(c).map_or_else(|| "[*]".to_string(), |(_, s)| s);
            rename(c, &suffix);
        }
    }
    for (mut fam, _) in families {
        let Some(path) = paths.next().flatten() else {
            continue;
        };
        let (text, root) = prefix(&mut labeller, &path);
        let root = root.and_then(|i| roots.named.get(i));
        fam.origin = root.map(|r| r.origin.clone()).unwrap_or_default();
        if path.len() == 1 && root.is_some_and(|r| r.kind == RootKind::Global) {
            // A global pointing at the backing array: the slice variable.
            fam.root = text;
            fam.root_kind = RootKind::Global;
            fam.via = RootVia::Variable;
        } else {
            let array = path
                .last()
                .map_or_else(String::new, |&id| labeller.label_id(graph, id));
            fam.root = format!("{text} → {array}");
            fam.root_kind = through_heap(root.map(|r| r.kind));
            fam.via = RootVia::Objects;
        }
        name_members(std::slice::from_mut(&mut fam));
        maps.push(fam);
    }
}

/// Whether the global root `origin` is one pointer word: a data/bss
/// symbol of 8 bytes, or (no symbol table: `-s -w`) a root named per
/// word. `sizes`: the symbols' sizes by name, filled on first use.
fn one_word<'p>(
    symbols: &GlobalSymbols<'p>,
    sizes: &mut Option<HashMap<&'p str, u64>>,
    origin: RootOrigin,
) -> bool {
    let RootOrigin::Global { variable } = origin else {
        return false;
    };
    if symbols.is_empty() {
        return true;
    }
    let sizes = sizes.get_or_insert_with(|| symbols.iter().map(|s| (s.name, s.size)).collect());
    sizes.get(&*variable) == Some(&8)
}

/// Gives every family member of `maps` its family's root (`…[*]`) and
/// origin: after the families' own names are final
/// ([`crate::stripped::name_global_roots`]).
pub(crate) fn name_members(maps: &mut [FoundMap]) {
    for m in maps {
        if m.kind != FoundKind::Family {
            continue;
        }
        let kind = through_heap(Some(m.root_kind));
        for c in &mut m.children {
            c.root = format!("{}[*]", m.root);
            c.root_kind = kind;
            c.origin = m.origin.clone();
            c.via = if m.via == RootVia::Objects {
                RootVia::Objects
            } else {
                RootVia::Typed
            };
        }
    }
}

/// Members of a map whose type its shape left open read at most to
/// decide whether it is a map of maps.
const MAX_CHECKED_MEMBERS: usize = 1 << 12;

/// The maps of `maps` whose shape left their type open (`A | B`) that are
/// maps of maps, with their type: every value of the map points at a map
/// header found on its own, and exactly one of the map types the map may
/// have has a map value type those maps all may have
/// ([`crate::stripped_shapes::may_have_type`]).
fn ambiguous_maps_of_maps(
    process: &GoProcess,
    heap: &Heap,
    decoder: &crate::MapDecoder<'_>,
    maps: &[FoundMap],
) -> Vec<(usize, TypeId)> {
    let Some(dwarf) = process.dwarf() else {
        return Vec::new();
    };
    let types = dwarf.types();
    let is_map = |id: TypeId| {
        matches!(
            decoder.target(types.resolve(id)),
            Some(MapTarget::Map { .. })
        )
    };
    // Program map types whose values are maps: (type, value type).
    let candidates: Vec<(TypeId, TypeId)> = types
        .map_types()
        .filter(|(id, _)| {
            let t = types.get(*id);
            t.runtime_type_offset.is_some() && !t.name.starts_with("go.shape.")
        })
        .filter(|(_, map)| is_map(map.value))
        .map(|(id, map)| (id, map.value))
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    let found: HashMap<u64, &str> = maps
        .iter()
        .map(|m| (m.address, m.type_name.as_str()))
        .collect();
    let collecting = crate::MapDecoder::new(decoder.memory(), dwarf);
    let reader = Reader::new(process.memory());
    let mut out = Vec::new();
    for (i, m) in maps.iter().enumerate() {
        if m.kind != FoundKind::Map || m.value.is_some() || !m.type_name.contains(" | ") {
            continue;
        }
        let fitting: Vec<(TypeId, TypeId)> = candidates
            .iter()
            .copied()
            .filter(|&(t, _)| may_have_type(decoder, &m.type_name, t))
            .collect();
        // The types fitting share the map's geometry: its values are the
        // same words whichever is decoded.
        let Some(target) = fitting.first().and_then(|&(t, _)| decoder.target(t)) else {
            continue;
        };
        let Ok(inst) = collecting.decode_target(target, m.address, heap) else {
            continue;
        };
        if inst.entries.is_empty() || inst.len != inst.live_entries {
            continue;
        }
        let members: Option<Vec<&str>> = inst
            .entries
            .iter()
            .take(MAX_CHECKED_MEMBERS)
            .map(|e| found.get(&reader.u64(e.elem).ok()?).copied())
            .collect();
        let Some(members) = members else {
            continue;
        };
        let mut names: Vec<(&str, TypeId)> = fitting
            .iter()
            .filter(|&&(_, v)| {
                let v = types.resolve(v);
                members
                    .iter()
                    .all(|member| may_have_type(decoder, member, v))
            })
            .map(|&(t, _)| (types.get(t).name.as_str(), t))
            .collect();
        names.sort_unstable();
        names.dedup_by_key(|(n, _)| *n);
        if let [(_, t)] = names.as_slice() {
            out.push((i, *t));
        }
    }
    out
}

/// Maps of maps among `maps` (found without DWARF, named): a map whose
/// value type is a map type becomes the family DWARF's walk makes of it
/// (`main.tenantConfigs`, kind `map-family`: its own storage and its
/// members', `len` counting members, members `main.tenantConfigs[*]`),
/// built by the same walk ([`Walker::walk_values`] from a pointer word
/// holding its header). The maps found on their own that are its members
/// leave the top level. Returns the walk's warnings.
pub(crate) fn nest_maps_of_maps(
    process: &GoProcess,
    heap: &Heap,
    walker: &mut Walker<'_>,
    graph: &ObjectGraph,
    global_words: &[u64],
    maps: &mut Vec<FoundMap>,
) -> Vec<String> {
    let Some(dwarf) = process.dwarf() else {
        return Vec::new();
    };
    let types = dwarf.types();
    let decoder = walker.decoder();
    let is_map = |id: TypeId| {
        matches!(
            decoder.target(types.resolve(id)),
            Some(MapTarget::Map { .. })
        )
    };
    // (index in `maps`, the map's type) of each map of maps.
    let mut outer: Vec<(usize, TypeId)> = maps
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == FoundKind::Map && m.address != 0)
        .filter(|(_, m)| m.value.as_ref().is_some_and(|v| is_map(v.type_id)))
        .filter_map(|(i, m)| Some((i, types.by_name(&m.type_name).filter(|&t| is_map(t))?)))
        .collect();
    outer.extend(ambiguous_maps_of_maps(process, heap, decoder, maps));
    if outer.is_empty() {
        return Vec::new();
    }
    // A pointer word holding each header: a global's, else one of an
    // object pointing at it.
    let wanted: HashSet<u64> = outer
        .iter()
        .filter_map(|&(i, _)| maps.get(i))
        .map(|m| m.address)
        .collect();
    let mem = process.memory();
    let mut word_of: HashMap<u64, u64> = HashMap::new();
    for &w in global_words {
        if let Ok(v) = mem.read_u64(w) {
            if wanted.contains(&v) {
                word_of.entry(v).or_insert(w);
            }
        }
    }
    // (header, its object) of the maps no global points at.
    let missing: Vec<(u64, u32)> = wanted
        .iter()
        .filter(|a| !word_of.contains_key(a))
        .filter_map(|&a| Some((a, graph.id_of_address(a)?)))
        .collect();
    if !missing.is_empty() {
        let ids: Vec<u32> = missing.iter().map(|&(_, id)| id).collect();
        let preds = graph.predecessors(&ids);
        let reader = Reader::new(mem);
        for (header, id) in missing {
            let word = preds.get(&id).into_iter().flatten().find_map(|&p| {
                let o = graph.object(p)?;
                (0..(o.size / 8).min(MAX_WORDS))
                    .map(|k| o.address.wrapping_add(k * 8))
                    .find(|&w| reader.u64(w).ok() == Some(header))
            });
            if let Some(w) = word {
                word_of.insert(header, w);
            }
        }
    }
    let values: Vec<(TypeId, u64, String, RootKind)> = outer
        .iter()
        .filter_map(|&(i, ty)| {
            let m = maps.get(i)?;
            let w = *word_of.get(&m.address)?;
            Some((ty, w, format!("{MARK}{i}{MARK}"), m.root_kind))
        })
        .collect();
    if values.is_empty() {
        return Vec::new();
    }
    walker.walk_values(values);
    let (families, warnings) = walker.take_results();
    let families: Vec<(usize, FoundMap)> = families
        .into_iter()
        .filter(|f| f.kind == FoundKind::Family)
        .filter_map(|f| {
            let i = f
                .root
                .strip_prefix(MARK)?
                .strip_suffix(MARK)?
                .parse::<usize>()
                .ok()?;
            (maps.get(i)?.address == f.address).then_some((i, f))
        })
        .collect();
    // A map of maps that is another's member stays that family's member
    // (as the walk keeps it: a map met once).
    let nested: HashSet<u64> = families
        .iter()
        .flat_map(|(_, f)| f.children.iter().map(|c| c.address))
        .collect();
    // Members by header, and the families' objects: a member the
    // family does not keep in `children` is still its own.
    let mut members: HashSet<u64> = HashSet::new();
    let mut objects: HashSet<u64> = HashSet::new();
    let mut replaced: HashSet<usize> = HashSet::new();
    for (i, mut fam) in families {
        let Some(m) = maps.get_mut(i).filter(|m| !nested.contains(&m.address)) else {
            continue;
        };
        fam.root = std::mem::take(&mut m.root);
        fam.root_kind = m.root_kind;
        fam.origin = m.origin.clone();
        fam.via = m.via;
        name_members(std::slice::from_mut(&mut fam));
        members.extend(fam.children.iter().map(|c| c.address));
        objects.extend(fam.owned.iter().copied());
        *m = fam;
        replaced.insert(i);
    }
    let mut i = 0;
    maps.retain(|m| {
        let member = members.contains(&m.address)
            || (!m.owned.is_empty() && m.owned.iter().all(|a| objects.contains(a)));
        let keep = replaced.contains(&i) || !member;
        i += 1;
        keep
    });
    warnings
}
