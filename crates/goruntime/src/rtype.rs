//! Runtime type descriptors (`internal/abi.Type` and its kind-specific
//! extensions) read from the module's type data and converted into
//! [`TypeTable`](crate::dwarf::TypeTable) entries, so an executable without DWARF still has its
//! program's map types: `map[K]V` with key, value and storage (Swiss group
//! / classic bucket) types, sized and named as the runtime names them
//! (`map[string]*main.Session`, `noalg.map.group[string]*main.Session`).
//!
//! Owns: decoding descriptors (`abi.Type`: size, pointer bytes, kind, name
//! through the types section's name encoding — a flag byte, a varint
//! length, the bytes; `TFlagExtraStar` drops the leading `*` —; `PtrType`,
//! `SliceType`, `ArrayType`, `ChanType`, `StructType` with its fields'
//! names and offsets, `InterfaceType`, and the map type — `MapType`,
//! `SwissMapType` or `OldMapType`, whichever the layout table has), the
//! search of the types section for map type descriptors and for the
//! descriptors of types holding a map (structs, arrays, slices and
//! pointers that reach one: a program's `main.Loader` with a
//! `[2]map[string]*main.Symbol` field, the element type of a
//! `[]map[string]int`'s backing array), and [`import_map_types`], which
//! appends them to a stand-in [`DwarfInfo`] with their runtime addresses
//! (so [`DwarfInfo::type_by_runtime_address`] names typed heap storage
//! and typed heap objects holding maps).
//!
//! Every offset comes from the layout table's `internal/abi.*` types and
//! every kind number from its `internal/abi.*` constants (reflect's
//! numbering only when a constant is absent). Reads never leave the types
//! section; every walk is bounded (depth, type count, fields per struct);
//! a corrupt descriptor is an [`RtypeError`], never a panic.
//!
//! Does not touch: heap objects, map headers, decoding maps (gomaps).

use std::collections::HashMap;

use crate::dwarf::{DwarfInfo, Field, MapFlavour, MapType, Type, TypeId, TypeKind};

/// Pointer steps followed from a map type before a type is kept opaque
/// (name and size only).
pub const MAX_DEPTH: u32 = 12;
/// Types converted by one import at most.
pub const MAX_TYPES: usize = 1 << 17;
/// Fields of one struct descriptor at most.
pub const MAX_FIELDS: u64 = 1 << 12;
/// Longest type name read.
const MAX_NAME: u64 = 1 << 14;
/// Largest types section read.
const MAX_SECTION: u64 = 512 << 20;

/// Why a descriptor could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtypeError {
    #[error("type descriptor at {0:#x} lies outside the types section")]
    OutOfRange(u64),
    #[error("type descriptor at {address:#x}: {problem}")]
    Corrupt { address: u64, problem: String },
    #[error("the layout table lacks {0}")]
    Layout(&'static str),
    #[error("more than {MAX_TYPES} runtime types")]
    Budget,
}

/// The module's type data (`moduledata.types` .. `etypes`) as the process
/// holds it: `base` is its runtime address.
#[derive(Debug, Clone)]
pub struct TypesSection {
    base: u64,
    data: Vec<u8>,
}

impl TypesSection {
    pub fn new(base: u64, data: Vec<u8>) -> TypesSection {
        TypesSection { base, data }
    }

    /// Reads `[start, end)` with `read` (a process memory view); `None`
    /// when the range is empty, too large or unreadable.
    pub fn read(
        start: u64,
        end: u64,
        read: impl Fn(u64, &mut [u8]) -> bool,
    ) -> Option<TypesSection> {
        let len = end.checked_sub(start)?;
        if len == 0 || len > MAX_SECTION {
            return None;
        }
        let mut data = vec![0u8; usize::try_from(len).ok()?];
        read(start, &mut data).then_some(TypesSection { base: start, data })
    }

    pub fn base(&self) -> u64 {
        self.base
    }

    fn bytes(&self, address: u64, len: u64) -> Result<&[u8], RtypeError> {
        let start = address
            .checked_sub(self.base)
            .ok_or(RtypeError::OutOfRange(address))?;
        let end = start
            .checked_add(len)
            .ok_or(RtypeError::OutOfRange(address))?;
        let (start, end) = (
            usize::try_from(start).map_err(|_| RtypeError::OutOfRange(address))?,
            usize::try_from(end).map_err(|_| RtypeError::OutOfRange(address))?,
        );
        self.data
            .get(start..end)
            .ok_or(RtypeError::OutOfRange(address))
    }

    fn uint(&self, address: u64, width: u64) -> Result<u64, RtypeError> {
        let b = self.bytes(address, width)?;
        let mut v = 0u64;
        for (i, byte) in b.iter().enumerate().take(8) {
            v |= u64::from(*byte) << (8 * i);
        }
        Ok(v)
    }

    fn contains(&self, address: u64) -> bool {
        address >= self.base && address - self.base < self.data.len() as u64
    }
}

/// A member: offset and width in bytes.
#[derive(Clone, Copy, Debug)]
struct Member {
    offset: u64,
    width: u64,
}

