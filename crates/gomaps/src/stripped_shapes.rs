//! Maps of an executable without DWARF recognised by their shape: what
//! [`crate::unrooted`] cannot find because no heap object of the map
//! carries a runtime type — pointer-free storage (`map[uint64]uint64`: a
//! noscan span has no type), storage of 512 bytes or less (no malloc
//! header), and `sync.Map` values, which live inside a global.
//!
//! **Map headers.** A reachable heap object no found map owns, of the
//! header's allocation size (`hmap` / `maps.Map`) and with pointers, is a
//! candidate. Its first storage pointer (classic `buckets`, Swiss
//! `dirPtr`) must be the start of a live heap object whose size is the
//! allocation of `2^B` buckets (and the preallocated overflow buckets),
//! of one group (a small Swiss map), or — through the directory's first
//! table — of `lengthMask + 1` groups, for one of the imported runtime map
//! types' storage geometry (bucket/group size, slot offsets and strides,
//! indirect slots, pointers or not: the span's noscan bit must agree).
//! The candidate is then decoded as a map of that geometry and kept only
//! when it holds entries, `len` equals the live slots counted, the decode
//! warns of nothing, and every storage object it names is a live heap
//! object of the size its header implies that no other map owns.
//!
//! **The type.** Map types of the same geometry differ only in their key
//! and value sizes inside the slots (`map[uint64]bool` and
//! `map[uint64]uint64` share a 16-byte slot). A type whose key or value is
//! smaller than the largest of its geometry is ruled out when a live slot
//! has a non-zero byte past it (slot padding is never written). Exactly
//! one type left: that is the map's type. Several (`map[int64]int64` and
//! `map[uint64]uint64` are the same bytes): the map is listed with the
//! alternatives as its type (`map[int64]int64 | map[uint64]uint64`), no
//! key/value types, and one warning counts such maps.
//!
//! **`sync.Map`.** A data/bss symbol of exactly `sizeof(sync.Map)` (`-w`),
//! or, without symbols (`-s -w`), the place a global pointer word would be
//! in a `sync.Map` (the word minus the offset of its `read` / trie `root`
//! pointer), is decoded as a `sync.Map`; kept when it holds entries and
//! decodes without a warning, and then listed as DWARF lists it (kind
//! `sync.Map`, the variable as its root), replacing the inner map
//! [`crate::unrooted`] may have found through its typed storage.
//!
//! Every scan is bounded: [`MAX_CANDIDATES`] headers checked, and
//! [`MAX_CHECKED_ENTRIES`] slots read per type decision.
//!
//! Owns: recognising those maps and `sync.Map`s, and their type decision.
//! Must not touch: the typed walk, the unrooted search, the root set or
//! the graph.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mapscope_goruntime::dwarf::{MapType, TypeId, TypeKind, TypeTable};
use mapscope_goruntime::heap::Heap;
use mapscope_goruntime::GoProcess;
use rayon::prelude::*;

use crate::discover::{key_value, FoundMap, Place, RootKind, RootOrigin, RootVia};
use crate::graph::{ObjectGraph, UNREACHED};
use crate::layout::{is_sync_map, SYNC_MAP_TYPE};
use crate::pointers::{for_each_pointer_word, ObjectScan, PointerMaps};
use crate::roots::{GlobalSymbols, RootSet};
use crate::unrooted::{name_objects, Claimed};
use crate::{MapDecoder, MapInstance, MapLayout, MapTarget, SizeSource, StorageKind};

/// Candidate map headers checked at most.
pub const MAX_CANDIDATES: usize = 1 << 22;
/// Live slots read per map to decide its type.
pub const MAX_CHECKED_ENTRIES: usize = 1 << 12;
/// Prefix of the compiler's generic shape types.
const GENERIC_SHAPE: &str = "go.shape.";
/// Global words tried as `sync.Map` fields at most (`-s -w`).
const MAX_SYNC_CANDIDATES: usize = 1 << 16;

/// One imported map type of a [`Class`].
struct Member {
    id: TypeId,
    map: MapType,
    name: String,
    key_size: u64,
    elem_size: u64,
}

/// Map types whose storage looks the same (see the module doc).
struct Class {
    layout: Arc<MapLayout>,
    members: Vec<Member>,
}

