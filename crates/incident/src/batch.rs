//! `batch` beyond one machine: the summary model `batch` writes, which
//! incidents a shard `K/N` owns, and merging the shards' summaries into
//! the summary one unsharded `batch` would have written (`docs/batch.md`).
//!
//! Shard assignment: an incident belongs to shard
//! `fmix64(FNV-1a-64(name)) mod N`, where `name` is its path relative to
//! the batch root as the summary's `name` field prints it (`a/b`). It
//! depends on nothing but the incident's own name, so adding or removing
//! other incidents never moves it to another shard (a round-robin over the
//! sorted list would move every incident after an insertion). Shard
//! indexes are 0-based (`0/N` … `N-1/N`), like Kubernetes'
//! `JOB_COMPLETION_INDEX`.
//!
//! Merging ([`merge`]) refuses inconsistent inputs instead of warning:
//! shards of different `N`, the same shard twice, a missing shard, the
//! same incident in two shards, or an incident in a shard its name does
//! not hash to (another root, another mapscope). Rows come out in the
//! unsharded order (by incident path); `jobs` and `seconds` are
//! recomputed (sums over the shards), per-row `seconds` are as measured.
//!
//! Also owns a summary row's facts from one incident's report
//! ([`IncidentSummary::record`]) and how many incidents run at once
//! ([`job_count`]: capped by available memory).
//!
//! And the plan of one run ([`plan`]: the directories found, their rows,
//! the incidents with their core sizes) and reading the summaries a merge
//! is given ([`read_summaries`], bounded in size and count).
//!
//! Does not touch: finding or analysing incidents (`discover`, `analyze`),
//! running the analyses, writing files, rendering (the binary, `mapscope-render`).

use crate::analyze::Report;
use crate::discover::{estimated_core_bytes, find_incidents, Candidate, Incident};
use crate::error::{IncidentError, ShardError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// At most this many shards (`N` of `K/N`).
pub const MAX_SHARDS: u32 = 65_536;

/// One line of the batch summary (`{"incidents":[…]}` in JSON).
#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq)]
pub struct IncidentSummary {
    /// The incident directory.
    pub path: String,
    /// Its name under OUTDIR (its path relative to DIR).
    pub name: String,
    /// `ok`, `partial` (a cut core, answered from what it holds; its
    /// report's warnings and `coverage` say what is missing), `failed` or
    /// `skipped`.
    pub status: String,
    /// Why it failed or was skipped; null when ok.
    pub error: Option<String>,
    pub go_version: Option<String>,
    pub heap_in_use_bytes: Option<u64>,
    pub top_map: Option<String>,
    pub top_map_retained_bytes: Option<u64>,
    pub findings: Option<usize>,
    /// `OUTDIR/<name>`, when reports were written.
    pub report_dir: Option<String>,
    pub seconds: Option<f64>,
}

/// The summary `batch` prints and keeps as `OUTDIR/summary.json` (or
/// `OUTDIR/summary.shard-K-of-N.json` for one shard), and the merged one.
#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq)]
pub struct BatchSummary {
    /// The batch root DIR as given.
    #[serde(default)]
    pub root: Option<String>,
    /// The shard this summary covers; null for all incidents (an
    /// unsharded batch, or a merge of every shard).
    #[serde(default)]
    pub shard: Option<Shard>,
    pub incidents: Vec<IncidentSummary>,
    /// Incidents analysed at once (merged: the sum over the shards).
    pub jobs: usize,
    /// Wall time of the batch (merged: the sum over the shards).
    pub seconds: f64,
    /// A merged summary: the shard summaries it was made of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedShard>,
}

/// One input of a merge.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MergedShard {
    pub file: String,
    pub shard: Shard,
    pub jobs: usize,
    pub seconds: f64,
}

