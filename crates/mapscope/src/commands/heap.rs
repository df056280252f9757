//! `mapscope heap CORE [--exe EXE]`: the Go heap as the core holds it —
//! version, map implementation, in-use bytes/objects/spans, totals per size
//! class and per recorded type, and the runtime's own statistics beside
//! the walk's totals (a mismatch over 1% is a warning with both numbers).

use crate::commands::regions::{format_bytes, hex_addr};
use crate::output::OutputArgs;
use crate::Outcome;
use anyhow::Context as _;
use mapscope_goruntime::dwarf::MapFlavour;
use mapscope_incident::ExeChoice;
use mapscope_render::{Cell, Document, Table};
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The core file (plain, or compressed as .zst, .gz or .xz).
    #[arg(value_name = "CORE")]
    pub core: PathBuf,
    /// The executable the core's process ran (default: the core's NT_FILE
    /// path of the main executable, when that file exists).
    #[arg(long, value_name = "EXE")]
    pub exe: Option<PathBuf>,
    /// Number of types to list (largest first).
    #[arg(long, default_value_t = 20)]
    pub top: usize,
    #[command(flatten)]
    pub threads: crate::threads::ThreadArgs,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Serialize)]
struct RuntimeStatsJson {
    /// `HeapAlloc` as `ReadMemStats` would have said at the moment of the core.
    heap_alloc: u64,
    heap_objects: u64,
    /// From `memstats.heapStats` alone, without slots allocated from spans
    /// still cached in a P's mcache.
    heap_alloc_consistent: u64,
    mcache_pending_bytes: u64,
    heap_inuse: Option<u64>,
    pages_in_use_bytes: Option<u64>,
    heap_free: Option<u64>,
    heap_released: Option<u64>,
    stack_inuse: u64,
    total_alloc: u64,
    mallocs: u64,
    frees: u64,
    num_gc: Option<u64>,
    mem_profile_rate: Option<i64>,
}

#[derive(Serialize)]
struct SizeClassJson {
    size_class: u8,
    size: u64,
    objects: u64,
    bytes: u64,
    spans: u64,
    /// `BySize` mallocs − frees from the runtime's statistics.
    runtime_objects: Option<u64>,
}

