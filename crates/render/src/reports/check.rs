//! `mapscope check`'s document: each check with its status and detail.

use crate::{Document, Table};
use mapscope_incident::CheckReport;

pub fn document(report: &CheckReport) -> Document {
    let mut doc = Document::new();
    doc.heading(format!(
        "Checks: {} against {}",
        report.profile, report.core
    ));
    if let Some(e) = &report.executable {
        doc.paragraph(format!("executable: {e}"));
    }
    let mut t = Table::new(None)
        .named("checks")
        .left("check")
        .left("status")
        .left("detail");
    for c in &report.checks {
        t.row([
            c.name.to_string(),
            c.status.as_str().to_string(),
            c.detail.clone(),
        ]);
    }
    doc.table(t);
    doc.paragraph(if report.failed() {
        "result: FAILED"
    } else {
        "result: ok"
    });
    doc
}
