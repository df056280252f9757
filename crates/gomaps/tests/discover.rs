//! `discover` against the sample program's truth.json: every recorded map
//! is found from the roots at its recorded address, with its `len`, root
//! path, root kind and type, and its retained bytes within 5% of the
//! `HeapAlloc` delta the live program measured.

use std::path::Path;

use mapscope_gomaps::discover::{discover, FoundMap};
use mapscope_goruntime::GoProcess;
use mapscope_testsupport::sample;
use serde_json::Value;

fn parse_addr(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

/// One line per truth map: (name, problems, retained ratio).
fn check(name: &str, core: &Path, exe: &Path, truth: &Value) -> Vec<(String, Vec<String>, f64)> {
    let process = GoProcess::open(core, Some(exe)).expect("open core");
    let found = discover(&process).expect("discover");
    let mut out = Vec::new();
    for t in truth["maps"].as_array().cloned().unwrap_or_default() {
        let tname = t["name"].as_str().unwrap_or("?").to_string();
        let addr = parse_addr(&t["address"]);
        let mut problems = Vec::new();
        let Some(m) = found.maps.iter().find(|m| m.address == addr) else {
            out.push((tname, vec![format!("{name}: not found at {addr:#x}")], 0.0));
            continue;
        };
        let want = |k: &str| t[k].as_str().unwrap_or("").to_string();
        if m.root != want("root") {
            problems.push(format!("root {} != {}", m.root, want("root")));
        }
        let kind = serde_json::to_value(m.root_kind).unwrap();
        if kind.as_str() != Some(want("root_kind").as_str()) {
            problems.push(format!("root_kind {kind} != {}", want("root_kind")));
        }
        if m.type_name != want("type") {
            problems.push(format!("type {} != {}", m.type_name, want("type")));
        }
        if m.kind != want("kind") {
            problems.push(format!("kind {} != {}", m.kind, want("kind")));
        }
        if Some(m.len) != t["len"].as_u64() {
            problems.push(format!("len {} != {}", m.len, t["len"]));
        }
        if let Some(total) = t["members_total_len"].as_u64() {
            let sum: u64 = m.children.iter().map(|c| c.len).sum();
            if sum != total {
                problems.push(format!("members_total_len {sum} != {total}"));
            }
        }
        let truth_retained = t["retained_bytes"].as_u64().unwrap_or(0) as f64;
        let ratio = m.retained_bytes.unwrap_or(0) as f64 / truth_retained.max(1.0);
        out.push((tname, problems, ratio));
    }
    out
}

fn report(name: &str, rows: &[(String, Vec<String>, f64)]) -> Vec<String> {
    let mut failures = Vec::new();
    for (n, problems, ratio) in rows {
        println!("{name:16} {n:18} retained ratio {ratio:.4} {problems:?}");
        failures.extend(problems.iter().map(|p| format!("{name} {n}: {p}")));
    }
    failures
}

fn shipped(name: &str) -> Vec<(String, Vec<String>, f64)> {
    let s = sample(name);
    check(name, &s.core, &s.exe, &s.truth())
}

#[test]
fn go1_22_maps_found_from_roots() {
    let failures = report("go1.22", &shipped("go1.22"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn go1_26_maps_found_from_roots() {
    let failures = report("go1.26", &shipped("go1.26"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn retained_within(name: &str) -> Vec<String> {
    shipped(name)
        .into_iter()
        .filter(|(_, _, r)| !(0.95..=1.05).contains(r))
        .map(|(n, _, r)| format!("{name} {n}: retained ratio {r:.4}"))
        .collect()
}

#[test]
fn go1_26_retained_within_5_percent() {
    let bad = retained_within("go1.26");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn go1_22_retained_within_5_percent() {
    let bad = retained_within("go1.22");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Every mapzoo incident of the corpus but the gcore ones:
/// `MAPSCOPE_CORPUS=DIR cargo test -p mapscope-gomaps --test discover --
/// --ignored --nocapture`.
#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn all_local_incidents() {
    use mapscope_testsupport::corpus;
    let mut failures = Vec::new();
    let mut checked = Vec::new();
    let mut gcore = Vec::new();
    for d in corpus::incidents("mapzoo") {
        let name = corpus::name(&d);
        if name.contains("gcore") {
            gcore.push(name);
            continue;
        }
        let text = std::fs::read_to_string(d.join("truth.json"))
            .unwrap_or_else(|e| panic!("{}/truth.json: {e}", d.display()));
        let truth: Value = serde_json::from_str(&text).unwrap();
        failures.extend(report(
            &name,
            &check(&name, &d.join("core"), &d.join("mapzoo"), &truth),
        ));
        checked.push(name);
    }
    let gcore: Vec<&str> = gcore.iter().map(String::as_str).collect();
    corpus::assert_checked("mapzoo", &checked, &gcore);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[allow(dead_code)]
fn _uses(_: &FoundMap) {}
