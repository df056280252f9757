//! Incident directories (`docs/cli.md` "Inputs"): which file of a
//! directory is the core, the Go executable, the heap profile, smaps/maps
//! and memory.stat — and, for `batch`, every incident under a tree.
//!
//! `analyze DIR` ([`discover_incident`]) and `batch` ([`find_incidents`])
//! read a directory the same way (both through one function); neither
//! decides anything about the executable beyond the directory: an incident
//! without one in its directory is still an incident, and
//! [`crate::open::open`] falls back to the core's `NT_FILE` path and
//! validates whatever executable is used. Several profiles are all listed
//! ([`Incident::profiles`]); [`crate::open::choose_profile`] picks by build
//! ID once the executable is known.
//!
//! Does not analyse anything: it opens a core only to pick among several
//! executables (by GNU build ID or the core's `NT_FILE` path, through
//! `mapscope_elfcore::match_executable`).

use crate::error::IncidentError;
use mapscope_elfcore::{match_executable, Core, Executable, Verdict};
use std::path::{Path, PathBuf};

/// Directories deeper than this below the batch root are not visited.
pub const MAX_DEPTH: usize = 16;
/// At most this many directories are visited under a batch root.
pub const MAX_DIRECTORIES: usize = 100_000;
/// At most this many files of one directory are considered.
const MAX_FILES_PER_DIR: usize = 10_000;

/// The files an incident directory stands for.
#[derive(Debug, Default, Clone)]
pub struct Incident {
    /// The directory itself.
    pub dir: PathBuf,
    pub core: PathBuf,
    /// `None` when the directory holds no Go executable (opening falls
    /// back to the core's `NT_FILE` path).
    pub exe: Option<PathBuf>,
    /// Every heap profile of the directory, in name order.
    pub profiles: Vec<PathBuf>,
    pub smaps: Option<PathBuf>,
    pub memory_stat: Option<PathBuf>,
}

/// `core`, `core.*`, `*.core`, possibly `.zst`/`.gz`/`.xz`-compressed.
pub fn is_core_name(name: &str) -> bool {
    let stem = name
        .trim_end_matches(".zst")
        .trim_end_matches(".gz")
        .trim_end_matches(".xz");
    stem == "core" || stem.starts_with("core.") || stem.ends_with(".core")
}

