//! pclntab, build info and symbols against independent truth recorded by
//! real Go toolchains (see tests/fixtures/pclntab/gen.sh): `go version`,
//! `go version -m`, `go tool nm`, `go tool addr2line`, the probe program's
//! own `runtime.CallersFrames` output, and the runtime's GOTRACEBACK=crash
//! traceback together with the goroutine stack words from that crash's core.
//!
//! The fixtures are stripped and unstripped executables of Go 1.21, 1.24
//! and 1.27 with `.text` zeroed (tests never read code; zeros compress).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod traceback_support;

use mapscope_goruntime::buildinfo::BuildInfo;
use mapscope_goruntime::pclntab::{
    Arch, FuncId, FuncIdTable, ModuleDataLayout, Pclntab, PclntabSource, UnwindStart, UnwindStop,
    Unwinder,
};
use mapscope_goruntime::symbols::SymbolTable;
use traceback_support::parse_traceback;

/// One directory of fixture files written by gen.sh.
struct Fixture {
    dir: PathBuf,
    name: String,
}

/// The committed fixtures, plus every directory under
/// `$MAPSCOPE_PCLNTAB_EXTRA` (made by `gen.sh --all DIR`: plain and
/// stripped builds of every toolchain 1.21–1.27).
fn fixtures() -> Vec<Fixture> {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pclntab");
    let mut roots = vec![committed];
    if let Some(extra) = std::env::var_os("MAPSCOPE_PCLNTAB_EXTRA") {
        roots.push(PathBuf::from(extra));
    }
    let mut out = Vec::new();
    for root in roots {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
            .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("exe.zst").exists())
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            out.push(Fixture { dir, name });
        }
    }
    assert!(out.len() >= 3, "fixtures missing");
    out
}

impl Fixture {
    fn read_text(&self, file: &str) -> String {
        let path = self.dir.join(file);
        if file.ends_with(".zst") {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            String::from_utf8(zstd::decode_all(&bytes[..]).unwrap()).unwrap()
        } else {
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }
    }

    fn exe(&self) -> Vec<u8> {
        let path = self.dir.join("exe.zst");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        zstd::decode_all(&bytes[..]).unwrap()
    }

    fn has_symbols(&self) -> bool {
        self.dir.join("nm.txt.zst").exists()
    }

    /// Go minor version, from `go version`'s output.
    fn minor(&self) -> u32 {
        let text = self.read_text("version.txt");
        let v = text.split(": go1.").nth(1).unwrap();
        v[..v.find(|c: char| !c.is_ascii_digit()).unwrap()]
            .parse()
            .unwrap()
    }

    /// The funcID numbering of this release (internal/abi/symtab.go).
    fn funcid_table(&self) -> FuncIdTable {
        match self.minor() {
            21 => FuncIdTable::Go121,
            22..=24 => FuncIdTable::Go122,
            _ => FuncIdTable::Go125,
        }
    }

    /// The moduledata field order of this release (runtime/symtab.go).
    fn layout(&self) -> ModuleDataLayout {
        if self.minor() >= 27 {
            ModuleDataLayout::Go127
        } else {
            ModuleDataLayout::Go121
        }
    }

    /// GOARCH as `go version -m` printed it.
    fn goarch(&self) -> String {
        self.read_text("version-m.txt")
            .lines()
            .find_map(|l| l.strip_prefix("\tbuild\tGOARCH="))
            .unwrap()
            .to_string()
    }

    /// Whether the probe ran (same architecture as the generating host):
    /// then callers.txt, crash.txt and stacks.txt exist.
    fn ran(&self) -> bool {
        self.dir.join("crash.txt").exists()
    }

