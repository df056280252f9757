//! Output formats for mapscope reports.
//!
//! Owns: the neutral document model ([`Document`] of headings, paragraphs and
//! [`Table`]s) and its rendering as a terminal table, Markdown or CSV, plus
//! JSON rendering of any `serde::Serialize` report, and byte-unit formatting.
//!
//! Must not touch: how numbers are computed. Analysis crates build a report
//! model; commands turn it into a [`Document`] and a serializable value; this
//! crate only turns those into bytes.

pub mod units;

use std::fmt::Write as _;

/// The output formats every command accepts (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Human table for a terminal (comfy-table).
    Table,
    /// GitHub-flavoured Markdown, meant to be pasted into an incident ticket.
    Markdown,
    /// One JSON object.
    Json,
    /// Comma-separated values; one block per table, separated by a blank line.
    Csv,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "table" => Ok(Format::Table),
            "markdown" | "md" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            other => Err(format!(
                "unknown format {other:?} (expected table, markdown, json or csv)"
            )),
        }
    }
}

/// Column alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A column header.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub align: Align,
}

/// A titled table of already formatted cells.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub title: Option<String>,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: impl Into<Option<String>>) -> Self {
        Table {
            title: title.into(),
            columns: Vec::new(),
            rows: Vec::new(),
        }
    }
    pub fn left(mut self, name: &str) -> Self {
        self.columns.push(Column {
            name: name.to_string(),
            align: Align::Left,
        });
        self
    }
    pub fn right(mut self, name: &str) -> Self {
        self.columns.push(Column {
            name: name.to_string(),
            align: Align::Right,
        });
        self
    }
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }
}

/// One block of a human-readable report.
#[derive(Clone, Debug)]
pub enum Block {
    Heading(String),
    Paragraph(String),
    /// Verbatim text, printed as is (a code block in Markdown).
    Preformatted(String),
    Table(Table),
    /// A bulleted list.
    List(Vec<String>),
}

/// A human-readable report: an ordered list of blocks.
#[derive(Clone, Debug, Default)]
pub struct Document {
    pub blocks: Vec<Block>,
}

impl Document {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn heading(&mut self, s: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Heading(s.into()));
        self
    }
    pub fn paragraph(&mut self, s: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph(s.into()));
        self
    }
    pub fn preformatted(&mut self, s: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Preformatted(s.into()));
        self
    }
    pub fn table(&mut self, t: Table) -> &mut Self {
        self.blocks.push(Block::Table(t));
        self
    }
    pub fn list(&mut self, items: Vec<String>) -> &mut Self {
        if !items.is_empty() {
            self.blocks.push(Block::List(items));
        }
        self
    }
}

/// Errors from rendering.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// Renders `doc` (human formats) or `value` (JSON) in `format`.
pub fn render<T: serde::Serialize + ?Sized>(
    doc: &Document,
    value: &T,
    format: Format,
) -> Result<String, RenderError> {
    Ok(match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(value)?;
            s.push('\n');
            s
        }
        Format::Table => render_terminal(doc),
        Format::Markdown => render_markdown(doc),
        Format::Csv => render_csv(doc),
    })
}

fn render_terminal(doc: &Document) -> String {
    use comfy_table::{presets, CellAlignment, ContentArrangement};
    let mut out = String::new();
    for (i, block) in doc.blocks.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match block {
            Block::Heading(h) => {
                let _ = writeln!(out, "{h}");
            }
            Block::Paragraph(p) => {
                let _ = writeln!(out, "{p}");
            }
            Block::Preformatted(p) => {
                out.push_str(p);
                if !p.ends_with('\n') {
                    out.push('\n');
                }
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "  - {item}");
                }
            }
            Block::Table(t) => {
                if let Some(title) = &t.title {
                    let _ = writeln!(out, "{title}");
                }
                let mut ct = comfy_table::Table::new();
                ct.load_preset(presets::UTF8_BORDERS_ONLY)
                    .set_content_arrangement(ContentArrangement::Disabled)
                    .set_header(t.columns.iter().map(|c| c.name.clone()));
                for row in &t.rows {
                    ct.add_row(row.clone());
                }
                for (idx, col) in t.columns.iter().enumerate() {
                    if let Some(c) = ct.column_mut(idx) {
                        c.set_cell_alignment(match col.align {
                            Align::Left => CellAlignment::Left,
                            Align::Right => CellAlignment::Right,
                        });
                    }
                }
                let _ = writeln!(out, "{ct}");
            }
        }
    }
    out
}

