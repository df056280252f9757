//! `mapscope batch DIR [--jobs N] [-o OUTDIR] [--quiet] [--shard K/N]`:
//! every incident directory under DIR (`mapscope_incident::find_incidents`),
//! or with `--shard` the ones shard K of N owns
//! (`mapscope_incident::batch::Shard`), analysed several at a time; per
//! incident `OUTDIR/<name>/REPORT.md` and `report.json` (written under a
//! temporary name and renamed), and a summary on standard output (plus
//! `OUTDIR/summary.json`, or `OUTDIR/summary.shard-K-of-N.json` so that
//! every shard may share one OUTDIR; `batch-merge` joins them).
//!
//! Concurrency: `--jobs` worker threads each take the next incident; each
//! analysis is itself parallel on rayon's global pool. The number of jobs
//! defaults to the number of cores and is capped by memory: at most
//! `MemAvailable / largest core` incidents at once (docs/decisions.md).
//! Workers are plain threads, not a rayon pool, because a rayon worker
//! waiting on an inner parallel join steals the next incident and would
//! break that cap.
//!
//! Exit: 0 all analysed (skipped directories do not count), 1 some
//! incident failed, 2 DIR (or OUTDIR) itself could not be read or written.

use crate::commands::analyze::document;
use crate::output::write_atomically;
use crate::Outcome;
use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mapscope_incident::batch::{incident_name, BatchSummary, IncidentSummary, Shard};
use mapscope_incident::discover::estimated_core_bytes;
use mapscope_incident::{analyze_with_progress, find_incidents, AnalyzeInputs, Candidate, Report};
use mapscope_render::units::iec_bytes;
use mapscope_render::{render, Cell, Document, Format, Table};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A directory of incident directories (searched recursively).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Incidents analysed at once (default: the number of cores; always
    /// capped by available memory vs. the largest core).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Where per-incident reports go: OUTDIR/<incident>/{REPORT.md,report.json}.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "OUTDIR",
        default_value = "mapscope-reports"
    )]
    pub outdir: PathBuf,
    /// No progress display.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Summary format: table, markdown, json or csv.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: Format,
    /// Maps per incident in REPORT.md (0: all).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    /// Only the incidents of shard K of N (K 0-based: 0/N … N-1/N), chosen
    /// by a hash of each incident's path below DIR; merge the shards'
    /// summaries with `mapscope batch-merge` (docs/batch.md).
    #[arg(long, value_name = "K/N", value_parser = Shard::parse)]
    pub shard: Option<Shard>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let mut candidates = find_incidents(&args.dir)?;
    if let Some(shard) = args.shard {
        candidates.retain(|c| shard.owns(&incident_name(&args.dir, c.dir())));
    }
    let incidents: Vec<(usize, &mapscope_incident::Incident)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c {
            Candidate::Incident(inc) => Some((i, inc)),
            _ => None,
        })
        .collect();
    let core_bytes: Vec<u64> = incidents
        .iter()
        .map(|(_, inc)| estimated_core_bytes(&inc.core))
        .collect();
    let jobs = job_count(args.jobs, &core_bytes, incidents.len());
    if let Some(wanted) = args.jobs.filter(|&w| w > jobs && jobs < incidents.len()) {
        if !args.quiet {
            eprintln!(
                "mapscope: running {jobs} incidents at a time, not {wanted}: MemAvailable allows {jobs} of the largest core"
            );
        }
    }
    if !incidents.is_empty() {
        std::fs::create_dir_all(&args.outdir).with_context(|| {
            format!("{}: cannot create output directory", args.outdir.display())
        })?;
    }

    let mut rows: Vec<IncidentSummary> = candidates
        .iter()
        .map(|c| IncidentSummary {
            path: c.dir().display().to_string(),
            name: incident_name(&args.dir, c.dir()),
            ..Default::default()
        })
        .collect();
    for (row, c) in rows.iter_mut().zip(&candidates) {
        match c {
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
    }

    let progress = Progress::new(
        args.quiet,
        incidents.len() as u64,
        core_bytes.iter().fold(0u64, |a, b| a.saturating_add(*b)),
    );
    let results: Mutex<Vec<(usize, IncidentSummary)>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let hook = std::panic::take_hook();
    // A panic in one incident is that incident's failure, not the batch's:
    // note it instead of exiting, and catch it below.
    std::panic::set_hook(Box::new(|info| {
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        PANIC_NOTE.with(|n| *n.borrow_mut() = Some(format!("internal error{loc}")));
    }));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(index, inc)) = incidents.get(k) else {
                    break;
                };
                let row = rows.get(index).cloned().unwrap_or_default();
                let bytes = core_bytes.get(k).copied().unwrap_or(0);
                let done = run_one(&args, inc, row, &progress);
                progress.finish_one(&done, bytes);
                if let Ok(mut r) = results.lock() {
                    r.push((index, done));
                }
            });
        }
    });
    std::panic::set_hook(hook);
    progress.clear();
    for (index, row) in results.into_inner().unwrap_or_default() {
        if let Some(slot) = rows.get_mut(index) {
            *slot = row;
        }
    }

    let failed = rows.iter().any(|r| r.status == "failed");
    let summary = BatchSummary {
        root: Some(args.dir.display().to_string()),
        shard: args.shard,
        incidents: rows,
        jobs,
        seconds: started.elapsed().as_secs_f64(),
        merged_from: Vec::new(),
    };
    // A shard writes its summary even when it owns no incident: the merge
    // needs every shard's file.
    if !incidents.is_empty() || args.shard.is_some() {
        std::fs::create_dir_all(&args.outdir).with_context(|| {
            format!("{}: cannot create output directory", args.outdir.display())
        })?;
        let json = render(&Document::new(), &summary, Format::Json)?;
        let file = Shard::summary_file_name(args.shard);
        write_atomically(&args.outdir.join(file), json.as_bytes())?;
    }
    let shard = args
        .shard
        .map(|s| format!("shard {s} · "))
        .unwrap_or_default();
    let detail = format!(
        "{shard}reports in {} · {} jobs · {:.1} s",
        args.outdir.display(),
        summary.jobs,
        summary.seconds
    );
    print_summary(&summary_document(&summary, detail), &summary, args.format)?;
    Ok(if failed {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

thread_local! {
    static PANIC_NOTE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Analyses one incident and writes its reports; never panics out.
fn run_one(
    args: &Args,
    inc: &mapscope_incident::Incident,
    mut row: IncidentSummary,
    progress: &Progress,
) -> IncidentSummary {
    let started = Instant::now();
    let inputs = AnalyzeInputs::from(inc.clone());
    let name = row.name.clone();
    let on_stage = |stage: mapscope_incident::Stage| progress.stage(&name, stage.as_str());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        analyze_with_progress(&inputs, &on_stage)
    }));
    progress.stage(&name, "");
    row.seconds = Some(started.elapsed().as_secs_f64());
    let report = match result {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            row.status = "failed".into();
            row.error = Some(e.chain_message());
            return row;
        }
        Err(_) => {
            row.status = "failed".into();
            let note = PANIC_NOTE.with(|n| n.borrow_mut().take());
            row.error = Some(format!(
                "{}: mapscope {} (please report)",
                inc.dir.display(),
                note.unwrap_or_else(|| "internal error".into())
            ));
            return row;
        }
    };
    row.go_version = Some(report.go_version.clone());
    row.heap_in_use_bytes = Some(report.heap_in_use_bytes);
    row.top_map = report.top_map().map(|m| m.root.clone());
    row.top_map_retained_bytes = report.top_map().and_then(|m| m.retained_bytes);
    row.findings = Some(report.finding_groups.iter().map(|g| g.count).sum::<u64>() as usize);
    let dir = args.outdir.join(&row.name);
    match write_reports(&dir, &report, args.top) {
        Ok(()) => {
            // A cut core answered from what it holds: `partial`, not
            // `failed` (its warnings say what is missing).
            row.status = if report.coverage.complete {
                "ok".into()
            } else {
                "partial".into()
            };
            row.report_dir = Some(dir.display().to_string());
        }
        Err(e) => {
            row.status = "failed".into();
            row.error = Some(format!("{e:#}"));
        }
    }
    row
}

