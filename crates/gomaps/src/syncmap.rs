//! `sync.Map`, both implementations:
//!
//! - read/dirty (≤ 1.23; 1.24/1.25 with `nosynchashtriemap`): a `readOnly`
//!   `{m map[any]*entry, amended}` behind an atomic pointer plus a `dirty`
//!   map. An entry is live when its `p` is neither nil nor `expunged`. When
//!   `dirty` is non-nil it holds every live key (`Range` promotes it), so the
//!   live entries are counted there; otherwise in the read map — no key
//!   comparison needed.
//! - `internal/sync.HashTrieMap[any, any]` (1.24+): a trie of indirect nodes
//!   (16 children each) whose leaves are entry nodes with overflow chains
//!   for full hash collisions. Walked iteratively, cycle-checked, with
//!   bounded depth.

use std::collections::HashSet;

use mapscope_goruntime::dwarf::TypeId;

use crate::alloc::{AllocationLookup, ObjectSet, StorageKind};
use crate::error::MapError;
use crate::layout::{FieldSpec, HashTrieLayout, ReadDirtyLayout, SyncMapLayout};
use crate::model::{
    Entry, HashTrieHeader, Header, Implementation, MapInstance, MapKind, ReadDirtyHeader, Storage,
};
use crate::reader::Reader;
use crate::{finish_objects, Ctx, DecodeOptions, MapDecoder};

/// A 64-bit hash consumed 4 bits per level: 16 levels below the root.
const MAX_TRIE_DEPTH: u64 = 17;
/// Entries sharing one full 64-bit hash: a real chain is tiny.
const MAX_OVERFLOW_CHAIN: u64 = 1 << 16;

pub(crate) fn decode<L: AllocationLookup + ?Sized>(
    decoder: &MapDecoder<'_>,
    layout: &SyncMapLayout,
    addr: u64,
    heap: &L,
) -> Result<MapInstance, MapError> {
    let ctx = Ctx {
        decoder,
        reader: Reader::new(decoder.memory()),
        options: decoder.options,
    };
    match layout {
        SyncMapLayout::ReadDirty(l) => read_dirty(&ctx, l, addr, heap),
        SyncMapLayout::HashTrie(l) => hash_trie(&ctx, l, addr, heap),
    }
}

fn base_instance(addr: u64, implementation: Implementation, header: Header) -> MapInstance {
    MapInstance {
        kind: MapKind::SyncMap,
        implementation,
        type_name: "sync.Map".to_string(),
        map_type: TypeId::UNKNOWN,
        key_type: TypeId::UNKNOWN,
        elem_type: TypeId::UNKNOWN,
        address: addr,
        len: 0,
        live_entries: 0,
        capacity: 0,
        overflow_slots: 0,
        tombstones: 0,
        growing: false,
        same_size_grow: false,
        load_factor: 0.0,
        storage_bytes: 0,
        estimated_objects: 0,
        header,
        storage: Storage::None,
        objects: Vec::new(),
        entries: Vec::new(),
        inner: Vec::new(),
        warnings: Vec::new(),
    }
}

