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
    /// Show at most N maps (0: all).
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
    doc
}

fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}