/// The storage geometry that decides how a map decodes.
type Geometry = (bool, u64, u64, u64, u64, u64, bool, bool, bool, bool);

fn geometry(layout: &MapLayout) -> Geometry {
    let (swiss, s) = match layout {
        MapLayout::Classic(c) => (false, c.bucket),
        MapLayout::Swiss(s) => (true, s.group),
    };
    (
        swiss,
        s.size,
        s.keys_offset,
        s.key_stride,
        s.elems_offset,
        s.elem_stride,
        s.indirect_key,
        s.indirect_elem,
        s.pointerful,
        s.split,
    )
}

/// Whether a map listed with the type `type_name` (one type, or the
/// alternatives its shape left: `A | B`, cut as `… (N more)`) may have
/// the map type `id`: a listed one, or, from a cut list, one of the
/// storage geometry of the listed ones.
pub(crate) fn may_have_type(decoder: &MapDecoder<'_>, type_name: &str, id: TypeId) -> bool {
    let types = decoder.dwarf().types();
    let alternatives: Vec<&str> = type_name.split(" | ").collect();
    if alternatives.contains(&types.get(id).name.as_str()) {
        return true;
    }
    let geometry_of = |id: TypeId| {
        let map = types.map_type(id)?;
        decoder.map_layout(id, map).ok().map(|l| geometry(&l))
    };
    type_name.ends_with("more)")
        && alternatives
            .first()
            .and_then(|a| types.by_name(a))
            .and_then(geometry_of)
            .is_some_and(|g| Some(g) == geometry_of(id))
}

fn slot_layout(layout: &MapLayout) -> crate::layout::SlotLayout {
    match layout {
        MapLayout::Classic(c) => c.bucket,
        MapLayout::Swiss(s) => s.group,
    }
}

/// What [`find`] found: maps (named by their path like
/// [`crate::unrooted`]'s) and the warnings about them.
#[derive(Default)]
pub struct Shapes {
    pub maps: Vec<FoundMap>,
    pub warnings: Vec<String>,
    /// How many maps and `sync.Map`s of `maps` were recognised by shape.
    pub recognised: usize,
    /// Addresses of already found maps that are part of a `sync.Map`
    /// found here (its read or dirty map): the `sync.Map` replaces them.
    pub replaced: Vec<u64>,
}

fn bases(heap: &Heap, inst: &MapInstance, out: &mut Vec<u64>) {
    out.extend(
        inst.objects
            .iter()
            .filter(|o| o.size_source == SizeSource::Heap)
            .map(|o| o.base),
    );
    if let Some(o) = heap.object_at(inst.address) {
        out.push(o.address);
    }
    for i in &inst.inner {
        bases(heap, i, out);
    }
}

/// The map types of the stand-in that carry a runtime address, grouped
/// by geometry.
fn classes(decoder: &MapDecoder<'_>) -> Vec<Class> {
    let types = decoder.dwarf().types();
    let mut by_geometry: HashMap<Geometry, usize> = HashMap::new();
    let mut out: Vec<Class> = Vec::new();
    for (id, map) in types.map_types() {
        // Generic shape types (`go.shape.map[…]`) are the compiler's,
        // never a map value's type.
        let name = &types.get(id).name;
        if types.get(id).runtime_type_offset.is_none() || name.starts_with(GENERIC_SHAPE) {
            continue;
        }
        let Ok(layout) = decoder.map_layout(id, map) else {
            continue;
        };
        let slots = slot_layout(&layout);
        if slots.computed {
            continue;
        }
        let member = Member {
            id,
            map: *map,
            name: types.get(id).name.clone(),
            key_size: slots.key_size,
            elem_size: slots.elem_size,
        };
        match by_geometry.get(&geometry(&layout)) {
            Some(&i) => {
                if let Some(c) = out.get_mut(i) {
                    c.members.push(member);
                }
            }
            None => {
                by_geometry.insert(geometry(&layout), out.len());
                out.push(Class {
                    layout,
                    members: vec![member],
                });
            }
        }
    }
    out
}

