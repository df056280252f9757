//! mapscope-gomaps: decodes one Go map — classic `hmap` (Go 1.21–1.23, and
//! 1.24/1.25 with `GOEXPERIMENT=noswissmap`), Swiss `maps.Map` (1.24+,
//! including 1.27's `GOEXPERIMENT=mapsplitgroup` groups) — or one
//! `sync.Map` (read/dirty before 1.24, `internal/sync.HashTrieMap` from 1.24)
//! from a core, given the address of its header and its static DWARF type.
//!
//! Owns: per-map decoding into a plain model ([`MapInstance`]): header
//! fields, counted live/empty/deleted slots checked against `len`,
//! capacity, growth state, load factor, the storage objects with their
//! allocated sizes ([`StorageObject`]) and the live entries' key/value
//! addresses ([`Entry`]) for a retained-bytes walk on top. On top of
//! the decoder, finding every map of a process: [`discover`] (the
//! pipeline and its result), the walker from the roots, families, and
//! [`unrooted`] (map storage no typed path reaches, named by its object
//! path or counted as garbage).
//!
//! Does not touch: the Go heap as the GC sees it — pointer bitmaps, the
//! object graph, the root set, dominators — which is mapscope-goheap's
//! (re-exported as [`graph`], [`pointers`], [`roots`], [`dominators`]);
//! the heap walk (mapscope-goruntime); output formatting. The decoder
//! takes a [`ProcessMemory`], a [`DwarfInfo`] and an [`AllocationLookup`]
//! (the heap walk's "which object contains this address"); without one,
//! sizes are estimated from Go's size classes and counted in
//! [`MapInstance::estimated_objects`].
//!
//! Untrusted input: the header's B / dirLen / lengthMask / pointers are
//! checked against what is mapped before anything is walked; overflow
//! chains and trie walks are iterative, cycle-checked and bounded; no
//! allocation is sized by a number read from the core beyond what the core
//! actually holds. Every offset comes from DWARF, resolved by the
//! Go-runtime layer (`mapscope_goruntime::layout::maps`, re-exported as
//! [`layout`]); this crate names no runtime type, global or constant, and
//! no Go version number is tested anywhere.

mod addrhash;
mod alloc;
mod classic;
pub mod discover;
mod error;
pub mod layout;
mod model;
mod reader;
pub mod stripped;
pub mod stripped_shapes;
mod swiss;
mod syncmap;
mod typedheap;
pub mod unrooted;
mod walker;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// The Go-heap layer (mapscope-goheap) that discovery builds on, under
/// the paths it had when it lived here.
pub use mapscope_goheap::{dominators, graph, pointers, roots};

use mapscope_elfcore::ProcessMemory;
use mapscope_goruntime::dwarf::{DwarfInfo, MapType, TypeId};

pub use crate::alloc::{
    Allocation, AllocationLookup, NoHeapIndex, SizeClasses, SizeSource, StorageKind, StorageObject,
};
pub use crate::error::{DiscoverError, MapError};
pub use crate::layout::{MapLayout, SyncMapLayout};
pub use crate::model::{
    ClassicHeader, ClassicStorage, Entry, HashTrieHeader, Header, Implementation, MapInstance,
    MapKind, ReadDirtyHeader, Storage, SwissHeader, SwissStorage, SwissTable,
};

use crate::alloc::{ObjectSet, Request};
use crate::layout::{pointer_target, MapLayoutError};
use crate::reader::Reader;

/// Knobs for [`MapDecoder`].
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    /// Record every live entry's key/value address in
    /// [`MapInstance::entries`] (needed for retained bytes; costs 16 bytes
    /// per entry).
    pub collect_entries: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            collect_entries: true,
        }
    }
}

/// What a type argument designates.
#[derive(Clone, Copy, Debug)]
pub enum MapTarget {
    /// A Go map; `id` is the map type (`map[K]V` or a named map type).
    Map { id: TypeId, map: MapType },
    /// `sync.Map` (`id` is the resolved struct).
    SyncMap { id: TypeId },
}

