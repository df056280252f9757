//! Every map the sample program recorded in truth.json, decoded from the
//! core at the recorded address with the static type a root walk finds,
//! and compared field by field with what the live program measured:
//! `len`, header fields, and the storage walk's counts.

mod common;

use common::{check_incident, compare, Checked, Incident};
use mapscope_testsupport::sample;

fn assert_incident(inc: &Incident) {
    let checked = check_incident(inc);
    assert!(!checked.is_empty(), "{}: no maps in truth.json", inc.name);
    let mut failures = Vec::new();
    for c in &checked {
        for d in &c.diffs {
            failures.push(format!("{} {}: {d}", inc.name, c.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn shipped(name: &str) -> Incident {
    let s = sample(name);
    Incident::open(name, &s.core, &s.exe, s.truth())
}

#[test]
fn go1_22_classic_maps_match_truth() {
    assert_incident(&shipped("go1.22"));
}

#[test]
fn go1_26_swiss_maps_match_truth() {
    assert_incident(&shipped("go1.26"));
}

#[test]
fn go1_26_gcore_swiss_maps_match_truth() {
    assert_incident(&shipped("go1.26-gcore"));
}

/// The structures a `len` check cannot see: a map caught mid-growth keeps
/// its old array, and big values live in cells of their own.
#[test]
fn go1_22_growth_and_indirect_values() {
    let inc = shipped("go1.22");
    let checked = check_incident(&inc);
    let find = |n: &str| {
        checked
            .iter()
            .find(|c| c.name == n)
            .and_then(|c| c.instance.as_ref())
            .unwrap()
    };
    let growing = find("growingIndex");
    assert!(growing.growing);
    assert!(growing
        .objects
        .iter()
        .any(|o| o.kind == mapscope_gomaps::StorageKind::OldBuckets));
    let blobs = find("blobCache");
    let cells = blobs
        .objects
        .iter()
        .filter(|o| o.kind == mapscope_gomaps::StorageKind::IndirectElem)
        .count();
    assert_eq!(cells as u64, blobs.len, "one indirect value cell per entry");
    assert_eq!(blobs.entries.len() as u64, blobs.len);
}

/// The comparison is not vacuous: a truth that differs in one field is
/// reported.
#[test]
fn comparison_detects_differences() {
    let inc = shipped("go1.22");
    let checked = check_incident(&inc);
    let sessions = checked.iter().find(|c| c.name == "sessions").unwrap();
    let decoded = sessions.instance.as_ref().unwrap();
    let truth = inc.truth["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "sessions")
        .unwrap();
    assert!(compare(truth, decoded).is_empty());
    for (section, key) in [
        ("header", "B"),
        ("header", "noverflow"),
        ("storage", "live_slots"),
        ("storage", "overflow_buckets"),
    ] {
        let mut t = truth.clone();
        t[section][key] = serde_json::json!(t[section][key].as_u64().unwrap() + 1);
        assert_eq!(compare(&t, decoded).len(), 1, "{section}.{key}");
    }
    let mut t = truth.clone();
    t["len"] = serde_json::json!(2999);
    assert_eq!(compare(&t, decoded).len(), 2, "len and live entries");
}

/// Maps whose keys and values hold no heap pointers retain exactly their
/// storage: `storage_bytes` (header, arrays with preallocated overflow
/// buckets, overflow buckets, mapextra and overflow lists, malloc headers,
/// size-class rounding) must equal the `HeapAlloc` delta the program
/// measured, to the byte.
fn pointer_free_storage(checked: &[Checked], truth: &serde_json::Value) -> Vec<(String, u64, u64)> {
    let mut out = Vec::new();
    for name in ["growingIndex", "eventsByTime"] {
        let retained = truth["maps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .and_then(|m| m["retained_bytes"].as_u64())
            .unwrap();
        let storage = checked
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.instance.as_ref())
            .map_or(0, |i| i.storage_bytes);
        out.push((name.to_string(), storage, retained));
    }
    out
}

#[test]
fn storage_bytes_equal_retained_bytes_for_pointer_free_maps() {
    for name in ["go1.22", "go1.26"] {
        let inc = shipped(name);
        for (map, storage, retained) in pointer_free_storage(&check_incident(&inc), &inc.truth) {
            assert_eq!(
                storage, retained,
                "{name} {map}: storage_bytes vs retained_bytes"
            );
        }
    }
}

/// Every mapzoo incident of the corpus (every Go version, variants;
/// `$MAPSCOPE_CORPUS/mapzoo`, scripts/gen-corpus.sh; the extra roots'
/// finalizer and unsafe.Pointer paths are beyond this test's static root
/// typing: tests/roots.rs and tests/garbage.rs check those): run
/// with `MAPSCOPE_CORPUS=DIR cargo test -p mapscope-gomaps --test truth --
/// --ignored --nocapture`.
#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn all_local_incidents_match_truth() {
    use mapscope_testsupport::corpus;
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for kind in ["mapzoo"] {
        let mut names = Vec::new();
        for dir in corpus::incidents(kind) {
            let inc = Incident::from_dir(&dir)
                .unwrap_or_else(|| panic!("{}: not a complete incident", dir.display()));
            names.push(corpus::name(&dir));
            let checked = check_incident(&inc);
            // Byte-exact is expected; the program's HeapAlloc delta can
            // carry a few bytes of unrelated runtime allocation: shown, and
            // a failure beyond 1%.
            let mut storage_exact = Vec::new();
            for (map, storage, retained) in pointer_free_storage(&checked, &inc.truth) {
                let delta = retained as i64 - storage as i64;
                if delta != 0 {
                    storage_exact.push(format!("{map} truth {delta:+} B"));
                }
                if delta.unsigned_abs() * 100 > retained {
                    failures.push(format!(
                        "{} {map}: storage_bytes {storage} retained_bytes {retained}",
                        inc.name
                    ));
                }
            }
            let storage_exact = if storage_exact.is_empty() {
                "exact".to_string()
            } else {
                storage_exact.join(", ")
            };
            let maps = checked.len();
            let bad: Vec<_> = checked.iter().filter(|c| !c.diffs.is_empty()).collect();
            let impl_ = inc.truth["map_implementation"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            let sync = inc.truth["sync_map_implementation"]
                .as_str()
                .unwrap_or("?")
                .to_string();
            let growing: Vec<String> = checked
                .iter()
                .filter(|c| c.instance.as_ref().is_some_and(|i| i.growing))
                .map(|c| c.name.clone())
                .collect();
            let warned = checked
                .iter()
                .filter(|c| c.instance.as_ref().is_some_and(|i| !i.warnings.is_empty()))
                .count();
            table.push(format!(
                "| {} | {} | {} | {} | {}/{} | {} | {} | {} |",
                inc.name,
                inc.truth["go_version"].as_str().unwrap_or("?"),
                impl_,
                sync,
                maps - bad.len(),
                maps,
                warned,
                storage_exact,
                growing.join(" ")
            ));
            for c in bad {
                for d in &c.diffs {
                    failures.push(format!("{} {}: {d}", inc.name, c.name));
                }
            }
        }
        corpus::assert_checked(kind, &names, &[]);
    }
    println!("| incident | go | maps | sync.Map | exact | with warnings | storage = retained | growing |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in &table {
        println!("{row}");
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
