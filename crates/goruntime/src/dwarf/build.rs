//! One pass over every DIE of every Go compile unit (units side by side,
//! their tables appended in unit order), then a resolution pass that turns
//! `.debug_info` offsets into [`TypeId`]s.
//!
//! Iterative (a cursor plus an explicit scope stack), so hostile nesting
//! cannot overflow the stack; every list read from the file is bounded.
//! Anything malformed is skipped and counted in [`LoadWarnings`].

use std::collections::HashMap;

use gimli::{AttributeValue, EndianSlice, RunTimeEndian, Unit};
use rayon::prelude::*;

use super::location::{decode_expression, Location};
use super::sections::DwarfSections;
use super::symbols::{Function, Global, PcLocation, Variable, VariableRole};
use super::types::{Field, MapFlavour, MapType, Type, TypeId, TypeKind, TypeTable};
use super::LoadWarnings;

type R<'a> = EndianSlice<'a, RunTimeEndian>;

// Go's DWARF extensions (cmd/internal/dwarf).
const DW_AT_GO_KIND: gimli::DwAt = gimli::DwAt(0x2900);
const DW_AT_GO_KEY: gimli::DwAt = gimli::DwAt(0x2901);
const DW_AT_GO_ELEM: gimli::DwAt = gimli::DwAt(0x2902);
const DW_AT_GO_EMBEDDED_FIELD: gimli::DwAt = gimli::DwAt(0x2903);
const DW_AT_GO_RUNTIME_TYPE: gimli::DwAt = gimli::DwAt(0x2904);

// reflect.Kind values carried by DW_AT_go_kind.
const GO_KIND_CHAN: u8 = 18;
const GO_KIND_INTERFACE: u8 = 20;
const GO_KIND_MAP: u8 = 21;
const GO_KIND_SLICE: u8 = 23;
const GO_KIND_STRING: u8 = 24;

/// Deeper DIE nesting than this is not Go; its children are ignored.
const MAX_SCOPE_DEPTH: usize = 256;
/// Entries read from one location list.
const MAX_LOCLIST_ENTRIES: usize = 4096;
/// Ranges read for one scope (lexical block, inlined call).
const MAX_SCOPE_RANGES: usize = 1024;
/// Members of one struct (the largest runtime structs have a few hundred).
const MAX_FIELDS: usize = 1 << 16;
/// Units walked side by side at a time (a Go program has a few hundred).
const UNIT_BATCH: usize = 256;

/// Everything the loader extracts, before indexing.
pub(crate) struct Built {
    pub types: TypeTable,
    pub globals: Vec<Global>,
    pub functions: Vec<Function>,
    pub constants: HashMap<String, i64>,
    pub producer: Option<String>,
    /// (offset from `runtime.types`, type), sorted by offset, unique.
    pub runtime_types: Vec<(u64, TypeId)>,
    pub warnings: LoadWarnings,
}

/// How a type DIE's references are to be resolved once all DIEs are known.
enum PendingShape {
    Base { encoding: u8 },
    Pointer,
    Struct,
    Array { count: Option<u64> },
    Typedef,
    Subroutine,
    Other,
}

struct PendingType {
    shape: PendingShape,
    type_ref: Option<u64>,
    key_ref: Option<u64>,
    elem_ref: Option<u64>,
    /// Parallel to the type's `fields`.
    field_refs: Vec<Option<u64>>,
}

struct PendingVariable {
    name: Option<String>,
    type_ref: Option<u64>,
    origin: Option<u64>,
    role: VariableRole,
    /// The DIE said `DW_AT_variable_parameter` explicitly.
    role_known: bool,
    inlined: bool,
    locations: Vec<PcLocation>,
}

struct PendingFunction {
    name: Option<String>,
    origin: Option<u64>,
    low_pc: u64,
    high_pc: u64,
    frame_base_is_cfa: bool,
    variables: Vec<PendingVariable>,
}

/// A variable of an abstract (inlinable) function: concrete and inlined
/// copies refer to it for name, type and role.
struct AbstractVariable {
    name: String,
    type_ref: Option<u64>,
    role: VariableRole,
}

enum Scope {
    Unit,
    Struct(TypeId),
    Array(TypeId),
    /// A function with code, or a lexical block / inlined call inside one.
    Code {
        function: usize,
        ranges: Vec<(u64, u64)>,
        inlined: bool,
    },
    AbstractFunction,
    Ignored,
}

/// All attributes the loader looks at, read in one pass over a DIE.
#[derive(Default)]
struct Attrs<'a> {
    name: Option<AttributeValue<R<'a>>>,
    type_ref: Option<u64>,
    origin: Option<u64>,
    byte_size: Option<u64>,
    encoding: Option<u8>,
    count: Option<u64>,
    upper_bound: Option<u64>,
    member_location: Option<AttributeValue<R<'a>>>,
    location: Option<AttributeValue<R<'a>>>,
    low_pc: Option<AttributeValue<R<'a>>>,
    high_pc: Option<AttributeValue<R<'a>>>,
    frame_base: Option<AttributeValue<R<'a>>>,
    const_value: Option<AttributeValue<R<'a>>>,
    producer: Option<AttributeValue<R<'a>>>,
    language: Option<u16>,
    variable_parameter: Option<bool>,
    go_kind: Option<u8>,
    go_key: Option<u64>,
    go_elem: Option<u64>,
    go_embedded: bool,
    go_runtime_type: Option<u64>,
}

