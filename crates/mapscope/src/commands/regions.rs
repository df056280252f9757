//! `mapscope regions CORE [--exe EXE]`: the core's memory regions like
//! `/proc/PID/maps`, totals per kind, the threads and the fatal signal
//! (`mapscope_incident::reports::regions`, worded by
//! `mapscope_render::reports::regions`). The executable is chosen and
//! validated by `mapscope_incident::open`, as for every command.

use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_incident::reports::regions::regions_report;
use mapscope_render::reports::regions::document;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The core file (plain, or compressed as .zst, .gz or .xz).
    #[arg(value_name = "CORE")]
    pub core: PathBuf,
    #[command(flatten)]
    pub exe: super::ExeArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let report = regions_report(&args.core, args.exe.files())?;
    args.out.emit(&document(&report), &report)?;
    Ok(Outcome::Clean)
}
