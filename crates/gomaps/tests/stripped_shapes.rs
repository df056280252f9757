//! Executables without DWARF: global roots named by symbol, maps and
//! `sync.Map`s recognised by their shape (issue #17,
//! `mapscope_gomaps::stripped_shapes`, `mapscope_goheap::roots`), on the
//! shipped samples with their DWARF sections hidden (`-ldflags=-w`
//! builds: symbols kept, no DWARF), checked against:
//!
//! - the sample's own truth (`truth.json`, written by mapzoo from inside
//!   the process): `growingIndex` (a global `map[uint64]uint64`, storage
//!   pointer-free so untyped) and `tokenCache` (a global `sync.Map`) at
//!   truth's address with truth's `len`, type (runtime spelling) and kind,
//!   named by their variable with root kind `global`, retained bytes
//!   within 5% of truth's; the GC roots `main.pendingJobs`,
//!   `main.growingIndex` and `main.tokenCache` (one root per data/bss
//!   symbol, no unnamed root) retain within 5% of what truth measured for
//!   the map each holds;
//! - the same core read with the executable's DWARF: every map the
//!   stripped run finds (by storage type or by shape) is one the DWARF run
//!   finds at the same address, with the same kind and `len`, and a type
//!   that is DWARF's (package paths cut to names, as the runtime spells
//!   them) or, for a map whose type is ambiguous by shape, lists DWARF's
//!   among its alternatives. Maps held inside a `sync.Map`'s values,
//!   which the DWARF walk does not enter, are counted apart.

use std::collections::HashMap;

use mapscope_gomaps::discover::{discover, Discovery, FoundMap, RootKind};
use mapscope_goruntime::GoProcess;
use serde_json::Value;

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or(0)
}

fn index<'a>(maps: &'a [FoundMap], out: &mut HashMap<u64, &'a FoundMap>) {
    for m in maps {
        out.entry(m.address).or_insert(m);
        index(&m.children, out);
    }
}

fn within_5_percent(ours: u64, truth: u64) -> bool {
    ours.abs_diff(truth) * 20 <= truth
}

/// A type name as the runtime spells it (`map[string]*encoding/json.field`
/// → `map[string]*json.field`).
fn runtime_spelling(name: &str) -> String {
    let mut out = String::new();
    let mut segment = String::new();
    for c in name.chars().chain(std::iter::once(' ')) {
        if "[]*(),{}<> ;|".contains(c) {
            out.push_str(segment.rsplit('/').next().unwrap_or(""));
            segment.clear();
            out.push(c);
        } else {
            segment.push(c);
        }
    }
    out.pop();
    out
}

fn stripped_and_dwarf(name: &str) -> (Discovery, Discovery, Value) {
    let s = mapscope_testsupport::sample(name);
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = dir.path().join("mapzoo");
    let mut bytes = std::fs::read(&s.exe).expect("exe");
    mapscope_testsupport::hide_dwarf_sections(&mut bytes);
    std::fs::write(&exe, bytes).expect("write exe");
    let stripped = GoProcess::open(&s.core, Some(&exe)).expect("opens");
    assert!(
        !stripped.dwarf().expect("stand-in").has_program_types(),
        "{name}: DWARF still visible"
    );
    let with_dwarf = GoProcess::open(&s.core, Some(&s.exe)).expect("opens");
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(s.source.join("truth.json")).expect("truth.json"),
    )
    .expect("parses");
    (
        discover(&stripped).expect("discovery"),
        discover(&with_dwarf).expect("discovery"),
        truth,
    )
}