/// The tables being built: for the whole executable, or (see
/// [`Builder::walk_units`]) for one unit, to be appended in unit order.
struct Builder<'a, 'd> {
    dwarf: &'d gimli::Dwarf<R<'a>>,
    types: Vec<Type>,
    pending: Vec<PendingType>,
    type_offsets: HashMap<u64, TypeId>,
    globals: Vec<(String, u64, Option<u64>)>,
    functions: Vec<PendingFunction>,
    abstract_functions: HashMap<u64, String>,
    abstract_variables: HashMap<u64, AbstractVariable>,
    constants: HashMap<String, i64>,
    producer: Option<String>,
    warnings: LoadWarnings,
    pointer_size: u64,
    runtime_types_base: Option<u64>,
}

pub(crate) fn build(sections: &DwarfSections<'_>) -> Built {
    build_in(sections, UNIT_BATCH)
}

/// [`build`], walking `batch` units side by side at a time.
fn build_in(sections: &DwarfSections<'_>, batch: usize) -> Built {
    let endian = if sections.little_endian() {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    };
    let dwarf = gimli::Dwarf::load(|id| -> Result<R<'_>, gimli::Error> {
        Ok(EndianSlice::new(sections.get(id), endian))
    });
    let pointer_size = u64::from(sections.pointer_size());
    // Dwarf::load with an infallible loader cannot fail.
    let dwarf = dwarf.unwrap_or_default();
    let mut builder = Builder::empty(&dwarf, pointer_size, sections.runtime_types());
    builder.types.push(Type::unknown("<unknown>"));
    builder.pending.push(PendingType {
        shape: PendingShape::Other,
        type_ref: None,
        key_ref: None,
        elem_ref: None,
        field_refs: Vec::new(),
    });
    builder.walk_units(batch.max(1));
    builder.finish()
}

impl<'a, 'd> Builder<'a, 'd> {
    fn empty(
        dwarf: &'d gimli::Dwarf<R<'a>>,
        pointer_size: u64,
        runtime_types_base: Option<u64>,
    ) -> Self {
        Builder {
            dwarf,
            types: Vec::new(),
            pending: Vec::new(),
            type_offsets: HashMap::new(),
            globals: Vec::new(),
            functions: Vec::new(),
            abstract_functions: HashMap::new(),
            abstract_variables: HashMap::new(),
            constants: HashMap::new(),
            producer: None,
            warnings: LoadWarnings::default(),
            pointer_size,
            runtime_types_base,
        }
    }

    /// Walks every unit: each into its own builder, in parallel, then
    /// appended in unit order. A unit's types get ids from 0, shifted by
    /// the types before it when appended, and nothing else a walk records
    /// depends on other units (references are DWARF offsets, resolved in
    /// [`Builder::finish`]), so the tables are those of one walk in order.
    /// Units are taken `size` at a time ([`UNIT_BATCH`]): a section of
    /// millions of tiny units never holds more headers or builders.
    fn walk_units(&mut self, size: usize) {
        let mut headers = self.dwarf.units();
        let (dwarf, pointer_size, base) = (self.dwarf, self.pointer_size, self.runtime_types_base);
        let mut batch = Vec::with_capacity(size);
        loop {
            let mut last = false;
            let mut bad_header = None;
            while batch.len() < size {
                match headers.next() {
                    Ok(Some(header)) => batch.push(header),
                    Ok(None) => {
                        last = true;
                        break;
                    }
                    Err(e) => {
                        // The unit length is unusable: nothing after it can
                        // be located either.
                        bad_header = Some(format!("debug_info: bad unit header: {e}"));
                        last = true;
                        break;
                    }
                }
            }
            let parts: Vec<Builder<'a, 'd>> = batch
                .par_drain(..)
                .map(|header| {
                    let mut part = Builder::empty(dwarf, pointer_size, base);
                    part.walk_one(header);
                    part
                })
                .collect();
            for part in parts {
                self.append(part);
            }
            if let Some(message) = bad_header {
                self.warnings.add(message);
            }
            if last {
                break;
            }
        }
    }

    fn walk_one(&mut self, header: gimli::UnitHeader<R<'a>>) {
        let at = header
            .offset()
            .as_debug_info_offset()
            .map(|o| o.0)
            .unwrap_or(0);
        let unit = match open_unit(self.dwarf, header) {
            Ok(unit) => unit,
            Err(e) => {
                self.warnings
                    .add(format!("debug_info unit at {at:#x}: unreadable: {e}"));
                return;
            }
        };
        if let Err(e) = self.walk_unit(&unit) {
            self.warnings
                .add(format!("debug_info unit at {at:#x}: stopped early: {e}"));
        }
    }

