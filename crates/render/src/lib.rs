//! Output formats for mapscope reports.
//!
//! Owns: the neutral document model ([`Document`] of headings, paragraphs and
//! [`Table`]s, plus [`treemap::Treemap`] pictures) and its rendering as a
//! terminal table, Markdown, CSV or one self-contained HTML page
//! ([`html`], the only format that draws the pictures, laid out by
//! [`treemap`]), plus JSON rendering of any `serde::Serialize` report, and
//! byte-unit formatting. Cells and text are typed ([`Cell`]: text, Go
//! identifier, path, byte count) so each format shows them its way: the
//! terminal fits a width (`terminal`: prose wrapped, identifiers and paths
//! elided in the middle, optional columns left out), Markdown puts
//! identifiers in backticks, CSV is one table per file with snake_case
//! headers and exact bytes, and people read bytes in IEC units
//! ([`units::iec_bytes`]; pprof's own units only for `top`).
//!
//! Also owns the wording of every command's report ([`reports`]: each
//! `mapscope_incident` report model as a [`Document`]).
//!
//! Must not touch: how numbers are computed. `mapscope_incident` builds the
//! report models; this crate words them ([`reports`]) and turns documents
//! and serializable values into bytes.

pub mod html;
pub mod reports;
mod terminal;
pub mod treemap;
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
    /// Comma-separated values, one table per file (`--table NAME` picks
    /// one); headers in snake_case, byte counts exact.
    Csv,
    /// One self-contained HTML page: the tables and the treemaps as SVG.
    Html,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "table" => Ok(Format::Table),
            "markdown" | "md" => Ok(Format::Markdown),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "html" => Ok(Format::Html),
            other => Err(format!(
                "unknown format {other:?} (expected table, markdown, json, csv or html)"
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

/// A column header. CSV writes `name` in snake_case ([`snake_case`]).
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub align: Align,
    /// Left out on a terminal too narrow for the table (a line under it
    /// says so); every other format has it.
    pub optional: bool,
}

/// What a cell or a piece of text holds, so each format can show it its
/// way: a byte count is IEC units for people (`1.50 MiB`) and the exact
/// number in CSV; a Go identifier is in backticks in Markdown and elided
/// in the middle on a narrow terminal, like a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Prose or a plain value: wrapped on a narrow terminal.
    Text,
    /// A Go identifier (map root, type, function).
    Code,
    /// A file path.
    Path,
    /// A byte count (the exact number is [`Cell::raw`]).
    Bytes,
    /// A remark in a row of its own (`(2000 members; --expand lists
    /// them)`): on a narrow terminal it wraps and does not widen its
    /// column.
    Note,
}

/// One table cell: the text people read (derefs to it) and, for CSV, the
/// exact value (raw bytes for [`Kind::Bytes`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Cell {
    text: String,
    raw: Option<String>,
    kind: Option<Kind>,
}

impl Cell {
    /// Plain text.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            text: s.into(),
            raw: None,
            kind: None,
        }
    }
    /// A Go identifier (backticks in Markdown).
    pub fn code(s: impl Into<String>) -> Cell {
        Cell {
            kind: Some(Kind::Code),
            ..Cell::text(s)
        }
    }
    /// A remark that does not widen its column on a narrow terminal.
    pub fn note(s: impl Into<String>) -> Cell {
        Cell {
            kind: Some(Kind::Note),
            ..Cell::text(s)
        }
    }
    /// A file path (elided in the middle on a narrow terminal).
    pub fn path(s: impl Into<String>) -> Cell {
        Cell {
            kind: Some(Kind::Path),
            ..Cell::text(s)
        }
    }
    /// A byte count: IEC units for people, the exact number in CSV.
    pub fn bytes(n: impl Into<i128>) -> Cell {
        let n = n.into();
        Cell {
            text: units::iec_bytes(n),
            raw: Some(n.to_string()),
            kind: Some(Kind::Bytes),
        }
    }
    /// A byte count or nothing (an empty cell).
    pub fn opt_bytes<N: Into<i128>>(n: Option<N>) -> Cell {
        n.map(Cell::bytes).unwrap_or_default()
    }
    pub fn kind(&self) -> Kind {
        self.kind.unwrap_or(Kind::Text)
    }
    /// The value CSV writes: the exact number of a byte count, else the text.
    pub fn raw(&self) -> &str {
        self.raw.as_deref().unwrap_or(&self.text)
    }
    /// The text people read.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::ops::Deref for Cell {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::text(s)
    }
}
impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::text(s)
    }
}
impl From<&String> for Cell {
    fn from(s: &String) -> Cell {
        Cell::text(s.clone())
    }
}

