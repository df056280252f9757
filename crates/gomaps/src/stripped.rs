//! Maps of an executable without DWARF: the names of their global roots
//! and the warning that says what such a run can and cannot find.
//!
//! Without DWARF the program's globals have no types: the GC's root set
//! names each data/bss pointer word by the ELF symbol covering it
//! (`main.sessionsByID`, kept by `-ldflags=-w`) or, with no symbol table
//! (`-s -w`), by its address (`global 0x6a1f20`) — see
//! [`crate::roots::GlobalSymbols`] — and maps are found from their
//! storage's runtime types ([`crate::unrooted`], with the map types
//! `mapscope_goruntime::rtype` read from the type descriptors). This
//! module finishes the names of such maps: a global pointing at the map
//! header itself names the map as its variable does with DWARF, and a
//! path starting at a pointer word inside a larger symbol says the word's
//! offset (`main.tokenCache+0x8 → 16-byte object → map`), except inside a
//! `sync.Map` (one [`crate::stripped_shapes`] recognised, or a symbol of
//! its size at its `read`/`dirty`/trie `root` word), spelled as with
//! DWARF: `encoding/json.fieldCache (sync.Map) → …` (`global 0x… (sync.Map)
//! → …` without symbols). Struct field paths come from the type
//! descriptors when exactly one struct type fits: the symbol's size for a
//! map inside a global (`cmd/compile/internal/base.Flag.Cfg.PackageFile`),
//! the size class of the one untyped heap object a pointer variable points
//! at for a map behind it (`main.registry.endpoints`).
//!
//! Owns: those names and the stripped-build warning.
//! Must not touch: the root set, the graph (mapscope-goheap) or the
//! unrooted search itself.

use std::collections::{HashMap, HashSet};

use std::sync::Arc;

use mapscope_goruntime::dwarf::{DwarfInfo, TypeId, TypeKind, TypeTable};
use mapscope_goruntime::GoProcess;

use crate::alloc::SizeClasses;
use crate::discover::{FoundKind, FoundMap, RootKind, RootOrigin, RootVia, SlotType};
use crate::graph::{ObjectGraph, UNREACHED};
use crate::layout::{
    is_sync_map, sync_map_layout, SyncMapLayout, MAX_INLINE_KEY_ELEM, SYNC_MAP_TYPE,
};
use crate::pointers::PointerMaps;
use crate::roots::{GlobalSymbol, GlobalSymbols};

/// Longest object path followed back to its root.
const MAX_PATH: usize = 1 << 20;

/// The root end of the shortest path from a root to `id` (`parents` of
/// [`ObjectGraph::shortest_paths`]), or `None` when no root reaches it.
fn path_root(parents: &[u32], mut id: u32) -> Option<u32> {
    for _ in 0..MAX_PATH {
        let p = *parents.get(id as usize)?;
        if p == UNREACHED {
            return None;
        }
        if p == id {
            return Some(id);
        }
        id = p;
    }
    None
}

/// Pointer words of one global scanned for the one pointing at a path's
/// first object (a huge array global is not scanned past this).
const MAX_WORDS_SCANNED: usize = 1 << 16;

