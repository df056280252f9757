//! `mapscope regions`'s document: facts of the core, the regions like
//! `/proc/PID/maps`, totals per kind, threads, warnings.

use crate::{Cell, Document, Table};
use mapscope_incident::reports::regions::RegionsReport;

pub fn document(report: &RegionsReport) -> Document {
    let mut doc = Document::new();
    doc.heading(format!("Regions of {}", report.core));
    let mut facts = vec![format!(
        "arch {}, core written by {}",
        report.arch,
        match report.producer {
            "gdb" => "gdb (gcore of a live process)",
            "kernel" => "the kernel",
            _ => "an unknown program",
        }
    )];
    if let Some(p) = &report.process {
        facts.push(format!("pid {} ({}): {}", p.pid, p.command, p.args));
    }
    match &report.signal {
        Some(s) => facts.push(format!(
            "{} {} ({}){}",
            if report.producer == "gdb" {
                "signal at dump time"
            } else {
                "fatal signal"
            },
            s.name,
            s.signo,
            s.fault_addr
                .as_ref()
                .map(|a| format!(" at {a}"))
                .unwrap_or_default()
        )),
        None => facts.push("no fatal signal recorded".into()),
    }
    match (&report.executable, &report.load_bias) {
        (Some(e), Some(b)) => facts.push(format!("executable {e} (load bias {b})")),
        _ => facts.push("no executable: pages the kernel left out are absent".into()),
    }
    if !report.complete {
        facts.push("the core is TRUNCATED: some segments end past the end of the file".into());
    }
    doc.list(facts);

    let mut t = Table::new(None)
        .named("regions")
        .left("start-end")
        .left("perms")
        .right("offset")
        .optional()
        .right("size")
        .right("present")
        .left("kind")
        .left("path");
    for r in &report.regions {
        let mut kind = r.kind.to_string();
        if r.truncated {
            kind.push_str(" (truncated)");
        }
        t.row([
            Cell::text(format!(
                "{}-{}",
                r.start.trim_start_matches("0x"),
                r.end.trim_start_matches("0x")
            )),
            Cell::text(r.perms.clone()),
            Cell::text(format!("{:08x}", r.file_offset)),
            Cell::bytes(r.size),
            Cell::bytes(r.present_bytes),
            Cell::text(kind),
            Cell::path(r.path.clone()),
        ]);
    }
    doc.table(t);

    let mut t = Table::new(Some("Totals by kind".to_string()))
        .named("totals")
        .left("kind")
        .right("regions")
        .right("size")
        .right("present");
    for k in &report.totals {
        t.row([
            Cell::text(k.kind),
            Cell::text(k.regions.to_string()),
            Cell::bytes(k.size),
            Cell::bytes(k.present_bytes),
        ]);
    }
    doc.table(t);

    let mut t = Table::new(Some(format!("Threads ({})", report.threads.len())))
        .named("threads")
        .right("tid")
        .left("pc")
        .left("sp");
    for th in &report.threads {
        t.row([
            th.tid.to_string(),
            th.pc.clone().unwrap_or_default(),
            th.sp.clone().unwrap_or_default(),
        ]);
    }
    doc.table(t);
    doc.list(super::warning_lines(&report.warnings));
    doc
}