/// A line of text made of pieces ([`Cell`]s: plain text, Go identifiers,
/// byte counts). Derefs to the text people read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text {
    plain: String,
    spans: Vec<Cell>,
}

impl Text {
    pub fn new() -> Text {
        Text::default()
    }
    fn push(mut self, c: Cell) -> Text {
        self.plain.push_str(&c.text);
        self.spans.push(c);
        self
    }
    /// Appends plain text.
    pub fn plain(self, s: impl Into<String>) -> Text {
        self.push(Cell::text(s))
    }
    /// Appends a Go identifier (backticks in Markdown).
    pub fn code(self, s: impl Into<String>) -> Text {
        self.push(Cell::code(s))
    }
    /// Appends a byte count in IEC units.
    pub fn bytes(self, n: impl Into<i128>) -> Text {
        self.push(Cell::bytes(n))
    }
    /// Appends another text's pieces.
    pub fn append(mut self, other: Text) -> Text {
        for c in other.spans {
            self = self.push(c);
        }
        self
    }
    /// The pieces, in order.
    pub fn spans(&self) -> &[Cell] {
        &self.spans
    }
    pub fn as_str(&self) -> &str {
        &self.plain
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.plain
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.plain)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::new().plain(s)
    }
}
impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::new().plain(s)
    }
}

/// A titled table of cells. `name` (snake_case) names it for
/// `--format csv --table NAME` and in per-table CSV file names; by default
/// the title in snake_case.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub title: Option<String>,
    pub name: Option<String>,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(title: impl Into<Option<String>>) -> Self {
        Table {
            title: title.into(),
            name: None,
            columns: Vec::new(),
            rows: Vec::new(),
        }
    }
    /// Names the table for CSV (`--table NAME`).
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(snake_case(name));
        self
    }
    /// The table's CSV name: its `name`, else its title in snake_case,
    /// else `table`.
    pub fn csv_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.title.as_deref().map(snake_case))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "table".to_string())
    }
    pub fn left(mut self, name: &str) -> Self {
        self.columns.push(Column {
            name: name.to_string(),
            align: Align::Left,
            optional: false,
        });
        self
    }
    pub fn right(mut self, name: &str) -> Self {
        self.columns.push(Column {
            name: name.to_string(),
            align: Align::Right,
            optional: false,
        });
        self
    }
    /// Marks the last column added optional: left out on a terminal too
    /// narrow for the whole table.
    pub fn optional(mut self) -> Self {
        if let Some(c) = self.columns.last_mut() {
            c.optional = true;
        }
        self
    }
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<Cell>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }
}

/// A header or name in snake_case: lower case, `%` → `pct`, `#` → `n`,
/// `×` → `x`, every other run of non-alphanumerics → one `_`
/// (`"profile inuse"` → `profile_inuse`, `"% of heap"` → `pct_of_heap`,
/// `"flat%"` → `flat_pct`, `"start-end"` → `start_end`).
pub fn snake_case(s: &str) -> String {
    let mut out = String::new();
    let mut pending = false;
    let word = |out: &mut String, w: &str, pending: &mut bool| {
        if *pending && !out.is_empty() {
            out.push('_');
        }
        *pending = false;
        out.push_str(w);
    };
    for c in s.chars() {
        match c {
            c if c.is_alphanumeric() => {
                let lower: String = c.to_lowercase().collect();
                word(&mut out, &lower, &mut pending);
            }
            '%' => {
                pending = true;
                word(&mut out, "pct", &mut pending);
                pending = true;
            }
            '#' => {
                pending = true;
                word(&mut out, "n", &mut pending);
                pending = true;
            }
            '×' => {
                pending = true;
                word(&mut out, "x", &mut pending);
                pending = true;
            }
            _ => pending = true,
        }
    }
    out
}

