//! Map layouts from DWARF: the header, bucket/group, table and `sync.Map`
//! structures of one executable, every offset read from DWARF members by
//! name. Where the per-map storage type is missing (`bucket<K,V>`,
//! `noalg.map.group[K]V`), the slot layout is computed from the key and
//! value types the way the compiler lays it out, and the layout says so.
//!
//! Owns: `runtime.hmap`/`runtime.mapextra` (and `hash<K,V>`),
//! `internal/runtime/maps.Map`/`table` (and `map<K,V>`), bucket and group
//! layouts, `sync.Map` (read/dirty with `sync.readOnly`/`sync.entry`, and
//! `internal/sync.HashTrieMap` with its `indirect`/`entry` nodes), the
//! `hashWriting` and `sameSizeGrow` flag bits, the `sync.expunged` marker
//! and the indirect key/value limit. The map decoders (mapscope-gomaps)
//! read through these; they name no runtime type themselves. What cannot
//! be resolved is a [`MapLayoutError`] naming the type and member.

use std::collections::HashMap;

use crate::dwarf::{DwarfInfo, MapFlavour, MapType, TypeId, TypeKind, TypeTable};
pub use crate::error::MapLayoutError;

/// Keys and values larger than this are stored indirectly (a pointer in the
/// slot) by both map implementations (`abi.MapMaxKeyBytes`).
pub const MAX_INLINE_KEY_ELEM: u64 = 128;
/// Slots per classic bucket and per Swiss group.
pub const SLOTS: u64 = 8;
/// Classic `tophash` of a slot emptied by a delete (`emptyOne`); 0 is
/// `emptyRest` and 2–4 mark evacuated slots.
pub const TOPHASH_EMPTY_ONE: u8 = 1;
/// Classic: the smallest `tophash` of a full slot (`minTopHash`).
pub const MIN_TOPHASH: u8 = 5;
/// Swiss control byte of an empty slot (`ctrlEmpty`).
pub const CTRL_EMPTY: u8 = 0x80;
/// Swiss control byte of a deleted slot, a tombstone (`ctrlDeleted`).
pub const CTRL_DELETED: u8 = 0xFE;
/// Bound on type-graph recursion (alignment, pointer search).
const MAX_TYPE_DEPTH: usize = 24;

/// One scalar field: where it is and how many bytes it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    pub offset: u64,
    pub size: u64,
}

impl FieldSpec {
    /// Reads the field (1, 2, 4 or 8 bytes, little-endian) from a struct's
    /// bytes; `None` if out of range.
    #[inline]
    pub fn get(&self, bytes: &[u8]) -> Option<u64> {
        let start = usize::try_from(self.offset).ok()?;
        // The usual sizes without a variable-length copy.
        fn array<const N: usize>(bytes: &[u8], start: usize) -> Option<[u8; N]> {
            bytes.get(start..start.checked_add(N)?)?.try_into().ok()
        }
        match self.size {
            8 => return array::<8>(bytes, start).map(u64::from_le_bytes),
            4 => return array::<4>(bytes, start).map(|a| u64::from(u32::from_le_bytes(a))),
            2 => return array::<2>(bytes, start).map(|a| u64::from(u16::from_le_bytes(a))),
            1 => return bytes.get(start).map(|&b| u64::from(b)),
            _ => {}
        }
        let len = usize::try_from(self.size).ok()?;
        let raw = bytes.get(start..start.checked_add(len)?)?;
        let mut buf = [0u8; 8];
        buf.get_mut(..raw.len().min(8))?
            .copy_from_slice(raw.get(..raw.len().min(8))?);
        Some(u64::from_le_bytes(buf))
    }

    /// [`FieldSpec::get`], with a field outside the header read as 0 (the
    /// header was read whole at its DWARF size, so this only happens for a
    /// field the layout marks absent).
    pub fn get_or_zero(&self, bytes: &[u8]) -> u64 {
        self.get(bytes).unwrap_or(0)
    }
}

