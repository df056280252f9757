//! Reachability from the GC's roots (`ObjectGraph::shortest_paths` over the
//! root set) and what it decides about map storage no typed root path
//! reaches (`mapscope_gomaps::unrooted`): garbage is summed in
//! `Discovery::garbage`, never listed as a map; reachable storage is listed
//! with its path from a root.
//!
//! Independent truths:
//! - `samples/programs/growgarbage` (incidents from
//!   `scripts/gen-garbage.sh`, default `/tmp/garbage-incidents`, or
//!   `MAPSCOPE_GARBAGE_INCIDENTS`): the runtime's `HeapAlloc` and
//!   `HeapObjects` before the core and after a `runtime.GC()` run right
//!   after it — their difference is exactly what the GC found unreachable
//!   at the moment of the core, which must equal the bytes and objects no
//!   root reaches here; the program grows one live map from empty and drops
//!   one whole map.
//! - The shipped samples: mapzoo runs `runtime.GC()` just before the core
//!   and keeps every map it built (truth.json lists them): no map storage
//!   is garbage, and every map has a root.
//! - A mapzoo incident made with `MAPZOO_EXTRA_ROOTS=1` (its `opaqueIndex`
//!   is a map only the global `main.opaqueIndex`, an `unsafe.Pointer`,
//!   refers to — `samples/programs/mapzoo/roots_extra.go`): listed with
//!   the path through that global, not counted as garbage.

use std::path::PathBuf;

use mapscope_gomaps::discover::{discover, RootKind};
use mapscope_goruntime::GoProcess;
use mapscope_testsupport::sample;
use serde_json::Value;

