//! The Go type model built from DWARF: a flat arena of [`Type`]s addressed by
//! [`TypeId`] (an index), so the cycles Go types have through pointers are
//! plain indices and never reference-counted graphs.
//!
//! Names are looked up once ([`TypeTable::by_name`], [`TypeTable::struct_layout`],
//! [`TypeTable::field_path`]); callers keep the returned ids and offsets for
//! their hot loops.

use std::collections::HashMap;

/// Index of a type in its [`TypeTable`]. `TypeId::UNKNOWN` (index 0) always
/// exists and stands for every reference the loader could not resolve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub u32);

impl TypeId {
    /// The placeholder type: unresolved references point here.
    pub const UNKNOWN: TypeId = TypeId(0);

    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Which map implementation a map type's DWARF describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapFlavour {
    /// `hmap` + buckets: Go 1.21–1.23, and 1.24/1.25 built with
    /// `GOEXPERIMENT=noswissmap`. DWARF names `hash<K,V>`, `bucket<K,V>`.
    Classic,
    /// `internal/runtime/maps.Map` + tables + groups: Go 1.24+. DWARF names
    /// `map<K,V>`, `table<K,V>`, `groupReference<K,V>`, `noalg.map.group[K]V`.
    Swiss,
}

/// What DWARF says about one Go map type (`map[K]V`, or a named map type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapType {
    pub key: TypeId,
    pub value: TypeId,
    /// The pointer type a map value is (`*hash<K,V>` / `*map<K,V>`).
    pub pointer: TypeId,
    /// The header struct the pointer points at (`hash<K,V>` / `map<K,V>`).
    pub header: TypeId,
    /// `None` when the header's name is neither `hash<…>` nor `map<…>`.
    pub flavour: Option<MapFlavour>,
    /// Classic: the bucket struct (`bucket<K,V>`, target of `hmap.buckets`).
    /// Swiss: the group struct (`noalg.map.group[K]V`, target of
    /// `table.groups.data`). `UNKNOWN` when DWARF lacks the chain.
    pub storage: TypeId,
    /// Swiss only: the table struct (`table<K,V>`, `**table` of `dirPtr`).
    pub table: TypeId,
}

/// The Go meaning of a type. Struct-shaped kinds (`Struct`, `Slice`,
/// `String`) also carry their DWARF members in [`Type::fields`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeKind {
    /// Not understood, or an unresolved reference.
    Unknown,
    Bool,
    Int,
    Uint,
    Float,
    Complex,
    /// `target` is `None` for `unsafe.Pointer` (a DWARF pointer to nothing).
    Pointer {
        target: Option<TypeId>,
    },
    Struct,
    Array {
        elem: TypeId,
        count: u64,
    },
    /// A Go slice: a struct `{array *T; len int; cap int}` (see `fields`).
    Slice {
        elem: TypeId,
    },
    /// A Go string: a struct `{str *uint8; len int}` (see `fields`).
    String,
    Map(MapType),
    /// `chan T`: a pointer to `hchan<T>`.
    Chan {
        elem: TypeId,
        pointer: TypeId,
    },
    /// A func value: one pointer to a closure (`funcval`).
    Func,
    /// An interface value; `repr` is `runtime.eface` (empty interface) or
    /// `runtime.iface` (two words: type/itab, data).
    Interface {
        repr: TypeId,
        empty: bool,
    },
    /// A DWARF typedef without Go semantics of its own (the typedef
    /// `main.T` → struct `main.T`, or `interface {}` → `interface {}`).
    Typedef {
        target: TypeId,
    },
}

/// One struct member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub offset: u64,
    pub ty: TypeId,
    /// Go embedded field (`DW_AT_go_embedded_field`).
    pub embedded: bool,
}

/// One type of the arena.
#[derive(Clone, Debug)]
pub struct Type {
    /// The DWARF name (Go spelling: `runtime.mspan`, `map[string]int`,
    /// `*main.T`, `hash<string,int>`); empty when DWARF has none.
    pub name: String,
    /// Size in bytes; `None` when neither DWARF nor the target chain says.
    pub size: Option<u64>,
    pub kind: TypeKind,
    /// Members of struct-shaped types (also slices, strings, eface/iface).
    pub fields: Vec<Field>,
    /// `DW_AT_go_kind` (reflect.Kind numbering), when present.
    pub go_kind: Option<u8>,
    /// Non-zero `DW_AT_go_runtime_type`: offset of the type descriptor from
    /// the start of the module's type data (`runtime.types`).
    pub runtime_type_offset: Option<u64>,
}

impl Type {
    pub(crate) fn unknown(name: &str) -> Type {
        Type {
            name: name.to_string(),
            size: None,
            kind: TypeKind::Unknown,
            fields: Vec::new(),
            go_kind: None,
            runtime_type_offset: None,
        }
    }

    /// The member called `name`, if this type has struct members.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// A struct's layout as returned by [`TypeTable::struct_layout`].
#[derive(Clone, Copy, Debug)]
pub struct StructLayout<'a> {
    pub id: TypeId,
    pub name: &'a str,
    pub size: Option<u64>,
    pub fields: &'a [Field],
}