/// The live heap object whose data starts at `address`, with its span's
/// noscan bit.
fn object_starting(heap: &Heap, graph: &ObjectGraph, address: u64) -> Option<(u64, bool)> {
    let obj = graph.object(graph.id_of_address(address)?)?;
    if obj.data_start() != address {
        return None;
    }
    let noscan = heap.spans().get(obj.span as usize)?.noscan;
    Some((obj.size, noscan))
}

/// The classes whose storage fits the first storage object of the
/// candidate header at `addr` (see the module doc).
fn fitting<'c>(
    process: &GoProcess,
    heap: &Heap,
    graph: &ObjectGraph,
    decoder: &MapDecoder<'_>,
    classes: &'c [Class],
    addr: u64,
) -> Vec<&'c Class> {
    let Some(first) = classes.first() else {
        return Vec::new();
    };
    let mem = process.memory();
    let alloc =
        |bytes: u64, pointerful: bool| decoder.size_classes().allocation_size(bytes, pointerful);
    let fits = |obj: (u64, bool), bytes: Option<u64>, pointerful: bool| {
        bytes.is_some_and(|b| b > 0 && alloc(b, pointerful) == obj.0) && obj.1 != pointerful
    };
    // The first storage object and how many buckets / groups it holds.
    let storage = || -> Option<((u64, bool), u64)> {
        match &*first.layout {
            MapLayout::Classic(l) => {
                let raw = mem.bytes(addr, l.header_size as usize).ok()?;
                let count = l.count.get_or_zero(raw) as i64;
                let b = l.b.get_or_zero(raw);
                let buckets = l.buckets.get_or_zero(raw);
                if count <= 0 || b > 40 || buckets == 0 {
                    return None;
                }
                let obj = object_starting(heap, graph, buckets)?;
                let mut n = 1u64 << b;
                if b >= 4 {
                    n += 1u64 << (b - 4);
                }
                Some((obj, n))
            }
            MapLayout::Swiss(l) => {
                let raw = mem.bytes(addr, l.header_size as usize).ok()?;
                let used = l.used.get_or_zero(raw);
                let dir_ptr = l.dir_ptr.get_or_zero(raw);
                let dir_len = l.dir_len.get_or_zero(raw) as i64;
                if used == 0 || dir_ptr == 0 || !(0..=1 << 20).contains(&dir_len) {
                    return None;
                }
                if dir_len == 0 {
                    return Some((object_starting(heap, graph, dir_ptr)?, 1));
                }
                // The directory, its first table, that table's groups.
                let dir = object_starting(heap, graph, dir_ptr)?;
                if !fits(dir, Some(dir_len as u64 * 8), true) {
                    return None;
                }
                let table = mem.read_u64(dir_ptr).ok()?;
                if !fits(
                    object_starting(heap, graph, table)?,
                    Some(l.table_size),
                    true,
                ) {
                    return None;
                }
                let t = mem.bytes(table, l.table_size as usize).ok()?;
                let data = l.t_groups_data.get_or_zero(t);
                let mask = l.t_length_mask.get_or_zero(t);
                let obj = object_starting(heap, graph, data)?;
                if mask >= 1 << 40 {
                    return None;
                }
                Some((obj, mask + 1))
            }
        }
    };
    let Some((obj, units)) = storage() else {
        return Vec::new();
    };
    let variant = std::mem::discriminant(&*first.layout);
    classes
        .iter()
        .filter(|c| {
            let s = slot_layout(&c.layout);
            std::mem::discriminant(&*c.layout) == variant
                && fits(obj, units.checked_mul(s.size), s.pointerful)
        })
        .collect()
}

/// Whether every storage object of `inst` but the header is a live heap
/// object no map owns.
fn storage_is_free(inst: &MapInstance, graph: &ObjectGraph, owned: &Claimed) -> bool {
    inst.objects
        .iter()
        .filter(|o| o.kind != StorageKind::Header)
        .all(|o| {
            o.size_source == SizeSource::Heap
                && graph.id_of_address(o.base).is_some()
                && !owned.contains(graph, o.base)
        })
}

