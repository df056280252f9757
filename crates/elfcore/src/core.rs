//! [`Core`]: one ELF core dump, memory-mapped, with its `PT_LOAD` segments
//! and parsed notes.

use crate::elf::{self, Arch, ProgramHeader, PF_R, PF_W, PF_X};
use crate::error::{CoreError, ReadError};
use crate::input::{open_mapped, Compression, MappedFile};
use crate::memory::{Backing, PieceTable, Span};
use crate::notes::{
    self, auxv, Auxv, CoreNotes, FileMapping, FileNote, ProcessInfo, SignalInfo, Thread,
};
use object::elf::{ET_CORE, PT_LOAD, PT_NOTE};
use std::path::{Path, PathBuf};

/// Read/write/execute permissions of a segment or region.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Perms {
    pub(crate) fn from_flags(flags: u32) -> Perms {
        Perms {
            read: flags & PF_R != 0,
            write: flags & PF_W != 0,
            exec: flags & PF_X != 0,
        }
    }
}

impl std::fmt::Display for Perms {
    /// `/proc/PID/maps` style, e.g. `r-xp`. A core does not record whether a
    /// mapping was shared, so the fourth column is always `p`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = if self.read { 'r' } else { '-' };
        let w = if self.write { 'w' } else { '-' };
        let x = if self.exec { 'x' } else { '-' };
        write!(f, "{r}{w}{x}p")
    }
}

/// A `PT_LOAD` segment of a core: `[vaddr, vaddr + memsz)` of the process,
/// of which the first `present` bytes are in the file at `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Position among the core's program headers (all types).
    pub index: usize,
    pub vaddr: u64,
    pub memsz: u64,
    pub filesz: u64,
    pub offset: u64,
    /// `p_flags` ([`elf::PF_R`] etc.).
    pub flags: u32,
    /// Bytes of this segment actually in the file: `filesz`, or fewer when
    /// the file ends early.
    pub present: u64,
    /// The file ends before `offset + filesz`: a truncated core.
    pub truncated: bool,
}

impl Segment {
    /// `vaddr + memsz` (headers with overflowing ranges are dropped at open).
    pub fn end(&self) -> u64 {
        self.vaddr.saturating_add(self.memsz)
    }
    pub fn perms(&self) -> Perms {
        Perms::from_flags(self.flags)
    }
    pub fn contains(&self, addr: u64) -> bool {
        self.vaddr <= addr && addr < self.end()
    }
}

/// Which program wrote a core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreProducer {
    /// The Linux kernel (no section headers, except section 0 for `PN_XNUM`).
    Kernel,
    /// gdb's `gcore` (section headers named `note0`, `load`).
    Gdb,
    /// Something else (has section headers of other names).
    Other,
}

/// One note's header, as `readelf -n` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSummary {
    /// Owner name (`CORE`, `LINUX`, ...).
    pub owner: String,
    pub n_type: u32,
    /// Descriptor size in bytes.
    pub size: usize,
}

/// An ELF core dump of a linux/amd64 or linux/arm64 process.
#[derive(Debug)]
pub struct Core {
    path: PathBuf,
    file: MappedFile,
    arch: Arch,
    program_headers: Vec<ProgramHeader>,
    segments: Vec<Segment>,
    notes: CoreNotes,
    warnings: Vec<String>,
    note_list: Vec<NoteSummary>,
    producer: CoreProducer,
    /// Core-only address translation (no executable fallback).
    present: PieceTable,
}

impl Core {
    /// Opens and memory-maps a core file (`.zst`, `.gz` and `.xz` are
    /// recognised by their magic bytes and decompressed into a temporary file
    /// first). Fails for non-ELF files, non-core ELF files (an executable is
    /// named as such), unsupported machines and unreadable program headers.
    /// Damaged notes and truncated segments are not fatal: they are listed
    /// in [`Core::warnings`] and [`Segment::truncated`].
    pub fn open(path: impl AsRef<Path>) -> Result<Core, CoreError> {
        let path = path.as_ref();
        let file = open_mapped(path)?;
        Self::from_mapped(path, file)
    }

    /// Parses a core already in memory (uncompressed ELF bytes), exactly as
    /// [`Core::open`] parses a file; `name` stands for the path in messages.
    /// For fuzzing and tests that patch an image without touching disk.
    pub fn from_bytes(
        name: impl AsRef<Path>,
        bytes: impl AsRef<[u8]> + Send + Sync + 'static,
    ) -> Result<Core, CoreError> {
        let path = name.as_ref();
        Self::from_mapped(path, MappedFile::in_memory(path, Box::new(bytes))?)
    }

