//! pclntab, build info and the unwinder on the shipped incidents
//! (`samples/go1.XX*/`: the mapzoo executable, its core and the
//! GOTRACEBACK=crash traceback it printed when it aborted).
//!
//! Truth: `go version -m` in each sample's build.txt, and every goroutine
//! frame (pc, sp, fp, `+0x` offset, function, file:line, inlined frames)
//! in stderr.txt. The unwinder starts at each goroutine's first printed
//! frame and reads the stack from the core; it must reproduce the rest.
//! Samples that are not there (a partial checkout) are skipped by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod traceback_support;

use mapscope_goruntime::buildinfo::BuildInfo;
use mapscope_goruntime::pclntab::{Pclntab, UnwindStart, UnwindStop, Unwinder};
use mapscope_goruntime::symbols::SymbolTable;
use object::{Object, ObjectSegment};
use traceback_support::parse_traceback;

/// Shipped samples, plus, when `$MAPSCOPE_CORPUS` is set, every mapzoo
/// incident of the corpus (scripts/gen-corpus.sh: every Go version and
/// variant, with uncompressed `mapzoo` and `core`).
fn samples() -> Vec<PathBuf> {
    let mut roots = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples")];
    if let Some(corpus) = std::env::var_os(mapscope_testsupport::corpus::ENV) {
        roots.push(PathBuf::from(corpus).join("mapzoo"));
    }
    let mut dirs = Vec::new();
    for root in roots {
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| {
                (p.join("mapzoo.zst").exists() || p.join("mapzoo").exists())
                    && p.join("build.txt").exists()
            })
            .collect();
        found.sort();
        dirs.extend(found);
    }
    dirs
}

/// `name`, or `name.zst` decompressed.
fn read_maybe_zst(dir: &Path, name: &str) -> Option<Vec<u8>> {
    if let Ok(bytes) = std::fs::read(dir.join(name)) {
        return Some(bytes);
    }
    let path = dir.join(format!("{name}.zst"));
    let file = std::fs::File::open(&path).ok()?;
    Some(zstd::decode_all(file).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn exe(dir: &Path) -> Vec<u8> {
    read_maybe_zst(dir, "mapzoo").unwrap()
}

#[test]
fn build_info_matches_go_version_m() {
    for dir in samples() {
        let exe = exe(&dir);
        let info = BuildInfo::parse(&exe).unwrap();
        let build = std::fs::read_to_string(dir.join("build.txt")).unwrap();
        // `go version -m` output: "PATH: VERSION" then tab-led lines.
        let mut lines = build.lines().skip_while(|l| !l.contains("/mapzoo: go"));
        let first = lines.next().unwrap();
        let expected_version = first.split(": ").nth(1).unwrap();
        assert_eq!(info.go_version, expected_version, "{}", dir.display());
        let expected: String = lines
            .take_while(|l| l.starts_with('\t'))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(info.modinfo_text(), expected, "{}", dir.display());
    }
}

/// Loadable segments of an ELF core, for reading stack words.
struct CoreMemory {
    segments: BTreeMap<u64, (usize, usize)>,
    bytes: Vec<u8>,
}

impl CoreMemory {
    fn new(bytes: Vec<u8>) -> Self {
        let mut segments = BTreeMap::new();
        {
            let file = object::File::parse(&bytes[..]).unwrap();
            for seg in file.segments() {
                let (offset, size) = seg.file_range();
                segments.insert(seg.address(), (offset as usize, size as usize));
            }
        }
        CoreMemory { segments, bytes }
    }

    fn read_u64(&self, address: u64) -> Option<u64> {
        let (&start, &(offset, size)) = self.segments.range(..=address).next_back()?;
        let at = usize::try_from(address - start).ok()?;
        if at.checked_add(8)? > size {
            return None;
        }
        let b = self.bytes.get(offset + at..offset + at + 8)?;
        Some(u64::from_le_bytes(b.try_into().ok()?))
    }
}

/// The `lr` register the runtime printed at the end of the thread section
/// holding the goroutine block headed `header` (arm64 crash output; amd64
/// has none), before the next section's `PC=` line.
fn link_register_after(stderr: &str, header: &str) -> Option<u64> {
    let mut lines = stderr.lines().skip_while(|l| *l != header).skip(1);
    lines
        .by_ref()
        .take_while(|l| !l.starts_with("PC="))
        .find_map(|l| {
            let mut words = l.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("lr"), Some(v), None) => {
                    u64::from_str_radix(v.trim_start_matches("0x"), 16).ok()
                }
                _ => None,
            }
        })
}