/// Names the maps whose path starts at a global root of an executable
/// without DWARF (see the module doc): a global pointing at the map
/// header itself holds the map as a map variable does (`main.sessionsByID`,
/// `global 0x66d918`), and a pointer word inside a larger symbol is named
/// by its offset (`main.tokenCache+0x8 → 16-byte object → map`). The
/// roots themselves are named by [`crate::roots::collect`]; `parents` is
/// the shortest-path forest the maps were named from. A pointer variable
/// (`main.registry`, one word) pointing at a small object that holds the
/// map header is named by the field as DWARF names it
/// (`main.registry.endpoints`) when exactly one struct type of the
/// object's size class has a map field of the map's type at the header
/// pointer's offset (`classes`: the size classes).
pub fn name_global_roots(
    process: &GoProcess,
    pointers: &PointerMaps,
    graph: &ObjectGraph,
    parents: &[u32],
    classes: &SizeClasses,
    maps: &mut [FoundMap],
) {
    let symbols = GlobalSymbols::new(process);
    let by_name: HashMap<&str, GlobalSymbol<'_>> = symbols.iter().map(|s| (s.name, s)).collect();
    let words = pointers.global_words().unwrap_or(&[]);
    let mem = process.memory();
    let bias = process.load_bias();
    // (symbol address, first object) → offset of the lowest word.
    let mut offsets: HashMap<(u64, u32), Option<u64>> = HashMap::new();
    let types = process.dwarf().map(|d| d.types());
    let mut structs: Option<HashMap<u64, Vec<TypeId>>> = None;
    // A map several globals hold directly is named by a map variable (a
    // symbol of one word) when there is one, as the DWARF walk names it.
    let direct: HashSet<u64> = maps
        .iter()
        .filter(|m| m.via == RootVia::Objects && m.root_kind == RootKind::Global)
        .map(|m| m.address)
        .collect();
    // `sync.Map` globals: those recognised by their shape, and the size
    // and pointer words of the type.
    let sync_maps: HashSet<String> = maps
        .iter()
        .filter(|m| m.kind == FoundKind::SyncMap)
        .filter_map(|m| match &m.origin {
            RootOrigin::Global { variable } if *m.root == **variable => Some(variable.to_string()),
            _ => None,
        })
        .collect();
    let sync_globals: HashMap<u64, &str> = sync_maps
        .iter()
        .filter_map(|v| Some((global_address(v)?, v.as_str())))
        .collect();
    let (sync_map_size, sync_map_words) = process
        .dwarf()
        .and_then(sync_map_words)
        .map_or((None, Vec::new()), |(s, w)| (Some(s), w));
    let mut variables: HashMap<u64, String> = HashMap::new();
    if !direct.is_empty() {
        for &w in words {
            let Ok(v) = mem.read_u64(w) else { continue };
            if !direct.contains(&v) || variables.contains_key(&v) {
                continue;
            }
            let link = w.wrapping_sub(bias);
            if let Some(s) = symbols
                .covering(w)
                .filter(|s| s.address == link && s.size == 8)
            {
                variables.insert(v, s.name.to_string());
            }
        }
    }
    for m in maps.iter_mut() {
        if m.via != RootVia::Objects {
            continue;
        }
        let RootOrigin::Global { variable } = &m.origin else {
            continue;
        };
        let variable = variable.clone();
        let Some(rest) = m.root.strip_prefix(&*variable) else {
            continue;
        };
        if !rest.starts_with(" → ") {
            // A typed root (`runtime.allgs ([]*runtime.g) → …`).
            continue;
        }
        let mut direct = rest == " → map" && m.root_kind == RootKind::Global;
        let mut name = variable.to_string();
        let mut field: Option<(String, TypeId)> = None;
        let pointer_variable = by_name
            .get(&*variable)
            .filter(|s| s.size == 8)
            .map(|s| s.address.wrapping_add(bias));
        if let (Some(word), Some(types)) = (pointer_variable, types) {
            // `VAR → N-byte object → map`: the object's field.
            if let Some((f, _)) = held_field(
                process,
                graph,
                parents,
                classes,
                types,
                &mut structs,
                (word, m),
            ) {
                let sep = if f.starts_with('[') { "" } else { "." };
                m.root = format!("{variable}{sep}{f}");
                m.via = RootVia::Typed;
                continue;
            }
        }
        if let Some(sym) = by_name.get(&*variable).filter(|s| s.size > 8) {
            let first = graph
                .id_of_address(m.address)
                .and_then(|id| path_root(parents, id));
            if let Some(first) = first {
                let offset = *offsets.entry((sym.address, first)).or_insert_with(|| {
                    let lo = sym.address.wrapping_add(bias);
                    let hi = lo.saturating_add(sym.size);
                    let from = words.partition_point(|&w| w < lo);
                    words
                        .get(from..)
                        .unwrap_or(&[])
                        .iter()
                        .take_while(|&&w| w < hi)
                        .take(MAX_WORDS_SCANNED)
                        .find(|&&w| {
                            mem.read_u64(w).ok().and_then(|v| graph.id_of_address(v)) == Some(first)
                        })
                        .map(|&w| w - lo)
                });
                if let (Some(off), Some(types)) = (offset.filter(|_| direct), types) {
                    field = struct_field(types, &mut structs, sym.size, off, &m.type_name);
                }
                // A dirty map word must hold the sync.Map's own map type
                // (a struct of the same size may have a map there).
                let sync_map = offset.is_some_and(|o| {
                    sync_maps.contains(&*variable)
                        || (sync_map_size == Some(sym.size)
                            && sync_map_words.iter().any(|(w, t)| {
                                *w == o
                                    && t.as_ref()
                                        .is_none_or(|t| m.type_name.split(" | ").any(|x| x == t))
                            }))
                });
                if sync_map && field.is_none() {
                    // The path runs through the sync.Map's own pointer
                    // word: DWARF's spelling, the variable and its type.
                    name = format!("{variable} ({SYNC_MAP_TYPE})");
                    direct = false;
                } else if let Some(off) = offset.filter(|&o| o > 0) {
                    name = format!("{variable}+{off:#x}");
                }
            }
        } else if let Some(owner) = global_address(&variable).and_then(|word| {
            // No symbols (`-s -w`): a root word at a pointer word of a
            // sync.Map recognised by its shape (`global 0x…`).
            sync_map_words.iter().find_map(|(o, t)| {
                let owner = sync_globals.get(&word.checked_sub(*o)?)?;
                t.as_ref()
                    .is_none_or(|t| m.type_name.split(" | ").any(|x| x == t))
                    .then_some(owner)
            })
        }) {
            name = format!("{owner} ({SYNC_MAP_TYPE})");
            direct = false;
        }
        if let (Some((_, ty)), Some(types)) = (&field, types) {
            // The field's map type settles a type the shape left open.
            if m.type_name != types.get(*ty).name {
                m.type_name = types.get(*ty).name.clone();
                if let Some(map) = types.map_type(*ty) {
                    m.key = slot_type(types, map.key);
                    m.value = slot_type(types, map.value);
                }
            }
        }
        match (variables.get(&m.address).filter(|_| direct), field) {
            (Some(v), _) => {
                m.root = v.clone();
                m.origin = RootOrigin::Global {
                    variable: Arc::from(v.as_str()),
                };
                m.via = RootVia::Variable;
            }
            (None, Some((path, _))) => {
                let sep = if path.starts_with('[') { "" } else { "." };
                m.root = format!("{variable}{sep}{path}");
                m.via = RootVia::Typed;
            }
            _ if direct => {
                m.root = name;
                m.via = RootVia::Variable;
            }
            _ => m.root = format!("{name}{rest}"),
        }
    }
}