/// Where keys and values sit in a bucket or group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotLayout {
    /// Bytes of one bucket / group.
    pub size: u64,
    /// Offset of the tophash array (classic) or control word (Swiss).
    pub control_offset: u64,
    pub keys_offset: u64,
    pub key_stride: u64,
    pub elems_offset: u64,
    pub elem_stride: u64,
    /// Classic only: offset of the overflow pointer.
    pub overflow_offset: Option<u64>,
    pub indirect_key: bool,
    pub indirect_elem: bool,
    /// Swiss 1.27 `GOEXPERIMENT=mapsplitgroup`: 8 keys, then 8 values.
    pub split: bool,
    /// Whether the bucket/group type holds pointers (decides the malloc
    /// header and noscan rounding when estimating sizes).
    pub pointerful: bool,
    /// Computed from key/value types because DWARF had no storage type.
    pub computed: bool,
    /// Size of the key and value types themselves (for indirect cells).
    pub key_size: u64,
    pub elem_size: u64,
    pub key_pointerful: bool,
    pub elem_pointerful: bool,
}

/// `runtime.hmap` (or `hash<K,V>`) and `runtime.mapextra`.
#[derive(Clone, Copy, Debug)]
pub struct ClassicLayout {
    pub header_size: u64,
    pub count: FieldSpec,
    pub flags: FieldSpec,
    pub b: FieldSpec,
    pub noverflow: FieldSpec,
    pub hash0: FieldSpec,
    pub buckets: FieldSpec,
    pub oldbuckets: FieldSpec,
    pub nevacuate: FieldSpec,
    pub clear_seq: Option<FieldSpec>,
    pub extra: FieldSpec,
    pub extra_size: u64,
    pub extra_overflow: FieldSpec,
    pub extra_oldoverflow: FieldSpec,
    pub extra_next_overflow: FieldSpec,
    /// The `hmap.flags` bit of a same-size grow (`runtime.sameSizeGrow`).
    pub same_size_grow: u64,
    pub bucket: SlotLayout,
}

/// `internal/runtime/maps.Map` (or `map<K,V>`) and `table`.
#[derive(Clone, Copy, Debug)]
pub struct SwissLayout {
    pub header_size: u64,
    pub used: FieldSpec,
    pub seed: FieldSpec,
    pub dir_ptr: FieldSpec,
    pub dir_len: FieldSpec,
    pub global_depth: FieldSpec,
    pub global_shift: FieldSpec,
    pub writing: FieldSpec,
    pub tombstone_possible: Option<FieldSpec>,
    pub clear_seq: Option<FieldSpec>,
    pub table_size: u64,
    pub t_used: FieldSpec,
    pub t_capacity: FieldSpec,
    pub t_growth_left: FieldSpec,
    pub t_local_depth: FieldSpec,
    pub t_index: FieldSpec,
    pub t_groups_data: FieldSpec,
    pub t_length_mask: FieldSpec,
    pub group: SlotLayout,
}

/// The layout of one map type.
#[derive(Clone, Copy, Debug)]
pub enum MapLayout {
    Classic(ClassicLayout),
    Swiss(SwissLayout),
}

/// `sync.Map` before 1.24: `{mu, read atomic.Pointer[readOnly], dirty, misses}`.
#[derive(Clone, Copy, Debug)]
pub struct ReadDirtyLayout {
    pub size: u64,
    pub read: FieldSpec,
    pub dirty: FieldSpec,
    pub misses: FieldSpec,
    pub read_only_size: u64,
    pub read_only_m: FieldSpec,
    pub read_only_amended: FieldSpec,
    /// `map[interface {}]*sync.entry`.
    pub inner_map: TypeId,
    pub entry_size: u64,
    pub entry_p: FieldSpec,
    /// `interface {}`.
    pub any: TypeId,
    pub any_size: u64,
}

/// `sync.Map` from 1.24: `internal/sync.HashTrieMap[any, any]`.
#[derive(Clone, Copy, Debug)]
pub struct HashTrieLayout {
    pub size: u64,
    pub inited: FieldSpec,
    pub root: FieldSpec,
    pub indirect_size: u64,
    pub indirect_is_entry: FieldSpec,
    pub children_offset: u64,
    pub child_stride: u64,
    pub child_count: u64,
    pub entry_size: u64,
    pub entry_is_entry: FieldSpec,
    pub entry_overflow: FieldSpec,
    pub entry_key: u64,
    pub entry_value: u64,
    pub key_type: TypeId,
    pub value_type: TypeId,
}

/// The two `sync.Map` implementations.
#[derive(Clone, Copy, Debug)]
pub enum SyncMapLayout {
    ReadDirty(ReadDirtyLayout),
    HashTrie(HashTrieLayout),
}

