//! `mapscope top PROFILE`: the functions of a heap profile by flat and
//! cumulative value, as `go tool pprof -top -nodefraction=0` prints them.
//!
//! `--format table` prints pprof's own text byte for byte (header lines,
//! then `flat flat% sum% cum cum%` and the function), with pprof's unit
//! choice: by default one human unit for the whole listing (pprof's
//! `-unit=minimum`), exact numbers with `--unit B`. JSON and CSV always carry
//! exact integers in the sample type's unit. Differences from pprof: every
//! function is shown by default (pprof's own default hides functions under
//! 0.5% of the total; `--node-fraction 0.005` does the same), and `Time:` is
//! printed in UTC (pprof uses the local time zone).

use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_pprof::{top, Profile, SortOrder, TopOptions, TopReport};
use mapscope_render::units::{label, minimum_output_unit, percentage, scale, scaled_label};
use mapscope_render::{Document, Table};
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Heap profile: gzipped or raw protobuf (.pb.gz, .pb), or a legacy text
    /// heap profile (`/debug/pprof/heap?debug=1`, also gzipped); `-` reads
    /// it from standard input.
    #[arg(value_name = "PROFILE")]
    pub profile: PathBuf,
    /// Sample type to report, by name (`inuse_space`, `alloc_objects`, ...)
    /// or position; default: the profile's default, else the last type.
    /// pprof's `-sample_index=NAME` and `-inuse_space` (etc.) work too.
    #[arg(long = "sample-index", alias = "sample_index", value_name = "NAME")]
    pub sample_index: Option<String>,
    /// Show at most N functions (0: all); pprof's `-nodecount=N` works too.
    #[arg(long, alias = "node-count", value_name = "N", default_value_t = 0)]
    pub nodecount: usize,
    /// Hide functions whose cumulative value is below this fraction of the
    /// total (pprof's -nodefraction; its default is 0.005, ours 0).
    #[arg(
        long = "node-fraction",
        alias = "nodefraction",
        value_name = "F",
        default_value_t = 0.0
    )]
    pub node_fraction: f64,
    /// Sort by cumulative value instead of flat value.
    #[arg(long)]
    pub cum: bool,
    /// Unit of the table and Markdown values, as pprof's -unit: `minimum`
    /// (one human unit for the whole listing, pprof's default), `auto` (a
    /// human unit per value), or a unit such as `B`, `kB`, `MB` (exact bytes
    /// with `B`). JSON and CSV are always exact.
    #[arg(long, value_name = "UNIT", default_value = "minimum")]
    pub unit: String,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// The JSON report (docs/cli.md).
#[derive(Serialize)]
struct TopJson<'a> {
    sample_type: &'a str,
    unit: &'a str,
    total: i64,
    rows: Vec<RowJson<'a>>,
}

#[derive(Serialize)]
struct RowJson<'a> {
    function: &'a str,
    flat: i64,
    flat_pct: f64,
    sum_pct: f64,
    cum: i64,
    cum_pct: f64,
    /// pprof's marker: "inline", "partial-inline", or null.
    inline: Option<&'static str>,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    if !(0.0..=1.0).contains(&args.node_fraction) {
        anyhow::bail!(
            "--node-fraction must be between 0 and 1, not {}",
            args.node_fraction
        );
    }
    let profile = if crate::stdin::is_stdin(&args.profile) {
        let data = crate::stdin::read_all()?;
        Profile::from_bytes(&data, std::path::Path::new(crate::stdin::STDIN_NAME))?
    } else {
        Profile::from_path(&args.profile)?
    };
    let options = TopOptions {
        sample_index: args.sample_index.clone(),
        node_count: args.nodecount,
        node_fraction: args.node_fraction,
        sort: if args.cum {
            SortOrder::Cum
        } else {
            SortOrder::Flat
        },
        ..TopOptions::default()
    };
    let report = top(&profile, &options)?;
    let text = PprofText::new(&profile, &report, &args.unit);

    let mut doc = Document::new();
    match args.out.format {
        mapscope_render::Format::Table => {
            doc.exact(text.render());
        }
        _ => {
            doc.heading(format!("Top functions by {}", report.sample_type.r#type));
            for line in text.header_lines() {
                doc.paragraph(line);
            }
            doc.table(text.table(args.out.format == mapscope_render::Format::Csv));
        }
    }
    let json = TopJson {
        sample_type: &report.sample_type.r#type,
        unit: &report.sample_type.unit,
        total: report.total,
        rows: report
            .rows
            .iter()
            .map(|r| RowJson {
                function: &r.function,
                flat: r.flat,
                flat_pct: r.flat_pct,
                sum_pct: r.sum_pct,
                cum: r.cum,
                cum_pct: r.cum_pct,
                inline: Some(r.inline.as_str().trim_matches(['(', ')'])).filter(|s| !s.is_empty()),
            })
            .collect(),
    };
    args.out.emit(&doc, &json)?;
    Ok(Outcome::Clean)
}

/// pprof's text report (internal/report `printText` and `ProfileLabels`).
struct PprofText<'a> {
    profile: &'a Profile,
    report: &'a TopReport,
    /// The unit values are printed in (after pprof's `selectOutputUnit`).
    output_unit: String,
}

