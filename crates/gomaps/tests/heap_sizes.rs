//! Two independent ways to size a map's storage agree: the heap walk's
//! slot of every storage object (goruntime's `Heap`) and the size-class
//! estimate from the requested size. With the heap walk no object is
//! estimated, every storage object is an allocated slot, and the
//! pointer-free maps still retain exactly their storage (truth.json).

use std::path::Path;

use mapscope_gomaps::{MapDecoder, MapTarget, NoHeapIndex, SizeSource};
use mapscope_goruntime::GoProcess;
use mapscope_testsupport::sample;

fn parse_addr(v: &serde_json::Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16).unwrap_or(0)
}

fn check(name: &str) {
    let s = sample(name);
    check_files(name, &s.core, &s.exe, &s.truth(), true);
}

fn check_files(name: &str, core: &Path, exe: &Path, truth: &serde_json::Value, exact: bool) {
    let process = GoProcess::open(core, Some(exe)).expect("process");
    let heap = process.heap().expect("heap walk");
    let dwarf = process.dwarf().expect("dwarf");
    let decoder = MapDecoder::new(process.memory(), dwarf);
    let mut checked = 0;
    for m in truth["maps"].as_array().unwrap() {
        let root = m["root"].as_str().unwrap();
        let Some(global) = dwarf.globals().by_name(root) else {
            continue;
        };
        let Some(MapTarget::Map { .. } | MapTarget::SyncMap { .. }) = decoder.target(global.ty)
        else {
            continue;
        };
        let addr = parse_addr(&m["address"]);
        let walked = decoder
            .decode(global.ty, addr, heap)
            .expect("decode with heap");
        let estimated = decoder
            .decode(global.ty, addr, &NoHeapIndex)
            .expect("decode estimated");
        let mname = m["name"].as_str().unwrap();
        assert_eq!(
            walked.estimated_objects,
            0,
            "{name} {mname}: objects not found by the heap walk: {:?}",
            walked
                .objects
                .iter()
                .filter(|o| o.size_source == SizeSource::SizeClass)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            walked.objects.len(),
            estimated.objects.len(),
            "{name} {mname}: object count"
        );
        for (w, e) in walked.objects.iter().zip(&estimated.objects) {
            assert_eq!(
                (w.kind, w.address, w.base, w.size),
                (e.kind, e.address, e.base, e.size),
                "{name} {mname}"
            );
        }
        assert_eq!(
            walked.storage_bytes, estimated.storage_bytes,
            "{name} {mname}"
        );
        if mname == "growingIndex" || mname == "eventsByTime" {
            // Byte-exact on the shipped samples; the program's HeapAlloc
            // delta may carry a few unrelated bytes elsewhere (go1.25: +96).
            let retained = m["retained_bytes"].as_u64().unwrap();
            let slack = if exact { 0 } else { retained / 100 };
            assert!(
                walked.storage_bytes.abs_diff(retained) <= slack,
                "{name} {mname}: storage {} retained {retained}",
                walked.storage_bytes
            );
        }
        checked += 1;
    }
    assert!(checked >= 8, "{name}: only {checked} maps checked");
}

#[test]
fn go1_22_heap_walk_and_size_classes_agree() {
    check("go1.22");
}

#[test]
fn go1_26_heap_walk_and_size_classes_agree() {
    check("go1.26");
}

/// Every mapzoo incident of the corpus (`$MAPSCOPE_CORPUS/mapzoo`,
/// scripts/gen-corpus.sh): `MAPSCOPE_CORPUS=DIR cargo test -p
/// mapscope-gomaps --test heap_sizes -- --ignored`.
#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn all_local_incidents_heap_walk_and_size_classes_agree() {
    use mapscope_testsupport::corpus;
    let mut checked = Vec::new();
    for dir in corpus::incidents("mapzoo") {
        let text = std::fs::read_to_string(dir.join("truth.json"))
            .unwrap_or_else(|e| panic!("{}/truth.json: {e}", dir.display()));
        let truth: serde_json::Value = serde_json::from_str(&text).unwrap();
        let name = corpus::name(&dir);
        check_files(&name, &dir.join("core"), &dir.join("mapzoo"), &truth, false);
        println!("{name}: heap walk and size classes agree");
        checked.push(name);
    }
    corpus::assert_checked("mapzoo", &checked, &[]);
}
