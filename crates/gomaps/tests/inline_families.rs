//! Maps held inline in a heap object (mapzoo's `main.loader`: a
//! `[2]map[string]*main.Symbol` family, a map in a struct-valued field and
//! one in an embedded struct, next to a 512 KiB non-map buffer in the same
//! object), checked against the sample program's truth.json: each is found
//! with its root path (Go selector syntax, embedded field promoted), root
//! kind, type and len, and its retained bytes are within 5% of the
//! `HeapAlloc` delta the live program measured. A family is never charged
//! for the object it sits in: its retained bytes are at most its members'
//! plus 64 KiB.
//!
//! Also: a core read with the executable of another build (types that do
//! not match the memory) is walked in bounded time.
//!
//! Runs on the shipped samples; the same checks on every mapzoo incident of
//! the corpus (`scripts/gen-corpus.sh DIR`, then `MAPSCOPE_CORPUS=DIR cargo
//! test --release -p mapscope-gomaps --test inline_families -- --ignored
//! --nocapture`).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mapscope_gomaps::discover::{discover, FoundMap};
use mapscope_goruntime::GoProcess;
use serde_json::Value;

/// Slack on "a family retains at most its members' bytes": a slice
/// family's own backing array and a map of maps' storage are the
/// family's, and member maps share nothing.
const FAMILY_SLACK: u64 = 64 << 10;

fn parse_addr(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

/// The corpus's mapzoo incidents (`$MAPSCOPE_CORPUS/mapzoo`, made from the
/// current mapzoo by scripts/gen-corpus.sh).
fn incidents() -> Vec<PathBuf> {
    mapscope_testsupport::corpus::incidents("mapzoo")
}

fn truth_of(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).expect("truth.json"))
        .expect("truth.json parses")
}

fn ratio_ok(got: Option<u64>, want: &Value) -> Result<(), String> {
    let want = want.as_u64().unwrap_or(0);
    let got = got.unwrap_or(0);
    let r = got as f64 / (want.max(1)) as f64;
    if (0.95..=1.05).contains(&r) {
        Ok(())
    } else {
        Err(format!("retained {got} vs truth {want} (ratio {r:.4})"))
    }
}

/// Problems of one incident with the inline structures; how many were
/// checked.
fn check(name: &str, dir: &Path) -> (Vec<String>, usize) {
    check_files(name, &dir.join("core"), &dir.join("mapzoo"), &truth_of(dir))
}

fn check_files(name: &str, core: &Path, exe: &Path, truth: &Value) -> (Vec<String>, usize) {
    let process = GoProcess::open(core, Some(exe)).expect("open");
    let found = discover(&process).expect("discover");
    let mut problems = Vec::new();
    let mut checked = 0;
    // Every family whose members were all measured: retained ≤ members' + slack.
    for f in found.maps.iter().filter(|m| m.kind == "map-family") {
        if f.children.iter().any(|c| c.retained_bytes.is_none()) {
            continue;
        }
        let members: u64 = f.children.iter().filter_map(|c| c.retained_bytes).sum();
        let fam = f.retained_bytes.unwrap_or(0);
        println!("{name} family {} retained {fam} members {members}", f.root);
        if fam > members + FAMILY_SLACK {
            problems.push(format!(
                "{name} {}: family retains {fam} B, its members {members} B",
                f.root
            ));
        }
    }
    let inline = ["loaderByKind", "loaderIndex", "loaderCounts"];
    for t in truth["maps"].as_array().cloned().unwrap_or_default() {
        let tname = t["name"].as_str().unwrap_or("?").to_string();
        if !inline.contains(&tname.as_str()) {
            continue;
        }
        checked += 1;
        let addr = parse_addr(&t["address"]);
        let Some(m) = found.maps.iter().find(|m| m.address == addr) else {
            problems.push(format!("{name} {tname}: not found at {addr:#x}"));
            continue;
        };
        let kind = serde_json::to_value(m.root_kind).unwrap();
        let got = (
            m.root.as_str(),
            kind.as_str().unwrap_or(""),
            m.kind.as_str(),
            m.type_name.as_str(),
            m.len,
        );
        let want = (
            t["root"].as_str().unwrap_or(""),
            t["root_kind"].as_str().unwrap_or(""),
            t["kind"].as_str().unwrap_or(""),
            t["type"].as_str().unwrap_or(""),
            t["len"].as_u64().unwrap_or(u64::MAX),
        );
        if got != want {
            problems.push(format!("{name} {tname}: {got:?} != {want:?}"));
        }
        if let Err(e) = ratio_ok(m.retained_bytes, &t["retained_bytes"]) {
            problems.push(format!("{name} {tname}: {e}"));
        }
        println!(
            "{name} {tname} {} retained {:?} truth {}",
            m.root, m.retained_bytes, t["retained_bytes"]
        );
        // The members, each measured alone by the program.
        for c in t["children"].as_array().cloned().unwrap_or_default() {
            let caddr = parse_addr(&c["address"]);
            match m.children.iter().find(|x| x.address == caddr) {
                Some(x) => {
                    if x.len != c["len"].as_u64().unwrap_or(u64::MAX) {
                        problems.push(format!("{name} {tname} member {caddr:#x}: len {}", x.len));
                    }
                    if let Err(e) = ratio_ok(x.retained_bytes, &c["retained_bytes"]) {
                        problems.push(format!("{name} {tname} member {caddr:#x}: {e}"));
                    }
                }
                None => problems.push(format!("{name} {tname}: member {caddr:#x} missing")),
            }
        }
    }
    (problems, checked)
}

