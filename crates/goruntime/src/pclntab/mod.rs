//! Go's PC/line table (pclntab, Go 1.20+ format, magic `0xfffffff1`):
//! function table, names, files, pc→file:line, pc→SP delta, funcIDs and
//! flags, pcdata/funcdata, and the inlining tree — everything needed to
//! name a pc and unwind goroutine stacks without DWARF.
//!
//! Owns: locating the table in an executable (section `.gopclntab`, symbol
//! `runtime.pclntab`, or — stripped, no section headers — a search of the
//! segments for a header that validates), the moduledata that gives text
//! start and funcdata base, decoding, and the [`Unwinder`]. It takes the
//! executable's bytes only; it knows nothing about cores, which reach it
//! through the unwinder's memory callback.
//!
//! Untrusted input: all tables are slices of the file validated against
//! the table's extent at parse time; every later read is a checked `get`;
//! varints are bounded; loops are bounded by the bytes they consume or by
//! fixed limits.
//!
//! Layout across versions (checked on 1.21 – 1.27): the header, function
//! records and inline tree entries are unchanged; Go 1.26 stopped storing
//! `textStart` in the header (it is zero; the text start then comes from
//! the moduledata); Go 1.27 changed the moduledata field order (see
//! [`ModuleDataLayout`]); funcID numbering changed in 1.22 and 1.25 (see
//! [`FuncIdTable`]).

mod func;
mod funcid;
pub mod globals;
mod image;
mod moduledata;
mod stackmap;
mod unwind;

pub use func::{Frame, Func, PcValueRanges};
pub use funcid::{id_for_name, FuncFlags, FuncId, FuncIdTable};
pub use image::{Arch, ExeImage, ImageError, LoadSegment, NamedSection};
pub use moduledata::{ModuleData, ModuleDataLayout};
pub use stackmap::{
    scans_conservatively, FrameGeometry, FramePointers, StackMapError, StackObject,
};
pub use unwind::{Traceback, UnwindFrame, UnwindStart, UnwindStop, Unwinder};

use crate::symbols::SymbolTable;

/// `abi.Go120PCLnTabMagic`, used by every release from Go 1.20 on.
pub const GO120_MAGIC: u32 = 0xffff_fff1;

/// PCDATA table indices (`abi.PCDATA_*`).
pub const PCDATA_UNSAFE_POINT: u32 = 0;
pub const PCDATA_STACK_MAP_INDEX: u32 = 1;
pub const PCDATA_INL_TREE_INDEX: u32 = 2;
pub const PCDATA_ARG_LIVE_INDEX: u32 = 3;

/// FUNCDATA indices (`abi.FUNCDATA_*`).
pub const FUNCDATA_ARGS_POINTER_MAPS: u8 = 0;
pub const FUNCDATA_LOCALS_POINTER_MAPS: u8 = 1;
pub const FUNCDATA_STACK_OBJECTS: u8 = 2;
pub const FUNCDATA_INL_TREE: u8 = 3;
pub const FUNCDATA_OPEN_CODED_DEFER_INFO: u8 = 4;
pub const FUNCDATA_ARG_INFO: u8 = 5;
pub const FUNCDATA_ARG_LIVE_INFO: u8 = 6;
pub const FUNCDATA_WRAP_INFO: u8 = 7;

/// Size of the Go 1.20+ header on 64-bit targets.
const HEADER_SIZE: u64 = 8 + 8 * 8;

/// Errors while locating or validating the table; each names the address.
#[derive(Debug, thiserror::Error)]
pub enum PclntabError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("no Go pclntab found: no .gopclntab section, no runtime.pclntab symbol, and no valid Go 1.20+ header in the executable's segments")]
    NotFound,
    #[error("pclntab at {address:#x}: magic {magic:#010x} is the {format} format; only Go 1.20+ ({GO120_MAGIC:#010x}) is supported")]
    UnsupportedMagic {
        address: u64,
        magic: u32,
        format: &'static str,
    },
    #[error("pclntab at {address:#x}: {what}")]
    BadHeader { address: u64, what: String },
    #[error("pclntab at {address:#x}: cannot find the start of text (the header no longer stores it from Go 1.26; no moduledata, runtime.text symbol or .text section)")]
    NoTextStart { address: u64 },
}