    /// Appends the tables of a later unit (see [`Builder::walk_units`]).
    fn append(&mut self, part: Builder<'a, 'd>) {
        // Type ids past u32 are refused as one walk refuses them.
        let base = self.types.len();
        let room = (u32::MAX as usize)
            .saturating_sub(base)
            .min(part.types.len());
        self.types.extend(part.types.into_iter().take(room));
        self.pending.extend(part.pending.into_iter().take(room));
        self.type_offsets.extend(
            part.type_offsets
                .into_iter()
                .filter(|(_, id)| id.index() < room)
                .map(|(offset, id)| (offset, TypeId((base + id.index()) as u32))),
        );
        self.globals.extend(part.globals);
        self.functions.extend(part.functions);
        self.abstract_functions.extend(part.abstract_functions);
        self.abstract_variables.extend(part.abstract_variables);
        for (name, value) in part.constants {
            // The first unit's value, as one walk keeps it.
            self.constants.entry(name).or_insert(value);
        }
        if self.producer.is_none() {
            self.producer = part.producer;
        }
        self.warnings.append(part.warnings);
    }

    fn walk_unit(&mut self, unit: &Unit<R<'a>>) -> gimli::Result<()> {
        let mut cursor = unit.entries();
        let mut depth: isize = 0;
        let mut stack: Vec<(isize, Scope)> = Vec::new();
        let mut first = true;
        while let Some((delta, entry)) = cursor.next_dfs()? {
            depth += delta;
            while stack.last().is_some_and(|(d, _)| *d >= depth) {
                stack.pop();
            }
            let attrs = match read_attrs(unit, entry) {
                Ok(attrs) => attrs,
                Err(e) => {
                    self.warnings.add(format!(
                        "DIE at {:#x}: bad attributes: {e}",
                        global_offset(unit, entry.offset()).unwrap_or(0)
                    ));
                    if first {
                        // Without its root DIE the unit cannot be judged.
                        return Ok(());
                    }
                    if entry.has_children() {
                        stack.push((depth, Scope::Ignored));
                    }
                    continue;
                }
            };
            if first {
                first = false;
                if entry.tag() != gimli::DW_TAG_compile_unit {
                    return Ok(());
                }
                if !self.is_go_unit(unit, &attrs) {
                    self.warnings.skipped_units += 1;
                    return Ok(());
                }
                stack.push((depth, Scope::Unit));
                continue;
            }
            let scope = if stack.len() >= MAX_SCOPE_DEPTH {
                Scope::Ignored
            } else {
                match stack.last() {
                    Some((_, parent)) => self.visit(unit, entry, &attrs, parent),
                    None => Scope::Ignored,
                }
            };
            if entry.has_children() {
                stack.push((depth, scope));
            }
        }
        Ok(())
    }

    fn is_go_unit(&mut self, unit: &Unit<R<'a>>, attrs: &Attrs<'a>) -> bool {
        if let Some(language) = attrs.language {
            if language != gimli::DW_LANG_Go.0 {
                return false;
            }
        }
        if let Some(producer) = attrs.producer.and_then(|v| self.string(unit, v)) {
            if !producer.contains("Go") {
                return false;
            }
            if self.producer.is_none() {
                self.producer = Some(producer);
            }
        }
        true
    }

    /// Handles one DIE under `parent` and returns the scope its children
    /// belong to.
    fn visit(
        &mut self,
        unit: &Unit<R<'a>>,
        entry: &gimli::DebuggingInformationEntry<'_, '_, R<'a>>,
        attrs: &Attrs<'a>,
        parent: &Scope,
    ) -> Scope {
        let tag = entry.tag();
        let offset = global_offset(unit, entry.offset());
        match (parent, tag) {
            (
                Scope::Unit,
                gimli::DW_TAG_base_type
                | gimli::DW_TAG_pointer_type
                | gimli::DW_TAG_structure_type
                | gimli::DW_TAG_array_type
                | gimli::DW_TAG_typedef
                | gimli::DW_TAG_subroutine_type
                | gimli::DW_TAG_unspecified_type,
            ) => self.visit_type(unit, tag, attrs, offset),
            (Scope::Struct(id), gimli::DW_TAG_member) => {
                self.visit_member(unit, *id, attrs, offset);
                Scope::Ignored
            }
            (Scope::Array(id), gimli::DW_TAG_subrange_type) => {
                let count = attrs
                    .count
                    .or_else(|| attrs.upper_bound.and_then(|u| u.checked_add(1)));
                if let Some(p) = self.pending.get_mut(id.index()) {
                    if let PendingShape::Array { count: slot } = &mut p.shape {
                        *slot = count;
                    }
                }
                Scope::Ignored
            }
            (Scope::Unit, gimli::DW_TAG_variable) => {
                self.visit_global(unit, attrs);
                Scope::Ignored
            }
            (Scope::Unit, gimli::DW_TAG_constant) => {
                self.visit_constant(unit, attrs);
                Scope::Ignored
            }
            (Scope::Unit, gimli::DW_TAG_subprogram) => self.visit_subprogram(unit, attrs, offset),
            (Scope::AbstractFunction, gimli::DW_TAG_variable | gimli::DW_TAG_formal_parameter) => {
                if let (Some(offset), Some(name)) =
                    (offset, attrs.name.and_then(|v| self.string(unit, v)))
                {
                    let role = role_of(tag, attrs.variable_parameter);
                    self.abstract_variables.insert(
                        offset,
                        AbstractVariable {
                            name,
                            type_ref: attrs.type_ref,
                            role,
                        },
                    );
                }
                Scope::Ignored
            }
            (
                Scope::AbstractFunction,
                gimli::DW_TAG_lexical_block | gimli::DW_TAG_inlined_subroutine,
            ) => Scope::AbstractFunction,
            (
                Scope::Code {
                    function,
                    ranges,
                    inlined,
                },
                gimli::DW_TAG_variable | gimli::DW_TAG_formal_parameter,
            ) => {
                self.visit_variable(unit, tag, attrs, *function, ranges, *inlined);
                Scope::Ignored
            }
            (
                Scope::Code {
                    function,
                    ranges,
                    inlined,
                },
                gimli::DW_TAG_lexical_block | gimli::DW_TAG_inlined_subroutine,
            ) => {
                let own = self.scope_ranges(unit, entry);
                Scope::Code {
                    function: *function,
                    // A block without ranges inherits its parent's.
                    ranges: if own.is_empty() { ranges.clone() } else { own },
                    inlined: *inlined || tag == gimli::DW_TAG_inlined_subroutine,
                }
            }
            _ => Scope::Ignored,
        }
    }

