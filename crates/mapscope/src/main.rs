//! The `mapscope` binary: turns arguments into library calls and a report
//! into bytes. It owns flag parsing, output writing, progress, error
//! reporting and exit codes; every pipeline and report model lives in
//! `mapscope-incident`, every document in `mapscope-render`
//! (`tests/thin_binary.rs` keeps this crate at most 1,500 lines).
//!
//! Exit codes (see `docs/cli.md`): 0 success; 1 the analysis ran and
//! found a problem it was asked to check; 2 an input could not be read or
//! understood. Never 101: a panic is reported as an internal error, exit 2.

mod commands;
mod output;
mod progress;
mod stdin;
mod threads;

use clap::{CommandFactory as _, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// Which map instances hold the memory of a Go process, from a heap
/// profile, an ELF core and the executable.
#[derive(Parser, Debug)]
#[command(
    name = "mapscope",
    version,
    about,
    propagate_version = true,
    after_help = EXAMPLES_MAPSCOPE
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a heap profile like `go tool pprof -top`.
    #[command(after_help = EXAMPLES_TOP)]
    Top(commands::top::Args),
    /// List the core's memory regions like /proc/PID/maps, and its threads.
    #[command(after_help = EXAMPLES_REGIONS)]
    Regions(commands::regions::Args),
    /// Cross-validate a heap profile against a core and its executable.
    #[command(after_help = EXAMPLES_CHECK)]
    Check(commands::check::Args),
    /// The Go heap: in-use bytes, objects, spans, size classes, types, runtime statistics.
    #[command(after_help = EXAMPLES_HEAP)]
    Heap(commands::heap::Args),
    /// List goroutines with their stacks, like a Go traceback, and the threads.
    #[command(after_help = EXAMPLES_GOROUTINES)]
    Goroutines(commands::goroutines::Args),
    /// The incident report: which maps hold the memory, from a core (or an
    /// incident directory), its executable and a heap profile.
    #[command(after_help = EXAMPLES_ANALYZE)]
    Analyze(commands::analyze::Args),
    /// Every map found from the core's roots, by retained bytes.
    #[command(after_help = EXAMPLES_MAPS)]
    Maps(commands::maps::Args),
    /// Every incident directory under DIR, several at a time: per incident
    /// a Markdown and a JSON report, and a summary.
    #[command(after_help = EXAMPLES_BATCH)]
    Batch(commands::batch::Args),
    /// Merge the summaries of `batch --shard K/N` runs into the summary of
    /// one unsharded batch.
    #[command(after_help = EXAMPLES_BATCH_MERGE)]
    BatchMerge(commands::batch_merge::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = EXAMPLES_COMPLETIONS)]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one per command into DIR.
    #[command(after_help = EXAMPLES_MAN)]
    Man {
        /// Write mapscope.1 and mapscope-COMMAND.1 for every command into
        /// DIR instead of printing mapscope.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// What a command concluded, when it ran to the end.
pub enum Outcome {
    /// Nothing to complain about: exit 0.
    Clean,
    /// The analysis found a problem it was asked to check: exit 1.
    Problems,
}

fn main() -> ExitCode {
    install_panic_hook();
    let args = pprof_spellings(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Top(a) => commands::top::run(a),
        Command::Regions(a) => commands::regions::run(a),
        Command::Check(a) => commands::check::run(a),
        Command::Heap(a) => commands::heap::run(a),
        Command::Goroutines(a) => commands::goroutines::run(a),
        Command::Analyze(a) => commands::analyze::run(a),
        Command::Maps(a) => commands::maps::run(a),
        Command::Batch(a) => commands::batch::run(a),
        Command::BatchMerge(a) => commands::batch_merge::run(a),
        Command::Completions { shell } => completions(shell),
        Command::Man { dir } => man(dir),
    };
    match result {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Problems) => ExitCode::from(1),
        Err(e) => {
            // One line: the context chain joined, outermost first. A cause
            // that its parent's message already ends with is not repeated
            // (error types whose Display includes their source).
            let mut parts: Vec<String> = Vec::new();
            for c in e.chain() {
                let text = c.to_string();
                if !parts.last().is_some_and(|p| p.ends_with(&text)) {
                    parts.push(text);
                }
            }
            let msg = stdin::name_temporaries(parts.join(": "));
            eprintln!("mapscope: {msg}");
            ExitCode::from(2)
        }
    }
}

/// `mapscope completions SHELL`: the completion script on stdout.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<Outcome> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "mapscope", &mut script);
    output::write_stdout(&script)?;
    Ok(Outcome::Clean)
}

/// `mapscope man [--dir DIR]`: mapscope(1) on stdout, or a page per command
/// into DIR.
fn man(dir: Option<PathBuf>) -> anyhow::Result<Outcome> {
    use anyhow::Context as _;
    let cmd = Cli::command();
    match dir {
        Some(dir) => {
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("{}: cannot write manual pages", dir.display()))?;
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .context("cannot render the manual page")?;
            output::write_stdout(&page)?;
        }
    }
    Ok(Outcome::Clean)
}