/// How the table was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PclntabSource {
    /// The `.gopclntab` section.
    Section,
    /// The `runtime.pclntab` symbol.
    Symbol,
    /// A header found by scanning the segments (no section headers).
    Search,
}

/// The decoded `runtime.pcHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub magic: u32,
    /// Instruction size quantum (1 on amd64, 4 on arm64).
    pub min_lc: u8,
    pub ptr_size: u8,
    pub nfunc: usize,
    pub nfiles: u64,
    /// The header's `textStart` field; zero from Go 1.26.
    pub text_start_field: u64,
    pub funcname_offset: u64,
    pub cu_offset: u64,
    pub filetab_offset: u64,
    pub pctab_offset: u64,
    pub pcln_offset: u64,
}

/// A parsed pclntab over the executable's bytes (zero-copy).
#[derive(Debug, Clone)]
pub struct Pclntab<'a> {
    image: ExeImage<'a>,
    address: u64,
    source: PclntabSource,
    header: Header,
    funcnametab: &'a [u8],
    cutab: &'a [u8],
    filetab: &'a [u8],
    pctab: &'a [u8],
    /// The function table (`nfunc+1` entries) followed by `_func` records.
    pclntable: &'a [u8],
    text_start: u64,
    /// Offset of the end of the last function from `text_start`.
    text_end_offset: u32,
    moduledata: Option<ModuleData>,
    gofunc: Option<u64>,
    funcid_table: FuncIdTable,
}

impl<'a> Pclntab<'a> {
    /// Finds and parses the pclntab of the executable `exe`.
    pub fn parse(exe: &'a [u8]) -> Result<Self, PclntabError> {
        let file = object::File::parse(exe).map_err(ImageError::from)?;
        let image = ExeImage::from_object(exe, &file)?;
        let symbols = SymbolTable::from_object(&file);
        Self::from_parts(image, &symbols)
    }

    /// Parses using an image and symbol table the caller already built
    /// (pass an empty [`SymbolTable`] for stripped binaries).
    pub fn from_parts(
        image: ExeImage<'a>,
        symbols: &SymbolTable<'_>,
    ) -> Result<Self, PclntabError> {
        let (address, data, source) = locate(&image, symbols)?;
        let header = parse_header(&image, data, address)?;
        let slice = |from: u64, to: u64| -> &'a [u8] {
            // Bounds were validated by parse_header.
            data.get(from as usize..to as usize).unwrap_or(&[])
        };
        let funcnametab = slice(header.funcname_offset, header.cu_offset);
        let cutab = slice(header.cu_offset, header.filetab_offset);
        let filetab = slice(header.filetab_offset, header.pctab_offset);
        let pctab = slice(header.pctab_offset, header.pcln_offset);
        let pclntable = slice(header.pcln_offset, data.len() as u64);
        let text_end_offset = validate_functab(&image, pclntable, header.nfunc)
            .map_err(|what| PclntabError::BadHeader { address, what })?;

        let moduledata = ModuleData::find(&image, symbols, address, &header);
        let text_start = if header.text_start_field != 0 {
            header.text_start_field
        } else if let Some(md) = moduledata.filter(|md| md.text != 0) {
            md.text
        } else if let Some(text) = symbols.address_of("runtime.text") {
            text
        } else if let Some(section) = image.section(".text") {
            section.address
        } else {
            return Err(PclntabError::NoTextStart { address });
        };
        let gofunc = moduledata
            .map(|md| md.gofunc)
            .filter(|&g| g != 0)
            .or_else(|| symbols.address_of("go:func.*"))
            .or_else(|| symbols.address_of("go.func.*"));

