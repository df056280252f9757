//! `mapscope analyze CORE|INCIDENT_DIR`: the incident report — which maps
//! hold the memory, attributed from the heap profile, with an accounting
//! table and findings. The joins live in mapscope-correlate; map discovery
//! in mapscope-gomaps; this module only gathers inputs and renders.

use crate::commands::check::{run_checks, Status};
use crate::output::OutputArgs;
use crate::Outcome;
use anyhow::Context as _;
use mapscope_correlate::accounting::{parse_cgroup, parse_smaps_rss};
use mapscope_correlate::{
    accounting, attribute, findings, AccountingInput, Finding, Layer, MapFacts, MapObjects,
    ProfileStack, SampledObject, Site, SiteValue,
};
use mapscope_elfcore::{Executable, RegionKind};
use mapscope_gomaps::discover::{discover, FoundMap, ObjectGraph};
use mapscope_goruntime::GoProcess;
use mapscope_pprof::Profile;
use mapscope_render::{Document, Table};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// An ELF core (possibly .zst/.gz/.xz) or an incident directory.
    #[arg(value_name = "CORE|INCIDENT_DIR")]
    pub input: PathBuf,
    /// The Go executable.
    #[arg(long)]
    pub exe: Option<PathBuf>,
    /// Heap profile; default: the incident directory's, else the profile
    /// rebuilt from the core's buckets.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// /proc/PID/smaps (or maps) of the process, for RSS.
    #[arg(long)]
    pub maps: Option<PathBuf>,
    /// cgroup memory.stat or memory.current.
    #[arg(long = "memory-stat")]
    pub memory_stat: Option<PathBuf>,
    /// Show at most N maps (0: all).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// The files an incident directory stands for.
#[derive(Debug, Default)]
pub struct Incident {
    pub core: PathBuf,
    pub exe: Option<PathBuf>,
    pub profile: Option<PathBuf>,
    pub smaps: Option<PathBuf>,
    pub memory_stat: Option<PathBuf>,
}

fn is_core_name(name: &str) -> bool {
    let stem = name
        .trim_end_matches(".zst")
        .trim_end_matches(".gz")
        .trim_end_matches(".xz");
    stem == "core" || stem.starts_with("core.") || stem.ends_with(".core")
}

fn is_profile_name(name: &str) -> bool {
    name.ends_with(".pb.gz")
        || name.ends_with(".pprof")
        || name.ends_with(".pb")
        || (name.starts_with("heap") && !name.ends_with(".txt"))
}

/// Finds the core, executable, profile, smaps and memory.stat of an
/// incident directory (cli.md "Inputs").
pub fn discover_incident(dir: &Path) -> anyhow::Result<Incident> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list incident directory", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let name_of = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let cores: Vec<&PathBuf> = names.iter().filter(|p| is_core_name(&name_of(p))).collect();
    let core = match cores.as_slice() {
        [one] => (*one).clone(),
        // Prefer the uncompressed one when both are present.
        [..] if cores.iter().any(|p| name_of(p) == "core") => dir.join("core"),
        [] => anyhow::bail!(
            "{}: no core (core, core.*, *.core) in incident directory",
            dir.display()
        ),
        _ => anyhow::bail!(
            "{}: more than one core in incident directory",
            dir.display()
        ),
    };
    let mut inc = Incident {
        core,
        ..Default::default()
    };
    let profiles: Vec<&PathBuf> = names
        .iter()
        .filter(|p| is_profile_name(&name_of(p)))
        .collect();
    inc.profile = profiles.first().map(|p| (*p).clone());
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
    // The executable: an ELF executable (possibly compressed) that is not
    // the core. Prefer an uncompressed one.
    let mut exes: Vec<&PathBuf> = names
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
        .collect();
    exes.sort_by_key(|p| name_of(p).ends_with(".zst"));
    for p in exes {
        if looks_like_elf_or_zst(p) && Executable::open(p).is_ok() {
            inc.exe = Some(p.clone());
            break;
        }
    }
    Ok(inc)
}

