//! The resolved profile model: plain owned values, ids already checked and
//! turned into indices into the profile's own vectors.

use crate::error::ProfileError;
use std::path::{Path, PathBuf};

/// Where a [`Profile`] came from and how it was encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    /// `profile.proto`, gzip-compressed (the normal `.pb.gz`) or raw.
    Protobuf { gzipped: bool },
    /// A legacy text heap profile (`heap profile: ...`), possibly gzipped.
    LegacyText { gzipped: bool },
}

/// A sample type or the period type: what a value counts, in what unit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValueType {
    /// For example `inuse_space`.
    pub r#type: String,
    /// For example `bytes` or `count`.
    pub unit: String,
}

/// A string label of a sample (`key: value`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub key: String,
    pub value: String,
}

/// A numeric label of a sample, such as Go heap profiles' `bytes` (the
/// object size of the allocations the sample stands for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumLabel {
    pub key: String,
    pub value: i64,
    /// The unit, when the profile gives one.
    pub unit: Option<String>,
}

/// One sample: a stack and one value per sample type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Indices into [`Profile::locations`], leaf (innermost frame) first.
    pub locations: Vec<usize>,
    /// One value per [`Profile::sample_types`] entry.
    pub values: Vec<i64>,
    /// String labels in file order.
    pub labels: Vec<Label>,
    /// Numeric labels in file order.
    pub num_labels: Vec<NumLabel>,
}

/// A program location: an address and the source lines at it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// The location's id in the file (unique, non-zero).
    pub id: u64,
    /// Index into [`Profile::mappings`], if the location names a mapping.
    pub mapping: Option<usize>,
    /// The instruction address (0 when unknown). For Go heap profiles, the
    /// address of the call instruction (return address minus one).
    pub address: u64,
    /// Source lines at this address; several when calls were inlined:
    /// `lines[0]` is the innermost (inlined) function, the last one the
    /// function the code physically belongs to.
    pub lines: Vec<Line>,
    /// The location's frames were folded (provided by the profile).
    pub is_folded: bool,
}

/// One source line of a location.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    /// Index into [`Profile::functions`].
    pub function: usize,
    /// Line number (0 when unknown).
    pub line: i64,
    /// Column number (0 when unknown).
    pub column: i64,
}

/// A function.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Function {
    /// The function's id in the file (unique, non-zero).
    pub id: u64,
    /// Name as shown to people, for example `main.(*Cache).Put`.
    pub name: String,
    /// Name as the system knows it (for example mangled); often equal.
    pub system_name: String,
    /// Source file.
    pub filename: String,
    /// Line where the function starts (0 when unknown).
    pub start_line: i64,
}

/// A mapped binary or library: an address range of the profiled process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mapping {
    /// The mapping's id in the file (unique, non-zero).
    pub id: u64,
    /// First address of the range.
    pub start: u64,
    /// One past the last address of the range.
    pub limit: u64,
    /// Offset in the file where `start` is mapped from.
    pub offset: u64,
    /// Path of the mapped file (may be empty).
    pub filename: String,
    /// Build ID of the mapped file (for Go executables the GNU build ID, as
    /// lowercase hex), empty when unknown.
    pub build_id: String,
    pub has_functions: bool,
    pub has_filenames: bool,
    pub has_line_numbers: bool,
    pub has_inline_frames: bool,
}

/// A decoded, validated profile.
///
/// Conventions follow `profile.proto`: `mappings[0]`, when present, is the
/// main binary; every sample has exactly `sample_types.len()` values; every
/// index stored in a [`Sample`], [`Location`] or [`Line`] is in range.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// The file the profile was read from (used in error messages).
    pub path: PathBuf,
    pub format: Option<SourceFormat>,
    /// What each sample value counts; Go heap profiles have
    /// `alloc_objects`, `alloc_space`, `inuse_objects`, `inuse_space`.
    pub sample_types: Vec<ValueType>,
    /// The profile's preferred sample type, when it names one.
    pub default_sample_type: Option<String>,
    pub samples: Vec<Sample>,
    pub locations: Vec<Location>,
    pub functions: Vec<Function>,
    pub mappings: Vec<Mapping>,
    pub period_type: Option<ValueType>,
    /// Events between sampled occurrences (for Go heap profiles the
    /// `MemProfileRate`).
    pub period: i64,
    /// Collection time, nanoseconds since the Unix epoch (0: unknown).
    pub time_nanos: i64,
    /// Duration of the profile in nanoseconds (0: unknown).
    pub duration_nanos: i64,
    /// Free-form comments.
    pub comments: Vec<String>,
    /// Regexp of frames pprof drops from stacks (with what lies beneath
    /// them), empty for none. Legacy heap profiles get pprof's built-in
    /// allocator list.
    pub drop_frames: String,
    /// Regexp of frames exempt from `drop_frames`.
    pub keep_frames: String,
    /// Documentation link, when the profile has one.
    pub doc_url: String,
}

