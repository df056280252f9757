//! mapscope-incident: one incident, end to end, as library calls.
//!
//! Owns: incident directories ([`discover`]: which file is the core, the Go
//! executable, the profile, smaps, memory.stat; every incident under a
//! tree for `batch`), the `analyze` pipeline ([`analyze`]: process → heap
//! walk → maps → profile join → accounting → findings, returning the
//! serde report model the command prints), and the profile ↔ core ↔
//! executable cross-checks of `check` ([`checks`]).
//!
//! Does not touch: rendering, flags, exit codes (the binary), or how a map
//! is decoded, attributed or accounted (gomaps, correlate) — this crate
//! only sequences those calls and gathers their results.

pub mod analyze;
pub mod checks;
pub mod discover;
pub mod error;

pub use analyze::{analyze, analyze_with_progress, AnalyzeInputs, Report, Stage};
pub use checks::{check_files, run_checks, Check, CheckReport, Status};
pub use discover::{discover_incident, find_incidents, Candidate, Incident};
pub use error::IncidentError;
