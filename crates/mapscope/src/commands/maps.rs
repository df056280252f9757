//! `mapscope maps CORE [--exe EXE] [--top N] [--expand] [--children N]`: every map,
//! `sync.Map` and map family found from the core's roots, sorted by the
//! bytes each would free (retained bytes). Owns only presentation; the
//! discovery lives in `mapscope_gomaps::discover`.

use crate::commands::regions::hex_addr;
use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_gomaps::discover::{discover, FoundMap, Garbage, LISTED_CHILDREN};
use mapscope_incident::analyze::{map_report, MapReport};
use mapscope_incident::ExeChoice;
use mapscope_render::{Cell, Document, Table};
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The core file.
    #[arg(value_name = "CORE")]
    pub core: PathBuf,
    /// The executable the core's process ran (default: the core's NT_FILE path).
    #[arg(long, value_name = "EXE")]
    pub exe: Option<PathBuf>,
    /// Show only the N largest by retained bytes.
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// List family members in the table too (JSON always lists them).
    #[arg(long)]
    pub expand: bool,
    /// List at most N members per family, largest storage first (0: all);
    /// the family row always sums all of them.
    #[arg(long, value_name = "N", default_value_t = LISTED_CHILDREN)]
    pub children: usize,
    #[command(flatten)]
    pub threads: crate::threads::ThreadArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Serialize)]
struct Report {
    go_version: String,
    /// The MAP objects `analyze` prints too (one serializer); their
    /// attribution fields are null (no profile is read).
    maps: Vec<MapReport>,
    /// Map storage no root reaches (garbage awaiting collection).
    garbage: Garbage,
    /// `retained_bytes` are lower bounds (each map's own storage): the
    /// core lacks the heap's span metadata, so object extents are unknown.
    retained_bytes_lower_bound: bool,
    /// What the core holds of what it declares, per kind of memory.
    coverage: mapscope_incident::Coverage,
    warnings: Vec<String>,
}

fn row(table: &mut Table, m: &FoundMap, indent: &str) {
    let kind = m.root_kind.to_string();
    table.row([
        m.retained_bytes
            .map_or_else(|| Cell::text("-"), Cell::bytes),
        Cell::bytes(m.storage_bytes),
        Cell::text(m.len.to_string()),
        Cell::text(m.capacity.to_string()),
        Cell::text(m.tombstones.to_string()),
        Cell::code(format!("{indent}{}", m.root)),
        Cell::text(kind),
        Cell::text(m.kind.to_string()),
        Cell::code(m.type_name.clone()),
        Cell::text(hex_addr(m.address)),
    ]);
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    args.threads.apply();
    // The executable: chosen and validated as for every command.
    let (process, notes) =
        mapscope_incident::open(&args.core, ExeChoice::from_option(args.exe.as_deref()))?
            .into_go()?;
    let found = discover(&process).map_err(|e| anyhow::anyhow!("{}: {e}", args.core.display()))?;
    let mut maps = found.maps;
    if let Some(n) = args.top {
        maps.truncate(n);
    }
    let coverage = mapscope_incident::Coverage::of(&process);
    let mut warnings = notes;
    warnings.extend(process.warnings().iter().cloned());
    warnings.extend(coverage.warning());
    warnings.extend(found.warnings.iter().cloned());
    let report = Report {
        go_version: process.version_string().to_string(),
        maps: maps.iter().map(|m| map_report(m, args.children)).collect(),
        garbage: found.garbage.clone(),
        retained_bytes_lower_bound: found.retained_lower_bound,
        coverage,
        warnings: warnings.clone(),
    };
    let mut doc = Document::new();
    doc.heading(format!("Maps of {}", args.core.display()));
    doc.paragraph(
        "retained = bytes freed if the structure were dropped (objects reachable only through it)",
    );
    if found.retained_lower_bound {
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
    for m in &maps {
        row(&mut table, m, "");
        let (listed, omitted) = m.listed_children(args.children);
        let note = if args.expand {
            for c in listed {
                row(&mut table, c, "  ");
            }
            (omitted > 0).then(|| format!("  ({omitted} more members; --children 0 lists all)"))
        } else {
            (!m.children.is_empty())
                .then(|| format!("  ({} members; --expand lists them)", m.children.len()))
        };
        if let Some(note) = note {
            let mut cells: [Cell; 10] = Default::default();
            cells[5] = Cell::note(note);
            table.row(cells);
        }
    }
    doc.table(table);
    if let Some(line) = crate::commands::analyze::garbage_text(&found.garbage) {
        doc.paragraph(line);
    }
    doc.list(warnings.iter().map(|w| format!("warning: {w}")).collect());
    args.out.emit(&doc, &report)?;
    Ok(Outcome::Clean)
}