    fn visit_type(
        &mut self,
        unit: &Unit<R<'a>>,
        tag: gimli::DwTag,
        attrs: &Attrs<'a>,
        offset: Option<u64>,
    ) -> Scope {
        let Ok(index) = u32::try_from(self.types.len()) else {
            return Scope::Ignored;
        };
        let id = TypeId(index);
        let name = attrs
            .name
            .and_then(|v| self.string(unit, v))
            .unwrap_or_default();
        let shape = match tag {
            gimli::DW_TAG_base_type => PendingShape::Base {
                encoding: attrs.encoding.unwrap_or(0),
            },
            gimli::DW_TAG_pointer_type => PendingShape::Pointer,
            gimli::DW_TAG_structure_type => PendingShape::Struct,
            gimli::DW_TAG_array_type => PendingShape::Array { count: None },
            gimli::DW_TAG_typedef => PendingShape::Typedef,
            gimli::DW_TAG_subroutine_type => PendingShape::Subroutine,
            _ => PendingShape::Other,
        };
        let scope = match shape {
            PendingShape::Struct => Scope::Struct(id),
            PendingShape::Array { .. } => Scope::Array(id),
            _ => Scope::Ignored,
        };
        self.types.push(Type {
            name,
            size: attrs.byte_size,
            kind: TypeKind::Unknown,
            fields: Vec::new(),
            go_kind: attrs.go_kind,
            runtime_type_offset: attrs
                .go_runtime_type
                .filter(|&o| o != 0)
                .map(|o| self.runtime_type_offset(o)),
        });
        self.pending.push(PendingType {
            shape,
            type_ref: attrs.type_ref,
            key_ref: attrs.go_key,
            elem_ref: attrs.go_elem,
            field_refs: Vec::new(),
        });
        if let Some(offset) = offset {
            self.type_offsets.insert(offset, id);
        }
        scope
    }

    fn visit_member(
        &mut self,
        unit: &Unit<R<'a>>,
        id: TypeId,
        attrs: &Attrs<'a>,
        offset: Option<u64>,
    ) {
        let name = attrs
            .name
            .and_then(|v| self.string(unit, v))
            .unwrap_or_default();
        let member_offset = match &attrs.member_location {
            None => Some(0),
            Some(value) => member_offset(unit, value),
        };
        let Some(member_offset) = member_offset else {
            self.warnings.add(format!(
                "member {name:?} at {:#x}: unsupported DW_AT_data_member_location",
                offset.unwrap_or(0)
            ));
            return;
        };
        let (Some(ty), Some(pending)) = (
            self.types.get_mut(id.index()),
            self.pending.get_mut(id.index()),
        ) else {
            return;
        };
        if ty.fields.len() >= MAX_FIELDS {
            return;
        }
        ty.fields.push(Field {
            name,
            offset: member_offset,
            ty: TypeId::UNKNOWN,
            embedded: attrs.go_embedded,
        });
        pending.field_refs.push(attrs.type_ref);
    }

    fn visit_global(&mut self, unit: &Unit<R<'a>>, attrs: &Attrs<'a>) {
        let Some(location) = attrs.location else {
            return;
        };
        let Some(expression) = location.exprloc_value() else {
            return;
        };
        let Location::Address(address) = decode_expression(expression, unit.encoding(), false)
        else {
            return;
        };
        let Some(name) = attrs.name.and_then(|v| self.string(unit, v)) else {
            return;
        };
        self.globals.push((name, address, attrs.type_ref));
    }

    fn visit_constant(&mut self, unit: &Unit<R<'a>>, attrs: &Attrs<'a>) {
        let Some(name) = attrs.name.and_then(|v| self.string(unit, v)) else {
            return;
        };
        let value = match &attrs.const_value {
            Some(AttributeValue::Sdata(v)) => Some(*v),
            Some(AttributeValue::Udata(v)) => Some(*v as i64),
            Some(other) => other.sdata_value(),
            None => None,
        };
        if let Some(value) = value {
            self.constants.entry(name).or_insert(value);
        }
    }

