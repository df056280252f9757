//! Maps of executables without DWARF (`-ldflags=-w`, `-ldflags='-s -w'`)
//! against the sample program's own truth (`truth.json`: every map's
//! address, `len`, `%T` type, root and root kind, written by mapzoo from
//! inside the process).
//!
//! Ignored: needs the generated corpus (`MAPSCOPE_CORPUS=DIR`, kind
//! `stripped`, made by scripts/gen-corpus.sh: `go1.22-w`, `go1.26-sw`,
//! `go1.26-w-arm64`, …).
//!
//! Per incident, every truth map (family members included):
//! - found at its address, or not — the numbers are printed;
//! - when found: `len` and type exactly truth's (a family's too: members
//!   and `[]map[string]int`), root kind truth's, and retained bytes within
//!   5% of truth's (structures found as themselves; of members only the
//!   largest are measured);
//! - must be found unless it is one of the kinds a stripped build cannot
//!   find from typed storage or from a typed heap object holding it
//!   ([`NOT_FINDABLE`]: maps whose storage carries no runtime type, and
//!   structures that need program types); before Go 1.22 no heap object
//!   carries its type, so none is found;
//! - root names: with `-w` every map a global holds has truth's (and
//!   DWARF's) root exactly (`main.sessionsByID`, `main.loader.byKind`,
//!   `main.registry.endpoints`, `main.smallMaps[*]`); with `-s -w` a map
//!   held by a global directly is named by the global's address
//!   (`global 0x…`, checked against the symbol of the `-w` build of the
//!   same program and toolchain, which links the globals at the same
//!   addresses), through heap objects the path starts at that address or
//!   is truth's typed path from it (`global 0x….byKind`), a member of a
//!   family a global holds directly is `global 0x…[*]`; a goroutine's
//!   local is named by its goroutine and function (`goroutine 8
//!   main.stackOnlyWorker → map`: the variable's name is DWARF's only).

use std::path::{Path, PathBuf};

mod common;

use mapscope_gomaps::discover::{discover, RootKind};
use mapscope_goruntime::symbols::SymbolTable;
use mapscope_goruntime::GoProcess;
use serde_json::Value;

/// Truth maps a stripped build cannot find from typed storage, and why.
const NOT_FINDABLE: &[(&str, &str)] = &[];

fn truth_maps(v: &Value, out: &mut Vec<Value>) {
    for m in v.as_array().into_iter().flatten() {
        out.push(m.clone());
        truth_maps(&m["children"], out);
    }
}

/// The -w build next to a -s -w incident (`go1.26-sw` → `go1.26-w`).
fn symbols_build(dir: &Path) -> Option<PathBuf> {
    let name = dir.file_name()?.to_str()?;
    let sibling = dir.with_file_name(name.replacen("-sw", "-w", 1));
    (name.contains("-sw") && sibling.join("mapzoo").is_file()).then(|| sibling.join("mapzoo"))
}

