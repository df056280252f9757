//! The one error type of this crate. Every variant names the file it is
//! about; its message is one line.

use std::path::PathBuf;

/// Why a profile could not be read, or a report could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be opened or read (missing, permissions, ...).
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The path names a directory (or another non-file).
    #[error("{}: is a directory, not a profile file", path.display())]
    NotAFile { path: PathBuf },
    /// Zero bytes (before or after decompression).
    #[error("{}: empty file{}", path.display(), if *after_gunzip { " (after gzip decompression)" } else { "" })]
    Empty { path: PathBuf, after_gunzip: bool },
    /// The input ends before the data it announces.
    #[error("{}: truncated: {what}", path.display())]
    Truncated { path: PathBuf, what: String },
    /// The gzip stream is corrupt (bad header, checksum, deflate data).
    #[error("{}: corrupt gzip data: {source}", path.display())]
    Gzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// More than [`crate::MAX_PROFILE_BYTES`] of (decompressed) profile data.
    #[error("{}: profile larger than {limit} bytes (after decompression); refusing to read it", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    /// Neither gzip, nor protobuf, nor a legacy text heap profile.
    #[error("{}: not a pprof profile (neither gzip-compressed nor raw protobuf, nor a legacy text heap profile): {detail}", path.display())]
    NotAProfile { path: PathBuf, detail: String },
    /// Protobuf that does not decode as `perftools.profiles.Profile`.
    #[error("{}: corrupt or truncated protobuf profile: {detail}", path.display())]
    Protobuf { path: PathBuf, detail: String },
    /// Decoded, but internally inconsistent (dangling ids, bad string index, ...).
    #[error("{}: malformed profile: {detail}", path.display())]
    Malformed { path: PathBuf, detail: String },
    /// A legacy text profile line that cannot be parsed.
    #[error("{}:{line}: malformed legacy heap profile: {detail}", path.display())]
    Legacy {
        path: PathBuf,
        line: usize,
        detail: String,
    },
    /// A report was asked of a profile without samples.
    #[error("{}: profile has no samples", path.display())]
    NoSamples { path: PathBuf },
    /// `--sample-index` names no sample type of the profile.
    #[error("{}: unknown sample index {name:?}; the profile has: {}", path.display(), available.join(", "))]
    UnknownSampleIndex {
        path: PathBuf,
        name: String,
        available: Vec<String>,
    },
    /// A numeric sample index outside `0..sample_types.len()`.
    #[error("{}: sample index {index} is outside the range [0..{}]", path.display(), count.saturating_sub(1))]
    SampleIndexOutOfRange {
        path: PathBuf,
        index: i64,
        count: usize,
    },
}

impl ProfileError {
    /// The file this error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            ProfileError::Io { path, .. }
            | ProfileError::NotAFile { path }
            | ProfileError::Empty { path, .. }
            | ProfileError::Truncated { path, .. }
            | ProfileError::Gzip { path, .. }
            | ProfileError::TooLarge { path, .. }
            | ProfileError::NotAProfile { path, .. }
            | ProfileError::Protobuf { path, .. }
            | ProfileError::Malformed { path, .. }
            | ProfileError::Legacy { path, .. }
            | ProfileError::NoSamples { path }
            | ProfileError::UnknownSampleIndex { path, .. }
            | ProfileError::SampleIndexOutOfRange { path, .. } => path,
        }
    }
}