fn looks_like_elf_or_zst(p: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let ok = std::fs::File::open(p)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok();
    ok && (magic == *b"\x7fELF" || magic == [0x28, 0xb5, 0x2f, 0xfd])
}

#[derive(Serialize, Clone)]
struct AllocSite {
    function: String,
    file: String,
    line: i64,
    inuse_space: i64,
}

#[derive(Serialize)]
struct MapJson {
    root: String,
    root_kind: String,
    #[serde(rename = "type")]
    type_name: String,
    kind: String,
    address: String,
    len: u64,
    capacity: u64,
    tombstones: u64,
    growing: bool,
    storage_bytes: u64,
    retained_bytes: Option<u64>,
    children: Vec<MapJson>,
    inuse_space: Option<i64>,
    alloc_sites: Vec<AllocSite>,
}

#[derive(Serialize)]
struct ProfileJson {
    source: String,
    path: Option<String>,
    inuse_space_total: i64,
    attributed: i64,
    non_map: i64,
    unattributed: i64,
    unattributed_sites: Vec<AllocSite>,
    core_profile_matches: Option<bool>,
    mem_profile_rate: Option<i64>,
}

#[derive(Serialize)]
struct Report {
    go_version: String,
    headline: String,
    maps: Vec<MapJson>,
    profile: ProfileJson,
    accounting: Vec<Layer>,
    findings: Vec<Finding>,
    warnings: Vec<String>,
}

fn site_json(s: &SiteValue) -> AllocSite {
    AllocSite {
        function: s.site.function.clone(),
        file: s.site.file.clone(),
        line: s.site.line,
        inuse_space: s.inuse_space,
    }
}

fn root_kind_str(m: &FoundMap) -> String {
    serde_json::to_value(m.root_kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn map_json(m: &FoundMap, attributed: Option<(i64, &[SiteValue])>) -> MapJson {
    MapJson {
        root: m.root.clone(),
        root_kind: root_kind_str(m),
        type_name: m.type_name.clone(),
        kind: m.kind.to_string(),
        address: format!("0x{:x}", m.address),
        len: m.len,
        capacity: m.capacity,
        tombstones: m.tombstones,
        growing: m.growing,
        storage_bytes: m.storage_bytes,
        retained_bytes: m.retained_bytes,
        children: m.children.iter().map(|c| map_json(c, None)).collect(),
        inuse_space: attributed.map(|a| a.0),
        alloc_sites: attributed
            .map(|a| a.1.iter().take(10).map(site_json).collect())
            .unwrap_or_default(),
    }
}

/// `map[K]V` → (K, V), bracket-aware.
fn key_elem_names(type_name: &str) -> Option<(String, String)> {
    let rest = type_name.strip_prefix("map[")?;
    let mut depth = 1usize;
    for (i, c) in rest.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    let k = rest.get(..i)?.to_string();
                    let v = rest.get(i + 1..)?.to_string();
                    return Some((k, v));
                }
            }
            _ => {}
        }
    }
    None
}

/// The bucket records a PC per logical frame (inline marks included), so
/// expanding each PC repeats the inlined callers that the next PC expands
/// again. When the next PC's first frame appears inside this PC's
/// expansion (past its leaf), keep only the part before it.
fn merge_inline_expansions(per_pc: &[Vec<(String, String, i64)>]) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for (i, cur) in per_pc.iter().enumerate() {
        let cut = per_pc
            .get(i + 1)
            .and_then(|next| next.first())
            .and_then(|first| cur.iter().skip(1).position(|f| f == first).map(|k| k + 1))
            .unwrap_or(cur.len());
        out.extend(cur.iter().take(cut).cloned());
    }
    out
}

fn is_runtime(f: &str) -> bool {
    f.starts_with("runtime.") || f.starts_with("internal/runtime/")
}