    /// GOEXPERIMENT as `go version -m` printed it.
    fn experiments(&self) -> Vec<String> {
        self.read_text("version-m.txt")
            .lines()
            .find_map(|l| l.strip_prefix("\tbuild\tGOEXPERIMENT="))
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    }
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim().trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

#[test]
fn build_info_matches_go_version() {
    for fixture in &fixtures() {
        let bytes = fixture.exe();
        let info = BuildInfo::parse(&bytes).unwrap();
        let version = format!("{}: {}\n", fixture.name, info.go_version);
        assert_eq!(
            version,
            fixture.read_text("version.txt"),
            "{}",
            fixture.name
        );
        let full = format!("{version}{}", info.modinfo_text());
        assert_eq!(full, fixture.read_text("version-m.txt"), "{}", fixture.name);
        assert_eq!(
            info.experiments(),
            fixture.experiments(),
            "{}",
            fixture.name
        );
        assert_eq!(info.setting("GOARCH"), Some(fixture.goarch().as_str()));
        assert_eq!(info.path, "example.com/pclnprobe");
        let version = info.version();
        assert_eq!(version.major, 1);
        assert_eq!(version.minor, fixture.minor());
    }
}

#[test]
fn header_moduledata_and_funcids() {
    for fixture in &fixtures() {
        let bytes = fixture.exe();
        let tab = Pclntab::parse(&bytes).unwrap();
        assert_eq!(tab.source(), PclntabSource::Section, "{}", fixture.name);
        let (arch, min_lc) = match fixture.goarch().as_str() {
            "amd64" => (Arch::Amd64, 1),
            "arm64" => (Arch::Arm64, 4),
            other => panic!("unexpected GOARCH {other}"),
        };
        assert_eq!(tab.header().min_lc, min_lc);
        assert_eq!(tab.image().arch(), arch);
        let md = tab.moduledata().expect("moduledata found");
        assert_eq!(md.layout, fixture.layout(), "{}", fixture.name);
        assert_eq!(md.text, tab.text_start(), "{}", fixture.name);
        assert_eq!(md.min_pc, tab.text_start());
        assert_eq!(md.max_pc, tab.text_end(), "{}", fixture.name);
        assert!(md.types <= md.etypes && md.rodata <= md.types);
        assert_eq!(Some(md.gofunc), tab.gofunc());
        assert_eq!(
            tab.funcid_table(),
            fixture.funcid_table(),
            "{}",
            fixture.name
        );

        let by_name = |name: &str| {
            tab.func_by_name(name)
                .unwrap_or_else(|| panic!("{}: no {name}", fixture.name))
        };
        let goexit = by_name("runtime.goexit");
        assert_eq!(goexit.func_id(), FuncId::Goexit);
        assert!(goexit.flags().top_frame() && goexit.flags().asm());
        assert_eq!(by_name("runtime.mstart").func_id(), FuncId::Mstart);
        assert!(by_name("runtime.mstart").flags().top_frame());
        assert!(by_name("runtime.systemstack").flags().sp_write());
        assert_eq!(
            by_name("runtime.systemstack").func_id(),
            FuncId::Systemstack
        );
        assert_eq!(by_name("runtime.sigpanic").func_id(), FuncId::Sigpanic);
        assert_eq!(by_name("runtime.main").func_id(), FuncId::RuntimeMain);
        assert_eq!(by_name("runtime.morestack").func_id(), FuncId::Morestack);
        assert_eq!(by_name("runtime.deferreturn").func_id(), FuncId::Wrapper);
        assert_eq!(by_name("main.outer").func_id(), FuncId::Normal);
        // Every function's id is known to the detected table.
        for f in tab.funcs() {
            assert!(
                !matches!(f.func_id(), FuncId::Unknown(_)),
                "{}: {}",
                fixture.name,
                f.name()
            );
        }
        // main.outer has inlined middle/inner: it carries an inline tree.
        let outer = by_name("main.outer");
        assert!(outer
            .funcdata_offset(mapscope_goruntime::pclntab::FUNCDATA_INL_TREE)
            .is_some());
        assert!(outer.max_sp_delta().unwrap() > 0);
    }
}

/// `go tool addr2line` gives, for a pc, the physical function and the
/// innermost file:line; `?` / `:-1` where it has none.
#[test]
fn addr2line_agrees() {
    for fixture in &fixtures() {
        let bytes = fixture.exe();
        let tab = Pclntab::parse(&bytes).unwrap();
        let truth = fixture.read_text("addr2line.txt.zst");
        let mut checked = 0;
        for line in truth.lines() {
            let cols: Vec<&str> = line.split('\t').collect();
            let [pc, function, position] = cols[..] else {
                panic!("bad truth line {line:?}")
            };
            let pc = hex(pc);
            let func = tab.func_for_pc(pc);
            if function == "?" {
                assert!(func.is_none(), "{}: {pc:#x} {func:?}", fixture.name);
                continue;
            }
            let func = func.unwrap_or_else(|| panic!("{}: no func at {pc:#x}", fixture.name));
            assert_eq!(func.name(), function, "{}: {pc:#x}", fixture.name);
            let (file, line_no) = position.rsplit_once(':').unwrap();
            let expected = match line_no.parse::<i64>().unwrap() {
                n if n > 0 && !file.is_empty() && file != "?" => Some((file, n as u32)),
                _ => None,
            };
            assert_eq!(tab.file_line(pc), expected, "{}: {pc:#x}", fixture.name);
            checked += 1;
        }
        assert!(checked >= 600, "{}: only {checked} pcs", fixture.name);
    }
}

/// The probe printed `runtime.CallersFrames` for its own stack, which runs
/// through two levels of inlining (outer ← middle ← inner) and an inlined
/// runtime.Callers. Frames of one physical function share an entry.
#[test]
fn frames_match_runtime_callers_frames() {
    for fixture in &fixtures() {
        let bytes = fixture.exe();
        if !fixture.ran() {
            continue;
        }
        let tab = Pclntab::parse(&bytes).unwrap();
        let text = fixture.read_text("callers.txt");
        // (first pc, entry, logical frames) per physical function.
        let mut groups: Vec<(u64, u64, Vec<Logical>)> = Vec::new();
        for line in text.lines().filter(|l| l.starts_with("frame\t")) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (pc, entry) = (hex(cols[1]), hex(cols[2]));
            let frame = (
                cols[3].to_string(),
                cols[4].to_string(),
                cols[5].parse().unwrap(),
            );
            match groups.last_mut() {
                Some((_, e, frames)) if *e == entry => frames.push(frame),
                _ => groups.push((pc, entry, vec![frame])),
            }
        }
        assert!(groups.len() >= 5, "{}", fixture.name);
        let mut saw_inlining = false;
        for (pc, entry, expected) in &groups {
            let func = tab.func_for_pc(*pc).unwrap();
            assert_eq!(func.entry, *entry, "{}: {pc:#x}", fixture.name);
            let frames = tab.frames(*pc);
            let got: Vec<(String, String, u32)> = frames
                .iter()
                .map(|f| (f.function.to_string(), f.file.to_string(), f.line))
                .collect();
            assert_eq!(&got, expected, "{}: {pc:#x}", fixture.name);
            for (i, f) in frames.iter().enumerate() {
                assert_eq!(f.inlined, i + 1 < frames.len());
            }
            saw_inlining |= expected.len() == 3 && expected[2].0 == "main.outer";
        }
        assert!(
            saw_inlining,
            "{}: outer/middle/inner not seen",
            fixture.name
        );
    }
}