/// The members of `class` the live slots of `inst` allow (see the module
/// doc: a smaller key or value leaves the rest of its slot zero).
fn allowed<'c>(
    process: &GoProcess,
    class: &Class,
    members: &[&'c Member],
    inst: &MapInstance,
) -> Vec<&'c Member> {
    let max_key = class.members.iter().map(|m| m.key_size).max().unwrap_or(0);
    let max_elem = class.members.iter().map(|m| m.elem_size).max().unwrap_or(0);
    let slots = slot_layout(&class.layout);
    let mem = process.memory();
    let zero_past = |at: u64, size: u64, max: u64| -> bool {
        if size >= max {
            return true;
        }
        let mut buf = [0u8; 256];
        let len = (max - size).min(buf.len() as u64) as usize;
        let Some(slice) = buf.get_mut(..len) else {
            return true;
        };
        mem.read(at.wrapping_add(size), slice).is_err() || slice.iter().all(|&b| b == 0)
    };
    members
        .iter()
        .copied()
        .filter(|m| {
            inst.entries.iter().take(MAX_CHECKED_ENTRIES).all(|e| {
                (slots.indirect_key || zero_past(e.key, m.key_size, max_key))
                    && (slots.indirect_elem || zero_past(e.elem, m.elem_size, max_elem))
            })
        })
        .collect()
}

/// Deepest type nesting followed for pointer words.
const MAX_TYPE_DEPTH: usize = 16;
/// Pointer words listed per bucket/group at most.
const MAX_UNIT_WORDS: usize = 1 << 12;

/// Byte offsets of the pointer words of a value of type `id` placed at
/// `base`; `false` when the type is not known well enough to say.
fn pointer_words(
    types: &TypeTable,
    id: TypeId,
    base: u64,
    depth: usize,
    out: &mut Vec<u64>,
) -> bool {
    if depth > MAX_TYPE_DEPTH || out.len() > MAX_UNIT_WORDS {
        return false;
    }
    let ty = types.get(types.resolve(id));
    match ty.kind {
        TypeKind::Unknown | TypeKind::Typedef { .. } => false,
        TypeKind::Bool | TypeKind::Int | TypeKind::Uint | TypeKind::Float | TypeKind::Complex => {
            true
        }
        TypeKind::Pointer { .. }
        | TypeKind::Map(_)
        | TypeKind::Chan { .. }
        | TypeKind::Func
        | TypeKind::String
        | TypeKind::Slice { .. } => {
            out.push(base);
            true
        }
        TypeKind::Interface { .. } => {
            out.push(base);
            out.push(base.wrapping_add(8));
            true
        }
        TypeKind::Array { elem, count } => {
            let Some(size) = types.size_of(elem) else {
                return false;
            };
            if count == 0 {
                return true;
            }
            if size == 0 || count > MAX_UNIT_WORDS as u64 {
                return false;
            }
            (0..count).all(|i| pointer_words(types, elem, base + i * size, depth + 1, out))
        }
        TypeKind::Struct => ty
            .fields
            .iter()
            .all(|f| pointer_words(types, f.ty, base.wrapping_add(f.offset), depth + 1, out)),
    }
}