/// A layout, or why it could not be built (names the type and member).
pub type LayoutResult<T> = Result<T, MapLayoutError>;

fn scalar(types: &TypeTable, struct_id: TypeId, path: &str) -> LayoutResult<FieldSpec> {
    let struct_name = || types.get(types.resolve(struct_id)).name.clone();
    let field = types
        .field_path(struct_id, path)
        .ok_or_else(|| MapLayoutError::NoMember {
            ty: struct_name(),
            member: path.to_string(),
        })?;
    let size = types
        .size_of(field.ty)
        .ok_or_else(|| MapLayoutError::NoMemberSize {
            ty: struct_name(),
            member: path.to_string(),
        })?;
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(MapLayoutError::MemberSize {
            ty: struct_name(),
            member: path.to_string(),
            size,
        });
    }
    Ok(FieldSpec {
        offset: field.offset,
        size,
    })
}

fn optional(types: &TypeTable, struct_id: TypeId, path: &str) -> Option<FieldSpec> {
    scalar(types, struct_id, path).ok()
}

fn size_of(types: &TypeTable, id: TypeId, what: &'static str) -> LayoutResult<u64> {
    types.size_of(id).ok_or_else(|| MapLayoutError::NoSize {
        what,
        ty: types.get(id).name.clone(),
    })
}

/// The pointee of a pointer type (typedefs resolved).
pub fn pointer_target(types: &TypeTable, id: TypeId) -> Option<TypeId> {
    match types.get(types.resolve(id)).kind {
        TypeKind::Pointer { target } => target.map(|t| types.resolve(t)),
        _ => None,
    }
}

/// Whether a value of this type holds pointers (the GC would scan it).
pub fn has_pointers(types: &TypeTable, id: TypeId) -> bool {
    // Memoized: a damaged type graph (a struct whose fields all name the
    // next one, or itself) must not cost fields^depth.
    fn walk(types: &TypeTable, id: TypeId, depth: usize, memo: &mut HashMap<TypeId, bool>) -> bool {
        if depth > MAX_TYPE_DEPTH {
            return true; // be conservative
        }
        let rid = types.resolve(id);
        if let Some(&known) = memo.get(&rid) {
            return known;
        }
        let ty = types.get(rid);
        let result = match ty.kind {
            TypeKind::Pointer { .. }
            | TypeKind::Map(_)
            | TypeKind::Chan { .. }
            | TypeKind::Func
            | TypeKind::Interface { .. }
            | TypeKind::String
            | TypeKind::Slice { .. } => true,
            TypeKind::Array { elem, count } => count > 0 && walk(types, elem, depth + 1, memo),
            TypeKind::Struct => ty.fields.iter().any(|f| walk(types, f.ty, depth + 1, memo)),
            TypeKind::Unknown => true,
            _ => false,
        };
        memo.insert(rid, result);
        result
    }
    walk(types, id, 0, &mut HashMap::new())
}

/// The Go alignment of a type (amd64/arm64 rules: scalars align to their
/// size up to 8, complex to half their size).
pub fn align_of(types: &TypeTable, id: TypeId) -> u64 {
    // Memoized like `has_pointers`.
    fn walk(types: &TypeTable, id: TypeId, depth: usize, memo: &mut HashMap<TypeId, u64>) -> u64 {
        if depth > MAX_TYPE_DEPTH {
            return 8;
        }
        if let Some(&known) = memo.get(&id) {
            return known;
        }
        let ty = types.get(types.resolve(id));
        let size = types.size_of(id).unwrap_or(8);
        let result = match ty.kind {
            TypeKind::Bool | TypeKind::Int | TypeKind::Uint | TypeKind::Float => size.clamp(1, 8),
            TypeKind::Complex => (size / 2).clamp(1, 8),
            TypeKind::Array { elem, .. } => walk(types, elem, depth + 1, memo),
            TypeKind::Struct => ty
                .fields
                .iter()
                .map(|f| walk(types, f.ty, depth + 1, memo))
                .max()
                .unwrap_or(1),
            _ => types.pointer_size().max(1),
        };
        memo.insert(id, result);
        result
    }
    walk(types, id, 0, &mut HashMap::new())
}

fn align_up(n: u64, a: u64) -> u64 {
    if a <= 1 {
        return n;
    }
    n.div_ceil(a).saturating_mul(a)
}

