//! DWARF of a Go executable: every Go struct layout, every global and every
//! local variable's type comes from here, and only from here.
//!
//! Owns: reading the (compressed) DWARF sections of an ELF executable, the
//! arena type model ([`TypeTable`], [`TypeId`]), globals, functions with their
//! parameters/locals and locations, `DW_TAG_constant`s, and the map from
//! `DW_AT_go_runtime_type` to types (to name a heap object from the `*_type`
//! in its malloc header).
//!
//! An executable without DWARF gets a stand-in ([`DwarfInfo::from_table`],
//! [`DwarfSource::Table`]) from the built-in runtime layout tables of
//! [`table`], which are generated from this module's own model of
//! reference builds: runtime types, constants and globals only.
//!
//! Does not touch: cores, process memory, pclntab, build info. It knows
//! nothing about cores; it takes the executable's bytes and returns a model.
//! Addresses are as linked in the executable (add the load bias for PIE).
//!
//! Damaged DWARF never panics: unreadable units, DIEs and location lists are
//! skipped and counted in [`LoadWarnings`]; only a missing or undecodable
//! `.debug_info` is an error. Loading is done once, eagerly, in well under a
//! second for a few-MB Go executable; lookups by name are hash lookups whose
//! results (ids, offsets) callers should keep for their inner loops.
//!
//! Go's DWARF, as seen in 1.21–1.27:
//! - a struct `T` is a `DW_TAG_structure_type` named `pkg.T` plus a typedef
//!   of the same name; strings and slices are structs with
//!   `DW_AT_go_kind` 24/23;
//! - `map[K]V` is a typedef (go_kind 21, `DW_AT_go_key`/`DW_AT_go_elem`) to a
//!   pointer to `hash<K,V>` (classic) or `map<K,V>` (Swiss, 1.24+);
//! - interfaces are typedefs (go_kind 20) to `runtime.eface`/`runtime.iface`;
//! - `DW_AT_go_runtime_type` is an offset from the `runtime.types` symbol;
//! - DWARF 5 from 1.25 (`.debug_addr`, `.debug_loclists`,
//!   `.debug_rnglists`, `DW_FORM_addrx`), DWARF 4 before.

mod build;
mod location;
mod sections;
mod symbols;
pub mod table;
mod types;

use std::collections::HashMap;

pub use location::{Location, Piece};
pub use sections::DwarfSections;
pub use symbols::{Function, Functions, Global, Globals, PcLocation, Variable, VariableRole};
pub use types::{
    Field, FieldRef, MapFlavour, MapType, StructLayout, Type, TypeId, TypeKind, TypeTable,
};

/// Why the DWARF could not be loaded at all.
#[derive(Debug, thiserror::Error)]
pub enum DwarfError {
    #[error("not an ELF executable: {0}")]
    NotElf(String),
    #[error(
        "no DWARF in the executable (.debug_info missing: stripped, or built with -ldflags=-w)"
    )]
    NoDwarf,
    #[error("DWARF section {section}: {reason}")]
    Section {
        section: &'static str,
        reason: String,
    },
}

/// What the loader skipped. A non-zero count means some answers may be
/// missing; the messages say where.
#[derive(Clone, Debug, Default)]
pub struct LoadWarnings {
    /// Number of problems met (messages beyond the first few are dropped).
    pub count: u64,
    /// The first problems, one line each, with the `.debug_info` offset.
    pub messages: Vec<String>,
    /// Compile units skipped because they are not Go (cgo's C code).
    pub skipped_units: u64,
    /// `DW_AT_type` references pointing at no type DIE.
    pub unresolved_type_refs: u64,
    /// Variable locations in a form other than an expression or a location
    /// list.
    pub location_forms_unsupported: u64,
}

const MAX_WARNING_MESSAGES: usize = 32;

impl LoadWarnings {
    pub(crate) fn add(&mut self, message: String) {
        self.count += 1;
        if self.messages.len() < MAX_WARNING_MESSAGES {
            self.messages.push(message);
        }
    }

