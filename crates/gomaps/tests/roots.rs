//! Roots as the Go GC finds them (precise globals, precise stack frames,
//! finalizers) and the maps no typed root reaches, checked against the
//! sample program's truth.json: every map found with its root, root kind,
//! type and len, and retained bytes within 5% of the `HeapAlloc` delta the
//! live program measured.
//!
//! Shipped samples run always; the ignored test runs every mapzoo incident
//! of the corpus (`$MAPSCOPE_CORPUS/mapzoo`, and `extra-roots`: made with
//! `MAPZOO_EXTRA_ROOTS=1`, which adds a map held only through a finalized
//! object and one held only by an `unsafe.Pointer`; scripts/gen-corpus.sh).

use std::path::Path;

use mapscope_gomaps::discover::{discover, ObjectGraph};
use mapscope_gomaps::pointers::PointerMaps;
use mapscope_gomaps::roots;
use mapscope_goruntime::GoProcess;
use mapscope_testsupport::sample;
use serde_json::Value;

fn parse_addr(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

/// Problems with one incident, and the per-map retained ratios.
fn check(name: &str, core: &Path, exe: &Path, truth: &Value) -> (Vec<String>, Vec<(String, f64)>) {
    let process = GoProcess::open(core, Some(exe)).expect("open core");
    let found = discover(&process).expect("discover");
    let mut problems = Vec::new();
    let mut ratios = Vec::new();
    for t in truth["maps"].as_array().cloned().unwrap_or_default() {
        let tname = t["name"].as_str().unwrap_or("?").to_string();
        let addr = parse_addr(&t["address"]);
        let Some(m) = found.maps.iter().find(|m| m.address == addr) else {
            problems.push(format!("{name} {tname}: not found at {addr:#x}"));
            continue;
        };
        let want = |k: &str| t[k].as_str().unwrap_or("").to_string();
        let kind = serde_json::to_value(m.root_kind).unwrap();
        let got = (
            m.root.clone(),
            kind.as_str().unwrap_or("").to_string(),
            m.type_name.clone(),
            m.len,
        );
        let mut expected = (
            want("root"),
            want("root_kind"),
            want("type"),
            t["len"].as_u64().unwrap_or(u64::MAX),
        );
        // truth.json says `(unknown)` for a map no typed root reaches
        // (opaqueIndex); it is now named by its path from the global that
        // holds it (tests/garbage.rs checks that path).
        if expected.0 == "(unknown)" && got.0.contains(" → ") {
            expected.0 = got.0.clone();
            expected.1 = got.1.clone();
        }
        if got != expected {
            problems.push(format!("{name} {tname}: {got:?} != {expected:?}"));
        }
        let truth_retained = t["retained_bytes"].as_u64().unwrap_or(0) as f64;
        let ratio = m.retained_bytes.unwrap_or(0) as f64 / truth_retained.max(1.0);
        if !(0.95..=1.05).contains(&ratio) {
            problems.push(format!("{name} {tname}: retained ratio {ratio:.4}"));
        }
        ratios.push((tname, ratio));
    }
    (problems, ratios)
}

#[test]
fn shipped_samples_match_truth_with_gc_roots() {
    let mut problems = Vec::new();
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        problems.extend(check(name, &s.core, &s.exe, &s.truth()).0);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The runtime's own pointer masks are used: globals precisely, and the
/// stack of every parked goroutine with stack maps.
#[test]
fn roots_are_precise_on_shipped_samples() {
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
        let heap = process.heap().expect("heap");
        let pointers = PointerMaps::load(&process, heap);
        let words = pointers.global_words().expect("data/bss masks readable");
        // Every pointer word of the masks is inside a Go global DWARF knows
        // or the runtime's own data (never outside data/bss).
        let md = process
            .pclntab()
            .and_then(|p| p.moduledata().copied())
            .expect("moduledata");
        assert!(!words.is_empty());
        assert!(words
            .iter()
            .all(|&w| (md.data..md.edata).contains(&w) || (md.bss..md.ebss).contains(&w)));
        // main.sessionsByID is a pointer word of .bss/.data.
        let g = process.global("main.sessionsByID").expect("global");
        assert!(words.contains(&g.address), "{name}");
        let graph = ObjectGraph::build_with(&process, heap, &pointers);
        let gs = process.goroutines().expect("goroutines");
        let set = roots::collect(&process, &graph, &pointers, Some(&gs));
        assert!(set.precise_globals, "{name}");
        assert!(set.precise_frames > 10, "{name}: {set:?}");
        assert!(!set.ids.is_empty());
    }
}

/// Every mapzoo incident of the corpus, with and without the extra roots
/// (`$MAPSCOPE_CORPUS/mapzoo` and `extra-roots`, scripts/gen-corpus.sh):
/// prints the per-map retained ratio table.
#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn local_incidents_match_truth_with_gc_roots() {
    use mapscope_testsupport::corpus;
    let mut problems = Vec::new();
    let mut table: Vec<(String, Vec<(String, f64)>)> = Vec::new();
    for kind in ["mapzoo", "extra-roots"] {
        let mut checked = Vec::new();
        for d in corpus::incidents(kind) {
            let text = std::fs::read_to_string(d.join("truth.json"))
                .unwrap_or_else(|e| panic!("{}/truth.json: {e}", d.display()));
            let truth: Value = serde_json::from_str(&text).expect("truth.json");
            let name = corpus::name(&d);
            let (p, r) = check(&name, &d.join("core"), &d.join("mapzoo"), &truth);
            problems.extend(p);
            table.push((format!("{kind}/{name}"), r));
            checked.push(name);
        }
        corpus::assert_checked(kind, &checked, &[]);
    }
    for (inc, rows) in &table {
        let cells: Vec<String> = rows.iter().map(|(n, r)| format!("{n} {r:.4}")).collect();
        println!("{inc}: {}", cells.join(", "));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
