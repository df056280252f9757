//! Maps held inside typed heap objects of an executable without DWARF
//! (issue #17, `mapscope_gomaps::typedheap`), checked against the shipped
//! samples' own truth (`truth.json`, written by mapzoo from inside the
//! process): the samples' executables with their DWARF sections hidden are
//! `-ldflags=-w` builds (symbols kept, no DWARF).
//!
//! - `smallMaps` (a global `[]map[string]int` whose members' storage is
//!   too small to carry a type): found from its backing array, whose
//!   malloc header names the element type — the family at truth's address,
//!   `len` and `%T`, named by its variable with the root kind `global`,
//!   every listed member at truth's address with truth's `len` and type,
//!   retained bytes within 5% of truth's;
//! - `loaderByKind` (`[2]map[string]*main.Symbol` inline in a `main.Loader`
//!   beside a 512 KiB buffer), `loaderIndex` (a struct-valued field's map)
//!   and `loaderCounts` (an embedded struct's promoted field): found by
//!   walking the `main.Loader` object its malloc header types; the global
//!   `main.loader` is one pointer word, so they are named as DWARF and
//!   truth name them, the global's symbol and the Go selector
//!   (`main.loader.byKind`, members `main.loader.byKind[*]`), root kind
//!   `heap`, root via `typed`, retained bytes within 5% (the family's
//!   exclude the buffer).

mod common;

use mapscope_gomaps::discover::{discover, FoundMap, RootKind, RootVia};
use serde_json::Value;

fn within_5_percent(ours: Option<u64>, truth: &Value) -> bool {
    let truth = truth.as_u64().unwrap_or(0);
    ours.is_some_and(|o| o.abs_diff(truth) * 20 <= truth)
}

fn check_sample(name: &str) {
    let opened = common::open_without_dwarf(name);
    let discovery = discover(&opened.process).expect("discovery");
    let truth = &opened.truth;
    let found = common::by_address(&discovery.maps);
    let by_name = |n: &str| -> Value {
        truth["maps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: no {n} in truth.json"))
    };
    let get = |t: &Value| -> &FoundMap {
        let a = common::parse_addr(&t["address"]);
        found
            .get(&a)
            .copied()
            .unwrap_or_else(|| panic!("{name}: {} at {a:#x} not found", t["name"]))
    };

    // smallMaps: a slice family from its typed backing array.
    let t = by_name("smallMaps");
    let m = get(&t);
    assert_eq!(m.kind, "map-family", "{name}: smallMaps");
    assert_eq!(Some(m.type_name.as_str()), t["type"].as_str());
    assert_eq!(Some(m.len), t["len"].as_u64(), "{name}: smallMaps len");
    assert_eq!(m.entries(), t["members_total_len"].as_u64().unwrap_or(0));
    assert_eq!(m.root, "main.smallMaps", "{name}");
    assert_eq!(m.root_kind, RootKind::Global, "{name}");
    assert!(
        within_5_percent(m.retained_bytes, &t["retained_bytes"]),
        "{name}: smallMaps retained {:?} vs truth {}",
        m.retained_bytes,
        t["retained_bytes"]
    );
    let members = t["children"].as_array().expect("members");
    assert!(!members.is_empty());
    for c in members {
        let f = get(c);
        assert!(
            m.children.iter().any(|x| x.address == f.address),
            "{name}: member {} not in the family",
            c["address"]
        );
        assert_eq!(Some(f.len), c["len"].as_u64());
        assert_eq!(Some(f.type_name.as_str()), c["type"].as_str());
        assert_eq!(f.root, "main.smallMaps[*]");
        assert_eq!(f.root_kind, RootKind::Heap);
    }

    // The loader's maps: walked from its typed heap object.
    for (n, selector) in [
        ("loaderByKind", "byKind"),
        ("loaderIndex", "index.byName"),
        ("loaderCounts", "counts"),
    ] {
        let t = by_name(n);
        let m = get(&t);
        assert_eq!(Some(m.kind.as_str()), t["kind"].as_str(), "{name}: {n}");
        assert_eq!(
            Some(m.type_name.as_str()),
            t["type"].as_str(),
            "{name}: {n}"
        );
        assert_eq!(Some(m.len), t["len"].as_u64(), "{name}: {n} len");
        assert_eq!(m.root, format!("main.loader.{selector}"));
        assert_eq!(Some(m.root.as_str()), t["root"].as_str(), "{name}: {n}");
        assert_eq!(m.root_kind, RootKind::Heap, "{name}: {n}");
        assert_eq!(m.via, RootVia::Typed, "{name}: {n}");
        assert!(
            within_5_percent(m.retained_bytes, &t["retained_bytes"]),
            "{name}: {n} retained {:?} vs truth {}",
            m.retained_bytes,
            t["retained_bytes"]
        );
        for c in t["children"].as_array().into_iter().flatten() {
            let f = get(c);
            assert_eq!(Some(f.len), c["len"].as_u64());
            assert_eq!(Some(f.type_name.as_str()), c["type"].as_str());
            assert_eq!(f.root, format!("main.loader.{selector}[*]"));
            assert_eq!(Some(f.root.as_str()), c["root"].as_str(), "{name}: {n}");
        }
    }
}

#[test]
fn typed_heap_maps_of_go1_26_without_dwarf_match_truth() {
    check_sample("go1.26");
}

#[test]
fn typed_heap_maps_of_go1_22_without_dwarf_match_truth() {
    check_sample("go1.22");
}
