//! Errors of the Go process model ([`crate::process`]) and of everything
//! built on it (layouts, the heap walk): [`GoRuntimeError`], the map
//! layouts' [`MapLayoutError`] and the layout tables' [`TableHeaderError`].
//! One line each; every variant says which file, address or runtime
//! structure is involved.

use std::path::PathBuf;
use std::sync::Arc;

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
    /// A separate debug file (`--symbols`) could not be read.
    #[error("{}: not a readable debug file: {reason}", path.display())]
    DebugFile { path: PathBuf, reason: String },
    /// A separate debug file is not the same build as the executable.
    #[error("{}: not a debug file of {}: {why}", debug.display(), exe.display())]
    DebugFileMismatch {
        debug: PathBuf,
        exe: PathBuf,
        why: String,
    },
    /// A runtime type, member or constant the model needs is missing from
    /// the DWARF (a Go release this code does not know yet, or damage).
    #[error("DWARF lacks {what}: cannot {purpose}")]
    MissingLayout { what: String, purpose: &'static str },
    /// A runtime global the model needs is not in DWARF nor the symbol table.
    #[error("runtime global {name} not found in DWARF or the symbol table")]
    MissingGlobal { name: &'static str },
    /// A cached analysis (layout, heap walk) failed earlier; its error is
    /// shared by every caller. `cause` is part of this message and is not
    /// reported as a `source` (a chain printer would repeat it).
    #[error("{what} unavailable: {cause}")]
    Unavailable {
        what: &'static str,
        cause: Arc<GoRuntimeError>,
    },
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

/// Why the layout of a map type, or of `sync.Map`, could not be built from
/// DWARF ([`crate::layout::maps`]): which type, member or constant is
/// missing or malformed. `Clone`, as decoders cache it per map type. The
/// wording is that of the resolver's messages before they were typed
/// (some say "in DWARF", some do not: each variant keeps its own).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapLayoutError {
    /// A struct lacks a member the layout reads.
    #[error("{ty} has no member {member} in DWARF")]
    NoMember { ty: String, member: String },
    /// A member of a `sync.Map` structure is missing (worded without
    /// "in DWARF").
    #[error("{ty} has no member {member}")]
    NoSyncMember {
        ty: &'static str,
        member: &'static str,
    },
    /// A member the layout reads as a scalar has no size in DWARF.
    #[error("{ty}.{member}: DWARF gives no size")]
    NoMemberSize { ty: String, member: String },
    /// A member the layout reads as a scalar is not 1, 2, 4 or 8 bytes.
    #[error("{ty}.{member}: unexpected size {size}")]
    MemberSize {
        ty: String,
        member: String,
        size: u64,
    },
    /// A type the layout needs the size of has none in DWARF (`what` is
    /// the role: "map key", "bucket", "sync.entry"…).
    #[error("{what} ({ty}): DWARF gives no size")]
    NoSize { what: &'static str, ty: String },
    /// A type the layout needs is not in DWARF.
    #[error("DWARF has no {ty}")]
    NoType { ty: String },
    /// Neither this map type's own header struct nor the runtime's generic
    /// one (`generic`) is in DWARF.
    #[error("DWARF has neither the map header of this type nor {generic}")]
    NoHeader { generic: &'static str },
    /// DWARF names neither classic nor Swiss map types.
    #[error("cannot tell classic from Swiss maps: DWARF names neither hash<…> nor map<…>")]
    UnknownImplementation,
    /// A member that must be an array (a group's `slots`) is not.
    #[error("{ty}.{member} is not an array in DWARF")]
    NotArray { ty: String, member: &'static str },
    /// `internal/sync.indirect.children` is not an array.
    #[error("{ty}.{member} is not an array")]
    SyncNotArray {
        ty: &'static str,
        member: &'static str,
    },
    /// A Swiss group's slot struct lacks its key or elem member.
    #[error("{group}: slot has no member {member}")]
    NoSlotMember { group: String, member: &'static str },
    /// A Swiss group has neither interleaved slots nor split keys/elems.
    #[error("{group}: neither slots nor keys/elems members in DWARF")]
    NoGroupSlots { group: String },
    /// `sync.Map` has neither the `m` (HashTrieMap) nor the `read`
    /// (read/dirty) member.
    #[error("sync.Map has neither m nor read in DWARF")]
    UnknownSyncMap,
    /// A member that must be a map (`sync.Map.dirty`) is not.
    #[error("{ty}.{member} is not a map in DWARF")]
    NotAMap {
        ty: &'static str,
        member: &'static str,
    },
    /// The read/dirty `sync.Map`'s inner map's value is not `*entry`.
    #[error("sync.Map's map value is not *entry")]
    DirtyValueNotEntry,
}

/// Why the identity of a layout table ([`crate::dwarf::table::TableHeader`])
/// cannot be taken from a build's info.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableHeaderError {
    /// The build info's Go version has no release (`go1.X[.Y]`) in it.
    #[error("unrecognised Go version {raw:?}")]
    UnknownVersion { raw: String },
    /// The build info records no `GOARCH` setting.
    #[error("build info has no GOARCH")]
    NoGoarch,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each map layout error reads as the resolver's message did when it
    /// was a string (the format strings it replaced, filled in).
    #[test]
    fn map_layout_errors_keep_their_wording() {
        let s = String::from;
        let cases = [
            (
                MapLayoutError::NoMember {
                    ty: s("runtime.hmap"),
                    member: s("B"),
                },
                "runtime.hmap has no member B in DWARF",
            ),
            (
                MapLayoutError::NoSyncMember {
                    ty: "sync.Map",
                    member: "dirty",
                },
                "sync.Map has no member dirty",
            ),
            (
                MapLayoutError::NoMemberSize {
                    ty: s("runtime.hmap"),
                    member: s("count"),
                },
                "runtime.hmap.count: DWARF gives no size",
            ),
            (
                MapLayoutError::MemberSize {
                    ty: s("runtime.hmap"),
                    member: s("count"),
                    size: 3,
                },
                "runtime.hmap.count: unexpected size 3",
            ),
            (
                MapLayoutError::NoSize {
                    what: "map key",
                    ty: s("main.Key"),
                },
                "map key (main.Key): DWARF gives no size",
            ),
            (
                MapLayoutError::NoType {
                    ty: s("runtime.mapextra"),
                },
                "DWARF has no runtime.mapextra",
            ),
            (
                MapLayoutError::NoHeader {
                    generic: "runtime.hmap",
                },
                "DWARF has neither the map header of this type nor runtime.hmap",
            ),
            (
                MapLayoutError::UnknownImplementation,
                "cannot tell classic from Swiss maps: DWARF names neither hash<…> nor map<…>",
            ),
            (
                MapLayoutError::NotArray {
                    ty: s("noalg.map.group[int]int"),
                    member: "slots",
                },
                "noalg.map.group[int]int.slots is not an array in DWARF",
            ),
            (
                MapLayoutError::SyncNotArray {
                    ty: "internal/sync.indirect",
                    member: "children",
                },
                "internal/sync.indirect.children is not an array",
            ),
            (
                MapLayoutError::NoSlotMember {
                    group: s("g"),
                    member: "elem",
                },
                "g: slot has no member elem",
            ),
            (
                MapLayoutError::NoGroupSlots { group: s("g") },
                "g: neither slots nor keys/elems members in DWARF",
            ),
            (
                MapLayoutError::UnknownSyncMap,
                "sync.Map has neither m nor read in DWARF",
            ),
            (
                MapLayoutError::NotAMap {
                    ty: "sync.Map",
                    member: "dirty",
                },
                "sync.Map.dirty is not a map in DWARF",
            ),
            (
                MapLayoutError::DirtyValueNotEntry,
                "sync.Map's map value is not *entry",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
        assert_eq!(
            TableHeaderError::UnknownVersion { raw: s("devel") }.to_string(),
            "unrecognised Go version \"devel\""
        );
        assert_eq!(
            TableHeaderError::NoGoarch.to_string(),
            "build info has no GOARCH"
        );
    }
}
