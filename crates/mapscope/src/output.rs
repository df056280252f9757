//! Common output flags (`--format`, `-o`) and writing a rendered report.

use anyhow::Context as _;
use mapscope_render::{csv_tables, render_with, terminal_width, Document, Format, Options};
use std::path::PathBuf;

/// `--format` and `-o`, shared by every command.
///
/// The format is `--format` when given, else the one `-o FILE`'s extension
/// names (`.md`, `.json`, `.csv`, `.html`, ...; [`format_for_path`]), else
/// `table` ([`OutputArgs::format`]).
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Output format: table, markdown, json, csv or html (default: from -o
    /// FILE's extension — .md, .json, .csv, .html — else table).
    #[arg(long = "format", value_name = "FORMAT", value_parser = parse_format)]
    pub format_flag: Option<Format>,
    /// Write the report to FILE instead of standard output (its extension
    /// picks the format when --format is not given).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With --format csv: write only the table NAME (snake_case, e.g.
    /// top_maps). CSV holds one table per file: a report of several
    /// tables needs --table, or -o FILE.csv, which writes FILE-NAME.csv
    /// for each.
    #[arg(long = "table", value_name = "NAME")]
    pub table: Option<String>,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// The format a report file's extension names: `.md`/`.markdown`,
/// `.json`, `.csv`, `.html`/`.htm` (when the renderer has it), `.txt`
/// (table); `None` for any other or no extension.
pub fn format_for_path(path: &std::path::Path) -> Option<Format> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    let name = match ext.as_str() {
        "md" | "markdown" => "markdown",
        "json" => "json",
        "csv" => "csv",
        "html" | "htm" => "html",
        "txt" | "text" => "table",
        _ => return None,
    };
    name.parse().ok()
}

impl OutputArgs {
    /// Standard output in `format` (`batch`'s and `batch-merge`'s summary).
    pub fn stdout(format: Format) -> OutputArgs {
        OutputArgs {
            format_flag: Some(format),
            output: None,
            table: None,
        }
    }

    /// The format in effect: an explicit `--format` wins, then `-o
    /// FILE`'s extension, then `table`.
    pub fn format(&self) -> Format {
        self.format_flag
            .or_else(|| self.output.as_deref().and_then(format_for_path))
            .unwrap_or(Format::Table)
    }

    /// Renders and writes the report. A file is written under a temporary
    /// name and renamed, so an interrupted run leaves no half-written report.
    pub fn emit<T: serde::Serialize + ?Sized>(
        &self,
        doc: &Document,
        value: &T,
    ) -> anyhow::Result<()> {
        let format = self.format();
        if format == Format::Csv {
            return self.emit_csv(doc);
        }
        if self.table.is_some() {
            anyhow::bail!("--table applies to --format csv only");
        }
        // Fit the terminal only when writing to it (or MAPSCOPE_COLUMNS
        // says a width, for tests); a file or a pipe stays unwrapped.
        let width = match (&self.output, format) {
            (None, Format::Table) => terminal_width(),
            _ => None,
        };
        let text = render_with(doc, value, format, &Options { width })?;
        self.write(&text)
    }

    /// CSV: one table per file. One table (or `--table NAME`) goes to `-o
    /// FILE` or standard output; several need `-o FILE`, which writes
    /// `FILE-NAME.csv` (FILE's stem, the table's name) for each.
    fn emit_csv(&self, doc: &Document) -> anyhow::Result<()> {
        let tables = csv_tables(doc, self.table.as_deref())?;
        if let [(_, text)] = tables.as_slice() {
            return self.write(text);
        }
        let names: Vec<&str> = tables.iter().map(|(n, _)| n.as_str()).collect();
        let Some(path) = &self.output else {
            anyhow::bail!(
                "CSV holds one table per file and this report has {}: --table NAME writes one ({}), -o FILE.csv writes FILE-NAME.csv for each",
                tables.len(),
                names.join(", ")
            );
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".into());
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_else(|| "csv".into());
        for (name, text) in &tables {
            write_atomically(
                &path.with_file_name(format!("{stem}-{name}.{ext}")),
                text.as_bytes(),
            )?;
        }
        Ok(())
    }

    /// Writes `text` to `-o FILE` (atomically) or standard output.
    fn write(&self, text: &str) -> anyhow::Result<()> {
        match &self.output {
            None => write_stdout(text.as_bytes()),
            Some(path) => write_atomically(path, text.as_bytes()),
        }
    }
}

/// Writes `bytes` to standard output; a closed pipe (`| head`) is not an
/// error worth a message.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to standard output")
        }
        _ => Ok(()),
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
