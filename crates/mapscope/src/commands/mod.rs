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