        let mut tab = Pclntab {
            image,
            address,
            source,
            header,
            funcnametab,
            cutab,
            filetab,
            pctab,
            pclntable,
            text_start,
            text_end_offset,
            moduledata,
            gofunc,
            funcid_table: FuncIdTable::Unknown,
        };
        tab.funcid_table = tab.detect_funcid_table();
        Ok(tab)
    }

    /// Virtual address of the header.
    pub fn address(&self) -> u64 {
        self.address
    }

    pub fn source(&self) -> PclntabSource {
        self.source
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The executable view the table reads funcdata through.
    pub fn image(&self) -> &ExeImage<'a> {
        &self.image
    }

    /// Address function entry offsets are relative to (`moduledata.text`).
    pub fn text_start(&self) -> u64 {
        self.text_start
    }

    /// End of the last function (exclusive).
    pub fn text_end(&self) -> u64 {
        self.text_start
            .saturating_add(u64::from(self.text_end_offset))
    }

    /// The moduledata, when it could be found.
    pub fn moduledata(&self) -> Option<&ModuleData> {
        self.moduledata.as_ref()
    }

    /// Base address funcdata offsets are relative to (`go:func.*`); `None`
    /// means funcdata (and so inlining) cannot be resolved.
    pub fn gofunc(&self) -> Option<u64> {
        self.gofunc
    }

    pub fn funcid_table(&self) -> FuncIdTable {
        self.funcid_table
    }

    /// Number of functions.
    pub fn len(&self) -> usize {
        self.header.nfunc
    }

    pub fn is_empty(&self) -> bool {
        self.header.nfunc == 0
    }

    /// The `index`-th function in address order.
    pub fn func_at(&self, index: usize) -> Option<Func<'_>> {
        if index >= self.header.nfunc {
            return None;
        }
        let (entry_off, func_off) = self.ftab(index)?;
        let (end_off, _) = self.ftab(index + 1)?;
        let record = self.pclntable.get(func_off as usize..)?;
        let npcdata = self.image.u32_in(record, 28)?;
        let nfuncdata = *record.get(43)?;
        let size = 44u64
            .checked_add(4 * u64::from(npcdata))?
            .checked_add(4 * u64::from(nfuncdata))?;
        let raw = record.get(..usize::try_from(size).ok()?)?;
        // The record repeats its entry offset; a mismatch means corruption.
        if self.image.u32_in(raw, 0)? != entry_off {
            return None;
        }
        Some(Func::new(
            self,
            raw,
            index,
            self.text_start.checked_add(u64::from(entry_off))?,
            self.text_start.checked_add(u64::from(end_off))?,
        ))
    }

    /// The function containing `pc` (binary search of the function table).
    pub fn func_for_pc(&self, pc: u64) -> Option<Func<'_>> {
        let offset = u32::try_from(pc.checked_sub(self.text_start)?).ok()?;
        if offset >= self.text_end_offset {
            return None;
        }
        // First entry whose start is above the offset; the one before it
        // contains the pc. Entries were checked to be sorted at parse time.
        let (mut lo, mut hi) = (0usize, self.header.nfunc);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.ftab(mid)?.0 <= offset {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        self.func_at(lo.checked_sub(1)?)
    }

    /// All functions in address order.
    pub fn funcs(&self) -> impl Iterator<Item = Func<'_>> + '_ {
        (0..self.header.nfunc).filter_map(move |i| self.func_at(i))
    }

    /// The first function called `name` (a linear scan).
    pub fn func_by_name(&self, name: &str) -> Option<Func<'_>> {
        self.funcs().find(|f| f.name() == name)
    }

    /// Innermost source position of `pc`: file and line (of the inlined
    /// function's code when `pc` is in inlined code).
    pub fn file_line(&self, pc: u64) -> Option<(&str, u32)> {
        self.func_for_pc(pc)?.file_line(pc)
    }

    /// The logical frames at `pc`, innermost (inlined) first, outermost
    /// (the physical function) last; empty when `pc` is in no function.
    pub fn frames(&self, pc: u64) -> Vec<Frame<'_>> {
        self.func_for_pc(pc)
            .map(|f| f.frames(pc))
            .unwrap_or_default()
    }

    /// SP delta of the frame at `pc`: bytes the function has moved SP below
    /// its entry SP (not counting an amd64 return address).
    pub fn sp_delta(&self, pc: u64) -> Option<i64> {
        self.func_for_pc(pc)?.sp_delta(pc)
    }

    /// Source file name by global file index (`cutab` slot).
    pub(crate) fn file_name(&self, cutab_index: u64) -> Option<&str> {
        let slot = usize::try_from(cutab_index.checked_mul(4)?).ok()?;
        let offset = self.image.u32_in(self.cutab, slot)?;
        if offset == u32::MAX {
            return None;
        }
        c_str(self.filetab, offset as usize)
    }

    /// A function name by its offset in the name table.
    pub(crate) fn func_name(&self, name_off: i32) -> Option<&str> {
        c_str(self.funcnametab, usize::try_from(name_off).ok()?)
    }

    /// Evaluates the pc-value table at `off` in `pctab` for a function
    /// starting at `entry`, at `target`; `None` when there is no table or
    /// `target` is past its end.
    pub(crate) fn pcvalue(&self, off: u32, entry: u64, target: u64) -> Option<i32> {
        let mut ranges = PcValueRanges::new(self, off, entry);
        ranges.find(|&(_, end, _)| target < end).map(|(_, _, v)| v)
    }

    pub(crate) fn pctab(&self) -> &'a [u8] {
        self.pctab
    }

    /// Entry and record offsets of function-table slot `index`.
    fn ftab(&self, index: usize) -> Option<(u32, u32)> {
        let at = index.checked_mul(8)?;
        Some((
            self.image.u32_in(self.pclntable, at)?,
            self.image.u32_in(self.pclntable, at.checked_add(4)?)?,
        ))
    }

    /// Picks the funcID numbering that agrees with every special function
    /// in the binary.
    fn detect_funcid_table(&self) -> FuncIdTable {
        let mut candidates: Vec<FuncIdTable> = FuncIdTable::CANDIDATES.to_vec();
        let mut checked = 0usize;
        for f in self.funcs() {
            let raw = f.raw_func_id();
            if raw == 0 {
                continue;
            }
            let name = f.name();
            candidates.retain(|t| t.agrees(raw, name));
            checked += 1;
            if candidates.is_empty() {
                return FuncIdTable::Unknown;
            }
        }
        if checked == 0 {
            return FuncIdTable::Unknown;
        }
        candidates.first().copied().unwrap_or(FuncIdTable::Unknown)
    }
}