    fn visit_subprogram(
        &mut self,
        unit: &Unit<R<'a>>,
        attrs: &Attrs<'a>,
        offset: Option<u64>,
    ) -> Scope {
        let name = attrs.name.and_then(|v| self.string(unit, v));
        let low_pc = attrs
            .low_pc
            .and_then(|v| self.dwarf.attr_address(unit, v).ok().flatten());
        let Some(low_pc) = low_pc else {
            // No code: an abstract function (inlined copies refer to it) or a
            // declaration.
            if let (Some(offset), Some(name)) = (offset, name) {
                self.abstract_functions.insert(offset, name);
            }
            return Scope::AbstractFunction;
        };
        let high_pc = match attrs.high_pc {
            Some(AttributeValue::Udata(length)) => low_pc.checked_add(length),
            Some(value) => self.dwarf.attr_address(unit, value).ok().flatten(),
            None => None,
        };
        let Some(high_pc) = high_pc.filter(|&h| h >= low_pc) else {
            self.warnings.add(format!(
                "subprogram {:?} at {:#x}: missing or bad DW_AT_high_pc",
                name.as_deref().unwrap_or("?"),
                offset.unwrap_or(0)
            ));
            return Scope::Ignored;
        };
        let frame_base_is_cfa = matches!(
            attrs.frame_base.as_ref().and_then(|v| v.exprloc_value()),
            Some(e) if e.0.slice() == [gimli::DW_OP_call_frame_cfa.0]
        );
        let function = self.functions.len();
        self.functions.push(PendingFunction {
            name,
            origin: attrs.origin,
            low_pc,
            high_pc,
            frame_base_is_cfa,
            variables: Vec::new(),
        });
        Scope::Code {
            function,
            ranges: vec![(low_pc, high_pc)],
            inlined: false,
        }
    }

    fn visit_variable(
        &mut self,
        unit: &Unit<R<'a>>,
        tag: gimli::DwTag,
        attrs: &Attrs<'a>,
        function: usize,
        scope_ranges: &[(u64, u64)],
        inlined: bool,
    ) {
        let frame_base_is_cfa = self
            .functions
            .get(function)
            .is_some_and(|f| f.frame_base_is_cfa);
        let mut locations = Vec::new();
        match attrs.location {
            None => {}
            Some(value) => {
                if let Some(expression) = value.exprloc_value() {
                    let location =
                        decode_expression(expression, unit.encoding(), frame_base_is_cfa);
                    // An empty expression: no location anywhere.
                    let ranges = if location == Location::Unavailable {
                        &[][..]
                    } else {
                        scope_ranges
                    };
                    for &(start, end) in ranges {
                        locations.push(PcLocation {
                            start,
                            end,
                            location: location.clone(),
                        });
                    }
                } else {
                    match self.dwarf.attr_locations(unit, value) {
                        Ok(Some(mut list)) => loop {
                            if locations.len() >= MAX_LOCLIST_ENTRIES {
                                self.warnings
                                    .add("location list too long; truncated".into());
                                break;
                            }
                            match list.next() {
                                Ok(Some(entry)) => locations.push(PcLocation {
                                    start: entry.range.begin,
                                    end: entry.range.end,
                                    location: decode_expression(
                                        entry.data,
                                        unit.encoding(),
                                        frame_base_is_cfa,
                                    ),
                                }),
                                Ok(None) => break,
                                Err(e) => {
                                    self.warnings.add(format!("bad location list: {e}"));
                                    break;
                                }
                            }
                        },
                        Ok(None) => {
                            self.warnings.location_forms_unsupported += 1;
                        }
                        Err(e) => self.warnings.add(format!("bad location list: {e}")),
                    }
                }
            }
        }
        let name = attrs.name.and_then(|v| self.string(unit, v));
        let variable = PendingVariable {
            name,
            type_ref: attrs.type_ref,
            origin: attrs.origin,
            role: role_of(tag, attrs.variable_parameter),
            role_known: attrs.variable_parameter.is_some() || tag == gimli::DW_TAG_variable,
            inlined,
            locations,
        };
        if let Some(f) = self.functions.get_mut(function) {
            f.variables.push(variable);
        }
    }

