//! Executables without DWARF (`-ldflags=-w`, `-ldflags='-s -w'`): the
//! built-in runtime layout tables against independent truth.
//!
//! - The tables against DWARF: the shipped samples' own DWARF extracts to
//!   exactly the built-in table of their release (always run), and every
//!   table equals what its reference build extracts to (ignored: needs the
//!   Go toolchains, `MAPSCOPE_GO_TOOLCHAINS=DIR` holding `DIR/go1.XX/bin/go`).
//! - Stripped incidents (ignored: `MAPSCOPE_CORPUS=DIR`, kind `stripped`,
//!   made by scripts/gen-corpus.sh; `go1.22-w`, `go1.26-sw`, …): the heap
//!   walk against the program's own `HeapAlloc` (truth.json) within 2% and
//!   against the runtime's statistics in the core; the goroutines against
//!   the crash traceback the runtime printed (stderr.txt: every goroutine,
//!   its status, every logical frame's function, file and line, every
//!   physical frame's pc and sp, `created by`); and for a `-s -w` build the
//!   runtime globals found by searching against the symbol table of the
//!   `-w` build of the same program and toolchain (same link addresses).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mapscope_goruntime::buildinfo::BuildInfo;
use mapscope_goruntime::dwarf::table::{
    builtin, extract, table_name, LayoutTable, TableHeader, BUILTIN_TABLES,
};
use mapscope_goruntime::dwarf::{DwarfInfo, DwarfSource};
use mapscope_goruntime::goroutines::Goroutines;
use mapscope_goruntime::symbols::SymbolTable;
use mapscope_goruntime::GoProcess;

/// The table text `exe`'s DWARF extracts to, and the built-in table of the
/// same build.
fn extracted_and_builtin(exe: &[u8]) -> (String, &'static str, String) {
    let dwarf = DwarfInfo::load(exe).expect("DWARF");
    let info = BuildInfo::parse(exe).expect("build info");
    let header = TableHeader::for_build(&info, dwarf.pointer_size()).expect("header");
    let minor: u32 = header.go["go1.".len()..]
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .expect("minor version");
    let noswiss = header.experiments.iter().any(|e| e == "noswissmap");
    let name = table_name(minor, &header.goarch, noswiss);
    let table = builtin(minor, &header.goarch, noswiss)
        .unwrap_or_else(|| panic!("no built-in table {name}"));
    (extract(&dwarf, &header), table.text, name)
}

fn assert_same_table(who: &str, extracted: &str, shipped: &str) {
    if extracted == shipped {
        return;
    }
    let a: Vec<&str> = extracted.lines().collect();
    let b: Vec<&str> = shipped.lines().collect();
    let first = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    panic!(
        "{who}: DWARF extracts to a different table ({} vs {} lines); first difference at line {}: DWARF {:?}, table {:?}",
        a.len(),
        b.len(),
        first + 1,
        a.get(first),
        b.get(first)
    );
}

#[test]
fn shipped_samples_dwarf_equals_their_layout_tables() {
    for name in ["go1.22", "go1.26"] {
        let sample = mapscope_testsupport::sample(name);
        let exe = std::fs::read(&sample.exe).expect("sample executable");
        let (extracted, shipped, table) = extracted_and_builtin(&exe);
        eprintln!("{name}: table {table}, {} bytes", shipped.len());
        assert_same_table(&format!("{name} vs {table}"), &extracted, shipped);
    }
}