/// One block of a human-readable report.
#[derive(Clone, Debug)]
pub enum Block {
    Heading(Text),
    Paragraph(Text),
    /// Verbatim text, printed as is (a code block in Markdown); on a
    /// narrow terminal a line too wide is elided in the middle.
    Preformatted(String),
    /// Verbatim text that must stay byte-exact everywhere (`top` matches
    /// `go tool pprof`): never elided.
    Exact(String),
    Table(Table),
    /// A bulleted list.
    List(Vec<Text>),
}

/// A human-readable report: an ordered list of blocks.
#[derive(Clone, Debug, Default)]
pub struct Document {
    pub blocks: Vec<Block>,
    /// Pictures, drawn only in HTML: each before the block at its index.
    pub treemaps: Vec<(usize, treemap::Treemap)>,
}

impl Document {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn heading(&mut self, s: impl Into<Text>) -> &mut Self {
        self.blocks.push(Block::Heading(s.into()));
        self
    }
    pub fn paragraph(&mut self, s: impl Into<Text>) -> &mut Self {
        self.blocks.push(Block::Paragraph(s.into()));
        self
    }
    pub fn preformatted(&mut self, s: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Preformatted(s.into()));
        self
    }
    /// Text that must stay byte-exact (never elided on a narrow terminal).
    pub fn exact(&mut self, s: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Exact(s.into()));
        self
    }
    /// A picture here (HTML only; the other formats leave it out).
    pub fn treemap(&mut self, t: treemap::Treemap) -> &mut Self {
        self.treemaps.push((self.blocks.len(), t));
        self
    }
    pub fn table(&mut self, t: Table) -> &mut Self {
        self.blocks.push(Block::Table(t));
        self
    }
    pub fn list<T: Into<Text>>(&mut self, items: Vec<T>) -> &mut Self {
        if !items.is_empty() {
            self.blocks
                .push(Block::List(items.into_iter().map(Into::into).collect()));
        }
        self
    }
    /// The tables, in order.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
    }
}

/// Errors from rendering.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("no table named {name:?} (tables: {})", .available.join(", "))]
    NoSuchTable {
        name: String,
        available: Vec<String>,
    },
}

/// How to render beyond the format.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Fit terminal output to this many columns (tables arranged
    /// dynamically, long identifiers and paths elided in the middle, prose
    /// wrapped). `None`: no limit (piped output stays unwrapped).
    pub width: Option<usize>,
}

/// Renders `doc` (human formats) or `value` (JSON) in `format`, unwrapped.
pub fn render<T: serde::Serialize + ?Sized>(
    doc: &Document,
    value: &T,
    format: Format,
) -> Result<String, RenderError> {
    render_with(doc, value, format, &Options::default())
}

/// The layout version of every JSON document mapscope writes, its first
/// key `schema_version` (added here, so no command can leave it out).
/// 2: the first versioned layout (one MAP object for `maps` and
/// `analyze`, accounting layer ids).
pub const JSON_SCHEMA_VERSION: u32 = 2;

/// A JSON document: `schema_version`, then the report's own keys (every
/// report is a JSON object).
#[derive(serde::Serialize)]
struct Versioned<'a, T: serde::Serialize + ?Sized> {
    schema_version: u32,
    #[serde(flatten)]
    value: &'a T,
}

/// [`render`] with [`Options`].
pub fn render_with<T: serde::Serialize + ?Sized>(
    doc: &Document,
    value: &T,
    format: Format,
    options: &Options,
) -> Result<String, RenderError> {
    Ok(match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&Versioned {
                schema_version: JSON_SCHEMA_VERSION,
                value,
            })?;
            s.push('\n');
            s
        }
        Format::Table => terminal::render(doc, options.width),
        Format::Markdown => render_markdown(doc),
        Format::Html => html::render_html(doc),
        Format::Csv => {
            let mut out = String::new();
            for (i, t) in doc.tables().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&csv_table(t));
            }
            out
        }
    })
}

/// The terminal width to fit: `MAPSCOPE_COLUMNS` when set to a number
/// (for tests and scripts; it applies even when output is piped), else the
/// terminal's width when standard output is a terminal, else `None`.
pub fn terminal_width() -> Option<usize> {
    if let Some(n) = std::env::var("MAPSCOPE_COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return Some(n);
    }
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    comfy_table::Table::new()
        .width()
        .map(usize::from)
        .filter(|&w| w > 0)
}

