//! Runtime type descriptors (`internal/abi.Type` and its kind-specific
//! extensions) read from the module's type data and converted into
//! [`TypeTable`] entries, so an executable without DWARF still has its
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
//! search of the types section for map type descriptors, and
//! [`import_map_types`], which appends them to a stand-in
//! [`DwarfInfo`] with their runtime addresses (so
//! [`DwarfInfo::type_by_runtime_address`] names typed heap storage).
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
    memo: HashMap<u64, TypeId>,
    runtime: Vec<(u64, TypeId)>,
    eface: TypeId,
    iface: TypeId,
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

    /// Converts the descriptor at `address` (and what it reaches, to
    /// [`MAX_DEPTH`]) into types; returns its id.
    pub fn import(&mut self, address: u64) -> Result<TypeId, RtypeError> {
        self.convert(address, 0)
    }

    fn push(&mut self, address: u64, ty: Type) -> Result<TypeId, RtypeError> {
        if self.out.len() >= MAX_TYPES {
            return Err(RtypeError::Budget);
        }
        let id = TypeId(self.first_id + self.out.len() as u32);
        self.out.push(ty);
        self.memo.insert(address, id);
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
        if let Some(&id) = self.memo.get(&address) {
            return Ok(id);
        }
        let h = self.header(address)?;
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
        let id = self.push(address, ty)?;
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
            (
                TypeKind::Map(MapType {
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
                }),
                Vec::new(),
            )
        } else {
            return Err(RtypeError::Corrupt {
                address,
                problem: format!("unknown kind {}", h.kind),
            });
        };
        self.set(id, kind, fields);
        Ok(id)
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

    /// The converted types (ids from the table's length on) and their
    /// offsets from the section's start.
    pub fn finish(self) -> (Vec<Type>, Vec<(u64, TypeId)>) {
        (self.out, self.runtime)
    }
}

/// What [`import_map_types`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Map type descriptors found and converted.
    pub map_types: usize,
    /// Types converted in all (keys, values, storage included).
    pub types: usize,
    /// Descriptors that could not be read (the first problem).
    pub failed: usize,
    pub first_error: Option<String>,
}

/// Appends every map type of `section` (and the types it reaches) to
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
    for a in reader.map_descriptors() {
        match reader.import(a) {
            Ok(_) => done.map_types += 1,
            Err(e) => {
                done.failed += 1;
                if done.first_error.is_none() {
                    done.first_error = Some(e.to_string());
                }
                if e == RtypeError::Budget {
                    break;
                }
            }
        }
    }
    let (types, runtime) = reader.finish();
    done.types = types.len();
    dwarf.add_runtime_types(types, runtime);
    done
}
