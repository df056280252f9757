//! `mapscope batch DIR [--jobs N] [-o OUTDIR] [--quiet]`: every incident
//! directory under DIR (`mapscope_incident::find_incidents`), analysed
//! several at a time; per incident `OUTDIR/<name>/REPORT.md` and
//! `report.json` (written under a temporary name and renamed), and a
//! summary on standard output (plus `OUTDIR/summary.json`).
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
use crate::output::{write_atomically, OutputArgs};
use crate::Outcome;
use anyhow::Context as _;
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mapscope_incident::discover::estimated_core_bytes;
use mapscope_incident::{analyze_with_progress, find_incidents, AnalyzeInputs, Candidate, Report};
use mapscope_render::{render, Document, Format, Table};
use serde::Serialize;
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
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// One line of the summary (`{"incidents":[…]}` in JSON).
#[derive(Serialize, Debug, Default, Clone)]
pub struct IncidentSummary {
    /// The incident directory.
    pub path: String,
    /// Its name under OUTDIR (its path relative to DIR).
    pub name: String,
    /// `ok`, `failed` or `skipped`.
    pub status: &'static str,
    /// Why it failed or was skipped; null when ok.
    pub error: Option<String>,
    pub go_version: Option<String>,
    pub heap_in_use_bytes: Option<u64>,
    pub top_map: Option<String>,
    pub top_map_retained_bytes: Option<u64>,
    pub findings: Option<usize>,
    /// OUTDIR/<name>, when reports were written.
    pub report_dir: Option<String>,
    pub seconds: Option<f64>,
}

#[derive(Serialize)]
struct Summary {
    incidents: Vec<IncidentSummary>,
    jobs: usize,
    seconds: f64,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let candidates = find_incidents(&args.dir)?;
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
                row.status = "failed";
                row.error = Some(error.chain_message());
            }
            Candidate::Skipped { reason, .. } => {
                row.status = "skipped";
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
    let summary = Summary {
        incidents: rows,
        jobs,
        seconds: started.elapsed().as_secs_f64(),
    };
    if !incidents.is_empty() {
        let json = render(&Document::new(), &summary, Format::Json)?;
        write_atomically(&args.outdir.join("summary.json"), json.as_bytes())?;
    }
    let out = OutputArgs {
        format: args.format,
        output: None,
    };
    out.emit(&summary_document(&summary, &args.outdir), &summary)?;
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
            row.status = "failed";
            row.error = Some(e.chain_message());
            return row;
        }
        Err(_) => {
            row.status = "failed";
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
            row.status = "ok";
            row.report_dir = Some(dir.display().to_string());
        }
        Err(e) => {
            row.status = "failed";
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

/// `dir` relative to the batch root; the root's own name when they are
/// the same directory.
fn incident_name(root: &Path, dir: &Path) -> String {
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
            HumanBytes(self.scanned.load(Ordering::Relaxed)),
            HumanBytes(self.total_bytes)
        ));
    }

    fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

fn summary_document(summary: &Summary, outdir: &Path) -> Document {
    let mut doc = Document::new();
    let count = |s: &str| summary.incidents.iter().filter(|r| r.status == s).count();
    doc.heading(format!(
        "{} incidents: {} ok, {} failed, {} skipped",
        count("ok") + count("failed"),
        count("ok"),
        count("failed"),
        count("skipped")
    ));
    doc.paragraph(format!(
        "reports in {} · {} jobs · {:.1} s",
        outdir.display(),
        summary.jobs,
        summary.seconds
    ));
    let mut t = Table::new(None)
        .left("incident")
        .left("Go version")
        .right("heap in use")
        .left("top map")
        .right("retained")
        .right("findings")
        .left("status")
        .left("detail");
    let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in &summary.incidents {
        t.row([
            r.name.clone(),
            r.go_version.clone().unwrap_or_default(),
            opt(r.heap_in_use_bytes),
            r.top_map.clone().unwrap_or_default(),
            opt(r.top_map_retained_bytes),
            r.findings.map(|f| f.to_string()).unwrap_or_default(),
            r.status.to_string(),
            r.error.clone().unwrap_or_default(),
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