/// Offsets of the descriptor structs, from the layout table.
#[derive(Clone, Debug)]
struct AbiLayout {
    ptr: u64,
    type_size: u64,
    size: Member,
    ptr_bytes: Member,
    tflag: Member,
    kind: Member,
    str_off: Member,
    ptr_elem: u64,
    slice_elem: u64,
    array_elem: u64,
    array_len: u64,
    chan_elem: u64,
    struct_fields: u64,
    field_size: u64,
    field_name: u64,
    field_typ: u64,
    field_offset: u64,
    iface_methods: Option<u64>,
    map_size: u64,
    map_key: u64,
    map_elem: u64,
    map_storage: u64,
    flavour: MapFlavour,
    kinds: Kinds,
    kind_mask: u64,
    extra_star: u64,
}

/// `internal/abi` kind numbers.
#[derive(Clone, Copy, Debug)]
struct Kinds {
    bool_: u64,
    ints: (u64, u64),
    uints: (u64, u64),
    floats: (u64, u64),
    complexes: (u64, u64),
    array: u64,
    chan: u64,
    func: u64,
    interface: u64,
    map: u64,
    pointer: u64,
    slice: u64,
    string: u64,
    struct_: u64,
    unsafe_pointer: u64,
}

impl AbiLayout {
    fn resolve(dwarf: &DwarfInfo) -> Result<AbiLayout, RtypeError> {
        let types = dwarf.types();
        let member = |ty: &'static str, field: &'static str| -> Result<Member, RtypeError> {
            let l = types.struct_layout(ty).ok_or(RtypeError::Layout(ty))?;
            let f = l.field(field).ok_or(RtypeError::Layout(field))?;
            Ok(Member {
                offset: f.offset,
                width: types.size_of(f.ty).unwrap_or(8).clamp(1, 8),
            })
        };
        let off = |ty: &'static str, field: &'static str| member(ty, field).map(|m| m.offset);
        let size = |ty: &'static str| {
            types
                .struct_layout(ty)
                .and_then(|l| l.size)
                .ok_or(RtypeError::Layout(ty))
        };
        let map_name = [
            "internal/abi.SwissMapType",
            "internal/abi.MapType",
            "internal/abi.OldMapType",
        ]
        .into_iter()
        .find(|n| types.struct_layout(n).is_some())
        .ok_or(RtypeError::Layout("internal/abi.MapType"))?;
        let (storage, flavour) = match off(map_name, "Group") {
            Ok(o) => (o, MapFlavour::Swiss),
            Err(_) => (off(map_name, "Bucket")?, MapFlavour::Classic),
        };
        let c = |name: &str, fallback: u64| {
            dwarf
                .constant(&format!("internal/abi.{name}"))
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(fallback)
        };
        let kinds = Kinds {
            bool_: c("Bool", 1),
            ints: (c("Int", 2), c("Int64", 6)),
            uints: (c("Uint", 7), c("Uintptr", 12)),
            floats: (c("Float32", 13), c("Float64", 14)),
            complexes: (c("Complex64", 15), c("Complex128", 16)),
            array: c("Array", 17),
            chan: c("Chan", 18),
            func: c("Func", 19),
            interface: c("Interface", 20),
            map: c("Map", 21),
            pointer: c("Pointer", 22),
            slice: c("Slice", 23),
            string: c("String", 24),
            struct_: c("Struct", 25),
            unsafe_pointer: c("UnsafePointer", 26),
        };
        Ok(AbiLayout {
            ptr: u64::from(dwarf.pointer_size()).max(4),
            type_size: size("internal/abi.Type")?,
            size: member("internal/abi.Type", "Size_")?,
            ptr_bytes: member("internal/abi.Type", "PtrBytes")?,
            tflag: member("internal/abi.Type", "TFlag")?,
            kind: member("internal/abi.Type", "Kind_")?,
            str_off: member("internal/abi.Type", "Str")?,
            ptr_elem: off("internal/abi.PtrType", "Elem")?,
            slice_elem: off("internal/abi.SliceType", "Elem")?,
            array_elem: off("internal/abi.ArrayType", "Elem")?,
            array_len: off("internal/abi.ArrayType", "Len")?,
            chan_elem: off("internal/abi.ChanType", "Elem")?,
            struct_fields: off("internal/abi.StructType", "Fields")?,
            field_size: size("internal/abi.StructField")?,
            field_name: off("internal/abi.StructField", "Name")?,
            field_typ: off("internal/abi.StructField", "Typ")?,
            field_offset: off("internal/abi.StructField", "Offset")?,
            iface_methods: off("internal/abi.InterfaceType", "Methods").ok(),
            map_size: size(map_name)?,
            map_key: off(map_name, "Key")?,
            map_elem: off(map_name, "Elem")?,
            map_storage: storage,
            flavour,
            kinds,
            kind_mask: c("KindMask", 0x1f),
            extra_star: c("TFlagExtraStar", 2),
        })
    }
}

/// The common header of a descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub address: u64,
    pub name: String,
    pub size: u64,
    pub ptr_bytes: u64,
    /// `abi.Kind` with the flag bits masked off.
    pub kind: u64,
}