/// A stack as (function, line) frames, leaf first, with the runtime's
/// allocation frames at the leaf and `runtime.goexit` at the root dropped —
/// runtime/pprof hides both, the core's buckets keep them.
fn logical_key(frames: &[(String, String, i64)]) -> Vec<(String, i64)> {
    let start = frames.iter().position(|f| !is_runtime(&f.0)).unwrap_or(0);
    let mut v: Vec<(String, i64)> = frames
        .get(start..)
        .unwrap_or(&[])
        .iter()
        .map(|f| (f.0.clone(), f.2))
        .collect();
    while v.last().is_some_and(|f| f.0 == "runtime.goexit") {
        v.pop();
    }
    // An inlined call's PC and its caller's return PC can both expand to
    // the caller's frame; runtime/pprof shows it once.
    v.dedup();
    v
}

/// The site of a stack: its first frame outside the runtime.
fn site_of_frames(frames: &[(String, String, i64)]) -> Site {
    let pick = frames
        .iter()
        .find(|f| !f.0.starts_with("runtime.") && !f.0.starts_with("internal/runtime"))
        .or_else(|| frames.first());
    match pick {
        Some((f, file, line)) => Site {
            function: f.clone(),
            file: file.clone(),
            line: *line,
        },
        None => Site::default(),
    }
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut warnings: Vec<String> = Vec::new();
    let (core_path, mut exe, mut profile_path, mut smaps, mut memstat) = if args.input.is_dir() {
        let inc = discover_incident(&args.input)?;
        (inc.core, inc.exe, inc.profile, inc.smaps, inc.memory_stat)
    } else {
        (args.input.clone(), None, None, None, None)
    };
    if args.exe.is_some() {
        exe = args.exe.clone();
    }
    if args.profile.is_some() {
        profile_path = args.profile.clone();
    }
    if args.maps.is_some() {
        smaps = args.maps.clone();
    }
    if args.memory_stat.is_some() {
        memstat = args.memory_stat.clone();
    }
    let process = GoProcess::open(&core_path, exe.as_deref())
        .with_context(|| format!("{}", core_path.display()))?;
    warnings.extend(process.warnings().iter().cloned());
    let heap = process
        .heap()
        .with_context(|| format!("{}: heap walk", core_path.display()))?;
    let rate = heap.mem_profile_rate().unwrap_or(512 * 1024);
    let pclntab = process.pclntab();

    // Maps and, per map, the heap objects it owns or retains.
    let discovery =
        discover(&process).map_err(|e| anyhow::anyhow!("{}: maps: {e}", core_path.display()))?;
    warnings.extend(discovery.warnings.iter().cloned());
    let maps = discovery.maps;
    let graph = ObjectGraph::build(&process, heap);
    let mut root_ranges: Vec<(u64, u64)> = process
        .dwarf()
        .map(|d| {
            d.globals()
                .all()
                .iter()
                .filter(|g| g.size > 0 && g.size < (1 << 30))
                .map(|g| (g.address, g.end()))
                .collect()
        })
        .unwrap_or_default();
    let goroutines = process.goroutines().ok();
    if let Some(gs) = &goroutines {
        root_ranges.extend(gs.stack_ranges());
    }
    let root_ids = graph.scan_ranges(&process, &root_ranges);
    let map_objects: Vec<MapObjects> = {
        use rayon::prelude::*;
        maps.par_iter()
            .map(|m| {
                let mut objects = graph.retained_objects(&root_ids, &m.owned);
                objects.extend(m.owned.iter().copied());
                objects.sort_unstable();
                objects.dedup();
                MapObjects { objects }
            })
            .collect()
    };

    // Buckets: stacks by PC, sites via pclntab.
    let buckets = heap.profile_buckets();
    let mut bucket_by_stack: HashMap<Vec<(String, i64)>, Vec<u32>> = HashMap::new();
    let mut bucket_site: Vec<Site> = Vec::with_capacity(buckets.len());
    for (i, b) in buckets.iter().enumerate() {
        let pcs = heap.bucket_stack(b);
        // Return PCs: the call is at pc-1; expand inlined frames.
        let per_pc: Vec<Vec<(String, String, i64)>> = match pclntab {
            Some(p) => pcs
                .iter()
                .map(|&pc| {
                    p.frames(pc.saturating_sub(1))
                        .into_iter()
                        .map(|f| (f.function.to_string(), f.file.to_string(), f.line as i64))
                        .collect()
                })
                .collect(),
            None => Vec::new(),
        };
        let frames = merge_inline_expansions(&per_pc);
        bucket_site.push(site_of_frames(&frames));
        if let Ok(id) = u32::try_from(i) {
            bucket_by_stack
                .entry(logical_key(&frames))
                .or_default()
                .push(id);
        }
    }
    let core_stacks: Vec<ProfileStack> = buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            let (_, space) = b.scaled_inuse(rate);
            (space != 0).then(|| ProfileStack {
                bucket: u32::try_from(i).ok(),
                inuse_space: space,
                site: bucket_site.get(i).cloned().unwrap_or_default(),
            })
        })
        .collect();

    // The profile: the file when given, else the core's buckets.
    let mut source = "core".to_string();
    let mut core_matches = None;
    let mut stacks = core_stacks.clone();
    let mut findings_extra: Vec<Finding> = Vec::new();
    if let Some(pp) = &profile_path {
        let profile = Profile::from_path(pp).with_context(|| format!("{}", pp.display()))?;
        if let Some(e) = process.memory().executable() {
            for c in run_checks(&profile, process.memory().core(), Some(e), &[]) {
                if c.status == Status::Fail {
                    findings_extra.push(Finding {
                        severity: mapscope_correlate::Severity::High,
                        map: String::new(),
                        code: "profile-mismatch".into(),
                        message: format!(
                            "the profile {} may not be from this build or moment: {}: {}",
                            pp.display(),
                            c.name,
                            c.detail
                        ),
                    });
                }
            }
        }
        let idx = profile
            .sample_types
            .iter()
            .position(|t| t.r#type == "inuse_space");
        match idx {
            None => warnings.push(format!(
                "{}: no inuse_space sample type; using the core's buckets",
                pp.display()
            )),
            Some(idx) => {
                source = "file".into();
                let mut file_stacks = Vec::new();
                let mut matched = 0usize;
                let mut used_buckets: std::collections::HashSet<u32> = Default::default();
                let core_value: HashMap<u32, i64> = core_stacks
                    .iter()
                    .filter_map(|c| Some((c.bucket?, c.inuse_space)))
                    .collect();
                for s in &profile.samples {
                    let v = s.values.get(idx).copied().unwrap_or(0);
                    let frames: Vec<(String, String, i64)> = s
                        .locations
                        .iter()
                        .filter_map(|&l| profile.locations.get(l))
                        .flat_map(|l| l.lines.iter())
                        .filter_map(|ln| {
                            let f = profile.functions.get(ln.function)?;
                            Some((f.name.clone(), f.filename.clone(), ln.line))
                        })
                        .collect();
                    // Several buckets may share a logical stack (they differ
                    // in PCs only); prefer the unused one whose rebuilt value
                    // equals the file's, then any unused one.
                    let candidates = bucket_by_stack.get(&logical_key(&frames));
                    let bucket = candidates.and_then(|c| {
                        let unused = |b: &&u32| !used_buckets.contains(*b);
                        c.iter()
                            .filter(unused)
                            .find(|b| core_value.get(b) == Some(&v))
                            .or_else(|| c.iter().find(unused))
                            .copied()
                    });
                    if let Some(b) = bucket {
                        used_buckets.insert(b);
                    }
                    if bucket.is_some() {
                        matched += 1;
                    }
                    let site = match bucket.and_then(|b| bucket_site.get(b as usize)) {
                        Some(s) if frames.is_empty() => s.clone(),
                        _ => site_of_frames(&frames),
                    };
                    if v != 0 {
                        file_stacks.push(ProfileStack {
                            bucket,
                            inuse_space: v,
                            site,
                        });
                    }
                }
                // Compare with the core's rebuilt profile.
                let mut file_by_bucket: HashMap<u32, i64> = HashMap::new();
                for s in &file_stacks {
                    if let Some(b) = s.bucket {
                        *file_by_bucket.entry(b).or_insert(0) += s.inuse_space;
                    }
                }
                let same = file_stacks.iter().all(|s| s.bucket.is_some())
                    && core_stacks.len() == file_by_bucket.len()
                    && core_stacks.iter().all(|c| {
                        c.bucket.and_then(|b| file_by_bucket.get(&b)) == Some(&c.inuse_space)
                    });
                core_matches = Some(same);
                if !same {
                    let differing = core_stacks
                        .iter()
                        .filter(|c| {
                            c.bucket.and_then(|b| file_by_bucket.get(&b)) != Some(&c.inuse_space)
                        })
                        .count();
                    warnings.push(format!(
                        "{}: {} of {} profile stacks match a core bucket; {} of the core's {} non-empty buckets differ in inuse_space from the file (the file was written at another moment than the core)",
                        pp.display(),
                        matched,
                        profile.samples.len(),
                        differing,
                        core_stacks.len()
                    ));
                }
                stacks = file_stacks;
            }
        }
    }

    let objects: Vec<SampledObject> = heap
        .profiled_objects()
        .iter()
        .filter_map(|&(addr, bucket)| {
            let o = heap.object_at(addr)?;
            Some(SampledObject {
                address: o.address,
                size: o.size,
                bucket,
            })
        })
        .collect();
    let attribution = attribute(&stacks, &objects, &map_objects, rate);

    // Accounting.
    let rss_from_file = smaps
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| parse_smaps_rss(&t));
    let (rss, rss_source) = match rss_from_file {
        Some(r) => (Some(r), "smaps Rss".to_string()),
        None => {
            let regions = process.memory().core().regions();
            let sum = regions
                .iter()
                .filter(|r| {
                    !matches!(
                        r.kind,
                        RegionKind::File | RegionKind::Vdso | RegionKind::Vvar
                    )
                })
                .map(|r| r.present_bytes)
                .fold(0u64, u64::saturating_add);
            (
                Some(sum),
                "core present bytes, anonymous regions".to_string(),
            )
        }
    };
    let cgroup = match &memstat {
        Some(p) => {
            let t = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
            let v = parse_cgroup(&t);
            if v.is_none() {
                warnings.push(format!("{}: no anon/file counters", p.display()));
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
        profile_inuse: u64::try_from(attribution.total).ok(),
        maps_attributed: u64::try_from(attribution.attributed()).ok(),
        maps_retained: Some(maps_retained),
    });

    // Findings.
    let dwarf = process.dwarf();
    let size_of = |name: &str| -> u64 {
        dwarf
            .and_then(|d| {
                let t = d.types();
                let id = t.by_name(name)?;
                t.get(id).size
            })
            .unwrap_or(0)
    };
    let facts: Vec<MapFacts> = maps
        .iter()
        .map(|m| {
            let (k, v) = key_elem_names(&m.type_name).unwrap_or_default();
            let goroutine = if m.root_kind == mapscope_gomaps::discover::RootKind::Goroutine {
                let mut it = m.root.split_whitespace().skip(1);
                let id = it.next().and_then(|s| s.parse::<u64>().ok());
                let path = it.next().unwrap_or_default();
                let func = path
                    .rsplit_once('.')
                    .map(|x| x.0)
                    .unwrap_or(path)
                    .to_string();
                id.map(|id| (id, func))
            } else {
                None
            };
            let elem_size = if v.is_empty() { 0 } else { size_of(&v) };
            MapFacts {
                root: m.root.clone(),
                root_kind: root_kind_str(m),
                kind: m.kind.to_string(),
                type_name: m.type_name.clone(),
                key_size: if k.is_empty() { 0 } else { size_of(&k) },
                key_type: k,
                elem_size,
                indirect_elems: elem_size > 128,
                len: m.len,
                capacity: m.capacity,
                tombstones: m.tombstones,
                growing: m.growing,
                storage_bytes: m.storage_bytes,
                retained_bytes: m.retained_bytes.unwrap_or(0),
                members: m.children.len() as u64,
                goroutine,
                needed_capacity: 0,
            }
        })
        .collect();
    let mut all_findings = findings_extra;
    all_findings.extend(findings(&facts));

    // Report.
    let map_rows: Vec<MapJson> = maps
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let a = attribution.per_map.get(i).copied().unwrap_or(0);
            let sites = attribution
                .sites
                .get(i)
                .map(|v| v.as_slice())
                .unwrap_or(&[]);
            map_json(m, Some((a, sites)))
        })
        .collect();
    let heap_bytes = heap.in_use_bytes();
    let headline = match maps.first() {
        Some(m) => {
            let r = m.retained_bytes.unwrap_or(m.storage_bytes);
            let pct = if heap_bytes > 0 {
                r as f64 * 100.0 / heap_bytes as f64
            } else {
                0.0
            };
            format!("{} holds {} ({:.0}% of the Go heap)", m.root, human(r), pct)
        }
        None => "no maps found".to_string(),
    };
    let report = Report {
        go_version: process.version_string().to_string(),
        headline: headline.clone(),
        maps: map_rows,
        profile: ProfileJson {
            source,
            path: profile_path.as_ref().map(|p| p.display().to_string()),
            inuse_space_total: attribution.total,
            attributed: attribution.attributed(),
            non_map: attribution.non_map,
            unattributed: attribution.unattributed,
            unattributed_sites: attribution
                .unattributed_sites
                .iter()
                .take(10)
                .map(site_json)
                .collect(),
            core_profile_matches: core_matches,
            mem_profile_rate: heap.mem_profile_rate(),
        },
        accounting: acc,
        findings: all_findings,
        warnings,
    };

    let mut doc = Document::new();
    doc.heading(headline);
    doc.paragraph(format!(
        "{} · {} · profile from {} (inuse_space {} B: maps {} B, other objects {} B, unattributed {} B)",
        core_path.display(),
        report.go_version,
        report.profile.source,
        report.profile.inuse_space_total,
        report.profile.attributed,
        report.profile.non_map,
        report.profile.unattributed
    ));
    let mut t = Table::new(Some("Accounting".to_string()))
        .left("layer")
        .right("bytes")
        .left("gap to next");
    for l in &report.accounting {
        t.row([
            l.layer.clone(),
            l.bytes.to_string(),
            l.gap_to_next.clone().unwrap_or_default(),
        ]);
    }
    doc.table(t);
    let mut t = Table::new(Some("Top maps".to_string()))
        .left("map")
        .left("type")
        .right("len")
        .right("capacity")
        .right("retained")
        .right("profile inuse")
        .left("top site");
    let n = if args.top == 0 {
        report.maps.len()
    } else {
        args.top
    };
    for m in report.maps.iter().take(n) {
        t.row([
            m.root.clone(),
            m.type_name.clone(),
            m.len.to_string(),
            m.capacity.to_string(),
            m.retained_bytes.map(|r| r.to_string()).unwrap_or_default(),
            m.inuse_space.map(|r| r.to_string()).unwrap_or_default(),
            m.alloc_sites
                .first()
                .map(|s| format!("{} {}:{}", s.function, short(&s.file), s.line))
                .unwrap_or_default(),
        ]);
    }
    doc.table(t);
    if !report.profile.unattributed_sites.is_empty() {
        let mut t = Table::new(Some("Unattributed profile remainder".to_string()))
            .left("site")
            .right("inuse_space");
        for s in &report.profile.unattributed_sites {
            t.row([
                format!("{} {}:{}", s.function, short(&s.file), s.line),
                s.inuse_space.to_string(),
            ]);
        }
        doc.table(t);
    }
    let mut t = Table::new(Some("Findings".to_string()))
        .left("severity")
        .left("map")
        .left("code")
        .left("message");
    for f in &report.findings {
        t.row([
            format!("{:?}", f.severity).to_lowercase(),
            f.map.clone(),
            f.code.clone(),
            f.message.clone(),
        ]);
    }
    doc.table(t);
    if !report.warnings.is_empty() {
        doc.list(report.warnings.iter().take(20).cloned().collect());
    }
    args.out.emit(&doc, &report)?;
    Ok(Outcome::Clean)
}

fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

fn human(b: u64) -> String {
    if b >= 10_000_000 {
        format!("{} MB", b / 1_000_000)
    } else if b >= 10_000 {
        format!("{} kB", b / 1000)
    } else {
        format!("{b} B")
    }
}
