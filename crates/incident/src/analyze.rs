//! The `analyze` pipeline as one library call: open the process, walk the
//! heap, discover maps, join the profile with the core (one call into
//! `mapscope_correlate::join_profile`), account, find — and return the
//! report model the command prints as JSON (`docs/cli.md`; every
//! field name here is part of that contract).
//!
//! Does not touch: rendering (`mapscope_render::reports::analyze` words
//! [`Report`] as a document), how maps are decoded or attributed (gomaps,
//! correlate).

use crate::checks::{run_checks, Status};
use crate::discover::Incident;
use crate::error::IncidentError;
use crate::open::{choose_profile, open_go, ExeFiles};
use crate::warning::{library, NoProfile, Warning};
use mapscope_correlate::accounting::{parse_cgroup, parse_smaps_rss};
use mapscope_correlate::{
    accounting, join_profile, map_findings, rank, threshold_bytes, AccountingInput, FindingGroup,
    Layer, ProfileFile, Severity, SiteValue,
};
use mapscope_elfcore::RegionKind;
use mapscope_gomaps::discover::{
    discover_with, DiscoverOptions, FoundKind, FoundMap, RootKind, RootOrigin, RootVia, SlotType,
    LISTED_CHILDREN,
};
use mapscope_goruntime::timing::phase;
use mapscope_goruntime::GoProcess;
use mapscope_pprof::Profile;
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The report's finding and garbage records, as their crates define them.
pub use mapscope_correlate::Finding;
pub use mapscope_gomaps::discover::Garbage;

/// The files one analysis reads. Everything but the core is optional.
#[derive(Debug, Default, Clone)]
pub struct AnalyzeInputs {
    pub core: PathBuf,
    /// Default: the core's `NT_FILE` path of its executable. Whichever is
    /// used must match the core ([`crate::open`](mod@crate::open)).
    pub exe: Option<PathBuf>,
    /// A separate debug file of the executable's build (`--symbols`;
    /// default: the build-ID tree's, when the executable has no DWARF).
    pub symbols: Option<PathBuf>,
    /// Default: the one of `profiles` with the executable's build ID, else
    /// the profile rebuilt from the core's buckets.
    pub profile: Option<PathBuf>,
    /// The incident directory's profiles (see [`crate::open::choose_profile`]).
    pub profiles: Vec<PathBuf>,
    /// `/proc/PID/smaps` (or maps), for RSS.
    pub smaps: Option<PathBuf>,
    /// cgroup `memory.stat` or `memory.current`.
    pub memory_stat: Option<PathBuf>,
    /// Family members listed per family (0: all; default
    /// [`LISTED_CHILDREN`]).
    pub children: Option<usize>,
    /// Build the retained-size profile ([`Report::retained_profile`]).
    pub retained_profile: bool,
}

impl From<Incident> for AnalyzeInputs {
    fn from(i: Incident) -> AnalyzeInputs {
        AnalyzeInputs {
            core: i.core,
            exe: i.exe,
            symbols: None,
            profile: None,
            profiles: i.profiles,
            smaps: i.smaps,
            memory_stat: i.memory_stat,
            children: None,
            retained_profile: false,
        }
    }
}

impl AnalyzeInputs {
    /// The inputs of `path`: an incident directory's files
    /// ([`crate::discover_incident`]), else `path` as a core alone.
    pub fn of_path(path: &Path) -> Result<AnalyzeInputs, IncidentError> {
        if path.is_dir() {
            return Ok(AnalyzeInputs::from(crate::discover::discover_incident(
                path,
            )?));
        }
        Ok(AnalyzeInputs {
            core: path.to_path_buf(),
            ..Default::default()
        })
    }

    /// `self` with the files `flags` names (`exe`, `profile`, `smaps`,
    /// `memory_stat`) replacing the ones found, and `flags`' options.
    pub fn with_flags(self, flags: AnalyzeInputs) -> AnalyzeInputs {
        AnalyzeInputs {
            core: self.core,
            exe: flags.exe.or(self.exe),
            symbols: flags.symbols.or(self.symbols),
            profile: flags.profile.or(self.profile),
            profiles: self.profiles,
            smaps: flags.smaps.or(self.smaps),
            memory_stat: flags.memory_stat.or(self.memory_stat),
            children: flags.children.or(self.children),
            retained_profile: flags.retained_profile,
        }
    }
}