    fn scope_ranges(
        &mut self,
        unit: &Unit<R<'a>>,
        entry: &gimli::DebuggingInformationEntry<'_, '_, R<'a>>,
    ) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut ranges = match self.dwarf.die_ranges(unit, entry) {
            Ok(r) => r,
            Err(e) => {
                self.warnings.add(format!("bad scope ranges: {e}"));
                return out;
            }
        };
        loop {
            match ranges.next() {
                Ok(Some(r)) => {
                    if out.len() >= MAX_SCOPE_RANGES {
                        break;
                    }
                    out.push((r.begin, r.end));
                }
                Ok(None) => break,
                Err(e) => {
                    self.warnings.add(format!("bad scope ranges: {e}"));
                    break;
                }
            }
        }
        out
    }

    /// `DW_AT_go_runtime_type` is an offset from `runtime.types`, except
    /// that Go 1.21/1.22 write the absolute address for `uintptr`. Type data
    /// is far smaller than its own start address, so a value at or above
    /// `runtime.types` can only be an address.
    fn runtime_type_offset(&self, value: u64) -> u64 {
        match self.runtime_types_base {
            Some(base) if base > 0 && value >= base => value - base,
            _ => value,
        }
    }

    fn string(&self, unit: &Unit<R<'a>>, value: AttributeValue<R<'a>>) -> Option<String> {
        let s = self.dwarf.attr_string(unit, value).ok()?;
        Some(s.to_string_lossy().into_owned())
    }

    fn resolve_ref(&self, offset: Option<u64>) -> Option<TypeId> {
        offset.and_then(|o| self.type_offsets.get(&o).copied())
    }

    /// Resolves references and assigns Go kinds.
    fn finish(mut self) -> Built {
        let mut unresolved = 0u64;
        let pending = std::mem::take(&mut self.pending);
        for (index, p) in pending.iter().enumerate() {
            let target = self.resolve_ref(p.type_ref);
            if p.type_ref.is_some() && target.is_none() {
                unresolved += 1;
            }
            let target_or_unknown = target.unwrap_or(TypeId::UNKNOWN);
            let field_types: Vec<TypeId> = p
                .field_refs
                .iter()
                .map(|r| {
                    let t = self.resolve_ref(*r);
                    if t.is_none() {
                        unresolved += 1;
                    }
                    t.unwrap_or(TypeId::UNKNOWN)
                })
                .collect();
            let key = self.resolve_ref(p.key_ref).unwrap_or(TypeId::UNKNOWN);
            let elem = self.resolve_ref(p.elem_ref).unwrap_or(TypeId::UNKNOWN);
            let Some(ty) = self.types.get_mut(index) else {
                continue;
            };
            for (field, t) in ty.fields.iter_mut().zip(field_types) {
                field.ty = t;
            }
            ty.kind = match p.shape {
                PendingShape::Base { encoding } => base_kind(encoding),
                PendingShape::Pointer => TypeKind::Pointer {
                    target: p.type_ref.map(|_| target_or_unknown),
                },
                PendingShape::Struct => match ty.go_kind {
                    Some(GO_KIND_STRING) => TypeKind::String,
                    Some(GO_KIND_SLICE) => TypeKind::Slice { elem },
                    _ => TypeKind::Struct,
                },
                PendingShape::Array { count } => TypeKind::Array {
                    elem: target_or_unknown,
                    count: count.unwrap_or(0),
                },
                PendingShape::Typedef => match ty.go_kind {
                    Some(GO_KIND_MAP) => TypeKind::Map(MapType {
                        key,
                        value: elem,
                        pointer: target_or_unknown,
                        header: TypeId::UNKNOWN,
                        flavour: None,
                        storage: TypeId::UNKNOWN,
                        table: TypeId::UNKNOWN,
                    }),
                    Some(GO_KIND_CHAN) => TypeKind::Chan {
                        elem,
                        pointer: target_or_unknown,
                    },
                    Some(GO_KIND_INTERFACE) => TypeKind::Interface {
                        repr: target_or_unknown,
                        empty: false,
                    },
                    _ => TypeKind::Typedef {
                        target: target_or_unknown,
                    },
                },
                PendingShape::Subroutine => TypeKind::Func,
                PendingShape::Other => TypeKind::Unknown,
            };
        }
        self.warnings.unresolved_type_refs = unresolved;

        let mut table = TypeTable::new(std::mem::take(&mut self.types), self.pointer_size);
        complete_types(&mut table);

        let globals = std::mem::take(&mut self.globals)
            .into_iter()
            .map(|(name, address, type_ref)| {
                let ty = self.resolve_ref(type_ref).unwrap_or(TypeId::UNKNOWN);
                Global {
                    name,
                    address,
                    ty,
                    size: table.size_of(ty).unwrap_or(0),
                }
            })
            .collect();

        let functions = self.finish_functions();

        let mut runtime_types: Vec<(u64, TypeId)> = table
            .iter()
            .filter_map(|(id, t)| t.runtime_type_offset.map(|o| (o, id)))
            .collect();
        runtime_types.sort_by_key(|&(o, _)| o);
        runtime_types.dedup_by_key(|&mut (o, _)| o);

        Built {
            types: table,
            globals,
            functions,
            constants: std::mem::take(&mut self.constants),
            producer: self.producer.take(),
            runtime_types,
            warnings: std::mem::take(&mut self.warnings),
        }
    }

    fn finish_functions(&mut self) -> Vec<Function> {
        let pending = std::mem::take(&mut self.functions);
        let mut out = Vec::with_capacity(pending.len());
        for f in pending {
            let name = f
                .name
                .or_else(|| {
                    f.origin
                        .and_then(|o| self.abstract_functions.get(&o).cloned())
                })
                .unwrap_or_default();
            let variables = f
                .variables
                .into_iter()
                .filter_map(|v| {
                    let origin = v.origin.and_then(|o| self.abstract_variables.get(&o));
                    let name = v.name.or_else(|| origin.map(|a| a.name.clone()))?;
                    let type_ref = v.type_ref.or_else(|| origin.and_then(|a| a.type_ref));
                    let role = match (v.role_known, origin) {
                        (false, Some(a)) => a.role,
                        _ => v.role,
                    };
                    Some(Variable {
                        name,
                        ty: self.resolve_ref(type_ref).unwrap_or(TypeId::UNKNOWN),
                        role,
                        inlined: v.inlined,
                        locations: v.locations,
                    })
                })
                .collect();
            out.push(Function {
                name,
                low_pc: f.low_pc,
                high_pc: f.high_pc,
                frame_base_is_cfa: f.frame_base_is_cfa,
                variables,
            });
        }
        out
    }
}

