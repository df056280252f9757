//! The `mapscope` binary: turns arguments into library calls and a report
//! into bytes. It owns flag parsing, input discovery, error reporting and exit
//! codes; every analysis lives in a library crate.
//!
//! Exit codes (see `shared/docs/cli.md`): 0 success; 1 the analysis ran and
//! found a problem it was asked to check; 2 an input could not be read or
//! understood. Never 101: a panic is reported as an internal error, exit 2.

mod commands;
mod output;
mod threads;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Which map instances hold the memory of a Go process, from a heap
/// profile, an ELF core and the executable.
#[derive(Parser, Debug)]
#[command(name = "mapscope", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a heap profile like `go tool pprof -top`.
    Top(commands::top::Args),
    /// List the core's memory regions like /proc/PID/maps, and its threads.
    Regions(commands::regions::Args),
    /// Cross-validate a heap profile against a core and its executable.
    Check(commands::check::Args),
    /// The Go heap: in-use bytes, objects, spans, size classes, types, runtime statistics.
    Heap(commands::heap::Args),
    /// List goroutines with their stacks, like a Go traceback, and the threads.
    Goroutines(commands::goroutines::Args),
    /// The incident report: which maps hold the memory, from a core (or an
    /// incident directory), its executable and a heap profile.
    Analyze(commands::analyze::Args),
    /// Every map found from the core's roots, by retained bytes.
    Maps(commands::maps::Args),
    /// Every incident directory under DIR, several at a time: per incident
    /// a Markdown and a JSON report, and a summary.
    Batch(commands::batch::Args),
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
    let cli = match Cli::try_parse() {
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
            let msg = parts.join(": ");
            eprintln!("mapscope: {msg}");
            ExitCode::from(2)
        }
    }
}

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