    fn from_mapped(path: &Path, file: MappedFile) -> Result<Core, CoreError> {
        let data = file.bytes();
        let checked = elf::check_header(path, data)?;
        if checked.e_type != ET_CORE {
            return Err(CoreError::NotACore {
                path: path.to_path_buf(),
                kind: elf::type_name(checked.e_type),
                hint: if matches!(checked.e_type, object::elf::ET_EXEC | object::elf::ET_DYN) {
                    "; pass it with --exe and give the core file as CORE"
                } else {
                    ""
                },
            });
        }
        let arch = checked.arch;
        let program_headers = elf::program_headers(path, checked.header, data)?;
        let file_len = data.len() as u64;
        let mut warnings = Vec::new();
        let mut segments = Vec::new();
        for (index, ph) in program_headers.iter().enumerate() {
            if ph.p_type != PT_LOAD {
                continue;
            }
            if ph.vaddr.checked_add(ph.memsz).is_none() {
                warnings.push(format!(
                    "program header {index}: range {:#x} + {:#x} overflows; ignored",
                    ph.vaddr, ph.memsz
                ));
                continue;
            }
            let (present, truncated) = present_bytes(ph.offset, ph.filesz.min(ph.memsz), file_len);
            if ph.filesz > ph.memsz {
                warnings.push(format!(
                    "program header {index}: p_filesz {:#x} exceeds p_memsz {:#x}; using p_memsz",
                    ph.filesz, ph.memsz
                ));
            }
            segments.push(Segment {
                index,
                vaddr: ph.vaddr,
                memsz: ph.memsz,
                filesz: ph.filesz,
                offset: ph.offset,
                flags: ph.flags,
                present,
                truncated,
            });
        }
        segments.sort_by_key(|s| (s.vaddr, s.index));
        let truncated = segments.iter().filter(|s| s.truncated).count();
        if truncated > 0 {
            let declared = declared_size(&program_headers);
            let missing = declared.saturating_sub(file_len);
            warnings.push(format!(
                "the core is truncated: the file has {file_len} of the {declared} bytes its headers declare ({missing} bytes, {:.1}% missing); {truncated} of {} segments end past the end of the file",
                if declared > 0 { missing as f64 * 100.0 / declared as f64 } else { 0.0 },
                segments.len()
            ));
        }

        let mut parsed = CoreNotes::default();
        let mut note_list = Vec::new();
        for (index, ph) in program_headers.iter().enumerate() {
            if ph.p_type != PT_NOTE {
                continue;
            }
            let (present, cut) = present_bytes(ph.offset, ph.filesz, file_len);
            if cut {
                warnings.push(format!(
                    "note segment {index} is truncated: {present} of {} bytes present",
                    ph.filesz
                ));
            }
            let bytes = usize::try_from(ph.offset)
                .ok()
                .and_then(|off| data.get(off..off.checked_add(usize::try_from(present).ok()?)?))
                .unwrap_or(&[]);
            let mut warning = None;
            let raw = elf::parse_notes(bytes, ph.align, &mut warning);
            note_list.extend(raw.iter().map(|n| NoteSummary {
                owner: String::from_utf8_lossy(n.name).into_owned(),
                n_type: n.n_type,
                size: n.desc.len(),
            }));
            notes::collect(arch, &raw, &mut parsed);
            if let Some(w) = warning {
                warnings.push(format!("note segment {index}: {w}"));
            }
        }
        warnings.append(&mut parsed.warnings);
        if parsed.threads.is_empty() {
            warnings.push("no NT_PRSTATUS notes: the core lists no threads".into());
        }

        let present = PieceTable::build(
            segments
                .iter()
                .map(|s| Span {
                    start: s.vaddr,
                    end: s.vaddr.saturating_add(s.present),
                    priority: 0,
                    backing: Backing::Core(s.offset),
                })
                .collect(),
        );
        let producer = producer(checked.header, data);
        Ok(Core {
            path: path.to_path_buf(),
            file,
            arch,
            program_headers,
            segments,
            notes: parsed,
            warnings,
            note_list,
            producer,
            present,
        })
    }