/// `*.pb.gz`, `*.pprof`, `*.pb`, `heap*` (not `*.txt`).
pub fn is_profile_name(name: &str) -> bool {
    name.ends_with(".pb.gz")
        || name.ends_with(".pprof")
        || name.ends_with(".pb")
        || (name.starts_with("heap") && !name.ends_with(".txt"))
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Regular files (or symlinks to them) of `dir`, sorted, bounded.
fn files_of(dir: &Path) -> Result<Vec<PathBuf>, IncidentError> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| IncidentError::ListDir {
            dir: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .take(MAX_FILES_PER_DIR)
        .collect();
    names.sort();
    Ok(names)
}

/// Finds the core, executable, profile, smaps and memory.stat of an
/// incident directory. A missing executable is `exe: None`, not an error.
pub fn discover_incident(dir: &Path) -> Result<Incident, IncidentError> {
    let names = files_of(dir)?;
    from_files(dir, &names)
}

fn from_files(dir: &Path, names: &[PathBuf]) -> Result<Incident, IncidentError> {
    let cores: Vec<&PathBuf> = names.iter().filter(|p| is_core_name(&name_of(p))).collect();
    let core = match cores.as_slice() {
        [one] => (*one).clone(),
        // Prefer the uncompressed one when both are present.
        [..] if cores.iter().any(|p| name_of(p) == "core") => dir.join("core"),
        [] => {
            return Err(IncidentError::NoCore {
                dir: dir.to_path_buf(),
            })
        }
        _ => {
            return Err(IncidentError::SeveralCores {
                dir: dir.to_path_buf(),
                names: cores
                    .iter()
                    .map(|p| name_of(p))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    };
    let mut inc = Incident {
        dir: dir.to_path_buf(),
        core,
        ..Default::default()
    };
    inc.profiles = names
        .iter()
        .filter(|p| is_profile_name(&name_of(p)))
        .cloned()
        .collect();
    inc.smaps = names
        .iter()
        .find(|p| name_of(p) == "smaps.txt" || name_of(p) == "smaps")
        .or_else(|| {
            names
                .iter()
                .find(|p| name_of(p) == "maps" || name_of(p) == "proc-maps.txt")
        })
        .cloned();
    inc.memory_stat = names
        .iter()
        .find(|p| name_of(p) == "memory.stat" || name_of(p) == "memory.current")
        .cloned();
    let exes = go_executables(names);
    inc.exe = match exes.len() {
        0 => None,
        1 => exes.into_iter().next().map(|(p, _)| p),
        n => Some(pick_executable(&inc.core, exes).ok_or_else(|| {
            IncidentError::NoMatchingExecutable {
                dir: dir.to_path_buf(),
                count: n,
            }
        })?),
    };
    Ok(inc)
}

/// The Go ELF executables (possibly compressed) among `names`, with the
/// opened file; uncompressed ones first.
fn go_executables(names: &[PathBuf]) -> Vec<(PathBuf, Executable)> {
    let mut candidates: Vec<&PathBuf> = names
        .iter()
        .filter(|p| {
            let n = name_of(p);
            !is_core_name(&n)
                && !is_profile_name(&n)
                && !n.ends_with(".txt")
                && !n.ends_with(".json")
                && !n.ends_with(".md")
                && !n.starts_with('.')
        })
        .filter(|p| looks_like_elf_or_zst(p))
        .collect();
    candidates.sort_by_key(|p| name_of(p).ends_with(".zst"));
    candidates
        .into_iter()
        .filter_map(|p| Some((p.clone(), Executable::open(p).ok()?)))
        .filter(|(_, e)| is_go(e))
        .collect()
}

fn is_go(exe: &Executable) -> bool {
    exe.go_build_id().is_some()
        || [".go.buildinfo", ".gopclntab"]
            .iter()
            .any(|s| matches!(exe.section_range(s), Ok(Some(_))))
}

/// Among several executables, the one the core's process ran: the core's
/// copy of the build-ID note agrees, else the mapping layout agrees, else
/// the file name equals the `NT_FILE` path's.
fn pick_executable(core: &Path, exes: Vec<(PathBuf, Executable)>) -> Option<PathBuf> {
    let core = Core::open(core).ok()?;
    let matches: Vec<(PathBuf, mapscope_elfcore::ExecutableMatch)> = exes
        .into_iter()
        .map(|(p, e)| {
            let m = match_executable(&core, &e);
            (p, m)
        })
        .filter(|(_, m)| !m.is_mismatch())
        .collect();
    let by = |f: &dyn Fn(&mapscope_elfcore::ExecutableMatch) -> bool| {
        matches.iter().find(|(_, m)| f(m)).map(|(p, _)| p.clone())
    };
    by(&|m| m.build_id.verdict == Verdict::Agrees)
        .or_else(|| by(&|m| m.layout.verdict == Verdict::Agrees))
        .or_else(|| by(&|m| m.name.verdict == Verdict::Agrees))
}

fn looks_like_elf_or_zst(p: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let ok = std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok();
    ok && (magic == *b"\x7fELF" || magic == [0x28, 0xb5, 0x2f, 0xfd])
}

/// What one directory under a batch root turned out to be.
#[derive(Debug)]
pub enum Candidate {
    /// An incident to analyse.
    Incident(Incident),
    /// It holds a core but cannot be analysed as found (several cores,
    /// several executables none of which matches, unreadable): a failed
    /// incident.
    Broken { dir: PathBuf, error: IncidentError },
    /// It holds files but no core: not an incident.
    Skipped { dir: PathBuf, reason: String },
}

impl Candidate {
    pub fn dir(&self) -> &Path {
        match self {
            Candidate::Incident(i) => &i.dir,
            Candidate::Broken { dir, .. } | Candidate::Skipped { dir, .. } => dir,
        }
    }
}

/// Every directory under `root` (itself included) that holds files, in
/// path order, classified. Symlinked directories are not followed (no
/// cycles); depth and directory count are bounded ([`MAX_DEPTH`],
/// [`MAX_DIRECTORIES`]). A directory holding only subdirectories is a
/// container and not listed. Each directory is read exactly as
/// [`discover_incident`] reads it; an incident without an executable in
/// its directory is still an incident (its analysis uses the core's
/// `NT_FILE` path if that file is the very build, and fails naming it
/// otherwise).
///
/// `Err` only when `root` itself cannot be listed.
pub fn find_incidents(root: &Path) -> Result<Vec<Candidate>, IncidentError> {
    // Fail early, with the root's own error, if it cannot be listed.
    files_of(root)?;
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_path_buf(), 0)];
    let mut visited = 0usize;
    while let Some((dir, depth)) = stack.pop() {
        visited += 1;
        if visited > MAX_DIRECTORIES {
            out.push(Candidate::Skipped {
                dir,
                reason: format!("more than {MAX_DIRECTORIES} directories under the root; stopped"),
            });
            break;
        }
        let entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .take(MAX_FILES_PER_DIR)
                .collect(),
            Err(e) => {
                out.push(Candidate::Skipped {
                    reason: format!("cannot list directory: {e}"),
                    dir,
                });
                continue;
            }
        };
        let mut subdirs: Vec<PathBuf> = entries
            .iter()
            .filter(|p| {
                std::fs::symlink_metadata(p)
                    .map(|m| m.file_type().is_dir())
                    .unwrap_or(false)
            })
            .filter(|p| !name_of(p).starts_with('.'))
            .cloned()
            .collect();
        let mut files: Vec<PathBuf> = entries.into_iter().filter(|p| p.is_file()).collect();
        files.sort();
        if depth < MAX_DEPTH {
            // Reverse so that popping visits them in path order.
            subdirs.sort();
            stack.extend(subdirs.into_iter().rev().map(|d| (d, depth + 1)));
        }
        let visible = files
            .iter()
            .filter(|p| !name_of(p).starts_with('.'))
            .count();
        if visible == 0 {
            continue;
        }
        out.push(classify(&dir, &files));
    }
    out.sort_by(|a, b| a.dir().cmp(b.dir()));
    Ok(out)
}

fn classify(dir: &Path, files: &[PathBuf]) -> Candidate {
    match from_files(dir, files) {
        Err(IncidentError::NoCore { .. }) => Candidate::Skipped {
            dir: dir.to_path_buf(),
            reason: "no core (core, core.*, *.core)".to_string(),
        },
        Err(error) => Candidate::Broken {
            dir: dir.to_path_buf(),
            error,
        },
        Ok(inc) => Candidate::Incident(inc),
    }
}

/// How many bytes the core will occupy once opened: its size, or for a
/// compressed core the decompressed size its header records (zstd frame
/// content size; gzip ISIZE, mod 4 GiB, so never below 4× the file), else
/// 10× the compressed size. `batch` budgets memory with it.
pub fn estimated_core_bytes(core: &Path) -> u64 {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(core) else {
        return 0;
    };
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut head = [0u8; 18];
    let n = f.read(&mut head).unwrap_or(0);
    let head = head.get(..n).unwrap_or(&[]);
    if let Some(content) = zstd_content_size(head) {
        return content.max(size);
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        let mut tail = [0u8; 4];
        let isize = f
            .seek(SeekFrom::End(-4))
            .and_then(|_| f.read_exact(&mut tail))
            .map(|_| u64::from(u32::from_le_bytes(tail)))
            .unwrap_or(0);
        return isize.max(size.saturating_mul(4));
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || head.starts_with(&[0xfd, b'7', b'z']) {
        return size.saturating_mul(10);
    }
    size
}

/// The frame content size of a zstd frame header, when it records one.
fn zstd_content_size(head: &[u8]) -> Option<u64> {
    if !head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return None;
    }
    let fhd = *head.get(4)?;
    let single_segment = fhd & 0x20 != 0;
    let fcs_len = match fhd >> 6 {
        0 if single_segment => 1,
        0 => return None,
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let dict_len = [0usize, 1, 2, 4][usize::from(fhd & 3)];
    let start = 5 + usize::from(!single_segment) + dict_len;
    let bytes = head.get(start..start + fcs_len)?;
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate() {
        v |= u64::from(*b) << (8 * i);
    }
    Some(if fcs_len == 2 { v + 256 } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_and_profile_names() {
        for n in ["core", "core.1234", "app.core", "core.zst", "core.1234.xz"] {
            assert!(is_core_name(n), "{n}");
        }
        for n in ["corefile", "mapzoo", "heap.pb.gz"] {
            assert!(!is_core_name(n), "{n}");
        }
        assert!(is_profile_name("heap.pb.gz") && is_profile_name("heap"));
        assert!(!is_profile_name("heap.txt"));
    }

    #[test]
    fn zstd_frame_content_size() {
        // Single segment, 4-byte content size 0x01020304.
        let head = [0x28, 0xb5, 0x2f, 0xfd, 0xa0, 4, 3, 2, 1];
        assert_eq!(zstd_content_size(&head), Some(0x0102_0304));
        // No content size recorded.
        assert_eq!(
            zstd_content_size(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58]),
            None
        );
        assert_eq!(zstd_content_size(b"\x7fELF"), None);
    }
}