/// Reads descriptors of one types section and converts them.
pub struct Reader<'s> {
    section: &'s TypesSection,
    layout: AbiLayout,
    /// Id the first converted type gets (the table's length).
    first_id: u32,
    out: Vec<Type>,
    /// Descriptor address → its type and the depth it was expanded at.
    memo: HashMap<u64, (TypeId, u32)>,
    runtime: Vec<(u64, TypeId)>,
    eface: TypeId,
    iface: TypeId,
    /// `sync.Map` as the table describes it: a descriptor of that name
    /// is registered as the table's type (the `sync.Map` decoder reads
    /// the table's layout), not converted.
    sync_map: Option<TypeId>,
}

impl<'s> Reader<'s> {
    /// A reader for `section` with the layouts of `dwarf` (a layout table's
    /// stand-in, or real DWARF).
    pub fn new(dwarf: &DwarfInfo, section: &'s TypesSection) -> Result<Reader<'s>, RtypeError> {
        let types = dwarf.types();
        Ok(Reader {
            section,
            layout: AbiLayout::resolve(dwarf)?,
            first_id: u32::try_from(types.len()).map_err(|_| RtypeError::Budget)?,
            out: Vec::new(),
            memo: HashMap::new(),
            runtime: Vec::new(),
            eface: types.by_name("runtime.eface").unwrap_or(TypeId::UNKNOWN),
            iface: types.by_name("runtime.iface").unwrap_or(TypeId::UNKNOWN),
            sync_map: types.by_name(crate::layout::maps::SYNC_MAP_TYPE),
        })
    }

    fn word(&self, address: u64) -> Result<u64, RtypeError> {
        self.section.uint(address, self.layout.ptr)
    }

    fn get(&self, address: u64, m: Member) -> Result<u64, RtypeError> {
        self.section.uint(address.wrapping_add(m.offset), m.width)
    }

    /// An `abi.Name` at `address`: flag byte, varint length, bytes.
    fn name_at(&self, address: u64) -> Result<(String, u8), RtypeError> {
        let corrupt = |p: &str| RtypeError::Corrupt {
            address,
            problem: p.to_string(),
        };
        let flags = self.section.uint(address, 1)? as u8;
        let mut len = 0u64;
        let mut used = 0u64;
        for i in 0..4u64 {
            let b = self.section.uint(address + 1 + i, 1)?;
            len |= (b & 0x7f) << (7 * i);
            used = i + 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        if len > MAX_NAME {
            return Err(corrupt("name too long"));
        }
        let bytes = self.section.bytes(address + 1 + used, len)?;
        let s = std::str::from_utf8(bytes).map_err(|_| corrupt("name is not UTF-8"))?;
        Ok((s.to_string(), flags))
    }

    /// The header of the descriptor at `address`.
    pub fn header(&self, address: u64) -> Result<Header, RtypeError> {
        let l = &self.layout;
        if !self.section.contains(address) || address % l.ptr != 0 {
            return Err(RtypeError::OutOfRange(address));
        }
        self.section.bytes(address, l.type_size)?;
        let tflag = self.get(address, l.tflag)?;
        let str_off = self.get(address, l.str_off)?;
        let (mut name, _) = self.name_at(self.section.base.wrapping_add(str_off))?;
        if tflag & l.extra_star != 0 && name.starts_with('*') {
            name.remove(0);
        }
        Ok(Header {
            address,
            name,
            size: self.get(address, l.size)?,
            ptr_bytes: self.get(address, l.ptr_bytes)?,
            kind: self.get(address, l.kind)? & l.kind_mask,
        })
    }

    /// The map type descriptors of the section, found by a scan of every
    /// aligned word: kind `Map`, pointer-sized, key/elem/storage
    /// descriptors inside the section, storage a struct whose runtime name
    /// is a map group or bucket. Sorted by address.
    pub fn map_descriptors(&self) -> Vec<u64> {
        let l = &self.layout;
        let mut out = Vec::new();
        let len = self.section.data.len() as u64;
        let mut off = 0u64;
        while off.saturating_add(l.map_size) <= len {
            let a = self.section.base + off;
            off += l.ptr;
            if self.get(a, l.kind).map(|k| k & l.kind_mask) != Ok(l.kinds.map)
                || self.get(a, l.size) != Ok(l.ptr)
            {
                continue;
            }
            let ok = |field: u64| {
                self.word(a + field)
                    .is_ok_and(|p| self.section.contains(p) && p % l.ptr == 0)
            };
            if !(ok(l.map_key) && ok(l.map_elem) && ok(l.map_storage)) {
                continue;
            }
            let storage = self.word(a + l.map_storage).unwrap_or(0);
            let is_storage = self.header(storage).is_ok_and(|h| {
                h.kind == l.kinds.struct_
                    && (h.name.contains("map.group[") || h.name.contains("map.bucket["))
            });
            if is_storage && self.header(a).is_ok() {
                out.push(a);
            }
        }
        out
    }

    /// The types a value of any map-holding type reaches, as element,
    /// field or pointer target, read from a candidate descriptor at `a`:
    /// `None` unless `a` reads as a pointer, slice, array or struct
    /// descriptor with pointers whose name and members are consistent
    /// (every member descriptor inside the section, aligned; an array's
    /// size its element's times its length; fields inside the struct).
    fn holder_edges(&self, a: u64) -> Option<Vec<u64>> {
        let l = &self.layout;
        let k = l.kinds;
        let kind = self.get(a, l.kind).ok()? & l.kind_mask;
        if ![k.pointer, k.slice, k.array, k.struct_].contains(&kind) {
            return None;
        }
        let size = self.get(a, l.size).ok()?;
        let ptr_bytes = self.get(a, l.ptr_bytes).ok()?;
        // A map is a pointer: a type holding one has pointers.
        if ptr_bytes == 0 || ptr_bytes > size {
            return None;
        }
        let member = |at: u64| -> Option<u64> {
            let p = self.word(at).ok()?;
            (self.section.contains(p) && p % l.ptr == 0).then_some(p)
        };
        let prefix_ok = |name: &str| {
            if kind == k.pointer {
                size == l.ptr && name.starts_with('*')
            } else if kind == k.slice {
                size == 3 * l.ptr && name.starts_with("[]")
            } else if kind == k.array {
                name.starts_with('[')
            } else {
                !name.is_empty()
            }
        };
        let h = self.header(a).ok()?;
        if !prefix_ok(&h.name) {
            return None;
        }
        if kind == k.pointer {
            return Some(vec![member(a + l.ptr_elem)?]);
        }
        if kind == k.slice {
            return Some(vec![member(a + l.slice_elem)?]);
        }
        if kind == k.array {
            let elem = member(a + l.array_elem)?;
            let len = self.word(a + l.array_len).ok()?;
            let esize = self.get(elem, l.size).ok()?;
            return (esize.checked_mul(len) == Some(size)).then(|| vec![elem]);
        }
        let array = self.word(a + l.struct_fields).ok()?;
        let count = self.word(a + l.struct_fields + l.ptr).ok()?;
        if count == 0 || count > MAX_FIELDS {
            return None;
        }
        self.section
            .bytes(array, count.checked_mul(l.field_size)?)
            .ok()?;
        let mut out = Vec::with_capacity(count as usize);
        for i in 0..count {
            let f = array + i * l.field_size;
            let offset = self.word(f + l.field_offset).ok()?;
            if offset > size {
                return None;
            }
            out.push(member(f + l.field_typ)?);
        }
        Some(out)
    }

    /// Descriptors of the types that hold a map (a struct field, array or
    /// slice element, or pointer target that is a map, a `sync.Map`, or
    /// holds one, transitively), found by a scan of every aligned word as
    /// [`Reader::map_descriptors`] does, from the map descriptors `maps`.
    /// Heap objects of these types (malloc headers name them) are where
    /// maps are held inline. Sorted by address; the map descriptors
    /// themselves are not included.
    pub fn holder_descriptors(&self, maps: &[u64]) -> Vec<u64> {
        let l = &self.layout;
        let len = self.section.data.len() as u64;
        // Reverse edges: member descriptor → descriptors naming it.
        let mut users: HashMap<u64, Vec<u64>> = HashMap::new();
        let mut seeds: Vec<u64> = maps.to_vec();
        let mut off = 0u64;
        while off.saturating_add(l.type_size) <= len {
            let a = self.section.base + off;
            off += l.ptr;
            let Some(edges) = self.holder_edges(a) else {
                continue;
            };
            if self.get(a, l.kind).map(|k| k & l.kind_mask) == Ok(l.kinds.struct_)
                && self
                    .header(a)
                    .is_ok_and(|h| h.name == crate::layout::maps::SYNC_MAP_TYPE)
            {
                seeds.push(a);
            }
            for e in edges {
                let u = users.entry(e).or_default();
                if u.len() < MAX_FIELDS as usize && u.last() != Some(&a) {
                    u.push(a);
                }
            }
        }
        let mut holders: std::collections::HashSet<u64> = std::collections::HashSet::new();
        let mut stack = seeds;
        while let Some(t) = stack.pop() {
            for &u in users.get(&t).map(Vec::as_slice).unwrap_or(&[]) {
                if holders.len() < MAX_TYPES && holders.insert(u) {
                    stack.push(u);
                }
            }
        }
        for m in maps {
            holders.remove(m);
        }
        let mut out: Vec<u64> = holders.into_iter().collect();
        out.sort_unstable();
        out
    }

    /// Converts the descriptor at `address` (and what it reaches, to
    /// [`MAX_DEPTH`]) into types; returns its id.
    pub fn import(&mut self, address: u64) -> Result<TypeId, RtypeError> {
        self.convert(address, 0)
    }

    fn push(&mut self, address: u64, ty: Type, depth: u32) -> Result<TypeId, RtypeError> {
        if self.out.len() >= MAX_TYPES {
            return Err(RtypeError::Budget);
        }
        let id = TypeId(self.first_id + self.out.len() as u32);
        self.out.push(ty);
        self.memo.insert(address, (id, depth));
        let offset = address - self.section.base;
        self.runtime.push((offset, id));
        Ok(id)
    }

    fn set(&mut self, id: TypeId, kind: TypeKind, fields: Vec<Field>) {
        if let Some(t) = id
            .index()
            .checked_sub(self.first_id as usize)
            .and_then(|i| self.out.get_mut(i))
        {
            t.kind = kind;
            t.fields = fields;
        }
    }

    /// The descriptor a pointer word at `at` names, converted.
    fn child(&mut self, at: u64, depth: u32) -> Result<TypeId, RtypeError> {
        let p = self.word(at)?;
        if p == 0 {
            return Ok(TypeId::UNKNOWN);
        }
        self.convert(p, depth + 1)
    }

    fn convert(&mut self, address: u64, depth: u32) -> Result<TypeId, RtypeError> {
        // A type is expanded at the smallest depth it is met at: met again
        // nearer a map than before (its members may have been cut at the
        // depth limit), it is expanded again in place. Each expansion
        // lowers its depth, so a type is expanded at most MAX_DEPTH + 1
        // times.
        let known = self.memo.get(&address).copied();
        if let Some((id, d)) = known {
            if d <= depth {
                return Ok(id);
            }
            self.memo.insert(address, (id, depth));
        }
        let known = known.map(|(id, _)| id);
        let h = self.header(address)?;
        if let Some(table) = self
            .sync_map
            .filter(|_| known.is_none() && h.name == crate::layout::maps::SYNC_MAP_TYPE)
        {
            self.memo.insert(address, (table, 0));
            self.runtime.push((address - self.section.base, table));
            return Ok(table);
        }
        let k = self.layout.kinds;
        let in_range = |r: (u64, u64)| h.kind >= r.0 && h.kind <= r.1;
        let scalar = if h.kind == k.bool_ {
            Some(TypeKind::Bool)
        } else if in_range(k.ints) {
            Some(TypeKind::Int)
        } else if in_range(k.uints) {
            Some(TypeKind::Uint)
        } else if in_range(k.floats) {
            Some(TypeKind::Float)
        } else if in_range(k.complexes) {
            Some(TypeKind::Complex)
        } else if h.kind == k.string {
            Some(TypeKind::String)
        } else if h.kind == k.func {
            Some(TypeKind::Func)
        } else if h.kind == k.unsafe_pointer {
            Some(TypeKind::Pointer { target: None })
        } else {
            None
        };
        let ty = Type {
            name: h.name.clone(),
            size: Some(h.size),
            kind: scalar.unwrap_or(TypeKind::Unknown),
            fields: Vec::new(),
            go_kind: u8::try_from(h.kind).ok(),
            runtime_type_offset: Some(address - self.section.base),
        };
        let id = match known {
            Some(id) => id,
            None => self.push(address, ty, depth)?,
        };
        if scalar.is_some() || depth >= MAX_DEPTH {
            return Ok(id);
        }
        let l = self.layout.clone();
        let (kind, fields) = if h.kind == k.pointer {
            let target = self.child(address + l.ptr_elem, depth)?;
            (
                TypeKind::Pointer {
                    target: (target != TypeId::UNKNOWN).then_some(target),
                },
                Vec::new(),
            )
        } else if h.kind == k.slice {
            let elem = self.child(address + l.slice_elem, depth)?;
            (TypeKind::Slice { elem }, Vec::new())
        } else if h.kind == k.array {
            let elem = self.child(address + l.array_elem, depth)?;
            let count = self.word(address + l.array_len)?;
            (TypeKind::Array { elem, count }, Vec::new())
        } else if h.kind == k.chan {
            let elem = self.child(address + l.chan_elem, depth)?;
            (
                TypeKind::Chan {
                    elem,
                    pointer: TypeId::UNKNOWN,
                },
                Vec::new(),
            )
        } else if h.kind == k.interface {
            let methods = match l.iface_methods {
                Some(m) => self.word(address + m + l.ptr)?,
                None => 0,
            };
            let empty = methods == 0;
            (
                TypeKind::Interface {
                    repr: if empty { self.eface } else { self.iface },
                    empty,
                },
                Vec::new(),
            )
        } else if h.kind == k.struct_ {
            (TypeKind::Struct, self.fields(address, depth)?)
        } else if h.kind == k.map {
            let key = self.child(address + l.map_key, depth)?;
            let value = self.child(address + l.map_elem, depth)?;
            let storage = self.child(address + l.map_storage, depth)?;
            let map = TypeKind::Map(MapType {
                key,
                value,
                pointer: TypeId::UNKNOWN,
                header: TypeId::UNKNOWN,
                flavour: Some(l.flavour),
                storage: match l.flavour {
                    MapFlavour::Swiss => storage,
                    MapFlavour::Classic => self.dwarf_bucket(storage)?,
                },
                table: TypeId::UNKNOWN,
            });
            // A named map type (`type auxmap map[Aux]int32`) is, as in
            // DWARF, a typedef of its map type: maps are reported by
            // their `map[K]V`, as DWARF builds report them.
            match (self.converted_name(key), self.converted_name(value)) {
                (Some(k), Some(v)) if !h.name.starts_with("map[") => {
                    if self.out.len() >= MAX_TYPES {
                        return Err(RtypeError::Budget);
                    }
                    let target = TypeId(self.first_id + self.out.len() as u32);
                    self.out.push(Type {
                        name: format!("map[{k}]{v}"),
                        size: Some(h.size),
                        kind: map,
                        fields: Vec::new(),
                        go_kind: u8::try_from(h.kind).ok(),
                        // The descriptor's: the map type read from it.
                        runtime_type_offset: Some(address - self.section.base),
                    });
                    (TypeKind::Typedef { target }, Vec::new())
                }
                _ => (map, Vec::new()),
            }
        } else {
            return Err(RtypeError::Corrupt {
                address,
                problem: format!("unknown kind {}", h.kind),
            });
        };
        self.set(id, kind, fields);
        Ok(id)
    }

    /// The name of a type this reader converted (or the table's
    /// `sync.Map`), `None` for one it did not.
    fn converted_name(&self, id: TypeId) -> Option<String> {
        if Some(id) == self.sync_map && id != TypeId::UNKNOWN {
            return Some(crate::layout::maps::SYNC_MAP_TYPE.to_string());
        }
        let t = self
            .out
            .get(id.index().checked_sub(self.first_id as usize)?)?;
        (!t.name.is_empty()).then(|| t.name.clone())
    }

    /// A classic bucket as DWARF describes it: the descriptor's members
    /// (the compiler's `topbits`, `keys`, `elems`, `overflow`) with the
    /// tophash array under DWARF's name `tophash`. Not registered by
    /// address (the descriptor's own conversion is).
    fn dwarf_bucket(&mut self, bucket: TypeId) -> Result<TypeId, RtypeError> {
        let Some(b) = bucket
            .index()
            .checked_sub(self.first_id as usize)
            .and_then(|i| self.out.get(i))
        else {
            return Ok(TypeId::UNKNOWN);
        };
        if b.kind != TypeKind::Struct {
            return Ok(TypeId::UNKNOWN);
        }
        let mut ty = b.clone();
        ty.runtime_type_offset = None;
        for f in &mut ty.fields {
            if f.name == "topbits" {
                f.name = "tophash".to_string();
            }
        }
        if self.out.len() >= MAX_TYPES {
            return Err(RtypeError::Budget);
        }
        let id = TypeId(self.first_id + self.out.len() as u32);
        self.out.push(ty);
        Ok(id)
    }

    fn fields(&mut self, address: u64, depth: u32) -> Result<Vec<Field>, RtypeError> {
        let l = self.layout.clone();
        let array = self.word(address + l.struct_fields)?;
        let count = self.word(address + l.struct_fields + l.ptr)?;
        if count > MAX_FIELDS {
            return Err(RtypeError::Corrupt {
                address,
                problem: format!("{count} fields"),
            });
        }
        let mut fields = Vec::with_capacity(count as usize);
        for i in 0..count {
            let f = array.wrapping_add(i * l.field_size);
            let name_ptr = self.word(f + l.field_name)?;
            let (name, flags) = if name_ptr == 0 {
                (String::new(), 0)
            } else {
                self.name_at(name_ptr)?
            };
            let ty = self.child(f + l.field_typ, depth)?;
            let offset = self.word(f + l.field_offset)?;
            fields.push(Field {
                name,
                offset,
                ty,
                // abi.Name: bit 3 of the flag byte marks an embedded field.
                embedded: flags & (1 << 3) != 0,
            });
        }
        Ok(fields)
    }

    /// The converted types (ids from the table's length on) and the
    /// offsets from the section's start of every type registered (a
    /// `sync.Map` descriptor's names the table's own type).
    pub fn finish(self) -> (Vec<Type>, Vec<(u64, TypeId)>) {
        (self.out, self.runtime)
    }
}

/// What [`import_map_types`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Map type descriptors found and converted.
    pub map_types: usize,
    /// Descriptors of types holding a map (structs, arrays, slices,
    /// pointers: [`Reader::holder_descriptors`]) converted.
    pub holder_types: usize,
    /// Types converted in all (keys, values, storage included).
    pub types: usize,
    /// Descriptors that could not be read (the first problem).
    pub failed: usize,
    pub first_error: Option<String>,
}

/// Appends every map type of `section` (and the types it reaches), then
/// every type holding a map ([`Reader::holder_descriptors`]), to
/// `dwarf`'s type table, registering their runtime addresses. Meant for a
/// layout table's stand-in ([`DwarfInfo::from_table`]): program types are
/// otherwise unknown there.
pub fn import_map_types(dwarf: &mut DwarfInfo, section: &TypesSection) -> Imported {
    let mut done = Imported::default();
    let mut reader = match Reader::new(dwarf, section) {
        Ok(r) => r,
        Err(e) => {
            done.first_error = Some(e.to_string());
            return done;
        }
    };
    let maps = reader.map_descriptors();
    let holders = reader.holder_descriptors(&maps);
    let mut budget_spent = false;
    for (i, a) in maps.iter().chain(&holders).enumerate() {
        if budget_spent {
            break;
        }
        match reader.import(*a) {
            Ok(_) if i < maps.len() => done.map_types += 1,
            Ok(_) => done.holder_types += 1,
            // A holder is a scan's candidate: one that does not convert
            // is left out (its heap objects stay untyped), not a problem
            // with the map types.
            Err(e) if i >= maps.len() && e != RtypeError::Budget => {}
            Err(e) => {
                done.failed += 1;
                if done.first_error.is_none() {
                    done.first_error = Some(e.to_string());
                }
                budget_spent = e == RtypeError::Budget;
            }
        }
    }
    let (types, runtime) = reader.finish();
    done.types = types.len();
    dwarf.add_runtime_types(types, runtime);
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dwarf::table::{builtin, LayoutTable};

    const BASE: u64 = 0x10_000;

    fn stand_in() -> DwarfInfo {
        let t = builtin(26, "amd64", false).expect("table");
        DwarfInfo::from_table(LayoutTable::parse(t.text).expect("parses"), |_| None)
    }

    /// Writes descriptors with the table's offsets.
    struct Builder<'d> {
        dwarf: &'d DwarfInfo,
        data: Vec<u8>,
        names: u64,
    }