impl<'a> StructLayout<'a> {
    pub fn field(&self, name: &str) -> Option<&'a Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The result of following a field path such as `sched.sp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldRef {
    /// Offset from the start of the outermost struct.
    pub offset: u64,
    pub ty: TypeId,
}

/// Typedef chains are short in practice (named type → struct, or
/// `interface {}` → `interface {}` → eface); this bounds hostile cycles.
const MAX_TYPEDEF_CHAIN: usize = 32;
/// Bound on the number of components of a field path.
const MAX_PATH_COMPONENTS: usize = 64;

/// All types of one executable.
#[derive(Debug)]
pub struct TypeTable {
    types: Vec<Type>,
    by_name: HashMap<String, TypeId>,
    pointer_size: u64,
}

impl TypeTable {
    pub(crate) fn new(types: Vec<Type>, pointer_size: u64) -> TypeTable {
        let mut table = TypeTable {
            types,
            by_name: HashMap::new(),
            pointer_size,
        };
        if table.types.is_empty() {
            table.types.push(Type::unknown("<unknown>"));
        }
        table.index_names();
        table
    }

    /// Several DIEs can share a name (the struct `main.T` and its typedef,
    /// the two `interface {}` typedefs): prefer the one with Go meaning over
    /// a bare typedef, then the first.
    fn index_names(&mut self) {
        let mut by_name: HashMap<String, TypeId> = HashMap::with_capacity(self.types.len());
        for (index, ty) in self.types.iter().enumerate().skip(1) {
            if ty.name.is_empty() {
                continue;
            }
            let id = TypeId(index as u32);
            match by_name.get(&ty.name) {
                None => {
                    by_name.insert(ty.name.clone(), id);
                }
                Some(&existing) => {
                    let existing_is_typedef =
                        matches!(self.get(existing).kind, TypeKind::Typedef { .. });
                    let new_is_typedef = matches!(ty.kind, TypeKind::Typedef { .. });
                    if existing_is_typedef && !new_is_typedef {
                        by_name.insert(ty.name.clone(), id);
                    }
                }
            }
        }
        self.by_name = by_name;
    }

    /// Number of types, including the `UNKNOWN` placeholder.
    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.len() <= 1
    }

    /// Pointer size of the executable (8 on amd64/arm64).
    pub fn pointer_size(&self) -> u64 {
        self.pointer_size
    }

    /// The type with this id; an id from another table (out of range) yields
    /// the `UNKNOWN` placeholder rather than a panic.
    pub fn get(&self, id: TypeId) -> &Type {
        self.types.get(id.index()).unwrap_or(&self.types[0])
    }

    /// All types with their ids (the placeholder at index 0 included).
    pub fn iter(&self) -> impl Iterator<Item = (TypeId, &Type)> {
        self.types
            .iter()
            .enumerate()
            .map(|(i, t)| (TypeId(i as u32), t))
    }

    /// Looks a type up by its DWARF name (`runtime.mspan`, `map[string]int`,
    /// `hash<string,int>`, `internal/runtime/maps.Map`).
    pub fn by_name(&self, name: &str) -> Option<TypeId> {
        self.by_name.get(name).copied()
    }

    /// The type behind a chain of plain typedefs (stops at anything with Go
    /// meaning: a map typedef stays a map).
    pub fn resolve(&self, id: TypeId) -> TypeId {
        let mut current = id;
        for _ in 0..MAX_TYPEDEF_CHAIN {
            match self.get(current).kind {
                TypeKind::Typedef { target } => current = target,
                _ => return current,
            }
        }
        current
    }

    /// The size of a type in bytes, following typedefs when the DWARF entry
    /// itself has none.
    pub fn size_of(&self, id: TypeId) -> Option<u64> {
        let mut current = id;
        for _ in 0..MAX_TYPEDEF_CHAIN {
            let ty = self.get(current);
            if let Some(size) = ty.size {
                return Some(size);
            }
            match ty.kind {
                TypeKind::Typedef { target } => current = target,
                TypeKind::Pointer { .. }
                | TypeKind::Map(_)
                | TypeKind::Chan { .. }
                | TypeKind::Func => return Some(self.pointer_size),
                TypeKind::Interface { .. } => return Some(2 * self.pointer_size),
                _ => return None,
            }
        }
        None
    }

    /// Size and members of the struct called `name` (typedefs resolved).
    /// Also works for struct-shaped kinds (slices, strings).
    pub fn struct_layout(&self, name: &str) -> Option<StructLayout<'_>> {
        let id = self.resolve(self.by_name(name)?);
        self.layout_of(id)
    }

    /// Like [`TypeTable::struct_layout`] for an id.
    pub fn layout_of(&self, id: TypeId) -> Option<StructLayout<'_>> {
        let id = self.resolve(id);
        let ty = self.get(id);
        match ty.kind {
            TypeKind::Struct | TypeKind::Slice { .. } | TypeKind::String => Some(StructLayout {
                id,
                name: &ty.name,
                size: ty.size,
                fields: &ty.fields,
            }),
            _ => None,
        }
    }

    /// Follows a dotted field path (`"sched.sp"`, `"stack.lo"`) from the
    /// struct `id`, resolving typedefs at each step. Dots inside brackets
    /// (generic arguments) are part of a component.
    pub fn field_path(&self, id: TypeId, path: &str) -> Option<FieldRef> {
        let mut offset = 0u64;
        let mut current = id;
        for (n, component) in split_field_path(path).enumerate() {
            if n >= MAX_PATH_COMPONENTS || component.is_empty() {
                return None;
            }
            let ty = self.get(self.resolve(current));
            let field = ty.field(component)?;
            offset = offset.checked_add(field.offset)?;
            current = field.ty;
        }
        Some(FieldRef {
            offset,
            ty: current,
        })
    }

    /// Offset of a (possibly nested) field: `field_offset("runtime.g",
    /// "sched.sp")`.
    pub fn field_offset(&self, type_name: &str, path: &str) -> Option<u64> {
        let id = self.by_name(type_name)?;
        self.field_path(id, path).map(|f| f.offset)
    }

    /// The map description if `id` (after typedefs) is a Go map type.
    pub fn map_type(&self, id: TypeId) -> Option<&MapType> {
        match &self.get(self.resolve(id)).kind {
            TypeKind::Map(map) => Some(map),
            _ => None,
        }
    }

    /// Every map type in the executable.
    pub fn map_types(&self) -> impl Iterator<Item = (TypeId, &MapType)> {
        self.iter().filter_map(|(id, t)| match &t.kind {
            TypeKind::Map(map) => Some((id, map)),
            _ => None,
        })
    }

    /// Appends `more` (ids continue from [`TypeTable::len`]) and indexes
    /// their names; a name already indexed keeps its type.
    pub(crate) fn append(&mut self, more: Vec<Type>) {
        let first = self.types.len();
        self.types.extend(more);
        for index in first..self.types.len() {
            if let Some(ty) = self.types.get(index) {
                if !ty.name.is_empty() && !self.by_name.contains_key(&ty.name) {
                    self.by_name.insert(ty.name.clone(), TypeId(index as u32));
                }
            }
        }
    }

    pub(crate) fn types_mut(&mut self) -> &mut Vec<Type> {
        &mut self.types
    }
}

