//! `mapscope analyze CORE|INCIDENT_DIR`: the incident report — which maps
//! hold the memory, attributed from the heap profile, with an accounting
//! table and findings. The pipeline is `mapscope_incident::analyze`; this
//! module turns flags into its inputs and its report into a document.

mod picture;

use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_incident::{analyze_with_progress, discover_incident, AnalyzeInputs, Report};
use mapscope_render::{Cell, Document, Table, Text};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// An ELF core (possibly .zst/.gz/.xz) or an incident directory.
    #[arg(value_name = "CORE|INCIDENT_DIR")]
    pub input: PathBuf,
    /// The Go executable (default: the incident directory's, else the
    /// core's NT_FILE path of the main executable).
    #[arg(long, value_name = "EXE")]
    pub exe: Option<PathBuf>,
    /// Heap profile (`-`: standard input); default: the incident
    /// directory's, else the profile rebuilt from the core's buckets.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<PathBuf>,
    /// /proc/PID/smaps (or maps) of the process, for RSS.
    #[arg(long, value_name = "FILE")]
    pub maps: Option<PathBuf>,
    /// cgroup memory.stat or memory.current.
    #[arg(long = "memory-stat", value_name = "FILE")]
    pub memory_stat: Option<PathBuf>,
    /// Show at most N maps and N kinds of finding (0: all).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
    /// List at most N members per family, largest storage first (0: all);
    /// the family row always sums all of them.
    #[arg(long, value_name = "N", default_value_t = mapscope_gomaps::discover::LISTED_CHILDREN)]
    pub children: usize,
    /// Also write a gzipped pprof profile of what retains the heap (root →
    /// field path → map or object; sample types retained_objects and
    /// retained_space) for `go tool pprof`, speedscope, Pyroscope, Grafana.
    #[arg(long = "retained-profile", value_name = "FILE")]
    pub retained_profile: Option<PathBuf>,
    /// No progress line on stderr (it is shown only when stderr is a
    /// terminal).
    #[arg(long, short = 'q')]
    pub quiet: bool,
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
    let stdin_profile = match &args.profile {
        Some(p) => Some(crate::stdin::ProfilePath::new(p)?),
        None => None,
    };
    let profile_flag = stdin_profile.as_ref().map(|p| p.path().to_path_buf());
    inputs.profile = or(&profile_flag, inputs.profile.take());
    inputs.smaps = or(&args.maps, inputs.smaps.take());
    inputs.memory_stat = or(&args.memory_stat, inputs.memory_stat.take());
    inputs.children = Some(args.children);
    inputs.retained_profile = args.retained_profile.is_some();
    let progress = crate::progress::Progress::new(args.quiet, &inputs.core);
    let report = analyze_with_progress(&inputs, &|stage| progress.stage(stage))?;
    progress.finish();
    if let (Some(path), Some(profile)) = (&args.retained_profile, &report.retained_profile) {
        write_retained_profile(path, profile)?;
    }
    mapscope_goruntime::timing::phase("output", || {
        args.out.emit(&document(&report, args.top), &report)
    })?;
    Ok(Outcome::Clean)
}

/// Writes the retained-size profile as a gzipped `profile.proto`.
fn write_retained_profile(
    path: &std::path::Path,
    profile: &mapscope_pprof::Profile,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let bytes = mapscope_pprof::encode_gzip(profile)
        .with_context(|| format!("{}: cannot encode the retained profile", path.display()))?;
    std::fs::write(path, bytes)
        .with_context(|| format!("{}: cannot write the retained profile", path.display()))
}

