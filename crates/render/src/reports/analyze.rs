//! `mapscope analyze`'s document (and `batch`'s REPORT.md): the headline
//! in words, the profile line, the heap treemap (HTML), accounting, the
//! top maps, the garbage line, the heap by type and its top retainers,
//! the unattributed remainder, findings grouped by code, warnings.

use crate::units::{iec_bytes, thousands};
use crate::{Cell, Document, Table, Text};
use mapscope_incident::analyze::{Finding, Garbage, Headline};
use mapscope_incident::Report;

/// Bytes for people (IEC units).
fn iec(b: u64) -> String {
    iec_bytes(i128::from(b))
}

/// The report as a document (terminal table, Markdown, CSV): headline,
/// accounting, the top `top` maps (0: all), unattributed remainder,
/// findings, warnings. `batch` writes the same document as REPORT.md.
pub fn document(report: &Report, top: usize) -> Document {
    let mut doc = Document::new();
    doc.heading(headline_text(&report.headline));
    let mut profile_line = Text::new()
        .plain(format!(
            "{} · {} · profile from {} (inuse_space ",
            report.core.display(),
            report.go_version,
            report.profile.source,
        ))
        .bytes(report.profile.inuse_space_total)
        .plain(": maps ")
        .bytes(report.profile.attributed)
        .plain(", other objects ")
        .bytes(report.profile.non_map)
        .plain(", unattributed ")
        .bytes(report.profile.unattributed);
    // A partial core: what fell into its cut part (0 on a complete core).
    if report.profile.cut != 0 {
        profile_line = profile_line
            .plain(", in the cut part of the core ")
            .bytes(report.profile.cut);
    }
    doc.paragraph(profile_line.plain(")"));
    doc.treemap(super::picture::heap_treemap(report));
    let mut t = Table::new(Some("Accounting".to_string()))
        .left("layer")
        .right("bytes")
        .left("gap to next");
    for l in &report.accounting {
        t.row([
            Cell::text(l.layer.clone()),
            Cell::bytes(l.bytes),
            Cell::text(l.gap_to_next.clone().unwrap_or_default()),
        ]);
    }
    doc.table(t);
    let mut t = Table::new(Some("Top maps".to_string()))
        .left("map")
        .left("type")
        .right("len")
        .right("capacity")
        .right("retained")
        .right("profile inuse")
        .left("top site");
    let n = if top == 0 { report.maps.len() } else { top };
    for m in report.maps.iter().take(n) {
        t.row([
            Cell::code(m.root.clone()),
            Cell::code(m.type_name.clone()),
            Cell::text(m.len.to_string()),
            Cell::text(m.capacity.to_string()),
            Cell::opt_bytes(m.retained_bytes),
            Cell::opt_bytes(m.inuse_space),
            m.alloc_sites
                .first()
                .map(|s| Cell::code(format!("{} {}:{}", s.function, short(&s.file), s.line)))
                .unwrap_or_default(),
        ]);
    }
    doc.table(t);
    if let Some(line) = garbage_text(&report.garbage) {
        doc.paragraph(line);
    }
    heap_tables(&mut doc, report, top);
    if !report.profile.unattributed_sites.is_empty() {
        let mut t = Table::new(Some("Unattributed profile remainder".to_string()))
            .named("unattributed")
            .left("site")
            .right("inuse_space");
        for s in &report.profile.unattributed_sites {
            t.row([
                Cell::code(format!("{} {}:{}", s.function, short(&s.file), s.line)),
                Cell::bytes(s.inuse_space),
            ]);
        }
        doc.table(t);
    }
    let (t, notes) = findings_table(report, top);
    match t {
        Some(t) => {
            doc.table(t);
        }
        None => {
            doc.paragraph("Findings: none above the threshold.");
        }
    }
    for n in notes {
        doc.paragraph(n);
    }
    if !report.warnings.is_empty() {
        doc.list(
            report
                .warnings
                .iter()
                .take(20)
                .map(|w| w.to_string())
                .collect::<Vec<_>>(),
        );
    }
    doc
}

