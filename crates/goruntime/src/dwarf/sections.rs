//! Getting the DWARF sections out of an ELF executable: decompressed
//! (`SHF_COMPRESSED` zlib/zstd, or legacy `.zdebug_*`), with the declared
//! uncompressed size checked before anything is allocated.

use rayon::prelude::*;
use std::borrow::Cow;

use object::{CompressionFormat, Object, ObjectSection, ObjectSymbol};

use super::DwarfError;

/// zlib cannot expand data by more than about 1032:1; a header claiming more
/// is corrupt. zstd can, in theory, so it gets the absolute cap only.
const ZLIB_MAX_RATIO: u64 = 1032;
/// No Go executable has a DWARF section anywhere near this large.
const MAX_SECTION_BYTES: u64 = 1 << 30;

/// The decompressed DWARF sections of one executable, plus the few ELF facts
/// the loader needs. Built from an ELF with [`DwarfSections::from_elf`], or
/// by hand (tests, fuzzing) with [`DwarfSections::new`] and
/// [`DwarfSections::insert`].
pub struct DwarfSections<'data> {
    sections: Vec<(gimli::SectionId, Cow<'data, [u8]>)>,
    little_endian: bool,
    pointer_size: u8,
    /// Address of the `runtime.types` symbol (start of the type descriptors
    /// `DW_AT_go_runtime_type` offsets are relative to), when in `.symtab`.
    runtime_types: Option<u64>,
}

impl<'data> DwarfSections<'data> {
    /// No sections yet.
    pub fn new(little_endian: bool, pointer_size: u8) -> DwarfSections<'data> {
        DwarfSections {
            sections: Vec::new(),
            little_endian,
            pointer_size,
            runtime_types: None,
        }
    }

    /// Reads and decompresses the DWARF sections of an ELF executable.
    pub fn from_elf(exe: &'data [u8]) -> Result<DwarfSections<'data>, DwarfError> {
        load(exe)
    }

    /// Adds or replaces a section by its ELF name (`.debug_info`, …);
    /// unknown names are ignored.
    pub fn insert(&mut self, name: &str, data: Cow<'data, [u8]>) {
        let Some(&id) = WANTED.iter().find(|id| id.name() == name) else {
            return;
        };
        self.sections.retain(|(s, _)| *s != id);
        self.sections.push((id, data));
    }

    /// The bytes of a section by its ELF name (empty when absent).
    pub fn section(&self, name: &str) -> &[u8] {
        match WANTED.iter().find(|id| id.name() == name) {
            Some(&id) => self.get(id),
            None => &[],
        }
    }

    pub fn little_endian(&self) -> bool {
        self.little_endian
    }

    pub fn pointer_size(&self) -> u8 {
        self.pointer_size
    }

    /// Address of `runtime.types` from the ELF symbol table.
    pub fn runtime_types(&self) -> Option<u64> {
        self.runtime_types
    }

    pub(crate) fn get(&self, id: gimli::SectionId) -> &[u8] {
        self.sections
            .iter()
            .find(|(s, _)| *s == id)
            .map(|(_, data)| data.as_ref())
            .unwrap_or(&[])
    }
}

const WANTED: &[gimli::SectionId] = &[
    gimli::SectionId::DebugAbbrev,
    gimli::SectionId::DebugAddr,
    gimli::SectionId::DebugInfo,
    gimli::SectionId::DebugLineStr,
    gimli::SectionId::DebugLoc,
    gimli::SectionId::DebugLocLists,
    gimli::SectionId::DebugRanges,
    gimli::SectionId::DebugRngLists,
    gimli::SectionId::DebugStr,
    gimli::SectionId::DebugStrOffsets,
];

/// One section decompressed, or why not.
type Decompressed<'d> = Result<(gimli::SectionId, Cow<'d, [u8]>), DwarfError>;

fn load(exe: &[u8]) -> Result<DwarfSections<'_>, DwarfError> {
    let file = object::File::parse(exe).map_err(|e| DwarfError::NotElf(e.to_string()))?;
    if file.format() != object::BinaryFormat::Elf {
        return Err(DwarfError::NotElf(format!("{:?} file", file.format())));
    }
    // The sections present, in order, then decompressed side by side (Go
    // compresses them: a few MB each); the first failure in section order
    // is the error, as one after the other would report it.
    let mut found = Vec::new();
    for &id in WANTED {
        let name = id.name();
        let zname = name.replacen(".debug_", ".zdebug_", 1);
        let section = file
            .section_by_name(name)
            .or_else(|| file.section_by_name(&zname));
        let Some(section) = section else { continue };
        found.push((id, section.compressed_data()));
    }
    let decompressed: Vec<Decompressed<'_>> = found
        .into_par_iter()
        .map(|(id, compressed)| {
            let name = id.name();
            let compressed = compressed.map_err(|e| DwarfError::Section {
                section: name,
                reason: e.to_string(),
            })?;
            check_size(
                name,
                compressed.format,
                compressed.data.len(),
                compressed.uncompressed_size,
            )?;
            let data = compressed.decompress().map_err(|e| DwarfError::Section {
                section: name,
                reason: e.to_string(),
            })?;
            Ok((id, data))
        })
        .collect();
    let sections = decompressed.into_iter().collect::<Result<Vec<_>, _>>()?;
    if !sections
        .iter()
        .any(|(id, data)| *id == gimli::SectionId::DebugInfo && !data.is_empty())
    {
        return Err(DwarfError::NoDwarf);
    }
    let runtime_types = file
        .symbols()
        .find(|s| s.name() == Ok("runtime.types"))
        .map(|s| s.address());
    Ok(DwarfSections {
        sections,
        little_endian: file.is_little_endian(),
        pointer_size: if file.is_64() { 8 } else { 4 },
        runtime_types,
    })
}

fn check_size(
    section: &'static str,
    format: CompressionFormat,
    compressed_len: usize,
    uncompressed: u64,
) -> Result<(), DwarfError> {
    if format == CompressionFormat::None {
        return Ok(());
    }
    let ratio_cap = match format {
        CompressionFormat::Zlib => (compressed_len as u64)
            .saturating_mul(ZLIB_MAX_RATIO)
            .saturating_add(4096),
        _ => MAX_SECTION_BYTES,
    };
    if uncompressed > MAX_SECTION_BYTES || uncompressed > ratio_cap {
        return Err(DwarfError::Section {
            section,
            reason: format!(
                "compression header claims {uncompressed} bytes from {compressed_len} compressed bytes"
            ),
        });
    }
    Ok(())
}