/// The report as a document (terminal table, Markdown, CSV): headline,
/// accounting, the top `top` maps (0: all), unattributed remainder,
/// findings, warnings. `batch` writes the same document as REPORT.md.
pub fn document(report: &Report, top: usize) -> Document {
    let mut doc = Document::new();
    doc.heading(headline_text(&report.headline));
    let mut profile_line = Text::new()
        .plain(format!(
            "{} · {} · profile from {} (inuse_space ",
            report.core.display(),
            report.go_version,
            report.profile.source,
        ))
        .bytes(report.profile.inuse_space_total)
        .plain(": maps ")
        .bytes(report.profile.attributed)
        .plain(", other objects ")
        .bytes(report.profile.non_map)
        .plain(", unattributed ")
        .bytes(report.profile.unattributed);
    // A partial core: what fell into its cut part (0 on a complete core).
    if report.profile.cut != 0 {
        profile_line = profile_line
            .plain(", in the cut part of the core ")
            .bytes(report.profile.cut);
    }
    doc.paragraph(profile_line.plain(")"));
    doc.treemap(picture::heap_treemap(report));
    let mut t = Table::new(Some("Accounting".to_string()))
        .left("layer")
        .right("bytes")
        .left("gap to next");
    for l in &report.accounting {
        t.row([
            Cell::text(l.layer.clone()),
            Cell::bytes(l.bytes),
            Cell::text(l.gap_to_next.clone().unwrap_or_default()),
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
            Cell::code(m.root.clone()),
            Cell::code(m.type_name.clone()),
            Cell::text(m.len.to_string()),
            Cell::text(m.capacity.to_string()),
            Cell::opt_bytes(m.retained_bytes),
            Cell::opt_bytes(m.inuse_space),
            m.alloc_sites
                .first()
                .map(|s| Cell::code(format!("{} {}:{}", s.function, short(&s.file), s.line)))
                .unwrap_or_default(),
        ]);
    }
    doc.table(t);
    if let Some(line) = garbage_text(&report.garbage) {
        doc.paragraph(line);
    }
    heap_tables(&mut doc, report, top);
    if !report.profile.unattributed_sites.is_empty() {
        let mut t = Table::new(Some("Unattributed profile remainder".to_string()))
            .named("unattributed")
            .left("site")
            .right("inuse_space");
        for s in &report.profile.unattributed_sites {
            t.row([
                Cell::code(format!("{} {}:{}", s.function, short(&s.file), s.line)),
                Cell::bytes(s.inuse_space),
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
        doc.list(report.warnings.iter().take(20).cloned().collect::<Vec<_>>());
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
                Cell::text(format!("{:?}", f.severity).to_lowercase()),
                Cell::text(f.code.clone()),
                Cell::bytes(f.bytes),
                Cell::code(f.map.clone()),
                Cell::text(f.message.clone()),
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
                Cell::default(),
                Cell::text(g.code.clone()),
                Cell::bytes(rest),
                Cell::default(),
                Cell::text(format!(
                    "and {} more maps like this, {} more; {} in all",
                    thousands(g.count - 1),
                    human_bytes(rest),
                    human_bytes(g.bytes)
                )),
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
            "{} findings about less than {} each ({} in all: {}) are counted, not listed: the threshold is max(64 KiB, 0.1% of the Go heap in use).",
            thousands(below),
            human_bytes(report.finding_threshold_bytes),
            human_bytes(below_bytes),
            parts.join("; ")
        ));
    }
    ((shown > 0).then_some(t), notes)
}

/// Bytes for people, in IEC units (`12.5 MiB`).
fn human_bytes(b: u64) -> String {
    mapscope_render::units::iec_bytes(i128::from(b))
}

/// The garbage line (map storage no root reaches), or `None` when there
/// is none: "garbage awaiting collection: 12 map storage objects, 1.50 MiB
/// no root reaches (…); not listed as maps; 2.00 MiB of heap unreachable
/// in all".
pub fn garbage_text(g: &mapscope_gomaps::discover::Garbage) -> Option<Text> {
    if g.objects == 0 {
        return None;
    }
    let mut parts: Vec<Text> = Vec::new();
    if g.left_by_growth.objects > 0 {
        parts.push(
            Text::new()
                .plain(format!("{} objects, ", g.left_by_growth.objects))
                .bytes(g.left_by_growth.bytes)
                .plain(" old storage left by growth"),
        );
    }
    if g.dropped_map_count > 0 {
        parts.push(
            Text::new()
                .plain(format!(
                    "{} dropped maps, {} objects, ",
                    g.dropped_map_count, g.dropped_maps.objects
                ))
                .bytes(g.dropped_maps.bytes),
        );
    }
    if g.other.objects > 0 {
        parts.push(
            Text::new()
                .plain(format!("{} objects, ", g.other.objects))
                .bytes(g.other.bytes)
                .plain(" other storage no header points at"),
        );
    }
    let mut t = Text::new()
        .plain(format!(
            "garbage awaiting collection: {} map storage objects, ",
            g.objects
        ))
        .bytes(g.bytes)
        .plain(" no root reaches (");
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            t = t.plain("; ");
        }
        t = t.append(p);
    }
    Some(
        t.plain("); not listed as maps; ")
            .bytes(g.heap_unreachable.bytes)
            .plain(" of heap unreachable in all"),
    )
}