/// Every built-in table equals the DWARF of its reference build
/// (samples/programs/layoutref, as scripts/gen-layout-tables.sh builds it).
#[test]
#[ignore = "needs Go toolchains: MAPSCOPE_GO_TOOLCHAINS=/tmp (DIR/go1.XX/bin/go)"]
fn layout_tables_equal_the_dwarf_of_their_reference_builds() {
    let toolchains = PathBuf::from(
        std::env::var_os("MAPSCOPE_GO_TOOLCHAINS")
            .expect("MAPSCOPE_GO_TOOLCHAINS=DIR holding DIR/go1.XX/bin/go"),
    );
    let program = mapscope_testsupport::workspace_root().join("samples/programs/layoutref");
    let work = std::env::temp_dir().join(format!("mapscope-layoutref-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    for t in BUILTIN_TABLES {
        let table = LayoutTable::parse(t.text).expect("table parses");
        let minor = table.header.go["go".len()..]
            .rsplit_once('.')
            .map(|(m, _)| m.to_string())
            .expect("release");
        let go = toolchains.join(format!("go{minor}/bin/go"));
        assert!(go.is_file(), "{}: no toolchain {}", t.name, go.display());
        let exe = work.join(t.name);
        let status = std::process::Command::new(&go)
            .args(["build", "-o"])
            .arg(&exe)
            .arg(".")
            .current_dir(&program)
            .env("CGO_ENABLED", "0")
            .env("GOOS", "linux")
            .env("GOARCH", &table.header.goarch)
            .env("GOEXPERIMENT", table.header.experiments.join(","))
            .env("GOFLAGS", "-mod=mod")
            .env("GOTOOLCHAIN", "local")
            .env("GOPROXY", "off")
            .status()
            .expect("go build runs");
        assert!(status.success(), "{}: go build failed", t.name);
        let bytes = std::fs::read(&exe).unwrap();
        let (extracted, shipped, name) = extracted_and_builtin(&bytes);
        assert_eq!(name, t.name, "the build selects its own table");
        assert_same_table(t.name, &extracted, shipped);
        eprintln!("{}: equal ({} bytes)", t.name, shipped.len());
    }
    let _ = std::fs::remove_dir_all(&work);
}

// ---------------------------------------------------------------------------
// Stripped incidents.

fn truth(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).expect("truth.json"))
        .expect("truth.json parses")
}

/// One logical frame of the traceback: function, file, line, and on
/// physical frames pc and sp.
type TbFrame = (String, String, u32, Option<u64>, Option<u64>);

