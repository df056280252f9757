//! `mapscope heap CORE --exe EXE` on the shipped incidents, checked against
//! what the crashed program recorded (`truth.json`: `runtime.ReadMemStats`
//! just before it encoded the file) and against the runtime's statistics
//! in the same core. Exit 2 with a one-line reason when the executable has
//! no DWARF (layouts unknown) or the core cannot be read.

use mapscope_testsupport::sample;
use serde_json::Value;
fn mapscope(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (i32, String, String) {
    let r = mapscope_testsupport::run_cli(env!("CARGO_BIN_EXE_mapscope"), args);
    (r.code, r.stdout, r.stderr)
}

fn rel(a: u64, b: u64) -> f64 {
    a.abs_diff(b) as f64 / b.max(1) as f64
}

#[test]
fn heap_json_agrees_with_truth() {
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let truth = s.truth();
        let (code, out, err) =
            mapscope(&[&"heap", &s.core, &"--exe", &s.exe, &"--format", &"json"]);
        assert_eq!(code, 0, "{err}");
        let j: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(j["go_version"], truth["go_version"]);
        assert_eq!(j["map_implementation"], truth["map_implementation"]);
        let in_use = j["in_use_bytes"].as_u64().unwrap();
        let objects = j["objects"].as_u64().unwrap();
        let ms = &truth["memstats"];
        assert!(
            rel(in_use, ms["HeapAlloc"].as_u64().unwrap()) < 0.01,
            "{name}: {in_use} vs {}",
            ms["HeapAlloc"]
        );
        assert!(rel(objects, ms["HeapObjects"].as_u64().unwrap()) < 0.025);
        assert_eq!(j["runtime_stats"]["heap_alloc"].as_u64(), Some(in_use));
        assert_eq!(j["runtime_stats"]["heap_objects"].as_u64(), Some(objects));
        assert_eq!(j["runtime_stats"]["heap_inuse"], j["span_bytes"]);
        assert_eq!(
            j["runtime_stats"]["mem_profile_rate"],
            truth["mem_profile_rate"]
        );
        let classes = j["size_classes"].as_array().unwrap();
        let sum: u64 = classes.iter().map(|c| c["bytes"].as_u64().unwrap()).sum();
        assert_eq!(sum, in_use);
        let objs: u64 = classes.iter().map(|c| c["objects"].as_u64().unwrap()).sum();
        assert_eq!(objs, objects);
        assert!(j["spans"].as_u64().unwrap() > 100);
        let storage = if truth["map_implementation"] == "swiss" {
            "map.group["
        } else {
            "map.bucket["
        };
        assert!(j["types"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["type"].as_str().is_some_and(|n| n.starts_with(storage))));
        assert!(
            j["warnings"].as_array().unwrap().is_empty(),
            "{}",
            j["warnings"]
        );
    }
}

#[test]
fn heap_table_shows_both_columns() {
    let s = sample("go1.26");
    let (code, out, err) = mapscope(&[&"heap", &s.core, &"--exe", &s.exe]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("go1.26.6, swiss maps"), "{out}");
    assert!(out.contains("runtime (memstats)"));
    assert!(out.contains("map.group[int64]*main.Job"));
}

/// Without DWARF the heap comes from the built-in layout table (issue 17):
/// the same numbers as with DWARF, and one warning naming the table. An
/// empty core still exits 2.
#[test]
fn heap_without_dwarf_uses_the_layout_table_and_empty_core_exits_2() {
    let s = sample("go1.22");
    let dir = tempfile::tempdir().unwrap();
    let stripped = dir.path().join("mapzoo-stripped");
    mapscope_testsupport::write_without_dwarf(&s.exe, &stripped);
    let json = |exe: &dyn AsRef<std::ffi::OsStr>| {
        let (code, out, err) = mapscope(&[&"heap", &s.core, &"--exe", exe, &"--format", &"json"]);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let (table, dwarf) = (json(&stripped), json(&s.exe));
    for key in [
        "in_use_bytes",
        "objects",
        "span_bytes",
        "map_implementation",
    ] {
        assert_eq!(table[key], dwarf[key], "{key}");
    }
    let warnings: Vec<&str> = table["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .collect();
    assert!(
        warnings.iter().any(|w| w.starts_with(
            "no DWARF: runtime layouts from the built-in table for go1.22.10 linux/amd64"
        )),
        "{warnings:?}"
    );

    let empty = dir.path().join("empty-core");
    std::fs::write(&empty, b"").unwrap();
    let (code, _, err) = mapscope(&[&"heap", &empty, &"--exe", &s.exe]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("empty-core"), "{err}");
}