fn read_dirty<L: AllocationLookup + ?Sized>(
    ctx: &Ctx<'_, '_>,
    l: &ReadDirtyLayout,
    addr: u64,
    heap: &L,
) -> Result<MapInstance, MapError> {
    let decoder = ctx.decoder;
    let raw = ctx.header(addr, l.size, "the sync.Map value")?;
    let read = l.read.get_or_zero(&raw);
    let dirty = l.dirty.get_or_zero(&raw);
    let misses = l.misses.get_or_zero(&raw) as i64;
    drop(raw);
    let mut header = ReadDirtyHeader {
        read,
        read_map: 0,
        read_len: 0,
        amended: false,
        dirty,
        dirty_len: 0,
        misses,
        read_dead_entries: 0,
        dirty_dead_entries: 0,
    };
    let mut warnings = Vec::new();
    let mut objects = ObjectSet::default();
    ctx.add_object(&mut objects, heap, StorageKind::Header, addr, l.size, true);
    if read != 0 {
        ctx.add_object(
            &mut objects,
            heap,
            StorageKind::SyncReadOnly,
            read,
            l.read_only_size,
            true,
        );
        match ctx.reader.bytes(read, l.read_only_size as usize) {
            Ok(ro) => {
                header.read_map = l.read_only_m.get_or_zero(&ro);
                header.amended = l.read_only_amended.get_or_zero(&ro) & 0xff != 0;
            }
            Err(e) => warnings.push(format!("sync.Map readOnly at {read:#x} unreadable: {e}")),
        }
    }
    let expunged = decoder.expunged();
    if expunged.is_none() {
        warnings.push("sync.expunged not found: only nil entries count as deleted".to_string());
    }
    // The inner maps' entries are needed to follow *entry, whatever the
    // caller asked for.
    let inner_options = DecodeOptions {
        collect_entries: true,
    };
    let inner_type = decoder.target(l.inner_map);
    let mut inner = Vec::new();
    let mut live = 0u64;
    let mut entries = Vec::new();
    let mut capacity = 0u64;
    let source_is_dirty = dirty != 0;
    for (map_addr, is_dirty) in [(header.read_map, false), (dirty, true)] {
        if map_addr == 0 {
            continue;
        }
        let Some(crate::MapTarget::Map { id, map }) = inner_type else {
            warnings.push("sync.Map's inner map type is missing in DWARF".to_string());
            break;
        };
        let mut m = match decoder.decode_map_type(id, &map, map_addr, heap, inner_options) {
            Ok(m) => m,
            Err(e) => {
                warnings.push(format!(
                    "sync.Map {} map: {e}",
                    if is_dirty { "dirty" } else { "read" }
                ));
                continue;
            }
        };
        if is_dirty {
            header.dirty_len = m.len;
        } else {
            header.read_len = m.len;
        }
        capacity = capacity.saturating_add(m.capacity);
        for object in &m.objects {
            objects.insert(*object);
        }
        let mut dead = 0u64;
        for e in &m.entries {
            // The slot holds *entry; entry.p points at an `any` box.
            let Ok(entry) = ctx.reader.u64(e.elem) else {
                continue;
            };
            if entry == 0 {
                dead += 1;
                continue;
            }
            ctx.add_object(
                &mut objects,
                heap,
                StorageKind::SyncEntry,
                entry,
                l.entry_size,
                true,
            );
            let p = ctx
                .reader
                .u64(entry.wrapping_add(l.entry_p.offset))
                .unwrap_or(0);
            if p == 0 || Some(p) == expunged {
                dead += 1;
                continue;
            }
            ctx.add_object(
                &mut objects,
                heap,
                StorageKind::SyncValueBox,
                p,
                l.any_size,
                true,
            );
            if is_dirty == source_is_dirty {
                live += 1;
                if ctx.options.collect_entries {
                    entries.push(Entry {
                        key: e.key,
                        elem: p,
                    });
                }
            }
        }
        if is_dirty {
            header.dirty_dead_entries = dead;
        } else {
            header.read_dead_entries = dead;
        }
        if !ctx.options.collect_entries {
            m.entries = Vec::new();
        }
        inner.push(m);
    }
    let (objects, storage_bytes, estimated_objects) = finish_objects(objects);
    let mut instance = base_instance(addr, Implementation::ReadDirty, Header::ReadDirty(header));
    instance.key_type = l.any;
    instance.elem_type = l.any;
    instance.len = live;
    instance.live_entries = live;
    instance.capacity = capacity;
    instance.load_factor = if capacity == 0 {
        0.0
    } else {
        live as f64 / capacity as f64
    };
    instance.storage_bytes = storage_bytes;
    instance.estimated_objects = estimated_objects;
    instance.objects = objects;
    instance.entries = entries;
    instance.inner = inner;
    instance.warnings = warnings;
    Ok(instance)
}

