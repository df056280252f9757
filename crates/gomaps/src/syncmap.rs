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

use mapscope_elfcore::ReadError;
use mapscope_goruntime::dwarf::TypeId;
use rayon::prelude::*;

use crate::addrhash::AddrSet;
use crate::alloc::{Allocation, AllocationLookup, ObjectSet, StorageKind};
use crate::error::MapError;
use crate::layout::{
    FieldSpec, HashTrieLayout, ReadDirtyLayout, SyncMapLayout, SYNC_EXPUNGED, SYNC_MAP_TYPE,
};
use crate::model::{
    Entry, HashTrieHeader, Header, Implementation, MapInstance, MapKind, ReadDirtyHeader, Storage,
};
use crate::reader::Reader;
use crate::{finish_objects, Ctx, DecodeOptions, MapDecoder};

/// A 64-bit hash consumed 4 bits per level: 16 levels below the root.
const MAX_TRIE_DEPTH: u64 = 17;
/// Entries sharing one full 64-bit hash: a real chain is tiny.
const MAX_OVERFLOW_CHAIN: u64 = 1 << 16;
/// Warnings kept per `sync.Map`.
const MAX_TRIE_WARNINGS: usize = 32;
/// Nodes the parallel parts of one trie may list before their walk falls
/// back to the sequential one (see [`Visited::List`]): 64 MiB of
/// addresses. A real trie of more nodes takes the sequential walk.
const MAX_LISTED_NODES: usize = 1 << 23;

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
        type_name: SYNC_MAP_TYPE.to_string(),
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
        warnings.push(format!(
            "{SYNC_EXPUNGED} not found: only nil entries count as deleted"
        ));
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

/// A lookup whose answer for one address is already known (looked up
/// ahead of time, see [`TrieState::visit`]).
struct Known<'l, L: ?Sized> {
    lookup: &'l L,
    addr: u64,
    allocation: Allocation,
}

impl<L: AllocationLookup + ?Sized> AllocationLookup for Known<'_, L> {
    fn object_at(&self, addr: u64) -> Allocation {
        if addr == self.addr {
            self.allocation
        } else {
            self.lookup.object_at(addr)
        }
    }

    fn exact_slots(&self) -> bool {
        self.lookup.exact_slots()
    }
}

/// A child of an indirect node: its address, its isEntry byte, and its
/// heap slot when it is an entry.
type Child = (u64, Result<u8, ReadError>, Option<Allocation>);

/// The nodes a walk reached.
enum Visited {
    /// Checked as the walk goes: a node reached again is skipped.
    Set(AddrSet),
    /// Listed, and checked once at the end ([`walk_subtrees`] sorts every
    /// part's list together): a lookup in a set of a million nodes is a
    /// cache miss per node, a push is not. No node is ever refused, so a
    /// cycle or shared subtree repeats until the depth bound or `cap`
    /// ends it; either way the lists then show a repeat, or `over` is
    /// set, and the trie is walked again with a set.
    List {
        nodes: Vec<u64>,
        cap: usize,
        over: bool,
    },
}

impl Default for Visited {
    fn default() -> Self {
        Visited::Set(AddrSet::default())
    }
}

impl Visited {
    /// Records `node`; `false` if the walk must not go on from it.
    fn insert(&mut self, node: u64) -> bool {
        match self {
            Visited::Set(set) => set.insert(node),
            Visited::List { nodes, cap, over } => {
                if nodes.len() >= *cap {
                    *over = true;
                    return false;
                }
                nodes.push(node);
                true
            }
        }
    }

    /// A list that outgrew its cap: the walk stopped early.
    fn over(&self) -> bool {
        matches!(self, Visited::List { over: true, .. })
    }

    fn nodes(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match self {
            Visited::Set(set) => Box::new(set.iter().copied()),
            Visited::List { nodes, .. } => Box::new(nodes.iter().copied()),
        }
    }
}

/// What walking (part of) a hash trie found.
#[derive(Default)]
struct TrieState {
    objects: ObjectSet,
    entries: Vec<Entry>,
    warnings: Vec<String>,
    /// Nodes reached (indirect, entry and overflow nodes).
    visited: Visited,
    indirect_nodes: u64,
    entry_nodes: u64,
    max_depth: u64,
    /// Scratch space of [`TrieState::visit`].
    children: Vec<Child>,
}