/// Words of a held object scanned for the map header's pointer.
const MAX_OBJECT_WORDS: u64 = 512;

/// The field of the one heap object between the pointer variable at
/// `word` and `m`'s header (`VAR → object → map`: the variable points at
/// the object, the object is the header's parent in the shortest-path
/// forest `parents`): the offset of the object's first word pointing at
/// the header, and the struct types of the object's size class with a
/// map field of `m`'s type there ([`struct_field`]); `None` unless
/// exactly one names it.
#[allow(clippy::too_many_arguments)]
fn held_field(
    process: &GoProcess,
    graph: &ObjectGraph,
    parents: &[u32],
    classes: &SizeClasses,
    types: &TypeTable,
    structs: &mut Option<HashMap<u64, Vec<TypeId>>>,
    (word, m): (u64, &FoundMap),
) -> Option<(String, TypeId)> {
    let header = graph.id_of_address(m.address)?;
    let holder = *parents.get(header as usize)?;
    if holder == header || holder == UNREACHED || parents.get(holder as usize) != Some(&holder) {
        return None;
    }
    let mem = process.memory();
    let object = graph.object(holder)?;
    // The variable itself points at the object (not another root).
    if mem.read_u64(word).ok() != Some(object.address) {
        return None;
    }
    let offset = (0..object.size.min(MAX_OBJECT_WORDS * 8) / 8)
        .map(|i| i * 8)
        .find(|&o| mem.read_u64(object.address + o).ok() == Some(m.address))?;
    let mut found: Option<(String, TypeId)> = None;
    // Struct sizes (multiples of a word) allocated in this size class.
    let mut size = object.size;
    while size >= 8 && classes.allocation_size(size, true) == object.size {
        if let Some(f) = struct_field(types, structs, size, offset, &m.type_name) {
            match &found {
                Some(g) if *g != f => return None,
                _ => found = Some(f),
            }
        }
        size -= 8;
    }
    found
}

