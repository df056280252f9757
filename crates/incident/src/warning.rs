//! What went partly wrong, as typed facts ([`Warning`]): every degradation
//! this crate and the commands report — a partial core, how the executable
//! was chosen or why one was left out, no heap profile to attribute from,
//! an unusable smaps or memory.stat, heap warnings left out — and the
//! lower libraries' own warnings carried unchanged ([`Warning::Library`]).
//!
//! Owns: the wording of each warning, in one place ([`Warning`]'s
//! `Display`); the JSON of every report prints that same text (a warning
//! serializes as its string).
//!
//! Does not touch: the lower crates' warnings (goruntime, gomaps,
//! correlate push their own strings; they are carried as they are).

use crate::coverage::Coverage;
use std::fmt;
use std::path::PathBuf;

/// One warning (or note: how an input was found) of a report.
#[derive(Clone, Debug, PartialEq)]
pub enum Warning {
    /// A lower library's warning (core, Go runtime, maps, attribution),
    /// its text unchanged.
    Library(String),
    /// The core holds less than its headers declare, or writable memory
    /// was left out of the dump: the coverage per kind of memory.
    PartialCore(Box<Coverage>),
    /// No executable given: the core's `NT_FILE` path was used (a note).
    ExecutableFromCore { path: PathBuf },
    /// The core's `NT_FILE` executable exists but is another build (a
    /// near miss): not used.
    ExecutableNotMatching { path: PathBuf, why: String },
    /// The core's `NT_FILE` executable could not be read: not used.
    ExecutableUnreadable { error: String },
    /// `regions` of a core whose executable is not a Go program (or whose
    /// Go view failed): the Go kinds are not labelled.
    NoGoView { error: String },
    /// Nothing to attribute to maps from a heap profile.
    NoProfile(NoProfile),
    /// `--maps FILE` had no usable `Rss` lines; RSS came from the core.
    SmapsUnusable { path: PathBuf },
    /// `--memory-stat FILE` had no anon/file counters.
    NoCgroupCounters { path: PathBuf },
    /// The heap walk had more warnings than it keeps.
    HeapWarningsSuppressed { count: u64 },
}

/// Why there is no heap profile to attribute from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoProfile {
    /// The program ran with `runtime.MemProfileRate = 0`.
    MemProfileRateZero,
    /// The profile (`file` or `core`) holds no live samples.
    NoLiveSamples { source: String },
}

impl fmt::Display for NoProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoProfile::MemProfileRateZero => f.write_str("no heap profile: MemProfileRate=0"),
            NoProfile::NoLiveSamples { source } => write!(
                f,
                "no heap profile: the {source} profile holds no live samples"
            ),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Library(text) => f.write_str(text),
            Warning::PartialCore(c) => write_partial_core(f, c),
            Warning::ExecutableFromCore { path } => write!(
                f,
                "executable: {} (from the core's NT_FILE note)",
                path.display()
            ),
            Warning::ExecutableNotMatching { path, why } => write!(
                f,
                "{} (the core's NT_FILE executable) does not match the core; not used: {why}",
                path.display()
            ),
            Warning::ExecutableUnreadable { error } => write!(f, "{error}; not used"),
            Warning::NoGoView { error } => write!(
                f,
                "no Go runtime view ({error}): go-heap/go-stack not labelled"
            ),
            Warning::NoProfile(why) => write!(
                f,
                "{why}: nothing is attributed to maps from a profile (the heap walk's retained bytes still are)"
            ),
            Warning::SmapsUnusable { path } => write!(
                f,
                "{}: unreadable or no Rss lines; RSS estimated from the core",
                path.display()
            ),
            Warning::NoCgroupCounters { path } => {
                write!(f, "{}: no anon/file counters", path.display())
            }
            Warning::HeapWarningsSuppressed { count } => {
                write!(f, "{count} more heap warnings not shown")
            }
        }
    }
}