fn root_kind(k: RootKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Checks one incident; returns (found, total, findable) and problems.
fn check(dir: &Path) -> ((usize, usize, usize), Vec<String>) {
    let name = mapscope_testsupport::corpus::name(dir);
    let mut problems = Vec::new();
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).expect("truth.json"))
            .expect("truth.json parses");
    let process = GoProcess::open(&dir.join("core"), Some(&dir.join("mapzoo"))).expect("opens");
    let dwarf = process.dwarf().expect("layout table stand-in");
    assert!(!dwarf.has_program_types(), "{name}: has DWARF");
    let discovery = discover(&process).expect("discovery");
    assert!(
        discovery
            .warnings
            .iter()
            .any(|w| w.contains("maps found from their storage's runtime types")),
        "{name}: the stripped-build warning is missing: {:?}",
        discovery.warnings
    );
    let found = common::by_address(&discovery.maps);
    let go = truth["go_version"].as_str().unwrap_or("");
    let minor: u32 = go
        .strip_prefix("go1.")
        .and_then(|r| r.split('.').next())
        .and_then(|m| m.parse().ok())
        .expect("truth go_version");
    let with_symbols = name.contains("-w");
    let sibling_symbols = symbols_build(dir).map(|exe| std::fs::read(exe).expect("-w build"));
    let sibling = sibling_symbols
        .as_deref()
        .map(|b| SymbolTable::parse(b).expect("symbols"));
    let mut all = Vec::new();
    truth_maps(&truth["maps"], &mut all);
    let (mut n_found, mut findable) = (0usize, 0usize);
    for t in &all {
        let tname = t["name"].as_str().unwrap_or("?");
        let address = common::parse_addr(&t["address"]);
        let expected = minor >= 22 && !NOT_FINDABLE.iter().any(|(n, _)| *n == tname);
        findable += usize::from(expected);
        let Some(m) = found.get(&address) else {
            if expected {
                problems.push(format!("{name}: {tname} at {address:#x} not found"));
            }
            continue;
        };
        n_found += 1;
        let (tlen, ttype) = (t["len"].as_u64().unwrap_or(0), t["type"].as_str());
        if (t["kind"] == "map" || (t["kind"] == "map-family" && m.kind == "map-family"))
            && (m.len != tlen || Some(m.type_name.as_str()) != ttype)
        {
            problems.push(format!(
                "{name}: {tname}: len {} type {} (truth {tlen} {ttype:?})",
                m.len, m.type_name
            ));
        }
        // Retained bytes of a structure found as itself (not as a member:
        // only the largest members are measured) within 5% of truth's.
        let tret = t["retained_bytes"].as_u64().unwrap_or(0);
        if tret > 0 && t["kind"] == m.kind.as_str() && !tname.ends_with(".member") {
            let ours = m.retained_bytes.unwrap_or(0);
            if ours.abs_diff(tret) * 20 > tret {
                problems.push(format!(
                    "{name}: {tname}: retained {ours} B (truth {tret} B)"
                ));
            }
        }
        let tkind = t["root_kind"].as_str().unwrap_or("");
        if root_kind(m.root_kind) != tkind {
            problems.push(format!(
                "{name}: {tname}: root kind {:?} (truth {tkind})",
                m.root_kind
            ));
        }
        // Globals: the variable's name (-w) or address (-s -w).
        let troot = t["root"].as_str().unwrap_or("");
        let variable = troot
            .split(['.', '['])
            .take(2)
            .collect::<Vec<_>>()
            .join(".");
        let direct = tkind == "global" && troot == variable;
        let through_global = troot.starts_with("main.");
        // A member of a family held by a global directly is named as
        // truth names it (`main.smallMaps[*]`, `global 0x…[*]`).
        let member_of_variable = troot == format!("{variable}[*]") && m.root.ends_with("[*]");
        if with_symbols && through_global {
            // A typed path from a one-word global is truth's own name
            // (`main.loader.byKind`).
            let ok = m.root == troot;
            if !ok {
                problems.push(format!(
                    "{name}: {tname}: root {:?} (truth {troot})",
                    m.root
                ));
            }
        } else if tkind == "goroutine" {
            // A goroutine's local: its goroutine and function, the
            // variable's name is DWARF's only (`goroutine 8
            // main.stackOnlyWorker.m` → `goroutine 8 main.stackOnlyWorker → map`).
            let frame = troot.rsplit_once('.').map_or(troot, |(f, _)| f);
            if m.root != format!("{frame} → map") {
                problems.push(format!(
                    "{name}: {tname}: root {:?} (truth {troot})",
                    m.root
                ));
            }
        }
        if !with_symbols && through_global {
            let want = sibling
                .as_ref()
                .and_then(|s| s.address_of(&variable))
                .map(|a| format!("global {a:#x}"));
            let ok = match &want {
                Some(w) if direct => &m.root == w,
                Some(w) if member_of_variable => m.root == format!("{w}[*]"),
                Some(w) => {
                    m.root.starts_with(&format!("{w} → "))
                        || troot
                            .strip_prefix(&variable)
                            .is_some_and(|typed| m.root == format!("{w}{typed}"))
                }
                None => m.root.starts_with("global 0x"),
            };
            if !ok {
                problems.push(format!(
                    "{name}: {tname}: root {:?} (truth {troot}, expected {want:?})",
                    m.root
                ));
            }
        }
    }
    eprintln!(
        "{name}: {n_found}/{} truth maps found ({findable} findable from typed storage)",
        all.len()
    );
    ((n_found, all.len(), findable), problems)
}

#[test]
#[ignore = "needs the generated corpus: MAPSCOPE_CORPUS=DIR (kind stripped, scripts/gen-corpus.sh)"]
fn stripped_maps_match_truth() {
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for dir in mapscope_testsupport::corpus::incidents("stripped") {
        if !dir.join("truth.json").is_file() {
            continue;
        }
        let (_, p) = check(&dir);
        problems.extend(p);
        checked.push(mapscope_testsupport::corpus::name(&dir));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    mapscope_testsupport::corpus::assert_checked("stripped", &checked, &[]);
}
