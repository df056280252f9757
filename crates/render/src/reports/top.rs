//! `mapscope top`'s document: on a terminal pprof's own text byte for
//! byte (internal/report `printText` and `ProfileLabels`: header lines,
//! then `flat flat% sum% cum cum%` and the function) in pprof's unit
//! choice (`--unit`: `minimum`, one unit for the listing, by default);
//! elsewhere a heading, the header lines and a table (pprof's formatting
//! in Markdown, exact numbers in CSV). `Time:` is printed in UTC (pprof
//! uses the local time zone).

use crate::units::{label, minimum_output_unit, percentage, scale, scaled_label};
use crate::{Document, Format, Table};
use mapscope_incident::reports::top::TopListing;

/// The document for `format`, values in `unit` (pprof's `-unit`).
pub fn document(r: &TopListing, unit: &str, format: Format) -> Document {
    let text = PprofText::new(r, unit);
    let mut doc = Document::new();
    match format {
        Format::Table => {
            doc.exact(text.render());
        }
        _ => {
            doc.heading(format!("Top functions by {}", r.sample_type));
            for line in text.header_lines() {
                doc.paragraph(line);
            }
            doc.table(text.table(format == Format::Csv));
        }
    }
    doc
}

/// pprof's text report.
struct PprofText<'a> {
    report: &'a TopListing,
    /// The unit values are printed in (after pprof's `selectOutputUnit`).
    output_unit: String,
}

impl<'a> PprofText<'a> {
    fn new(report: &'a TopListing, unit: &str) -> Self {
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
            minimum_output_unit(smallest, report.total, &report.unit)
        } else {
            unit.to_string()
        };
        PprofText {
            report,
            output_unit,
        }
    }

    fn value(&self, v: i64) -> String {
        scaled_label(v, &self.report.unit, &self.output_unit)
    }

    /// The lines above the column header.
    fn header_lines(&self) -> Vec<String> {
        let r = self.report;
        let h = &r.header;
        let mut lines = Vec::new();
        if let Some(file) = &h.file {
            lines.push(format!("File: {file}"));
        }
        if let Some(id) = &h.build_id {
            lines.push(format!("Build ID: {id}"));
        }
        lines.extend(h.comments.iter().cloned());
        lines.push(format!("Type: {}", r.sample_type));
        if !h.doc_url.is_empty() {
            lines.push(format!("Doc: {}", h.doc_url));
        }
        if h.time_nanos != 0 {
            lines.push(format!("Time: {}", format_utc(h.time_nanos)));
        }
        if h.duration_nanos != 0 {
            let duration = label(h.duration_nanos, "nanoseconds");
            let (total_nanos, total_unit) = scale(r.total, &r.unit, "nanoseconds");
            let ratio = if total_unit == "ns" && total_nanos != 0.0 {
                format!("({})", percentage(total_nanos as i64, h.duration_nanos))
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
            self.value(h.shown),
            percentage(h.shown, r.total).trim(),
            self.value(r.total)
        ));
        if r.total != 0 {
            if h.dropped_nodes > 0 {
                let noun = if h.dropped_nodes > 1 { "nodes" } else { "node" };
                lines.push(format!(
                    "Dropped {} {noun} (cum <= {})",
                    h.dropped_nodes,
                    self.value(h.dropped_cutoff)
                ));
            }
            if !r.rows.is_empty() && r.rows.len() < h.nodes_before_limit {
                lines.push(format!(
                    "Showing top {} nodes out of {}",
                    r.rows.len(),
                    h.nodes_before_limit
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
            let inline = if row.marker.is_empty() {
                String::new()
            } else {
                format!(" {}", row.marker)
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
            let inline = row.inline.unwrap_or_default().to_string();
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
}