/// The pointer words (byte offsets) of one bucket/group of `map` laid out
/// as `layout`, sorted; `None` when a key or value type is not known well
/// enough.
fn expected_pointers(types: &TypeTable, map: &MapType, layout: &MapLayout) -> Option<Vec<u64>> {
    let s = slot_layout(layout);
    let mut out = Vec::new();
    for i in 0..crate::layout::SLOTS {
        let key = s.keys_offset + i * s.key_stride;
        let elem = s.elems_offset + i * s.elem_stride;
        if s.indirect_key {
            out.push(key);
        } else if !pointer_words(types, map.key, key, 0, &mut out) {
            return None;
        }
        if s.indirect_elem {
            out.push(elem);
        } else if !pointer_words(types, map.value, elem, 0, &mut out) {
            return None;
        }
    }
    if let Some(o) = s.overflow_offset.filter(|_| s.pointerful) {
        out.push(o);
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// The pointer words (byte offsets) the heap's bitmap gives the first
/// bucket/group of `inst`'s storage, sorted; `None` without precise bits
/// (or for pointer-free storage, where there is nothing to compare).
fn observed_pointers(
    process: &GoProcess,
    heap: &Heap,
    pointers: &PointerMaps,
    class: &Class,
    inst: &MapInstance,
) -> Option<Vec<u64>> {
    let s = slot_layout(&class.layout);
    if !s.pointerful {
        return None;
    }
    let storage = inst
        .objects
        .iter()
        .find(|o| matches!(o.kind, StorageKind::Buckets | StorageKind::Groups))?;
    let obj = heap.object_at(storage.base)?;
    let span = heap.spans().get(obj.span as usize)?;
    let mem = process.memory();
    let scan = pointers.object_scan(mem, obj.address, span);
    if matches!(scan, ObjectScan::Conservative | ObjectScan::None) {
        return None;
    }
    let start = storage.address;
    let end = start
        .checked_add(s.size)?
        .min(obj.address.saturating_add(obj.size));
    let mut out = Vec::new();
    let precise = for_each_pointer_word(&scan, start, end, |a| {
        if a >= start && out.len() <= MAX_UNIT_WORDS {
            out.push(a - start);
        }
    });
    if !precise {
        return None;
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// A map recognised by shape, before it is named.
struct Recognised {
    inst: MapInstance,
    /// Several types fit (their names, sorted).
    ambiguous: Option<Vec<String>>,
    /// Graph id of the header.
    header: u32,
}

/// Finds the maps and `sync.Map`s of an executable without DWARF that
/// [`crate::unrooted`] cannot find (see the module doc). `found` are the
/// maps already found (never claimed twice); `parents` is the
/// shortest-path forest of `roots`; `words` the data/bss pointer words.
#[allow(clippy::too_many_arguments)]
pub fn find(
    process: &GoProcess,
    heap: &Heap,
    decoder: &MapDecoder<'_>,
    graph: &ObjectGraph,
    pointers: &PointerMaps,
    roots: &RootSet,
    parents: &[u32],
    found: &[&[FoundMap]],
) -> Shapes {
    let words = pointers.global_words().unwrap_or(&[]);
    let mut out = Shapes::default();
    let mut owned = Claimed::of(graph, found);
    let classes = classes(decoder);
    let reached = |id: u32| parents.get(id as usize).is_some_and(|&p| p != UNREACHED);
    // Header allocation size (every class shares the header layout).
    let header_size = match classes.first().map(|c| &*c.layout) {
        Some(MapLayout::Classic(l)) => Some(l.header_size),
        Some(MapLayout::Swiss(l)) => Some(l.header_size),
        None => None,
    };
    let mut recognised: Vec<Recognised> = Vec::new();
    let collecting = MapDecoder::new(decoder.memory(), decoder.dwarf());
    if let Some(header_size) = header_size {
        let alloc = decoder.size_classes().allocation_size(header_size, true);
        let spans = heap.spans();
        let candidates: Vec<u32> = (0..spans.len())
            .into_par_iter()
            .filter(|&i| {
                spans
                    .get(i)
                    .is_some_and(|s| s.elem_size == alloc && !s.noscan && s.size_class != 0)
            })
            .flat_map_iter(|i| {
                heap.span_objects(i)
                    .filter_map(|o| graph.id_of_address(o.address))
            })
            .filter(|&id| reached(id))
            .collect();
        if candidates.len() > MAX_CANDIDATES {
            out.warnings.push(format!(
                "maps recognised by shape: {} candidate map headers, only the first {MAX_CANDIDATES} checked",
                candidates.len()
            ));
        }
        let decoded: Vec<Recognised> = candidates
            .par_iter()
            .take(MAX_CANDIDATES)
            .filter_map(|&id| {
                let obj = graph.object(id)?;
                let addr = obj.data_start();
                if owned.contains(graph, addr) {
                    return None;
                }
                let fit = fitting(process, heap, graph, decoder, &classes, addr);
                let mut names: Vec<(&Member, MapInstance)> = Vec::new();
                for class in fit {
                    let rep = class.members.first()?;
                    let target = MapTarget::Map {
                        id: rep.id,
                        map: rep.map,
                    };
                    let Ok(inst) = decoder.decode_target(target, addr, heap) else {
                        continue;
                    };
                    if inst.len == 0
                        || inst.len != inst.live_entries
                        || !inst.warnings.is_empty()
                        || !storage_is_free(&inst, graph, &owned)
                    {
                        continue;
                    }
                    // The pointer words of the first bucket/group rule out
                    // types whose keys and values put pointers elsewhere.
                    let observed = observed_pointers(process, heap, pointers, class, &inst);
                    let types = decoder.dwarf().types();
                    let members: Vec<&Member> = class
                        .members
                        .iter()
                        .filter(|m| {
                            let expected = expected_pointers(types, &m.map, &class.layout);
                            match (&observed, expected) {
                                (Some(o), Some(e)) => *o == e,
                                _ => true,
                            }
                        })
                        .collect();
                    if members.len() <= 1 {
                        names.extend(members.into_iter().map(|m| (m, inst.clone())));
                        continue;
                    }
                    // Several types: read the live slots (the discovery's
                    // decoder does not list entries).
                    let Ok(listed) = collecting.decode_target(target, addr, heap) else {
                        continue;
                    };
                    for m in allowed(process, class, &members, &listed) {
                        names.push((m, inst.clone()));
                    }
                }
                let mut distinct: Vec<String> = names.iter().map(|(m, _)| m.name.clone()).collect();
                distinct.sort();
                distinct.dedup();
                let (member, mut inst) = names.into_iter().next()?;
                inst.type_name = member.name.clone();
                inst.map_type = member.id;
                inst.key_type = member.map.key;
                inst.elem_type = member.map.value;
                Some(Recognised {
                    inst,
                    ambiguous: (distinct.len() > 1).then_some(distinct),
                    header: id,
                })
            })
            .collect();
        // Two candidates never share storage (the first claims it).
        for r in decoded {
            let mut own = Vec::new();
            bases(heap, &r.inst, &mut own);
            if own.iter().any(|&a| owned.contains(graph, a)) {
                continue;
            }
            for &a in &own {
                owned.insert(graph, a);
            }
            recognised.push(r);
        }
    }
    let ambiguous = recognised.iter().filter(|r| r.ambiguous.is_some()).count();
    out.maps = name_recognised(process, heap, decoder, graph, roots, parents, recognised);
    if ambiguous > 0 {
        out.warnings.push(format!(
            "{ambiguous} maps recognised by their shape have an ambiguous type: several map types of the program lay out their storage the same way; their type lists the alternatives (`A | B`) and no key/value type is given"
        ));
    }
    let mut lists: Vec<&[FoundMap]> = found.to_vec();
    lists.push(&out.maps);
    let (sync_maps, replaced, warnings) =
        sync_maps(process, heap, decoder, graph, words, &owned, &lists);
    out.maps.retain(|m| !replaced.contains(&m.address));
    out.maps.extend(sync_maps);
    out.recognised = out.maps.len();
    out.warnings.extend(warnings);
    out.replaced = replaced;
    out
}

/// Names recognised maps by their shortest path from a root, as
/// [`crate::unrooted`] names its maps (`main.x → map` when a root points
/// at the header; [`crate::stripped::name_global_roots`] then makes a
/// global holding the header the map's variable).
fn name_recognised(
    process: &GoProcess,
    heap: &Heap,
    decoder: &MapDecoder<'_>,
    graph: &ObjectGraph,
    roots: &RootSet,
    parents: &[u32],
    recognised: Vec<Recognised>,
) -> Vec<FoundMap> {
    let ends: Vec<(u32, bool)> = recognised
        .iter()
        .map(|r| match parents.get(r.header as usize) {
            Some(&p) if p != r.header && p != UNREACHED => (p, false),
            _ => (r.header, true),
        })
        .collect();
    let ids: Vec<u32> = ends.iter().map(|&(id, _)| id).collect();
    let names = name_objects(process, heap, decoder.dwarf(), graph, roots, parents, &ids);
    let types = decoder.dwarf().types();
    let mut out = Vec::with_capacity(recognised.len());
    for ((r, (_, direct)), name) in recognised.into_iter().zip(ends).zip(names) {
        let root = name
            .as_ref()
            .and_then(|n| n.root)
            .and_then(|i| roots.named.get(i));
        let text = match (&name, root) {
            (_, Some(root)) if direct => {
                if root.type_name.is_empty() {
                    format!("{} → map", root.name)
                } else {
                    format!("{} ({}) → map", root.name, root.type_name)
                }
            }
            (Some(n), _) => format!("{} → map", n.path),
            (None, _) => crate::unrooted::UNKNOWN_ROOT.to_string(),
        };
        let kind = match root.map(|r| r.kind) {
            Some(RootKind::Global) if direct => RootKind::Global,
            Some(RootKind::Global | RootKind::Heap) => RootKind::Heap,
            Some(k) => k,
            None => RootKind::Unknown,
        };
        let place = Place {
            root: text,
            kind,
            origin: root.map(|r| r.origin.clone()).unwrap_or_default(),
            via: if root.is_some() {
                RootVia::Objects
            } else {
                RootVia::None
            },
        };
        let mut own = Vec::new();
        bases(heap, &r.inst, &mut own);
        own.sort_unstable();
        own.dedup();
        let kv = match &r.ambiguous {
            Some(_) => (None, None),
            None => key_value(types, &r.inst),
        };
        let mut m = FoundMap::new(&r.inst, place, own, kv);
        if let Some(alternatives) = &r.ambiguous {
            m.type_name = ambiguous_type(alternatives);
        }
        out.push(m);
    }
    out
}

/// Alternatives listed in an ambiguous type at most.
const LISTED_ALTERNATIVES: usize = 3;

/// The type of a map several types fit: `A | B | C`, and `| … (N more)`
/// past [`LISTED_ALTERNATIVES`].
fn ambiguous_type(alternatives: &[String]) -> String {
    let shown: Vec<&str> = alternatives
        .iter()
        .take(LISTED_ALTERNATIVES)
        .map(String::as_str)
        .collect();
    let mut s = shown.join(" | ");
    if alternatives.len() > shown.len() {
        s.push_str(&format!(" | … ({} more)", alternatives.len() - shown.len()));
    }
    s
}

/// The `sync.Map`s of the module doc, and the found maps they replace.
fn sync_maps(
    process: &GoProcess,
    heap: &Heap,
    decoder: &MapDecoder<'_>,
    graph: &ObjectGraph,
    words: &[u64],
    owned: &Claimed,
    lists: &[&[FoundMap]],
) -> (Vec<FoundMap>, Vec<u64>, Vec<String>) {
    let types = decoder.dwarf().types();
    let Some(id) = types
        .by_name(SYNC_MAP_TYPE)
        .filter(|&id| is_sync_map(types, id))
    else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let Some(size) = types.size_of(id).filter(|&s| s > 0) else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let Some(MapTarget::SyncMap { id }) = decoder.target(id) else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let Ok(layout) = crate::layout::sync_map_layout(decoder.dwarf(), id) else {
        return (Vec::new(), Vec::new(), Vec::new());
    };
    let inner_offset = match layout {
        crate::SyncMapLayout::ReadDirty(l) => l.read.offset,
        crate::SyncMapLayout::HashTrie(l) => l.root.offset,
    };
    let bias = process.load_bias();
    let symbols = GlobalSymbols::new(process);
    // (runtime address, name) of each candidate.
    // Symbols of the size of a sync.Map, then the words no symbol covers.
    let mem = process.memory();
    let candidates: Vec<(u64, String)> = symbols
        .iter()
        .filter(|s| s.size == size)
        .map(|s| (s.address.wrapping_add(bias), s.name.to_string()))
        .chain(
            words
                .iter()
                .filter(|&&w| symbols.covering(w).is_none())
                .filter(|&&w| {
                    mem.read_u64(w)
                        .ok()
                        .and_then(|v| graph.id_of_address(v))
                        .is_some()
                })
                .take(MAX_SYNC_CANDIDATES)
                .filter_map(|&w| w.checked_sub(inner_offset))
                .map(|a| (a, format!("global {:#x}", a.wrapping_sub(bias)))),
        )
        .collect();
    let globals = decoder.dwarf().globals();
    let alloc = |bytes: u64| decoder.size_classes().allocation_size(bytes, true);
    // Objects whose size the layout fixes, and the object the inner
    // pointer of a `sync.Map` points at.
    let (inner_size, fixed): (u64, Vec<(StorageKind, u64)>) = match layout {
        crate::SyncMapLayout::ReadDirty(l) => (
            l.read_only_size,
            vec![
                (StorageKind::SyncReadOnly, l.read_only_size),
                (StorageKind::SyncEntry, l.entry_size),
            ],
        ),
        crate::SyncMapLayout::HashTrie(l) => (
            l.indirect_size,
            vec![
                (StorageKind::TrieIndirect, l.indirect_size),
                (StorageKind::TrieEntry, l.entry_size),
            ],
        ),
    };
    let mem = process.memory();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut out: Vec<FoundMap> = Vec::new();
    // Decoder warnings, each with the sync.Maps it concerns.
    let mut warned: Vec<(String, Vec<String>)> = Vec::new();
    let mut replaced = Vec::new();
    for (addr, name) in candidates {
        if !seen.insert(addr) || globals.containing(addr.wrapping_sub(bias)).is_some() {
            continue;
        }
        // The inner pointer must point at an object of its type's size.
        let inner = mem
            .read_u64(addr.wrapping_add(inner_offset))
            .ok()
            .and_then(|v| Some((v, graph.object(graph.id_of_address(v)?)?)));
        if !inner.is_some_and(|(v, o)| o.data_start() == v && o.size == alloc(inner_size)) {
            continue;
        }
        let Ok(inst) = decoder.decode_target(MapTarget::SyncMap { id }, addr, heap) else {
            continue;
        };
        // The decoder's own warnings (no `sync.expunged` without
        // symbols) are passed on; inner maps must decode cleanly, and
        // every node be a heap object of its type's size.
        let inner_ok = inst
            .inner
            .iter()
            .all(|i| i.len == i.live_entries && i.warnings.is_empty());
        let sizes_ok = inst.objects.iter().all(|o| {
            fixed
                .iter()
                .find(|(k, _)| *k == o.kind)
                .is_none_or(|&(_, size)| o.size_source == SizeSource::Heap && o.size == alloc(size))
        });
        if inst.len == 0 || inst.len != inst.live_entries || !inner_ok || !sizes_ok {
            continue;
        }
        let mut own = Vec::new();
        bases(heap, &inst, &mut own);
        own.sort_unstable();
        own.dedup();
        // A sync.Map holds heap storage: a candidate whose objects are
        // not in the heap is not one.
        if own.is_empty() {
            continue;
        }
        // Objects a found map owns: only the inner maps of this sync.Map,
        // found from a pointer word inside it, may be (they are replaced).
        let lo = addr.wrapping_sub(bias);
        let inside = |m: &FoundMap| match &m.origin {
            RootOrigin::Global { variable } => {
                **variable == *name
                    || variable
                        .strip_prefix("global 0x")
                        .and_then(|h| u64::from_str_radix(h, 16).ok())
                        .is_some_and(|a| a >= lo && a < lo.saturating_add(size))
            }
            _ => false,
        };
        let mut takes = Vec::new();
        let mut conflict = false;
        for &a in own.iter().filter(|&&a| owned.contains(graph, a)) {
            let holder = lists
                .iter()
                .flat_map(|l| l.iter())
                .chain(out.iter())
                .find(|m| m.owned.contains(&a));
            match holder {
                Some(m) if inside(m) && m.kind == crate::discover::FoundKind::Map => {
                    takes.push(m.address)
                }
                _ => {
                    conflict = true;
                    break;
                }
            }
        }
        if conflict {
            continue;
        }
        replaced.extend(takes);
        for w in &inst.warnings {
            match warned.iter_mut().find(|(text, _)| text == w) {
                Some((_, names)) => names.push(name.clone()),
                None => warned.push((w.clone(), vec![name.clone()])),
            }
        }
        let place = Place {
            root: name.clone(),
            kind: RootKind::Global,
            origin: RootOrigin::Global {
                variable: Arc::from(name.as_str()),
            },
            via: RootVia::Variable,
        };
        let kv = key_value(types, &inst);
        out.push(FoundMap::new(&inst, place, own, kv));
    }
    replaced.sort_unstable();
    replaced.dedup();
    let warnings = warned
        .into_iter()
        .map(|(w, names)| format!("sync.Map found by its shape ({}): {w}", names.join(", ")))
        .collect();
    (out, replaced, warnings)
}