/// A logical frame as (function, file, line).
type Logical = (String, String, u32);

fn stack_memory(fixture: &Fixture) -> HashMap<u64, u64> {
    fixture
        .read_text("stacks.txt")
        .lines()
        .map(|l| {
            let (a, w) = l.split_once(' ').unwrap();
            (hex(a), hex(w))
        })
        .collect()
}

/// Starting from each goroutine's first frame (pc, sp) as the runtime
/// printed it, the unwinder over the core's stack words reproduces every
/// following frame: pc, sp, fp, `+0x` offset and the inlined frames.
#[test]
fn unwinder_reproduces_crash_traceback() {
    for fixture in &fixtures() {
        let bytes = fixture.exe();
        if !fixture.ran() {
            continue;
        }
        let tab = Pclntab::parse(&bytes).unwrap();
        let memory = stack_memory(fixture);
        let goroutines = parse_traceback(&fixture.read_text("crash.txt"));
        assert!(goroutines.len() >= 4, "{}", fixture.name);
        let mut inlined_seen = false;
        for (header, expected) in &goroutines {
            let first = expected.first().unwrap();
            let trace = Unwinder::new(&tab).unwind(
                |a| memory.get(&a).copied(),
                UnwindStart::saved(first.pc, first.sp),
            );
            assert_eq!(
                trace.stop,
                UnwindStop::TopFrame,
                "{}: {header}",
                fixture.name
            );
            assert_eq!(
                trace.frames.len(),
                expected.len(),
                "{}: {header}",
                fixture.name
            );
            for (got, want) in trace.frames.iter().zip(expected) {
                assert_eq!(
                    (got.pc, got.sp, got.fp, got.pc_offset()),
                    (want.pc, want.sp, want.fp, want.offset),
                    "{}: {header}",
                    fixture.name
                );
                let logical: Vec<(String, String, u32)> = got
                    .frames
                    .iter()
                    .map(|f| (f.function.to_string(), f.file.to_string(), f.line))
                    .collect();
                assert_eq!(logical, want.logical, "{}: {header}", fixture.name);
                inlined_seen |= got.frames.iter().any(|f| f.inlined);
            }
        }
        assert!(inlined_seen, "{}", fixture.name);
    }
}

