//! `mapscope maps CORE [--exe EXE] [--top N] [--expand] [--children N]`:
//! every map, `sync.Map` and map family found from the core's roots, by
//! retained bytes (`mapscope_incident::reports::maps`, worded by
//! `mapscope_render::reports::maps`).

use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_gomaps::discover::LISTED_CHILDREN;
use mapscope_incident::reports::maps::maps_report;
use mapscope_render::reports::maps::document;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The core file.
    #[arg(value_name = "CORE")]
    pub core: PathBuf,
    #[command(flatten)]
    pub exe: super::ExeArgs,
    /// Show only the N largest by retained bytes.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// List family members in the table too (JSON always lists them).
    #[arg(long)]
    pub expand: bool,
    /// List at most N members per family, largest storage first (0: all);
    /// the family row always sums all of them.
    #[arg(long, value_name = "N", default_value_t = LISTED_CHILDREN)]
    pub children: usize,
    #[command(flatten)]
    pub threads: crate::threads::ThreadArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    args.threads.apply();
    let report = maps_report(&args.core, args.exe.files(), args.top, args.children)?;
    args.out.emit(&document(&report, args.expand), &report)?;
    Ok(Outcome::Clean)
}
