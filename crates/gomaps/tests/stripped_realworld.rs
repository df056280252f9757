//! Go's prebuilt tools (symbol table, no DWARF) against their DWARF builds
//! (issue #17): the maps held by global variables — named by symbol,
//! struct field paths from the type descriptors
//! (`cmd/compile/internal/base.Flag.Cfg.PackageFile`), types decided from
//! storage geometry, heap bitmaps and slot padding
//! (`mapscope_gomaps::stripped_shapes`) — are the ones the DWARF build of
//! the same program, stopped in the same workload
//! (`scripts/gen-realworld.sh --prebuilt`), names from its DWARF.
//!
//! Ignored: needs the real-program incidents (`MAPSCOPE_REALWORLD=DIR`,
//! `<go1.XX>-<prog>-prebuilt` beside `<go1.XX>-<prog>`).
//!
//! Per pair, over the prebuilt run's maps named by a global (variable or
//! field path; not `global 0x…`, not goroutines):
//! - at least 80% have a map of the same root in the DWARF run (measured
//!   2026-12-07: go1.26 compile 109 of 113, link 29 of 29; go1.22 compile
//!   86 of 87, link 24 of 24: the others are held by another global too,
//!   which the DWARF walk names);
//! - of those, the kind is DWARF's, and the type is DWARF's with package
//!   qualifiers cut (`map[ssa.BlockKind]struct { asm obj.As }`) when
//!   decided, or listed among the alternatives when ambiguous (unless the
//!   list is cut: `… (N more)`); named map types (`types2.opPredicates`)
//!   are spelled by their storage and skipped;
//! - `len` equals DWARF's for at least 90% (two processes: tables are
//!   static, caches may differ by a few entries; measured 106 of 109).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mapscope_gomaps::discover::{discover, FoundMap, RootVia};
use mapscope_goruntime::GoProcess;

/// `map[cmd/link/internal/sym.LoaderSym]struct { arm64.asm obj.As }` →
/// `map[LoaderSym]struct { asm As }`: package qualifiers cut.
fn unqualified(name: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    for c in name.chars().chain(std::iter::once('\0')) {
        if c.is_alphanumeric() || c == '_' || c == '/' || c == '.' {
            word.push(c);
            continue;
        }
        out.push_str(word.rsplit('.').next().unwrap_or(""));
        word.clear();
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

fn flatten<'a>(maps: &'a [FoundMap], out: &mut Vec<&'a FoundMap>) {
    for m in maps {
        out.push(m);
        flatten(&m.children, out);
    }
}

fn executable(dir: &Path) -> Option<PathBuf> {
    ["compile", "link", "vet"]
        .iter()
        .map(|p| dir.join(p))
        .find(|p| p.is_file())
}

fn pairs() -> Vec<(PathBuf, PathBuf)> {
    let root = PathBuf::from(
        std::env::var_os("MAPSCOPE_REALWORLD")
            .filter(|v| !v.is_empty())
            .expect("MAPSCOPE_REALWORLD=DIR of real-program incidents"),
    );
    let mut out = Vec::new();
    for e in std::fs::read_dir(&root).expect("reads MAPSCOPE_REALWORLD") {
        let path = e.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(base) = name.strip_suffix("-prebuilt") {
            let dwarf = root.join(base);
            if dwarf.join("core").is_file() && path.join("core").is_file() {
                out.push((path.clone(), dwarf));
            }
        }
    }
    out.sort();
    out
}

#[test]
#[ignore = "needs real-program incidents: MAPSCOPE_REALWORLD=DIR (scripts/gen-realworld.sh --prebuilt)"]
fn prebuilt_global_maps_match_their_dwarf_builds() {
    let pairs = pairs();
    assert!(
        !pairs.is_empty(),
        "no <go1.XX>-<prog>-prebuilt incident with its DWARF build"
    );
    let mut problems = Vec::new();
    for (prebuilt, with_dwarf) in &pairs {
        let name = prebuilt.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let open = |dir: &Path| {
            let exe = executable(dir).expect("executable");
            GoProcess::open(&dir.join("core"), Some(&exe)).expect("opens")
        };
        let (p, d) = (open(prebuilt), open(with_dwarf));
        assert!(
            !p.dwarf().expect("stand-in").has_program_types(),
            "{name}: has DWARF"
        );
        let (pd, dd) = (
            discover(&p).expect("discovery"),
            discover(&d).expect("discovery"),
        );
        let (mut pm, mut dm) = (Vec::new(), Vec::new());
        flatten(&pd.maps, &mut pm);
        flatten(&dd.maps, &mut dm);
        let mut by_root: HashMap<&str, &FoundMap> = HashMap::new();
        for m in &dm {
            by_root.entry(m.root.as_str()).or_insert(m);
        }
        let named: Vec<&&FoundMap> = pm
            .iter()
            .filter(|m| matches!(m.via, RootVia::Variable | RootVia::Typed))
            .filter(|m| !m.root.starts_with("global 0x") && !m.root.starts_with("goroutine "))
            .collect();
        let (mut matched, mut same_len) = (0usize, 0usize);
        for m in &named {
            let Some(dwarf) = by_root.get(m.root.as_str()) else {
                continue;
            };
            matched += 1;
            same_len += usize::from(m.len == dwarf.len);
            if m.kind != dwarf.kind {
                problems.push(format!(
                    "{name}: {}: kind {} (DWARF {})",
                    m.root, m.kind, dwarf.kind
                ));
                continue;
            }
            if !dwarf.type_name.starts_with("map[") {
                continue;
            }
            let want = unqualified(&dwarf.type_name);
            let alternatives: Vec<String> = m.type_name.split(" | ").map(unqualified).collect();
            let ok = match alternatives.as_slice() {
                [one] => *one == want,
                _ => alternatives.contains(&want) || m.type_name.ends_with("more)"),
            };
            if !ok {
                problems.push(format!(
                    "{name}: {}: type {} (DWARF {})",
                    m.root, m.type_name, dwarf.type_name
                ));
            }
        }
        eprintln!(
            "{name}: {} maps named by a global, {matched} also in the DWARF build, {same_len} with its len",
            named.len()
        );
        if matched * 5 < named.len() * 4 {
            problems.push(format!(
                "{name}: only {matched} of {} named maps in the DWARF build",
                named.len()
            ));
        }
        if same_len * 10 < matched * 9 {
            problems.push(format!(
                "{name}: only {same_len} of {matched} with the DWARF build's len"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