#[test]
fn unwinder_reproduces_sample_tracebacks() {
    let mut goroutines_checked = 0;
    for dir in samples() {
        let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
        let goroutines = parse_traceback(&stderr);
        if goroutines.is_empty() {
            continue; // gcore samples have no traceback
        }
        let Some(core) = read_maybe_zst(&dir, "core") else {
            continue;
        };
        // On a fatal signal every M prints the stack it was interrupted on
        // (g0, "goroutine 0", or a running goroutine) from its signal
        // context: that pc is the interrupted instruction, not a return
        // address. Other goroutines are printed from saved contexts.
        let from_signal = stderr.starts_with("SIG");
        let exe = exe(&dir);
        let tab = Pclntab::parse(&exe).unwrap();
        let core = CoreMemory::new(core);
        let unwinder = Unwinder::new(&tab);
        for (header, expected) in &goroutines {
            let Some(first) = expected.first() else {
                continue;
            };
            let exact_pc =
                from_signal && (header.starts_with("goroutine 0 ") || header.contains("[running]"));
            let start = UnwindStart {
                exact_pc,
                // arm64: a leaf interrupted by the signal has its return
                // address only in the link register, which the runtime
                // printed after the block (`lr 0x…`).
                lr: if exact_pc {
                    link_register_after(&stderr, header)
                } else if header.contains("[runnable]") {
                    // Preempted asynchronously: the innermost function
                    // may not have saved LR yet, and Go's traceback starts
                    // from g.sched.lr, which it does not print; it is the
                    // caller's pc, the next frame's. (goroutines.rs checks
                    // mapscope's own reading of g.sched.lr.) Ignored on amd64.
                    expected.get(1).map(|f| f.pc)
                } else {
                    None
                },
                ..UnwindStart::saved(first.pc, first.sp)
            };
            let trace = unwinder.unwind(|a| core.read_u64(a), start);
            let context = format!("{}: {header}", dir.display());
            // g0 stacks end at an SP-writing switch (mcall, systemstack).
            assert!(
                matches!(
                    trace.stop,
                    UnwindStop::TopFrame | UnwindStop::SpWrite { .. }
                ),
                "{context}: {:?}",
                trace.stop
            );
            assert_eq!(trace.frames.len(), expected.len(), "{context}");
            for (got, want) in trace.frames.iter().zip(expected) {
                assert_eq!(
                    (got.pc, got.sp, got.fp, got.pc_offset()),
                    (want.pc, want.sp, want.fp, want.offset),
                    "{context}"
                );
                let logical: Vec<(String, String, u32)> = got
                    .frames
                    .iter()
                    .map(|f| (f.function.to_string(), f.file.to_string(), f.line))
                    .collect();
                assert_eq!(logical, want.logical, "{context}");
            }
            goroutines_checked += 1;
        }
    }
    eprintln!("{goroutines_checked} goroutines checked");
}

/// The sample executables are unstripped: every pclntab function has a
/// symbol of the same name at its entry.
#[test]
fn sample_symbols_agree_with_pclntab() {
    for dir in samples() {
        let exe = exe(&dir);
        let symbols = SymbolTable::parse(&exe).unwrap();
        let tab = Pclntab::parse(&exe).unwrap();
        assert!(!symbols.is_empty());
        let mut agree = 0;
        for f in tab.funcs() {
            if symbols
                .symbol_at(f.entry)
                .is_some_and(|s| s.address == f.entry && s.name == f.name())
            {
                agree += 1;
            }
        }
        assert!(
            agree * 10 >= tab.len() * 9,
            "{}: {agree} of {}",
            dir.display(),
            tab.len()
        );
        assert_eq!(
            symbols.address_of("runtime.firstmoduledata"),
            tab.moduledata().map(|m| m.address)
        );
    }
}