/// One line for a partial core: sizes, then each kind present/declared,
/// and the span source.
fn write_partial_core(f: &mut fmt::Formatter<'_>, c: &Coverage) -> fmt::Result {
    let pct = |p: u64, d: u64| {
        if d == 0 {
            100.0
        } else {
            p as f64 * 100.0 / d as f64
        }
    };
    let kinds: Vec<String> = c
        .kinds
        .iter()
        .filter(|k| k.declared_bytes > 0 || k.not_dumped_bytes > 0)
        .map(|k| {
            let mut line = format!(
                "{} {}/{} bytes ({:.0}%)",
                k.kind,
                k.present_bytes,
                k.declared_bytes,
                pct(k.present_bytes, k.declared_bytes)
            );
            if k.not_dumped_bytes > 0 {
                line.push_str(&format!(" + {} bytes not dumped", k.not_dumped_bytes));
            }
            line
        })
        .collect();
    write!(
        f,
        "partial core: the file holds {} of {} declared bytes ({:.1}%); {} segments cut, {} absent, {} writable not dumped (coredump_filter?); present per kind: {}; heap spans from {}{}{}; answers cover what is present, absent memory is never read as zeros",
        c.file_bytes,
        c.declared_bytes,
        pct(c.file_bytes, c.declared_bytes),
        c.segments_cut,
        c.segments_absent,
        c.segments_not_dumped,
        kinds.join(", "),
        c.span_source.unwrap_or("nowhere (no heap walk)"),
        if c.spans_complete {
            " (all)"
        } else {
            " (incomplete)"
        },
        if c.heap_arenas_known {
            ""
        } else {
            "; heap arena list unreadable (arena from mheap_.curArena)"
        }
    )
}

impl From<String> for Warning {
    fn from(text: String) -> Warning {
        Warning::Library(text)
    }
}

impl From<&String> for Warning {
    fn from(text: &String) -> Warning {
        Warning::Library(text.clone())
    }
}

/// A warning is its text in every report's JSON (`warnings: [string]`).
impl serde::Serialize for Warning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `texts` as [`Warning::Library`] warnings.
pub fn library<'a, I: IntoIterator<Item = &'a String>>(
    texts: I,
) -> impl Iterator<Item = Warning> + 'a
where
    I::IntoIter: 'a,
{
    texts.into_iter().map(Warning::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coverage::KindCoverage;

    /// The texts are the ones these warnings had as strings (docs and
    /// the integration tests match on them); JSON prints the same text.
    #[test]
    fn each_warning_reads_as_before_and_serializes_as_its_text() {
        let cases = [
            (
                Warning::ExecutableFromCore {
                    path: "/srv/app".into(),
                },
                "executable: /srv/app (from the core's NT_FILE note)",
            ),
            (
                Warning::ExecutableNotMatching {
                    path: "/srv/app".into(),
                    why: "build id: differs".into(),
                },
                "/srv/app (the core's NT_FILE executable) does not match the core; not used: build id: differs",
            ),
            (
                Warning::NoProfile(NoProfile::MemProfileRateZero),
                "no heap profile: MemProfileRate=0: nothing is attributed to maps from a profile (the heap walk's retained bytes still are)",
            ),
            (
                Warning::NoProfile(NoProfile::NoLiveSamples {
                    source: "core".into(),
                }),
                "no heap profile: the core profile holds no live samples: nothing is attributed to maps from a profile (the heap walk's retained bytes still are)",
            ),
            (
                Warning::SmapsUnusable {
                    path: "smaps".into(),
                },
                "smaps: unreadable or no Rss lines; RSS estimated from the core",
            ),
            (
                Warning::NoCgroupCounters {
                    path: "memory.stat".into(),
                },
                "memory.stat: no anon/file counters",
            ),
            (
                Warning::HeapWarningsSuppressed { count: 7 },
                "7 more heap warnings not shown",
            ),
            (Warning::Library("as given".into()), "as given"),
        ];
        for (w, text) in cases {
            assert_eq!(w.to_string(), text);
            assert_eq!(
                serde_json::to_string(&w).unwrap(),
                serde_json::to_string(text).unwrap()
            );
        }
    }

    #[test]
    fn a_partial_core_names_its_sizes_and_kinds() {
        let c = Coverage {
            complete: false,
            file_bytes: 9_000_000,
            declared_bytes: 51_462_144,
            segments: 20,
            segments_cut: 1,
            segments_absent: 12,
            segments_not_dumped: 0,
            span_source: Some("none"),
            spans_complete: false,
            heap_arenas_known: true,
            kinds: vec![KindCoverage {
                kind: "globals",
                present_bytes: 10,
                declared_bytes: 40,
                not_dumped_bytes: 0,
            }],
        };
        assert_eq!(
            c.warning().map(|w| w.to_string()).as_deref(),
            Some(
                "partial core: the file holds 9000000 of 51462144 declared bytes (17.5%); 1 segments cut, 12 absent, 0 writable not dumped (coredump_filter?); present per kind: globals 10/40 bytes (25%); heap spans from none (incomplete); answers cover what is present, absent memory is never read as zeros"
            )
        );
        assert!(Coverage {
            complete: true,
            ..c
        }
        .warning()
        .is_none());
    }
}
