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
    /// Descriptor address → its type and the depth it was expanded at.
    memo: HashMap<u64, (TypeId, u32)>,
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
        let _ = r.map_descriptors();
        for a in (BASE..BASE + 0x4000).step_by(8) {
            let _ = r.import(a);
        }
    }
}
