//! mapscope-correlate: joins the heap profile with the maps found in a core.
//!
//! Owns: attributing each sampled live object's share of its profile stack
//! to the map whose storage or retained set contains it ([`attribute`]),
//! exact conservation of the profile total, the accounting table
//! ([`accounting`](mod@accounting)) and the findings ([`findings`](mod@findings)).
//!
//! The profile ↔ core join ([`join::join_profile`]) builds those inputs
//! from a decoded process, the maps discovery found and the pprof file: it
//! reads the runtime model, map discovery and pprof (their crates are
//! dependencies), but opens no file.
//!
//! Does not touch: reading cores, profiles or executables, discovering maps,
//! rendering.
//!
//! # How a stack's value is split
//! `runtime/pprof` writes, per stack (bucket), `inuse_space =
//! scaleHeapSample(count, bytes, rate)`: the sum of the bucket's sampled live
//! objects' sizes times `1/(1-exp(-avg/rate))`. We weight each sampled live
//! object `o` of the bucket by `w(o) = size(o)/(1-exp(-size(o)/rate))` (its
//! own unbiased estimate) and give it `floor(V·w(o)/Σw)` of the bucket's
//! file value `V`. The integer remainder goes one unit at a time to the
//! objects with the largest fractional parts (ties: lower address), so the
//! shares sum to `V` exactly. A stack of the file with no sampled live object
//! in the core (or no matching bucket) stays *unattributed* — on a partial
//! core, where the span records holding the profile specials are
//! incomplete, it is *cut* instead (its objects may be in the cut part),
//! and so is the share of a sampled object whose bytes are absent
//! ([`attribution::attribute_partial`]).

pub mod accounting;
pub mod attribution;
pub mod findings;
pub mod join;

pub use accounting::{accounting, AccountingInput, Layer};
pub use attribution::{
    attribute, object_weight, Attribution, ProfileStack, SampledObject, Site, SiteValue,
};
pub use findings::{
    findings, map_findings, rank, threshold_bytes, Finding, FindingGroup, Findings, Severity,
};
pub use join::{join_profile, Joined, ProfileFile, ProfileSource};