/// Where an analysis is, for progress displays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Open,
    HeapWalk,
    Maps,
    Profile,
    Attribution,
    Findings,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Open => "open",
            Stage::HeapWalk => "heap walk",
            Stage::Maps => "maps",
            Stage::Profile => "profile",
            Stage::Attribution => "attribution",
            Stage::Findings => "findings",
        }
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct AllocSite {
    pub function: String,
    pub file: String,
    pub line: i64,
    pub inuse_space: i64,
}

/// One map as every command prints it: the MAP object of `docs/cli.md`,
/// the same keys in `maps` and `analyze` (one serializer, [`map_report`]).
/// The profile attribution (`inuse_space`, `alloc_sites`) is null and
/// empty where no profile was attributed: in `maps` (it reads no
/// profile) and for family members (attribution is per top-level map).
#[derive(Serialize, Debug, Clone)]
pub struct MapReport {
    /// The path from a root as printed (see [`FoundMap::root`]).
    pub root: String,
    /// `global`, `heap`, `goroutine`, `finalizer`, `unknown`.
    pub root_kind: RootKind,
    /// The root the path starts at, typed: `{"kind":"global","variable"}`,
    /// `{"kind":"goroutine","goroutine","function"}`,
    /// `{"kind":"finalizer","object_type"}`, `{"kind":"unknown"}`.
    pub root_origin: RootOrigin,
    /// `variable`, `typed`, `objects` or `none` ([`RootVia`]).
    pub root_via: RootVia,
    #[serde(rename = "type")]
    pub type_name: String,
    /// `map`, `sync.Map`, `map-family`.
    pub kind: FoundKind,
    /// `{"type","size","indirect"}`; null for a family and when unknown.
    pub key: Option<SlotType>,
    pub value: Option<SlotType>,
    pub address: String,
    /// Entries (`count`/`used` of the header); members for a family.
    pub len: u64,
    /// Entries counted in the storage; for a family, its members' summed.
    pub live_entries: u64,
    /// Entries held: a family's members' `len` summed, else `len`.
    pub entries: u64,
    pub capacity: u64,
    /// `live_entries / capacity` of a `map`; null otherwise.
    pub load_factor: Option<f64>,
    pub tombstones: u64,
    pub growing: bool,
    pub storage_bytes: u64,
    pub retained_bytes: Option<u64>,
    pub children: Vec<MapReport>,
    /// Members not listed in `children`.
    pub children_omitted: u64,
    pub inuse_space: Option<i64>,
    pub alloc_sites: Vec<AllocSite>,
}

#[derive(Serialize, Debug)]
pub struct ProfileReport {
    /// `file` or `core`.
    pub source: String,
    pub path: Option<String>,
    pub inuse_space_total: i64,
    pub attributed: i64,
    pub non_map: i64,
    pub unattributed: i64,
    pub unattributed_sites: Vec<AllocSite>,
    /// A partial core: the part of the profile in the cut part (sampled
    /// objects, or the span records holding their profile specials,
    /// absent); 0 on a complete core. `attributed + non_map +
    /// unattributed + cut == inuse_space_total`.
    pub cut: i64,
    pub cut_sites: Vec<AllocSite>,
    pub core_profile_matches: Option<bool>,
    pub mem_profile_rate: Option<i64>,
}

