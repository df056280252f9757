//! One module per subcommand. Each defines its clap `Args` and a `run`
//! function that builds the report with one `mapscope_incident` call,
//! words it with one `mapscope_render::reports` call, and emits it.

pub mod analyze;
pub mod batch;
pub mod batch_merge;
pub mod check;
pub mod goroutines;
pub mod heap;
pub mod maps;
pub mod regions;
pub mod top;

/// `--exe` and `--symbols`: the files every command that reads a core's Go
/// view takes (`mapscope_incident::open` decides what they must be).
#[derive(clap::Args, Debug, Clone)]
pub struct ExeArgs {
    /// The executable the core's process ran (default: the incident
    /// directory's, else the core's NT_FILE path, when that file exists).
    #[arg(long, value_name = "EXE")]
    pub exe: Option<std::path::PathBuf>,
    /// Separate debug file (objcopy --only-keep-debug, or the unstripped
    /// build) for DWARF and symbols; must be EXE's build (default: the
    /// build-ID tree, $MAPSCOPE_DEBUG_DIR or /usr/lib/debug).
    #[arg(long, value_name = "FILE")]
    pub symbols: Option<std::path::PathBuf>,
}

impl ExeArgs {
    pub fn files(&self) -> mapscope_incident::ExeFiles<'_> {
        let (exe, symbols) = (self.exe.as_deref(), self.symbols.as_deref());
        mapscope_incident::ExeFiles { exe, symbols }
    }
}
