//! `mapscope heap`'s report: the Go heap as the core holds it — version,
//! map implementation, in-use bytes/objects/spans, totals per size class
//! and per recorded type, and the runtime's own statistics beside the
//! walk's totals.

use crate::coverage::Coverage;
use crate::error::IncidentError;
use crate::open::{open_go, ExeFiles};
use crate::reports::hex_addr;
use crate::warning::{library, Warning};
use mapscope_goruntime::dwarf::MapFlavour;
use serde::Serialize;
use std::path::Path;

/// The runtime's own statistics at the moment of the core.
#[derive(Serialize, Debug, Clone)]
pub struct RuntimeStats {
    /// `HeapAlloc` as `ReadMemStats` would have said at the moment of the core.
    pub heap_alloc: u64,
    pub heap_objects: u64,
    /// From `memstats.heapStats` alone, without slots allocated from spans
    /// still cached in a P's mcache.
    pub heap_alloc_consistent: u64,
    pub mcache_pending_bytes: u64,
    pub heap_inuse: Option<u64>,
    pub pages_in_use_bytes: Option<u64>,
    pub heap_free: Option<u64>,
    pub heap_released: Option<u64>,
    pub stack_inuse: u64,
    pub total_alloc: u64,
    pub mallocs: u64,
    pub frees: u64,
    pub num_gc: Option<u64>,
    pub mem_profile_rate: Option<i64>,
}

/// One size class with objects or spans.
#[derive(Serialize, Debug, Clone)]
pub struct SizeClass {
    pub size_class: u8,
    pub size: u64,
    pub objects: u64,
    pub bytes: u64,
    pub spans: u64,
    /// `BySize` mallocs − frees from the runtime's statistics.
    pub runtime_objects: Option<u64>,
}

/// One type the runtime recorded (malloc headers, large objects).
#[derive(Serialize, Debug, Clone)]
pub struct HeapType {
    #[serde(rename = "type")]
    pub name: Option<String>,
    pub type_address: String,
    pub objects: u64,
    pub bytes: u64,
}

/// `mapscope heap --format json`.
#[derive(Serialize, Debug)]
pub struct HeapReport {
    pub go_version: String,
    pub map_implementation: Option<&'static str>,
    pub in_use_bytes: u64,
    pub objects: u64,
    pub spans: u64,
    pub span_bytes: u64,
    pub runtime_stats: Option<RuntimeStats>,
    pub size_classes: Vec<SizeClass>,
    pub types: Vec<HeapType>,
    pub profile_buckets: usize,
    pub profiled_objects: usize,
    pub arenas: Vec<[String; 2]>,
    /// Where the spans came from: `allspans`, `arena-spans` (allspans was
    /// unreadable) or `none` (no span metadata in the core).
    pub span_source: &'static str,
    /// What the core holds of what it declares, per kind of memory.
    pub coverage: Coverage,
    /// How inputs were found (not problems).
    pub notes: Vec<Warning>,
    pub warnings: Vec<Warning>,
}

/// Walks the heap of `core` (with `exe`, or the core's own executable)
/// and reports it, listing the `top` largest recorded types.
pub fn heap_report(
    core: &Path,
    exe: ExeFiles<'_>,
    top: usize,
) -> Result<HeapReport, IncidentError> {
    let (process, notes) = open_go(core, exe)?;
    let heap = process.heap().map_err(|source| IncidentError::Process {
        path: core.to_path_buf(),
        source,
    })?;
    let coverage = Coverage::of(&process);
    let mut warnings: Vec<Warning> = library(process.warnings()).collect();
    warnings.extend(coverage.warning());
    warnings.extend(library(heap.warnings()));
    if heap.suppressed_warnings() > 0 {
        warnings.push(Warning::HeapWarningsSuppressed {
            count: heap.suppressed_warnings(),
        });
    }
    let stats = heap.runtime_stats();
    let size_classes = heap
        .size_classes()
        .iter()
        .filter(|c| c.objects > 0 || c.spans > 0)
        .map(|c| SizeClass {
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
    let types = heap
        .types()
        .iter()
        .take(top)
        .map(|t| HeapType {
            name: t.name.clone(),
            type_address: hex_addr(t.type_address),
            objects: t.objects,
            bytes: t.bytes,
        })
        .collect();
    Ok(HeapReport {
        go_version: process.version_string().to_string(),
        map_implementation: process.map_implementation().map(|m| match m {
            MapFlavour::Classic => "classic",
            MapFlavour::Swiss => "swiss",
        }),
        in_use_bytes: heap.in_use_bytes(),
        objects: heap.object_count(),
        spans: heap.spans().len() as u64,
        span_bytes: heap.span_bytes(),
        runtime_stats: stats.map(|s| RuntimeStats {
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
    })
}