/// CSV of one table: snake_case headers, raw values (exact bytes).
pub fn csv_table(t: &Table) -> String {
    let mut out = String::new();
    let header: Vec<String> = t
        .columns
        .iter()
        .map(|c| csv_field(&snake_case(&c.name)))
        .collect();
    let _ = writeln!(out, "{}", header.join(","));
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(|c| csv_field(c.raw())).collect();
        let _ = writeln!(out, "{}", cells.join(","));
    }
    out
}

/// The document's tables as CSV, one per table: `(name, csv)`, names
/// unique (a repeated name gets `_2`, `_3`...). `only`: just the table of
/// that name, or [`RenderError::NoSuchTable`] listing the names.
pub fn csv_tables(
    doc: &Document,
    only: Option<&str>,
) -> Result<Vec<(String, String)>, RenderError> {
    let mut names: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for t in doc.tables() {
        let base = t.csv_name();
        let mut name = base.clone();
        let mut k = 2;
        while names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        names.push(name.clone());
        if only.is_none_or(|o| o == name) {
            out.push((name, csv_table(t)));
        }
    }
    match only {
        Some(o) if out.is_empty() => Err(RenderError::NoSuchTable {
            name: o.to_string(),
            available: names,
        }),
        _ => Ok(out),
    }
}

/// A Markdown code span for `s` (a longer backtick fence when `s` holds
/// backticks).
fn markdown_code(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    if s.contains('`') {
        format!("`` {s} ``")
    } else {
        format!("`{s}`")
    }
}

fn markdown_piece(c: &Cell) -> String {
    match c.kind() {
        Kind::Code => markdown_code(c),
        _ => c.to_string(),
    }
}