    impl Builder<'_> {
        fn off(&self, ty: &str, field: &str) -> u64 {
            self.dwarf.types().field_offset(ty, field).expect(field)
        }
        fn put(&mut self, at: u64, v: u64, width: usize) {
            let at = (at - BASE) as usize;
            self.data[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
        }
        fn name(&mut self, s: &str) -> u64 {
            let at = self.names;
            self.put(at, 0, 1);
            self.put(at + 1, s.len() as u64, 1);
            let o = (at - BASE) as usize + 2;
            self.data[o..o + s.len()].copy_from_slice(s.as_bytes());
            self.names += 2 + s.len() as u64;
            at
        }
        fn ty(&mut self, at: u64, name: &str, size: u64, kind: u64) {
            let n = self.name(name) - BASE;
            let t = "internal/abi.Type";
            self.put(at + self.off(t, "Size_"), size, 8);
            self.put(at + self.off(t, "Kind_"), kind, 1);
            self.put(at + self.off(t, "Str"), n, 4);
        }
    }

    fn section(dwarf: &DwarfInfo, fields: u64) -> TypesSection {
        let mut b = Builder {
            dwarf,
            data: vec![0; 0x1000],
            names: BASE + 0x800,
        };
        let (int, s, ps, group, map, farr) = (
            BASE + 0x100,
            BASE + 0x200,
            BASE + 0x280,
            BASE + 0x400,
            BASE + 0x500,
            BASE + 0x300,
        );
        b.ty(int, "int", 8, 2);
        b.ty(s, "main.S", 16, 25);
        let st = "internal/abi.StructType";
        let fo = b.off(st, "Fields");
        b.put(s + fo, farr, 8);
        b.put(s + fo + 8, fields, 8);
        let sf = "internal/abi.StructField";
        let fsize = 24;
        let (fname, ftyp, foff) = (b.off(sf, "Name"), b.off(sf, "Typ"), b.off(sf, "Offset"));
        let a = b.name("a");
        b.put(farr + fname, a, 8);
        b.put(farr + ftyp, int, 8);
        let next = b.name("next");
        b.put(farr + fsize + fname, next, 8);
        b.put(farr + fsize + ftyp, ps, 8);
        b.put(farr + fsize + foff, 8, 8);
        b.ty(ps, "*main.S", 8, 22);
        let pe = b.off("internal/abi.PtrType", "Elem");
        b.put(ps + pe, s, 8);
        b.ty(group, "noalg.map.group[int]*main.S", 136, 25);
        b.ty(map, "map[int]*main.S", 8, 21);
        let mt = "internal/abi.MapType";
        let (k, e, g) = (b.off(mt, "Key"), b.off(mt, "Elem"), b.off(mt, "Group"));
        b.put(map + k, int, 8);
        b.put(map + e, ps, 8);
        b.put(map + g, group, 8);
        TypesSection::new(BASE, b.data)
    }

