//! `mapscope analyze CORE|INCIDENT_DIR`: the incident report — which maps
//! hold the memory, attributed from the heap profile, with an accounting
//! table and findings. The pipeline is `mapscope_incident::analyze`; this
//! module turns flags into its inputs and its report into a document.

use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_incident::{analyze, discover_incident, AnalyzeInputs, Report};
use mapscope_render::{Document, Table};
use std::path::PathBuf;

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
    /// Show at most N maps and N kinds of finding (0: all).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// List at most N members per family, largest storage first (0: all);
    /// the family row always sums all of them.
    #[arg(long, value_name = "N", default_value_t = mapscope_gomaps::discover::LISTED_CHILDREN)]
    pub children: usize,
    #[command(flatten)]
    pub threads: crate::threads::ThreadArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    args.threads.apply();
    let mut inputs = if args.input.is_dir() {
        AnalyzeInputs::from(discover_incident(&args.input)?)
    } else {
        AnalyzeInputs {
            core: args.input.clone(),
            ..Default::default()
        }
    };
    // Flags override what the directory holds.
    let or = |flag: &Option<PathBuf>, found: Option<PathBuf>| flag.clone().or(found);
    inputs.exe = or(&args.exe, inputs.exe.take());
    inputs.profile = or(&args.profile, inputs.profile.take());
    inputs.smaps = or(&args.maps, inputs.smaps.take());
    inputs.memory_stat = or(&args.memory_stat, inputs.memory_stat.take());
    inputs.children = Some(args.children);
    let report = analyze(&inputs)?;
    mapscope_goruntime::timing::phase("output", || {
        args.out.emit(&document(&report, args.top), &report)
    })?;
    Ok(Outcome::Clean)
}

