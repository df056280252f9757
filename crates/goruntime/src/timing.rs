//! Phase timings for performance work (issue #9, docs/performance.md).
//!
//! Owns: the `MAPSCOPE_TIMINGS` switch and the one-line report of a phase
//! (`mapscope timing: <phase> <seconds> s`) on standard error.
//! Must not touch: results. Timings never change what is computed, and
//! nothing is printed unless `MAPSCOPE_TIMINGS` is set to a non-empty value.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MAPSCOPE_TIMINGS").is_some_and(|v| !v.is_empty()))
}

/// Times a phase from creation to drop.
pub struct Phase {
    name: &'static str,
    started: Option<Instant>,
}

impl Phase {
    pub fn start(name: &'static str) -> Phase {
        Phase {
            name,
            started: enabled().then(Instant::now),
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        if let Some(t) = self.started {
            eprintln!(
                "mapscope timing: {:<28} {:>8.3} s",
                self.name,
                t.elapsed().as_secs_f64()
            );
        }
    }
}

/// Runs `f` as the phase `name`.
pub fn phase<T>(name: &'static str, f: impl FnOnce() -> T) -> T {
    let _p = Phase::start(name);
    f()
}
