//! Why an incident could not be found or analysed ([`IncidentError`]). One
//! line each; every variant names the file or directory; the underlying
//! library error (which names its own file and offset) is the `source`.
//! Also why a `--shard K/N` argument is not a shard ([`ShardError`]).

use std::path::PathBuf;

use mapscope_elfcore::CoreError;
use mapscope_gomaps::DiscoverError;
use mapscope_goruntime::GoRuntimeError;
use mapscope_pprof::ProfileError;

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    /// A directory could not be listed.
    #[error("{}: cannot list directory", dir.display())]
    ListDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An incident directory holds no core file.
    #[error("{}: no core (core, core.*, *.core) in incident directory", dir.display())]
    NoCore { dir: PathBuf },
    /// An incident directory holds several cores and none is plain `core`.
    #[error("{}: more than one core in incident directory ({names})", dir.display())]
    SeveralCores { dir: PathBuf, names: String },
    /// No executable for a core: none given, none in its incident
    /// directory, and the core's `NT_FILE` path is missing or another build.
    #[error("{}: no Go executable: {why}; pass --exe EXE or put the executable in the incident directory", core.display())]
    NoExecutable { core: PathBuf, why: String },
    /// The executable given (or found in the incident directory) is not
    /// the file the core's process ran.
    #[error("{}: executable does not match the core {}: {why}", exe.display(), core.display())]
    ExecutableMismatch {
        exe: PathBuf,
        core: PathBuf,
        why: String,
    },
    /// Several heap profiles in an incident directory and not exactly one
    /// has the executable's build ID.
    #[error("{}: several heap profiles ({names}) and {why}; pass --profile", dir.display())]
    SeveralProfiles {
        dir: PathBuf,
        names: String,
        why: String,
    },
    /// Several Go executables, and none matches the core.
    #[error("{}: {count} Go executables and none matches the core by build ID or NT_FILE path", dir.display())]
    NoMatchingExecutable { dir: PathBuf, count: usize },
    /// The core (or the executable) could not be opened as a Go process.
    #[error("{}", path.display())]
    Process {
        path: PathBuf,
        #[source]
        source: GoRuntimeError,
    },
    /// The core could not be opened (check, executable matching).
    #[error("cannot read core")]
    Core {
        path: PathBuf,
        #[source]
        source: CoreError,
    },
    /// The executable could not be opened.
    #[error("cannot read executable")]
    Executable {
        path: PathBuf,
        #[source]
        source: CoreError,
    },
    /// The core and the executable do not make one process image.
    #[error("cannot combine core and executable")]
    Combine {
        path: PathBuf,
        #[source]
        source: CoreError,
    },
    /// The heap walk failed as a whole.
    #[error("{}: heap walk", path.display())]
    HeapWalk {
        path: PathBuf,
        #[source]
        source: GoRuntimeError,
    },
    /// The goroutine list could not be read as a whole.
    #[error("{}: cannot list goroutines", path.display())]
    Goroutines {
        path: PathBuf,
        #[source]
        source: GoRuntimeError,
    },
    /// Map discovery failed as a whole (`mapscope maps`: the reason alone
    /// after the core's path).
    #[error("{}", path.display())]
    Discovery {
        path: PathBuf,
        #[source]
        source: DiscoverError,
    },
    /// Map discovery failed as a whole.
    #[error("{}: maps", path.display())]
    Maps {
        path: PathBuf,
        #[source]
        source: DiscoverError,
    },
    /// The heap profile could not be read or decoded.
    #[error("cannot read profile")]
    Profile {
        path: PathBuf,
        #[source]
        source: ProfileError,
    },
    /// A text input (smaps, memory.stat) could not be read.
    #[error("{}: cannot read", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl IncidentError {
    /// The message with its sources joined by ": ", on one line (what the
    /// binary prints, and what `batch` records per failed incident).
    pub fn chain_message(&self) -> String {
        let mut msg = self.to_string();
        let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(self);
        while let Some(e) = cur {
            msg.push_str(": ");
            msg.push_str(&e.to_string());
            cur = e.source();
        }
        msg
    }
}

/// Why a `--shard K/N` argument ([`crate::batch::Shard::parse`]) is not
/// a shard; `text` is the argument as given.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// No `/` between K and N.
    #[error("{text:?}: expected K/N, e.g. 0/4 (K is 0-based)")]
    Syntax { text: String },
    /// N is not a number.
    #[error("{text:?}: N must be a number")]
    CountNotNumber { text: String },
    /// K is not a number.
    #[error("{text:?}: K must be a number")]
    IndexNotNumber { text: String },
    /// N is 0 or more than `max` ([`crate::batch::MAX_SHARDS`]).
    #[error("{text:?}: N must be 1 to {max}")]
    CountRange { text: String, count: u32, max: u32 },
    /// K is not below N (K is 0-based).
    #[error("{text:?}: K is 0-based, 0 to {} (a Slurm array numbered from 1: pass $((SLURM_ARRAY_TASK_ID - 1)))", .count.saturating_sub(1))]
    IndexRange {
        text: String,
        index: u32,
        count: u32,
    },
}
