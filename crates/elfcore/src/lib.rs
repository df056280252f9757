//! mapscope-elfcore: reads ELF core dumps of linux/amd64 and linux/arm64
//! processes and the executables they ran.
//!
//! Owns:
//! - opening inputs: memory-mapping, and decompressing `.zst`/`.gz`/`.xz`
//!   (by magic bytes) into an unnamed temporary file that is then mapped —
//!   a core is never read into memory ([`Core::open`], [`Executable::open`]);
//! - the core's `PT_LOAD` segments (also `PN_XNUM` cores), marked truncated
//!   when the file ends early ([`Segment`]);
//! - the core's notes: threads and registers, process, auxiliary vector,
//!   fatal signal, file mappings ([`Thread`], [`ProcessInfo`], [`Auxv`],
//!   [`SignalInfo`], [`FileMapping`]);
//! - the executable's program headers, build ids and sections
//!   (decompressed), with `object` access for symbols and DWARF;
//! - [`ProcessMemory`]: bounds-checked reads by virtual address that fall
//!   back to the executable for pages the core lacks and report
//!   [`ReadError::Absent`] — never zeros — for bytes neither file holds;
//! - [`Region`]s like `/proc/PID/maps`, and [`match_executable`]: is this
//!   executable the file the core's process ran?
//!
//! Must not touch: anything about Go. Regions carry a [`RegionKind`] that the
//! Go runtime layer may relabel ([`relabel`]) as `GoHeap`/`GoStack`; nothing
//! here knows what those are. No output formatting either.
//!
//! Untrusted input: every count and offset read from a file is checked
//! against the bytes really there before use; a damaged core yields a
//! partial answer plus [`Core::warnings`], not a panic.

mod core;
mod elf;
mod error;
mod executable;
mod input;
mod matching;
mod memory;
mod notes;
mod regions;

pub use crate::core::{Core, CoreProducer, ImageIds, NoteSummary, Perms, Segment};
pub use crate::elf::{Arch, ProgramHeader, PF_R, PF_W, PF_X};
pub use crate::error::{CoreError, ReadError};
pub use crate::executable::{hex, ElfFile, Executable, NoteLocation, Symbol, SymbolTable};
pub use crate::input::{copy_sparse, Compression};
pub use crate::matching::{
    match_executable, place_executable, Evidence, ExecutableMatch, Placement, PlacementSource,
    Verdict,
};
pub use crate::memory::{ByteSource, MemoryRange, ProcessMemory};
pub use crate::notes::{
    auxv, signal_name, Auxv, FileMapping, FileNote, ProcessInfo, Registers, SignalInfo, Thread,
};
pub use crate::regions::{relabel, Region, RegionKind};

/// Re-exported so users of [`Executable::object`] need no own dependency.
pub use object;