/// `go tool nm -size -sort address` on the unstripped fixture; the
/// stripped ones have no symbol table at all.
#[test]
fn symbols_match_go_tool_nm() {
    for fixture in &fixtures() {
        let bytes = fixture.exe();
        let symbols = SymbolTable::parse(&bytes).unwrap();
        if !fixture.has_symbols() {
            assert!(symbols.is_empty(), "{}", fixture.name);
            assert!(symbols.symbol_at(0x401000).is_none());
            continue;
        }
        let truth = fixture.read_text("nm.txt.zst");
        let mut count = 0;
        for line in truth.lines() {
            // "  ADDRESS SIZE CODE NAME", where NAME may contain spaces.
            let mut rest = line.trim_start();
            let mut field = || {
                let (f, r) = rest.split_once(' ').unwrap_or((rest, ""));
                rest = r.trim_start();
                f
            };
            let (address, size, code) = (field(), field(), field());
            let name = rest;
            if code == "_" {
                continue; // file symbol
            }
            let (address, size) = (hex(address), size.parse::<u64>().unwrap());
            // `go tool nm` before 1.27 printed D for .bss symbols too.
            let same_code = |ours: char| {
                let ours = if fixture.minor() < 27 && ours.eq_ignore_ascii_case(&'b') {
                    (ours as u8 + 2) as char // B -> D, b -> d
                } else {
                    ours
                };
                ours.to_string() == code
            };
            let matches: Vec<_> = symbols.iter().filter(|s| s.name == name).collect();
            assert!(
                matches
                    .iter()
                    .any(|s| s.address == address && s.size == size && same_code(s.nm_code())),
                "{name}: nm says {address:#x} {size} {code}, table has {matches:?}"
            );
            count += 1;
        }
        assert_eq!(count, symbols.len());

        // Address lookups and agreement with pclntab.
        let tab = Pclntab::parse(&bytes).unwrap();
        let main = symbols.lookup("main.main").unwrap();
        assert_eq!(
            symbols.symbol_at(main.address + 3).unwrap().name,
            "main.main"
        );
        let mut compared = 0;
        for f in tab.funcs() {
            let sym = symbols.symbol_at(f.entry).unwrap();
            if sym.address == f.entry && sym.name == f.name() {
                compared += 1;
            }
        }
        assert!(
            compared * 10 >= tab.len() * 9,
            "{compared} of {}",
            tab.len()
        );
    }
}

/// With section headers removed (like `sstrip`) and no symbols, the table,
/// the moduledata (the text start from Go 1.26) and the build info are
/// still found by searching the segments, with identical answers.
#[test]
fn works_without_section_headers() {
    for fixture in &fixtures() {
        let bytes = fixture.exe();
        let mut bare = bytes.clone();
        // e_shoff = 0, e_shnum = 0, e_shstrndx = 0.
        bare[0x28..0x30].fill(0);
        bare[0x3c..0x40].fill(0);
        let normal = Pclntab::parse(&bytes).unwrap();
        let searched = Pclntab::parse(&bare).unwrap();
        assert_eq!(searched.source(), PclntabSource::Search, "{}", fixture.name);
        assert_eq!(searched.address(), normal.address());
        assert_eq!(searched.text_start(), normal.text_start());
        assert_eq!(searched.gofunc(), normal.gofunc());
        assert_eq!(searched.moduledata(), normal.moduledata());
        for pc in (normal.text_start()..normal.text_end()).step_by(997) {
            assert_eq!(searched.frames(pc), normal.frames(pc), "{pc:#x}");
            assert_eq!(searched.sp_delta(pc), normal.sp_delta(pc), "{pc:#x}");
        }
        let info = BuildInfo::parse(&bare).unwrap();
        assert_eq!(info, BuildInfo::parse(&bytes).unwrap());
    }
}