/// Shard `index` of `count` (`K/N`, 0-based).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole batch as one shard (`0/1`).
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `K/N`: 0 ≤ K < N ≤ [`MAX_SHARDS`].
    pub fn parse(text: &str) -> Result<Shard, ShardError> {
        let text_owned = || text.to_string();
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| ShardError::Syntax { text: text_owned() })?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| ShardError::CountNotNumber { text: text_owned() })?;
        let index: u32 = k
            .trim()
            .parse()
            .map_err(|_| ShardError::IndexNotNumber { text: text_owned() })?;
        if count == 0 || count > MAX_SHARDS {
            return Err(ShardError::CountRange {
                text: text_owned(),
                count,
                max: MAX_SHARDS,
            });
        }
        if index >= count {
            return Err(ShardError::IndexRange {
                text: text_owned(),
                index,
                count,
            });
        }
        Ok(Shard { index, count })
    }

    /// Whether the incident named `name` (its path relative to the batch
    /// root) belongs to this shard.
    pub fn owns(&self, name: &str) -> bool {
        shard_of(name, self.count) == self.index
    }

    /// `summary.json`, or `summary.shard-K-of-N.json` for a shard.
    pub fn summary_file_name(shard: Option<Shard>) -> String {
        match shard {
            None => "summary.json".to_string(),
            Some(s) => format!("summary.shard-{}-of-{}.json", s.index, s.count),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard (of `count`, 0-based) the incident named `name` belongs to:
/// FNV-1a 64 of the name's UTF-8 bytes, mixed by MurmurHash3's `fmix64`,
/// mod `count`. Fixed forever: changing it moves incidents between shards
/// of runs already under way.
pub fn shard_of(name: &str, count: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    // `h % count` < count ≤ u32::MAX.
    u32::try_from(h % u64::from(count.max(1))).unwrap_or(0)
}

/// `dir` relative to the batch root as the summary names it; the root's
/// own name when they are the same directory.
pub fn incident_name(root: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let name = rel.to_string_lossy().into_owned();
    if name.is_empty() {
        root.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "incident".into())
    } else {
        name
    }
}

impl IncidentSummary {
    /// The row of `candidate`, found under the batch root `root`: named by
    /// its path below it; a broken directory `failed` and a skipped one
    /// `skipped`, each with why; an incident with its status still empty
    /// (set by [`IncidentSummary::record`] or its failure).
    pub fn of_candidate(root: &Path, candidate: &Candidate) -> IncidentSummary {
        let mut row = IncidentSummary {
            path: candidate.dir().display().to_string(),
            name: incident_name(root, candidate.dir()),
            ..Default::default()
        };
        match candidate {
            Candidate::Incident(_) => {}
            Candidate::Broken { error, .. } => {
                row.status = "failed".into();
                row.error = Some(error.chain_message());
            }
            Candidate::Skipped { reason, .. } => {
                row.status = "skipped".into();
                row.error = Some(reason.clone());
            }
        }
        row
    }

    /// Records what `report` found: Go version, heap, top map, findings,
    /// and the status — `ok`, or `partial` for a cut core answered from
    /// what it holds (its warnings say what is missing), never `failed`.
    pub fn record(&mut self, report: &Report) {
        self.go_version = Some(report.go_version.clone());
        self.heap_in_use_bytes = Some(report.heap_in_use_bytes);
        self.top_map = report.top_map().map(|m| m.root.clone());
        self.top_map_retained_bytes = report.top_map().and_then(|m| m.retained_bytes);
        self.findings = Some(report.finding_groups.iter().map(|g| g.count).sum::<u64>() as usize);
        self.status = if report.coverage.complete {
            "ok".into()
        } else {
            "partial".into()
        };
    }
}

/// Incidents analysed at once: `requested` (default: the number of
/// cores), capped by memory — each running analysis maps (and for a
/// compressed core, decompresses into a temporary file) its whole core
/// and builds the object graph over it, so at most `MemAvailable /
/// largest core` run at once (docs/decisions.md); never more than the
/// incidents, never fewer than one.
pub fn job_count(requested: Option<usize>, core_bytes: &[u64], incidents: usize) -> usize {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let largest = core_bytes.iter().copied().max().unwrap_or(0);
    cap_jobs(
        requested.unwrap_or(cores),
        mem_available(),
        largest,
        incidents,
    )
}

/// The rule of [`job_count`] on plain numbers (`mem_available`: `None`
/// when /proc/meminfo is unreadable, then memory does not cap).
pub fn cap_jobs(
    wanted: usize,
    mem_available: Option<u64>,
    largest_core: u64,
    incidents: usize,
) -> usize {
    let by_memory = mem_available
        .map(|m| usize::try_from(m / largest_core.max(1)).unwrap_or(usize::MAX))
        .unwrap_or(usize::MAX)
        .max(1);
    wanted.max(1).min(by_memory).min(incidents.max(1))
}

/// `MemAvailable` of /proc/meminfo, in bytes.
fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// What one batch run will do: every directory found under the root (or
/// the ones a shard owns), their summary rows, and the incidents to
/// analyse with their estimated core sizes.
pub struct Plan {
    /// A row per directory, in path order (incidents' still to be filled).
    pub rows: Vec<IncidentSummary>,
    /// The incidents to analyse: the index of their row, the incident,
    /// and its core's estimated size in bytes (decompressed).
    pub incidents: Vec<(usize, Incident, u64)>,
}

impl Plan {
    /// Bytes of every core to analyse.
    pub fn total_core_bytes(&self) -> u64 {
        self.incidents
            .iter()
            .fold(0u64, |a, (_, _, b)| a.saturating_add(*b))
    }
}

/// The [`Plan`] for the batch root `dir`: every directory under it
/// ([`crate::discover::find_incidents`]), or with `shard` the ones it owns.
pub fn plan(dir: &Path, shard: Option<Shard>) -> Result<Plan, IncidentError> {
    let mut candidates = find_incidents(dir)?;
    if let Some(shard) = shard {
        candidates.retain(|c| shard.owns(&incident_name(dir, c.dir())));
    }
    let rows = candidates
        .iter()
        .map(|c| IncidentSummary::of_candidate(dir, c))
        .collect();
    let incidents = candidates
        .into_iter()
        .enumerate()
        .filter_map(|(i, c)| match c {
            Candidate::Incident(inc) => {
                let bytes = estimated_core_bytes(&inc.core);
                Some((i, inc, bytes))
            }
            _ => None,
        })
        .collect();
    Ok(Plan { rows, incidents })
}

/// A summary file larger than this is refused (a million incidents'
/// rows are well under it).
pub const MAX_SUMMARY_BYTES: u64 = 1 << 30;
/// At most this many summary files are read from one OUTDIR.
pub const MAX_FILES_PER_DIR: usize = 100_000;

/// Why a summary file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("{}: no summary.shard-K-of-N.json or summary.json", dir.display())]
    NoSummaries { dir: PathBuf },
    #[error("{}: cannot list directory", dir.display())]
    ListDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot read", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {len} bytes is too large for a batch summary", path.display())]
    TooLarge { path: PathBuf, len: u64 },
    #[error("{}: not a mapscope batch summary", path.display())]
    NotSummary {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// The summaries `inputs` name for a merge, each with its file: a file
/// is read as a summary; a directory (a shard's OUTDIR) gives its
/// `summary.shard-*-of-*.json` files, sorted, else its `summary.json`,
/// else [`SummaryError::NoSummaries`]. A file named twice (its OUTDIR and
/// itself) is read once.
pub fn read_summaries(inputs: &[PathBuf]) -> Result<Vec<(PathBuf, BatchSummary)>, SummaryError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let found = summaries_in(input)?;
            if found.is_empty() {
                return Err(SummaryError::NoSummaries { dir: input.clone() });
            }
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    let mut seen = Vec::new();
    files.retain(|f| {
        let key = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    files
        .into_iter()
        .map(|f| read_summary(&f).map(|s| (f, s)))
        .collect()
}

/// `summary.shard-*-of-*.json` in `dir`, sorted; else `summary.json`.
fn summaries_in(dir: &Path) -> Result<Vec<PathBuf>, SummaryError> {
    let mut shards: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| SummaryError::ListDir {
            dir: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .take(MAX_FILES_PER_DIR)
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("summary.shard-") && n.ends_with(".json"))
        })
        .filter(|p| p.is_file())
        .collect();
    shards.sort();
    if shards.is_empty() && dir.join("summary.json").is_file() {
        shards.push(dir.join("summary.json"));
    }
    Ok(shards)
}