/// The incident report (`mapscope analyze --format json`).
#[derive(Serialize, Debug)]
pub struct Report {
    pub go_version: String,
    /// The headline's facts; `mapscope_render::reports::analyze` words them.
    pub headline: Headline,
    pub maps: Vec<MapReport>,
    /// Map storage no root reaches: garbage awaiting collection, one
    /// summary instead of map rows (never in `findings`).
    pub garbage: Garbage,
    /// Every live heap object by type, largest first; the rows sum to the
    /// heap in use ([`crate::heapview::type_rows`]).
    pub types: Vec<crate::heapview::TypeReport>,
    /// The roots retaining the most (any type), largest first
    /// ([`crate::heapview::retainer_rows`]).
    pub retainers: Vec<crate::heapview::RetainerReport>,
    /// What no single root retains (shared by roots, or unreachable).
    pub retainers_rest: crate::heapview::RetentionRest,
    pub profile: ProfileReport,
    pub accounting: Vec<Layer>,
    /// Ranked by bytes at stake, largest first within each group of
    /// `finding_groups`; those under `finding_threshold_bytes` are counted
    /// in their group, not listed, and each code lists at most
    /// `mapscope_correlate::findings::LISTED_PER_CODE`.
    pub findings: Vec<Finding>,
    /// One per finding code, ranked: counts and bytes of all its findings.
    pub finding_groups: Vec<FindingGroup>,
    /// max(64 KiB, 0.1% of the Go heap in use).
    pub finding_threshold_bytes: u64,
    /// What the core holds of what its headers declare, per kind of
    /// memory ([`crate::coverage`]); `complete` false for a cut core.
    pub coverage: crate::coverage::Coverage,
    pub warnings: Vec<Warning>,
    /// The core analysed (the rendered header names it; not in the JSON).
    #[serde(skip)]
    pub core: PathBuf,
    /// Go heap in use by the walk (the accounting's Go heap layer).
    #[serde(skip)]
    pub heap_in_use_bytes: u64,
    /// The retained-size pprof profile, when asked for
    /// ([`AnalyzeInputs::retained_profile`], [`crate::retained_profile`]).
    #[serde(skip)]
    pub retained_profile: Option<Profile>,
}

impl Report {
    /// The map the headline names: the first with a root (`maps` is sorted
    /// by retained bytes), else the first.
    pub fn top_map(&self) -> Option<&MapReport> {
        self.maps
            .iter()
            .find(|m| m.root_kind != RootKind::Unknown)
            .or_else(|| self.maps.first())
    }
}

/// Runs the whole analysis. See [`analyze_with_progress`].
pub fn analyze(inputs: &AnalyzeInputs) -> Result<Report, IncidentError> {
    analyze_with_progress(inputs, &|_| {})
}