fn markdown_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn render_markdown(doc: &Document) -> String {
    let mut out = String::new();
    let mut first_heading = true;
    for block in &doc.blocks {
        match block {
            Block::Heading(h) => {
                let level = if first_heading { "#" } else { "##" };
                first_heading = false;
                let _ = writeln!(out, "{level} {h}\n");
            }
            Block::Paragraph(p) => {
                let _ = writeln!(out, "{p}\n");
            }
            Block::Preformatted(p) => {
                let _ = writeln!(out, "```\n{}\n```\n", p.trim_end_matches('\n'));
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {item}");
                }
                out.push('\n');
            }
            Block::Table(t) => {
                if let Some(title) = &t.title {
                    let _ = writeln!(out, "**{}**\n", markdown_cell(title));
                }
                let header: Vec<String> =
                    t.columns.iter().map(|c| markdown_cell(&c.name)).collect();
                let _ = writeln!(out, "| {} |", header.join(" | "));
                let rule: Vec<&str> = t
                    .columns
                    .iter()
                    .map(|c| {
                        if c.align == Align::Right {
                            "---:"
                        } else {
                            "---"
                        }
                    })
                    .collect();
                let _ = writeln!(out, "|{}|", rule.join("|"));
                for row in &t.rows {
                    let cells: Vec<String> = row.iter().map(|c| markdown_cell(c)).collect();
                    let _ = writeln!(out, "| {} |", cells.join(" | "));
                }
                out.push('\n');
            }
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV holds only tables: headings and text have no place in it. Several
/// tables are separated by one blank line.
fn render_csv(doc: &Document) -> String {
    let mut out = String::new();
    let mut first = true;
    for block in &doc.blocks {
        if let Block::Table(t) = block {
            if !first {
                out.push('\n');
            }
            first = false;
            let header: Vec<String> = t.columns.iter().map(|c| csv_field(&c.name)).collect();
            let _ = writeln!(out, "{}", header.join(","));
            for row in &t.rows {
                let cells: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
                let _ = writeln!(out, "{}", cells.join(","));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Document {
        let mut t = Table::new(Some("maps".to_string()))
            .left("root")
            .right("bytes");
        t.row(["main.a|b", "10"]);
        t.row(["x,\"y\"", "2"]);
        let mut d = Document::new();
        d.heading("Report").paragraph("hello").table(t);
        d
    }

    #[test]
    fn csv_quotes_fields_per_rfc4180() {
        let s = render(&sample(), &(), Format::Csv).unwrap();
        assert_eq!(s, "root,bytes\nmain.a|b,10\n\"x,\"\"y\"\"\",2\n");
    }

    #[test]
    fn markdown_escapes_pipes_and_aligns_numbers() {
        let s = render(&sample(), &(), Format::Markdown).unwrap();
        assert!(s.starts_with("# Report\n"));
        assert!(s.contains("| root | bytes |\n|---|---:|\n| main.a\\|b | 10 |\n"));
    }

    #[test]
    fn terminal_table_keeps_every_cell() {
        let s = render(&sample(), &(), Format::Table).unwrap();
        for cell in ["root", "bytes", "main.a|b", "x,\"y\"", "hello"] {
            assert!(s.contains(cell), "{cell} missing in {s}");
        }
    }

    #[test]
    fn format_names_parse() {
        assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
        assert!("xml".parse::<Format>().is_err());
    }
}
