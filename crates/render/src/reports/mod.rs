//! Every command's report model (`mapscope_incident`) worded as a
//! [`Document`](crate::Document): one function per command, the only place
//! that decides which facts of a report go into which heading, paragraph
//! or table, and how a warning list reads.
//!
//! - [`analyze`]: the incident report (headline, accounting, top maps,
//!   heap by type and retainers, findings), and [`picture`] its heap
//!   treemap for HTML; `batch` writes the same document as REPORT.md;
//! - [`batch`]: the summary of a batch (and of a merge of its shards);
//! - [`check`], [`heap`], [`regions`], [`goroutines`] (with Go's
//!   traceback text), [`maps`], [`top`] (pprof's own text).
//!
//! Must not touch: how a number is computed or which input is read (the
//! models are built by `mapscope_incident`); bytes of any format (the
//! renderers of this crate).

pub mod analyze;
pub mod batch;
pub mod check;
pub mod goroutines;
pub mod heap;
pub mod maps;
pub mod picture;
pub mod regions;
pub mod top;

/// `list` with each item as `warning: …`.
fn warning_lines<T: std::fmt::Display>(list: &[T]) -> Vec<String> {
    list.iter().map(|w| format!("warning: {w}")).collect()
}