/// `go tool pprof`'s spellings of `top`'s flags, rewritten to ours before
/// clap sees them (clap has no single-dash long options): `-sample_index=X`,
/// `-nodecount N`, `-nodefraction F`, `-cum`, `-unit U`, `-output FILE`,
/// the sample-type shorthands `-inuse_space`, `-inuse_objects`,
/// `-alloc_space`, `-alloc_objects` (also with two dashes), and `-flat` and
/// `-top`, which name what `top` does anyway and are dropped. Only the
/// arguments after `top` are touched, up to a `--`.
fn pprof_spellings(args: Vec<OsString>) -> Vec<OsString> {
    // The subcommand is the first argument that is not an option (the top
    // level has no option taking a value).
    let Some(sub) = args
        .iter()
        .skip(1)
        .position(|a| !a.to_string_lossy().starts_with('-'))
        .map(|i| i + 1)
    else {
        return args;
    };
    if args.get(sub).is_none_or(|a| a != "top") {
        return args;
    }
    let mut out: Vec<OsString> = Vec::with_capacity(args.len());
    let mut rest = args.into_iter().enumerate();
    for (i, arg) in rest.by_ref() {
        let past_sub = i > sub;
        if past_sub && arg == "--" {
            out.push(arg);
            break;
        }
        let Some(text) = arg.to_str().filter(|_| past_sub) else {
            out.push(arg);
            continue;
        };
        let Some(body) = text.strip_prefix('-') else {
            out.push(arg);
            continue;
        };
        let two_dashes = body.starts_with('-');
        let body = body.trim_start_matches('-');
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let ours = match (name, value) {
            ("inuse_space" | "inuse_objects" | "alloc_space" | "alloc_objects", None) => {
                out.push(format!("--sample-index={name}").into());
                continue;
            }
            ("flat" | "top", None) => continue,
            _ if two_dashes => None,
            ("sample_index", _) => Some("--sample-index"),
            ("nodecount", _) => Some("--nodecount"),
            ("nodefraction", _) => Some("--node-fraction"),
            ("cum", None) => Some("--cum"),
            ("unit", _) => Some("--unit"),
            ("output", _) => Some("--output"),
            _ => None,
        };
        match (ours, value) {
            (Some(flag), Some(v)) => out.push(format!("{flag}={v}").into()),
            (Some(flag), None) => out.push(flag.into()),
            (None, _) => out.push(arg),
        }
    }
    out.extend(rest.map(|(_, a)| a));
    out
}

const EXAMPLES_MAPSCOPE: &str = "\
Examples:
  mapscope analyze /srv/incidents/api-2024-05-01   # an incident directory
  mapscope analyze core.zst --exe ./server --profile heap.pb.gz -o REPORT.md
  mapscope top heap.pb.gz --nodecount 10
  mapscope completions bash > /etc/bash_completion.d/mapscope

Exit status: 0 ok, 1 the analysis found a problem it was asked to check,
2 an input could not be read. The full contract is docs/cli.md.";

const EXAMPLES_TOP: &str = "\
Examples:
  mapscope top heap.pb.gz
  mapscope top heap.pb.gz --sample-index alloc_space --nodecount 10
  mapscope top -sample_index=inuse_space -nodecount=5 heap.pb.gz   # pprof's spellings
  curl -s http://localhost:6060/debug/pprof/heap | mapscope top -
  mapscope top heap.pb.gz -o top.json                              # JSON, from the extension";

const EXAMPLES_REGIONS: &str = "\
Examples:
  mapscope regions core.zst
  mapscope regions core --exe ./server --format json";

const EXAMPLES_CHECK: &str = "\
Examples:
  mapscope check heap.pb.gz core.zst --exe ./server
  curl -s http://localhost:6060/debug/pprof/heap | mapscope check - core";

const EXAMPLES_HEAP: &str = "\
Examples:
  mapscope heap core.zst --exe ./server
  mapscope heap core --top 50 -o heap.md";

const EXAMPLES_GOROUTINES: &str = "\
Examples:
  mapscope goroutines core.zst
  mapscope goroutines core --exe ./server --locals --all";

const EXAMPLES_ANALYZE: &str = "\
Examples:
  mapscope analyze /srv/incidents/api-2024-05-01    # core, executable, profile found inside
  mapscope analyze core.zst --exe ./server --profile heap.pb.gz
  mapscope analyze core.zst --exe ./server --profile - < heap.pb.gz
  mapscope analyze incident/ -o REPORT.md           # Markdown, from the extension
  mapscope analyze incident/ --format json --quiet > report.json";

const EXAMPLES_MAPS: &str = "\
Examples:
  mapscope maps core.zst --exe ./server --top 20
  mapscope maps core --expand --children 0 -o maps.json";

const EXAMPLES_BATCH: &str = "\
Examples:
  mapscope batch /srv/incidents -o reports/
  mapscope batch /srv/incidents -o reports/ --format json --quiet > summary.json";

const EXAMPLES_BATCH_MERGE: &str = "\
Examples:
  mapscope batch /srv/incidents -o reports/ --shard 0/2   # on one machine
  mapscope batch /srv/incidents -o reports/ --shard 1/2   # on another, same OUTDIR
  mapscope batch-merge reports/ -o reports/summary.json";

const EXAMPLES_COMPLETIONS: &str = "\
Examples:
  mapscope completions bash > /etc/bash_completion.d/mapscope
  mapscope completions zsh > \"${fpath[1]}/_mapscope\"
  mapscope completions fish > ~/.config/fish/completions/mapscope.fish";

const EXAMPLES_MAN: &str = "\
Examples:
  mapscope man > mapscope.1 && man ./mapscope.1
  mapscope man --dir /usr/local/share/man/man1";

/// A panic is a mapscope bug; report it on one line and exit 2, never 101.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("mapscope: internal error (please report): panicked{loc}: {payload}");
        std::process::exit(2);
    }));
}