/// Synthetic stacks built from real pcs, laid out by the amd64 and arm64
/// rules, unwind back to the same chain; bad memory ends the walk cleanly.
#[test]
fn unwinder_on_synthetic_stacks() {
    let all = fixtures();
    let fixture = all
        .iter()
        .find(|f| f.name == "go1.27-mapsplitgroup-symbols")
        .unwrap();
    let bytes = fixture.exe();
    let tab = Pclntab::parse(&bytes).unwrap();
    // A real call chain from the crash truth (return addresses).
    let goroutines = parse_traceback(&fixture.read_text("crash.txt"));
    let chain: Vec<u64> = goroutines
        .iter()
        .map(|(_, frames)| frames.iter().map(|f| f.pc).collect::<Vec<_>>())
        .max_by_key(|c| c.len())
        .unwrap();
    assert!(chain.len() >= 4);

    for arch in [Arch::Amd64, Arch::Arm64] {
        let mut memory = HashMap::new();
        let base = 0xc000_0100_0000u64;
        let mut sp = base;
        let mut sps = Vec::new();
        for (i, &pc) in chain.iter().enumerate() {
            sps.push(sp);
            let delta = tab.sp_delta(pc).unwrap() as u64;
            let next = chain.get(i + 1).copied().unwrap_or(0);
            match arch {
                Arch::Amd64 => {
                    memory.insert(sp + delta, next);
                    sp += delta + 8;
                }
                _ => {
                    memory.insert(sp, next);
                    sp += delta;
                }
            }
        }
        let unwinder = Unwinder::new(&tab).with_arch(arch);
        let trace = unwinder.unwind(
            |a| memory.get(&a).copied(),
            UnwindStart::saved(chain[0], base),
        );
        assert_eq!(trace.stop, UnwindStop::TopFrame, "{arch:?}");
        let pcs: Vec<u64> = trace.frames.iter().map(|f| f.pc).collect();
        assert_eq!(pcs, chain, "{arch:?}");
        let got_sps: Vec<u64> = trace.frames.iter().map(|f| f.sp).collect();
        assert_eq!(got_sps, sps, "{arch:?}");

        // A missing word: stops with the address, keeps the frames so far.
        let trace = unwinder.unwind(|_| None, UnwindStart::saved(chain[0], base));
        assert!(matches!(trace.stop, UnwindStop::ReadFailed { .. }));
        assert_eq!(trace.frames.len(), 1);
    }

    // Unknown start pc, zero return address, garbage and endless stacks.
    let unwinder = Unwinder::new(&tab);
    let trace = unwinder.unwind(|_| Some(0), UnwindStart::saved(1, 0x1000));
    assert_eq!(trace.stop, UnwindStop::UnknownPc { pc: 1 });
    let trace = unwinder.unwind(|_| Some(0), UnwindStart::saved(chain[0], 0x1000));
    assert_eq!(trace.stop, UnwindStop::ZeroReturnAddress);
    let trace = unwinder.unwind(
        |_| Some(u64::MAX),
        UnwindStart::saved(chain[0], u64::MAX - 16),
    );
    assert!(!trace.is_complete());
    // Every frame returns into main.outer again: bounded by the limit.
    let outer = tab.func_by_name("main.outer").unwrap();
    let ret = outer.entry + 0x10;
    let trace = unwinder
        .with_max_frames(50)
        .unwind(|_| Some(ret), UnwindStart::saved(ret, 0x1000));
    assert_eq!(trace.stop, UnwindStop::FrameLimit);
    assert_eq!(trace.frames.len(), 50);
}