    /// Adds the warnings of a later part of the same load, as if its
    /// problems had been met here one after the other.
    pub(crate) fn append(&mut self, later: LoadWarnings) {
        self.count += later.count;
        let room = MAX_WARNING_MESSAGES.saturating_sub(self.messages.len());
        self.messages.extend(later.messages.into_iter().take(room));
        self.skipped_units += later.skipped_units;
        self.unresolved_type_refs += later.unresolved_type_refs;
        self.location_forms_unsupported += later.location_forms_unsupported;
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0 && self.unresolved_type_refs == 0 && self.location_forms_unsupported == 0
    }
}

/// Everything DWARF says about one Go executable.
#[derive(Debug)]
pub struct DwarfInfo {
    types: TypeTable,
    globals: Globals,
    functions: Functions,
    constants: HashMap<String, i64>,
    producer: Option<String>,
    runtime_types_base: Option<u64>,
    runtime_types: Vec<(u64, TypeId)>,
    pointer_size: u8,
    warnings: LoadWarnings,
    source: DwarfSource,
}

/// Where a [`DwarfInfo`] came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DwarfSource {
    /// The executable's own DWARF.
    Executable,
    /// No DWARF in the executable: runtime layouts, runtime constants and
    /// runtime globals from a built-in layout table ([`table`]); program
    /// types, globals, functions and locals are unknown.
    Table {
        /// What the table describes: `go1.26.6 linux/amd64`.
        describes: String,
    },
}

impl DwarfInfo {
    /// Loads the DWARF of an ELF executable (`exe` is typically a memory
    /// map of the file).
    pub fn load(exe: &[u8]) -> Result<DwarfInfo, DwarfError> {
        let sections =
            crate::timing::phase("open: DWARF sections", || DwarfSections::from_elf(exe))?;
        crate::timing::phase("open: DWARF tables", || DwarfInfo::from_sections(&sections))
    }

    /// Builds the model from already extracted sections. Fails only when
    /// `.debug_info` is empty.
    pub fn from_sections(sections: &DwarfSections<'_>) -> Result<DwarfInfo, DwarfError> {
        if sections.section(".debug_info").is_empty() {
            return Err(DwarfError::NoDwarf);
        }
        let built = build::build(sections);
        Ok(DwarfInfo {
            types: built.types,
            globals: Globals::new(built.globals),
            functions: Functions::new(built.functions),
            constants: built.constants,
            producer: built.producer,
            runtime_types_base: sections.runtime_types(),
            runtime_types: built.runtime_types,
            pointer_size: sections.pointer_size(),
            warnings: built.warnings,
            source: DwarfSource::Executable,
        })
    }

    /// A stand-in for the DWARF of an executable built without it: the
    /// runtime types and constants of `table`, and the runtime globals of
    /// the table that `address_of` places (link addresses). Functions,
    /// program types and the runtime type map are empty.
    pub fn from_table(
        table: table::LayoutTable,
        address_of: impl Fn(&str) -> Option<u64>,
    ) -> DwarfInfo {
        let table::LayoutTable {
            header,
            types,
            constants,
            globals,
        } = table;
        let globals = globals
            .into_iter()
            .filter_map(|(name, ty)| {
                let address = address_of(&name)?;
                Some(Global {
                    size: types.size_of(ty).unwrap_or(0),
                    name,
                    address,
                    ty,
                })
            })
            .collect();
        DwarfInfo {
            types,
            globals: Globals::new(globals),
            functions: Functions::new(Vec::new()),
            constants,
            producer: Some(format!(
                "Go cmd/compile {} (mapscope layout table)",
                header.go
            )),
            runtime_types_base: None,
            runtime_types: Vec::new(),
            pointer_size: header.pointer_size,
            warnings: LoadWarnings::default(),
            source: DwarfSource::Table {
                describes: header.describe(),
            },
        }
    }

    /// Appends types read from runtime type descriptors
    /// ([`crate::rtype`]): `types` take the ids from [`TypeTable::len`] on,
    /// `runtime` gives each one's offset from the module's type data (the
    /// base [`DwarfInfo::runtime_types_base`] names).
    pub fn add_runtime_types(&mut self, types: Vec<Type>, runtime: Vec<(u64, TypeId)>) {
        self.types.append(types);
        self.runtime_types.extend(runtime);
        self.runtime_types.sort_by_key(|&(o, _)| o);
        self.runtime_types.dedup_by_key(|&mut (o, _)| o);
    }