/// Decodes maps of one process. Build once per process: it caches the size
/// classes, the `sync.Map` layout and every map type's layout. `Sync`, so a
/// caller may decode many maps in parallel with one decoder.
pub struct MapDecoder<'a> {
    mem: &'a ProcessMemory,
    dwarf: &'a DwarfInfo,
    classes: SizeClasses,
    bias: u64,
    options: DecodeOptions,
    header_to_map: HashMap<TypeId, TypeId>,
    layouts: RwLock<HashMap<TypeId, Result<Arc<MapLayout>, MapLayoutError>>>,
    sync_layout: OnceLock<Result<SyncMapLayout, MapLayoutError>>,
    expunged: OnceLock<Option<u64>>,
    /// The `hashWriting` flag bit of `hmap.flags`.
    hash_writing: u64,
}

impl<'a> MapDecoder<'a> {
    pub fn new(mem: &'a ProcessMemory, dwarf: &'a DwarfInfo) -> MapDecoder<'a> {
        MapDecoder::with_options(mem, dwarf, DecodeOptions::default())
    }

    pub fn with_options(
        mem: &'a ProcessMemory,
        dwarf: &'a DwarfInfo,
        options: DecodeOptions,
    ) -> MapDecoder<'a> {
        let mut header_to_map = HashMap::new();
        for (id, map) in dwarf.types().map_types() {
            if map.header != TypeId::UNKNOWN {
                header_to_map.entry(map.header).or_insert(id);
            }
        }
        MapDecoder {
            mem,
            dwarf,
            classes: SizeClasses::load(mem, dwarf),
            bias: mem.placement().map(|p| p.bias).unwrap_or(0),
            options,
            header_to_map,
            layouts: RwLock::new(HashMap::new()),
            sync_layout: OnceLock::new(),
            expunged: OnceLock::new(),
            hash_writing: layout::hash_writing_flag(dwarf),
        }
    }

    pub fn memory(&self) -> &'a ProcessMemory {
        self.mem
    }

    pub fn dwarf(&self) -> &'a DwarfInfo {
        self.dwarf
    }

    /// The size-class facts used for estimates.
    pub fn size_classes(&self) -> &SizeClasses {
        &self.classes
    }

    /// What `ty` designates, if it is something this crate decodes: a map
    /// type (also through typedefs), a pointer to a map header struct
    /// (`*hash<K,V>`, `*map<K,V>`) or the header struct itself, `sync.Map`
    /// or `*sync.Map`.
    pub fn target(&self, ty: TypeId) -> Option<MapTarget> {
        let types = self.dwarf.types();
        if let Some(map) = types.map_type(ty) {
            return Some(MapTarget::Map { id: ty, map: *map });
        }
        let resolved = types.resolve(ty);
        let candidates = [Some(resolved), pointer_target(types, resolved)];
        for candidate in candidates.into_iter().flatten() {
            let candidate = types.resolve(candidate);
            if let Some(&map_id) = self.header_to_map.get(&candidate) {
                if let Some(map) = types.map_type(map_id) {
                    return Some(MapTarget::Map {
                        id: map_id,
                        map: *map,
                    });
                }
            }
            if layout::is_sync_map(types, candidate) {
                return Some(MapTarget::SyncMap { id: candidate });
            }
        }
        None
    }

    /// The layout of a map type (cached).
    pub fn map_layout(&self, map_id: TypeId, map: &MapType) -> Result<Arc<MapLayout>, MapError> {
        let cached = self
            .layouts
            .read()
            .ok()
            .and_then(|l| l.get(&map_id).cloned());
        let result = match cached {
            Some(r) => r,
            None => {
                let built = layout::map_layout(self.dwarf, map).map(Arc::new);
                if let Ok(mut l) = self.layouts.write() {
                    l.insert(map_id, built.clone());
                }
                built
            }
        };
        result.map_err(|source| MapError::Layout {
            type_name: self.type_name(map_id),
            source,
        })
    }

    fn sync_layout(&self, id: TypeId) -> Result<SyncMapLayout, MapError> {
        self.sync_layout
            .get_or_init(|| layout::sync_map_layout(self.dwarf, id))
            .clone()
            .map_err(|source| MapError::Layout {
                type_name: layout::SYNC_MAP_TYPE.to_string(),
                source,
            })
    }

    /// The value of `sync.expunged` (the marker of deleted read-dirty
    /// entries), if DWARF names the global and the core holds it.
    fn expunged(&self) -> Option<u64> {
        *self.expunged.get_or_init(|| {
            let address = layout::sync_expunged_address(self.dwarf)?;
            let value = self.mem.read_u64(address.wrapping_add(self.bias)).ok()?;
            (value != 0).then_some(value)
        })
    }

    fn type_name(&self, id: TypeId) -> String {
        let name = &self.dwarf.types().get(id).name;
        if name.is_empty() {
            format!("<type {}>", id.0)
        } else {
            name.clone()
        }
    }

    /// Whether `addr` lies in a global variable (not a heap object).
    fn in_global(&self, addr: u64) -> bool {
        addr.checked_sub(self.bias)
            .is_some_and(|a| self.dwarf.globals().containing(a).is_some())
    }

    /// Decodes the map (or `sync.Map`) at `addr`. `ty` is the static type
    /// of the place that holds it (see [`MapDecoder::target`]); `addr` is
    /// the map header's address — the value a map variable holds — or, for
    /// `sync.Map`, the address of the `sync.Map` value (for `*sync.Map`,
    /// the pointer's value).
    pub fn decode<L: AllocationLookup + ?Sized>(
        &self,
        ty: TypeId,
        addr: u64,
        heap: &L,
    ) -> Result<MapInstance, MapError> {
        let target = self.target(ty).ok_or_else(|| MapError::NotAMap {
            name: self.type_name(ty),
        })?;
        self.decode_target(target, addr, heap)
    }

    /// Like [`MapDecoder::decode`] with a target already resolved.
    pub fn decode_target<L: AllocationLookup + ?Sized>(
        &self,
        target: MapTarget,
        addr: u64,
        heap: &L,
    ) -> Result<MapInstance, MapError> {
        if addr == 0 {
            return Err(MapError::Nil);
        }
        match target {
            MapTarget::Map { id, map } => self.decode_map_type(id, &map, addr, heap, self.options),
            MapTarget::SyncMap { id } => {
                let layout = self.sync_layout(id)?;
                syncmap::decode(self, &layout, addr, heap)
            }
        }
    }

    pub(crate) fn decode_map_type<L: AllocationLookup + ?Sized>(
        &self,
        id: TypeId,
        map: &MapType,
        addr: u64,
        heap: &L,
        options: DecodeOptions,
    ) -> Result<MapInstance, MapError> {
        let layout = self.map_layout(id, map)?;
        self.decode_with_layout(id, map, &layout, self.type_name(id), addr, heap, options)
    }

    #[allow(clippy::too_many_arguments)]
    fn decode_with_layout<L: AllocationLookup + ?Sized>(
        &self,
        id: TypeId,
        map: &MapType,
        layout: &MapLayout,
        type_name: String,
        addr: u64,
        heap: &L,
        options: DecodeOptions,
    ) -> Result<MapInstance, MapError> {
        let ctx = Ctx {
            decoder: self,
            reader: Reader::new(self.mem),
            options,
        };
        let mut instance = match layout {
            MapLayout::Classic(l) => classic::decode(&ctx, l, addr, heap)?,
            MapLayout::Swiss(l) => swiss::decode(&ctx, l, addr, heap)?,
        };
        instance.type_name = type_name;
        instance.map_type = id;
        instance.key_type = map.key;
        instance.elem_type = map.value;
        Ok(instance)
    }

    /// Resolves `ty` once for decoding many maps of it (a family's
    /// members): [`MapDecoder::decode_prepared`] then skips the target,
    /// layout-cache (a lock and a shared counter: contended between
    /// threads) and name lookups of [`MapDecoder::decode`], with the same
    /// result.
    pub(crate) fn prepare(&self, ty: TypeId) -> Prepared {
        if let Some(MapTarget::Map { id, map }) = self.target(ty) {
            if let Ok(layout) = self.map_layout(id, &map) {
                return Prepared::Map {
                    id,
                    map,
                    layout,
                    type_name: self.type_name(id),
                };
            }
        }
        Prepared::Other(ty)
    }

    /// [`MapDecoder::decode`] of the map at `addr` with a type prepared
    /// by [`MapDecoder::prepare`].
    pub(crate) fn decode_prepared<L: AllocationLookup + ?Sized>(
        &self,
        prepared: &Prepared,
        addr: u64,
        heap: &L,
    ) -> Result<MapInstance, MapError> {
        match prepared {
            Prepared::Map {
                id,
                map,
                layout,
                type_name,
            } => {
                if addr == 0 {
                    return Err(MapError::Nil);
                }
                let name = type_name.clone();
                self.decode_with_layout(*id, map, layout, name, addr, heap, self.options)
            }
            Prepared::Other(ty) => self.decode(*ty, addr, heap),
        }
    }
}