/// One goroutine of the crash traceback.
#[derive(Debug, Default)]
struct TbGoroutine {
    id: u64,
    status: String,
    frames: Vec<TbFrame>,
    created_by: Option<(String, String, u32)>,
    elided: bool,
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// `file:line +0x1f fp=… sp=… pc=…` → file, line, pc, sp.
fn position(line: &str) -> (String, u32, Option<u64>, Option<u64>) {
    let mut words = line.split_whitespace();
    let (file, l) = words
        .next()
        .and_then(|p| p.rsplit_once(':'))
        .unwrap_or(("", "0"));
    let (mut pc, mut sp) = (None, None);
    for w in words {
        if let Some(v) = w.strip_prefix("pc=") {
            pc = hex(v);
        } else if let Some(v) = w.strip_prefix("sp=") {
            sp = hex(v);
        }
    }
    (file.to_string(), l.parse().unwrap_or(0), pc, sp)
}

/// The goroutines of the traceback's first section (id 0 blocks, the
/// threads, left out).
fn traceback(stderr: &str) -> Vec<TbGoroutine> {
    let first = stderr.split("\n-----\n").next().unwrap_or("");
    let mut out: Vec<TbGoroutine> = Vec::new();
    let mut in_block = false;
    let mut created = false;
    for line in first.lines() {
        if let Some(rest) = line.strip_prefix("goroutine ") {
            let (head, status) = rest.split_once(" [").expect("goroutine header");
            let status: Vec<&str> = status
                .trim_end_matches("]:")
                .split(", ")
                .filter(|p| !p.ends_with(" minutes") && !p.ends_with(" minute"))
                .collect();
            out.push(TbGoroutine {
                id: head.split_whitespace().next().unwrap().parse().unwrap(),
                status: status.join(", "),
                ..Default::default()
            });
            in_block = true;
            continue;
        }
        if !in_block {
            continue;
        }
        let Some(g) = out.last_mut() else { continue };
        if line.is_empty() {
            in_block = false;
            continue;
        }
        if let Some(tabbed) = line.strip_prefix('\t') {
            let (file, l, pc, sp) = position(tabbed);
            if created {
                if let Some(c) = g.created_by.as_mut() {
                    c.1 = file;
                    c.2 = l;
                }
                created = false;
            } else if let Some(f) = g.frames.last_mut() {
                (f.1, f.2, f.3, f.4) = (file, l, pc, sp);
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("created by ") {
            let function = rest.split(" in goroutine ").next().unwrap_or(rest);
            g.created_by = Some((function.to_string(), String::new(), 0));
            created = true;
            continue;
        }
        if line.starts_with("...") {
            g.elided = true;
            continue;
        }
        // Register dumps end the block.
        if line.split_whitespace().count() == 2 && !line.contains('(') {
            in_block = false;
            continue;
        }
        let name = line.rfind('(').map(|i| &line[..i]).unwrap_or(line);
        g.frames
            .push((name.to_string(), String::new(), 0, None, None));
    }
    out.retain(|g| g.id != 0);
    out
}

/// Problems between our goroutines and the traceback's; (goroutines,
/// logical frames) matched.
fn compare_goroutines(gs: &Goroutines, stderr: &str, problems: &mut Vec<String>) -> (usize, usize) {
    let tb = traceback(stderr);
    let (mut matched, mut frames) = (0, 0);
    for t in &tb {
        let Some(ours) = gs.by_id(t.id) else {
            problems.push(format!("goroutine {} of the traceback not found", t.id));
            continue;
        };
        matched += 1;
        if ours.status_text() != t.status {
            problems.push(format!(
                "goroutine {}: status {:?}, ours {:?}",
                t.id,
                t.status,
                ours.status_text()
            ));
        }
        let mut logical = Vec::new();
        for f in &ours.frames {
            let n = f.inlined.len();
            for (i, s) in f.source_frames().enumerate() {
                let physical = (i == n).then_some((f.pc, f.sp));
                logical.push((s.function.clone(), s.file.clone(), s.line, physical));
            }
        }
        if !t.elided && logical.len() != t.frames.len() {
            problems.push(format!(
                "goroutine {}: {} logical frames, traceback {}",
                t.id,
                logical.len(),
                t.frames.len()
            ));
        }
        for (i, (o, f)) in logical.iter().zip(&t.frames).enumerate() {
            let same_position = o.0 == f.0 && o.1 == f.1 && o.2 == f.2;
            let same_registers = match (o.3, f.3, f.4) {
                (Some((pc, sp)), Some(tpc), Some(tsp)) => pc == tpc && sp == tsp,
                (_, None, None) => true,
                _ => false,
            };
            if same_position && same_registers {
                frames += 1;
            } else {
                problems.push(format!(
                    "goroutine {} frame {i}: ours {o:x?}, traceback {f:x?}",
                    t.id
                ));
            }
        }
        let mine = ours
            .created_by
            .as_ref()
            .map(|c| (c.function.clone(), c.file.clone(), c.line));
        if mine != t.created_by {
            problems.push(format!(
                "goroutine {}: created by {:?}, ours {mine:?}",
                t.id, t.created_by
            ));
        }
    }
    for g in &gs.goroutines {
        if !tb.iter().any(|t| t.id == g.id) {
            problems.push(format!("goroutine {} not in the traceback", g.id));
        }
    }
    (matched, frames)
}

/// The -w build next to a -s -w incident (`go1.26-sw` → `go1.26-w`).
fn symbols_build(dir: &Path) -> Option<PathBuf> {
    let name = dir.file_name()?.to_str()?;
    let sibling = dir.with_file_name(name.replacen("-sw", "-w", 1));
    (name.contains("-sw") && sibling.join("mapzoo").is_file()).then(|| sibling.join("mapzoo"))
}

fn check_stripped(dir: &Path) -> Result<String, Vec<String>> {
    let mut problems = Vec::new();
    let process = GoProcess::open(&dir.join("core"), Some(&dir.join("mapzoo"))).expect("opens");
    let truth = truth(dir);
    match process.dwarf().map(|d| d.source().clone()) {
        Some(DwarfSource::Table { .. }) => {}
        other => problems.push(format!("expected a layout table, got {other:?}")),
    }
    if !process
        .warnings()
        .iter()
        .any(|w| w.starts_with("no DWARF: runtime layouts from the built-in table for go1."))
    {
        problems.push(format!("no table warning in {:?}", process.warnings()));
    }
    // Every runtime global the table names is placed (by symbol or search).
    if let Some(dwarf) = process.dwarf() {
        for name in [
            "runtime.mheap_",
            "runtime.allgs",
            "runtime.allm",
            "runtime.mbuckets",
            "runtime.memstats",
            "runtime.gcController",
            "runtime.mProfCycle",
            "runtime.MemProfileRate",
            "runtime.buildVersion",
            "runtime.waitReasonStrings",
            "runtime.firstmoduledata",
        ] {
            if dwarf.globals().by_name(name).is_none() {
                problems.push(format!("{name} not placed"));
            }
        }
    }
    let heap_alloc = truth["memstats"]["HeapAlloc"].as_u64().expect("HeapAlloc");
    let mut summary = String::new();
    match process.heap() {
        Ok(heap) => {
            let walk = heap.in_use_bytes();
            let off = walk.abs_diff(heap_alloc) as f64 / heap_alloc as f64;
            summary.push_str(&format!(
                "heap {walk} vs truth HeapAlloc {heap_alloc} ({:+.2}%)",
                (walk as f64 / heap_alloc as f64 - 1.0) * 100.0
            ));
            if off >= 0.02 {
                problems.push(format!("heap walk {walk} vs truth HeapAlloc {heap_alloc}"));
            }
            // The program's own MemProfileRate (runtime.MemProfileRate).
            let rate = truth["mem_profile_rate"].as_i64();
            if heap.mem_profile_rate() != rate {
                problems.push(format!(
                    "MemProfileRate {:?}, truth {rate:?}",
                    heap.mem_profile_rate()
                ));
            }
            match heap.runtime_stats() {
                Some(stats) if walk.abs_diff(stats.heap_alloc) * 1000 <= stats.heap_alloc => {}
                Some(stats) => problems.push(format!(
                    "heap walk {walk} vs the core's HeapAlloc {}",
                    stats.heap_alloc
                )),
                None => problems.push("no runtime statistics (runtime.memstats)".to_string()),
            }
        }
        Err(e) => problems.push(format!("heap: {e}")),
    }
    match process.goroutines() {
        Ok(gs) => {
            let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
            let (matched, frames) = compare_goroutines(&gs, &stderr, &mut problems);
            summary.push_str(&format!(
                "; goroutines {}/{} matched, {frames} logical frames equal",
                matched,
                gs.goroutines.len()
            ));
        }
        Err(e) => problems.push(format!("goroutines: {e}")),
    }
    if let Some(exe) = symbols_build(dir) {
        let bytes = std::fs::read(&exe).unwrap();
        let symbols = SymbolTable::parse(&bytes).expect("symbols");
        let mut compared = 0;
        let dwarf = process.dwarf().expect("table");
        let mut by_name: HashMap<&str, u64> = HashMap::new();
        for g in dwarf.globals().all() {
            by_name.insert(&g.name, g.address);
        }
        for (name, address) in by_name {
            compared += 1;
            if symbols.address_of(name) != Some(address) {
                problems.push(format!(
                    "{name}: found at {address:#x}, the -w build's symbol says {:x?}",
                    symbols.address_of(name)
                ));
            }
        }
        summary.push_str(&format!(
            "; {compared} searched globals equal the -w symbols"
        ));
    }
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(problems)
    }
}

#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh), kind stripped"]
fn stripped_incidents_agree_with_truth_and_traceback() {
    let mut checked = Vec::new();
    let mut failed = Vec::new();
    for dir in mapscope_testsupport::corpus::incidents("stripped") {
        let name = mapscope_testsupport::corpus::name(&dir);
        match check_stripped(&dir) {
            Ok(summary) => eprintln!("{name}: ok: {summary}"),
            Err(problems) => {
                for p in &problems {
                    eprintln!("{name}: {p}");
                }
                failed.push(name.clone());
            }
        }
        checked.push(name);
    }
    mapscope_testsupport::corpus::assert_checked("stripped", &checked, &[]);
    assert!(failed.is_empty(), "failed: {failed:?}");
}

/// A copy of `exe` as `-ldflags='-s -w'` leaves it, made from a build with
/// DWARF: `.debug_*` sections renamed and the symbol table's section type
/// cleared (the loader finds neither).
fn strip_copy(exe: &Path, tag: &str) -> PathBuf {
    let mut bytes = std::fs::read(exe).unwrap();
    mapscope_testsupport::hide_dwarf_sections(&mut bytes);
    // ELF64 little-endian section headers: SHT_SYMTAB (2) → SHT_NULL.
    let u = |b: &[u8], at: usize, n: usize| {
        b[at..at + n]
            .iter()
            .rev()
            .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)) as usize
    };
    let (shoff, shentsize, shnum) = (u(&bytes, 0x28, 8), u(&bytes, 0x3a, 2), u(&bytes, 0x3c, 2));
    for s in 0..shnum {
        let at = shoff + s * shentsize + 4;
        if u(&bytes, at, 4) == 2 {
            bytes[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
        }
    }
    let out = std::env::temp_dir().join(format!("mapscope-sw-{tag}-{}", std::process::id()));
    std::fs::write(&out, bytes).unwrap();
    out
}

/// A goroutine's id, status and physical frames (pc, sp, function).
type GoroutineFrames = (u64, String, Vec<(u64, u64, String)>);

/// The shipped samples with DWARF and symbols taken away: the searched
/// runtime globals sit where the symbol table says, and the heap walk and
/// the goroutines (frames, pcs, sps) equal the DWARF build's on the same
/// core.
#[test]
fn shipped_samples_without_dwarf_and_symbols_match_their_dwarf_walk() {
    for name in ["go1.22", "go1.26"] {
        let sample = mapscope_testsupport::sample(name);
        let stripped = strip_copy(&sample.exe, name);
        let process = GoProcess::open(&sample.core, Some(&stripped)).expect("opens stripped");
        let _ = std::fs::remove_file(&stripped);
        let reference = GoProcess::open(&sample.core, Some(&sample.exe)).unwrap();
        assert!(process.symbols().is_empty(), "{name}: symbols left");
        let dwarf = process.dwarf().expect("table");
        assert!(matches!(dwarf.source(), DwarfSource::Table { .. }));
        assert!(
            process
                .warnings()
                .iter()
                .any(|w| w.starts_with("no symbol table: runtime globals found by searching")),
            "{name}: {:?}",
            process.warnings()
        );
        let symbols = reference.symbols();
        for g in dwarf.globals().all() {
            assert_eq!(
                Some(g.address),
                symbols.address_of(&g.name),
                "{name}: {}",
                g.name
            );
        }
        assert!(dwarf.globals().len() >= 12, "{name}: {:?}", dwarf.globals());
        let (heap, want) = (process.heap().unwrap(), reference.heap().unwrap());
        assert_eq!(heap.in_use_bytes(), want.in_use_bytes(), "{name}");
        assert_eq!(heap.object_count(), want.object_count(), "{name}");
        assert_eq!(heap.mem_profile_rate(), want.mem_profile_rate(), "{name}");
        assert_eq!(
            heap.runtime_stats().map(|s| (s.heap_alloc, s.num_gc)),
            want.runtime_stats().map(|s| (s.heap_alloc, s.num_gc)),
            "{name}"
        );
        let (gs, want) = (
            process.goroutines().unwrap(),
            reference.goroutines().unwrap(),
        );
        let frames = |gs: &Goroutines| -> Vec<GoroutineFrames> {
            gs.goroutines
                .iter()
                .map(|g| {
                    let f = g
                        .frames
                        .iter()
                        .map(|f| (f.pc, f.sp, f.function.clone()))
                        .collect();
                    (g.id, g.status_text(), f)
                })
                .collect()
        };
        assert_eq!(frames(&gs), frames(&want), "{name}");
        assert_eq!(gs.threads.len(), want.threads.len(), "{name}");
    }
}