    /// Every note in file order (owner, type, size), like `readelf -n`.
    pub fn note_list(&self) -> &[NoteSummary] {
        &self.note_list
    }
    /// Which program wrote the core (kernel or gdb), from its section headers.
    pub fn producer(&self) -> CoreProducer {
        self.producer
    }
    /// The path this core was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// How the file was stored on disk (decompressed to a temporary file
    /// unless `Compression::None`).
    pub fn compression(&self) -> Compression {
        self.file.compression
    }
    pub fn arch(&self) -> Arch {
        self.arch
    }
    /// The (decompressed) core file's bytes: one memory map.
    pub fn data(&self) -> &[u8] {
        self.file.bytes()
    }
    /// The file behind [`Core::data`] (for page-cache advice in `memory`).
    pub(crate) fn mapped(&self) -> &MappedFile {
        &self.file
    }
    /// Bytes the core's headers declare: the end of the furthest segment
    /// or note in the file (`p_offset + p_filesz`), at least the file's
    /// size. Larger than [`Core::file_size`] for a cut core.
    pub fn declared_size(&self) -> u64 {
        declared_size(&self.program_headers).max(self.file_size())
    }
    /// Size of the (decompressed) core file in bytes.
    pub fn file_size(&self) -> u64 {
        self.file.bytes().len() as u64
    }
    /// All program headers, in file order (`PT_NOTE`, `PT_LOAD`, ...).
    pub fn program_headers(&self) -> &[ProgramHeader] {
        &self.program_headers
    }
    /// `PT_LOAD` segments sorted by address.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
    /// The segment containing `addr`, if any.
    pub fn segment_at(&self, addr: u64) -> Option<&Segment> {
        let i = self.segments.partition_point(|s| s.vaddr <= addr);
        // Segments do not normally overlap; look back a little in case they do.
        self.segments
            .get(..i)?
            .iter()
            .rev()
            .take(4)
            .find(|s| s.contains(addr))
    }
    /// True when no segment is truncated.
    pub fn is_complete(&self) -> bool {
        !self.segments.iter().any(|s| s.truncated)
    }
    /// Threads in note order (the first is the thread that received the
    /// fatal signal in a kernel core).
    pub fn threads(&self) -> &[Thread] {
        &self.notes.threads
    }
    /// The main thread (thread id == process id), else the first thread.
    pub fn main_thread(&self) -> Option<&Thread> {
        let pid = self.notes.process.as_ref().map(|p| p.pid);
        self.notes
            .threads
            .iter()
            .find(|t| Some(t.tid) == pid)
            .or_else(|| self.notes.threads.first())
    }
    /// `NT_PRPSINFO`.
    pub fn process(&self) -> Option<&ProcessInfo> {
        self.notes.process.as_ref()
    }
    /// `NT_AUXV`.
    pub fn auxv(&self) -> Option<&Auxv> {
        self.notes.auxv.as_ref()
    }
    /// The signal that killed the process: the first `NT_SIGINFO` with a
    /// signal number, else the first thread's `pr_cursig`.
    pub fn signal(&self) -> Option<SignalInfo> {
        if let Some(s) = self.notes.signals.iter().find(|s| s.signo != 0) {
            return Some(*s);
        }
        let t = self.notes.threads.iter().find(|t| t.current_signal != 0)?;
        Some(SignalInfo {
            signo: i32::from(t.current_signal),
            errno: 0,
            code: 0,
            fault_addr: None,
            sender_pid: None,
        })
    }
    /// `NT_FILE`, if the core has one.
    pub fn file_note(&self) -> Option<&FileNote> {
        self.notes.files.as_ref()
    }
    /// File-backed mappings from `NT_FILE` (empty without one), in note order.
    pub fn file_mappings(&self) -> &[FileMapping] {
        self.notes
            .files
            .as_ref()
            .map(|f| f.mappings.as_slice())
            .unwrap_or(&[])
    }
    /// Problems found while opening that did not stop it (truncation,
    /// damaged notes, ...), one line each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The main executable's path as the core recorded it: the `NT_FILE`
    /// mapping containing `AT_ENTRY` (or `AT_PHDR`), else the first mapping
    /// whose file name starts with the command name from `NT_PRPSINFO`.
    pub fn executable_path(&self) -> Option<&str> {
        let files = self.file_mappings();
        let by_aux = self.auxv().and_then(|a| {
            [auxv::AT_ENTRY, auxv::AT_PHDR]
                .iter()
                .filter_map(|k| a.get(*k))
                .find_map(|addr| files.iter().find(|m| m.contains(addr)))
        });
        if let Some(m) = by_aux {
            return Some(&m.path);
        }
        let comm = self
            .process()
            .map(|p| p.command.as_str())
            .filter(|c| !c.is_empty())?;
        files
            .iter()
            .find(|m| file_name(&m.path).starts_with(comm))
            .map(|m| m.path.as_str())
    }

    /// `NT_FILE` mappings of the main executable (see [`Core::executable_path`]).
    pub fn executable_mappings(&self) -> Vec<&FileMapping> {
        match self.executable_path() {
            Some(p) => self
                .file_mappings()
                .iter()
                .filter(|m| m.path == p)
                .collect(),
            None => Vec::new(),
        }
    }

    /// Copies bytes at `addr` from the core file alone (no executable
    /// fallback). Use [`crate::ProcessMemory`] for the full process image.
    pub fn read_present(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.present.read(self.data(), &[], addr, buf)
    }

