//! `mapscope batch-merge OUTDIR|SUMMARY… [-o SUMMARY] [--format F]`: the
//! summaries of every shard of one `batch --shard K/N` run merged into the
//! summary an unsharded `batch` prints (`mapscope_incident::batch`:
//! `read_summaries` reads them, `merge` checks and merges).
//!
//! Each argument is a shard's summary file, or an OUTDIR whose
//! `summary.shard-*-of-*.json` files (else its `summary.json`) are read;
//! a file named twice is read once. `-o` writes the merged JSON (under a
//! temporary name, renamed); standard output gets it in `--format`.
//!
//! Exit: 0 merged and every incident analysed, 1 merged and some incident
//! failed (what the unsharded batch would exit), 2 a summary unreadable or
//! the shards inconsistent (different N, a shard twice or missing, an
//! incident twice or in the wrong shard).

use crate::output::{write_atomically, OutputArgs};
use crate::Outcome;
use mapscope_incident::batch::{merge, read_summaries, roots_differ};
use mapscope_render::reports::batch::document;
use mapscope_render::{render, Document, Format};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Shards' OUTDIRs (their summary.shard-K-of-N.json files) or summary files.
    #[arg(value_name = "OUTDIR|SUMMARY", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Write the merged summary (JSON) to SUMMARY.
    #[arg(short = 'o', long = "output", value_name = "SUMMARY")]
    pub output: Option<PathBuf>,
    /// Format on standard output: table, markdown, json or csv.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: Format,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let inputs = read_summaries(&args.inputs)?;
    if let Some(roots) = roots_differ(&inputs) {
        eprintln!(
            "mapscope: warning: the shards ran on different DIRs ({}); rows are ordered by incident path",
            roots.join(", ")
        );
    }
    let merged = merge(inputs)?;
    if let Some(path) = &args.output {
        let json = render(&Document::new(), &merged, Format::Json)?;
        write_atomically(path, json.as_bytes())?;
    }
    let detail = format!(
        "{} shards merged · {} jobs · {:.1} s",
        merged.merged_from.len(),
        merged.jobs,
        merged.seconds
    );
    OutputArgs::stdout(args.format).emit(&document(&merged, detail), &merged)?;
    Ok(if merged.incidents.iter().any(|r| r.status == "failed") {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}