impl<'a> PprofText<'a> {
    fn new(profile: &'a Profile, report: &'a TopReport, unit: &str) -> Self {
        let sample_unit = report.sample_type.unit.as_str();
        let output_unit = if unit == "minimum" && !report.rows.is_empty() {
            let smallest = report
                .rows
                .iter()
                .map(|r| {
                    if r.flat != 0 {
                        r.flat.wrapping_abs()
                    } else {
                        r.cum.wrapping_abs()
                    }
                })
                .filter(|&v| v > 0)
                .min()
                .unwrap_or(0);
            minimum_output_unit(smallest, report.total, sample_unit)
        } else {
            unit.to_string()
        };
        PprofText {
            profile,
            report,
            output_unit,
        }
    }

    fn value(&self, v: i64) -> String {
        scaled_label(v, &self.report.sample_type.unit, &self.output_unit)
    }

    /// The lines above the column header.
    fn header_lines(&self) -> Vec<String> {
        let (p, r) = (self.profile, self.report);
        let mut lines = Vec::new();
        if let Some(main) = p.main_mapping() {
            if !main.filename.is_empty() {
                lines.push(format!("File: {}", go_base(&main.filename)));
            }
            if !main.build_id.is_empty() {
                lines.push(format!("Build ID: {}", main.build_id));
            }
        }
        lines.extend(p.comments.iter().filter(|c| !c.starts_with('#')).cloned());
        lines.push(format!("Type: {}", r.sample_type.r#type));
        if !p.doc_url.is_empty() {
            lines.push(format!("Doc: {}", p.doc_url));
        }
        if p.time_nanos != 0 {
            lines.push(format!("Time: {}", format_utc(p.time_nanos)));
        }
        if p.duration_nanos != 0 {
            let duration = label(p.duration_nanos, "nanoseconds");
            let (total_nanos, total_unit) = scale(r.total, &r.sample_type.unit, "nanoseconds");
            let ratio = if total_unit == "ns" && total_nanos != 0.0 {
                format!("({})", percentage(total_nanos as i64, p.duration_nanos))
            } else {
                String::new()
            };
            lines.push(format!(
                "Duration: {duration}, Total samples = {} {ratio}",
                self.value(r.total)
            ));
        }
        lines.push(format!(
            "Showing nodes accounting for {}, {} of {} total",
            self.value(r.shown),
            percentage(r.shown, r.total).trim(),
            self.value(r.total)
        ));
        if r.total != 0 {
            if r.dropped_nodes > 0 {
                let noun = if r.dropped_nodes > 1 { "nodes" } else { "node" };
                lines.push(format!(
                    "Dropped {} {noun} (cum <= {})",
                    r.dropped_nodes,
                    self.value(r.dropped_cutoff)
                ));
            }
            if !r.rows.is_empty() && r.rows.len() < r.nodes_before_limit {
                lines.push(format!(
                    "Showing top {} nodes out of {}",
                    r.rows.len(),
                    r.nodes_before_limit
                ));
            }
        }
        lines
    }

    /// The whole report as pprof prints it.
    fn render(&self) -> String {
        let mut out = self.header_lines().join("\n");
        out.push('\n');
        out.push_str(&format!(
            "{:>10} {:>5}% {:>5}% {:>10} {:>5}%\n",
            "flat", "flat", "sum", "cum", "cum"
        ));
        let total = self.report.total;
        let mut running: i64 = 0;
        for row in &self.report.rows {
            running = running.wrapping_add(row.flat);
            let inline = row.inline.as_str();
            let inline = if inline.is_empty() {
                String::new()
            } else {
                format!(" {inline}")
            };
            out.push_str(&format!(
                "{:>10} {} {} {:>10} {}  {}{}\n",
                self.value(row.flat),
                percentage(row.flat, total),
                percentage(running, total),
                self.value(row.cum),
                percentage(row.cum, total),
                row.function,
                inline
            ));
        }
        out
    }

    /// The rows as a table: pprof's formatting for Markdown, exact numbers
    /// for CSV.
    fn table(&self, exact: bool) -> Table {
        let mut t = Table::new(None)
            .right("flat")
            .right("flat%")
            .right("sum%")
            .right("cum")
            .right("cum%")
            .left("function")
            .left("inline");
        let total = self.report.total;
        let mut running: i64 = 0;
        for row in &self.report.rows {
            running = running.wrapping_add(row.flat);
            let inline = row.inline.as_str().trim_matches(['(', ')']).to_string();
            if exact {
                t.row([
                    row.flat.to_string(),
                    row.flat_pct.to_string(),
                    row.sum_pct.to_string(),
                    row.cum.to_string(),
                    row.cum_pct.to_string(),
                    row.function.clone(),
                    inline,
                ]);
            } else {
                t.row([
                    self.value(row.flat),
                    percentage(row.flat, total).trim().to_string(),
                    percentage(running, total).trim().to_string(),
                    self.value(row.cum),
                    percentage(row.cum, total).trim().to_string(),
                    row.function.clone(),
                    inline,
                ]);
            }
        }
        t
    }
}

/// Go's `filepath.Base` on Unix.
fn go_base(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// `time.Unix(0, nanos).UTC().Format("2006-01-02 15:04:05 MST")`.
fn format_utc(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_like_go() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            format_utc(1_700_000_000_123_456_789),
            "2023-11-14 22:13:20 UTC"
        );
        assert_eq!(
            format_utc(951_782_400_000_000_000),
            "2000-02-29 00:00:00 UTC"
        );
        assert_eq!(format_utc(-1), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn base_names() {
        assert_eq!(go_base("/opt/app/bin/synth"), "synth");
        assert_eq!(go_base("x/"), "x");
        assert_eq!(go_base("/"), "/");
    }
}
