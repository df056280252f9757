//! The JSON contract across commands (`docs/cli.md`):
//! - `maps` and `analyze` print one MAP object: the same keys and values
//!   for every map and family member, `analyze` adding only the profile
//!   attribution (`inuse_space`, `alloc_sites`, null/empty in `maps`);
//!   the values are checked against the sample program's truth.json (root,
//!   root kind and origin, kind, type, len, capacity, members' entries,
//!   key/value types, sizes and indirect storage against the runtime's
//!   bucket/group size and flags as the program recorded them);
//! - every command's JSON document starts with `schema_version`;
//! - `accounting[].id` is unique, known, and in the documented order.

use mapscope_testsupport::{run_analyze, run_cli, sample, Sample};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

const SCHEMA_VERSION: u64 = 2;

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let out = run_cli(env!("CARGO_BIN_EXE_mapscope"), args);
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    out.stdout
}

fn maps_json(s: &Sample) -> Value {
    let text = run(&[&"maps", &s.core, &"--exe", &s.exe, &"--format", &"json"]);
    serde_json::from_str(&text).expect("maps json")
}

fn analyze_json(s: &Sample) -> Value {
    let out = run_analyze(env!("CARGO_BIN_EXE_mapscope"), s, &[&"--format", &"json"]);
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("analyze json")
}

/// Every MAP object of a document, family members included, by
/// (address, root).
fn flatten(maps: &Value) -> HashMap<(String, String), Value> {
    fn walk(v: &Value, out: &mut HashMap<(String, String), Value>) {
        for m in v.as_array().into_iter().flatten() {
            let key = (
                m["address"].as_str().unwrap_or("").to_string(),
                m["root"].as_str().unwrap_or("").to_string(),
            );
            out.insert(key, m.clone());
            walk(&m["children"], out);
        }
    }
    let mut out = HashMap::new();
    walk(maps, &mut out);
    out
}

/// The attribution keys only `analyze` fills.
const ATTRIBUTION: [&str; 2] = ["inuse_space", "alloc_sites"];

#[test]
fn maps_and_analyze_print_the_same_map_objects() {
    let s = sample("go1.26");
    let maps = maps_json(&s);
    let analyze = analyze_json(&s);
    let from_maps = flatten(&maps["maps"]);
    let from_analyze = flatten(&analyze["maps"]);
    assert!(!from_maps.is_empty());
    // analyze lists its top maps in the same order (--top limits only the
    // table): the same set of maps and members.
    let a: BTreeSet<_> = from_maps.keys().collect();
    let b: BTreeSet<_> = from_analyze.keys().collect();
    assert_eq!(a, b, "the same maps and members");
    for (key, m) in &from_maps {
        let n = &from_analyze[key];
        let mk: BTreeSet<&String> = m.as_object().unwrap().keys().collect();
        let nk: BTreeSet<&String> = n.as_object().unwrap().keys().collect();
        assert_eq!(mk, nk, "{key:?}: the same keys");
        for (k, v) in m.as_object().unwrap() {
            if k == "children" {
                continue;
            }
            if ATTRIBUTION.contains(&k.as_str()) {
                // maps reads no profile.
                assert!(v.is_null() || v == &Value::Array(vec![]), "{key:?} {k}");
                continue;
            }
            assert_eq!(v, &n[k], "{key:?} {k}");
        }
        let children = |v: &Value| -> Vec<Value> {
            v["children"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["address"].clone())
                .collect()
        };
        assert_eq!(children(m), children(n), "{key:?} children");
    }
    // analyze attributes every top-level map (a number, never null).
    for m in analyze["maps"].as_array().unwrap() {
        assert!(m["inuse_space"].is_i64(), "{}", m["root"]);
    }
}

/// Slot bytes of a key or value: a pointer when stored indirectly.
fn slot(v: &Value) -> u64 {
    if v["indirect"].as_bool().unwrap() {
        8
    } else {
        v["size"].as_u64().unwrap()
    }
}

