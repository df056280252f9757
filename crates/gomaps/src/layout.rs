//! Map layouts: resolved in the Go-runtime layer
//! ([`mapscope_goruntime::layout::maps`], which owns every runtime struct
//! name and offset) and re-exported here for the decoders, which read
//! through them.

pub use mapscope_goruntime::layout::maps::*;
