//! `--jobs N` of the single-incident commands (`heap`, `maps`, `analyze`):
//! how many threads one analysis uses (rayon's global pool). `batch` has
//! its own `--jobs` (incidents at a time) and leaves each analysis the
//! default pool.
//!
//! Owns: the flag and sizing the pool. Must not touch: what runs on it.

/// The threads flag shared by commands that analyse one core.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ThreadArgs {
    /// Threads for one analysis (default: one per CPU; 1: sequential).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

impl ThreadArgs {
    /// Sizes rayon's global pool; call before any parallel work. A pool
    /// that already exists (tests calling twice) is left as it is.
    pub fn apply(self) {
        if let Some(n) = self.jobs {
            let _ = rayon::ThreadPoolBuilder::new()
                .num_threads(usize::from(n))
                .build_global();
        }
    }
}