    #[test]
    fn converts_a_map_type_with_a_cyclic_value() {
        let dwarf = stand_in();
        let sec = section(&dwarf, 2);
        let mut r = Reader::new(&dwarf, &sec).expect("layouts");
        assert_eq!(r.map_descriptors(), vec![BASE + 0x500]);
        let id = r.import(BASE + 0x500).expect("imports");
        let first = r.first_id;
        let (types, runtime) = r.finish();
        let get = |id: TypeId| &types[id.index() - first as usize];
        let m = get(id);
        assert_eq!(m.name, "map[int]*main.S");
        let TypeKind::Map(mt) = m.kind else {
            panic!("not a map: {:?}", m.kind)
        };
        assert_eq!(mt.flavour, Some(MapFlavour::Swiss));
        assert_eq!(get(mt.key).name, "int");
        assert_eq!(get(mt.key).size, Some(8));
        assert_eq!(get(mt.storage).name, "noalg.map.group[int]*main.S");
        let TypeKind::Pointer { target: Some(s) } = get(mt.value).kind else {
            panic!("value not a pointer");
        };
        let s = get(s);
        assert_eq!(s.name, "main.S");
        assert_eq!(s.fields.len(), 2);
        assert_eq!((s.fields[1].name.as_str(), s.fields[1].offset), ("next", 8));
        // The cycle S → *S → S ends at the same id.
        assert_eq!(s.fields[1].ty, mt.value);
        assert_eq!(runtime.len(), 5);
        let mut dwarf = dwarf;
        let before = dwarf.types().len();
        let done = import_map_types(&mut dwarf, &sec);
        assert_eq!((done.map_types, done.failed), (1, 0));
        assert_eq!(dwarf.types().len(), before + done.types);
        assert!(dwarf.types().by_name("map[int]*main.S").is_some());
    }

