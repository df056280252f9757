//! Opening one incident's process: which executable goes with a core, and
//! whether it is the file the core's process ran. Every command that reads
//! a core (`regions`, `heap`, `goroutines`, `maps`, `analyze`, `batch`,
//! `check`) opens it through [`open`], so one policy decides for all:
//!
//! - an executable named by the user (`--exe`) or found in the incident
//!   directory ([`ExeChoice::Given`]) must match the core
//!   (`mapscope_elfcore::match_executable`: machine, mapping layout, the
//!   build-id note bytes in the core's copy of its first page); if it does
//!   not, the open fails with [`IncidentError::ExecutableMismatch`], one
//!   line naming both files (the binary exits 2). There is no flag to
//!   override it: a near-miss build (same source, other link flags) has
//!   other addresses, and walking the core with its tables reads garbage;
//! - with nothing given ([`ExeChoice::Discover`]) the core's `NT_FILE` path
//!   of its executable is used when that file exists and matches; one that
//!   does not match is left out with a note, and a command that needs the
//!   Go view then fails with [`IncidentError::NoExecutable`] saying why;
//! - a separate debug file named by the user (`--symbols`, [`ExeFiles`])
//!   gives the DWARF and, when the executable has none, the ELF symbols;
//!   it must be the executable's build (GNU or Go build ID,
//!   `mapscope_goruntime::debugfile`), else the open fails with one line
//!   naming both files (exit 2). With none named, an executable without
//!   DWARF gets the debug file of its GNU build ID from the build-ID tree
//!   (`$MAPSCOPE_DEBUG_DIR`, default `/usr/lib/debug`) when there is one;
//! - `check` alone opens a given executable unvalidated
//!   ([`ExeChoice::Examine`]): reporting the mismatch is its job (a failed
//!   check, exit 1), and it reads no Go structure through it.
//!
//! Also owns the choice among several heap profiles of an incident
//! directory ([`choose_profile`]: the one whose main mapping's build ID is
//! the executable's).
//!
//! Does not touch: how a match is decided (elfcore), the Go model
//! (goruntime), rendering (`mapscope-render`) or exit codes (the binary).

use crate::error::IncidentError;
use crate::warning::Warning;
use mapscope_elfcore::{match_executable, Core, Executable, ProcessMemory, Verdict};
use mapscope_goruntime::{DebugFile, GoProcess};
use mapscope_pprof::Profile;
use std::path::{Path, PathBuf};

