//! `mapscope goroutines`'s document: the goroutines and threads as tables
//! and the stacks as the Go runtime's own traceback prints them.

use crate::{Cell, Document, Table};
use mapscope_incident::reports::goroutines::{FrameRow, GoroutinesReport};
use std::fmt::Write as _;

pub fn document(r: &GoroutinesReport) -> Document {
    let mut doc = Document::new();
    doc.heading(format!("Goroutines of {}", r.core.display()));
    let dead_note = if r.include_dead {
        format!("{} dead included", r.dead)
    } else {
        format!("{} dead not shown", r.dead)
    };
    doc.paragraph(format!(
        "{} goroutines ({dead_note}), {} threads; {}",
        r.goroutines.len(),
        r.threads.len(),
        r.go_version
    ));
    let mut table = Table::new(Some("Goroutines".to_string()))
        .right("id")
        .left("status")
        .right("frames")
        .optional()
        .left("function")
        .left("location")
        .left("created by")
        .left("stack")
        .optional();
    for g in &r.goroutines {
        let (function, location) = g.about.clone();
        let created = g
            .created_by
            .as_ref()
            .map(|c| match c.goroutine {
                Some(p) => format!("{} in goroutine {p}", c.function),
                None => c.function.clone(),
            })
            .unwrap_or_default();
        table.row([
            Cell::text(g.id.to_string()),
            Cell::text(g.status_text.clone()),
            Cell::text(g.frames.len().to_string()),
            Cell::code(function),
            Cell::path(location),
            Cell::code(created),
            Cell::text(format!("{}-{}", g.stack_lo, g.stack_hi)),
        ]);
    }
    doc.table(table);
    let mut threads = Table::new(Some("Threads".to_string()))
        .right("tid")
        .right("m")
        .left("on")
        .left("pc")
        .left("sp")
        .optional()
        .left("interrupted pc")
        .optional()
        .left("function");
    for t in &r.threads {
        threads.row([
            Cell::text(t.tid.to_string()),
            Cell::text(t.m.map(|m| m.to_string()).unwrap_or_default()),
            Cell::text(t.on.clone()),
            Cell::text(t.pc.clone().unwrap_or_default()),
            Cell::text(t.sp.clone().unwrap_or_default()),
            Cell::text(t.interrupted_pc.clone().unwrap_or_default()),
            Cell::code(t.function.clone()),
        ]);
    }
    doc.table(threads);
    doc.heading("Traceback");
    doc.preformatted(traceback_text(r));
    doc.list(super::warning_lines(&r.warnings));
    doc
}

/// Go's traceback layout: function line, then tab, `file:line +0x…`
/// (inlined calls without the offset), locals under their frame.
fn write_frames(out: &mut String, frames: &[FrameRow], with_locals: bool) {
    for f in frames {
        if !f.physical {
            let _ = writeln!(out, "{}(...)\n\t{}:{}", f.function, f.file, f.line);
            continue;
        }
        let _ = writeln!(
            out,
            "{}(...)\n\t{}:{} +{:#x}",
            f.function, f.file, f.line, f.pc_offset
        );
        if with_locals {
            for l in f.locals.iter().flatten() {
                let _ = writeln!(out, "\t\t{} {} — {}", l.name, l.type_name, l.place);
            }
        }
    }
}

fn traceback_text(r: &GoroutinesReport) -> String {
    let mut out = String::new();
    for (i, g) in r.goroutines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "goroutine {} [{}]:", g.id, g.status_text);
        write_frames(&mut out, &g.frames, r.with_locals);
        if let Some(why) = &g.incomplete {
            let _ = writeln!(out, "\t({why})");
        }
        if let Some(c) = &g.created_by {
            let parent = c
                .goroutine
                .map(|p| format!(" in goroutine {p}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "created by {}{parent}\n\t{}:{} +{:#x}",
                c.function, c.file, c.line, c.pc_offset
            );
        }
    }
    out
}
