//! The document of a batch summary (`batch`, and `batch-merge` of its
//! shards): counts per status, one row per incident.

use crate::{Cell, Document, Table};
use mapscope_incident::batch::BatchSummary;

/// The summary as a document: counts, `detail` (where the reports are,
/// jobs, time), one row per incident.
pub fn document(summary: &BatchSummary, detail: String) -> Document {
    let mut doc = Document::new();
    let count = |s: &str| summary.incidents.iter().filter(|r| r.status == s).count();
    doc.heading(format!(
        "{} incidents: {} ok, {} partial, {} failed, {} skipped",
        count("ok") + count("partial") + count("failed"),
        count("ok"),
        count("partial"),
        count("failed"),
        count("skipped")
    ));
    doc.paragraph(detail);
    let mut t = Table::new(None)
        .named("incidents")
        .left("incident")
        .left("Go version")
        .right("heap in use")
        .left("top map")
        .right("retained")
        .right("findings")
        .left("status")
        .left("detail");
    for r in &summary.incidents {
        t.row([
            Cell::path(r.name.clone()),
            Cell::text(r.go_version.clone().unwrap_or_default()),
            Cell::opt_bytes(r.heap_in_use_bytes),
            Cell::code(r.top_map.clone().unwrap_or_default()),
            Cell::opt_bytes(r.top_map_retained_bytes),
            Cell::text(r.findings.map(|f| f.to_string()).unwrap_or_default()),
            Cell::text(r.status.to_string()),
            Cell::text(r.error.clone().unwrap_or_default()),
        ]);
    }
    doc.table(t);
    doc
}