/// A type resolved by [`MapDecoder::prepare`]: a map type with its layout,
/// or anything else (decoded the ordinary way).
pub(crate) enum Prepared {
    Map {
        id: TypeId,
        map: MapType,
        layout: Arc<MapLayout>,
        type_name: String,
    },
    Other(TypeId),
}

/// Per-decode context shared by the implementation modules.
pub(crate) struct Ctx<'d, 'a> {
    pub decoder: &'d MapDecoder<'a>,
    pub reader: Reader<'a>,
    pub options: DecodeOptions,
}

impl<'a> Ctx<'_, 'a> {
    /// The `size` bytes of a map's header (`what` names it in the error).
    pub fn header(
        &self,
        addr: u64,
        size: u64,
        what: &'static str,
    ) -> Result<std::borrow::Cow<'a, [u8]>, MapError> {
        self.reader
            .bytes(addr, size as usize)
            .map_err(|source| MapError::Unreadable { addr, what, source })
    }

    /// Records a storage object (see [`ObjectSet::add`]).
    pub fn add_object<L: AllocationLookup + ?Sized>(
        &self,
        set: &mut ObjectSet,
        heap: &L,
        kind: StorageKind,
        address: u64,
        requested: u64,
        pointerful: bool,
    ) {
        set.add(
            heap,
            &self.decoder.classes,
            Request {
                kind,
                address,
                requested,
                pointerful,
            },
            |a| self.decoder.in_global(a),
        )
    }
}

/// Totals of a finished object set: (objects, storage bytes, estimated).
pub(crate) fn finish_objects(set: ObjectSet) -> (Vec<StorageObject>, u64, u64) {
    let objects = set.into_objects();
    let bytes = objects
        .iter()
        .map(|o| o.size)
        .fold(0u64, u64::saturating_add);
    let estimated = objects
        .iter()
        .filter(|o| o.size_source == SizeSource::SizeClass)
        .count() as u64;
    (objects, bytes, estimated)
}

/// Decodes one map (or `sync.Map`) with a throwaway [`MapDecoder`]. To
/// decode many maps, build one decoder and call [`MapDecoder::decode`].
pub fn decode_map<L: AllocationLookup + ?Sized>(
    mem: &ProcessMemory,
    dwarf: &DwarfInfo,
    map_type: TypeId,
    header_addr: u64,
    heap: &L,
) -> Result<MapInstance, MapError> {
    MapDecoder::new(mem, dwarf).decode(map_type, header_addr, heap)
}