/// Key/value facts shared by both slot layouts.
struct SlotTypes {
    key_size: u64,
    elem_size: u64,
    indirect_key: bool,
    indirect_elem: bool,
    key_pointerful: bool,
    elem_pointerful: bool,
}

impl SlotTypes {
    /// Bytes a key takes in a slot: a pointer when stored indirectly.
    fn key_slot(&self, pointer_size: u64) -> u64 {
        if self.indirect_key {
            pointer_size
        } else {
            self.key_size
        }
    }

    /// Bytes a value takes in a slot: a pointer when stored indirectly.
    fn elem_slot(&self, pointer_size: u64) -> u64 {
        if self.indirect_elem {
            pointer_size
        } else {
            self.elem_size
        }
    }
}

fn slot_types(types: &TypeTable, map: &MapType) -> LayoutResult<SlotTypes> {
    let key_size = size_of(types, map.key, "map key")?;
    let elem_size = size_of(types, map.value, "map value")?;
    Ok(SlotTypes {
        key_size,
        elem_size,
        indirect_key: key_size > MAX_INLINE_KEY_ELEM,
        indirect_elem: elem_size > MAX_INLINE_KEY_ELEM,
        key_pointerful: has_pointers(types, map.key),
        elem_pointerful: has_pointers(types, map.value),
    })
}

fn array_stride(types: &TypeTable, id: TypeId, what: &'static str) -> LayoutResult<u64> {
    match types.get(types.resolve(id)).kind {
        TypeKind::Array { elem, count } if count == SLOTS => size_of(types, elem, what),
        _ => {
            let total = size_of(types, id, what)?;
            Ok(total / SLOTS)
        }
    }
}

fn classic_bucket(types: &TypeTable, map: &MapType, pointer_size: u64) -> LayoutResult<SlotLayout> {
    let st = slot_types(types, map)?;
    let key_slot = st.key_slot(pointer_size);
    let elem_slot = st.elem_slot(pointer_size);
    let pointerful = st.key_pointerful || st.elem_pointerful;
    let bucket = map.storage;
    if bucket != TypeId::UNKNOWN && types.layout_of(bucket).is_some() {
        let name = types.get(types.resolve(bucket)).name.clone();
        let field = |n: &str| {
            types
                .field_path(bucket, n)
                .ok_or_else(|| MapLayoutError::NoMember {
                    ty: name.clone(),
                    member: n.to_string(),
                })
        };
        let keys = field("keys")?;
        let elems = field("values").or_else(|_| field("elems"))?;
        let overflow = field("overflow")?;
        let tophash = field("tophash")?;
        return Ok(SlotLayout {
            size: size_of(types, bucket, "bucket")?,
            control_offset: tophash.offset,
            keys_offset: keys.offset,
            key_stride: array_stride(types, keys.ty, "bucket keys")?,
            elems_offset: elems.offset,
            elem_stride: array_stride(types, elems.ty, "bucket values")?,
            overflow_offset: Some(overflow.offset),
            indirect_key: st.indirect_key,
            indirect_elem: st.indirect_elem,
            split: true,
            pointerful,
            computed: false,
            key_size: st.key_size,
            elem_size: st.elem_size,
            key_pointerful: st.key_pointerful,
            elem_pointerful: st.elem_pointerful,
        });
    }
    // cmd/compile MapBucketType: tophash [8]uint8; keys [8]K; elems [8]V;
    // overflow *bucket — each field aligned.
    let key_align = if st.indirect_key {
        pointer_size
    } else {
        align_of(types, map.key)
    };
    let elem_align = if st.indirect_elem {
        pointer_size
    } else {
        align_of(types, map.value)
    };
    let keys_offset = align_up(SLOTS, key_align);
    let elems_offset = align_up(keys_offset + SLOTS * key_slot, elem_align);
    let overflow_offset = align_up(elems_offset + SLOTS * elem_slot, pointer_size);
    Ok(SlotLayout {
        size: overflow_offset + pointer_size,
        control_offset: 0,
        keys_offset,
        key_stride: key_slot,
        elems_offset,
        elem_stride: elem_slot,
        overflow_offset: Some(overflow_offset),
        indirect_key: st.indirect_key,
        indirect_elem: st.indirect_elem,
        split: true,
        pointerful,
        computed: true,
        key_size: st.key_size,
        elem_size: st.elem_size,
        key_pointerful: st.key_pointerful,
        elem_pointerful: st.elem_pointerful,
    })
}

