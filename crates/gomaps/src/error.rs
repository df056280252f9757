//! Why a map could not be decoded at all. Anything less (a cut chain, an
//! unreadable table, a `len` that disagrees with the slots) is a warning on
//! the [`crate::MapInstance`], not an error.

use mapscope_elfcore::ReadError;

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The map pointer is nil: there is no map to decode.
    #[error("nil map pointer")]
    Nil,
    /// The type is neither a map, a map header (pointer), nor `sync.Map`.
    #[error("type {name:?} is not a map, a map header or sync.Map")]
    NotAMap { name: String },
    /// DWARF lacks what the layout needs.
    #[error("map type {type_name:?}: {reason}")]
    Layout { type_name: String, reason: String },
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