/// One summary file, refusing one over [`MAX_SUMMARY_BYTES`].
pub fn read_summary(path: &Path) -> Result<BatchSummary, SummaryError> {
    let read = |source| SummaryError::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > MAX_SUMMARY_BYTES {
        return Err(SummaryError::TooLarge {
            path: path.to_path_buf(),
            len,
        });
    }
    let text = std::fs::read(path).map_err(read)?;
    serde_json::from_slice(&text).map_err(|source| SummaryError::NotSummary {
        path: path.to_path_buf(),
        source,
    })
}

/// Why shard summaries cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error("{}: shard {shard} is not one (0 <= K < N <= {MAX_SHARDS})", file.display())]
    BadShard { file: PathBuf, shard: Shard },
    #[error("{}: shard {} of a batch of {} shards, but {} is of {} shards", file.display(), shard, shard.count, other.display(), other_count)]
    DifferentCounts {
        file: PathBuf,
        shard: Shard,
        other: PathBuf,
        other_count: u32,
    },
    #[error("shard {shard} twice: {} and {}", first.display(), second.display())]
    DuplicateShard {
        shard: Shard,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(
        "missing shard(s) {} of {count}: run them, then merge again",
        list(missing)
    )]
    MissingShards { missing: Vec<u32>, count: u32 },
    #[error("incident {name} is in two shards: {} and {}", first.display(), second.display())]
    DuplicateIncident {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{}: incident {name} belongs to shard {owner}/{count}, not {shard} (another DIR or another mapscope?)", file.display())]
    WrongShard {
        file: PathBuf,
        name: String,
        shard: Shard,
        owner: u32,
        count: u32,
    },
}