fn hash_trie<L: AllocationLookup + ?Sized>(
    ctx: &Ctx<'_, '_>,
    l: &HashTrieLayout,
    addr: u64,
    heap: &L,
) -> Result<MapInstance, MapError> {
    let raw = ctx.header(addr, l.size, "the sync.Map value")?;
    let inited = l.inited.get_or_zero(&raw) as u32;
    let root = l.root.get_or_zero(&raw);
    drop(raw);
    let mut header = HashTrieHeader {
        inited,
        root,
        indirect_nodes: 0,
        entry_nodes: 0,
        max_depth: 0,
    };
    let mut warnings: Vec<String> = Vec::new();
    let warn = |w: &mut Vec<String>, m: String| {
        if w.len() < 32 {
            w.push(m);
        }
    };
    let mut objects = ObjectSet::default();
    let mut entries = Vec::new();
    ctx.add_object(&mut objects, heap, StorageKind::Header, addr, l.size, true);
    let mut visited: HashSet<u64> = HashSet::new();
    let mut stack: Vec<(u64, u64)> = Vec::new();
    if root != 0 {
        stack.push((root, 1));
        visited.insert(root);
    }
    while let Some((node, depth)) = stack.pop() {
        let bytes = match ctx.reader.bytes(node, l.indirect_size as usize) {
            Ok(b) => b,
            Err(e) => {
                warn(
                    &mut warnings,
                    format!("trie node at {node:#x} unreadable: {e}"),
                );
                continue;
            }
        };
        if l.indirect_is_entry.get_or_zero(&bytes) & 0xff != 0 {
            warn(
                &mut warnings,
                format!("trie node at {node:#x} should be an indirect node but is an entry"),
            );
            continue;
        }
        header.indirect_nodes += 1;
        header.max_depth = header.max_depth.max(depth);
        ctx.add_object(
            &mut objects,
            heap,
            StorageKind::TrieIndirect,
            node,
            l.indirect_size,
            true,
        );
        for k in 0..l.child_count {
            let off = l.children_offset + k * l.child_stride;
            let child = FieldSpec {
                offset: off,
                size: 8,
            }
            .get(&bytes)
            .unwrap_or(0);
            if child == 0 {
                continue;
            }
            if !visited.insert(child) {
                warn(
                    &mut warnings,
                    format!("trie node {child:#x} reached twice (cycle): skipped"),
                );
                continue;
            }
            let is_entry = match ctx.reader.u8(child.wrapping_add(l.entry_is_entry.offset)) {
                Ok(v) => v != 0,
                Err(e) => {
                    warn(
                        &mut warnings,
                        format!("trie child {child:#x} of {node:#x} unreadable: {e}"),
                    );
                    continue;
                }
            };
            if !is_entry {
                if depth + 1 > MAX_TRIE_DEPTH {
                    warn(
                        &mut warnings,
                        format!("trie deeper than {MAX_TRIE_DEPTH} levels at {child:#x}: cut"),
                    );
                } else {
                    stack.push((child, depth + 1));
                }
                continue;
            }
            // An entry and its overflow chain.
            let mut e = child;
            let mut chain = 0u64;
            loop {
                header.entry_nodes += 1;
                ctx.add_object(
                    &mut objects,
                    heap,
                    StorageKind::TrieEntry,
                    e,
                    l.entry_size,
                    true,
                );
                if ctx.options.collect_entries {
                    entries.push(Entry {
                        key: e.wrapping_add(l.entry_key),
                        elem: e.wrapping_add(l.entry_value),
                    });
                }
                let next = match ctx.reader.u64(e.wrapping_add(l.entry_overflow.offset)) {
                    Ok(n) => n,
                    Err(err) => {
                        warn(
                            &mut warnings,
                            format!("trie entry at {e:#x} unreadable: {err}"),
                        );
                        break;
                    }
                };
                if next == 0 {
                    break;
                }
                chain += 1;
                if chain > MAX_OVERFLOW_CHAIN || !visited.insert(next) {
                    warn(
                        &mut warnings,
                        format!(
                            "overflow chain of trie entry {child:#x} loops or is too long: cut"
                        ),
                    );
                    break;
                }
                e = next;
            }
        }
    }
    if root == 0 && inited != 0 {
        warn(
            &mut warnings,
            "HashTrieMap inited but root is nil".to_string(),
        );
    }
    let (objects, storage_bytes, estimated_objects) = finish_objects(objects);
    let mut instance = base_instance(addr, Implementation::HashTrie, Header::HashTrie(header));
    instance.key_type = l.key_type;
    instance.elem_type = l.value_type;
    instance.len = header.entry_nodes;
    instance.live_entries = header.entry_nodes;
    instance.capacity = header.entry_nodes;
    instance.load_factor = if header.entry_nodes == 0 { 0.0 } else { 1.0 };
    instance.storage_bytes = storage_bytes;
    instance.estimated_objects = estimated_objects;
    instance.objects = objects;
    instance.entries = entries;
    instance.warnings = warnings;
    Ok(instance)
}