impl Profile {
    /// Reads and decodes the profile at `path`: gzip-compressed or raw
    /// protobuf, or a legacy text heap profile (also gzipped).
    pub fn from_path(path: &Path) -> Result<Profile, ProfileError> {
        crate::decode::read_path(path)
    }

    /// Decodes a profile held in memory; `path` is only used in messages.
    pub fn from_bytes(data: &[u8], path: &Path) -> Result<Profile, ProfileError> {
        crate::decode::decode_bytes(data, path)
    }

    /// The main binary's mapping (`mappings[0]` by convention).
    pub fn main_mapping(&self) -> Option<&Mapping> {
        self.mappings.first()
    }

    /// The locations of a sample, leaf first.
    pub fn stack<'a>(&'a self, sample: &'a Sample) -> impl Iterator<Item = &'a Location> + 'a {
        sample
            .locations
            .iter()
            .filter_map(move |&i| self.locations.get(i))
    }

    /// The function a line belongs to.
    pub fn function(&self, line: &Line) -> Option<&Function> {
        self.functions.get(line.function)
    }

    /// The mapping a location belongs to.
    pub fn mapping(&self, location: &Location) -> Option<&Mapping> {
        location.mapping.and_then(|i| self.mappings.get(i))
    }

    /// Resolves a sample index the way `go tool pprof -sample_index` does:
    /// `None` selects the profile's default sample type when it has one,
    /// else the last sample type; a number selects by position; a name
    /// selects by type, and `inuse_X` also matches a type named `X`.
    pub fn sample_index(&self, name: Option<&str>) -> Result<usize, ProfileError> {
        let count = self.sample_types.len();
        if count == 0 {
            return Err(ProfileError::NoSamples {
                path: self.path.clone(),
            });
        }
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            if let Some(dst) = self
                .default_sample_type
                .as_deref()
                .filter(|d| !d.is_empty())
            {
                if let Some(i) = self.sample_types.iter().position(|t| t.r#type == dst) {
                    return Ok(i);
                }
            }
            return Ok(count - 1);
        };
        if let Some(index) = parse_go_int(name) {
            return usize::try_from(index).ok().filter(|&i| i < count).ok_or(
                ProfileError::SampleIndexOutOfRange {
                    path: self.path.clone(),
                    index,
                    count,
                },
            );
        }
        let without_inuse = name.strip_prefix("inuse_").unwrap_or(name);
        self.sample_types
            .iter()
            .position(|t| t.r#type == name || t.r#type == without_inuse)
            .ok_or_else(|| ProfileError::UnknownSampleIndex {
                path: self.path.clone(),
                name: name.to_string(),
                available: self.sample_types.iter().map(|t| t.r#type.clone()).collect(),
            })
    }
}

/// `strconv.Atoi`: optional sign, then ASCII digits only.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heap_types() -> Profile {
        let t = |n: &str, u: &str| ValueType {
            r#type: n.into(),
            unit: u.into(),
        };
        Profile {
            path: "p".into(),
            sample_types: vec![
                t("alloc_objects", "count"),
                t("alloc_space", "bytes"),
                t("inuse_objects", "count"),
                t("inuse_space", "bytes"),
            ],
            ..Profile::default()
        }
    }

    #[test]
    fn sample_index_like_pprof() {
        let mut p = heap_types();
        assert_eq!(p.sample_index(None).unwrap(), 3);
        assert_eq!(p.sample_index(Some("alloc_space")).unwrap(), 1);
        assert_eq!(p.sample_index(Some("0")).unwrap(), 0);
        assert!(matches!(
            p.sample_index(Some("4")),
            Err(ProfileError::SampleIndexOutOfRange { index: 4, .. })
        ));
        assert!(matches!(
            p.sample_index(Some("bogus")),
            Err(ProfileError::UnknownSampleIndex { .. })
        ));
        p.default_sample_type = Some("alloc_space".into());
        assert_eq!(p.sample_index(None).unwrap(), 1);
        // Legacy "space"/"objects" profiles accept the inuse_ names.
        p.sample_types = vec![
            ValueType {
                r#type: "objects".into(),
                unit: "count".into(),
            },
            ValueType {
                r#type: "space".into(),
                unit: "bytes".into(),
            },
        ];
        p.default_sample_type = None;
        assert_eq!(p.sample_index(Some("inuse_space")).unwrap(), 1);
    }
}