/// The shipped samples (made from the current mapzoo) hold `main.loader`.
#[test]
fn shipped_samples_inline_maps_and_families_match_truth() {
    let mut problems = Vec::new();
    for name in ["go1.22", "go1.26", "go1.26-gcore"] {
        let s = mapscope_testsupport::sample(name);
        let (p, n) = check_files(name, &s.core, &s.exe, &s.truth());
        assert_eq!(n, 3, "{name}: main.loader's three maps in truth.json");
        problems.extend(p);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn inline_maps_and_families_match_truth() {
    let dirs = incidents();
    let mut problems = Vec::new();
    let mut checked = 0;
    let mut names = Vec::new();
    for d in &dirs {
        let name = d.file_name().unwrap().to_string_lossy().to_string();
        let (p, n) = check(&name, d);
        problems.extend(p);
        checked += n;
        if n > 0 {
            names.push(name);
        }
    }
    assert!(checked > 0, "no incident has mapzoo's main.loader maps");
    mapscope_testsupport::corpus::assert_checked("mapzoo", &names, &[]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A near-miss pairing, as in the field: the core of a `-ldflags=-w`
/// build read with the DWARF build of the same source (its globals sit
/// 32 bytes off, so every root reads the wrong words). Whatever it finds,
/// discovery must end in bounded time. Reads the corpus's
/// `stripped/go1.26-w/core` with `mapzoo/go1.26/mapzoo` (and the same for
/// every Go version that has both).
#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn near_miss_executable_is_walked_in_bounded_time() {
    use mapscope_testsupport::corpus;
    let mut pairs = 0;
    let stripped = corpus::kind_dir("stripped");
    for dwarf_build in corpus::incidents("mapzoo") {
        let name = corpus::name(&dwarf_build);
        let root = stripped.join(format!("{name}-w"));
        let (core, exe) = (root.join("core"), dwarf_build.join("mapzoo"));
        if !core.is_file() {
            continue;
        }
        let root = root.display().to_string();
        pairs += 1;
        let (tx, rx) = mpsc::channel();
        let start = Instant::now();
        std::thread::spawn(move || {
            let r = GoProcess::open(&core, Some(&exe)).map(|p| {
                discover(&p).map(|d| {
                    let stopped = d
                        .warnings
                        .iter()
                        .filter(|w| w.starts_with("typed root walk stopped"))
                        .count();
                    (d.maps.len(), stopped)
                })
            });
            let _ = tx.send(format!("{r:?}"));
        });
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(r) => println!(
                "{root}: near-miss (maps, budget warnings): {r} in {:?}",
                start.elapsed()
            ),
            Err(_) => {
                panic!("{root}: discovery with a near-miss executable still running after 120 s")
            }
        }
    }
    assert!(
        pairs > 0,
        "no stripped/go1.XX-w core for a mapzoo/go1.XX incident in the corpus"
    );
}

#[allow(dead_code)]
fn _uses(_: &FoundMap) {}
