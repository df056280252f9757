//! A read-only view of an executable's file bytes addressed by virtual
//! address, built from its loadable segments and named sections.
//!
//! Owns: translating a link-time virtual address into a slice of the
//! executable file. It knows nothing about cores or the process's memory;
//! for a PIE the caller subtracts the load bias before asking.

use object::{Object, ObjectSection, ObjectSegment, SectionKind, SegmentFlags};

/// Machine the executable was built for; decides unwinding rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Amd64,
    Arm64,
    Other,
}

/// One loadable segment (`PT_LOAD`) of the executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    pub address: u64,
    /// Size in memory (`p_memsz`).
    pub mem_size: u64,
    pub file_offset: u64,
    /// Bytes present in the file (`p_filesz`); the rest is zero-filled (bss).
    pub file_size: u64,
    pub writable: bool,
    pub executable: bool,
}

/// One named, allocated section with its bytes in the file.
#[derive(Debug, Clone, Copy)]
pub struct NamedSection<'a> {
    pub name: &'a str,
    pub address: u64,
    pub size: u64,
    /// File bytes; empty for `SHT_NOBITS` sections such as `.bss`.
    pub data: &'a [u8],
}

/// Errors while opening the executable as an object file.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("not a readable object file: {0}")]
    Object(#[from] object::Error),
    #[error("{0}-bit executables are not supported (only 64-bit)")]
    UnsupportedClass(u8),
}

/// Virtual-address view of an executable's bytes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ExeImage<'a> {
    bytes: &'a [u8],
    segments: Vec<(LoadSegment, &'a [u8])>,
    sections: Vec<NamedSection<'a>>,
    little_endian: bool,
    ptr_size: u8,
    arch: Arch,
}

impl<'a> ExeImage<'a> {
    /// Parses `bytes` as an object file (ELF in practice).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ImageError> {
        let file = object::File::parse(bytes)?;
        Self::from_object(bytes, &file)
    }

    /// Builds the view from an already parsed object file over `bytes`.
    pub fn from_object(bytes: &'a [u8], file: &object::File<'a>) -> Result<Self, ImageError> {
        if !file.is_64() {
            return Err(ImageError::UnsupportedClass(32));
        }
        let mut segments = Vec::new();
        for segment in file.segments() {
            let (file_offset, file_size) = segment.file_range();
            let (writable, executable) = match segment.flags() {
                SegmentFlags::Elf { p_flags } => (p_flags & 2 != 0, p_flags & 1 != 0),
                _ => (false, false),
            };
            // A segment whose file range lies outside the file is kept with
            // no bytes: addresses in it read as absent.
            let data = segment.data().unwrap_or(&[]);
            segments.push((
                LoadSegment {
                    address: segment.address(),
                    mem_size: segment.size(),
                    file_offset,
                    file_size,
                    writable,
                    executable,
                },
                data,
            ));
        }
        let mut sections = Vec::new();
        for section in file.sections() {
            let Ok(name) = section.name() else { continue };
            if section.address() == 0 {
                continue; // not allocated (debug info, symbol tables)
            }
            let data = match section.kind() {
                SectionKind::UninitializedData | SectionKind::UninitializedTls => &[][..],
                _ => section.data().unwrap_or(&[]),
            };
            sections.push(NamedSection {
                name,
                address: section.address(),
                size: section.size(),
                data,
            });
        }
        let arch = match file.architecture() {
            object::Architecture::X86_64 => Arch::Amd64,
            object::Architecture::Aarch64 => Arch::Arm64,
            _ => Arch::Other,
        };
        Ok(ExeImage {
            bytes,
            segments,
            sections,
            little_endian: file.is_little_endian(),
            ptr_size: 8,
            arch,
        })
    }

    /// The whole executable file.
    pub fn file_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    pub fn ptr_size(&self) -> u8 {
        self.ptr_size
    }

    pub fn is_little_endian(&self) -> bool {
        self.little_endian
    }

    /// Loadable segments in file order with their file bytes.
    pub fn segments(&self) -> impl Iterator<Item = (LoadSegment, &'a [u8])> + '_ {
        self.segments.iter().copied()
    }

    /// Allocated sections (section headers may be absent: then none).
    pub fn sections(&self) -> &[NamedSection<'a>] {
        &self.sections
    }

    pub fn section(&self, name: &str) -> Option<NamedSection<'a>> {
        self.sections.iter().find(|s| s.name == name).copied()
    }

    /// File bytes from `address` to the end of its segment's file data.
    pub fn bytes_from(&self, address: u64) -> Option<&'a [u8]> {
        self.segments.iter().find_map(|(seg, data)| {
            let offset = address.checked_sub(seg.address)?;
            if offset >= data.len() as u64 {
                return None;
            }
            data.get(usize::try_from(offset).ok()?..)
        })
    }

    /// Exactly `len` file bytes at `address`, all inside one segment.
    pub fn bytes_at(&self, address: u64, len: u64) -> Option<&'a [u8]> {
        let rest = self.bytes_from(address)?;
        rest.get(..usize::try_from(len).ok()?)
    }

    pub fn read_u32(&self, address: u64) -> Option<u32> {
        let b: [u8; 4] = self.bytes_at(address, 4)?.try_into().ok()?;
        Some(if self.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    pub fn read_u64(&self, address: u64) -> Option<u64> {
        let b: [u8; 8] = self.bytes_at(address, 8)?.try_into().ok()?;
        Some(if self.little_endian {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }

    /// Reads a pointer-sized word.
    pub fn read_ptr(&self, address: u64) -> Option<u64> {
        self.read_u64(address)
    }

    /// Decodes a word of this image's byte order from `bytes` at `offset`.
    pub(crate) fn word_in(&self, bytes: &[u8], offset: usize) -> Option<u64> {
        let b: [u8; 8] = bytes.get(offset..offset.checked_add(8)?)?.try_into().ok()?;
        Some(if self.little_endian {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }

    pub(crate) fn u32_in(&self, bytes: &[u8], offset: usize) -> Option<u32> {
        let b: [u8; 4] = bytes.get(offset..offset.checked_add(4)?)?.try_into().ok()?;
        Some(if self.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
}
