//! [`Executable`]: the ELF executable a core belongs to, memory-mapped, with
//! its program headers, build ids and sections (DWARF and friends for other
//! crates, decompressed when `SHF_COMPRESSED`).

use crate::elf::{self, Arch, Header64, ProgramHeader};
use crate::error::CoreError;
use crate::input::{open_mapped, Compression, MappedFile};
use object::elf::{ET_DYN, ET_EXEC, PT_LOAD, PT_NOTE, SHT_NOTE};
use object::read::elf::{FileHeader, SectionHeader as _};
use object::{LittleEndian as LE, Object, ObjectSection};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// The `ElfFile` type [`Executable::object`] returns.
pub type ElfFile<'data> = object::read::elf::ElfFile64<'data, LE>;

/// An ELF executable (static or PIE) for x86_64 or aarch64.
#[derive(Debug)]
pub struct Executable {
    path: PathBuf,
    file: MappedFile,
    arch: Arch,
    e_type: u16,
    entry: u64,
    program_headers: Vec<ProgramHeader>,
    gnu_build_id: Option<Vec<u8>>,
    go_build_id: Option<String>,
    build_id_locations: Vec<NoteLocation>,
}

/// Where a build-id note sits in the executable file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoteLocation {
    /// Which note: `"GNU"` or `"Go"`.
    pub owner: &'static str,
    /// File offset of the whole note (header, name, desc).
    pub offset: u64,
    /// Size of the whole note in bytes.
    pub size: u64,
}

impl Executable {
    /// Opens and memory-maps an executable (`.zst`/`.gz`/`.xz` decompressed
    /// to a temporary file first). Refuses cores (named as such), object
    /// files, non-ELF files and unsupported machines.
    pub fn open(path: impl AsRef<Path>) -> Result<Executable, CoreError> {
        let path = path.as_ref();
        let file = open_mapped(path)?;
        Self::from_mapped(path, file)
    }

    /// Parses an executable already in memory (uncompressed ELF bytes), as
    /// [`Executable::open`] parses a file; `name` stands for the path in
    /// messages. For fuzzing and tests.
    pub fn from_bytes(
        name: impl AsRef<Path>,
        bytes: impl AsRef<[u8]> + Send + Sync + 'static,
    ) -> Result<Executable, CoreError> {
        let path = name.as_ref();
        Self::from_mapped(path, MappedFile::in_memory(path, Box::new(bytes))?)
    }

    fn from_mapped(path: &Path, file: MappedFile) -> Result<Executable, CoreError> {
        let data = file.bytes();
        let checked = elf::check_header(path, data)?;
        if !matches!(checked.e_type, ET_EXEC | ET_DYN) {
            return Err(CoreError::NotAnExecutable {
                path: path.to_path_buf(),
                kind: elf::type_name(checked.e_type),
                hint: if checked.e_type == object::elf::ET_CORE {
                    "; give it as CORE and the program binary with --exe"
                } else {
                    ""
                },
            });
        }
        let program_headers = elf::program_headers(path, checked.header, data)?;
        let entry = checked.header.e_entry(LE);
        let (gnu_build_id, go_build_id, build_id_locations) =
            find_build_ids(checked.header, data, &program_headers);
        let (arch, e_type) = (checked.arch, checked.e_type);
        Ok(Executable {
            path: path.to_path_buf(),
            file,
            arch,
            e_type,
            entry,
            program_headers,
            gnu_build_id,
            go_build_id,
            build_id_locations,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn compression(&self) -> Compression {
        self.file.compression
    }
    pub fn arch(&self) -> Arch {
        self.arch
    }
    /// The whole (decompressed) file, memory-mapped.
    pub fn data(&self) -> &[u8] {
        self.file.bytes()
    }
    /// `ET_DYN`: position-independent, loaded at a bias chosen at run time.
    pub fn is_pie(&self) -> bool {
        self.e_type == ET_DYN
    }
    /// `e_entry` (link-time address).
    pub fn entry(&self) -> u64 {
        self.entry
    }
    /// All program headers in file order.
    pub fn program_headers(&self) -> &[ProgramHeader] {
        &self.program_headers
    }
    /// The `PT_LOAD` headers.
    pub fn load_segments(&self) -> impl Iterator<Item = &ProgramHeader> + '_ {
        self.program_headers.iter().filter(|p| p.p_type == PT_LOAD)
    }
    /// The GNU build id (`NT_GNU_BUILD_ID` note) bytes.
    pub fn gnu_build_id(&self) -> Option<&[u8]> {
        self.gnu_build_id.as_deref()
    }
    /// The GNU build id as lowercase hex (how pprof mappings store it).
    pub fn gnu_build_id_hex(&self) -> Option<String> {
        self.gnu_build_id.as_deref().map(hex)
    }
    /// The Go build id (`Go` note, type 4), e.g. `"abc.../def..."`.
    pub fn go_build_id(&self) -> Option<&str> {
        self.go_build_id.as_deref()
    }
    /// File locations of the build-id notes (to compare with a core's copy).
    pub fn build_id_notes(&self) -> &[NoteLocation] {
        &self.build_id_locations
    }

    /// The full `object` view of the file, for symbols, sections and DWARF.
    /// Parsing is cheap (headers only); call it where needed.
    pub fn object(&self) -> Result<ElfFile<'_>, CoreError> {
        ElfFile::parse(self.data()).map_err(|e| CoreError::Malformed {
            path: self.path.clone(),
            what: format!("{e}"),
        })
    }

    /// The contents of section `name`, decompressed if `SHF_COMPRESSED`
    /// (zlib/zstd) or a `.zdebug_*` section. `Ok(None)` if there is no such
    /// section (or it occupies no file bytes, like `.bss`).
    pub fn section_data(&self, name: &str) -> Result<Option<Cow<'_, [u8]>>, CoreError> {
        let file = self.object()?;
        let Some(section) = file.section_by_name(name) else {
            return Ok(None);
        };
        if section.file_range().is_none() {
            return Ok(None);
        }
        section
            .uncompressed_data()
            .map(Some)
            .map_err(|e| CoreError::Section {
                path: self.path.clone(),
                section: name.to_string(),
                what: e.to_string(),
            })
    }