/// Second stage, with all kinds known: interface emptiness, array sizes,
/// and each map type's header/storage chain.
fn complete_types(table: &mut TypeTable) {
    let mut updates: Vec<(usize, TypeKind, Option<u64>)> = Vec::new();
    for (id, ty) in table.iter() {
        match ty.kind {
            TypeKind::Interface { repr, .. } => {
                let repr = table.resolve(repr);
                let empty = table.get(repr).name == "runtime.eface";
                updates.push((id.index(), TypeKind::Interface { repr, empty }, ty.size));
            }
            TypeKind::Array { elem, count } if ty.size.is_none() => {
                let size = table.size_of(elem).and_then(|s| s.checked_mul(count));
                updates.push((id.index(), ty.kind, size));
            }
            TypeKind::Map(map) => {
                updates.push((id.index(), TypeKind::Map(map_chain(table, map)), ty.size));
            }
            _ => {}
        }
    }
    let types = table.types_mut();
    for (index, kind, size) in updates {
        if let Some(ty) = types.get_mut(index) {
            ty.kind = kind;
            ty.size = size;
        }
    }
}

fn pointer_target(table: &TypeTable, id: TypeId) -> Option<TypeId> {
    match table.get(table.resolve(id)).kind {
        TypeKind::Pointer { target } => target.map(|t| table.resolve(t)),
        _ => None,
    }
}

fn field_type(table: &TypeTable, id: TypeId, name: &str) -> Option<TypeId> {
    table.get(table.resolve(id)).field(name).map(|f| f.ty)
}

fn map_chain(table: &TypeTable, mut map: MapType) -> MapType {
    let Some(header) = pointer_target(table, map.pointer) else {
        return map;
    };
    map.header = header;
    let name = table.get(header).name.as_str();
    if name.starts_with("hash<") {
        map.flavour = Some(MapFlavour::Classic);
        if let Some(bucket) =
            field_type(table, header, "buckets").and_then(|b| pointer_target(table, b))
        {
            map.storage = bucket;
        }
    } else if name.starts_with("map<") {
        map.flavour = Some(MapFlavour::Swiss);
        let table_type = field_type(table, header, "dirPtr")
            .and_then(|d| pointer_target(table, d))
            .and_then(|d| pointer_target(table, d));
        if let Some(table_type) = table_type {
            map.table = table_type;
            let group = field_type(table, table_type, "groups")
                .and_then(|g| field_type(table, g, "data"))
                .and_then(|d| pointer_target(table, d));
            if let Some(group) = group {
                map.storage = group;
            }
        }
    }
    map
}

/// Like `gimli::Unit::new`, without parsing the unit's line program: line
/// tables come from pclntab, and a damaged `.debug_line` must not cost us
/// the unit's types and variables.
fn open_unit<'a>(
    dwarf: &gimli::Dwarf<R<'a>>,
    header: gimli::UnitHeader<R<'a>>,
) -> gimli::Result<Unit<R<'a>>> {
    let abbreviations = dwarf.abbreviations(&header)?;
    let encoding = header.encoding();
    let file = gimli::DwarfFileType::Main;
    let mut unit = Unit {
        abbreviations,
        name: None,
        comp_dir: None,
        low_pc: 0,
        str_offsets_base: gimli::DebugStrOffsetsBase::default_for_encoding_and_file(encoding, file),
        addr_base: gimli::DebugAddrBase(0),
        loclists_base: gimli::DebugLocListsBase::default_for_encoding_and_file(encoding, file),
        rnglists_base: gimli::DebugRngListsBase::default_for_encoding_and_file(encoding, file),
        line_program: None,
        dwo_id: None,
        header,
    };
    let mut low_pc = None;
    {
        let mut cursor = unit.header.entries(&unit.abbreviations);
        cursor.next_dfs()?;
        let root = cursor.current().ok_or(gimli::Error::MissingUnitDie)?;
        let mut attrs = root.attrs();
        while let Some(attr) = attrs.next()? {
            match (attr.name(), attr.value()) {
                (gimli::DW_AT_low_pc, value) => low_pc = Some(value),
                (gimli::DW_AT_str_offsets_base, AttributeValue::DebugStrOffsetsBase(base)) => {
                    unit.str_offsets_base = base
                }
                (gimli::DW_AT_addr_base, AttributeValue::DebugAddrBase(base)) => {
                    unit.addr_base = base
                }
                (gimli::DW_AT_loclists_base, AttributeValue::DebugLocListsBase(base)) => {
                    unit.loclists_base = base
                }
                (gimli::DW_AT_rnglists_base, AttributeValue::DebugRngListsBase(base)) => {
                    unit.rnglists_base = base
                }
                _ => {}
            }
        }
    }
    if let Some(value) = low_pc {
        if let Some(address) = dwarf.attr_address(&unit, value)? {
            unit.low_pc = address;
        }
    }
    Ok(unit)
}

fn base_kind(encoding: u8) -> TypeKind {
    match gimli::DwAte(encoding) {
        gimli::DW_ATE_boolean => TypeKind::Bool,
        gimli::DW_ATE_signed | gimli::DW_ATE_signed_char => TypeKind::Int,
        gimli::DW_ATE_unsigned | gimli::DW_ATE_unsigned_char | gimli::DW_ATE_UTF => TypeKind::Uint,
        gimli::DW_ATE_float => TypeKind::Float,
        gimli::DW_ATE_complex_float => TypeKind::Complex,
        _ => TypeKind::Unknown,
    }
}