/// Truncated and bit-flipped executables: errors or partial answers, never
/// a panic, and every lookup stays bounded.
#[test]
fn corrupt_executables_never_panic() {
    let all = fixtures();
    let fixture = all
        .iter()
        .find(|f| f.name == "go1.27-mapsplitgroup-symbols")
        .unwrap();
    let bytes = fixture.exe();
    let tab = Pclntab::parse(&bytes).unwrap();
    let (start, end) = (tab.address(), tab.address() + 0x60000);
    let section_offset = {
        // File offset of the pclntab: address minus its segment's base.
        let (seg, _) = tab
            .image()
            .segments()
            .find(|(s, d)| s.address <= start && start < s.address + d.len() as u64)
            .unwrap();
        (start - seg.address + seg.file_offset) as usize
    };
    let mut probe_pcs: Vec<u64> = (tab.text_start()..tab.text_end()).step_by(4099).collect();
    for name in [
        "main.outer",
        "runtime.goexit",
        "main.leaf",
        "runtime.gopark",
    ] {
        let f = tab.func_by_name(name).unwrap();
        probe_pcs.extend((f.entry..f.end).step_by(3));
    }
    let exercise = |data: &[u8]| {
        let _ = BuildInfo::parse(data);
        let _ = SymbolTable::parse(data);
        if let Ok(t) = Pclntab::parse(data) {
            for &pc in &probe_pcs {
                let _ = t.frames(pc);
                let _ = t.sp_delta(pc);
                if let Some(f) = t.func_for_pc(pc) {
                    let _ = f.pcdata_ranges(0).count();
                    for i in 0..8 {
                        let _ = f.funcdata_address(i);
                    }
                }
            }
            let _ =
                Unwinder::new(&t).unwind(|a| Some(a ^ 0x5a5a), UnwindStart::saved(probe_pcs[1], 0));
        }
    };
    // Truncations.
    for cut in (0..bytes.len()).step_by(bytes.len() / 40) {
        exercise(&bytes[..cut]);
    }
    // Bit flips in the header, function table and records (xorshift PRNG).
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..60 {
        let mut data = bytes.clone();
        let span = if round < 20 {
            0x80
        } else {
            (end - start) as usize
        };
        for _ in 0..8 {
            let at = section_offset + (rand() as usize % span);
            data[at] ^= 1 << (rand() % 8);
        }
        exercise(&data);
    }
    // Extreme values in every header word.
    for word in 0..8 {
        for value in [0, 1, u64::MAX, 1 << 63, 1 << 32, bytes.len() as u64] {
            let mut data = bytes.clone();
            let at = section_offset + 8 + 8 * word;
            data[at..at + 8].copy_from_slice(&value.to_le_bytes());
            exercise(&data);
        }
    }
    // Extreme values in every field of a few function records and their
    // inline trees (cycles, names and parents out of range).
    let file_offset = |address: u64| {
        let (seg, _) = tab
            .image()
            .segments()
            .find(|(s, d)| s.address <= address && address < s.address + d.len() as u64)
            .unwrap();
        (address - seg.address + seg.file_offset) as usize
    };
    for name in [
        "main.outer",
        "runtime.goexit",
        "main.leaf",
        "runtime.gopark",
    ] {
        let f = tab.func_by_name(name).unwrap();
        let ftab = section_offset + tab.header().pcln_offset as usize + 8 * f.index;
        let record_off = u32::from_le_bytes(bytes[ftab + 4..ftab + 8].try_into().unwrap()) as usize;
        let record = section_offset + tab.header().pcln_offset as usize + record_off;
        let tree = f
            .funcdata_address(mapscope_goruntime::pclntab::FUNCDATA_INL_TREE)
            .map(file_offset);
        let mut targets: Vec<usize> = (0..11).map(|i| record + 4 * i).collect();
        targets.push(ftab + 4);
        if let Some(tree) = tree {
            targets.extend((0..8).map(|i| tree + 4 * i));
        }
        for at in targets {
            for value in [0u32, 1, u32::MAX, 0x7fff_ffff, 0x8000_0000] {
                let mut data = bytes.clone();
                data[at..at + 4].copy_from_slice(&value.to_le_bytes());
                exercise(&data);
            }
        }
    }
    // Garbage that is not an executable.
    exercise(b"\x7fELF garbage");
    exercise(&[]);
    assert!(Pclntab::parse(b"not an elf").is_err());
}