    /// A struct holding a map and an inline array of maps, the array
    /// type and a pointer to the struct are holders; a struct without a
    /// map (`main.S`, even behind a pointer) is not.
    #[test]
    fn finds_and_imports_the_types_holding_maps() {
        let dwarf = stand_in();
        let base = section(&dwarf, 2);
        let mut b = Builder {
            dwarf: &dwarf,
            data: base.data.clone(),
            names: BASE + 0xb00,
        };
        let (map, holder, fields, array, ptr) = (
            BASE + 0x500,
            BASE + 0x600,
            BASE + 0x680,
            BASE + 0x700,
            BASE + 0x780,
        );
        let pb = b.off("internal/abi.Type", "PtrBytes");
        b.ty(holder, "main.Holder", 24, 25);
        b.put(holder + pb, 24, 8);
        let fo = b.off("internal/abi.StructType", "Fields");
        b.put(holder + fo, fields, 8);
        b.put(holder + fo + 8, 2, 8);
        let sf = "internal/abi.StructField";
        let (fname, ftyp, foff) = (b.off(sf, "Name"), b.off(sf, "Typ"), b.off(sf, "Offset"));
        let m = b.name("m");
        b.put(fields + fname, m, 8);
        b.put(fields + ftyp, map, 8);
        let arr = b.name("arr");
        b.put(fields + 24 + fname, arr, 8);
        b.put(fields + 24 + ftyp, array, 8);
        b.put(fields + 24 + foff, 8, 8);
        b.ty(array, "[2]map[int]*main.S", 16, 17);
        b.put(array + pb, 16, 8);
        let at = "internal/abi.ArrayType";
        b.put(array + b.off(at, "Elem"), map, 8);
        b.put(array + b.off(at, "Len"), 2, 8);
        b.ty(ptr, "*main.Holder", 8, 22);
        b.put(ptr + pb, 8, 8);
        b.put(ptr + b.off("internal/abi.PtrType", "Elem"), holder, 8);
        // *main.S has pointers too, and reaches no map.
        b.put(BASE + 0x280 + pb, 8, 8);
        // A named map type: a typedef of its map[K]V.
        let named = BASE + 0xa00;
        b.ty(named, "main.Index", 8, 21);
        let mt = "internal/abi.MapType";
        b.put(named + b.off(mt, "Key"), BASE + 0x100, 8);
        b.put(named + b.off(mt, "Elem"), BASE + 0x280, 8);
        b.put(named + b.off(mt, "Group"), BASE + 0x400, 8);
        let sec = TypesSection::new(BASE, b.data);
        let r = Reader::new(&dwarf, &sec).expect("layouts");
        let maps = r.map_descriptors();
        assert_eq!(maps, vec![map, named]);
        assert_eq!(r.holder_descriptors(&maps), vec![holder, array, ptr]);
        let mut dwarf = dwarf;
        let done = import_map_types(&mut dwarf, &sec);
        assert_eq!((done.map_types, done.holder_types, done.failed), (2, 3, 0));
        let index = dwarf.type_by_runtime_offset(0xa00).expect("main.Index");
        assert_eq!(dwarf.types().get(index).name, "main.Index");
        let resolved = dwarf.types().resolve(index);
        assert_ne!(resolved, index);
        assert_eq!(dwarf.types().get(resolved).name, "map[int]*main.S");
        assert!(dwarf.types().map_type(index).is_some());
        let id = dwarf.type_by_runtime_offset(0x600).expect("main.Holder");
        let t = dwarf.types().get(id);
        assert_eq!(t.name, "main.Holder");
        let f: Vec<(&str, u64)> = t
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.offset))
            .collect();
        assert_eq!(f, vec![("m", 0), ("arr", 8)]);
        let TypeKind::Array { count, elem } = dwarf.types().get(t.fields[1].ty).kind else {
            panic!("arr is not an array");
        };
        assert_eq!(count, 2);
        assert_eq!(dwarf.types().get(elem).name, "map[int]*main.S");
    }

    #[test]
    fn corrupt_descriptors_are_errors() {
        let dwarf = stand_in();
        let sec = section(&dwarf, 1 << 40);
        let mut r = Reader::new(&dwarf, &sec).expect("layouts");
        assert!(matches!(
            r.import(BASE + 0x500),
            Err(RtypeError::Corrupt { .. })
        ));
        assert!(matches!(r.import(8), Err(RtypeError::OutOfRange(8))));
        assert!(r.import(BASE + 0xff8).is_err());
        // Garbage: every aligned address fails or converts, none panics.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let data: Vec<u8> = (0..0x4000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 32) as u8
            })
            .collect();
        let garbage = TypesSection::new(BASE, data);
        let mut r = Reader::new(&dwarf, &garbage).expect("layouts");
        let maps = r.map_descriptors();
        let _ = r.holder_descriptors(&maps);
        for a in (BASE..BASE + 0x4000).step_by(8) {
            let _ = r.import(a);
        }
    }
}