/// Where the executable comes from.
#[derive(Clone, Copy, Debug)]
pub enum ExeChoice<'a> {
    /// Given by `--exe` or found in the incident directory: it must match
    /// the core, else [`open`] fails.
    Given(&'a Path),
    /// Nothing given: the core's `NT_FILE` path of its executable, when
    /// that file exists and matches the core.
    Discover,
    /// Given to `check`, whose job is to say whether it matches: opened
    /// without refusing a mismatch (the `executable-matches-core` check
    /// fails instead, exit 1). Nothing walks Go structures through it.
    Examine(&'a Path),
}

impl<'a> ExeChoice<'a> {
    /// `Given` for `Some`, `Discover` for `None`.
    pub fn from_option(exe: Option<&'a Path>) -> ExeChoice<'a> {
        match exe {
            Some(p) => ExeChoice::Given(p),
            None => ExeChoice::Discover,
        }
    }
}

/// The files the user named for a core: `--exe` and `--symbols`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExeFiles<'a> {
    pub exe: Option<&'a Path>,
    /// A separate debug file of the executable's build.
    pub symbols: Option<&'a Path>,
}

impl<'a> From<Option<&'a Path>> for ExeFiles<'a> {
    fn from(exe: Option<&'a Path>) -> ExeFiles<'a> {
        ExeFiles { exe, symbols: None }
    }
}

/// Opens `core` with the executable and debug file `files` name (see the
/// module docs) and builds its Go view.
pub fn open_go(
    core: &Path,
    files: ExeFiles<'_>,
) -> Result<(GoProcess, Vec<Warning>), IncidentError> {
    open_with_symbols(core, ExeChoice::from_option(files.exe), files.symbols)?.into_go()
}

/// A core with the executable [`open`] chose for it.
pub struct OpenedIncident {
    pub memory: ProcessMemory,
    /// The separate debug file given with `--symbols`, matched to the
    /// executable (`None`: the build-ID tree is searched when needed).
    pub debug: Option<DebugFile>,
    /// How the executable was found, or why a discovered one was left out
    /// (not problems; commands list them with their warnings).
    pub notes: Vec<Warning>,
    /// Why `memory` has no executable, when it has none.
    pub missing_executable: Option<String>,
}

impl OpenedIncident {
    /// The Go view of the process. Fails when there is no executable
    /// ([`IncidentError::NoExecutable`], saying why) or it is not Go.
    pub fn into_go(self) -> Result<(GoProcess, Vec<Warning>), IncidentError> {
        let core = self.memory.core().path().to_path_buf();
        if self.memory.executable().is_none() {
            return Err(IncidentError::NoExecutable {
                core,
                why: self
                    .missing_executable
                    .unwrap_or_else(|| "none was found".to_string()),
            });
        }
        let go = GoProcess::with_debug_file(self.memory, self.debug)
            .map_err(|source| IncidentError::Process { path: core, source })?;
        Ok((go, self.notes))
    }
}

/// Why `exe` is not the core's executable, or `None` when nothing says so.
pub fn mismatch_reason(core: &Core, exe: &Executable) -> Option<String> {
    let m = match_executable(core, exe);
    if !m.is_mismatch() {
        return None;
    }
    let why: Vec<String> = [
        ("machine", &m.arch),
        ("name", &m.name),
        ("layout", &m.layout),
        ("build id", &m.build_id),
    ]
    .iter()
    .filter(|(_, e)| e.verdict == Verdict::Disagrees)
    .map(|(what, e)| format!("{what}: {}", e.detail))
    .collect();
    Some(why.join("; "))
}

/// Opens `core_path` with the executable `choice` says, validated against
/// the core (see the module docs for the policy).
pub fn open(core_path: &Path, choice: ExeChoice<'_>) -> Result<OpenedIncident, IncidentError> {
    open_with_symbols(core_path, choice, None)
}

/// [`open`] with a separate debug file (`--symbols`), refused unless it is
/// the executable's build. Without an executable it is not read.
pub fn open_with_symbols(
    core_path: &Path,
    choice: ExeChoice<'_>,
    symbols: Option<&Path>,
) -> Result<OpenedIncident, IncidentError> {
    let core = Core::open(core_path).map_err(|source| IncidentError::Core {
        path: core_path.to_path_buf(),
        source,
    })?;
    let mut notes = Vec::new();
    let mut missing = None;
    let exe = match choice {
        ExeChoice::Given(p) => {
            let exe = Executable::open(p).map_err(|source| IncidentError::Executable {
                path: p.to_path_buf(),
                source,
            })?;
            if let Some(why) = mismatch_reason(&core, &exe) {
                return Err(IncidentError::ExecutableMismatch {
                    exe: p.to_path_buf(),
                    core: core_path.to_path_buf(),
                    why,
                });
            }
            Some(exe)
        }
        ExeChoice::Examine(p) => {
            Some(
                Executable::open(p).map_err(|source| IncidentError::Executable {
                    path: p.to_path_buf(),
                    source,
                })?,
            )
        }
        ExeChoice::Discover => {
            let named = core.executable_path().map(PathBuf::from);
            match named {
                None => {
                    missing = Some("the core's NT_FILE note names no executable".to_string());
                    None
                }
                Some(p) if !p.is_file() => {
                    missing = Some(format!(
                        "the core's process ran {}, which does not exist here",
                        p.display()
                    ));
                    None
                }
                Some(p) => match Executable::open(&p) {
                    Ok(exe) => match mismatch_reason(&core, &exe) {
                        None => {
                            notes.push(Warning::ExecutableFromCore { path: p });
                            Some(exe)
                        }
                        Some(why) => {
                            let m = Warning::ExecutableNotMatching { path: p, why };
                            missing = Some(m.to_string());
                            notes.push(m);
                            None
                        }
                    },
                    Err(e) => {
                        let m = Warning::ExecutableUnreadable {
                            error: e.to_string(),
                        };
                        missing = Some(m.to_string());
                        notes.push(m);
                        None
                    }
                },
            }
        }
    };
    let debug = match (symbols, &exe) {
        (Some(path), Some(exe)) => {
            Some(
                DebugFile::open_for(path, exe).map_err(|source| IncidentError::Process {
                    path: core_path.to_path_buf(),
                    source,
                })?,
            )
        }
        _ => None,
    };
    let memory = ProcessMemory::new(core, exe).map_err(|source| IncidentError::Combine {
        path: core_path.to_path_buf(),
        source,
    })?;
    Ok(OpenedIncident {
        memory,
        debug,
        notes,
        missing_executable: missing,
    })
}

/// The heap profile of an incident directory holding `candidates`: none,
/// the only one, or — with several — the one whose main mapping's build ID
/// is `exe`'s GNU build ID. Several and not exactly one matching: an error
/// listing them (the user picks with `--profile`).
pub fn choose_profile(
    dir: &Path,
    candidates: &[PathBuf],
    exe: Option<&Executable>,
) -> Result<Option<PathBuf>, IncidentError> {
    match candidates {
        [] => return Ok(None),
        [one] => return Ok(Some(one.clone())),
        _ => {}
    }
    let exe_id = exe.and_then(|e| e.gnu_build_id_hex());
    let matching: Vec<&PathBuf> = match &exe_id {
        Some(id) => candidates
            .iter()
            .filter(|p| {
                Profile::from_path(p).ok().is_some_and(|prof| {
                    prof.main_mapping()
                        .is_some_and(|m| m.build_id.eq_ignore_ascii_case(id))
                })
            })
            .collect(),
        None => Vec::new(),
    };
    if let [one] = matching.as_slice() {
        return Ok(Some((*one).clone()));
    }
    let names = candidates
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(", ");
    let why = match (&exe_id, matching.len()) {
        (None, _) => "the executable has no GNU build ID to pick one by".to_string(),
        (Some(id), 0) => format!("none has the executable's build ID {id}"),
        (Some(id), n) => format!("{n} have the executable's build ID {id}"),
    };
    Err(IncidentError::SeveralProfiles {
        dir: dir.to_path_buf(),
        names,
        why,
    })
}