fn list(v: &[u32]) -> String {
    v.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Merges the summaries of every shard of one batch (each with the file it
/// was read from; an unsharded summary counts as shard `0/1`) into the
/// summary an unsharded `batch` prints: the same rows in the same order
/// (by incident path), `shard` null, `jobs` and `seconds` the sums over
/// the shards, `merged_from` listing the inputs. Inputs are checked
/// ([`MergeError`]); `root` is the shards' common root (the first one's
/// when they differ: the caller may warn with [`roots_differ`]).
pub fn merge(inputs: Vec<(PathBuf, BatchSummary)>) -> Result<BatchSummary, MergeError> {
    let mut inputs = inputs;
    inputs.sort_by_key(|(_, s)| s.shard.unwrap_or(Shard::ALL).index);
    let (first_file, first) = inputs.first().ok_or(MergeError::Empty)?;
    let count = first.shard.unwrap_or(Shard::ALL).count;
    let first_file = first_file.clone();
    let root = first.root.clone();
    // Summaries are files: check what they claim before sizing anything.
    if let Some((file, s)) = inputs.iter().find(|(_, s)| {
        let sh = s.shard.unwrap_or(Shard::ALL);
        sh.count == 0 || sh.count > MAX_SHARDS || sh.index >= sh.count
    }) {
        return Err(MergeError::BadShard {
            file: file.clone(),
            shard: s.shard.unwrap_or(Shard::ALL),
        });
    }
    let mut seen: Vec<Option<PathBuf>> = vec![None; usize::try_from(count).unwrap_or(0)];
    for (file, s) in &inputs {
        let shard = s.shard.unwrap_or(Shard::ALL);
        if shard.count != count {
            return Err(MergeError::DifferentCounts {
                file: file.clone(),
                shard,
                other: first_file.clone(),
                other_count: count,
            });
        }
        let slot = seen
            .get_mut(usize::try_from(shard.index).unwrap_or(usize::MAX))
            .ok_or_else(|| MergeError::BadShard {
                file: file.clone(),
                shard,
            })?;
        if let Some(prev) = slot {
            return Err(MergeError::DuplicateShard {
                shard,
                first: prev.clone(),
                second: file.clone(),
            });
        }
        *slot = Some(file.clone());
    }
    let missing: Vec<u32> = seen
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_none())
        .filter_map(|(i, _)| u32::try_from(i).ok())
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::MissingShards { missing, count });
    }

    let mut rows: Vec<(IncidentSummary, PathBuf)> = Vec::new();
    let mut merged_from = Vec::new();
    let (mut jobs, mut seconds) = (0usize, 0f64);
    for (file, s) in inputs {
        let shard = s.shard.unwrap_or(Shard::ALL);
        for row in s.incidents {
            let owner = shard_of(&row.name, count);
            if owner != shard.index {
                return Err(MergeError::WrongShard {
                    file,
                    name: row.name,
                    shard,
                    owner,
                    count,
                });
            }
            rows.push((row, file.clone()));
        }
        jobs = jobs.saturating_add(s.jobs);
        seconds += s.seconds;
        merged_from.push(MergedShard {
            file: file.display().to_string(),
            shard,
            jobs: s.jobs,
            seconds: s.seconds,
        });
    }
    // The unsharded order: `find_incidents` sorts by directory path.
    rows.sort_by(|(a, _), (b, _)| Path::new(&a.path).cmp(Path::new(&b.path)));
    let mut names: Vec<(&str, &PathBuf)> = rows.iter().map(|(r, f)| (r.name.as_str(), f)).collect();
    names.sort();
    if let Some(w) = names.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(MergeError::DuplicateIncident {
            name: w[0].0.to_string(),
            first: w[0].1.clone(),
            second: w[1].1.clone(),
        });
    }
    Ok(BatchSummary {
        root,
        shard: None,
        incidents: rows.into_iter().map(|(r, _)| r).collect(),
        jobs,
        seconds,
        merged_from,
    })
}