impl TrieState {
    fn warn(&mut self, message: String) {
        if self.warnings.len() < MAX_TRIE_WARNINGS {
            self.warnings.push(message);
        }
    }

    /// Walks the nodes on `stack` (depth first, last pushed first) and
    /// everything below them.
    fn run<L: AllocationLookup + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, '_>,
        l: &HashTrieLayout,
        heap: &L,
        mut stack: Vec<(u64, u64)>,
    ) {
        while let Some((node, depth)) = stack.pop() {
            if self.visited.over() {
                return;
            }
            self.visit(ctx, l, heap, node, depth, &mut stack);
        }
    }

    /// Visits the indirect node `node`: records it, its entry children
    /// with their overflow chains, and pushes its indirect children.
    fn visit<L: AllocationLookup + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, '_>,
        l: &HashTrieLayout,
        heap: &L,
        node: u64,
        depth: u64,
        stack: &mut Vec<(u64, u64)>,
    ) {
        let bytes = match ctx.reader.bytes(node, l.indirect_size as usize) {
            Ok(b) => b,
            Err(e) => {
                self.warn(format!("trie node at {node:#x} unreadable: {e}"));
                return;
            }
        };
        if l.indirect_is_entry.get_or_zero(&bytes) & 0xff != 0 {
            self.warn(format!(
                "trie node at {node:#x} should be an indirect node but is an entry"
            ));
            return;
        }
        self.indirect_nodes += 1;
        self.max_depth = self.max_depth.max(depth);
        ctx.add_object(
            &mut self.objects,
            heap,
            StorageKind::TrieIndirect,
            node,
            l.indirect_size,
            true,
        );
        // Every child's isEntry byte, and an entry's heap slot, are read
        // before any child is processed: the loads are independent, so
        // their cache misses overlap instead of following one another.
        // (Pure reads: the children are then processed exactly in order.)
        let mut children = std::mem::take(&mut self.children);
        children.clear();
        let is_entry_at = |child: u64| child.wrapping_add(l.entry_is_entry.offset);
        for k in 0..l.child_count {
            let off = l.children_offset + k * l.child_stride;
            let child = FieldSpec {
                offset: off,
                size: 8,
            }
            .get(&bytes)
            .unwrap_or(0);
            if child != 0 {
                children.push((child, ctx.reader.u8(is_entry_at(child)), None));
            }
        }
        for (child, is_entry, allocation) in children.iter_mut() {
            if matches!(is_entry, Ok(v) if *v != 0) {
                *allocation = Some(heap.object_at(*child));
            }
        }
        for (child, is_entry, allocation) in children.drain(..) {
            if !self.visited.insert(child) {
                self.warn(format!(
                    "trie node {child:#x} reached twice (cycle): skipped"
                ));
                continue;
            }
            let is_entry = match is_entry {
                Ok(v) => v != 0,
                Err(e) => {
                    self.warn(format!(
                        "trie child {child:#x} of {node:#x} unreadable: {e}"
                    ));
                    continue;
                }
            };
            if !is_entry {
                if depth + 1 > MAX_TRIE_DEPTH {
                    self.warn(format!(
                        "trie deeper than {MAX_TRIE_DEPTH} levels at {child:#x}: cut"
                    ));
                } else {
                    stack.push((child, depth + 1));
                }
                continue;
            }
            self.entry_chain(ctx, l, heap, child, allocation);
        }
        self.children = children;
    }

    /// An entry node and its overflow chain.
    /// `allocation`: the lookup's answer for `child`, if already known.
    fn entry_chain<L: AllocationLookup + ?Sized>(
        &mut self,
        ctx: &Ctx<'_, '_>,
        l: &HashTrieLayout,
        heap: &L,
        child: u64,
        allocation: Option<Allocation>,
    ) {
        let mut e = child;
        let mut chain = 0u64;
        let mut known = allocation;
        loop {
            self.entry_nodes += 1;
            let (kind, size) = (StorageKind::TrieEntry, l.entry_size);
            match known.take() {
                Some(allocation) => {
                    let lookup = Known {
                        lookup: heap,
                        addr: e,
                        allocation,
                    };
                    ctx.add_object(&mut self.objects, &lookup, kind, e, size, true)
                }
                None => ctx.add_object(&mut self.objects, heap, kind, e, size, true),
            };
            if ctx.options.collect_entries {
                self.entries.push(Entry {
                    key: e.wrapping_add(l.entry_key),
                    elem: e.wrapping_add(l.entry_value),
                });
            }
            let next = match ctx.reader.u64(e.wrapping_add(l.entry_overflow.offset)) {
                Ok(n) => n,
                Err(err) => {
                    self.warn(format!("trie entry at {e:#x} unreadable: {err}"));
                    break;
                }
            };
            if next == 0 {
                break;
            }
            chain += 1;
            if chain > MAX_OVERFLOW_CHAIN || !self.visited.insert(next) {
                self.warn(format!(
                    "overflow chain of trie entry {child:#x} loops or is too long: cut"
                ));
                break;
            }
            e = next;
        }
    }

    /// Appends the walk of a later part (see [`walk_subtrees`]).
    fn append(&mut self, part: TrieState) {
        self.objects.append_slots(part.objects);
        self.entries.extend(part.entries);
        for w in part.warnings {
            self.warn(w);
        }
        self.indirect_nodes += part.indirect_nodes;
        self.entry_nodes += part.entry_nodes;
        self.max_depth = self.max_depth.max(part.max_depth);
    }
}