fn swiss_group(types: &TypeTable, map: &MapType, pointer_size: u64) -> LayoutResult<SlotLayout> {
    let st = slot_types(types, map)?;
    let key_slot = st.key_slot(pointer_size);
    let elem_slot = st.elem_slot(pointer_size);
    let pointerful = st.key_pointerful || st.elem_pointerful;
    let group = map.storage;
    if group != TypeId::UNKNOWN && types.layout_of(group).is_some() {
        let name = types.get(types.resolve(group)).name.clone();
        let size = size_of(types, group, "group")?;
        let ctrl = types
            .field_path(group, "ctrl")
            .ok_or_else(|| MapLayoutError::NoMember {
                ty: name.clone(),
                member: "ctrl".to_string(),
            })?;
        let base = SlotLayout {
            size,
            control_offset: ctrl.offset,
            keys_offset: 0,
            key_stride: 0,
            elems_offset: 0,
            elem_stride: 0,
            overflow_offset: None,
            indirect_key: st.indirect_key,
            indirect_elem: st.indirect_elem,
            split: false,
            pointerful,
            computed: false,
            key_size: st.key_size,
            elem_size: st.elem_size,
            key_pointerful: st.key_pointerful,
            elem_pointerful: st.elem_pointerful,
        };
        if let Some(slots) = types.field_path(group, "slots") {
            // Interleaved: slots [8]struct{ key K; elem V }.
            let slot_ty = match types.get(types.resolve(slots.ty)).kind {
                TypeKind::Array { elem, .. } => elem,
                _ => {
                    return Err(MapLayoutError::NotArray {
                        ty: name,
                        member: "slots",
                    })
                }
            };
            let stride = size_of(types, slot_ty, "group slot")?;
            let key =
                types
                    .field_path(slot_ty, "key")
                    .ok_or_else(|| MapLayoutError::NoSlotMember {
                        group: name.clone(),
                        member: "key",
                    })?;
            let elem =
                types
                    .field_path(slot_ty, "elem")
                    .ok_or_else(|| MapLayoutError::NoSlotMember {
                        group: name.clone(),
                        member: "elem",
                    })?;
            return Ok(SlotLayout {
                keys_offset: slots.offset + key.offset,
                key_stride: stride,
                elems_offset: slots.offset + elem.offset,
                elem_stride: stride,
                ..base
            });
        }
        let keys = types.field_path(group, "keys");
        let elems = types.field_path(group, "elems");
        if let (Some(keys), Some(elems)) = (keys, elems) {
            // GOEXPERIMENT=mapsplitgroup: keys [8]K; elems [8]V.
            return Ok(SlotLayout {
                keys_offset: keys.offset,
                key_stride: array_stride(types, keys.ty, "group keys")?,
                elems_offset: elems.offset,
                elem_stride: array_stride(types, elems.ty, "group elems")?,
                split: true,
                ..base
            });
        }
        return Err(MapLayoutError::NoGroupSlots { group: name });
    }
    // cmd/compile MapGroupType (interleaved): ctrl uint64; slots [8]struct{key; elem}.
    let key_align = if st.indirect_key {
        pointer_size
    } else {
        align_of(types, map.key)
    };
    let elem_align = if st.indirect_elem {
        pointer_size
    } else {
        align_of(types, map.value)
    };
    let slot_align = key_align.max(elem_align);
    let elem_in_slot = align_up(key_slot, elem_align);
    let slot = align_up(elem_in_slot + elem_slot, slot_align);
    let slots_offset = align_up(8, slot_align);
    Ok(SlotLayout {
        size: align_up(slots_offset + SLOTS * slot, 8),
        control_offset: 0,
        keys_offset: slots_offset,
        key_stride: slot,
        elems_offset: slots_offset + elem_in_slot,
        elem_stride: slot,
        overflow_offset: None,
        indirect_key: st.indirect_key,
        indirect_elem: st.indirect_elem,
        split: false,
        pointerful,
        computed: true,
        key_size: st.key_size,
        elem_size: st.elem_size,
        key_pointerful: st.key_pointerful,
        elem_pointerful: st.elem_pointerful,
    })
}

/// The header struct of a map type: `hash<K,V>`/`map<K,V>` if DWARF has it,
/// else the runtime's generic one.
fn header_struct(types: &TypeTable, map: &MapType, generic: &'static str) -> LayoutResult<TypeId> {
    if map.header != TypeId::UNKNOWN && types.layout_of(map.header).is_some() {
        return Ok(map.header);
    }
    types
        .by_name(generic)
        .ok_or(MapLayoutError::NoHeader { generic })
}