fn role_of(tag: gimli::DwTag, variable_parameter: Option<bool>) -> VariableRole {
    match (tag, variable_parameter) {
        (gimli::DW_TAG_formal_parameter, Some(true)) => VariableRole::Result,
        (gimli::DW_TAG_formal_parameter, _) => VariableRole::Parameter,
        _ => VariableRole::Local,
    }
}

fn global_offset(unit: &Unit<R<'_>>, offset: gimli::UnitOffset) -> Option<u64> {
    offset
        .to_debug_info_offset(&unit.header)
        .map(|o| o.0 as u64)
}

fn reference(unit: &Unit<R<'_>>, value: &AttributeValue<R<'_>>) -> Option<u64> {
    match *value {
        AttributeValue::DebugInfoRef(o) => Some(o.0 as u64),
        AttributeValue::UnitRef(o) => global_offset(unit, o),
        _ => None,
    }
}

fn member_offset(unit: &Unit<R<'_>>, value: &AttributeValue<R<'_>>) -> Option<u64> {
    if let Some(v) = value.udata_value() {
        return Some(v);
    }
    // Older producers: DW_OP_plus_uconst N.
    let expression = value.exprloc_value()?;
    let mut ops = expression.operations(unit.encoding());
    match (ops.next(), ops.next()) {
        (Ok(Some(gimli::Operation::PlusConstant { value })), Ok(None)) => Some(value),
        _ => None,
    }
}

fn read_attrs<'a>(
    unit: &Unit<R<'a>>,
    entry: &gimli::DebuggingInformationEntry<'_, '_, R<'a>>,
) -> gimli::Result<Attrs<'a>> {
    let mut a = Attrs::default();
    let mut iter = entry.attrs();
    while let Some(attr) = iter.next()? {
        let value = attr.value();
        match attr.name() {
            gimli::DW_AT_name => a.name = Some(value),
            gimli::DW_AT_type => a.type_ref = reference(unit, &value),
            gimli::DW_AT_abstract_origin => a.origin = reference(unit, &value),
            gimli::DW_AT_byte_size => a.byte_size = value.udata_value(),
            gimli::DW_AT_encoding => {
                a.encoding = match value {
                    AttributeValue::Encoding(e) => Some(e.0),
                    other => other.u8_value(),
                }
            }
            gimli::DW_AT_count => a.count = value.udata_value(),
            gimli::DW_AT_upper_bound => a.upper_bound = value.udata_value(),
            gimli::DW_AT_data_member_location => a.member_location = Some(value),
            gimli::DW_AT_location => a.location = Some(value),
            gimli::DW_AT_low_pc => a.low_pc = Some(value),
            gimli::DW_AT_high_pc => a.high_pc = Some(value),
            gimli::DW_AT_frame_base => a.frame_base = Some(value),
            gimli::DW_AT_const_value => a.const_value = Some(value),
            gimli::DW_AT_producer => a.producer = Some(value),
            gimli::DW_AT_language => {
                a.language = match value {
                    AttributeValue::Language(l) => Some(l.0),
                    other => other.u16_value(),
                }
            }
            gimli::DW_AT_variable_parameter => a.variable_parameter = Some(flag(&value)),
            DW_AT_GO_KIND => a.go_kind = value.u8_value(),
            DW_AT_GO_KEY => a.go_key = reference(unit, &value),
            DW_AT_GO_ELEM => a.go_elem = reference(unit, &value),
            DW_AT_GO_EMBEDDED_FIELD => a.go_embedded = flag(&value),
            DW_AT_GO_RUNTIME_TYPE => {
                a.go_runtime_type = match value {
                    AttributeValue::Addr(v) => Some(v),
                    other => other.udata_value(),
                }
            }
            _ => {}
        }
    }
    Ok(a)
}

fn flag(value: &AttributeValue<R<'_>>) -> bool {
    match *value {
        AttributeValue::Flag(f) => f,
        ref other => other.udata_value().is_some_and(|v| v != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a build made, comparable (types in id order, constants in
    /// name order: not the hash maps' orders).
    fn summary(b: Built) -> String {
        let types: Vec<_> = b.types.iter().collect();
        let constants: std::collections::BTreeMap<_, _> = b.constants.into_iter().collect();
        format!(
            "{types:?}\n{:?}\n{:?}\n{constants:?}\n{:?}\n{:?}\n{:?}",
            b.globals, b.functions, b.producer, b.runtime_types, b.warnings
        )
    }

    /// The units' tables appended batch by batch are those of one unit at
    /// a time, whatever the batch (the truth tests check the tables
    /// themselves against the programs).
    #[test]
    fn unit_batches_give_the_same_tables() {
        let sample = mapscope_testsupport::sample("go1.26");
        let exe = std::fs::read(&sample.exe).expect("sample executable");
        let sections = DwarfSections::from_elf(&exe).expect("DWARF sections");
        let dwarf = gimli::Dwarf::load(|id| -> Result<R<'_>, gimli::Error> {
            Ok(EndianSlice::new(sections.get(id), RunTimeEndian::Little))
        })
        .expect("dwarf");
        let mut headers = dwarf.units();
        let mut units = 0;
        while headers.next().expect("unit header").is_some() {
            units += 1;
        }
        assert!(units > 2 * 7, "{units} units: too few to cross batches");
        let one = summary(build_in(&sections, 1));
        for batch in [7, UNIT_BATCH] {
            assert!(summary(build_in(&sections, batch)) == one, "batch {batch}");
        }
    }
}
