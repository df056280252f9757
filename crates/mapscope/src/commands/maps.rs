//! `mapscope maps CORE [--exe EXE] [--top N] [--expand] [--children N]`: every map,
//! `sync.Map` and map family found from the core's roots, sorted by the
//! bytes each would free (retained bytes). Owns only presentation; the
//! discovery lives in `mapscope_gomaps::discover`.

use crate::commands::regions::{format_bytes, hex_addr};
use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_gomaps::discover::{discover, FoundMap, Garbage, RootKind, LISTED_CHILDREN};
use mapscope_incident::ExeChoice;
use mapscope_render::{Document, Table};
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
    maps: Vec<MapJson>,
    /// Map storage no root reaches (garbage awaiting collection).
    garbage: Garbage,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct MapJson {
    root: String,
    root_kind: RootKind,
    #[serde(rename = "type")]
    type_name: String,
    kind: &'static str,
    address: String,
    len: u64,
    live_entries: u64,
    capacity: u64,
    tombstones: u64,
    growing: bool,
    load_factor: Option<f64>,
    storage_bytes: u64,
    retained_bytes: Option<u64>,
    children: Vec<MapJson>,
    /// Members not listed in `children` (`--children`).
    children_omitted: u64,
}

fn map_json(m: &FoundMap, limit: usize) -> MapJson {
    let (children, children_omitted) = m.listed_children(limit);
    MapJson {
        root: m.root.clone(),
        root_kind: m.root_kind,
        type_name: m.type_name.clone(),
        kind: m.kind,
        address: hex_addr(m.address),
        len: m.len,
        live_entries: m.live_entries,
        capacity: m.capacity,
        tombstones: m.tombstones,
        growing: m.growing,
        load_factor: (m.capacity > 0 && m.kind == "map")
            .then(|| m.live_entries as f64 / m.capacity as f64),
        storage_bytes: m.storage_bytes,
        retained_bytes: m.retained_bytes,
        children: children.iter().map(|c| map_json(c, limit)).collect(),
        children_omitted,
    }
}

fn row(table: &mut Table, m: &FoundMap, indent: &str) {
    let kind = serde_json::to_value(m.root_kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    table.row([
        m.retained_bytes.map_or("-".to_string(), format_bytes),
        format_bytes(m.storage_bytes),
        m.len.to_string(),
        m.capacity.to_string(),
        m.tombstones.to_string(),
        format!("{indent}{}", m.root),
        kind,
        m.kind.to_string(),
        m.type_name.clone(),
        hex_addr(m.address),
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
    let mut warnings = notes;
    warnings.extend(process.warnings().iter().cloned());
    warnings.extend(found.warnings.iter().cloned());
    let report = Report {
        go_version: process.version_string().to_string(),
        maps: maps.iter().map(|m| map_json(m, args.children)).collect(),
        garbage: found.garbage.clone(),
        warnings: warnings.clone(),
    };
    let mut doc = Document::new();
    doc.heading(format!("Maps of {}", args.core.display()));
    doc.paragraph(
        "retained = bytes freed if the structure were dropped (objects reachable only through it)",
    );
    let mut table = Table::new(Some("Maps by retained bytes".to_string()))
        .right("retained")
        .right("storage")
        .right("len")
        .right("capacity")
        .right("tombstones")
        .left("root")
        .left("root_kind")
        .left("kind")
        .left("type")
        .left("address");
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
            let mut cells: [String; 10] = Default::default();
            cells[5] = note;
            table.row(cells);
        }
    }
    doc.table(table);
    if let Some(line) = found.garbage.describe() {
        doc.paragraph(line);
    }
    doc.list(warnings.iter().map(|w| format!("warning: {w}")).collect());
    args.out.emit(&doc, &report)?;
    Ok(Outcome::Clean)
}