    /// `(address, size)` of section `name` at its link-time address.
    pub fn section_range(&self, name: &str) -> Result<Option<(u64, u64)>, CoreError> {
        let file = self.object()?;
        Ok(file.section_by_name(name).map(|s| (s.address(), s.size())))
    }

    /// Maps a link-time virtual address to a file offset through the
    /// `PT_LOAD` headers (`None` for bss or unmapped addresses).
    pub fn vaddr_to_offset(&self, vaddr: u64) -> Option<u64> {
        self.load_segments().find_map(|p| {
            let delta = vaddr.checked_sub(p.vaddr)?;
            (delta < p.filesz.min(p.memsz))
                .then(|| p.offset.checked_add(delta))
                .flatten()
        })
    }
}

/// A function symbol of the executable's ELF symbol table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    pub name: String,
    /// Link-time address.
    pub address: u64,
    pub size: u64,
}

/// Function symbols sorted by address, for address → name lookups.
#[derive(Clone, Debug, Default)]
pub struct SymbolTable {
    symbols: Vec<Symbol>,
}

impl SymbolTable {
    /// The function containing link-time address `vaddr` (a symbol of size
    /// 0 covers up to the next symbol).
    pub fn lookup(&self, vaddr: u64) -> Option<&Symbol> {
        let i = self
            .symbols
            .partition_point(|s| s.address <= vaddr)
            .checked_sub(1)?;
        let s = self.symbols.get(i)?;
        let inside = s.size == 0 || vaddr - s.address < s.size;
        inside.then_some(s)
    }
    pub fn len(&self) -> usize {
        self.symbols.len()
    }
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
}

impl Executable {
    /// The function symbols of `.symtab` (or `.dynsym`); empty when stripped.
    pub fn symbols(&self) -> Result<SymbolTable, CoreError> {
        use object::ObjectSymbol;
        let file = self.object()?;
        let mut symbols: Vec<Symbol> = file
            .symbols()
            .chain(file.dynamic_symbols())
            .filter(|s| s.kind() == object::SymbolKind::Text && s.address() != 0)
            .filter_map(|s| {
                Some(Symbol {
                    name: s.name().ok()?.to_string(),
                    address: s.address(),
                    size: s.size(),
                })
            })
            .collect();
        symbols.sort_by(|a, b| a.address.cmp(&b.address).then(b.size.cmp(&a.size)));
        symbols.dedup_by_key(|s| s.address);
        Ok(SymbolTable { symbols })
    }
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

type BuildIds = (Option<Vec<u8>>, Option<String>, Vec<NoteLocation>);

/// Build ids from `PT_NOTE` segments and `SHT_NOTE` sections (Go's linker
/// puts the GNU build id in a section outside any `PT_NOTE`).
fn find_build_ids(header: &Header64, data: &[u8], phdrs: &[ProgramHeader]) -> BuildIds {
    let mut regions: Vec<(u64, u64, u64)> = phdrs
        .iter()
        .filter(|p| p.p_type == PT_NOTE)
        .map(|p| (p.offset, p.filesz, p.align))
        .collect();
    if let Ok(sections) = header.sections(LE, data) {
        for s in sections.iter() {
            if s.sh_type(LE) == SHT_NOTE {
                regions.push((s.sh_offset(LE), s.sh_size(LE), s.sh_addralign(LE)));
            }
        }
    }
    let mut gnu = None;
    let mut go = None;
    let mut locations = Vec::new();
    for (offset, size, align) in regions {
        let Some(bytes) = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(o, n)| data.get(o..o.checked_add(n)?))
        else {
            continue;
        };
        let mut warning = None;
        for note in elf::parse_notes(bytes, align, &mut warning) {
            // The note's own offset: name and desc are slices of `bytes`,
            // and the 12-byte header precedes the name.
            let base = bytes.as_ptr() as usize;
            let note_start = (note.name.as_ptr() as usize)
                .checked_sub(base)
                .and_then(|v| v.checked_sub(12));
            let note_end = (note.desc.as_ptr() as usize)
                .checked_sub(base)
                .and_then(|v| v.checked_add(note.desc.len()));
            let loc = |owner| {
                let (start, end) = (note_start?, note_end?);
                Some(NoteLocation {
                    owner,
                    offset: offset.checked_add(start as u64)?,
                    size: end.checked_sub(start)? as u64,
                })
            };
            match (note.name, note.n_type) {
                (b"GNU", object::elf::NT_GNU_BUILD_ID) if gnu.is_none() => {
                    gnu = Some(note.desc.to_vec());
                    locations.extend(loc("GNU"));
                }
                (b"Go", 4) if go.is_none() => {
                    go = Some(String::from_utf8_lossy(note.desc).into_owned());
                    locations.extend(loc("Go"));
                }
                _ => {}
            }
        }
    }
    (gnu, go, locations)
}
