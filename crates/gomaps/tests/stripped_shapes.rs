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
//!   which the DWARF walk does not enter, are counted apart;
//! - the DWARF run's names where no DWARF-only knowledge is needed: the
//!   map of maps `tenantConfigs` is a family as DWARF's walk makes it
//!   (kind, `len`, storage, entries, members, retained bytes, root, root
//!   kind and via; members `main.tenantConfigs[*]`), the maps of the
//!   typed heap object `main.loader` points at are named as DWARF names
//!   them (`main.loader.byKind`, `main.loader.counts`,
//!   `main.loader.index.byName`, members `main.loader.byKind[*]`), and a
//!   path from inside a `sync.Map` global starts as DWARF's does
//!   (`encoding/json.fieldCache (sync.Map) → …`).

use std::collections::HashMap;

mod common;

use mapscope_gomaps::discover::{discover, Discovery, FoundMap, RootKind};
use mapscope_goruntime::GoProcess;
use serde_json::Value;

fn within_5_percent(ours: u64, truth: u64) -> bool {
    ours.abs_diff(truth) * 20 <= truth
}

fn stripped_and_dwarf(name: &str) -> (Discovery, Discovery, Value) {
    let stripped = common::open_without_dwarf(name);
    let s = &stripped.sample;
    let with_dwarf = GoProcess::open(&s.core, Some(&s.exe)).expect("opens");
    (
        discover(&stripped.process).expect("discovery"),
        discover(&with_dwarf).expect("discovery"),
        stripped.truth,
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
    let found = common::by_address(&stripped.maps);

    // The two maps only a shape finds, as DWARF builds report them.
    for (tname, kind) in [("growingIndex", "map"), ("tokenCache", "sync.Map")] {
        let t = truth_of(tname);
        let address = common::parse_addr(&t["address"]);
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
    let with_dwarf = common::by_address(&dwarf.maps);
    // The DWARF walk does not look inside a sync.Map's values (interface
    // values): maps held there are the stripped run's only.
    let sync_roots: Vec<String> = found
        .values()
        .filter(|m| m.kind.as_str() == "sync.Map")
        .map(|m| m.root.clone())
        .collect();
    let in_sync_map = |m: &FoundMap| {
        sync_roots.iter().any(|r| {
            m.root.starts_with(&format!("{r} (sync.Map) → "))
                || m.root.starts_with(&format!("{r} → "))
                || m.root.starts_with(&format!("{r}+0x"))
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
        assert_eq!(m.kind, d.kind, "{name}: kind at {address:#x}");
        assert_eq!(m.len, d.len, "{name}: len at {address:#x}");
        let want = mapscope_testsupport::runtime_spelling(&d.type_name);
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
                mapscope_testsupport::runtime_spelling(&m.type_name),
                want,
                "{name}: type at {address:#x}"
            );
        }
        checked += 1;
    }
    check_dwarf_names(name, &found, &with_dwarf);
    eprintln!(
        "{name}: {checked} maps of the stripped run match the DWARF run ({ambiguous} with an ambiguous type), {inside} more inside sync.Map values; DWARF run: {}",
        with_dwarf.len()
    );
}

/// The names (and a map of maps' family) of the stripped run that are
/// the DWARF run's (see the module doc).
fn check_dwarf_names(
    name: &str,
    found: &HashMap<u64, &FoundMap>,
    with_dwarf: &HashMap<u64, &FoundMap>,
) {
    let dwarf_named = |root: &str| -> &FoundMap {
        with_dwarf
            .values()
            .find(|m| m.root == root)
            .copied()
            .unwrap_or_else(|| panic!("{name}: DWARF run has no {root}"))
    };
    let same = |d: &FoundMap| -> &FoundMap {
        found
            .get(&d.address)
            .copied()
            .unwrap_or_else(|| panic!("{name}: {} at {:#x} not found", d.root, d.address))
    };
    // A map of maps: DWARF's family, number for number.
    let d = dwarf_named("main.tenantConfigs");
    let m = same(d);
    assert_eq!(d.kind.as_str(), "map-family", "{name}: DWARF tenantConfigs");
    assert_eq!(
        (m.kind, m.root.as_str(), m.root_kind, m.via, &m.type_name),
        (d.kind, d.root.as_str(), d.root_kind, d.via, &d.type_name),
        "{name}: tenantConfigs"
    );
    assert_eq!(
        (
            m.len,
            m.live_entries,
            m.capacity,
            m.storage_bytes,
            m.entries()
        ),
        (
            d.len,
            d.live_entries,
            d.capacity,
            d.storage_bytes,
            d.entries()
        ),
        "{name}: tenantConfigs numbers"
    );
    assert_eq!(
        m.retained_bytes, d.retained_bytes,
        "{name}: tenantConfigs retained"
    );
    assert_eq!(
        m.children.len(),
        d.children.len(),
        "{name}: tenantConfigs members"
    );
    assert!(!d.children.is_empty());
    for c in &d.children {
        let f = same(c);
        assert!(
            m.children.iter().any(|x| x.address == c.address),
            "{name}: member {:#x} not in the stripped family",
            c.address
        );
        assert_eq!(f.root, "main.tenantConfigs[*]", "{name}");
        assert_eq!((f.len, f.storage_bytes), (c.len, c.storage_bytes), "{name}");
    }
    // No member of it is listed on its own.
    assert!(
        found
            .values()
            .all(|f| !f.root.starts_with("main.tenantConfigs →")),
        "{name}: a member of tenantConfigs is listed on its own"
    );
    // The typed heap object behind a one-word global, and an untyped
    // small object behind a pointer variable (the one struct type of its
    // size class with a map field of the map's type at the header
    // pointer's offset): DWARF's names, members too.
    for root in [
        "main.loader.byKind",
        "main.loader.counts",
        "main.loader.index.byName",
        "main.registry.endpoints",
        "flag.CommandLine.formal",
        "flag.CommandLine.actual",
    ] {
        let d = dwarf_named(root);
        let m = same(d);
        assert_eq!(
            (m.root.as_str(), m.root_kind, m.via),
            (d.root.as_str(), d.root_kind, d.via),
            "{name}: {root}"
        );
        for c in &d.children {
            assert_eq!(same(c).root, c.root, "{name}: member of {root}");
        }
    }
    // Paths from inside a sync.Map global start as DWARF's do.
    let through_sync_map: Vec<&&FoundMap> = with_dwarf
        .values()
        .filter(|d| d.root.starts_with("encoding/json.fieldCache (sync.Map) → "))
        .collect();
    assert!(
        !through_sync_map.is_empty(),
        "{name}: no DWARF path through encoding/json.fieldCache"
    );
    for d in through_sync_map {
        assert_eq!(same(d).root, d.root, "{name}: at {:#x}", d.address);
    }
}

#[test]
fn go1_22_shapes_and_roots_match_truth_and_dwarf() {
    check_sample("go1.22");
}

#[test]
fn go1_26_shapes_and_roots_match_truth_and_dwarf() {
    check_sample("go1.26");
}