/// The pre-1.18 blob (flags without bit 2) holds pointers to Go string
/// headers instead of inline strings. No toolchain that old is at hand, so
/// a real executable's blob is rewritten into that format in place.
#[test]
fn pointer_format_build_info() {
    let all = fixtures();
    let fixture = all
        .iter()
        .find(|f| f.name == "go1.27-mapsplitgroup-symbols")
        .unwrap();
    let mut bytes = fixture.exe();
    let info = BuildInfo::parse(&bytes).unwrap();
    let tab = Pclntab::parse(&bytes).unwrap();
    let (segment, _) = tab
        .image()
        .segments()
        .find(|(s, d)| s.address <= info.address && info.address < s.address + d.len() as u64)
        .unwrap();
    let blob = info.address;
    let file_offset = (blob - segment.address + segment.file_offset) as usize;

    let version = b"go1.17.13";
    let modinfo = b"0123456789abcdef\
path\texample.com/old\n\
mod\texample.com/old\t(devel)\t\n\
build\tCGO_ENABLED=0\n\
\n0123456789abcde";
    assert_eq!(modinfo[modinfo.len() - 17], b'\n');
    let mut new = Vec::new();
    new.extend_from_slice(b"\xff Go buildinf:");
    new.push(8); // pointer size
    new.push(0); // flags: little endian, pointer format
    new.extend_from_slice(&(blob + 32).to_le_bytes()); // -> version header
    new.extend_from_slice(&(blob + 48).to_le_bytes()); // -> modinfo header
    new.extend_from_slice(&(blob + 64).to_le_bytes());
    new.extend_from_slice(&(version.len() as u64).to_le_bytes());
    new.extend_from_slice(&(blob + 64 + version.len() as u64).to_le_bytes());
    new.extend_from_slice(&(modinfo.len() as u64).to_le_bytes());
    new.extend_from_slice(version);
    new.extend_from_slice(modinfo);
    bytes[file_offset..file_offset + new.len()].copy_from_slice(&new);

    let old = BuildInfo::parse(&bytes).unwrap();
    assert_eq!(old.go_version, "go1.17.13");
    assert_eq!(old.path, "example.com/old");
    assert_eq!(old.setting("CGO_ENABLED"), Some("0"));
    assert_eq!(old.main.as_ref().unwrap().version, "(devel)");

    // A pointer that leads nowhere is an error naming the blob, not a panic.
    bytes[file_offset + 16..file_offset + 24].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = BuildInfo::parse(&bytes).unwrap_err().to_string();
    assert!(err.contains(&format!("{blob:#x}")), "{err}");
}

/// Older and damaged headers give one-line errors naming the address.
#[test]
fn header_errors_name_the_address() {
    let all = fixtures();
    let fixture = all
        .iter()
        .find(|f| f.name == "go1.21-linker-stripped")
        .unwrap();
    let bytes = fixture.exe();
    let tab = Pclntab::parse(&bytes).unwrap();
    let address = tab.address();
    let (segment, _) = tab
        .image()
        .segments()
        .find(|(s, d)| s.address <= address && address < s.address + d.len() as u64)
        .unwrap();
    let at = (address - segment.address + segment.file_offset) as usize;

    let mut go118 = bytes.clone();
    go118[at..at + 4].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let err = Pclntab::parse(&go118).unwrap_err().to_string();
    assert!(
        err.contains("Go 1.18") && err.contains(&format!("{address:#x}")),
        "{err}"
    );

    let mut bad_count = bytes.clone();
    bad_count[at + 8..at + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = Pclntab::parse(&bad_count).unwrap_err().to_string();
    assert!(err.contains(&format!("{address:#x}")), "{err}");

    let mut unsorted = bytes.clone();
    let ftab = at + tab.header().pcln_offset as usize;
    unsorted[ftab + 8..ftab + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = Pclntab::parse(&unsorted).unwrap_err().to_string();
    assert!(err.contains("not sorted"), "{err}");
}