    /// Looks for ELF build-id notes in the core's copy of a mapped ELF
    /// image's first page (the kernel dumps first pages of ELF mappings).
    /// `Err` if the page is not in the core.
    pub fn image_ids_at(&self, image_start: u64) -> Result<ImageIds, ReadError> {
        let mut page = [0u8; 4096];
        self.read_present(image_start, &mut page)?;
        Ok(scan_build_id_notes(&page))
    }
}

/// The end of the furthest program header's bytes in the file.
fn declared_size(program_headers: &[ProgramHeader]) -> u64 {
    program_headers
        .iter()
        .map(|ph| ph.offset.saturating_add(ph.filesz))
        .max()
        .unwrap_or(0)
}

/// Build ids found in the first page of a mapped ELF image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageIds {
    /// The `NT_GNU_BUILD_ID` note's bytes.
    pub gnu_build_id: Option<Vec<u8>>,
    /// The Go build id (`Go` note, type 4).
    pub go_build_id: Option<String>,
}

/// Finds `GNU`/3 and `Go`/4 notes at 4-byte aligned offsets of `page`
/// (section headers are not mapped, so scan for the note header shape).
pub(crate) fn scan_build_id_notes(page: &[u8]) -> ImageIds {
    let mut ids = ImageIds::default();
    let mut off = 0usize;
    while off.saturating_add(16) <= page.len() {
        let namesz = notes::le_u32(page, off);
        let descsz = notes::le_u32(page, off + 4).unwrap_or(0) as usize;
        let n_type = notes::le_u32(page, off + 8);
        let name = page.get(off + 12..off + 16);
        let desc = page.get(off + 16..(off + 16).saturating_add(descsz));
        match (namesz, n_type, name, desc) {
            (Some(4), Some(3), Some(b"GNU\0"), Some(d))
                if (8..=64).contains(&descsz) && ids.gnu_build_id.is_none() =>
            {
                ids.gnu_build_id = Some(d.to_vec());
            }
            (Some(4), Some(4), Some(b"Go\0\0"), Some(d))
                if (8..=256).contains(&descsz) && ids.go_build_id.is_none() =>
            {
                ids.go_build_id = Some(String::from_utf8_lossy(d).into_owned());
            }
            _ => {}
        }
        off += 4;
    }
    ids
}

/// Kernel cores have no section headers (only section 0 when `PN_XNUM`);
/// gdb names its sections `note0`, `load`, ...
fn producer(header: &elf::Header64, data: &[u8]) -> CoreProducer {
    use object::read::elf::FileHeader as _;
    let Ok(sections) = header.sections(object::LittleEndian, data) else {
        return CoreProducer::Other;
    };
    if sections.len() <= 1 {
        return CoreProducer::Kernel;
    }
    let gdb = sections.iter().any(|s| {
        matches!(
            sections.section_name(object::LittleEndian, s),
            Ok(b"note0") | Ok(b"load")
        )
    });
    if gdb {
        CoreProducer::Gdb
    } else {
        CoreProducer::Other
    }
}

/// Bytes of `[offset, offset + size)` present in a file of `file_len` bytes,
/// and whether the range was cut short.
fn present_bytes(offset: u64, size: u64, file_len: u64) -> (u64, bool) {
    let available = file_len.saturating_sub(offset);
    if size <= available {
        (size, false)
    } else {
        (available, true)
    }
}

/// The last component of a path as stored in `NT_FILE`.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_scan_finds_gnu_and_go_notes() {
        let mut page = vec![0u8; 256];
        let gnu = [4u32.to_le_bytes(), 20u32.to_le_bytes(), 3u32.to_le_bytes()].concat();
        page[100..112].copy_from_slice(&gnu);
        page[112..116].copy_from_slice(b"GNU\0");
        page[116..136].copy_from_slice(&[0xab; 20]);
        let go = [4u32.to_le_bytes(), 8u32.to_le_bytes(), 4u32.to_le_bytes()].concat();
        page[20..32].copy_from_slice(&go);
        page[32..36].copy_from_slice(b"Go\0\0");
        page[36..44].copy_from_slice(b"abcdefgh");
        let ids = scan_build_id_notes(&page);
        assert_eq!(ids.gnu_build_id, Some(vec![0xab; 20]));
        assert_eq!(ids.go_build_id.as_deref(), Some("abcdefgh"));
        // A note header at the very end: no out-of-bounds read.
        let ids = scan_build_id_notes(&page[..120]);
        assert_eq!(ids.gnu_build_id, None);
    }

    #[test]
    fn present_bytes_clamps_to_the_file() {
        assert_eq!(present_bytes(100, 50, 1000), (50, false));
        assert_eq!(present_bytes(100, 50, 120), (20, true));
        assert_eq!(present_bytes(u64::MAX, 50, 120), (0, true));
    }
}