fn check_truth(name: &str) {
    let s = sample(name);
    let truth = s.truth();
    let maps = maps_json(&s);
    let all = maps["maps"].as_array().unwrap();
    for t in truth["maps"].as_array().unwrap() {
        let tn = t["name"].as_str().unwrap();
        let m = all
            .iter()
            .find(|m| m["address"] == t["address"])
            .unwrap_or_else(|| panic!("{name} {tn}: not listed"));
        for k in ["root", "root_kind", "kind", "type", "len"] {
            assert_eq!(m[k], t[k], "{name} {tn} {k}");
        }
        // The root's origin, typed: the variable (the holder's root for a
        // map reached through heap fields), or the goroutine and function.
        let origin = &m["root_origin"];
        match t["root_kind"].as_str().unwrap() {
            "goroutine" => {
                assert_eq!(origin["kind"], "goroutine", "{name} {tn}");
                assert_eq!(origin["goroutine"], t["goroutine"], "{name} {tn}");
                assert_eq!(origin["function"], t["function"], "{name} {tn}");
                assert_eq!(m["root_via"], "variable", "{name} {tn}");
            }
            kind => {
                let variable = match kind {
                    "heap" => &t["holder"]["root"],
                    _ => &t["root"],
                };
                assert_eq!(origin["kind"], "global", "{name} {tn}");
                assert_eq!(&origin["variable"], variable, "{name} {tn}");
                let via = if kind == "heap" { "typed" } else { "variable" };
                assert_eq!(m["root_via"], via, "{name} {tn}");
            }
        }
        if let Some(total) = t["members_total_len"].as_u64() {
            assert_eq!(m["entries"].as_u64(), Some(total), "{name} {tn}");
            assert!(m["key"].is_null() && m["value"].is_null());
            continue;
        }
        assert_eq!(m["entries"], t["len"], "{name} {tn}");
        if t["kind"] != "map" {
            continue;
        }
        // Key and value: their names make the map's type, their slots its
        // buckets/groups as the runtime laid them out.
        let (k, v) = (&m["key"], &m["value"]);
        let ty = format!(
            "map[{}]{}",
            k["type"].as_str().unwrap(),
            v["type"].as_str().unwrap()
        );
        assert_eq!(t["type"].as_str(), Some(ty.as_str()), "{name} {tn}");
        let st = &t["storage"];
        assert_eq!(k["indirect"], st["indirect_keys"], "{name} {tn}");
        assert_eq!(v["indirect"], st["indirect_elems"], "{name} {tn}");
        let (ks, vs) = (slot(k), slot(v));
        if let Some(group) = st["group_size"].as_u64() {
            // Swiss: a control word and 8 slots of {key, value}.
            assert_eq!(group, 8 + 8 * (ks + vs).next_multiple_of(8), "{name} {tn}");
            assert_eq!(m["capacity"], st["capacity"], "{name} {tn}");
        } else {
            // Classic: 8 tophash bytes, 8 keys, 8 values, overflow pointer.
            let bucket = st["bucket_size"].as_u64().expect("bucket_size");
            assert_eq!(bucket, 16 + 8 * (ks + vs), "{name} {tn}");
            let buckets = st["buckets"].as_u64().expect("buckets");
            assert_eq!(m["capacity"].as_u64(), Some(8 * buckets), "{name} {tn}");
        }
    }
}

#[test]
fn go1_26_map_objects_match_truth() {
    check_truth("go1.26");
}

#[test]
fn go1_22_map_objects_match_truth() {
    check_truth("go1.22");
}

/// The first key of a JSON document's text.
fn first_key(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix('{')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    rest.split('"').next()
}

fn assert_versioned(what: &str, text: &str) {
    assert_eq!(
        first_key(text),
        Some("schema_version"),
        "{what}: {text:.200}"
    );
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(v["schema_version"].as_u64(), Some(SCHEMA_VERSION), "{what}");
}

#[test]
fn every_command_json_has_schema_version() {
    let s = sample("go1.26");
    let json: [&dyn AsRef<std::ffi::OsStr>; 2] = [&"--format", &"json"];
    let exe: [&dyn AsRef<std::ffi::OsStr>; 2] = [&"--exe", &s.exe];
    let runs: Vec<(&str, Vec<&dyn AsRef<std::ffi::OsStr>>)> = vec![
        ("top", vec![&"top", &s.profile]),
        ("regions", vec![&"regions", &s.core, exe[0], exe[1]]),
        ("check", vec![&"check", &s.profile, &s.core, exe[0], exe[1]]),
        ("heap", vec![&"heap", &s.core, exe[0], exe[1]]),
        ("goroutines", vec![&"goroutines", &s.core, exe[0], exe[1]]),
        ("maps", vec![&"maps", &s.core, exe[0], exe[1]]),
        ("analyze", vec![&"analyze", &s.core, exe[0], exe[1]]),
    ];
    for (what, mut args) in runs {
        args.extend(json.iter().copied());
        assert_versioned(what, &run(&args));
    }
    // batch: its summary (stdout and summary.json) and each report.json.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("incidents").join("one");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&s.core, dir.join("core")).unwrap();
    std::os::unix::fs::symlink(&s.exe, dir.join("mapzoo")).unwrap();
    let out = tmp.path().join("out");
    let text = run(&[
        &"batch",
        &tmp.path().join("incidents"),
        &"-o",
        &out,
        &"--format",
        &"json",
    ]);
    assert_versioned("batch summary", &text);
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert_versioned("batch summary.json", &summary);
    let report = std::fs::read_to_string(out.join("one").join("report.json")).unwrap();
    assert_versioned("batch report.json", &report);
}

#[test]
fn accounting_ids_are_unique_and_stable() {
    let s = sample("go1.26");
    let v = analyze_json(&s);
    let ids: Vec<&str> = v["accounting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().expect("id"))
        .collect();
    // The sample's profile has live samples: both profile layers, no
    // cgroup file given.
    assert_eq!(
        ids,
        [
            "rss",
            "go_heap",
            "profile_inuse",
            "maps_attributed",
            "maps_retained"
        ]
    );
    for l in v["accounting"].as_array().unwrap() {
        assert!(l["layer"].as_str().is_some_and(|s| !s.is_empty()));
    }
}
