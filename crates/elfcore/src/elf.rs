//! ELF header checks and program headers shared by cores and executables.

use crate::error::CoreError;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader as _};
use object::LittleEndian as LE;
use std::path::Path;

pub(crate) type Header64 = elf::FileHeader64<LE>;

/// The processor a core or executable is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// linux/amd64.
    X86_64,
    /// linux/arm64.
    Aarch64,
}

impl Arch {
    /// The name Go uses (`GOARCH`).
    pub fn go_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
        }
    }
    /// The name the ELF world uses.
    pub fn elf_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }
    /// Size of a pointer in bytes (both supported machines are 64-bit).
    pub fn pointer_size(self) -> usize {
        8
    }
}

/// `PF_*` bits of a program header.
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

/// One program header, copied out of the file (all types, not only loads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramHeader {
    /// `p_type` (`PT_LOAD` = 1, `PT_NOTE` = 4, ...).
    pub p_type: u32,
    /// `p_flags`: [`PF_R`] | [`PF_W`] | [`PF_X`].
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

impl ProgramHeader {
    /// `vaddr + memsz`, saturating (a damaged header cannot wrap around).
    pub fn vaddr_end(&self) -> u64 {
        self.vaddr.saturating_add(self.memsz)
    }
}

fn machine_name(e_machine: u16) -> &'static str {
    match e_machine {
        elf::EM_386 => "i386",
        elf::EM_ARM => "arm",
        elf::EM_X86_64 => "x86_64",
        elf::EM_AARCH64 => "aarch64",
        elf::EM_RISCV => "riscv",
        elf::EM_PPC => "ppc",
        elf::EM_PPC64 => "ppc64",
        elf::EM_S390 => "s390",
        elf::EM_MIPS => "mips",
        elf::EM_LOONGARCH => "loongarch",
        elf::EM_SPARCV9 => "sparc64",
        _ => "unknown",
    }
}

/// Human name of an `e_type`.
pub(crate) fn type_name(e_type: u16) -> &'static str {
    match e_type {
        elf::ET_CORE => "a core dump",
        elf::ET_EXEC => "an executable",
        elf::ET_DYN => "a position-independent executable or shared library",
        elf::ET_REL => "a relocatable object file",
        _ => "an ELF file of unknown type",
    }
}

/// A checked ELF header: magic, 64-bit, little-endian, supported machine.
pub(crate) struct CheckedHeader<'data> {
    pub header: &'data Header64,
    pub arch: Arch,
    pub e_type: u16,
}

pub(crate) fn check_header<'data>(
    path: &Path,
    data: &'data [u8],
) -> Result<CheckedHeader<'data>, CoreError> {
    if !data.starts_with(&elf::ELFMAG) {
        let first: Vec<String> = data.iter().take(8).map(|b| format!("{b:02x}")).collect();
        return Err(CoreError::NotElf {
            path: path.to_path_buf(),
            first_bytes: first.join(" "),
        });
    }
    match data.get(4) {
        Some(&elf::ELFCLASS64) => {}
        Some(&elf::ELFCLASS32) => {
            return Err(CoreError::UnsupportedClass {
                path: path.to_path_buf(),
                what: "32-bit ELF",
            })
        }
        _ => {
            return Err(CoreError::UnsupportedClass {
                path: path.to_path_buf(),
                what: "invalid EI_CLASS",
            })
        }
    }
    match data.get(5) {
        Some(&elf::ELFDATA2LSB) => {}
        Some(&elf::ELFDATA2MSB) => {
            return Err(CoreError::UnsupportedClass {
                path: path.to_path_buf(),
                what: "big-endian ELF",
            })
        }
        _ => {
            return Err(CoreError::UnsupportedClass {
                path: path.to_path_buf(),
                what: "invalid EI_DATA",
            })
        }
    }
    let header = Header64::parse(data).map_err(|e| CoreError::Malformed {
        path: path.to_path_buf(),
        what: format!("ELF header: {e}"),
    })?;
    let e_machine = header.e_machine(LE);
    let arch = match e_machine {
        elf::EM_X86_64 => Arch::X86_64,
        elf::EM_AARCH64 => Arch::Aarch64,
        other => {
            return Err(CoreError::UnsupportedMachine {
                path: path.to_path_buf(),
                machine: machine_name(other),
                e_machine: other,
            })
        }
    };
    Ok(CheckedHeader {
        header,
        arch,
        e_type: header.e_type(LE),
    })
}

/// All program headers (handles `PN_XNUM`: more than 65535 headers, the real
/// count in section header 0's `sh_info`).
pub(crate) fn program_headers(
    path: &Path,
    header: &Header64,
    data: &[u8],
) -> Result<Vec<ProgramHeader>, CoreError> {
    let phdrs = header
        .program_headers(LE, data)
        .map_err(|e| CoreError::Malformed {
            path: path.to_path_buf(),
            what: format!("program headers: {e}"),
        })?;
    // `phdrs` is a slice into `data`, so its length is already bounded by the file size.
    Ok(phdrs
        .iter()
        .map(|ph| ProgramHeader {
            p_type: ph.p_type(LE),
            flags: ph.p_flags(LE),
            offset: ph.p_offset(LE),
            vaddr: ph.p_vaddr(LE),
            filesz: ph.p_filesz(LE),
            memsz: ph.p_memsz(LE),
            align: ph.p_align(LE),
        })
        .collect())
}

/// One ELF note, borrowed from the file.
pub(crate) struct RawNote<'data> {
    pub name: &'data [u8],
    pub n_type: u32,
    pub desc: &'data [u8],
}

/// Iterates the notes in `data` (a `PT_NOTE` segment's bytes). Stops at the
/// first malformed note and reports it in `warning`.
pub(crate) fn parse_notes<'data>(
    data: &'data [u8],
    align: u64,
    warning: &mut Option<String>,
) -> Vec<RawNote<'data>> {
    let mut out = Vec::new();
    // binutils treats alignments below 4 (gdb writes 1) as 4.
    let align = if align == 8 { 8u64 } else { 4 };
    let mut iter = match object::read::elf::NoteIterator::<Header64>::new(LE, align, data) {
        Ok(it) => it,
        Err(e) => {
            *warning = Some(format!("notes: {e}"));
            return out;
        }
    };
    loop {
        match iter.next() {
            Ok(Some(note)) => out.push(RawNote {
                name: note.name(),
                n_type: note.n_type(LE),
                desc: note.desc(),
            }),
            Ok(None) => break,
            Err(e) => {
                *warning = Some(format!("notes: {e} after {} notes", out.len()));
                break;
            }
        }
    }
    out
}