/// Finds the table's address and bytes (up to the end of its section or
/// segment; the header's offsets are validated against that extent).
fn locate<'a>(
    image: &ExeImage<'a>,
    symbols: &SymbolTable<'_>,
) -> Result<(u64, &'a [u8], PclntabSource), PclntabError> {
    if let Some(section) = image.section(".gopclntab").filter(|s| !s.data.is_empty()) {
        return Ok((section.address, section.data, PclntabSource::Section));
    }
    if let Some(start) = symbols.address_of("runtime.pclntab") {
        let data = match symbols.address_of("runtime.epclntab") {
            Some(end) if end > start => image.bytes_at(start, end - start),
            _ => image.bytes_from(start),
        };
        if let Some(data) = data {
            return Ok((start, data, PclntabSource::Symbol));
        }
    }
    // Stripped of section headers: scan for a header that validates.
    // Read-only data first, where the linker puts it.
    let mut segments: Vec<_> = image.segments().collect();
    segments.sort_by_key(|(s, _)| (s.writable, s.executable));
    let magic = if image.is_little_endian() {
        GO120_MAGIC.to_le_bytes()
    } else {
        GO120_MAGIC.to_be_bytes()
    };
    for (segment, data) in segments {
        let mut offset = ((8 - segment.address % 8) % 8) as usize;
        while let Some(word) = data.get(offset..offset + 4) {
            if word == magic {
                let address = segment.address.wrapping_add(offset as u64);
                if let Some(rest) = data.get(offset..) {
                    if parse_header(image, rest, address).is_ok()
                        && validate_functab_at(image, rest, address).is_ok()
                    {
                        return Ok((address, rest, PclntabSource::Search));
                    }
                }
            }
            offset += 8;
        }
    }
    Err(PclntabError::NotFound)
}

fn validate_functab_at(
    image: &ExeImage<'_>,
    data: &[u8],
    address: u64,
) -> Result<u32, PclntabError> {
    let header = parse_header(image, data, address)?;
    let pclntable = data.get(header.pcln_offset as usize..).unwrap_or(&[]);
    validate_functab(image, pclntable, header.nfunc)
        .map_err(|what| PclntabError::BadHeader { address, what })
}

