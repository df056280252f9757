//! `mapscope maps` against the sample program's truth.json: every recorded
//! map appears at its address with its root, kind, type and len; the list
//! is sorted by retained bytes; bad input exits 2.

use mapscope_testsupport::sample;
use serde_json::Value;

fn run_json(name: &str, extra: &[&str]) -> Value {
    let s = sample(name);
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"maps", &s.core, &"--exe", &s.exe, &"--format", &"json"];
    args.extend(extra.iter().map(|e| e as &dyn AsRef<std::ffi::OsStr>));
    let out = mapscope_testsupport::run_cli(env!("CARGO_BIN_EXE_mapscope"), &args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).expect("json")
}

fn check_truth(name: &str) {
    let json = run_json(name, &[]);
    let truth = sample(name).truth();
    assert_eq!(json["go_version"], truth["go_version"]);
    let maps = json["maps"].as_array().unwrap();
    for t in truth["maps"].as_array().unwrap() {
        let m = maps
            .iter()
            .find(|m| m["address"] == t["address"])
            .unwrap_or_else(|| panic!("{name} {}: not listed", t["name"]));
        for k in ["root", "root_kind", "kind", "type", "len"] {
            assert_eq!(m[k], t[k], "{name} {} {k}", t["name"]);
        }
    }
    let retained: Vec<u64> = maps
        .iter()
        .map(|m| m["retained_bytes"].as_u64().unwrap_or(0))
        .collect();
    assert!(
        retained.windows(2).all(|w| w[0] >= w[1]),
        "sorted by retained"
    );
}

#[test]
fn go1_26_maps_match_truth() {
    check_truth("go1.26");
}

#[test]
fn go1_22_maps_match_truth() {
    check_truth("go1.22");
}

#[test]
fn top_limits_and_families_carry_children() {
    let json = run_json("go1.26", &["--top", "3"]);
    assert_eq!(json["maps"].as_array().unwrap().len(), 3);
    let truth = sample("go1.26").truth();
    let t = truth["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["root"] == "main.smallMaps")
        .unwrap();
    let members = t["len"].as_u64().unwrap();
    let family = |json: &Value| -> Value {
        json["maps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["root"] == "main.smallMaps")
            .unwrap()
            .clone()
    };
    // Default: the 100 largest members listed, the rest counted.
    let fam = family(&run_json("go1.26", &[]));
    assert_eq!(fam["kind"], "map-family");
    assert_eq!(fam["len"].as_u64(), Some(members));
    let listed = fam["children"].as_array().unwrap();
    assert_eq!(listed.len(), 100);
    assert_eq!(fam["children_omitted"].as_u64(), Some(members - 100));
    let storage: Vec<u64> = listed
        .iter()
        .map(|c| c["storage_bytes"].as_u64().unwrap())
        .collect();
    assert!(storage.windows(2).all(|w| w[0] >= w[1]), "largest first");
    // --children 0: every member, each recorded one at its address and len.
    let fam = family(&run_json("go1.26", &["--children", "0"]));
    let all = fam["children"].as_array().unwrap();
    assert_eq!(all.len() as u64, members);
    assert_eq!(fam["children_omitted"].as_u64(), Some(0));
    let total_len: u64 = all.iter().map(|c| c["len"].as_u64().unwrap()).sum();
    assert_eq!(Some(total_len), t["members_total_len"].as_u64());
    for tc in t["children"].as_array().unwrap() {
        let c = all
            .iter()
            .find(|c| c["address"] == tc["address"])
            .unwrap_or_else(|| panic!("member {} not listed", tc["address"]));
        assert_eq!(c["len"], tc["len"]);
    }
}

#[test]
fn missing_core_exits_2() {
    let out = mapscope_testsupport::run_cli(
        env!("CARGO_BIN_EXE_mapscope"),
        &[&"maps", &"/nonexistent/core"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn one_thread_finds_the_same_maps() {
    // `--jobs 1` runs every parallel pass on one thread: the maps, their
    // truth-checked fields and retained bytes must not depend on it.
    let default = run_json("go1.22", &[]);
    let sequential = run_json("go1.22", &["--jobs", "1"]);
    assert_eq!(default["maps"], sequential["maps"]);
    check_truth("go1.22");
}

#[test]
fn zero_jobs_is_refused() {
    let s = sample("go1.22");
    let out = mapscope_testsupport::run_cli(
        env!("CARGO_BIN_EXE_mapscope"),
        &[&"maps", &s.core, &"--exe", &s.exe, &"--jobs", &"0"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--jobs"), "{}", out.stderr);
}