#[derive(Serialize)]
struct TypeJson {
    #[serde(rename = "type")]
    name: Option<String>,
    type_address: String,
    objects: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct Report {
    go_version: String,
    map_implementation: Option<&'static str>,
    in_use_bytes: u64,
    objects: u64,
    spans: u64,
    span_bytes: u64,
    runtime_stats: Option<RuntimeStatsJson>,
    size_classes: Vec<SizeClassJson>,
    types: Vec<TypeJson>,
    profile_buckets: usize,
    profiled_objects: usize,
    arenas: Vec<[String; 2]>,
    /// Where the spans came from: `allspans`, `arena-spans` (allspans was
    /// unreadable) or `none` (no span metadata in the core).
    span_source: &'static str,
    /// What the core holds of what it declares, per kind of memory.
    coverage: mapscope_incident::Coverage,
    /// How inputs were found (not problems).
    notes: Vec<String>,
    warnings: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    args.threads.apply();
    // The executable: chosen and validated as for every command.
    let (process, notes) =
        mapscope_incident::open(&args.core, ExeChoice::from_option(args.exe.as_deref()))?
            .into_go()?;
    let core_display = args.core.display().to_string();
    let heap = process.heap().with_context(|| core_display.clone())?;

    let coverage = mapscope_incident::Coverage::of(&process);
    let mut warnings: Vec<String> = process.warnings().to_vec();
    warnings.extend(coverage.warning());
    warnings.extend(heap.warnings().iter().cloned());
    if heap.suppressed_warnings() > 0 {
        warnings.push(format!(
            "{} more heap warnings not shown",
            heap.suppressed_warnings()
        ));
    }
    let stats = heap.runtime_stats();
    let map_implementation = process.map_implementation().map(|m| match m {
        MapFlavour::Classic => "classic",
        MapFlavour::Swiss => "swiss",
    });
    let size_classes: Vec<SizeClassJson> = heap
        .size_classes()
        .iter()
        .filter(|c| c.objects > 0 || c.spans > 0)
        .map(|c| SizeClassJson {
            size_class: c.size_class,
            size: c.size,
            objects: c.objects,
            bytes: c.bytes,
            spans: c.spans,
            runtime_objects: stats
                .and_then(|s| s.by_size.get(c.size_class as usize))
                .filter(|_| c.size_class != 0)
                .map(|b| b.mallocs.saturating_sub(b.frees)),
        })
        .collect();
    let types: Vec<TypeJson> = heap
        .types()
        .iter()
        .take(args.top)
        .map(|t| TypeJson {
            name: t.name.clone(),
            type_address: hex_addr(t.type_address),
            objects: t.objects,
            bytes: t.bytes,
        })
        .collect();
    let report = Report {
        go_version: process.version_string().to_string(),
        map_implementation,
        in_use_bytes: heap.in_use_bytes(),
        objects: heap.object_count(),
        spans: heap.spans().len() as u64,
        span_bytes: heap.span_bytes(),
        runtime_stats: stats.map(|s| RuntimeStatsJson {
            heap_alloc: s.heap_alloc,
            heap_objects: s.heap_objects,
            heap_alloc_consistent: s.heap_alloc_consistent,
            mcache_pending_bytes: s.mcache_pending_bytes,
            heap_inuse: s.heap_inuse,
            pages_in_use_bytes: s.pages_in_use_bytes,
            heap_free: s.heap_free,
            heap_released: s.heap_released,
            stack_inuse: s.stack_inuse,
            total_alloc: s.total_alloc,
            mallocs: s.mallocs,
            frees: s.frees,
            num_gc: s.num_gc,
            mem_profile_rate: heap.mem_profile_rate(),
        }),
        size_classes,
        types,
        profile_buckets: heap.profile_buckets().len(),
        profiled_objects: heap.profiled_objects().len(),
        arenas: heap
            .arena_ranges()
            .iter()
            .map(|&(s, e)| [hex_addr(s), hex_addr(e)])
            .collect(),
        span_source: heap.span_source().as_str(),
        coverage,
        notes,
        warnings,
    };
    let doc = document(&report);
    args.out.emit(&doc, &report)?;
    Ok(Outcome::Clean)
}

fn document(r: &Report) -> Document {
    let mut doc = Document::new();
    doc.heading("Go heap");
    doc.paragraph(format!(
        "{}, {} maps. {} in {} objects, {} spans ({} of span pages).",
        r.go_version,
        r.map_implementation.unwrap_or("unknown"),
        format_bytes(r.in_use_bytes),
        r.objects,
        r.spans,
        format_bytes(r.span_bytes),
    ));

    let mut side = Table::new("Heap walk and runtime statistics".to_string())
        .named("statistics")
        .left("measure")
        .right("heap walk")
        .right("runtime (memstats)");
    let s = r.runtime_stats.as_ref();
    let dash = || Cell::text("-");
    let bytes_or_dash = |v: Option<u64>| v.map_or_else(dash, Cell::bytes);
    let count_or_dash = |v: Option<String>| v.map_or_else(dash, Cell::text);
    side.row([
        Cell::text("in-use bytes (HeapAlloc)"),
        Cell::bytes(r.in_use_bytes),
        bytes_or_dash(s.map(|s| s.heap_alloc)),
    ]);
    side.row([
        Cell::text("objects (HeapObjects)"),
        Cell::text(r.objects.to_string()),
        count_or_dash(s.map(|s| s.heap_objects.to_string())),
    ]);
    side.row([
        Cell::text("span bytes (HeapInuse)"),
        Cell::bytes(r.span_bytes),
        bytes_or_dash(s.and_then(|s| s.heap_inuse)),
    ]);
    if let Some(s) = s {
        side.row([
            Cell::text("mheap_.pagesInUse × pageSize"),
            Cell::default(),
            bytes_or_dash(s.pages_in_use_bytes),
        ]);
        side.row([
            Cell::text("allocated from mcache-cached spans (not yet in heapStats)"),
            Cell::default(),
            Cell::bytes(s.mcache_pending_bytes),
        ]);
        side.row([
            Cell::text("stacks in use (StackInuse)"),
            Cell::default(),
            Cell::bytes(s.stack_inuse),
        ]);
        side.row([
            Cell::text("TotalAlloc"),
            Cell::default(),
            Cell::bytes(s.total_alloc),
        ]);
        side.row([
            Cell::text("NumGC"),
            Cell::default(),
            count_or_dash(s.num_gc.map(|v| v.to_string())),
        ]);
        side.row([
            Cell::text("MemProfileRate"),
            Cell::default(),
            count_or_dash(s.mem_profile_rate.map(|v| v.to_string())),
        ]);
    }
    doc.table(side);

    let mut classes = Table::new("Size classes".to_string())
        .named("size_classes")
        .right("class")
        .right("size")
        .right("objects")
        .right("bytes")
        .right("spans")
        .right("runtime objects");
    for c in &r.size_classes {
        classes.row([
            Cell::text(c.size_class.to_string()),
            Cell::text(if c.size_class == 0 {
                "large".to_string()
            } else {
                c.size.to_string()
            }),
            Cell::text(c.objects.to_string()),
            Cell::bytes(c.bytes),
            Cell::text(c.spans.to_string()),
            Cell::text(
                c.runtime_objects
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
        ]);
    }
    doc.table(classes);

    if !r.types.is_empty() {
        let mut types = Table::new(
            "Types the runtime recorded (objects > 512 B with a malloc header, and large objects)"
                .to_string(),
        )
        .named("types")
        .left("type")
        .right("objects")
        .right("bytes");
        for t in &r.types {
            types.row([
                t.name
                    .clone()
                    .map_or_else(|| Cell::text(t.type_address.clone()), Cell::code),
                Cell::text(t.objects.to_string()),
                Cell::bytes(t.bytes),
            ]);
        }
        doc.table(types);
    }
    doc.paragraph(format!(
        "Heap profile in the core: {} buckets, {} sampled live objects.",
        r.profile_buckets, r.profiled_objects
    ));
    for n in &r.notes {
        doc.paragraph(n.clone());
    }
    if !r.warnings.is_empty() {
        doc.heading("Warnings");
        doc.list(r.warnings.clone());
    }
    doc
}