/// The findings as a table: the first `top` groups (0: all), ranked by
/// bytes at stake; per group its largest finding and one line for the rest
/// ("and 1,203 more maps like this"); profile-wide groups list every
/// finding; `None` when no finding clears the threshold. The notes say
/// what the table leaves out.
fn findings_table(report: &Report, top: usize) -> (Option<Table>, Vec<String>) {
    let mut t = Table::new(Some("Findings".to_string()))
        .left("severity")
        .left("code")
        .right("bytes")
        .left("map")
        .left("message");
    let groups: Vec<_> = report
        .finding_groups
        .iter()
        .filter(|g| g.count > 0)
        .collect();
    let shown = if top == 0 {
        groups.len()
    } else {
        top.min(groups.len())
    };
    for g in groups.iter().take(shown) {
        let mut listed = report.findings.iter().filter(|f| f.code == g.code);
        let Some(first) = listed.next() else {
            continue;
        };
        let row = |f: &Finding| {
            [
                Cell::text(format!("{:?}", f.severity).to_lowercase()),
                Cell::text(f.code.clone()),
                Cell::bytes(f.bytes),
                Cell::code(f.map.clone()),
                Cell::text(f.message.clone()),
            ]
        };
        t.row(row(first));
        if first.map.is_empty() {
            // Profile-wide: each is a different check, list them all.
            for f in listed {
                t.row(row(f));
            }
        } else if g.count > 1 {
            let rest = g.bytes.saturating_sub(first.bytes);
            t.row([
                Cell::default(),
                Cell::text(g.code.clone()),
                Cell::bytes(rest),
                Cell::default(),
                Cell::text(format!(
                    "and {} more maps like this, {} more; {} in all",
                    thousands(g.count - 1),
                    iec(rest),
                    iec(g.bytes)
                )),
            ]);
        }
    }
    let mut notes = Vec::new();
    if groups.len() > shown {
        let hidden = groups.get(shown..).unwrap_or(&[]);
        let n: u64 = hidden.iter().map(|g| g.count).sum();
        let b: u64 = hidden.iter().map(|g| g.bytes).fold(0, u64::saturating_add);
        notes.push(format!(
            "{} more kinds of finding not shown ({} findings, {}): --top 0 shows all, --format json lists them.",
            hidden.len(),
            thousands(n),
            iec(b)
        ));
    }
    let (below, below_bytes) = report
        .finding_groups
        .iter()
        .fold((0u64, 0u64), |(n, b), g| {
            (
                n + g.below_threshold,
                b.saturating_add(g.below_threshold_bytes),
            )
        });
    if below > 0 {
        let mut by_code: Vec<_> = report
            .finding_groups
            .iter()
            .filter(|g| g.below_threshold > 0)
            .collect();
        by_code.sort_by_key(|g| std::cmp::Reverse(g.below_threshold_bytes));
        let parts: Vec<String> = by_code
            .iter()
            .take(5)
            .map(|g| {
                format!(
                    "{} {}, {}",
                    g.code,
                    thousands(g.below_threshold),
                    iec(g.below_threshold_bytes)
                )
            })
            .collect();
        notes.push(format!(
            "{} findings about less than {} each ({} in all: {}) are counted, not listed: the threshold is max(64 KiB, 0.1% of the Go heap in use).",
            thousands(below),
            iec(report.finding_threshold_bytes),
            iec(below_bytes),
            parts.join("; ")
        ));
    }
    ((shown > 0).then_some(t), notes)
}

/// The garbage line (map storage no root reaches), or `None` when there
/// is none: "garbage awaiting collection: 12 map storage objects, 1.50 MiB
/// no root reaches (…); not listed as maps; 2.00 MiB of heap unreachable
/// in all".
pub fn garbage_text(g: &Garbage) -> Option<Text> {
    if g.objects == 0 {
        return None;
    }
    let mut parts: Vec<Text> = Vec::new();
    if g.left_by_growth.objects > 0 {
        parts.push(
            Text::new()
                .plain(format!("{} objects, ", g.left_by_growth.objects))
                .bytes(g.left_by_growth.bytes)
                .plain(" old storage left by growth"),
        );
    }
    if g.dropped_map_count > 0 {
        parts.push(
            Text::new()
                .plain(format!(
                    "{} dropped maps, {} objects, ",
                    g.dropped_map_count, g.dropped_maps.objects
                ))
                .bytes(g.dropped_maps.bytes),
        );
    }
    if g.other.objects > 0 {
        parts.push(
            Text::new()
                .plain(format!("{} objects, ", g.other.objects))
                .bytes(g.other.bytes)
                .plain(" other storage no header points at"),
        );
    }
    let mut t = Text::new()
        .plain(format!(
            "garbage awaiting collection: {} map storage objects, ",
            g.objects
        ))
        .bytes(g.bytes)
        .plain(" no root reaches (");
    for (i, p) in parts.into_iter().enumerate() {
        if i > 0 {
            t = t.plain("; ");
        }
        t = t.append(p);
    }
    Some(
        t.plain("); not listed as maps; ")
            .bytes(g.heap_unreachable.bytes)
            .plain(" of heap unreachable in all"),
    )
}

