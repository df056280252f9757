//! One module per subcommand. Each defines its clap `Args` and a `run`
//! function that calls the library crates and emits a report.

pub mod check;
pub mod regions;
pub mod top;
