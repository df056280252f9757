//! Common output flags (`--format`, `-o`) and writing a rendered report.

use anyhow::Context as _;
use mapscope_render::{render, Document, Format};
use std::path::PathBuf;

/// `--format` and `-o`, shared by every command.
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output format: table, markdown, json or csv.
    #[arg(long, default_value = "table", value_parser = parse_format)]
    pub format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

impl OutputArgs {
    /// Renders and writes the report. A file is written under a temporary
    /// name and renamed, so an interrupted run leaves no half-written report.
    pub fn emit<T: serde::Serialize + ?Sized>(
        &self,
        doc: &Document,
        value: &T,
    ) -> anyhow::Result<()> {
        let text = render(doc, value, self.format)?;
        match &self.output {
            None => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                // A closed pipe (`| head`) is not an error worth a message.
                if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                    if e.kind() != std::io::ErrorKind::BrokenPipe {
                        return Err(e).context("cannot write to standard output");
                    }
                }
            }
            Some(path) => write_atomically(path, text.as_bytes())?,
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` via a temporary file in the same directory.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.tmp");
    remove_stale_temporaries(dir, &prefix);
    let tmp = dir.join(format!("{prefix}{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

/// Removes the temporary files an interrupted earlier run (Ctrl-C between
/// write and rename) left beside `path`: `.NAME.tmpPID` regular files
/// whose process is gone.
fn remove_stale_temporaries(dir: &std::path::Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        let is_file = e.file_type().is_ok_and(|t| t.is_file());
        let digits = !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
        // A live process of that id may be mid-write: leave its file.
        let writer_alive = std::path::Path::new("/proc").join(rest).exists();
        if is_file && digits && !writer_alive {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::write_atomically;

    #[test]
    fn a_write_removes_what_an_interrupted_run_left() {
        let dir = std::env::temp_dir().join(format!("mapscope-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stale = dir.join(".REPORT.md.tmp4294967295");
        let other = dir.join(".report.json.tmp4242");
        std::fs::write(&stale, "half").unwrap();
        std::fs::write(&other, "half").unwrap();
        write_atomically(&dir.join("REPORT.md"), b"whole").unwrap();
        assert_eq!(std::fs::read(dir.join("REPORT.md")).unwrap(), b"whole");
        assert!(!stale.exists(), "stale temporary of REPORT.md left");
        assert!(other.exists(), "another file's temporary must stay");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
