//! `mapscope batch-merge OUTDIR|SUMMARY… [-o SUMMARY] [--format F]`: the
//! summaries of every shard of one `batch --shard K/N` run merged into the
//! summary an unsharded `batch` prints (`mapscope_incident::batch::merge`
//! checks and merges; this module reads and writes the files).
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

use crate::commands::batch::{print_summary, summary_document};
use crate::output::write_atomically;
use crate::Outcome;
use anyhow::{bail, Context as _};
use mapscope_incident::batch::{merge, roots_differ, BatchSummary};
use mapscope_render::{render, Document, Format};
use std::path::{Path, PathBuf};

/// A summary file larger than this is refused (a million incidents'
/// rows are well under it).
const MAX_SUMMARY_BYTES: u64 = 1 << 30;
/// At most this many summary files are read from one OUTDIR.
const MAX_FILES_PER_DIR: usize = 100_000;

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
    let mut files: Vec<PathBuf> = Vec::new();
    for input in &args.inputs {
        if input.is_dir() {
            let found = summaries_in(input)?;
            if found.is_empty() {
                bail!(
                    "{}: no summary.shard-K-of-N.json or summary.json",
                    input.display()
                );
            }
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    // One file named twice (its OUTDIR and itself) is one input.
    let mut seen = Vec::new();
    files.retain(|f| {
        let key = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    let inputs = files
        .into_iter()
        .map(|f| read_summary(&f).map(|s| (f, s)))
        .collect::<anyhow::Result<Vec<_>>>()?;
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
    let doc = summary_document(&merged, detail);
    print_summary(&doc, &merged, args.format)?;
    Ok(if merged.incidents.iter().any(|r| r.status == "failed") {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}

/// `summary.shard-*-of-*.json` in `dir`, sorted; else `summary.json`.
fn summaries_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut shards: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list directory", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .take(MAX_FILES_PER_DIR)
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("summary.shard-") && n.ends_with(".json"))
        })
        .filter(|p| p.is_file())
        .collect();
    shards.sort();
    if shards.is_empty() && dir.join("summary.json").is_file() {
        shards.push(dir.join("summary.json"));
    }
    Ok(shards)
}

fn read_summary(path: &Path) -> anyhow::Result<BatchSummary> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("{}: cannot read", path.display()))?
        .len();
    if len > MAX_SUMMARY_BYTES {
        bail!(
            "{}: {len} bytes is too large for a batch summary",
            path.display()
        );
    }
    let text = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    serde_json::from_slice(&text)
        .with_context(|| format!("{}: not a mapscope batch summary", path.display()))
}
