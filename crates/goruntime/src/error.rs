//! Errors of the Go process model ([`crate::process`]) and of everything
//! built on it (layouts, the heap walk). One line each; every variant says
//! which file, address or runtime structure is involved.

use std::path::PathBuf;

use mapscope_elfcore::{CoreError, ReadError};

/// Why the Go view of a process could not be built or a question about it
/// could not be answered at all. Partial answers come with warnings instead.
#[derive(Debug, thiserror::Error)]
pub enum GoRuntimeError {
    /// The core or the executable could not be opened.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// No executable was given and the core's `NT_FILE` note names none
    /// that exists on disk.
    #[error("{}: no executable given and the core names none that exists on disk{}", core.display(), .named.as_deref().map(|p| format!(" (NT_FILE names {p})")).unwrap_or_default())]
    NoExecutable {
        core: PathBuf,
        named: Option<String>,
    },
    /// The executable has neither Go build info nor a Go pclntab.
    #[error("{}: not a Go executable (no Go build info and no pclntab: {reason})", path.display())]
    NotGo { path: PathBuf, reason: String },
    /// The executable has no DWARF, so runtime struct layouts are unknown.
    /// Version, symbols and pclntab still work; the heap walk does not.
    #[error("{}: no DWARF (stripped, or built with -ldflags=-w): runtime struct layouts are unknown, so {what} is not available", path.display())]
    NoDwarf { path: PathBuf, what: &'static str },
    /// A runtime type, member or constant the model needs is missing from
    /// the DWARF (a Go release this code does not know yet, or damage).
    #[error("DWARF lacks {what}: cannot {purpose}")]
    MissingLayout { what: String, purpose: &'static str },
    /// A runtime global the model needs is not in DWARF nor the symbol table.
    #[error("runtime global {name} not found in DWARF or the symbol table")]
    MissingGlobal { name: &'static str },
    /// A cached analysis (layout, heap walk) failed earlier; the reason is
    /// repeated for every caller.
    #[error("{what} unavailable: {reason}")]
    Unavailable { what: &'static str, reason: String },
    /// Memory the model must read is not in the core nor the executable.
    #[error("reading {what}: {source}")]
    Read {
        what: &'static str,
        #[source]
        source: ReadError,
    },
    /// A value read from the core is impossible (e.g. an arena table
    /// pointer outside any mapping).
    #[error("{what} at {address:#x}: {problem}")]
    Corrupt {
        what: &'static str,
        address: u64,
        problem: String,
    },
}