/// The headline in words: "`main.m` holds 1.50 MiB (9% of the Go heap)",
/// then the larger retainer and the heap the listed retainers leave, when
/// the report names them.
pub fn headline_text(h: &Headline) -> Text {
    let mut t = match &h.map {
        Some(m) => Text::new()
            .code(m.root.clone())
            .plain(" holds ")
            .bytes(m.retained_bytes)
            .plain(format!(" ({:.0}% of the Go heap)", m.percent_of_heap)),
        None => Text::from("no maps found"),
    };
    if let Some(r) = &h.larger_retainer {
        t = t.plain("; the largest retainer is ");
        t = match r.root_kind.as_str() {
            // An object retainer's `root` is its path, type included.
            _ if r.node == "object" && r.count > 1 => t
                .plain(format!("{} objects at ", thousands(r.count)))
                .code(r.root.clone()),
            _ if r.node == "object" => t.code(r.root.clone()),
            "global" if !r.type_name.is_empty() => t
                .plain("global ")
                .code(r.root.clone())
                .plain(" (")
                .code(r.type_name.clone())
                .plain(")"),
            "global" => t.plain("global ").code(r.root.clone()),
            _ => t.code(r.root.clone()),
        };
        t = t
            .plain(", ")
            .bytes(r.retained_bytes)
            .plain(format!(" ({:.0}%)", r.percent_of_heap));
    }
    if let Some(u) = &h.unheld {
        t = t
            .plain("; past the listed retainers, smaller ones hold ")
            .bytes(u.other_bytes)
            .plain(format!(" ({:.0}%), ", u.other_percent_of_heap))
            .bytes(u.unreached_bytes)
            .plain(format!(
                " ({:.0}%) is unreachable (garbage)",
                u.unreached_percent_of_heap
            ));
    }
    t
}

fn short(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// The rest of the heap, as context for the maps: the first `top` (0: all)
/// rows of the heap by type and of the roots retaining most, each with a
/// note on what it leaves out.
fn heap_tables(doc: &mut Document, report: &Report, top: usize) {
    let heap = report.heap_in_use_bytes;
    let pct = |b: u64| {
        if heap > 0 {
            format!("{:.1}%", b as f64 * 100.0 / heap as f64)
        } else {
            String::new()
        }
    };
    let n = |len: usize| if top == 0 { len } else { top.min(len) };
    let mut t = Table::new(Some("Heap by type (every live object)".to_string()))
        .named("types")
        .left("type")
        .right("objects")
        .right("bytes")
        .right("% of heap");
    let shown = n(report.types.len());
    for r in report.types.iter().take(shown) {
        t.row([
            Cell::code(r.type_name.clone()),
            Cell::text(r.objects.to_string()),
            Cell::bytes(r.bytes),
            Cell::text(pct(r.bytes)),
        ]);
    }
    doc.table(t);
    let rest = report.types.get(shown..).unwrap_or(&[]);
    if !rest.is_empty() {
        let b: u64 = rest.iter().map(|r| r.bytes).sum();
        doc.paragraph(format!(
            "{} more type rows ({}): --top 0 shows them, --format json lists them.",
            thousands(rest.len() as u64),
            iec(b)
        ));
    }
    let mut t = Table::new(Some(
        "Top retainers (dominator tree: roots, and objects several roots reach)".to_string(),
    ))
    .named("retainers")
    .left("root")
    .left("kind")
    .left("type")
    .right("retained")
    .right("objects")
    .right("% of heap");
    let shown = n(report.retainers.len());
    for r in report.retainers.iter().take(shown) {
        let root = if r.count > 1 {
            format!("{} (×{})", r.root, thousands(r.count))
        } else {
            r.root.clone()
        };
        t.row([
            Cell::code(root),
            Cell::text(r.root_kind.clone()),
            Cell::code(r.type_name.clone()),
            Cell::bytes(r.retained_bytes),
            Cell::text(r.objects.to_string()),
            Cell::text(pct(r.retained_bytes)),
        ]);
    }
    doc.table(t);
    let rest = &report.retainers_rest;
    // The rest: retainers the report lists but the table leaves out
    // (`--top`), and those the report does not list.
    let hidden = report.retainers.get(shown..).unwrap_or(&[]);
    let hidden_bytes: u64 = hidden.iter().map(|r| r.retained_bytes).sum();
    let hidden_objects: u64 = hidden.iter().map(|r| r.objects).sum();
    let hidden_nodes: u64 = hidden.iter().map(|r| r.count).sum();
    doc.paragraph(format!(
        "Each row is what only it keeps alive (the rows never overlap); {} more retainers hold {} ({} objects); no root reaches {} ({} objects: garbage).",
        thousands(rest.other_retainers.saturating_add(hidden_nodes)),
        iec(rest.other_bytes.saturating_add(hidden_bytes)),
        thousands(rest.other_objects.saturating_add(hidden_objects)),
        iec(rest.unreached_bytes),
        thousands(rest.unreached_objects)
    ));
}