fn markdown_text(t: &Text) -> String {
    t.spans().iter().map(markdown_piece).collect()
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
                let _ = writeln!(out, "{level} {}\n", markdown_text(h));
            }
            Block::Paragraph(p) => {
                let _ = writeln!(out, "{}\n", markdown_text(p));
            }
            Block::Preformatted(p) | Block::Exact(p) => {
                let _ = writeln!(out, "```\n{}\n```\n", p.trim_end_matches('\n'));
            }
            Block::List(items) => {
                for item in items {
                    let _ = writeln!(out, "- {}", markdown_text(item));
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
                    let cells: Vec<String> = row
                        .iter()
                        .map(|c| markdown_cell(&markdown_piece(c)))
                        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Document {
        let mut t = Table::new(Some("Top maps".to_string()))
            .left("root")
            .right("retained bytes")
            .right("% of heap");
        t.row([
            Cell::code("main.a|b"),
            Cell::bytes(1536u32),
            Cell::text("1%"),
        ]);
        t.row([
            Cell::text("x,\"y\""),
            Cell::bytes(2u32),
            Cell::text(String::new()),
        ]);
        let mut d = Document::new();
        d.heading(Text::new().code("main.m").plain(" holds ").bytes(1536u32))
            .paragraph("hello")
            .table(t);
        d
    }

    #[test]
    fn csv_has_snake_case_headers_and_exact_bytes() {
        let s = render(&sample(), &(), Format::Csv).unwrap();
        assert_eq!(
            s,
            "root,retained_bytes,pct_of_heap\nmain.a|b,1536,1%\n\"x,\"\"y\"\"\",2,\n"
        );
        let tables = csv_tables(&sample(), None).unwrap();
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].0, "top_maps");
        assert!(csv_tables(&sample(), Some("top_maps")).is_ok());
        let e = csv_tables(&sample(), Some("nope")).unwrap_err();
        assert!(e.to_string().contains("top_maps"), "{e}");
    }

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("profile inuse"), "profile_inuse");
        assert_eq!(snake_case("% of heap"), "pct_of_heap");
        assert_eq!(snake_case("flat%"), "flat_pct");
        assert_eq!(snake_case("start-end"), "start_end");
        assert_eq!(snake_case("Go version"), "go_version");
        assert_eq!(snake_case("runtime (memstats)"), "runtime_memstats");
        assert_eq!(snake_case("Threads (3)"), "threads_3");
    }

    #[test]
    fn markdown_puts_identifiers_in_backticks_and_units_on_bytes() {
        let s = render(&sample(), &(), Format::Markdown).unwrap();
        assert!(s.starts_with("# `main.m` holds 1.50 KiB\n"), "{s}");
        assert!(
            s.contains("| root | retained bytes | % of heap |\n|---|---:|---:|\n| `main.a\\|b` | 1.50 KiB | 1% |\n"),
            "{s}"
        );
        assert_eq!(markdown_code("a`b"), "`` a`b ``");
    }

    #[test]
    fn terminal_table_keeps_every_cell() {
        let s = render(&sample(), &(), Format::Table).unwrap();
        for cell in [
            "root",
            "retained bytes",
            "main.a|b",
            "x,\"y\"",
            "hello",
            "1.50 KiB",
        ] {
            assert!(s.contains(cell), "{cell} missing in {s}");
        }
    }

    #[test]
    fn terminal_fits_a_width() {
        let long_path = format!("/home/build/{}/file.go", "deep/".repeat(40));
        let long_id = format!("github.com/{}pkg.(*T).Method", "org/".repeat(30));
        let mut t = Table::new(Some("Goroutines".to_string()))
            .right("id")
            .left("function")
            .left("location")
            .left("message");
        for i in 0..5 {
            t.row([
                Cell::text(i.to_string()),
                Cell::code(long_id.clone()),
                Cell::path(long_path.clone()),
                Cell::text("a message of many words ".repeat(20)),
            ]);
        }
        let mut d = Document::new();
        d.heading(
            Text::new()
                .code(long_id.clone())
                .plain(" holds ")
                .bytes(1u32 << 30),
        )
        .paragraph("word ".repeat(100))
        .preformatted(format!("main.f(...)\n\t{long_path}:12 +0x1f\n"))
        .table(t)
        .list(vec!["warning: ".repeat(40)]);
        for width in [60, 80, 100, 120] {
            let s = render_with(&d, &(), Format::Table, &Options { width: Some(width) }).unwrap();
            for line in s.lines() {
                assert!(
                    terminal::display_width(line) <= width,
                    "{width}: {} columns: {line}",
                    terminal::display_width(line)
                );
            }
            // Elided in the middle: both ends kept.
            assert!(s.contains("…"), "{s}");
            assert!(s.contains("file.go:12 +0x1f"), "{s}");
            assert!(s.contains("Method"), "{s}");
        }
        // Piped: nothing wrapped or elided.
        let s = render(&d, &(), Format::Table).unwrap();
        assert!(s.contains(&long_path) && s.contains(&long_id) && !s.contains('…'));
    }

    #[test]
    fn optional_columns_give_way_on_a_narrow_terminal() {
        let mut t = Table::new(Some("Maps".to_string()))
            .left("root")
            .left("address")
            .optional()
            .left("type");
        for i in 0..3 {
            t.row([
                Cell::code(format!("main.someRatherLongMapName{i}")),
                Cell::text("0x3a41c6b13560-0x3a41c6b13560"),
                Cell::code("map[string]map[string]*main.Value"),
            ]);
        }
        t.row([
            Cell::note("(2000 members; --expand lists them)"),
            Cell::default(),
            Cell::default(),
        ]);
        let mut d = Document::new();
        d.table(t);
        let narrow = render_with(&d, &(), Format::Table, &Options { width: Some(60) }).unwrap();
        assert!(!narrow.contains("0x3a41c6b13560"), "{narrow}");
        assert!(
            narrow.contains("left out to fit 60 columns: address"),
            "{narrow}"
        );
        assert!(
            narrow.lines().all(|l| terminal::display_width(l) <= 60),
            "{narrow}"
        );
        let wide = render_with(&d, &(), Format::Table, &Options { width: Some(200) }).unwrap();
        assert!(
            wide.contains("0x3a41c6b13560") && !wide.contains("left out"),
            "{wide}"
        );
        let md = render(&d, &(), Format::Markdown).unwrap();
        assert!(
            md.contains("| address |") && md.contains("| (2000 members"),
            "{md}"
        );
    }

    #[test]
    fn exact_text_is_never_elided() {
        let mut d = Document::new();
        let line = "x".repeat(300);
        d.exact(line.clone());
        let s = render_with(&d, &(), Format::Table, &Options { width: Some(80) }).unwrap();
        assert_eq!(s, format!("{line}\n"));
    }

    #[test]
    fn format_names_parse() {
        assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
        assert!("xml".parse::<Format>().is_err());
    }
}