/// The report as a document (terminal table, Markdown, CSV): headline,
/// accounting, the top `top` maps (0: all), unattributed remainder,
/// findings, warnings. `batch` writes the same document as REPORT.md.
pub fn document(report: &Report, top: usize) -> Document {
    let mut doc = Document::new();
    doc.heading(report.headline.clone());
    doc.paragraph(format!(
        "{} · {} · profile from {} (inuse_space {} B: maps {} B, other objects {} B, unattributed {} B)",
        report.core.display(),
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
    let n = if top == 0 { report.maps.len() } else { top };
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
    if let Some(line) = report.garbage.describe() {
        doc.paragraph(line);
    }
    heap_tables(&mut doc, report, top);
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
    let (t, notes) = findings_table(report, top);
    match t {
        Some(t) => {
            doc.table(t);
        }
        None => {
            doc.paragraph("Findings: none above the threshold.");
        }
    }
    for n in notes {
        doc.paragraph(n);
    }
    if !report.warnings.is_empty() {
        doc.list(report.warnings.iter().take(20).cloned().collect());
    }
    doc
}

/// The findings as a table: the first `top` groups (0: all), ranked by
/// bytes at stake; per group its largest finding and one line for the rest
/// ("and 1,203 more maps like this"); profile-wide groups list every
/// finding; `None` when no finding clears the threshold. The notes say
/// what the table leaves out.
fn findings_table(report: &Report, top: usize) -> (Option<Table>, Vec<String>) {
    let mut t = Table::new(Some("Findings".to_string()))
        .left("severity")
        .left("code")
        .right("bytes")
        .left("map")
        .left("message");
    let groups: Vec<_> = report
        .finding_groups
        .iter()
        .filter(|g| g.count > 0)
        .collect();
    let shown = if top == 0 {
        groups.len()
    } else {
        top.min(groups.len())
    };
    for g in groups.iter().take(shown) {
        let mut listed = report.findings.iter().filter(|f| f.code == g.code);
        let Some(first) = listed.next() else {
            continue;
        };
        let row = |f: &mapscope_correlate::Finding| {
            [
                format!("{:?}", f.severity).to_lowercase(),
                f.code.clone(),
                f.bytes.to_string(),
                f.map.clone(),
                f.message.clone(),
            ]
        };
        t.row(row(first));
        if first.map.is_empty() {
            // Profile-wide: each is a different check, list them all.
            for f in listed {
                t.row(row(f));
            }
        } else if g.count > 1 {
            let rest = g.bytes.saturating_sub(first.bytes);
            t.row([
                String::new(),
                g.code.clone(),
                rest.to_string(),
                String::new(),
                format!(
                    "and {} more maps like this, {} more; {} in all",
                    thousands(g.count - 1),
                    human_bytes(rest),
                    human_bytes(g.bytes)
                ),
            ]);
        }
    }
    let mut notes = Vec::new();
    if groups.len() > shown {
        let hidden = groups.get(shown..).unwrap_or(&[]);
        let n: u64 = hidden.iter().map(|g| g.count).sum();
        let b: u64 = hidden.iter().map(|g| g.bytes).fold(0, u64::saturating_add);
        notes.push(format!(
            "{} more kinds of finding not shown ({} findings, {}): --top 0 shows all, --format json lists them.",
            hidden.len(),
            thousands(n),
            human_bytes(b)
        ));
    }
    let (below, below_bytes) = report
        .finding_groups
        .iter()
        .fold((0u64, 0u64), |(n, b), g| {
            (
                n + g.below_threshold,
                b.saturating_add(g.below_threshold_bytes),
            )
        });
    if below > 0 {
        let mut by_code: Vec<_> = report
            .finding_groups
            .iter()
            .filter(|g| g.below_threshold > 0)
            .collect();
        by_code.sort_by_key(|g| std::cmp::Reverse(g.below_threshold_bytes));
        let parts: Vec<String> = by_code
            .iter()
            .take(5)
            .map(|g| {
                format!(
                    "{} {}, {}",
                    g.code,
                    thousands(g.below_threshold),
                    human_bytes(g.below_threshold_bytes)
                )
            })
            .collect();
        notes.push(format!(
            "{} findings about less than {} bytes each ({} in all: {}) are counted, not listed: the threshold is max(64 KiB, 0.1% of the Go heap in use).",
            thousands(below),
            report.finding_threshold_bytes,
            human_bytes(below_bytes),
            parts.join("; ")
        ));
    }
    ((shown > 0).then_some(t), notes)
}

/// Bytes as pprof prints them (`12.50MB`).
fn human_bytes(b: u64) -> String {
    mapscope_render::units::human_bytes(i64::try_from(b).unwrap_or(i64::MAX))
}

/// `1203` → `1,203`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// The rest of the heap, as context for the maps: the first `top` (0: all)
/// rows of the heap by type and of the roots retaining most, each with a
/// note on what it leaves out.
fn heap_tables(doc: &mut Document, report: &Report, top: usize) {
    let heap = report.heap_in_use_bytes;
    let pct = |b: u64| {
        if heap > 0 {
            format!("{:.1}%", b as f64 * 100.0 / heap as f64)
        } else {
            String::new()
        }
    };
    let n = |len: usize| if top == 0 { len } else { top.min(len) };
    let mut t = Table::new(Some("Heap by type (every live object)".to_string()))
        .left("type")
        .right("objects")
        .right("bytes")
        .right("% of heap");
    let shown = n(report.types.len());
    for r in report.types.iter().take(shown) {
        t.row([
            r.type_name.clone(),
            r.objects.to_string(),
            r.bytes.to_string(),
            pct(r.bytes),
        ]);
    }
    doc.table(t);
    let rest = report.types.get(shown..).unwrap_or(&[]);
    if !rest.is_empty() {
        let b: u64 = rest.iter().map(|r| r.bytes).sum();
        doc.paragraph(format!(
            "{} more type rows ({}): --top 0 shows them, --format json lists them.",
            thousands(rest.len() as u64),
            human_bytes(b)
        ));
    }
    let mut t = Table::new(Some("Top retainers (roots, any type)".to_string()))
        .left("root")
        .left("kind")
        .left("type")
        .right("retained")
        .right("objects")
        .right("% of heap");
    for r in report.retainers.iter().take(n(report.retainers.len())) {
        t.row([
            r.root.clone(),
            r.root_kind.clone(),
            r.type_name.clone(),
            r.retained_bytes.to_string(),
            r.objects.to_string(),
            pct(r.retained_bytes),
        ]);
    }
    doc.table(t);
    let rest = &report.retainers_rest;
    doc.paragraph(format!(
        "Retained by one root only; reachable from several roots: {} ({} objects); from no root (garbage): {} ({} objects).",
        human_bytes(rest.shared_bytes),
        thousands(rest.shared_objects),
        human_bytes(rest.unreached_bytes),
        thousands(rest.unreached_objects)
    ));
}