/// The distinct batch roots of `inputs`, when there are several (the
/// shards ran on different paths: rows are still merged, ordered by path).
pub fn roots_differ(inputs: &[(PathBuf, BatchSummary)]) -> Option<Vec<String>> {
    let mut roots: Vec<String> = inputs.iter().filter_map(|(_, s)| s.root.clone()).collect();
    roots.sort();
    roots.dedup();
    (roots.len() > 1).then_some(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_capped_by_memory_and_incidents() {
        const GB: u64 = 1 << 30;
        assert_eq!(cap_jobs(8, Some(20 * GB), 2 * GB, 100), 8);
        assert_eq!(cap_jobs(8, Some(5 * GB), 2 * GB, 100), 2);
        assert_eq!(cap_jobs(8, Some(GB), 2 * GB, 100), 1);
        assert_eq!(cap_jobs(8, None, 2 * GB, 3), 3);
        assert_eq!(cap_jobs(0, Some(GB), 0, 0), 1);
    }

    #[test]
    fn incident_names_are_paths_below_the_root() {
        let root = Path::new("/srv/incidents");
        assert_eq!(incident_name(root, &root.join("a/b")), "a/b");
        assert_eq!(incident_name(root, root), "incidents");
    }

    fn row(name: &str) -> IncidentSummary {
        IncidentSummary {
            path: format!("/srv/incidents/{name}"),
            name: name.to_string(),
            status: "ok".into(),
            ..Default::default()
        }
    }

    fn names(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("svc-{}/inc-{i:04}", i % 7))
            .collect()
    }

    /// Every shard's summary of `all`, as `batch --shard` writes them.
    fn shards(all: &[String], count: u32) -> Vec<(PathBuf, BatchSummary)> {
        (0..count)
            .map(|index| {
                let shard = Shard { index, count };
                let rows = all
                    .iter()
                    .filter(|n| shard.owns(n))
                    .map(|n| row(n))
                    .collect();
                (
                    PathBuf::from(format!("out/{}", Shard::summary_file_name(Some(shard)))),
                    BatchSummary {
                        root: Some("/srv/incidents".into()),
                        shard: Some(shard),
                        incidents: rows,
                        jobs: 2,
                        seconds: 1.5,
                        merged_from: Vec::new(),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn parse_is_zero_based_and_bounded() {
        assert_eq!(Shard::parse("0/3"), Ok(Shard { index: 0, count: 3 }));
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["3/3", "1/0", "x/3", "1", "-1/3", "0/65537", "/"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Shard::parse("3/3"),
            Err(ShardError::IndexRange {
                text: "3/3".into(),
                index: 3,
                count: 3
            })
        );
        assert_eq!(
            Shard::parse("3/3").unwrap_err().to_string(),
            "\"3/3\": K is 0-based, 0 to 2 (a Slurm array numbered from 1: pass $((SLURM_ARRAY_TASK_ID - 1)))"
        );
        assert_eq!(
            Shard::parse("0/65537").unwrap_err().to_string(),
            "\"0/65537\": N must be 1 to 65536"
        );
    }

    #[test]
    fn assignment_is_fixed_and_independent_of_other_incidents() {
        // The function is a contract (docs/batch.md); reference values
        // computed outside mapscope (Python: FNV-1a 64 by its definition,
        // then MurmurHash3's fmix64, mod N).
        for (name, of3, of8) in [
            ("a/b", 2, 4),
            ("svc-a-go122", 0, 5),
            ("team/night/svc-c-go126", 2, 7),
            ("incidents", 0, 2),
        ] {
            assert_eq!(shard_of(name, 3), of3, "{name}");
            assert_eq!(shard_of(name, 8), of8, "{name}");
        }
        // Adding incidents cannot move an existing one: its shard is a
        // function of its name alone (no list position, no count of
        // incidents); the batch test checks it end to end.
        // Every name lands in exactly one shard, and shards are balanced.
        let all = names(4000);
        let mut per = [0usize; 8];
        for n in &all {
            let owners: Vec<u32> = (0..8)
                .filter(|&k| Shard { index: k, count: 8 }.owns(n))
                .collect();
            assert_eq!(owners.len(), 1, "{n}");
            per[owners[0] as usize] += 1;
        }
        for c in per {
            assert!((400..=600).contains(&c), "unbalanced: {per:?}");
        }
        assert_eq!(shard_of("anything", 1), 0);
    }

    #[test]
    fn merged_shards_equal_the_unsharded_rows() {
        let all = names(50);
        let mut sorted: Vec<&String> = all.iter().collect();
        sorted.sort_by(|a, b| Path::new(a.as_str()).cmp(Path::new(b.as_str())));
        let m = merge(shards(&all, 3)).unwrap();
        let got: Vec<&str> = m.incidents.iter().map(|r| r.name.as_str()).collect();
        let want: Vec<&str> = sorted.iter().map(|s| s.as_str()).collect();
        assert_eq!(got, want);
        assert_eq!(m.shard, None);
        assert_eq!((m.jobs, m.seconds), (6, 4.5));
        assert_eq!(m.merged_from.len(), 3);
        // Order of the inputs does not matter.
        let mut rev = shards(&all, 3);
        rev.reverse();
        assert_eq!(merge(rev).unwrap().incidents, m.incidents);
    }

    #[test]
    fn merged_rows_follow_paths_not_names() {
        // find_incidents lists by Path: the root itself first, then
        // `a/b` before `a-b` (component order), unlike a string sort of
        // the names ("a-b" < "a/b" < "incidents").
        let rows = [
            ("/srv/incidents", "incidents"),
            ("/srv/incidents/a/b", "a/b"),
            ("/srv/incidents/a-b", "a-b"),
        ];
        let inputs = (0..2)
            .map(|index| {
                let shard = Shard { index, count: 2 };
                let incidents = rows
                    .iter()
                    .filter(|(_, n)| shard.owns(n))
                    .map(|(p, n)| IncidentSummary {
                        path: p.to_string(),
                        name: n.to_string(),
                        status: "skipped".into(),
                        ..Default::default()
                    })
                    .collect();
                let summary = BatchSummary {
                    shard: Some(shard),
                    incidents,
                    ..Default::default()
                };
                (PathBuf::from(format!("s{index}.json")), summary)
            })
            .collect();
        let m = merge(inputs).unwrap();
        let got: Vec<&str> = m.incidents.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(got, ["incidents", "a/b", "a-b"]);
    }

    #[test]
    fn inconsistent_shards_are_refused() {
        let all = names(50);
        assert_eq!(merge(Vec::new()), Err(MergeError::Empty));

        let mut missing = shards(&all, 4);
        missing.remove(2);
        assert!(matches!(
            merge(missing),
            Err(MergeError::MissingShards { missing, count: 4 }) if missing == vec![2]
        ));

        let mut mixed = shards(&all, 3);
        mixed.extend(shards(&all, 2).into_iter().take(1));
        assert!(matches!(
            merge(mixed),
            Err(MergeError::DifferentCounts { .. })
        ));

        let mut twice = shards(&all, 3);
        let again = twice[1].clone();
        twice.push((PathBuf::from("elsewhere/summary.json"), again.1));
        assert!(matches!(
            merge(twice),
            Err(MergeError::DuplicateShard { .. })
        ));

        // An incident reported by a shard it does not hash to.
        let mut wrong = shards(&all, 3);
        let stray = wrong[1].1.incidents[0].clone();
        wrong[0].1.incidents.push(stray);
        assert!(matches!(merge(wrong), Err(MergeError::WrongShard { .. })));

        // Shards no `batch --shard` writes (a file is untrusted input).
        for (index, count) in [(5, 3), (0, 0), (0, u32::MAX)] {
            let mut bad = shards(&all, 3);
            for (_, s) in &mut bad {
                s.shard = Some(Shard { index, count });
            }
            assert!(matches!(merge(bad), Err(MergeError::BadShard { .. })));
        }

        // The same incident twice in its own shard.
        let mut dup = shards(&all, 3);
        let again = dup[0].1.incidents[0].clone();
        dup[0].1.incidents.push(again);
        assert!(matches!(
            merge(dup),
            Err(MergeError::DuplicateIncident { .. })
        ));
    }
}