/// Builds the layout of the map type `map` (already resolved to
/// [`MapType`]).
pub fn map_layout(dwarf: &DwarfInfo, map: &MapType) -> LayoutResult<MapLayout> {
    let types = dwarf.types();
    let pointer_size = u64::from(dwarf.pointer_size()).max(8);
    let flavour = match map.flavour {
        Some(f) => f,
        None => dwarf
            .map_implementation()
            .ok_or(MapLayoutError::UnknownImplementation)?,
    };
    match flavour {
        MapFlavour::Classic => {
            let h = header_struct(types, map, "runtime.hmap")?;
            let extra = types
                .by_name("runtime.mapextra")
                .ok_or_else(|| no_type("runtime.mapextra"))?;
            Ok(MapLayout::Classic(ClassicLayout {
                header_size: size_of(types, h, "hmap")?,
                count: scalar(types, h, "count")?,
                flags: scalar(types, h, "flags")?,
                b: scalar(types, h, "B")?,
                noverflow: scalar(types, h, "noverflow")?,
                hash0: scalar(types, h, "hash0")?,
                buckets: scalar(types, h, "buckets")?,
                oldbuckets: scalar(types, h, "oldbuckets")?,
                nevacuate: scalar(types, h, "nevacuate")?,
                clear_seq: optional(types, h, "clearSeq"),
                extra: scalar(types, h, "extra")?,
                extra_size: size_of(types, extra, "mapextra")?,
                extra_overflow: scalar(types, extra, "overflow")?,
                extra_oldoverflow: scalar(types, extra, "oldoverflow")?,
                extra_next_overflow: scalar(types, extra, "nextOverflow")?,
                same_size_grow: dwarf
                    .constant("runtime.sameSizeGrow")
                    .and_then(|v| u64::try_from(v).ok())
                    .unwrap_or(8),
                bucket: classic_bucket(types, map, pointer_size)?,
            }))
        }
        MapFlavour::Swiss => {
            let h = header_struct(types, map, "internal/runtime/maps.Map")?;
            let table = if map.table != TypeId::UNKNOWN && types.layout_of(map.table).is_some() {
                map.table
            } else {
                types
                    .by_name("internal/runtime/maps.table")
                    .ok_or_else(|| no_type("internal/runtime/maps.table"))?
            };
            Ok(MapLayout::Swiss(SwissLayout {
                header_size: size_of(types, h, "maps.Map")?,
                used: scalar(types, h, "used")?,
                seed: scalar(types, h, "seed")?,
                dir_ptr: scalar(types, h, "dirPtr")?,
                dir_len: scalar(types, h, "dirLen")?,
                global_depth: scalar(types, h, "globalDepth")?,
                global_shift: scalar(types, h, "globalShift")?,
                writing: scalar(types, h, "writing")?,
                tombstone_possible: optional(types, h, "tombstonePossible"),
                clear_seq: optional(types, h, "clearSeq"),
                table_size: size_of(types, table, "maps.table")?,
                t_used: scalar(types, table, "used")?,
                t_capacity: scalar(types, table, "capacity")?,
                t_growth_left: scalar(types, table, "growthLeft")?,
                t_local_depth: scalar(types, table, "localDepth")?,
                t_index: scalar(types, table, "index")?,
                t_groups_data: scalar(types, table, "groups.data")?,
                t_length_mask: scalar(types, table, "groups.lengthMask")?,
                group: swiss_group(types, map, pointer_size)?,
            }))
        }
    }
}

fn no_type(ty: &str) -> MapLayoutError {
    MapLayoutError::NoType { ty: ty.to_string() }
}

/// The `v` word of a `sync/atomic.Pointer[T]` member at `path`.
fn atomic_pointer(types: &TypeTable, struct_id: TypeId, path: &str) -> LayoutResult<FieldSpec> {
    scalar(types, struct_id, &format!("{path}.v")).or_else(|_| scalar(types, struct_id, path))
}

