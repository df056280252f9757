//! `runtime.firstmoduledata`: the linker-built table that ties pclntab to
//! the text, data and type ranges of the executable.
//!
//! Found by symbol when there is one, otherwise (stripped binaries) by
//! searching the executable's segments for a word equal to the pclntab
//! address followed by slice headers that point into that pclntab — a
//! pattern that does not occur by accident.
//!
//! Only the leading fields are read; their layout is the same from Go 1.21
//! to 1.26, and Go 1.27 inserts `typedesclen`, `itaboffset` and `itabsize`
//! before `rodata`/`gofunc`. The two are told apart by the values, never by
//! the version.

use super::image::ExeImage;
use super::Header;
use crate::symbols::SymbolTable;

/// Which field order the module data uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleDataLayout {
    /// Go 1.21 – 1.26: `types, etypes, rodata, gofunc`.
    Go121,
    /// Go 1.27+: `types, typedesclen, etypes, itaboffset, itabsize, rodata, gofunc`.
    Go127,
}

/// The static address ranges recorded in `runtime.firstmoduledata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleData {
    /// Virtual address of the moduledata itself.
    pub address: u64,
    pub layout: ModuleDataLayout,
    pub min_pc: u64,
    pub max_pc: u64,
    pub text: u64,
    pub etext: u64,
    pub noptrdata: u64,
    pub enoptrdata: u64,
    pub data: u64,
    pub edata: u64,
    pub bss: u64,
    pub ebss: u64,
    pub noptrbss: u64,
    pub enoptrbss: u64,
    pub end: u64,
    pub gcdata: u64,
    pub gcbss: u64,
    /// Start and end of the type descriptors (`abi.Type` offsets are from `types`).
    pub types: u64,
    pub etypes: u64,
    pub rodata: u64,
    /// Base of `go:func.*`; funcdata offsets are relative to it.
    pub gofunc: u64,
}

/// Words read from the start of the moduledata (covers the 1.27 layout).
const WORDS: usize = 44;

impl ModuleData {
    pub(crate) fn find(
        image: &ExeImage<'_>,
        symbols: &SymbolTable<'_>,
        pclntab: u64,
        header: &Header,
    ) -> Option<ModuleData> {
        if let Some(address) = symbols.address_of("runtime.firstmoduledata") {
            if let Some(md) = Self::at(image, address, pclntab, header) {
                return Some(md);
            }
        }
        let needle = pclntab.to_le_bytes();
        for (segment, data) in image.segments() {
            // The moduledata is pointer aligned; scan words of the segment.
            let start = ((8 - segment.address % 8) % 8) as usize;
            let mut offset = start;
            while let Some(word) = data.get(offset..offset + 8) {
                let matches = if image.is_little_endian() {
                    word == needle
                } else {
                    image.word_in(data, offset) == Some(pclntab)
                };
                if matches {
                    if let Some(md) = Self::at(
                        image,
                        segment.address.wrapping_add(offset as u64),
                        pclntab,
                        header,
                    ) {
                        return Some(md);
                    }
                }
                offset += 8;
            }
        }
        None
    }

    /// Validates and decodes a moduledata candidate at `address`.
    fn at(image: &ExeImage<'_>, address: u64, pclntab: u64, header: &Header) -> Option<ModuleData> {
        let bytes = image.bytes_at(address, (WORDS * 8) as u64)?;
        let mut w = [0u64; WORDS];
        for (i, slot) in w.iter_mut().enumerate() {
            *slot = image.word_in(bytes, i * 8)?;
        }
        let at = |offset: u64| pclntab.checked_add(offset);
        let slices_match = w[0] == pclntab
            && Some(w[1]) == at(header.funcname_offset)
            && Some(w[4]) == at(header.cu_offset)
            && Some(w[7]) == at(header.filetab_offset)
            && Some(w[10]) == at(header.pctab_offset)
            && Some(w[13]) == at(header.pcln_offset)
            && Some(w[16]) == at(header.pcln_offset)
            && w[17] == (header.nfunc as u64).checked_add(1)?;
        if !slices_match {
            return None;
        }
        let (layout, etypes, rodata, gofunc) = if w[39] <= w[37] && w[37] <= w[38] {
            (ModuleDataLayout::Go121, w[38], w[39], w[40])
        } else if w[42] <= w[37] && w[37] <= w[39] && w[38] <= w[39] - w[37] {
            (ModuleDataLayout::Go127, w[39], w[42], w[43])
        } else {
            return None;
        };
        Some(ModuleData {
            address,
            layout,
            min_pc: w[20],
            max_pc: w[21],
            text: w[22],
            etext: w[23],
            noptrdata: w[24],
            enoptrdata: w[25],
            data: w[26],
            edata: w[27],
            bss: w[28],
            ebss: w[29],
            noptrbss: w[30],
            enoptrbss: w[31],
            end: w[34],
            gcdata: w[35],
            gcbss: w[36],
            types: w[37],
            etypes,
            rodata,
            gofunc,
        })
    }
}
