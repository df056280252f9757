//! The report's `types` and `retainers` on the shipped samples, as JSON
//! (the field names are the `analyze --format json` contract), against
//! the sample program's truth.json: the type rows sum to the heap in use,
//! within 1% of the program's `HeapAlloc` (`runtime.ReadMemStats`); every
//! retainer lies within the heap, and the retainers (the dominator tree's
//! top level), the smaller ones and the garbage sum to the heap exactly;
//! a global holding one structure retains
//! what the live program measured for it (its `HeapAlloc` delta) within
//! 5%; the headline names `main.noiseBuffer`, the 2 MiB `[]byte` that
//! retains more than any map.

use mapscope_incident::{analyze, AnalyzeInputs};
use mapscope_testsupport::sample;
use serde_json::Value;

#[test]
fn types_and_retainers_match_truth() {
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let truth = s.truth();
        let report = analyze(&AnalyzeInputs {
            core: s.core.clone(),
            exe: Some(s.exe.clone()),
            ..Default::default()
        })
        .expect("analyze");
        let heap = report.heap_in_use_bytes;
        let v = serde_json::to_value(&report).expect("json");
        let types = v["types"].as_array().expect("types");
        let sum: u64 = types.iter().map(|t| t["bytes"].as_u64().unwrap()).sum();
        assert_eq!(sum, heap, "{name}");
        assert!(types
            .iter()
            .all(|t| t["type"].is_string() && t["objects"].is_u64()));
        let heap_alloc = truth["memstats"]["HeapAlloc"].as_u64().unwrap();
        assert!(
            (sum as f64 - heap_alloc as f64).abs() < 0.01 * heap_alloc as f64,
            "{name}: types {sum} vs HeapAlloc {heap_alloc}"
        );
        let retainers = v["retainers"].as_array().expect("retainers");
        assert!(retainers.len() >= 5, "{name}");
        let bytes = |r: &Value| r["retained_bytes"].as_u64().unwrap();
        assert!(retainers.iter().all(|r| bytes(r) > 0 && bytes(r) <= heap));
        assert!(retainers.windows(2).all(|w| bytes(&w[0]) >= bytes(&w[1])));
        assert!(retainers
            .iter()
            .all(|r| r["node"] == "root" || r["node"] == "object"));
        // Top-level nodes of the dominator tree never overlap: with the
        // smaller retainers and the garbage they are the heap, exactly
        // (the heap in use is checked against HeapAlloc above).
        let rest = &v["retainers_rest"];
        let all: u64 = retainers.iter().map(bytes).sum::<u64>()
            + rest["other_bytes"].as_u64().unwrap()
            + rest["unreached_bytes"].as_u64().unwrap();
        assert_eq!(all, heap, "{name}");
        let mut checked = 0;
        for t in mapscope_testsupport::truth_entries(&truth) {
            let root = t["root"].as_str().unwrap();
            if t["root_kind"] != "global" || root.matches('.').count() != 1 {
                continue;
            }
            let r = retainers
                .iter()
                .find(|r| r["root"] == root)
                .unwrap_or_else(|| panic!("{name}: no retainer {root}"));
            assert_eq!(r["root_kind"], "global");
            assert_eq!(r["node"], "root");
            assert_eq!(r["type"], t["type"], "{name} {root}");
            let want = t["retained_bytes"].as_u64().unwrap() as f64;
            let ratio = bytes(r) as f64 / want;
            assert!(
                (0.95..=1.05).contains(&ratio),
                "{name} {root}: {} vs truth {want}",
                bytes(r)
            );
            checked += 1;
        }
        assert!(checked >= 8, "{name}: {checked}");
        assert_eq!(retainers[0]["root"], "main.noiseBuffer", "{name}");
        assert_eq!(bytes(&retainers[0]), 2_097_152, "{name}");
        // The headline names it with the bytes truth measured (within 5%).
        let h = v["headline"]["larger_retainer"].clone();
        assert_eq!(h["root"], "main.noiseBuffer", "{name}: {h}");
        assert_eq!(h["root_kind"], "global", "{name}: {h}");
        assert_eq!(h["type"], "[]uint8", "{name}: {h}");
        let noise = truth["others"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["root"] == "main.noiseBuffer")
            .and_then(|t| t["retained_bytes"].as_u64())
            .expect("truth of main.noiseBuffer");
        let got = h["retained_bytes"].as_u64().unwrap() as f64;
        assert!(
            (got / noise as f64 - 1.0).abs() <= 0.05,
            "{name}: headline {got} vs truth {noise}"
        );
        let pct = h["percent_of_heap"].as_f64().unwrap();
        assert!(
            (pct - got * 100.0 / heap as f64).abs() < 1e-9,
            "{name}: {pct}"
        );
    }
}