/// The link address of a global named by its address (`global 0x…`).
fn global_address(variable: &str) -> Option<u64> {
    u64::from_str_radix(variable.strip_prefix("global 0x")?, 16).ok()
}

/// The size of `sync.Map` and the offsets of its pointer words a path
/// into it starts at (`read` and `dirty`, or the trie's `root`), the
/// dirty map's with its map type.
#[allow(clippy::type_complexity)]
fn sync_map_words(dwarf: &DwarfInfo) -> Option<(u64, Vec<(u64, Option<String>)>)> {
    let types = dwarf.types();
    let id = types.by_name(SYNC_MAP_TYPE).map(|id| types.resolve(id))?;
    if !is_sync_map(types, id) {
        return None;
    }
    let words = match sync_map_layout(dwarf, id).ok()? {
        SyncMapLayout::ReadDirty(l) => vec![
            (l.read.offset, None),
            (l.dirty.offset, Some(types.get(l.inner_map).name.clone())),
        ],
        SyncMapLayout::HashTrie(l) => vec![(l.root.offset, None)],
    };
    Some((types.size_of(id)?, words))
}

/// Deepest struct nesting followed to a field.
const MAX_FIELD_DEPTH: usize = 8;

/// A map's key or value type as [`FoundMap`] lists it.
fn slot_type(types: &TypeTable, id: TypeId) -> Option<SlotType> {
    (id != TypeId::UNKNOWN).then(|| {
        let size = types.size_of(id).unwrap_or(0);
        SlotType {
            type_name: Arc::from(types.get(id).name.as_str()),
            size,
            indirect: size > MAX_INLINE_KEY_ELEM,
            type_id: id,
        }
    })
}

/// The Go selector path (`Cfg.PackageFile`, `byKind[1]`; embedded
/// structs' names left out, as promoted fields are written) of the map
/// field at `offset` of the struct type `id`, and the field's map type.
fn map_field_at(
    types: &TypeTable,
    id: TypeId,
    offset: u64,
    depth: usize,
) -> Option<(String, TypeId)> {
    if depth > MAX_FIELD_DEPTH {
        return None;
    }
    let ty = types.get(types.resolve(id));
    match ty.kind {
        TypeKind::Map(_) if offset == 0 && depth > 0 => Some((String::new(), id)),
        TypeKind::Struct => {
            let f = ty.fields.iter().find(|f| {
                types
                    .size_of(f.ty)
                    .is_some_and(|size| offset >= f.offset && offset - f.offset < size)
            })?;
            let (sub, map) = map_field_at(types, f.ty, offset - f.offset, depth + 1)?;
            let path = match (f.embedded && !sub.is_empty(), sub.is_empty()) {
                (true, _) => sub,
                (false, true) => f.name.clone(),
                (false, false) if sub.starts_with('[') => format!("{}{sub}", f.name),
                (false, false) => format!("{}.{sub}", f.name),
            };
            Some((path, map))
        }
        TypeKind::Array { elem, count } => {
            let size = types.size_of(elem).filter(|&s| s > 0)?;
            let i = offset / size;
            if i >= count || depth == 0 {
                return None;
            }
            let (sub, map) = map_field_at(types, elem, offset % size, depth + 1)?;
            let sep = if sub.is_empty() || sub.starts_with('[') {
                ""
            } else {
                "."
            };
            Some((format!("[{i}]{sep}{sub}"), map))
        }
        _ => None,
    }
}

