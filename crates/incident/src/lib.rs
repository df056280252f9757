//! mapscope-incident: one incident, end to end, as library calls.
//!
//! Owns: incident directories ([`discover`]: which file is the core, the Go
//! executable, the profiles, smaps, memory.stat; every incident under a
//! tree for `batch`, read the same way as one directory), opening a core
//! with its executable under one matching policy for every command
//! ([`open`](mod@open): `--exe`, the directory's executable or the core's `NT_FILE`
//! path, refused when it is not the build the core ran; the profile among
//! several by build ID), the `analyze` pipeline ([`analyze`](mod@analyze): process → heap
//! walk → maps → profile join → accounting → findings, returning the
//! serde report model the command prints), and the profile ↔ core ↔
//! executable cross-checks of `check` ([`checks`]), what a partial core
//! holds per kind of memory ([`coverage`]), the retained-size
//! pprof profile of `analyze --retained-profile` ([`retained_profile`]),
//! `batch`'s library side ([`batch`]: the plan of a run and how many
//! incidents at once, the summary model, which incidents shard `K/N` owns,
//! reading and merging the shards' summaries), the report model of every other
//! core command and `top` ([`reports`]: `heap`, `regions`, `goroutines`,
//! `maps`, `top`), and typed warnings ([`warning`]: the facts of every
//! degradation, worded in one place).
//!
//! Does not touch: documents and units for people (`mapscope-render`
//! words these models), flags, output files, exit codes (the binary), or
//! how a map is decoded, attributed or accounted (gomaps, correlate) —
//! this crate only sequences those calls and gathers their results.

pub mod analyze;
pub mod batch;
pub mod checks;
pub mod coverage;
pub mod discover;
pub mod error;
pub mod heapview;
pub mod open;
pub mod reports;
pub mod retained_profile;
pub mod warning;

pub use analyze::{analyze, analyze_with_progress, AnalyzeInputs, Report, Stage};
pub use checks::{check_files, run_checks, Check, CheckReport, Status};
pub use coverage::{Coverage, KindCoverage};
pub use discover::{discover_incident, find_incidents, Candidate, Incident};
pub use error::IncidentError;
pub use open::{
    choose_profile, open, open_go, open_with_symbols, ExeChoice, ExeFiles, OpenedIncident,
};
pub use warning::{NoProfile, Warning};
