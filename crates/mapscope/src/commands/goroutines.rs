//! `mapscope goroutines CORE [--exe EXE]`: every goroutine of the core with
//! its status and stack, printed like the Go runtime's own traceback, plus
//! the threads (`mapscope_incident::reports::goroutines`, worded by
//! `mapscope_render::reports::goroutines`).

use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_incident::reports::goroutines::goroutines_report;
use mapscope_render::reports::goroutines::document;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The core file (plain, or compressed as .zst, .gz or .xz).
    #[arg(value_name = "CORE")]
    pub core: PathBuf,
    #[command(flatten)]
    pub exe: super::ExeArgs,
    /// Also list dead goroutines (kept by the runtime for reuse).
    #[arg(long)]
    pub all: bool,
    /// Show each frame's parameters and locals with where they are.
    #[arg(long)]
    pub locals: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let report = goroutines_report(&args.core, args.exe.files(), args.all, args.locals)?;
    args.out.emit(&document(&report), &report)?;
    Ok(Outcome::Clean)
}