/// The field path of a map held at `offset` of a global of `size` bytes
/// (see the module doc): among the program's struct types of that size
/// (from the type descriptors), those with a map field at `offset` whose
/// type the map may have (`type_name`, or one of its `A | B`
/// alternatives); `None` unless they all name one field of one type.
/// `structs` caches the struct types by size.
fn struct_field(
    types: &TypeTable,
    structs: &mut Option<HashMap<u64, Vec<TypeId>>>,
    size: u64,
    offset: u64,
    type_name: &str,
) -> Option<(String, TypeId)> {
    let by_size = structs.get_or_insert_with(|| {
        let mut by_size: HashMap<u64, Vec<TypeId>> = HashMap::new();
        for (id, ty) in types.iter() {
            if ty.runtime_type_offset.is_some() && matches!(ty.kind, TypeKind::Struct) {
                if let Some(size) = types.size_of(id).filter(|&s| s > 0) {
                    by_size.entry(size).or_default().push(id);
                }
            }
        }
        by_size
    });
    let mut found: Option<(String, TypeId)> = None;
    for &id in by_size.get(&size)? {
        let Some((path, map)) = map_field_at(types, id, offset, 0) else {
            continue;
        };
        let name = types.get(map).name.as_str();
        if !admits(types, type_name, map) {
            continue;
        }
        match &found {
            None => found = Some((path, map)),
            Some((p, t)) if *p == path && types.get(*t).name == name => {}
            Some(_) => return None,
        }
    }
    found
}

/// Whether a map listed with the type `type_name` (one type, or the
/// alternatives its shape left, `A | B`) may have the map type `id`: a
/// listed one, or, from a cut list (`… (N more)`), one of the same slot
/// sizes as the listed ones, never one of another geometry.
fn admits(types: &TypeTable, type_name: &str, id: TypeId) -> bool {
    let alternatives: Vec<&str> = type_name.split(" | ").collect();
    alternatives.contains(&types.get(id).name.as_str())
        || (type_name.ends_with("more)") && same_slots(types, alternatives[0], id))
}

/// Whether the map type `id` has the key and value sizes of the map type
/// named `listed`.
fn same_slots(types: &TypeTable, listed: &str, id: TypeId) -> bool {
    let slots = |id: TypeId| {
        types
            .map_type(id)
            .map(|m| (types.size_of(m.key), types.size_of(m.value)))
    };
    types
        .by_name(listed)
        .and_then(slots)
        .is_some_and(|s| Some(s) == slots(id))
}

/// The warning of a run without DWARF: how many maps were found, from
/// their storage's runtime types or by their shape (`by_shape`, of
/// `maps`: [`crate::stripped_shapes`]), with `len` decoded from a header,
/// and what cannot be found this way.
pub fn warning(maps: &[FoundMap], map_types: usize, by_shape: usize) -> String {
    let with_header = maps.iter().filter(|m| m.capacity > 0 || m.len > 0).count();
    let storage_only = maps.len() - with_header;
    format!(
        "no DWARF: maps found from their storage's runtime types and by their shape ({map_types} map types read from the type descriptors): {} maps, {with_header} decoded from their header{}, {by_shape} of them recognised by shape; empty maps, maps whose header is not a heap object of its own and whose storage carries no runtime type (a map inside a struct on a stack or in a global), and sync.Maps inside other structures are not found; globals are named by symbol or address",
        maps.len(),
        if storage_only > 0 {
            format!(", {storage_only} storage without a header found (len shown as 0)")
        } else {
            String::new()
        }
    )
}