fn parse_addr(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

/// Bytes the runtime may allocate between growgarbage's ReadMemStats and
/// the core (or the GC after it): measured up to 5,344 B on a loaded
/// machine (Go 1.25 and 1.27, not repeatable on a rerun).
const STATS_SLACK: u64 = 8192;

/// Go 1.22 brought malloc headers, by which the heap walk names a dead
/// object's type; before them unreachable map storage is not told apart
/// from other garbage (mapscope_gomaps::unrooted), so for Go 1.21 only the
/// unreachable total is checked.
fn types_dead_objects(go_version: &str) -> bool {
    let minor = go_version
        .strip_prefix("go1.")
        .and_then(|r| r.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    minor.is_some_and(|m| m >= 22)
}

/// The corpus's incidents of `kind` (`$MAPSCOPE_CORPUS/<kind>`, made by
/// scripts/gen-corpus.sh); each must hold its executable `marker`.
fn corpus_dirs(kind: &str, marker: &str) -> Vec<PathBuf> {
    let dirs = mapscope_testsupport::corpus::incidents(kind);
    for d in &dirs {
        assert!(d.join(marker).is_file(), "{}: no {marker}", d.display());
    }
    dirs
}

/// Shipped samples: the GC ran right before the core and every map is
/// live, so no map storage is garbage and no map row lacks a root.
#[test]
fn shipped_samples_have_no_map_garbage() {
    for name in ["go1.22", "go1.26", "go1.26-gcore"] {
        let s = sample(name);
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open core");
        let d = discover(&process).expect("discover");
        assert_eq!(d.garbage.objects, 0, "{name}: {:?}", d.garbage);
        assert_eq!(d.garbage.dropped_map_count, 0, "{name}");
        let unknown: Vec<&str> = d
            .maps
            .iter()
            .filter(|m| m.root_kind == RootKind::Unknown)
            .map(|m| m.root.as_str())
            .collect();
        assert!(
            unknown.is_empty(),
            "{name}: maps without a root: {unknown:?}"
        );
        let truth = s.truth();
        for t in truth["maps"].as_array().cloned().unwrap_or_default() {
            let addr = parse_addr(&t["address"]);
            assert!(
                d.maps.iter().any(|m| m.address == addr),
                "{name}: truth map {} at {addr:#x} not listed",
                t["name"]
            );
        }
    }
}

/// growgarbage: what no root reaches is exactly what the runtime's GC
/// freed right after the core (HeapAlloc and HeapObjects); the grown map is
/// listed with its root, its old arrays and the dropped map are garbage.
#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn garbage_is_what_the_gc_frees() {
    let dirs = corpus_dirs("garbage", "growgarbage");
    let mut checked = Vec::new();
    for dir in dirs {
        checked.push(mapscope_testsupport::corpus::name(&dir));
        let name = dir.display().to_string();
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap())
                .expect("truth.json");
        let process =
            GoProcess::open(&dir.join("core"), Some(&dir.join("growgarbage"))).expect("open");
        let heap = process.heap().expect("heap");
        let d = discover(&process).expect("discover");
        let g = &d.garbage;
        let at_core = truth["heap_alloc_at_core"].as_u64().unwrap();
        let after_gc = truth["heap_alloc_after_gc"].as_u64().unwrap();
        // The core's heap is the runtime's HeapAlloc before the core, up to
        // the few bytes allocated between ReadMemStats and gcore.
        assert!(
            heap.in_use_bytes().abs_diff(at_core) <= STATS_SLACK,
            "{name}: in use {} vs HeapAlloc {at_core}",
            heap.in_use_bytes()
        );
        let freed = heap.in_use_bytes().saturating_sub(after_gc);
        assert!(
            g.heap_unreachable.bytes.abs_diff(freed) <= STATS_SLACK,
            "{name}: unreachable {} B, the GC freed {freed} B",
            g.heap_unreachable.bytes
        );
        let version = truth["go_version"].as_str().unwrap_or("?");
        if !types_dead_objects(version) {
            eprintln!(
                "{name}: {version} has no malloc headers: unreachable total checked, its map storage part not"
            );
            continue;
        }
        let objects_freed = truth["heap_objects_at_core"].as_u64().unwrap()
            - truth["heap_objects_after_gc"].as_u64().unwrap();
        assert!(
            g.heap_unreachable.objects.abs_diff(objects_freed) <= 8,
            "{name}: unreachable {} objects, the GC freed {objects_freed}",
            g.heap_unreachable.objects
        );
        // Map garbage is part of what the GC freed.
        assert!(g.bytes <= g.heap_unreachable.bytes, "{name}: {g:?}");
        assert_eq!(
            g.objects,
            g.left_by_growth.objects + g.dropped_maps.objects + g.other.objects
        );
        // The dropped map (main.sink set to nil), whole.
        assert_eq!(g.dropped_map_count, 1, "{name}: {g:?}");
        // The live map, with its root and len, is a row; its old arrays
        // (it grew from empty: together about its current storage) are not.
        let live = &truth["live_map"];
        let m = d
            .maps
            .iter()
            .find(|m| m.address == parse_addr(&live["address"]))
            .unwrap_or_else(|| panic!("{name}: main.grown not listed"));
        assert_eq!(m.root, "main.grown");
        assert_eq!(m.len, live["len"].as_u64().unwrap());
        assert!(
            g.left_by_growth.bytes * 2 >= m.storage_bytes,
            "{name}: old storage {} B for a map of {} B grown from empty",
            g.left_by_growth.bytes,
            m.storage_bytes
        );
        assert!(
            d.maps.iter().all(|m| m.root_kind != RootKind::Unknown),
            "{name}: a map without a root"
        );
        let line = g.describe().expect("a garbage line");
        assert!(line.contains("old storage left by growth"), "{line}");
    }
    mapscope_testsupport::corpus::assert_checked("garbage", &checked, &[]);
}

/// opaqueIndex (MAPZOO_EXTRA_ROOTS=1): named by its path through the
/// `unsafe.Pointer` global, with its truth len, and not garbage.
#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn opaque_index_is_named_by_its_path() {
    let mut checked = Vec::new();
    for dir in corpus_dirs("extra-roots", "mapzoo") {
        let name = dir.display().to_string();
        let truth: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap())
                .expect("truth.json");
        let Some(t) = truth["maps"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["name"] == "opaqueIndex"))
        else {
            continue;
        };
        let process = GoProcess::open(&dir.join("core"), Some(&dir.join("mapzoo"))).expect("open");
        let d = discover(&process).expect("discover");
        let m = d
            .maps
            .iter()
            .find(|m| m.address == parse_addr(&t["address"]))
            .unwrap_or_else(|| panic!("{name}: opaqueIndex not listed"));
        assert_eq!(m.root, "main.opaqueIndex (unsafe.Pointer) → map", "{name}");
        assert_eq!(m.root_kind, RootKind::Global, "{name}");
        assert_eq!(m.len, t["len"].as_u64().unwrap(), "{name}");
        assert_eq!(m.type_name, t["type"].as_str().unwrap(), "{name}");
        assert_eq!(d.garbage.objects, 0, "{name}: {:?}", d.garbage);
        checked.push(mapscope_testsupport::corpus::name(&dir));
    }
    mapscope_testsupport::corpus::assert_checked("extra-roots", &checked, &[]);
}
