//! `mapscope maps`'s document: the maps by retained bytes, family members
//! when asked, the garbage line, warnings.

use crate::{Cell, Document, Table};
use mapscope_incident::analyze::MapReport;
use mapscope_incident::reports::maps::MapsReport;

fn row(table: &mut Table, m: &MapReport, indent: &str) {
    table.row([
        m.retained_bytes
            .map_or_else(|| Cell::text("-"), Cell::bytes),
        Cell::bytes(m.storage_bytes),
        Cell::text(m.len.to_string()),
        Cell::text(m.capacity.to_string()),
        Cell::text(m.tombstones.to_string()),
        Cell::code(format!("{indent}{}", m.root)),
        Cell::text(m.root_kind.to_string()),
        Cell::text(m.kind.to_string()),
        Cell::code(m.type_name.clone()),
        Cell::text(m.address.clone()),
    ]);
}

/// The document; `expand` lists each family's members (those the report
/// lists) under it.
pub fn document(r: &MapsReport, expand: bool) -> Document {
    let mut doc = Document::new();
    doc.heading(format!("Maps of {}", r.core.display()));
    doc.paragraph(
        "retained = bytes freed if the structure were dropped (objects reachable only through it)",
    );
    if r.retained_bytes_lower_bound {
        doc.paragraph(
            "retained bytes are lower bounds here: the core lacks the heap's span metadata, so each map counts only its own storage, sized from its header",
        );
    }
    let mut table = Table::new(Some("Maps by retained bytes".to_string()))
        .right("retained")
        .right("storage")
        .right("len")
        .right("capacity")
        .right("tombstones")
        .optional()
        .left("root")
        .left("root_kind")
        .optional()
        .left("kind")
        .optional()
        .left("type")
        .left("address")
        .optional();
    for m in &r.maps {
        row(&mut table, m, "");
        let omitted = m.children_omitted;
        let note = if expand {
            for c in &m.children {
                row(&mut table, c, "  ");
            }
            (omitted > 0).then(|| format!("  ({omitted} more members; --children 0 lists all)"))
        } else {
            let members = (m.children.len() as u64).saturating_add(omitted);
            (members > 0).then(|| format!("  ({members} members; --expand lists them)"))
        };
        if let Some(note) = note {
            let mut cells: [Cell; 10] = Default::default();
            cells[5] = Cell::note(note);
            table.row(cells);
        }
    }
    doc.table(table);
    if let Some(line) = super::analyze::garbage_text(&r.garbage) {
        doc.paragraph(line);
    }
    doc.list(super::warning_lines(&r.warnings));
    doc
}