/// Real programs (Go's compile and link stopped mid-work,
/// `scripts/gen-realworld.sh`): the heap walk equals the runtime's
/// `HeapAlloc` (truth-memstats.txt, read by gdb from the live process);
/// the retainers — the dominator tree's top level — with the smaller ones
/// and the garbage are that heap exactly; and the ten largest hold most of
/// the reachable heap (before the dominator tree the largest per-root
/// retainers held under 1%: 65–80% was "reachable from several roots").
/// Prints the ten with their bytes.
/// `MAPSCOPE_REALWORLD=/tmp/realworld cargo test --release -p mapscope-incident --test heapview -- --ignored --nocapture`.
#[test]
#[ignore = "needs realworld incidents (scripts/gen-realworld.sh; MAPSCOPE_REALWORLD, default /tmp/realworld)"]
fn realworld_top_retainers_hold_most_of_the_heap() {
    let root = std::env::var_os("MAPSCOPE_REALWORLD")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/tmp/realworld".into());
    let mut checked = 0;
    for (name, program) in [("go1.26-link", "link"), ("go1.26-compile", "compile")] {
        let dir = root.join(name);
        assert!(
            root.join(format!("READY-{name}")).is_file(),
            "{}: missing (scripts/gen-realworld.sh)",
            dir.display()
        );
        let memstats = std::fs::read_to_string(dir.join("truth-memstats.txt")).expect("truth");
        let heap_alloc: u64 = memstats
            .lines()
            .find_map(|l| l.strip_prefix("heap_alloc_bytes = "))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("heap_alloc_bytes in truth-memstats.txt");
        let t = std::time::Instant::now();
        let report = analyze(&AnalyzeInputs {
            core: dir.join("core"),
            exe: Some(dir.join(program)),
            ..Default::default()
        })
        .expect("analyze");
        let elapsed = t.elapsed();
        let heap = report.heap_in_use_bytes;
        assert_eq!(heap, heap_alloc, "{name}");
        let listed: u64 = report.retainers.iter().map(|r| r.retained_bytes).sum();
        let rest = &report.retainers_rest;
        assert_eq!(
            listed + rest.other_bytes + rest.unreached_bytes,
            heap,
            "{name}"
        );
        let reachable = heap - rest.unreached_bytes;
        let top: u64 = report
            .retainers
            .iter()
            .take(10)
            .map(|r| r.retained_bytes)
            .sum();
        eprintln!(
            "{name}: heap {heap}, unreachable {}, analyze {elapsed:?}; top 10 hold {top} = {:.1}% of the heap, {:.1}% of the reachable heap",
            rest.unreached_bytes,
            top as f64 * 100.0 / heap as f64,
            top as f64 * 100.0 / reachable as f64
        );
        for r in report.retainers.iter().take(10) {
            eprintln!(
                "  {:>11} {:>9} ×{:<6} {:<9} {:<6} {}",
                r.retained_bytes, r.objects, r.count, r.root_kind, r.node, r.root
            );
        }
        assert!(
            top as f64 >= 0.85 * reachable as f64,
            "{name}: the top 10 hold {top} of {reachable} reachable bytes"
        );
        checked += 1;
    }
    assert_eq!(checked, 2);
}
