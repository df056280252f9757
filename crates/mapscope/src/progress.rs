//! `analyze`'s progress line on stderr: a spinner with the elapsed time,
//! the stage the pipeline is in (decompressing and opening the core, heap
//! walk, maps, profile, attribution, findings) and the core's size. Drawn
//! only when stderr is a terminal and `--quiet` is not given: piped or
//! redirected runs get no progress bytes at all.
//!
//! Owns: the display. Must not touch: the pipeline (it only hears stage
//! callbacks from `mapscope_incident::analyze_with_progress`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mapscope_incident::Stage;
use std::io::IsTerminal as _;
use std::path::Path;

pub struct Progress {
    bar: ProgressBar,
    core: String,
}

impl Progress {
    /// A spinner for analysing `core`; hidden when `quiet` or when stderr
    /// is not a terminal.
    pub fn new(quiet: bool, core: &Path) -> Progress {
        let visible = !quiet && std::io::stderr().is_terminal();
        Progress::with_visibility(visible, core)
    }

    fn with_visibility(visible: bool, core: &Path) -> Progress {
        let bar = if visible {
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
        Progress {
            bar,
            core: format!(
                "{name} ({})",
                mapscope_render::units::iec_bytes(size.into())
            ),
        }
    }

    /// The pipeline entered `stage`.
    pub fn stage(&self, stage: Stage) {
        let what = match stage {
            Stage::Open if is_compressed(&self.core) => "decompressing and opening",
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

fn is_compressed(core_label: &str) -> bool {
    let name = core_label.split(" (").next().unwrap_or(core_label);
    [".zst", ".gz", ".xz"].iter().any(|e| name.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_cores_say_decompressing() {
        assert!(is_compressed("core.zst (1.00 MiB)"));
        assert!(!is_compressed("core (1.00 MiB)"));
    }

    #[test]
    fn hidden_progress_is_silent() {
        let p = Progress::with_visibility(false, Path::new("core.zst"));
        assert!(p.bar.is_hidden());
        p.stage(Stage::Open);
        p.finish();
    }
}