fn check_sample(name: &str) {
    let (stripped, dwarf, truth) = stripped_and_dwarf(name);
    let truth_of = |n: &str| -> Value {
        truth["maps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: no {n} in truth.json"))
    };
    let mut found = HashMap::new();
    index(&stripped.maps, &mut found);

    // The two maps only a shape finds, as DWARF builds report them.
    for (tname, kind) in [("growingIndex", "map"), ("tokenCache", "sync.Map")] {
        let t = truth_of(tname);
        let address = hex(t["address"].as_str().unwrap_or(""));
        let m = found
            .get(&address)
            .unwrap_or_else(|| panic!("{name}: {tname} at {address:#x} not found"));
        assert_eq!(m.kind.as_str(), kind, "{name}: {tname} kind");
        assert_eq!(Some(m.len), t["len"].as_u64(), "{name}: {tname} len");
        assert_eq!(
            Some(m.type_name.as_str()),
            t["type"].as_str(),
            "{name}: {tname} type"
        );
        assert_eq!(
            Some(m.root.as_str()),
            t["root"].as_str(),
            "{name}: {tname} root"
        );
        assert_eq!(m.root_kind, RootKind::Global, "{name}: {tname} root kind");
        let tret = t["retained_bytes"].as_u64().unwrap_or(0);
        let ours = m.retained_bytes.unwrap_or(0);
        assert!(
            within_5_percent(ours, tret),
            "{name}: {tname} retained {ours} B, truth {tret} B"
        );
    }

    // Roots: one per data/bss symbol, none unnamed.
    let roots = &stripped.roots.named;
    assert!(
        roots
            .iter()
            .all(|r| r.name != mapscope_gomaps::roots::UNNAMED_GLOBALS),
        "{name}: an unnamed data/bss root is left"
    );
    for (tname, variable) in [
        ("pendingJobs", "main.pendingJobs"),
        ("growingIndex", "main.growingIndex"),
        ("tokenCache", "main.tokenCache"),
    ] {
        let i = roots
            .iter()
            .position(|r| r.name == variable)
            .unwrap_or_else(|| panic!("{name}: no root {variable}"));
        assert_eq!(roots[i].kind, RootKind::Global);
        let ours = stripped.dominance.root_bytes.get(i).copied().unwrap_or(0);
        let tret = truth_of(tname)["retained_bytes"].as_u64().unwrap_or(0);
        assert!(
            within_5_percent(ours, tret),
            "{name}: root {variable} retains {ours} B, truth's {tname} {tret} B"
        );
    }

    // Every map of the stripped run is one the DWARF run finds.
    let mut with_dwarf = HashMap::new();
    index(&dwarf.maps, &mut with_dwarf);
    // The DWARF walk does not look inside a sync.Map's values (interface
    // values): maps held there are the stripped run's only.
    let sync_roots: Vec<String> = found
        .values()
        .filter(|m| m.kind.as_str() == "sync.Map")
        .map(|m| m.root.clone())
        .collect();
    let in_sync_map = |m: &FoundMap| {
        sync_roots.iter().any(|r| {
            m.root.starts_with(&format!("{r} → ")) || m.root.starts_with(&format!("{r}+0x"))
        })
    };
    let (mut checked, mut ambiguous, mut inside) = (0, 0, 0);
    for (address, m) in &found {
        let Some(d) = with_dwarf.get(address) else {
            assert!(
                in_sync_map(m),
                "{name}: {} {} at {address:#x} ({}) is not a map of the DWARF run",
                m.kind,
                m.type_name,
                m.root
            );
            inside += 1;
            continue;
        };
        // A map of maps is a family with DWARF (its members typed).
        let map_of_maps = m.kind.as_str() == "map" && d.kind.as_str() == "map-family";
        if !map_of_maps {
            assert_eq!(m.kind, d.kind, "{name}: kind at {address:#x}");
        }
        assert_eq!(m.len, d.len, "{name}: len at {address:#x}");
        let want = runtime_spelling(&d.type_name);
        let alternatives: Vec<&str> = m.type_name.split(" | ").collect();
        if alternatives.len() > 1 {
            ambiguous += 1;
            assert!(
                alternatives.contains(&want.as_str()) || m.type_name.contains("more)"),
                "{name}: {} at {address:#x} does not list {want}",
                m.type_name
            );
        } else {
            assert_eq!(
                runtime_spelling(&m.type_name),
                want,
                "{name}: type at {address:#x}"
            );
        }
        checked += 1;
    }
    eprintln!(
        "{name}: {checked} maps of the stripped run match the DWARF run ({ambiguous} with an ambiguous type), {inside} more inside sync.Map values; DWARF run: {}",
        with_dwarf.len()
    );
}

#[test]
fn go1_22_shapes_and_roots_match_truth_and_dwarf() {
    check_sample("go1.22");
}

#[test]
fn go1_26_shapes_and_roots_match_truth_and_dwarf() {
    check_sample("go1.26");
}