/// The type `T` of a `sync/atomic.Pointer[T]` (from its `_ [0]*T` member).
fn atomic_pointer_target(types: &TypeTable, atomic: TypeId) -> Option<TypeId> {
    let ty = types.get(types.resolve(atomic));
    ty.fields
        .iter()
        .find_map(|f| match types.get(types.resolve(f.ty)).kind {
            TypeKind::Array { elem, count: 0 } => pointer_target(types, elem),
            _ => None,
        })
}

/// `id`, or — when it is a placeholder without members (kind unknown: the
/// layout table names a pointer's target so when it holds that type in
/// full under the same name) — the full type of that name.
fn complete(types: &TypeTable, id: TypeId) -> TypeId {
    let ty = types.get(types.resolve(id));
    if !matches!(ty.kind, TypeKind::Unknown) {
        return id;
    }
    types
        .by_name(&ty.name)
        .filter(|&full| !matches!(types.get(types.resolve(full)).kind, TypeKind::Unknown))
        .unwrap_or(id)
}

/// Builds the layout of `sync.Map` (`id` resolves to the struct).
pub fn sync_map_layout(dwarf: &DwarfInfo, id: TypeId) -> LayoutResult<SyncMapLayout> {
    let types = dwarf.types();
    let size = size_of(types, id, "sync.Map")?;
    if let Some(m) = types.field_path(id, "m") {
        // sync.Map{_ noCopy; m internal/sync.HashTrieMap[any, any]}.
        let trie = m.ty;
        let root_field =
            types
                .field_path(trie, "root")
                .ok_or_else(|| MapLayoutError::NoMember {
                    ty: "HashTrieMap".to_string(),
                    member: "root".to_string(),
                })?;
        let trie_name = types.get(types.resolve(trie)).name.clone();
        let suffix = trie_name
            .find('[')
            .map(|i| trie_name[i..].to_string())
            .unwrap_or_default();
        let indirect = atomic_pointer_target(types, root_field.ty)
            .or_else(|| types.by_name(&format!("internal/sync.indirect{suffix}")))
            .ok_or_else(|| no_type(&format!("internal/sync.indirect{suffix}")))?;
        let entry = types
            .by_name(&format!("internal/sync.entry{suffix}"))
            .or_else(|| {
                types
                    .iter()
                    .find(|(_, t)| t.name.starts_with("internal/sync.entry[") && t.size.is_some())
                    .map(|(id, _)| id)
            })
            .ok_or_else(|| no_type(&format!("internal/sync.entry{suffix}")))?;
        let children =
            types
                .field_path(indirect, "children")
                .ok_or(MapLayoutError::NoSyncMember {
                    ty: "internal/sync.indirect",
                    member: "children",
                })?;
        let (child_count, child_stride, child_v) = match types.get(types.resolve(children.ty)).kind
        {
            TypeKind::Array { elem, count } => {
                let stride = size_of(types, elem, "indirect child")?;
                let v = types.field_path(elem, "v").map(|f| f.offset).unwrap_or(0);
                (count, stride, v)
            }
            _ => {
                return Err(MapLayoutError::SyncNotArray {
                    ty: "internal/sync.indirect",
                    member: "children",
                })
            }
        };
        let key = types
            .field_path(entry, "key")
            .ok_or(MapLayoutError::NoSyncMember {
                ty: "internal/sync.entry",
                member: "key",
            })?;
        let value = types
            .field_path(entry, "value")
            .ok_or(MapLayoutError::NoSyncMember {
                ty: "internal/sync.entry",
                member: "value",
            })?;
        let mut root = atomic_pointer(types, trie, "root")?;
        root.offset += m.offset;
        let mut inited =
            scalar(types, trie, "inited.v").or_else(|_| scalar(types, trie, "inited"))?;
        inited.offset += m.offset;
        return Ok(SyncMapLayout::HashTrie(HashTrieLayout {
            size,
            inited,
            root,
            indirect_size: size_of(types, indirect, "internal/sync.indirect")?,
            indirect_is_entry: scalar(types, indirect, "node.isEntry")?,
            children_offset: children.offset + child_v,
            child_stride,
            child_count,
            entry_size: size_of(types, entry, "internal/sync.entry")?,
            entry_is_entry: scalar(types, entry, "node.isEntry")?,
            entry_overflow: atomic_pointer(types, entry, "overflow")?,
            entry_key: key.offset,
            entry_value: value.offset,
            key_type: key.ty,
            value_type: value.ty,
        }));
    }
    // sync.Map{mu; read atomic.Pointer[readOnly]; dirty map[any]*entry; misses int}.
    let read = types
        .field_path(id, "read")
        .ok_or(MapLayoutError::UnknownSyncMap)?;
    let read_only = atomic_pointer_target(types, read.ty)
        .or_else(|| types.by_name("sync.readOnly"))
        .map(|t| complete(types, t))
        .ok_or_else(|| no_type("sync.readOnly"))?;
    let dirty = types
        .field_path(id, "dirty")
        .ok_or(MapLayoutError::NoSyncMember {
            ty: SYNC_MAP_TYPE,
            member: "dirty",
        })?;
    let inner_map = dirty.ty;
    let inner = types.map_type(inner_map).ok_or(MapLayoutError::NotAMap {
        ty: SYNC_MAP_TYPE,
        member: "dirty",
    })?;
    let entry = pointer_target(types, inner.value)
        .map(|t| complete(types, t))
        .ok_or(MapLayoutError::DirtyValueNotEntry)?;
    let any = inner.key;
    Ok(SyncMapLayout::ReadDirty(ReadDirtyLayout {
        size,
        read: atomic_pointer(types, id, "read")?,
        dirty: scalar(types, id, "dirty")?,
        misses: scalar(types, id, "misses")?,
        read_only_size: size_of(types, read_only, "sync.readOnly")?,
        read_only_m: scalar(types, read_only, "m")?,
        read_only_amended: scalar(types, read_only, "amended")?,
        inner_map,
        entry_size: size_of(types, entry, "sync.entry")?,
        entry_p: atomic_pointer(types, entry, "p")?,
        any,
        any_size: size_of(types, any, "interface {}")?,
    }))
}