/// Runs the whole analysis, telling `on_stage` when each stage starts.
/// Fails only when the core, executable, profile or memory.stat cannot be
/// read, or the heap walk or map discovery fail as a whole; anything
/// partial is a warning in the report.
pub fn analyze_with_progress(
    inputs: &AnalyzeInputs,
    on_stage: &(dyn Fn(Stage) + Sync),
) -> Result<Report, IncidentError> {
    let core_path = &inputs.core;
    let mut warnings: Vec<Warning> = Vec::new();
    on_stage(Stage::Open);
    let (process, _notes) = phase("open", || {
        let files = ExeFiles {
            exe: inputs.exe.as_deref(),
            symbols: inputs.symbols.as_deref(),
        };
        open_go(core_path, files)
    })?;
    warnings.extend(library(process.warnings()));
    on_stage(Stage::HeapWalk);
    // The RSS estimate reads the core's anonymous pages and nothing the
    // heap walk makes: it runs beside it (the walk's span pass keeps one
    // thread busy, the discovery after it keeps them all).
    let (heap, (rss, rss_source)) = rayon::join(
        || phase("heap walk", || process.heap()),
        || phase("rss", || rss(&process, inputs.smaps.as_deref())),
    );
    let heap = heap.map_err(|source| IncidentError::HeapWalk {
        path: core_path.clone(),
        source,
    })?;
    let coverage = crate::coverage::Coverage::of(&process);
    warnings.extend(coverage.warning());
    on_stage(Stage::Maps);
    // Members the report does not list are counted, not kept.
    let options = DiscoverOptions {
        members_kept: inputs.children.unwrap_or(LISTED_CHILDREN),
    };
    let discovery = phase("maps", || discover_with(&process, &options));
    let discovery = discovery.map_err(|source| IncidentError::Maps {
        path: core_path.clone(),
        source,
    })?;
    warnings.extend(library(&discovery.warnings));
    let retained_profile = inputs.retained_profile.then(|| {
        phase("retained profile", || {
            crate::retained_profile::retained_profile(
                &discovery,
                heap.in_use_bytes(),
                core_path,
                process.memory().executable().map(|e| e.path()),
            )
        })
    });

    // The profile file, cross-checked against this core and executable.
    on_stage(Stage::Profile);
    let mut all_findings: Vec<Finding> = Vec::new();
    let profile_path = match &inputs.profile {
        Some(p) => Some(p.clone()),
        None => {
            let dir = inputs
                .profiles
                .first()
                .and_then(|p| p.parent())
                .unwrap_or(Path::new("."));
            choose_profile(dir, &inputs.profiles, process.memory().executable())?
        }
    };
    let profile = match &profile_path {
        Some(pp) => {
            let profile = Profile::from_path(pp).map_err(|source| IncidentError::Profile {
                path: pp.clone(),
                source,
            })?;
            all_findings.extend(profile_mismatches(&process, &profile, pp));
            Some(profile)
        }
        None => None,
    };

    on_stage(Stage::Attribution);
    let file = match (&profile_path, &profile) {
        (Some(path), Some(profile)) => Some(ProfileFile { path, profile }),
        _ => None,
    };
    // From here on the core is read little (the sampled objects' stacks
    // and records): its pages leave this process's page table on the
    // other threads while the attribution runs, instead of in the final
    // unmap on one thread.
    let threads = rayon::current_num_threads();
    let (joined, ()) = rayon::join(
        || {
            phase("attribution", || {
                join_profile(&process, heap, &discovery, file)
            })
        },
        || {
            if threads > 1 {
                (0..threads)
                    .into_par_iter()
                    .for_each(|part| process.memory().release_core_part(part, threads));
            }
        },
    );
    warnings.extend(library(&joined.warnings));
    let attribution = &joined.attribution;
    let maps = &discovery.maps;

    on_stage(Stage::Findings);
    let no_profile = match heap.mem_profile_rate() {
        Some(0) => Some(NoProfile::MemProfileRateZero),
        _ if attribution.total <= 0 => Some(NoProfile::NoLiveSamples {
            source: joined.source.as_str().to_string(),
        }),
        _ => None,
    };
    if let Some(why) = &no_profile {
        warnings.push(Warning::NoProfile(why.clone()));
    }
    if let (Some(p), false) = (&inputs.smaps, rss_source.starts_with("smaps")) {
        warnings.push(Warning::SmapsUnusable { path: p.clone() });
    }
    let cgroup = match &inputs.memory_stat {
        Some(p) => {
            let t = read_small_text(p).map_err(|source| IncidentError::ReadFile {
                path: p.clone(),
                source,
            })?;
            let v = parse_cgroup(&t);
            if v.is_none() {
                warnings.push(Warning::NoCgroupCounters { path: p.clone() });
            }
            v
        }
        None => None,
    };
    let maps_retained: u64 = maps
        .iter()
        .filter_map(|m| m.retained_bytes)
        .fold(0u64, u64::saturating_add);
    let acc = accounting(&AccountingInput {
        cgroup,
        rss,
        rss_source,
        go_heap_in_use: Some(heap.in_use_bytes()),
        // An incomplete walk (span records cut) undercounts: the runtime's
        // own HeapAlloc instead, labelled so.
        go_heap_runtime_stats: (!heap.spans_complete())
            .then(|| heap.runtime_stats().map(|s| s.heap_alloc))
            .flatten(),
        profile_inuse: u64::try_from(attribution.total).ok(),
        profile_cut: (!coverage.complete || attribution.cut != 0)
            .then(|| u64::try_from(attribution.cut).ok())
            .flatten(),
        maps_attributed: u64::try_from(attribution.attributed()).ok(),
        maps_retained: Some(maps_retained),
        no_profile: no_profile.map(|why| why.to_string()),
    });
    all_findings.extend(map_findings(maps));
    let ranked = rank(all_findings, threshold_bytes(heap.in_use_bytes()));

    let listed = inputs.children.unwrap_or(LISTED_CHILDREN);
    let map_rows: Vec<MapReport> = maps
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let a = attribution.per_map.get(i).copied().unwrap_or(0);
            let sites = attribution
                .sites
                .get(i)
                .map(|v| v.as_slice())
                .unwrap_or(&[]);
            map_row(m, Some((a, sites)), listed)
        })
        .collect();
    let heap_bytes = heap.in_use_bytes();
    // The rest of the heap: objects by type, the roots retaining most.
    let types = phase("heap types", || crate::heapview::type_rows(heap));
    let (retainers, retainers_rest) = crate::heapview::retainer_rows(&discovery);
    let top = top_rooted(maps);
    let (larger_retainer, unheld) = crate::heapview::retainer_headline(
        top.map(|m| (m.root.as_str(), m.retained_bytes.unwrap_or(m.storage_bytes))),
        retainers.first(),
        &retainers_rest,
        heap_bytes,
    );
    let headline = Headline {
        map: headline_map(top, heap_bytes),
        larger_retainer,
        unheld,
    };
    Ok(Report {
        go_version: process.version_string().to_string(),
        headline,
        maps: map_rows,
        garbage: discovery.garbage.clone(),
        types,
        retainers,
        retainers_rest,
        profile: ProfileReport {
            source: joined.source.as_str().to_string(),
            path: profile_path.as_ref().map(|p| p.display().to_string()),
            inuse_space_total: attribution.total,
            attributed: attribution.attributed(),
            non_map: attribution.non_map,
            unattributed: attribution.unattributed,
            unattributed_sites: attribution
                .unattributed_sites
                .iter()
                .take(10)
                .map(alloc_site)
                .collect(),
            cut: attribution.cut,
            cut_sites: attribution
                .cut_sites
                .iter()
                .take(10)
                .map(alloc_site)
                .collect(),
            core_profile_matches: joined.core_profile_matches,
            mem_profile_rate: heap.mem_profile_rate(),
        },
        accounting: acc,
        findings: ranked.findings,
        finding_groups: ranked.groups,
        finding_threshold_bytes: ranked.threshold_bytes,
        coverage,
        warnings,
        core: core_path.clone(),
        heap_in_use_bytes: heap_bytes,
        retained_profile,
    })
}

