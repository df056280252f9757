//! Progress on stderr. `analyze`'s line ([`Progress`]): a spinner with the elapsed time,
//! the stage the pipeline is in (decompressing and opening the core, heap
//! walk, maps, profile, attribution, findings) and the core's size. Drawn
//! only when stderr is a terminal and `--quiet` is not given: piped or
//! redirected runs get no progress bytes at all. `batch`'s
//! ([`BatchProgress`]): incidents done of all, what each running one is
//! doing, core bytes scanned.
//!
//! Owns: the display. Must not touch: the pipeline (it only hears stage
//! callbacks from `mapscope_incident::analyze_with_progress`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mapscope_incident::Stage;
use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

pub struct Progress {
    bar: ProgressBar,
    core: String,
    /// The core is compressed: opening it decompresses it first.
    compressed: bool,
}

impl Progress {
    /// A spinner for analysing `core`; hidden when `quiet` or when stderr
    /// is not a terminal.
    pub fn new(quiet: bool, core: &Path) -> Progress {
        let bar = if !quiet && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        let name = core
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| core.display().to_string());
        let size = std::fs::metadata(core).map(|m| m.len()).unwrap_or(0);
        let compressed = [".zst", ".gz", ".xz"].iter().any(|e| name.ends_with(e));
        Progress {
            bar,
            compressed,
            core: format!(
                "{name} ({})",
                mapscope_render::units::iec_bytes(size.into())
            ),
        }
    }

    /// The pipeline entered `stage`.
    pub fn stage(&self, stage: Stage) {
        let what = match stage {
            Stage::Open if self.compressed => "decompressing and opening",
            Stage::Open => "opening",
            _ => stage.as_str(),
        };
        self.bar.set_message(format!("{what} · {}", self.core));
    }

    /// Removes the line (the report follows on stdout).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An error return leaves no spinner behind the message.
        self.bar.finish_and_clear();
    }
}

/// The progress display: incidents done/total, what each running incident
/// is doing, core bytes scanned. Hidden unless stderr is a terminal.
pub struct BatchProgress {
    bar: ProgressBar,
    running: Mutex<Vec<(String, String)>>,
    scanned: AtomicU64,
    total_bytes: u64,
}

impl BatchProgress {
    pub fn new(quiet: bool, incidents: u64, total_bytes: u64) -> BatchProgress {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(Some(incidents), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {pos}/{len} incidents · {wide_msg}",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        };
        BatchProgress {
            bar,
            running: Mutex::new(Vec::new()),
            scanned: AtomicU64::new(0),
            total_bytes,
        }
    }

    /// `name` entered `stage` (empty: finished).
    pub fn stage(&self, name: &str, stage: &str) {
        if self.bar.is_hidden() {
            return;
        }
        if let Ok(mut r) = self.running.lock() {
            r.retain(|(n, _)| n != name);
            if !stage.is_empty() {
                r.push((name.to_string(), stage.to_string()));
            }
        }
        self.refresh();
    }

    pub fn finish_one(&self, bytes: u64) {
        self.scanned.fetch_add(bytes, Ordering::Relaxed);
        self.bar.inc(1);
        self.refresh();
    }

    fn refresh(&self) {
        if self.bar.is_hidden() {
            return;
        }
        let running = self
            .running
            .lock()
            .map(|r| {
                r.iter()
                    .map(|(n, s)| format!("{n}: {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        self.bar.set_message(format!(
            "{} of {} scanned · {running}",
            mapscope_render::units::iec_bytes(self.scanned.load(Ordering::Relaxed).into()),
            mapscope_render::units::iec_bytes(self.total_bytes.into())
        ));
    }

    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}
