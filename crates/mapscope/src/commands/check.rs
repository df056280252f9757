//! `mapscope check PROFILE CORE [--exe EXE] [--symbols FILE]`: cross-validates a heap profile
//! against a core and its executable (the checks live in
//! `mapscope_incident::checks`, the document
//! `mapscope_render::reports::check`'s); exits 1 when any fails.

use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_incident::check_files;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The heap profile (.pb.gz, raw .pb, or legacy text); `-` reads it
    /// from standard input.
    #[arg(value_name = "PROFILE")]
    pub profile: PathBuf,
    /// The core file (plain, or compressed as .zst, .gz or .xz).
    #[arg(value_name = "CORE")]
    pub core: PathBuf,
    /// The executable (default: the core's NT_FILE path of the main
    /// executable, when that file exists).
    #[arg(long, value_name = "EXE")]
    pub exe: Option<PathBuf>,
    /// A debug file of EXE's build whose ELF symbols name the locations.
    #[arg(long, value_name = "FILE")]
    pub symbols: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let profile = crate::stdin::ProfilePath::new(&args.profile)?;
    let (exe, symbols) = (args.exe.as_deref(), args.symbols.as_deref());
    let mut report = check_files(profile.path(), &args.core, exe, symbols)?;
    if crate::stdin::is_stdin(&args.profile) {
        // Name what the user gave, never the temporary copy.
        report.profile = crate::stdin::STDIN_NAME.to_string();
        for c in &mut report.checks {
            c.detail = crate::stdin::name_temporaries(std::mem::take(&mut c.detail));
        }
    }
    let failed = report.failed();
    let doc = mapscope_render::reports::check::document(&report);
    args.out.emit(&doc, &report)?;
    Ok(if failed {
        Outcome::Problems
    } else {
        Outcome::Clean
    })
}
