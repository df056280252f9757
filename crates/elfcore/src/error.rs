//! The crate's two error types: [`CoreError`] for opening and parsing a file,
//! [`ReadError`] for reading process memory by address.

use std::path::PathBuf;

/// Why a core or an executable could not be opened or understood.
///
/// Every variant names the file; the `Display` text is one line.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The file could not be opened, read, or memory-mapped.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// Decompressing a `.zst`/`.gz`/`.xz` file into a temporary file failed.
    /// The message names the compressed file; the temporary directory only
    /// when the failure is on its side (full, read-only, missing), never a
    /// temporary file.
    #[error("{}: cannot decompress {format} data{}: {source}", path.display(), temp_side(temp_dir, source))]
    Decompress {
        path: PathBuf,
        format: &'static str,
        temp_dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A compression format this crate does not read.
    #[error("{}: {format}-compressed; decompress it first (e.g. `{hint}`)", path.display())]
    UnsupportedCompression {
        path: PathBuf,
        format: &'static str,
        hint: &'static str,
    },
    /// The file does not start with the ELF magic.
    #[error("{}: not an ELF file (first bytes: {first_bytes})", path.display())]
    NotElf { path: PathBuf, first_bytes: String },
    /// 32-bit or big-endian ELF: not a linux/amd64 or linux/arm64 file.
    #[error("{}: unsupported ELF class or byte order ({what}); only 64-bit little-endian (x86_64, aarch64) is supported", path.display())]
    UnsupportedClass { path: PathBuf, what: &'static str },
    /// An ELF file of a machine other than x86_64 or aarch64.
    #[error("{}: unsupported machine {machine} (e_machine {e_machine}); only x86_64 and aarch64 are supported", path.display())]
    UnsupportedMachine {
        path: PathBuf,
        machine: &'static str,
        e_machine: u16,
    },
    /// An executable (or other non-core ELF) was given where a core was expected.
    #[error("{}: this is {kind}, not a core dump{hint}", path.display())]
    NotACore {
        path: PathBuf,
        kind: &'static str,
        hint: &'static str,
    },
    /// A core dump (or other non-executable ELF) was given where an executable was expected.
    #[error("{}: this is {kind}, not an executable{hint}", path.display())]
    NotAnExecutable {
        path: PathBuf,
        kind: &'static str,
        hint: &'static str,
    },
    /// The ELF structure is damaged in a way that leaves nothing to read.
    #[error("{}: malformed ELF: {what}", path.display())]
    Malformed { path: PathBuf, what: String },
    /// A section could not be read or decompressed.
    #[error("{}: section {section}: {what}", path.display())]
    Section {
        path: PathBuf,
        section: String,
        what: String,
    },
}

/// Why bytes at a virtual address could not be read.
///
/// `Copy` and allocation-free: the Go runtime layer reads memory thousands of
/// times and often treats an error as "stop following this pointer".
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// No segment of the core and no part of the executable covers `addr`:
    /// the process had nothing mapped there.
    #[error("address {addr:#x} is not mapped in the process")]
    Unmapped { addr: u64 },
    /// `addr` was mapped, but neither the core nor the executable holds its
    /// bytes (the kernel left the page out). Never read as zeros.
    #[error("address {addr:#x} is mapped but its bytes are not in the core or the executable")]
    Absent { addr: u64 },
    /// `addr + len` overflows the address space.
    #[error("range at {addr:#x} of {len} bytes overflows the address space")]
    Overflow { addr: u64, len: u64 },
    /// `bytes()` was asked for a range that crosses from one backing file to
    /// another (or to a non-adjacent file offset); use `read()` into a buffer.
    #[error(
        "range at {addr:#x} of {len} bytes is not contiguous in one file; read it into a buffer"
    )]
    Discontiguous { addr: u64, len: u64 },
}

impl ReadError {
    /// The address the error is about.
    pub fn addr(&self) -> u64 {
        match *self {
            ReadError::Unmapped { addr }
            | ReadError::Absent { addr }
            | ReadError::Overflow { addr, .. }
            | ReadError::Discontiguous { addr, .. } => addr,
        }
    }
}

/// " (into a temporary file under DIR)" when `e` is a failure to create or
/// write the temporary file, else nothing: damaged compressed data is the
/// input's fault and names the input alone.
fn temp_side(temp_dir: &std::path::Path, e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::StorageFull
        | K::QuotaExceeded
        | K::FileTooLarge
        | K::PermissionDenied
        | K::ReadOnlyFilesystem
        | K::NotFound => format!(" (into a temporary file under {})", temp_dir.display()),
        _ => String::new(),
    }
}
