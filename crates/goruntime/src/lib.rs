//! mapscope-goruntime

pub mod buildinfo;
pub mod debugfile;
pub mod dwarf;
pub mod error;
pub mod goroutines;
pub mod heap;
pub mod layout;
pub mod pclntab;
pub mod process;
pub mod rtype;
pub mod symbols;
pub mod timing;

pub use debugfile::DebugFile;
pub use error::GoRuntimeError;
pub use process::{GlobalRef, GoProcess};
