//! Reads pprof profiles and computes what `go tool pprof -top` prints.
//!
//! Owns: decoding `profile.proto` profiles (gzip-compressed or raw protobuf)
//! and legacy text heap profiles (`heap profile: ...`, as served by
//! `/debug/pprof/heap?debug=1`) into one typed, resolved [`Profile`]: every
//! string-table index, location, function and mapping id is checked and
//! turned into a value or an index into the profile's own vectors; and the
//! inverse, writing a [`Profile`] as `profile.proto` ([`encode`],
//! [`encode_gzip`]) for profiles mapscope makes itself. It also
//! owns the [`top`] computation, which reproduces google/pprof's
//! function-granularity text report exactly (see [`top`] for the rules).
//!
//! Must not touch: terminals, tables, JSON or unit formatting (the render
//! crate and the binary do that), ELF files, cores, or anything Go-runtime
//! specific beyond what the profile formats themselves define.
//!
//! ```no_run
//! use mapscope_pprof::{top, Profile, TopOptions};
//! let profile = Profile::from_path("heap.pb.gz".as_ref())?;
//! for m in &profile.mappings {
//!     println!("{:#x}-{:#x} {} {}", m.start, m.limit, m.filename, m.build_id);
//! }
//! let report = top(&profile, &TopOptions::default())?;
//! for row in &report.rows {
//!     println!("{} flat={} cum={}", row.function, row.flat, row.cum);
//! }
//! # Ok::<(), mapscope_pprof::ProfileError>(())
//! ```
//!
//! Untrusted input: nothing here panics on a malformed file, decompressed
//! data is capped at [`MAX_PROFILE_BYTES`], and every error names the file.

mod decode;
mod encode;
mod error;
mod legacy;
mod model;
mod top;

/// The prost types generated from `proto/profile.proto`
/// (`scripts/regen-proto.sh` regenerates them; the build needs no protoc).
pub mod proto {
    #![allow(clippy::all, missing_docs, rustdoc::all)]
    include!("generated/perftools.profiles.rs");
}

pub use decode::MAX_PROFILE_BYTES;
pub use encode::{encode, encode_gzip};
pub use error::ProfileError;
pub use model::{
    Function, Label, Line, Location, Mapping, NumLabel, Profile, Sample, SourceFormat, ValueType,
};
pub use top::{top, InlineLabel, SortOrder, TopOptions, TopReport, TopRow};