/// A failed cross-check between the profile and this core/executable is a
/// finding: the attribution may be wrong.
fn profile_mismatches(process: &GoProcess, profile: &Profile, path: &Path) -> Vec<Finding> {
    let Some(exe) = process.memory().executable() else {
        return Vec::new();
    };
    run_checks(profile, process.memory().core(), Some(exe), None, &[])
        .into_iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| Finding {
            severity: Severity::High,
            map: String::new(),
            code: "profile-mismatch".into(),
            bytes: 0,
            message: format!(
                "the profile {} may not be from this build or moment: {}: {}",
                path.display(),
                c.name,
                c.detail
            ),
        })
        .collect()
}

/// RSS from the smaps file when it parses, else the core's non-zero pages
/// of anonymous regions (`Core::nonzero_bytes`: present bytes would count
/// the reserved ranges gdb writes and the untouched pages the kernel
/// writes as holes).
fn rss(process: &GoProcess, smaps: Option<&Path>) -> (Option<u64>, String) {
    let from_file = smaps
        .and_then(|p| read_small_text(p).ok())
        .and_then(|t| parse_smaps_rss(&t));
    match from_file {
        Some(r) => (Some(r), "smaps Rss".to_string()),
        None => {
            let core = process.memory().core();
            let sum = core
                .regions()
                .iter()
                .filter(|r| {
                    !matches!(
                        r.kind,
                        RegionKind::File
                            | RegionKind::Vdso
                            | RegionKind::Vvar
                            | RegionKind::Vsyscall
                    )
                })
                .map(|r| core.nonzero_bytes(r))
                .fold(0u64, u64::saturating_add);
            (
                Some(sum),
                "core non-zero pages, anonymous regions".to_string(),
            )
        }
    }
}

