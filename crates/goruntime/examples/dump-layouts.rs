//! Development tool: writes the runtime layout table of a Go executable
//! built with DWARF (see `mapscope_goruntime::dwarf::table` for the format).
//! `scripts/gen-layout-tables.sh` runs it over reference builds of every
//! supported Go release and GOARCH to produce `crates/goruntime/layouts/`.
//!
//! Usage: `cargo run --release -p mapscope-goruntime --example dump-layouts -- EXE > TABLE`

use std::process::ExitCode;

use mapscope_goruntime::buildinfo::BuildInfo;
use mapscope_goruntime::dwarf::table::{extract, TableHeader};
use mapscope_goruntime::dwarf::DwarfInfo;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump-layouts EXE");
        return ExitCode::from(2);
    };
    match run(&path) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dump-layouts: {path}: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(path: &str) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let dwarf = DwarfInfo::load(&bytes).map_err(|e| e.to_string())?;
    let info = BuildInfo::parse(&bytes).map_err(|e| e.to_string())?;
    Ok(extract(
        &dwarf,
        &TableHeader::for_build(&info, dwarf.pointer_size()).map_err(|e| e.to_string())?,
    ))
}
