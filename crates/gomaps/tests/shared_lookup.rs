//! The decoders' fast paths give the same maps as the plain ones: with
//! the heap walk as lookup (storage deduplicated by slot, a `sync.Map`
//! trie's subtrees walked in parallel, Swiss control words counted a word
//! at a time when no entries are collected) and with the same lookup
//! behind a closure (ordered dedup, one thread, every slot visited).

use mapscope_gomaps::{Allocation, AllocationLookup, DecodeOptions, MapDecoder, MapTarget};
use mapscope_goruntime::GoProcess;
use mapscope_testsupport::sample;

fn parse_addr(v: &serde_json::Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16).unwrap_or(0)
}

fn check(name: &str) {
    let s = sample(name);
    let truth = s.truth();
    let process = GoProcess::open(&s.core, Some(&s.exe)).expect("process");
    let heap = process.heap().expect("heap walk");
    let dwarf = process.dwarf().expect("dwarf");
    let plain_lookup = |a: u64| -> Allocation { AllocationLookup::object_at(heap, a) };
    let with_entries = MapDecoder::new(process.memory(), dwarf);
    let without_entries = MapDecoder::with_options(
        process.memory(),
        dwarf,
        DecodeOptions {
            collect_entries: false,
        },
    );
    let mut checked = 0;
    for m in truth["maps"].as_array().unwrap() {
        let root = m["root"].as_str().unwrap();
        let Some(global) = dwarf.globals().by_name(root) else {
            continue;
        };
        let Some(MapTarget::Map { .. } | MapTarget::SyncMap { .. }) =
            with_entries.target(global.ty)
        else {
            continue;
        };
        let addr = parse_addr(&m["address"]);
        let plain = with_entries
            .decode(global.ty, addr, &plain_lookup)
            .expect("decode, plain lookup");
        let fast = with_entries
            .decode(global.ty, addr, heap)
            .expect("decode, heap lookup");
        let counted = without_entries
            .decode(global.ty, addr, heap)
            .expect("decode, no entries");
        let json = |i: &mapscope_gomaps::MapInstance| serde_json::to_value(i).unwrap();
        assert_eq!(json(&fast), json(&plain), "{name} {root}");
        assert_eq!(json(&counted), json(&plain), "{name} {root}");
        assert_eq!(fast.entries, plain.entries, "{name} {root}");
        assert!(counted.entries.is_empty(), "{name} {root}");
        checked += 1;
    }
    assert!(checked >= 8, "{name}: only {checked} maps checked");
}

#[test]
fn go1_22_read_dirty_and_classic() {
    check("go1.22");
}

#[test]
fn go1_26_hash_trie_and_swiss() {
    check("go1.26");
}
