//! `mapscope heap CORE [--exe EXE]`: the Go heap as the core holds it
//! (`mapscope_incident::reports::heap`), worded by
//! `mapscope_render::reports::heap`.

use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_incident::reports::heap::heap_report;
use mapscope_render::reports::heap::document;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The core file (plain, or compressed as .zst, .gz or .xz).
    #[arg(value_name = "CORE")]
    pub core: PathBuf,
    #[command(flatten)]
    pub exe: super::ExeArgs,
    /// Number of types to list (largest first).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    #[command(flatten)]
    pub threads: crate::threads::ThreadArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    args.threads.apply();
    let report = heap_report(&args.core, args.exe.files(), args.top)?;
    args.out.emit(&document(&report), &report)?;
    Ok(Outcome::Clean)
}
