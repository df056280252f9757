//! Why a map could not be decoded at all ([`MapError`]), and why map
//! discovery could not run at all ([`DiscoverError`]). Anything less (a cut
//! chain, an unreadable table, a `len` that disagrees with the slots, a
//! root walk cut short) is a warning on the [`crate::MapInstance`] or the
//! [`crate::discover::Discovery`], not an error.

use mapscope_elfcore::ReadError;
use mapscope_goruntime::layout::maps::MapLayoutError;
use mapscope_goruntime::GoRuntimeError;

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The map pointer is nil: there is no map to decode.
    #[error("nil map pointer")]
    Nil,
    /// The type is neither a map, a map header (pointer), nor `sync.Map`.
    #[error("type {name:?} is not a map, a map header or sync.Map")]
    NotAMap { name: String },
    /// DWARF lacks what the layout needs.
    #[error("map type {type_name:?}: {source}")]
    Layout {
        type_name: String,
        #[source]
        source: MapLayoutError,
    },
    /// The header (or another structure the decoding cannot do without)
    /// cannot be read.
    #[error("map at {addr:#x}: cannot read {what}: {source}")]
    Unreadable {
        addr: u64,
        what: &'static str,
        #[source]
        source: ReadError,
    },
    /// The header holds values no real map can have.
    #[error("map at {addr:#x}: corrupt header: {what}")]
    Corrupt { addr: u64, what: String },
}

/// Why [`crate::discover::discover`] found no maps at all: without DWARF
/// (nor a layout table's stand-in) roots cannot be typed, and without the
/// heap walk nothing can be measured.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The process has no DWARF and no layout table for its release.
    #[error("the executable has no DWARF: cannot type roots")]
    NoDwarf,
    /// The heap could not be walked (the runtime layout or the heap's root
    /// structures are unusable); the message is the runtime's own.
    #[error(transparent)]
    Heap(GoRuntimeError),
}
