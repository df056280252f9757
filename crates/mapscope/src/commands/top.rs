//! `mapscope top` (not implemented yet).

use crate::output::OutputArgs;
use crate::Outcome;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(_args: Args) -> anyhow::Result<Outcome> {
    anyhow::bail!("top: not implemented yet")
}
