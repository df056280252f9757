//! `mapscope batch DIR [--jobs N] [-o OUTDIR] [--quiet] [--shard K/N]`:
//! every incident directory under DIR, or with `--shard` the ones shard K
//! of N owns (`mapscope_incident::batch::plan`), analysed several at a
//! time (`mapscope_incident::batch::job_count`); per
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

use crate::output::{write_atomically, OutputArgs};
use crate::progress::BatchProgress as Progress;
use crate::Outcome;
use anyhow::Context as _;
use mapscope_incident::batch::{job_count, plan, BatchSummary, IncidentSummary, Shard};
use mapscope_incident::{analyze_with_progress, AnalyzeInputs, Incident, Report, Stage};
use mapscope_render::reports::analyze::document as report_document;
use mapscope_render::reports::batch::document;
use mapscope_render::{render, Document, Format};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// Where per-incident reports go: `OUTDIR/<incident>/{REPORT.md,report.json}`.
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
    let plan = plan(&args.dir, args.shard)?;
    let incidents = &plan.incidents;
    let core_bytes: Vec<u64> = incidents.iter().map(|i| i.2).collect();
    let jobs = job_count(args.jobs, &core_bytes, incidents.len());
    if let Some(wanted) = args.jobs.filter(|&w| w > jobs && jobs < incidents.len()) {
        if !args.quiet {
            eprintln!(
                "mapscope: running {jobs} incidents at a time, not {wanted}: MemAvailable allows {jobs} of the largest core"
            );
        }
    }
    let create_outdir = || {
        std::fs::create_dir_all(&args.outdir)
            .with_context(|| format!("{}: cannot create output directory", args.outdir.display()))
    };
    if !incidents.is_empty() {
        create_outdir()?;
    }
    let mut rows = plan.rows.clone();
    let progress = Progress::new(args.quiet, incidents.len() as u64, plan.total_core_bytes());
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
                let Some((index, inc, bytes)) = incidents.get(k) else {
                    break;
                };
                let row = rows.get(*index).cloned().unwrap_or_default();
                let done = run_one(&args, inc, row, &progress);
                progress.finish_one(*bytes);
                if let Ok(mut r) = results.lock() {
                    r.push((*index, done));
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
        create_outdir()?;
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
    OutputArgs::stdout(args.format).emit(&document(&summary, detail), &summary)?;
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
    inc: &Incident,
    mut row: IncidentSummary,
    progress: &Progress,
) -> IncidentSummary {
    let started = Instant::now();
    let inputs = AnalyzeInputs::from(inc.clone());
    let name = row.name.clone();
    let on_stage = |stage: Stage| progress.stage(&name, stage.as_str());
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
    row.record(&report);
    let dir = args.outdir.join(&row.name);
    match write_reports(&dir, &report, args.top) {
        Ok(()) => row.report_dir = Some(dir.display().to_string()),
        Err(e) => {
            row.status = "failed".into();
            row.error = Some(format!("{e:#}"));
        }
    }
    row
}

/// `dir/REPORT.md` and `dir/report.json`.
fn write_reports(dir: &Path, report: &Report, top: usize) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create report directory", dir.display()))?;
    let doc = report_document(report, top);
    let md = render(&doc, report, Format::Markdown)?;
    write_atomically(&dir.join("REPORT.md"), md.as_bytes())?;
    let json = render(&doc, report, Format::Json)?;
    write_atomically(&dir.join("report.json"), json.as_bytes())?;
    Ok(())
}
