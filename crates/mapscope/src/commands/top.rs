//! `mapscope top PROFILE`: the functions of a heap profile by flat and
//! cumulative value, as `go tool pprof -top -nodefraction=0` prints them
//! (`mapscope_incident::reports::top`; the text is
//! `mapscope_render::reports::top`'s). `--format table` prints pprof's own
//! text byte for byte; JSON and CSV always carry exact integers in the
//! sample type's unit. Differences from pprof: every function is shown by
//! default (pprof hides those under 0.5% of the total; `--node-fraction
//! 0.005` does the same), and `Time:` is printed in UTC.

use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_incident::reports::top::top_listing;
use mapscope_pprof::{Profile, SortOrder, TopOptions};
use mapscope_render::reports::top::document;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Heap profile: gzipped or raw protobuf (.pb.gz, .pb), or a legacy text
    /// heap profile (`/debug/pprof/heap?debug=1`, also gzipped); `-` reads
    /// it from standard input.
    #[arg(value_name = "PROFILE")]
    pub profile: PathBuf,
    /// Sample type to report, by name (`inuse_space`, `alloc_objects`, ...)
    /// or position; default: the profile's default, else the last type.
    /// pprof's `-sample_index=NAME` and `-inuse_space` (etc.) work too.
    #[arg(long = "sample-index", alias = "sample_index", value_name = "NAME")]
    pub sample_index: Option<String>,
    /// Show at most N functions (0: all); pprof's `-nodecount=N` works too.
    #[arg(long, alias = "node-count", value_name = "N", default_value_t = 0)]
    pub nodecount: usize,
    /// Hide functions whose cumulative value is below this fraction of the
    /// total (pprof's -nodefraction; its default is 0.005, ours 0).
    #[arg(
        long = "node-fraction",
        alias = "nodefraction",
        value_name = "F",
        default_value_t = 0.0
    )]
    pub node_fraction: f64,
    /// Sort by cumulative value instead of flat value.
    #[arg(long)]
    pub cum: bool,
    /// Unit of the table and Markdown values, as pprof's -unit: `minimum`
    /// (one human unit for the whole listing, pprof's default), `auto` (a
    /// human unit per value), or a unit such as `B`, `kB`, `MB` (exact bytes
    /// with `B`). JSON and CSV are always exact.
    #[arg(long, value_name = "UNIT", default_value = "minimum")]
    pub unit: String,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    if !(0.0..=1.0).contains(&args.node_fraction) {
        anyhow::bail!(
            "--node-fraction must be between 0 and 1, not {}",
            args.node_fraction
        );
    }
    let profile = if crate::stdin::is_stdin(&args.profile) {
        let data = crate::stdin::read_all()?;
        Profile::from_bytes(&data, std::path::Path::new(crate::stdin::STDIN_NAME))?
    } else {
        Profile::from_path(&args.profile)?
    };
    let options = TopOptions {
        sample_index: args.sample_index.clone(),
        node_count: args.nodecount,
        node_fraction: args.node_fraction,
        sort: if args.cum {
            SortOrder::Cum
        } else {
            SortOrder::Flat
        },
        ..TopOptions::default()
    };
    let listing = top_listing(&profile, &options)?;
    let doc = document(&listing, &args.unit, args.out.format());
    args.out.emit(&doc, &listing)?;
    Ok(Outcome::Clean)
}