/// Splits `a.b[x.y].c` into `a`, `b[x.y]`, `c`.
fn split_field_path(path: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0i32;
    let mut start = 0usize;
    let mut parts = Vec::new();
    for (i, c) in path.char_indices() {
        match c {
            '[' | '(' | '{' => depth += 1,
            ']' | ')' | '}' => depth -= 1,
            '.' if depth == 0 => {
                parts.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&path[start..]);
    parts.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_paths_outside_brackets() {
        let parts: Vec<_> = split_field_path("a.b[x.y].c").collect();
        assert_eq!(parts, ["a", "b[x.y]", "c"]);
        let parts: Vec<_> = split_field_path("sched.sp").collect();
        assert_eq!(parts, ["sched", "sp"]);
    }

    fn table() -> TypeTable {
        let int = Type {
            name: "int".into(),
            size: Some(8),
            kind: TypeKind::Int,
            fields: vec![],
            go_kind: Some(2),
            runtime_type_offset: None,
        };
        let inner = Type {
            name: "main.In".into(),
            size: Some(16),
            kind: TypeKind::Struct,
            fields: vec![Field {
                name: "b".into(),
                offset: 8,
                ty: TypeId(1),
                embedded: false,
            }],
            go_kind: Some(25),
            runtime_type_offset: None,
        };
        let inner_typedef = Type {
            name: "main.In".into(),
            size: None,
            kind: TypeKind::Typedef { target: TypeId(2) },
            fields: vec![],
            go_kind: None,
            runtime_type_offset: None,
        };
        let outer = Type {
            name: "main.Out".into(),
            size: Some(24),
            kind: TypeKind::Struct,
            fields: vec![Field {
                name: "in".into(),
                offset: 8,
                ty: TypeId(3),
                embedded: false,
            }],
            go_kind: Some(25),
            runtime_type_offset: None,
        };
        // A typedef cycle must not hang resolve().
        let cycle = Type {
            name: "loop".into(),
            size: None,
            kind: TypeKind::Typedef { target: TypeId(5) },
            fields: vec![],
            go_kind: None,
            runtime_type_offset: None,
        };
        TypeTable::new(
            vec![
                Type::unknown("<unknown>"),
                int,
                inner,
                inner_typedef,
                outer,
                cycle,
            ],
            8,
        )
    }

    #[test]
    fn nested_paths_and_name_preference() {
        let t = table();
        assert_eq!(t.by_name("main.In"), Some(TypeId(2)));
        assert_eq!(t.field_offset("main.Out", "in.b"), Some(16));
        assert_eq!(t.field_offset("main.Out", "in.nope"), None);
        assert_eq!(t.size_of(TypeId(3)), Some(16));
        let _ = t.resolve(TypeId(5));
        assert_eq!(t.size_of(TypeId(5)), None);
        assert_eq!(t.get(TypeId(999)).kind, TypeKind::Unknown);
    }
}
