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
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("{}: cannot write", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}