fn write_reports(dir: &Path, report: &Report, top: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create report directory", dir.display()))?;
    let doc = document(report, top);
    let md = render(&doc, report, Format::Markdown)?;
    write_atomically(&dir.join("REPORT.md"), md.as_bytes())?;
    let json = render(&doc, report, Format::Json)?;
    write_atomically(&dir.join("report.json"), json.as_bytes())?;
    Ok(())
}

/// `requested` (default: cores), capped by memory: each running analysis
/// maps (and for a compressed core, decompresses into a temporary file) its
/// whole core and builds the object graph over it, so at most
/// `MemAvailable / largest core` run at once; never more than the
/// incidents, never fewer than one.
fn job_count(requested: Option<usize>, core_bytes: &[u64], incidents: usize) -> usize {
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
fn cap_jobs(
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

/// The progress display: incidents done/total, what each running incident
/// is doing, core bytes scanned. Hidden unless stderr is a terminal.
struct Progress {
    bar: ProgressBar,
    running: Mutex<Vec<(String, String)>>,
    scanned: AtomicU64,
    total_bytes: u64,
}

impl Progress {
    fn new(quiet: bool, incidents: u64, total_bytes: u64) -> Progress {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(Some(incidents), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {pos}/{len} incidents · {wide_msg}",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        };
        Progress {
            bar,
            running: Mutex::new(Vec::new()),
            scanned: AtomicU64::new(0),
            total_bytes,
        }
    }

    /// `name` entered `stage` (empty: finished).
    fn stage(&self, name: &str, stage: &str) {
        if self.bar.is_hidden() {
            return;
        }
        if let Ok(mut r) = self.running.lock() {
            r.retain(|(n, _)| n != name);
            if !stage.is_empty() {
                r.push((name.to_string(), stage.to_string()));
            }
        }
        self.refresh();
    }

    fn finish_one(&self, _row: &IncidentSummary, bytes: u64) {
        self.scanned.fetch_add(bytes, Ordering::Relaxed);
        self.bar.inc(1);
        self.refresh();
    }

    fn refresh(&self) {
        if self.bar.is_hidden() {
            return;
        }
        let running = self
            .running
            .lock()
            .map(|r| {
                r.iter()
                    .map(|(n, s)| format!("{n}: {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        self.bar.set_message(format!(
            "{} of {} scanned · {running}",
            iec_bytes(self.scanned.load(Ordering::Relaxed).into()),
            iec_bytes(self.total_bytes.into())
        ));
    }

    fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

/// Renders the summary in `format` to standard output (a closed pipe is
/// not an error). Shared with `batch-merge`.
pub(crate) fn print_summary(
    doc: &Document,
    summary: &BatchSummary,
    format: Format,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    // Fit the terminal (piped output stays unwrapped).
    let width = match format {
        Format::Table => mapscope_render::terminal_width(),
        _ => None,
    };
    let text =
        mapscope_render::render_with(doc, summary, format, &mapscope_render::Options { width })?;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
    }
}

/// The summary as a document: counts, `detail` (where the reports are,
/// jobs, time), one row per incident. Shared with `batch-merge`.
pub(crate) fn summary_document(summary: &BatchSummary, detail: String) -> Document {
    let mut doc = Document::new();
    let count = |s: &str| summary.incidents.iter().filter(|r| r.status == s).count();
    doc.heading(format!(
        "{} incidents: {} ok, {} partial, {} failed, {} skipped",
        count("ok") + count("partial") + count("failed"),
        count("ok"),
        count("partial"),
        count("failed"),
        count("skipped")
    ));
    doc.paragraph(detail);
    let mut t = Table::new(None)
        .named("incidents")
        .left("incident")
        .left("Go version")
        .right("heap in use")
        .left("top map")
        .right("retained")
        .right("findings")
        .left("status")
        .left("detail");
    for r in &summary.incidents {
        t.row([
            Cell::path(r.name.clone()),
            Cell::text(r.go_version.clone().unwrap_or_default()),
            Cell::opt_bytes(r.heap_in_use_bytes),
            Cell::code(r.top_map.clone().unwrap_or_default()),
            Cell::opt_bytes(r.top_map_retained_bytes),
            Cell::text(r.findings.map(|f| f.to_string()).unwrap_or_default()),
            Cell::text(r.status.to_string()),
            Cell::text(r.error.clone().unwrap_or_default()),
        ]);
    }
    doc.table(t);
    doc
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
}