/// Decodes and validates the header against the table's extent.
fn parse_header(image: &ExeImage<'_>, data: &[u8], address: u64) -> Result<Header, PclntabError> {
    let bad = |what: String| PclntabError::BadHeader { address, what };
    let magic = image
        .u32_in(data, 0)
        .ok_or_else(|| bad("shorter than a header".into()))?;
    let format = match magic {
        GO120_MAGIC => None,
        0xffff_fff0 => Some("Go 1.18–1.19"),
        0xffff_fffa => Some("Go 1.16–1.17"),
        0xffff_fffb => Some("Go 1.2–1.15"),
        _ => return Err(bad(format!("bad magic {magic:#010x}"))),
    };
    if let Some(format) = format {
        return Err(PclntabError::UnsupportedMagic {
            address,
            magic,
            format,
        });
    }
    let byte = |i: usize| data.get(i).copied().unwrap_or(0xff);
    let (pad1, pad2, min_lc, ptr_size) = (byte(4), byte(5), byte(6), byte(7));
    if pad1 != 0 || pad2 != 0 {
        return Err(bad("header padding is not zero".into()));
    }
    if !matches!(min_lc, 1 | 2 | 4) {
        return Err(bad(format!(
            "instruction quantum {min_lc} is not 1, 2 or 4"
        )));
    }
    if ptr_size != 8 {
        return Err(bad(format!(
            "pointer size {ptr_size} (only 64-bit is supported)"
        )));
    }
    let word = |i: usize| {
        image
            .word_in(data, 8 + 8 * i)
            .ok_or_else(|| bad("shorter than a header".into()))
    };
    let header = Header {
        magic,
        min_lc,
        ptr_size,
        nfunc: usize::try_from(word(0)?).map_err(|_| bad("function count overflows".into()))?,
        nfiles: word(1)?,
        text_start_field: word(2)?,
        funcname_offset: word(3)?,
        cu_offset: word(4)?,
        filetab_offset: word(5)?,
        pctab_offset: word(6)?,
        pcln_offset: word(7)?,
    };
    let len = data.len() as u64;
    let ordered = HEADER_SIZE <= header.funcname_offset
        && header.funcname_offset <= header.cu_offset
        && header.cu_offset <= header.filetab_offset
        && header.filetab_offset <= header.pctab_offset
        && header.pctab_offset <= header.pcln_offset
        && header.pcln_offset < len;
    if !ordered {
        return Err(bad(format!(
            "table offsets {:#x}, {:#x}, {:#x}, {:#x}, {:#x} are not ordered inside {len:#x} bytes",
            header.funcname_offset,
            header.cu_offset,
            header.filetab_offset,
            header.pctab_offset,
            header.pcln_offset
        )));
    }
    if header.nfunc == 0 {
        return Err(bad("no functions".into()));
    }
    let ftab_bytes = (header.nfunc as u64)
        .checked_add(1)
        .and_then(|n| n.checked_mul(8));
    if ftab_bytes.is_none_or(|b| b > len - header.pcln_offset) {
        return Err(bad(format!(
            "function count {} does not fit in the table",
            header.nfunc
        )));
    }
    Ok(header)
}

/// Checks that function-table entries are sorted and their records lie in
/// the table; returns the end offset of text.
fn validate_functab(image: &ExeImage<'_>, pclntable: &[u8], nfunc: usize) -> Result<u32, String> {
    let mut previous = 0u32;
    for i in 0..=nfunc {
        let at = i * 8;
        let (Some(entry), Some(record)) =
            (image.u32_in(pclntable, at), image.u32_in(pclntable, at + 4))
        else {
            return Err(format!("function table entry {i} is past the end"));
        };
        if entry < previous {
            return Err(format!("function table is not sorted at entry {i}"));
        }
        if i < nfunc && record as usize >= pclntable.len() {
            return Err(format!(
                "function {i} record offset {record:#x} is past the end"
            ));
        }
        previous = entry;
    }
    Ok(previous)
}

/// A NUL-terminated string at `offset` in `table`; `None` when it is out of
/// bounds, unterminated or not UTF-8.
fn c_str(table: &[u8], offset: usize) -> Option<&str> {
    let rest = table.get(offset..)?;
    let len = rest.iter().position(|&b| b == 0)?;
    std::str::from_utf8(rest.get(..len)?).ok()
}

/// Reads a uvarint of at most 32 bits; returns value and bytes used.
pub(crate) fn read_varint(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for (i, &b) in bytes.iter().take(5).enumerate() {
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::read_varint;

    #[test]
    fn varints_are_bounded() {
        assert_eq!(read_varint(&[0x05]), Some((5, 1)));
        assert_eq!(read_varint(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(
            read_varint(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
            Some((u32::MAX, 5))
        );
        // Unterminated or longer than 5 bytes: rejected, not looped on.
        assert_eq!(read_varint(&[0x80, 0x80]), None);
        assert_eq!(read_varint(&[0xff; 9]), None);
        assert_eq!(read_varint(&[]), None);
    }
}
