//! `mapscope analyze CORE|INCIDENT_DIR`: the incident report — which maps
//! hold the memory, attributed from the heap profile, with an accounting
//! table and findings. The pipeline is `mapscope_incident::analyze`, the
//! document `mapscope_render::reports::analyze`; this module turns flags
//! into the pipeline's inputs.

use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_incident::{analyze_with_progress, AnalyzeInputs};
use mapscope_render::reports::analyze::document;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// An ELF core (possibly .zst/.gz/.xz) or an incident directory.
    #[arg(value_name = "CORE|INCIDENT_DIR")]
    pub input: PathBuf,
    #[command(flatten)]
    pub exe: super::ExeArgs,
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
    let found = AnalyzeInputs::of_path(&args.input)?;
    // Flags override what the directory holds.
    let stdin_profile = match &args.profile {
        Some(p) => Some(crate::stdin::ProfilePath::new(p)?),
        None => None,
    };
    let inputs = found.with_flags(AnalyzeInputs {
        exe: args.exe.exe.clone(),
        symbols: args.exe.symbols.clone(),
        profile: stdin_profile.as_ref().map(|p| p.path().to_path_buf()),
        smaps: args.maps.clone(),
        memory_stat: args.memory_stat.clone(),
        children: Some(args.children),
        retained_profile: args.retained_profile.is_some(),
        ..Default::default()
    });
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
