//! The report of every core command but `analyze` (whose report is
//! [`crate::analyze::Report`]) and `check` ([`crate::checks`]): one module
//! per command, each a serde model (`--format json` prints it; every field
//! name is part of `docs/cli.md`'s contract) and the call that builds it
//! from the files, opening them by [`crate::open`](mod@crate::open)'s one policy.
//!
//! - [`heap`]: the heap walk's totals, size classes, recorded types and
//!   the runtime's statistics (`mapscope heap`);
//! - [`regions`]: the core's regions with the Go layer's `go-heap` and
//!   `go-stack` labels, totals per kind, threads, the fatal signal
//!   (`mapscope regions`);
//! - [`goroutines`]: goroutines with their stacks and the threads
//!   (`mapscope goroutines`);
//! - [`maps`]: every map found from the roots (`mapscope maps`);
//! - [`top`]: a heap profile's functions as `go tool pprof -top`
//!   (`mapscope top`).
//!
//! Fields marked `#[serde(skip)]` are facts the rendered document shows
//! and the JSON does not (the core's path, the options asked for).
//!
//! Does not touch: documents, units for people, files or exit codes
//! (`mapscope_render::reports` words these models; the binary writes).

pub mod goroutines;
pub mod heap;
pub mod maps;
pub mod regions;
pub mod top;

/// An address as every report's JSON writes it: `0x` and lowercase hex.
pub fn hex_addr(v: u64) -> String {
    format!("{v:#x}")
}
