//! `mapscope heap`'s document: the heap walk beside the runtime's own
//! statistics, size classes, recorded types.

use crate::units::iec_bytes;
use crate::{Cell, Document, Table};
use mapscope_incident::reports::heap::HeapReport;

pub fn document(r: &HeapReport) -> Document {
    let mut doc = Document::new();
    doc.heading("Go heap");
    doc.paragraph(format!(
        "{}, {} maps. {} in {} objects, {} spans ({} of span pages).",
        r.go_version,
        r.map_implementation.unwrap_or("unknown"),
        iec_bytes(r.in_use_bytes.into()),
        r.objects,
        r.spans,
        iec_bytes(r.span_bytes.into()),
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
        doc.paragraph(n.to_string());
    }
    if !r.warnings.is_empty() {
        doc.heading("Warnings");
        doc.list(r.warnings.iter().map(|w| w.to_string()).collect());
    }
    doc
}