/// The first map (they come sorted by retained bytes) reached from a
/// root: unrooted storage (`root_kind: unknown`) is unreachable and goes
/// with the next GC, so it holds nothing. Unrooted only when nothing else.
fn top_rooted(maps: &[FoundMap]) -> Option<&FoundMap> {
    maps.iter()
        .find(|m| m.root_kind != RootKind::Unknown)
        .or_else(|| maps.first())
}

/// The facts of the report's headline (`headline` in the JSON). This
/// crate formats no number: `mapscope-render` words them, e.g. "`main.m` holds
/// 1.50 MiB (9% of the Go heap); the largest retainer is …".
#[derive(Serialize, Debug, Clone, Default, PartialEq)]
pub struct Headline {
    /// The map it names ([`Report::top_map`]); none when no map was found.
    pub map: Option<HeadlineMap>,
    /// The root retaining the most, when it is not that map's root and
    /// retains more than that map.
    pub larger_retainer: Option<crate::heapview::HeadlineRetainer>,
    /// When at least half of the heap is retained by no single root.
    pub unheld: Option<crate::heapview::HeadlineRest>,
}

/// The map a headline names.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct HeadlineMap {
    pub root: String,
    /// Its retained bytes (its storage when retained sizes are unknown).
    pub retained_bytes: u64,
    /// Of the Go heap in use.
    pub percent_of_heap: f64,
}

fn headline_map(top: Option<&FoundMap>, heap_bytes: u64) -> Option<HeadlineMap> {
    top.map(|m| {
        let r = m.retained_bytes.unwrap_or(m.storage_bytes);
        HeadlineMap {
            root: m.root.clone(),
            retained_bytes: r,
            percent_of_heap: if heap_bytes > 0 {
                r as f64 * 100.0 / heap_bytes as f64
            } else {
                0.0
            },
        }
    })
}

fn alloc_site(s: &SiteValue) -> AllocSite {
    AllocSite {
        function: s.site.function.clone(),
        file: s.site.file.clone(),
        line: s.site.line,
        inuse_space: s.inuse_space,
    }
}

/// `m` as the MAP object `maps` prints (no attribution), listing at most
/// `listed` members per family (0: all).
pub fn map_report(m: &FoundMap, listed: usize) -> MapReport {
    map_row(m, None, listed)
}

fn map_row(m: &FoundMap, attributed: Option<(i64, &[SiteValue])>, listed: usize) -> MapReport {
    let (children, children_omitted) = m.listed_children(listed);
    MapReport {
        root: m.root.clone(),
        root_kind: m.root_kind,
        root_origin: m.origin.clone(),
        root_via: m.via,
        type_name: m.type_name.clone(),
        kind: m.kind,
        key: m.key.clone(),
        value: m.value.clone(),
        address: crate::reports::hex_addr(m.address),
        len: m.len,
        live_entries: m.live_entries,
        entries: m.entries(),
        capacity: m.capacity,
        load_factor: m.load_factor(),
        tombstones: m.tombstones,
        growing: m.growing,
        storage_bytes: m.storage_bytes,
        retained_bytes: m.retained_bytes,
        children: children.iter().map(|c| map_row(c, None, listed)).collect(),
        children_omitted,
        inuse_space: attributed.map(|a| a.0),
        alloc_sites: attributed
            .map(|a| a.1.iter().take(10).map(alloc_site).collect())
            .unwrap_or_default(),
    }
}

/// Largest `--maps`/`--memory-stat` text read: smaps of a process with a
/// hundred thousand mappings stays far below it.
const MAX_TEXT_INPUT: u64 = 256 << 20;

/// Reads a small text input, refusing what is not a regular file (a FIFO
/// would block forever) and what is larger than [`MAX_TEXT_INPUT`].
fn read_small_text(p: &Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let meta = std::fs::metadata(p)?;
    if !meta.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    if meta.len() > MAX_TEXT_INPUT {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("larger than {MAX_TEXT_INPUT} bytes"),
        ));
    }
    let mut text = String::new();
    std::fs::File::open(p)?
        .take(MAX_TEXT_INPUT)
        .read_to_string(&mut text)?;
    Ok(text)
}