/// The type name of `sync.Map` as DWARF spells it (also the kind name the
/// reports print).
pub const SYNC_MAP_TYPE: &str = "sync.Map";

/// Whether `id` (already resolved) is the `sync.Map` struct.
pub fn is_sync_map(types: &TypeTable, id: TypeId) -> bool {
    let t = types.get(id);
    t.name == SYNC_MAP_TYPE && matches!(t.kind, TypeKind::Struct)
}

/// The `hmap.flags` bit set while a map is being written
/// (`runtime.hashWriting`; 4 when DWARF does not record it).
pub fn hash_writing_flag(dwarf: &DwarfInfo) -> u64 {
    dwarf
        .constant("runtime.hashWriting")
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(4)
}

/// The global whose value a read/dirty `sync.Map` stores in a deleted
/// entry.
pub const SYNC_EXPUNGED: &str = "sync.expunged";

/// The link-time address of [`SYNC_EXPUNGED`] (add the load bias to read
/// it).
pub fn sync_expunged_address(dwarf: &DwarfInfo) -> Option<u64> {
    dwarf.globals().by_name(SYNC_EXPUNGED).map(|g| g.address)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_spec_reads_little_endian() {
        let bytes = [1u8, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(FieldSpec { offset: 0, size: 1 }.get(&bytes), Some(1));
        assert_eq!(FieldSpec { offset: 1, size: 2 }.get(&bytes), Some(0x0302));
        assert_eq!(
            FieldSpec { offset: 1, size: 8 }.get(&bytes),
            Some(0x0908070605040302)
        );
        assert_eq!(FieldSpec { offset: 2, size: 8 }.get(&bytes), None);
        assert_eq!(
            FieldSpec { offset: 5, size: 4 }.get(&bytes),
            Some(0x09080706)
        );
        assert_eq!(FieldSpec { offset: 6, size: 4 }.get(&bytes), None);
        assert_eq!(FieldSpec { offset: 8, size: 2 }.get(&bytes), None);
        assert_eq!(FieldSpec { offset: 9, size: 1 }.get(&bytes), None);
        assert_eq!(FieldSpec { offset: 0, size: 3 }.get(&bytes), Some(0x030201));
        assert_eq!(
            FieldSpec { offset: 0, size: 9 }.get(&bytes),
            Some(0x0807060504030201)
        );
        assert_eq!(FieldSpec { offset: 0, size: 0 }.get(&bytes), Some(0));
        assert_eq!(
            FieldSpec {
                offset: u64::MAX,
                size: 8
            }
            .get(&bytes),
            None
        );
    }

    #[test]
    fn aligns_up() {
        assert_eq!(align_up(9, 8), 16);
        assert_eq!(align_up(9, 1), 9);
        assert_eq!(align_up(16, 8), 16);
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
