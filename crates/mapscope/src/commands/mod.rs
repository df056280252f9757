//! One module per subcommand. Each defines its clap `Args` and a `run`
//! function that calls the library crates and emits a report.

pub mod analyze;
pub mod batch;
pub mod batch_merge;
pub mod check;
pub mod goroutines;
pub mod heap;
pub mod maps;
pub mod regions;
pub mod top;