    /// Whether this is the executable's DWARF or a built-in layout table.
    pub fn source(&self) -> &DwarfSource {
        &self.source
    }

    /// Whether program types, globals and locals are known (false for a
    /// layout table: only the runtime's are).
    pub fn has_program_types(&self) -> bool {
        self.source == DwarfSource::Executable
    }

    /// Every constant, in no particular order.
    pub fn constants(&self) -> impl Iterator<Item = (&str, i64)> + '_ {
        self.constants.iter().map(|(k, &v)| (k.as_str(), v))
    }

    pub fn types(&self) -> &TypeTable {
        &self.types
    }

    pub fn globals(&self) -> &Globals {
        &self.globals
    }

    pub fn functions(&self) -> &Functions {
        &self.functions
    }

    /// A Go constant the compiler recorded (`runtime._KindSpecialProfile`,
    /// `runtime.pageSize`, …). Values are as DWARF stores them (signed);
    /// cast to `u64` for unsigned constants above `i64::MAX`.
    pub fn constant(&self, name: &str) -> Option<i64> {
        self.constants.get(name).copied()
    }

    /// `DW_AT_producer` of the first Go unit, e.g.
    /// `Go cmd/compile go1.26.6; regabi`.
    pub fn producer(&self) -> Option<&str> {
        self.producer.as_deref()
    }

    /// The Go version from the producer (`go1.26.6`), if recorded.
    pub fn go_version(&self) -> Option<&str> {
        let producer = self.producer.as_deref()?;
        producer
            .split(|c: char| c.is_whitespace() || c == ';')
            .find(|word| word.starts_with("go1"))
    }

    pub fn pointer_size(&self) -> u8 {
        self.pointer_size
    }

    pub fn warnings(&self) -> &LoadWarnings {
        &self.warnings
    }

    /// Which map implementation this executable uses, from DWARF type names
    /// (map headers `hash<K,V>` vs `map<K,V>`; failing that, the presence of
    /// `runtime.hmap` or `internal/runtime/maps.Map`). Never from the version.
    pub fn map_implementation(&self) -> Option<MapFlavour> {
        let (mut classic, mut swiss) = (0usize, 0usize);
        for (_, map) in self.types.map_types() {
            match map.flavour {
                Some(MapFlavour::Classic) => classic += 1,
                Some(MapFlavour::Swiss) => swiss += 1,
                None => {}
            }
        }
        if classic > swiss {
            return Some(MapFlavour::Classic);
        }
        if swiss > classic {
            return Some(MapFlavour::Swiss);
        }
        match (
            self.types.by_name("runtime.hmap").is_some(),
            self.types.by_name("internal/runtime/maps.Map").is_some(),
        ) {
            (true, false) => Some(MapFlavour::Classic),
            (false, true) => Some(MapFlavour::Swiss),
            _ => None,
        }
    }

    /// Address of `runtime.types`, the base of `DW_AT_go_runtime_type`
    /// offsets (from `.symtab`; `None` when the symbol table is stripped).
    pub fn runtime_types_base(&self) -> Option<u64> {
        self.runtime_types_base
    }

    /// Overrides the base, e.g. with `moduledata.types` read from a core
    /// when `.symtab` is absent, or relocated for a PIE.
    pub fn set_runtime_types_base(&mut self, base: u64) {
        self.runtime_types_base = Some(base);
    }

    /// The type whose runtime type descriptor is at `address` (a `*_type`
    /// from a malloc header, `mspan.largeType`, or an interface's type word).
    pub fn type_by_runtime_address(&self, address: u64) -> Option<TypeId> {
        let offset = address.checked_sub(self.runtime_types_base?)?;
        self.type_by_runtime_offset(offset)
    }

    /// Like [`DwarfInfo::type_by_runtime_address`] with an offset from
    /// `runtime.types`.
    pub fn type_by_runtime_offset(&self, offset: u64) -> Option<TypeId> {
        let i = self
            .runtime_types
            .binary_search_by_key(&offset, |&(o, _)| o)
            .ok()?;
        self.runtime_types.get(i).map(|&(_, id)| id)
    }

    /// Every (offset from `runtime.types`, type) pair, sorted by offset.
    pub fn runtime_types(&self) -> &[(u64, TypeId)] {
        &self.runtime_types
    }
}
