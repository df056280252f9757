//! The report's `types` and `retainers` on the shipped samples, as JSON
//! (the field names are the `analyze --format json` contract), against
//! the sample program's truth.json: the type rows sum to the heap in use,
//! within 1% of the program's `HeapAlloc` (`runtime.ReadMemStats`); every
//! retainer lies within the heap; a global holding one structure retains
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
        let rest = &v["retainers_rest"];
        let all: u64 = retainers.iter().map(bytes).sum::<u64>()
            + rest["shared_bytes"].as_u64().unwrap()
            + rest["unreached_bytes"].as_u64().unwrap();
        assert!(all <= heap, "{name}");
        let mut checked = 0;
        let entries = truth["maps"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(truth["others"].as_array().into_iter().flatten());
        for t in entries {
            let root = t["root"].as_str().unwrap();
            if t["root_kind"] != "global" || root.matches('.').count() != 1 {
                continue;
            }
            let r = retainers
                .iter()
                .find(|r| r["root"] == root)
                .unwrap_or_else(|| panic!("{name}: no retainer {root}"));
            assert_eq!(r["root_kind"], "global");
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
        assert!(
            report
                .headline
                .contains("the largest retainer is global main.noiseBuffer ([]uint8), 2097 kB"),
            "{name}: {}",
            report.headline
        );
    }
}