/// The headline in words: "`main.m` holds 1.50 MiB (9% of the Go heap)",
/// then the larger retainer and the heap the listed retainers leave, when
/// the report names them.
pub fn headline_text(h: &mapscope_incident::analyze::Headline) -> Text {
    let mut t = match &h.map {
        Some(m) => Text::new()
            .code(m.root.clone())
            .plain(" holds ")
            .bytes(m.retained_bytes)
            .plain(format!(" ({:.0}% of the Go heap)", m.percent_of_heap)),
        None => Text::from("no maps found"),
    };
    if let Some(r) = &h.larger_retainer {
        t = t.plain("; the largest retainer is ");
        t = match r.root_kind.as_str() {
            // An object retainer's `root` is its path, type included.
            _ if r.node == "object" && r.count > 1 => t
                .plain(format!("{} objects at ", thousands(r.count)))
                .code(r.root.clone()),
            _ if r.node == "object" => t.code(r.root.clone()),
            "global" if !r.type_name.is_empty() => t
                .plain("global ")
                .code(r.root.clone())
                .plain(" (")
                .code(r.type_name.clone())
                .plain(")"),
            "global" => t.plain("global ").code(r.root.clone()),
            _ => t.code(r.root.clone()),
        };
        t = t
            .plain(", ")
            .bytes(r.retained_bytes)
            .plain(format!(" ({:.0}%)", r.percent_of_heap));
    }
    if let Some(u) = &h.unheld {
        t = t
            .plain("; past the listed retainers, smaller ones hold ")
            .bytes(u.other_bytes)
            .plain(format!(" ({:.0}%), ", u.other_percent_of_heap))
            .bytes(u.unreached_bytes)
            .plain(format!(
                " ({:.0}%) is unreachable (garbage)",
                u.unreached_percent_of_heap
            ));
    }
    t
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
        .named("types")
        .left("type")
        .right("objects")
        .right("bytes")
        .right("% of heap");
    let shown = n(report.types.len());
    for r in report.types.iter().take(shown) {
        t.row([
            Cell::code(r.type_name.clone()),
            Cell::text(r.objects.to_string()),
            Cell::bytes(r.bytes),
            Cell::text(pct(r.bytes)),
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
    let mut t = Table::new(Some(
        "Top retainers (dominator tree: roots, and objects several roots reach)".to_string(),
    ))
    .named("retainers")
    .left("root")
    .left("kind")
    .left("type")
    .right("retained")
    .right("objects")
    .right("% of heap");
    let shown = n(report.retainers.len());
    for r in report.retainers.iter().take(shown) {
        let root = if r.count > 1 {
            format!("{} (×{})", r.root, thousands(r.count))
        } else {
            r.root.clone()
        };
        t.row([
            Cell::code(root),
            Cell::text(r.root_kind.clone()),
            Cell::code(r.type_name.clone()),
            Cell::bytes(r.retained_bytes),
            Cell::text(r.objects.to_string()),
            Cell::text(pct(r.retained_bytes)),
        ]);
    }
    doc.table(t);
    let rest = &report.retainers_rest;
    // The rest: retainers the report lists but the table leaves out
    // (`--top`), and those the report does not list.
    let hidden = report.retainers.get(shown..).unwrap_or(&[]);
    let hidden_bytes: u64 = hidden.iter().map(|r| r.retained_bytes).sum();
    let hidden_objects: u64 = hidden.iter().map(|r| r.objects).sum();
    let hidden_nodes: u64 = hidden.iter().map(|r| r.count).sum();
    doc.paragraph(format!(
        "Each row is what only it keeps alive (the rows never overlap); {} more retainers hold {} ({} objects); no root reaches {} ({} objects: garbage).",
        thousands(rest.other_retainers.saturating_add(hidden_nodes)),
        human_bytes(rest.other_bytes.saturating_add(hidden_bytes)),
        thousands(rest.other_objects.saturating_add(hidden_objects)),
        human_bytes(rest.unreached_bytes),
        thousands(rest.unreached_objects)
    ));
}
