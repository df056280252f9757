//! The heap by type (`Heap::type_histogram`) against independent truth on
//! the shipped samples:
//! - the rows (typed, plus the untyped pointer-free and with-pointers
//!   rows) sum to the walk's heap in use exactly, and that is within 1% of
//!   `HeapAlloc` from the program's own `runtime.ReadMemStats`
//!   (truth.json; the ~0.8% gap is explained in tests/heap.rs);
//! - the typed rows of map storage match truth.json's storage records: a
//!   classic map's bucket array is one `map.bucket[K]V` object (two while
//!   growing), a Swiss map's groups arrays are one `map.group[K]V` object
//!   per table, of at least the bytes truth's bucket/group counts and
//!   sizes give (objects over 512 bytes carry a malloc header or a
//!   `largeType`: the only ones the heap types);
//! - `main.noiseBuffer`, a 2 MiB `[]byte`, is pointer-free: in the
//!   untyped pointer-free row.

use std::collections::HashMap;

use mapscope_goruntime::heap::{UNTYPED_POINTER_FREE, UNTYPED_WITH_POINTERS};
use mapscope_goruntime::GoProcess;
use mapscope_testsupport::sample;
use serde_json::Value;

/// What truth says the heap must hold of one map's typed storage: (type
/// name, objects, least bytes, most bytes).
fn expected_storage(m: &Value) -> Option<(String, u64, u64, u64)> {
    let ty = m["type"].as_str()?;
    let kv = ty.strip_prefix("map")?;
    let st = &m["storage"];
    // Types only mapzoo's own maps use (others may share runtime types).
    if m["kind"].as_str()? != "map" || !ty.contains("main.") && !ty.contains("time.") {
        return None;
    }
    let u = |v: &Value| v.as_u64().unwrap_or(0);
    match m["header"]["impl"].as_str()? {
        "classic" => {
            let bs = u(&st["bucket_size"]);
            // Overflow buckets of over 512 bytes would be typed objects
            // too, and truth does not say which were preallocated.
            if bs > 512 {
                return None;
            }
            let b = u(&m["header"]["B"]);
            let arr = |n: u64| {
                let extra = if b >= 4 { n >> 4 } else { 0 };
                (n * bs, (n + extra) * bs)
            };
            let (lo, hi) = arr(u(&st["buckets"]));
            let (mut n, mut lo, mut hi) = (u64::from(lo > 512), lo, hi);
            let old = u(&st["old_buckets"]);
            if old > 0 {
                let (olo, ohi) = arr(old);
                n += u64::from(olo > 512);
                lo += olo;
                hi += ohi;
            }
            Some((format!("map.bucket{kv}"), n, lo, hi + hi / 8 + 8192 * n))
        }
        "swiss" => {
            let gs = u(&st["group_size"]);
            let mut arrays: Vec<u64> = match st["table_list"].as_array() {
                Some(tables) => tables.iter().map(|t| u(&t["capacity"]) / 8 * gs).collect(),
                None => vec![gs],
            };
            // Tables truth did not list share the remaining groups (all
            // tables of a large map hold the same number).
            let unlisted = u(&st["tables_unlisted"]);
            if unlisted > 0 {
                let listed: u64 = arrays.iter().sum::<u64>() / gs.max(1);
                let rest = u(&st["groups"]).checked_sub(listed)?;
                if rest % unlisted != 0 {
                    return None;
                }
                arrays.extend(std::iter::repeat_n(rest / unlisted * gs, unlisted as usize));
            }
            let typed: Vec<u64> = arrays.into_iter().filter(|&b| b > 512).collect();
            let lo: u64 = typed.iter().sum();
            let n = typed.len() as u64;
            Some((format!("map.group{kv}"), n, lo, lo + lo / 8 + 8192 * n))
        }
        _ => None,
    }
}

#[test]
fn type_histogram_sums_to_heap_and_matches_truth_storage() {
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let truth = s.truth();
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
        let heap = process.heap().expect("heap");
        let rows = heap.type_histogram();
        let bytes: u64 = rows.iter().map(|r| r.bytes).sum();
        let objects: u64 = rows.iter().map(|r| r.objects).sum();
        assert_eq!(bytes, heap.in_use_bytes(), "{name}");
        assert_eq!(objects, heap.object_count(), "{name}");
        let heap_alloc = truth["memstats"]["HeapAlloc"].as_u64().expect("HeapAlloc");
        let rel = (bytes as f64 - heap_alloc as f64).abs() / heap_alloc as f64;
        assert!(rel < 0.01, "{name}: rows {bytes} vs HeapAlloc {heap_alloc}");
        // Rows are unique by name and sorted.
        let by_name: HashMap<&str, (u64, u64)> = rows
            .iter()
            .map(|r| (r.name.as_str(), (r.objects, r.bytes)))
            .collect();
        assert_eq!(by_name.len(), rows.len(), "{name}");
        assert!(rows.windows(2).all(|w| w[0].bytes >= w[1].bytes));
        // The 2 MiB noise buffer is pointer-free.
        let free = by_name.get(UNTYPED_POINTER_FREE).expect("pointer-free row");
        assert!(free.1 >= 2 << 20, "{name}: {free:?}");
        assert!(by_name.contains_key(UNTYPED_WITH_POINTERS), "{name}");
        // Map storage by type, summed over truth's maps of that type.
        let mut want: HashMap<String, (u64, u64, u64)> = HashMap::new();
        for m in truth["maps"].as_array().into_iter().flatten() {
            if let Some((ty, n, lo, hi)) = expected_storage(m) {
                let e = want.entry(ty).or_default();
                e.0 += n;
                e.1 += lo;
                e.2 += hi;
            }
        }
        assert!(want.len() >= 5, "{name}: {want:?}");
        for (ty, (n, lo, hi)) in &want {
            let got = by_name.get(ty.as_str()).copied().unwrap_or((0, 0));
            assert_eq!(got.0, *n, "{name} {ty}: objects");
            assert!(
                (*lo..=*hi).contains(&got.1),
                "{name} {ty}: {} bytes not in {lo}..={hi}",
                got.1
            );
        }
    }
}