/// Whether the elements of `all` (of sets, each without repeats) are
/// distinct: the sets share no element.
fn disjoint(mut all: Vec<u64>) -> bool {
    all.par_sort_unstable();
    all.windows(2).all(|w| w.first() != w.get(1))
}

/// Walks the subtrees on `stack` (the root's indirect children) in
/// parallel, each with its own state, in the order a sequential walk
/// visits them (last pushed first). Appended in that order, the parts
/// give that sequential walk's result when no node is reached twice
/// (the parts list their nodes unchecked, [`Visited::List`]), none is
/// cut by the list's cap, and every part deduplicates storage by heap
/// slot (then a slot recorded by two parts counts once, first, as in one
/// walk): checked, and `None` (walk sequentially) if not so.
fn walk_subtrees(
    ctx: &Ctx<'_, '_>,
    l: &HashTrieLayout,
    heap: &(dyn AllocationLookup + Sync),
    top: &TrieState,
    stack: &[(u64, u64)],
) -> Option<Vec<TrieState>> {
    let (decoder, options) = (ctx.decoder, ctx.options);
    let parts: Vec<TrieState> = stack
        .par_iter()
        .rev()
        .map(|&start| {
            let ctx = Ctx {
                decoder,
                reader: Reader::new(decoder.memory()),
                options,
            };
            let mut part = TrieState {
                visited: Visited::List {
                    nodes: Vec::new(),
                    cap: MAX_LISTED_NODES / stack.len(),
                    over: false,
                },
                ..TrieState::default()
            };
            part.run(&ctx, l, heap, vec![start]);
            part
        })
        .collect();
    let states = || std::iter::once(top).chain(&parts);
    if !states().all(|s| s.objects.is_slots() && !s.visited.over()) {
        return None;
    }
    let visited: Vec<u64> = states().flat_map(|s| s.visited.nodes()).collect();
    disjoint(visited).then_some(parts)
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
    let mut trie = TrieState::default();
    ctx.add_object(
        &mut trie.objects,
        heap,
        StorageKind::Header,
        addr,
        l.size,
        true,
    );
    let mut stack: Vec<(u64, u64)> = Vec::new();
    if root != 0 {
        trie.visited.insert(root);
        trie.visit(ctx, l, heap, root, 1, &mut stack);
    }
    // The root's subtrees: in parallel when the lookup can be shared.
    let parts = match heap.as_sync() {
        Some(shared) if stack.len() >= 2 => walk_subtrees(ctx, l, shared, &trie, &stack),
        _ => None,
    };
    match parts {
        Some(parts) => {
            trie.objects
                .reserve(parts.iter().map(|p| p.objects.len()).sum());
            for part in parts {
                trie.append(part);
            }
        }
        None => trie.run(ctx, l, heap, stack),
    }
    if root == 0 && inited != 0 {
        trie.warn("HashTrieMap inited but root is nil".to_string());
    }
    let header = HashTrieHeader {
        inited,
        root,
        indirect_nodes: trie.indirect_nodes,
        entry_nodes: trie.entry_nodes,
        max_depth: trie.max_depth,
    };
    let (objects, storage_bytes, estimated_objects) = finish_objects(trie.objects);
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
    instance.entries = trie.entries;
    instance.warnings = trie.warnings;
    Ok(instance)
}
