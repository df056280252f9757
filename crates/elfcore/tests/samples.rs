//! The shipped incidents (samples/go1.22, go1.26, go1.26-gcore) against
//! independent truth committed next to them: `readelf -lW core`
//! (readelf-l.txt), `readelf -nW core` (readelf-n.txt), gdb's registers per
//! thread (gdb-registers.txt), the live process's /proc/PID/maps
//! (proc-maps.txt) and the program's own truth.json.

use mapscope_elfcore::{
    Core, CoreProducer, Executable, ProcessMemory, ReadError, PF_R, PF_W, PF_X,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const SAMPLES: [&str; 3] = ["go1.22", "go1.26", "go1.26-gcore"];

fn sample_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples")
        .join(name)
}

fn text(name: &str, file: &str) -> String {
    let p = sample_dir(name).join(file);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Each sample's core with its executable, opened once per test binary
/// straight from core.zst (decompressed by `Core::open` into a temporary
/// file).
fn mem(name: &str) -> &'static ProcessMemory {
    static MEMS: OnceLock<BTreeMap<&'static str, ProcessMemory>> = OnceLock::new();
    let all = MEMS.get_or_init(|| {
        SAMPLES
            .iter()
            .map(|s| {
                let core =
                    Core::open(sample_dir(s).join("core.zst")).unwrap_or_else(|e| panic!("{e}"));
                let exe = Executable::open(exe_path(s)).unwrap_or_else(|e| panic!("{e}"));
                (*s, ProcessMemory::new(core, Some(exe)).unwrap())
            })
            .collect()
    });
    all.get(name).unwrap()
}

fn core(name: &str) -> &'static Core {
    mem(name).core()
}

/// The decompressed executable, in a temporary directory kept for the run.
fn exe_path(name: &str) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let out = dir.path().join(format!("{name}-mapzoo"));
    if !out.exists() {
        let zst = std::fs::read(sample_dir(name).join("mapzoo.zst")).unwrap();
        let tmp = dir
            .path()
            .join(format!("{name}-mapzoo.{:?}", std::thread::current().id()));
        std::fs::write(&tmp, zstd::decode_all(&zst[..]).unwrap()).unwrap();
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[derive(Debug, PartialEq)]
struct PhdrLine {
    p_type: String,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
    flags: u32,
}

/// Program header lines of `readelf -lW`.
fn readelf_phdrs(name: &str) -> (usize, Vec<PhdrLine>) {
    let t = text(name, "readelf-l.txt");
    let count = t
        .lines()
        .find_map(|l| {
            l.strip_prefix("There are ")
                .and_then(|r| r.split_whitespace().next())
                .map(|n| n.parse().unwrap())
        })
        .unwrap();
    let mut out = Vec::new();
    for line in t.lines() {
        let toks: Vec<&str> = line.split_whitespace().collect();
        if !matches!(toks.first(), Some(&"LOAD") | Some(&"NOTE")) || toks.len() < 7 {
            continue;
        }
        let flag_toks = &toks[6..toks.len() - 1];
        let flags = flag_toks
            .iter()
            .flat_map(|t| t.chars())
            .fold(0, |f, c| match c {
                'R' => f | PF_R,
                'W' => f | PF_W,
                'E' => f | PF_X,
                _ => f,
            });
        out.push(PhdrLine {
            p_type: toks[0].to_string(),
            offset: hex(toks[1]),
            vaddr: hex(toks[2]),
            filesz: hex(toks[4]),
            memsz: hex(toks[5]),
            flags,
        });
    }
    (count, out)
}

#[test]
fn program_headers_match_readelf_l() {
    for name in SAMPLES {
        let core = core(name);
        let (count, want) = readelf_phdrs(name);
        assert_eq!(
            core.program_headers().len(),
            count,
            "{name}: program header count"
        );
        let got: Vec<PhdrLine> = core
            .program_headers()
            .iter()
            .filter(|p| p.p_type == 1 || p.p_type == 4)
            .map(|p| PhdrLine {
                p_type: if p.p_type == 1 { "LOAD" } else { "NOTE" }.to_string(),
                offset: p.offset,
                vaddr: p.vaddr,
                filesz: p.filesz,
                memsz: p.memsz,
                flags: p.flags,
            })
            .collect();
        assert_eq!(got, want, "{name}");
        // Segments: the PT_LOADs sorted by address, all present (complete cores).
        let loads = want.iter().filter(|p| p.p_type == "LOAD").count();
        assert_eq!(core.segments().len(), loads, "{name}");
        assert!(core.is_complete(), "{name}: {:?}", core.warnings());
        for s in core.segments() {
            assert_eq!(s.present, s.filesz, "{name} {:#x}", s.vaddr);
        }
    }
}

fn note_type(name: &str) -> u32 {
    match name {
        "NT_PRSTATUS" => 1,
        "NT_FPREGSET" => 2,
        "NT_PRPSINFO" => 3,
        "NT_AUXV" => 6,
        "NT_X86_XSTATE" => 0x202,
        "NT_SIGINFO" => 0x5349_4749,
        "NT_FILE" => 0x4649_4c45,
        "NT_GDB_TDESC" => 0xff00_0000,
        other => panic!("note type {other} not in this table"),
    }
}

/// `(owner, type, size)` of every note, as `readelf -nW` lists them.
fn readelf_notes(name: &str) -> Vec<(String, u32, usize)> {
    let mut out = Vec::new();
    for line in text(name, "readelf-n.txt").lines() {
        let toks: Vec<&str> = line.split_whitespace().collect();
        if toks.len() < 3
            || !matches!(toks[0], "CORE" | "LINUX" | "GDB")
            || !toks[1].starts_with("0x")
        {
            continue;
        }
        let size = hex(toks[1]) as usize;
        let n_type = if toks[2] == "Unknown" {
            // "Unknown note type: (0x00000205)"
            let inner = line.split("(0x").nth(1).unwrap();
            hex(&inner[..inner.find(')').unwrap()]) as u32
        } else {
            note_type(toks[2])
        };
        out.push((toks[0].to_string(), n_type, size));
    }
    out
}

#[test]
fn notes_match_readelf_n() {
    for name in SAMPLES {
        let core = core(name);
        let want = readelf_notes(name);
        let got: Vec<(String, u32, usize)> = core
            .note_list()
            .iter()
            .map(|n| (n.owner.clone(), n.n_type, n.size))
            .collect();
        assert_eq!(got, want, "{name}: note list");
        // One thread per NT_PRSTATUS.
        let prstatus = want.iter().filter(|n| n.1 == 1).count();
        assert_eq!(core.threads().len(), prstatus, "{name}");
        // NT_FILE: readelf gives only its size; ours must add up to it.
        let nt_file = want.iter().find(|n| n.1 == 0x4649_4c45).unwrap().2;
        let files = core.file_mappings();
        let strings: usize = files
            .iter()
            .map(|m| m.path.len() + if m.deleted { 10 } else { 0 } + 1)
            .sum();
        assert_eq!(
            16 + 24 * files.len() + strings,
            nt_file,
            "{name}: NT_FILE size"
        );
    }
}

/// `/proc/PID/maps` lines: (start, end, perms, offset, path).
fn proc_maps(name: &str) -> Vec<(u64, u64, String, u64, String)> {
    text(name, "proc-maps.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let toks: Vec<&str> = l.split_whitespace().collect();
            let (s, e) = toks[0].split_once('-').unwrap();
            (
                hex(s),
                hex(e),
                toks[1].to_string(),
                hex(toks[2]),
                toks.get(5).unwrap_or(&"").to_string(),
            )
        })
        .collect()
}

#[test]
fn nt_file_matches_proc_maps() {
    for name in SAMPLES {
        let want: Vec<_> = proc_maps(name)
            .into_iter()
            .filter(|m| m.4.starts_with('/'))
            .map(|m| (m.0, m.1, m.3, m.4))
            .collect();
        let got: Vec<_> = core(name)
            .file_mappings()
            .iter()
            .map(|m| (m.start, m.end, m.file_offset, m.path.clone()))
            .collect();
        assert_eq!(got, want, "{name}");
        // The program's own os.Executable() (truth.json), which the
        // process's /proc/self/maps also maps from file offset 0.
        let truth: serde_json::Value = serde_json::from_str(&text(name, "truth.json")).unwrap();
        let exe = truth["executable"].as_str().expect("truth.json executable");
        assert!(
            want.iter().any(|m| m.2 == 0 && m.3 == exe),
            "{name}: {exe} not mapped at offset 0 in proc-maps.txt"
        );
        assert_eq!(core(name).executable_path(), Some(exe), "{name}");
    }
}

/// gdb: `Thread N (LWP tid):` then `rip`, `rsp`, `fs_base` lines.
fn gdb_registers(name: &str) -> (u32, BTreeMap<u32, (u64, u64, u64)>) {
    let t = text(name, "gdb-registers.txt");
    let current = t
        .lines()
        .find_map(|l| {
            l.strip_prefix("[Current thread is 1 (LWP ")
                .map(|r| r.trim_end_matches(")]").parse().unwrap())
        })
        .unwrap();
    let mut out = BTreeMap::new();
    let mut tid = None;
    let mut regs = [0u64; 3];
    for line in t.lines() {
        if let Some(rest) = line.strip_prefix("Thread ") {
            tid = rest
                .split("(LWP ")
                .nth(1)
                .map(|r| r.trim_end_matches("):").parse::<u32>().unwrap());
            regs = [0; 3];
            continue;
        }
        let toks: Vec<&str> = line.split_whitespace().collect();
        let slot = match toks.first() {
            Some(&"rip") => 0,
            Some(&"rsp") => 1,
            Some(&"fs_base") => 2,
            _ => continue,
        };
        regs[slot] = hex(toks[1]);
        if slot == 2 {
            out.insert(tid.unwrap(), (regs[0], regs[1], regs[2]));
        }
    }
    (current, out)
}

#[test]
fn threads_match_gdb_registers() {
    for name in SAMPLES {
        let core = core(name);
        let (current, want) = gdb_registers(name);
        let got: BTreeMap<u32, (u64, u64, u64)> = core
            .threads()
            .iter()
            .map(|t| {
                (
                    t.tid,
                    (t.pc().unwrap(), t.sp().unwrap(), t.tls_base.unwrap()),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}");
        assert_eq!(
            core.threads()[0].tid,
            current,
            "{name}: gdb's thread 1 is the first NT_PRSTATUS"
        );
        // The main thread's tid is the pid.
        assert_eq!(
            core.main_thread().unwrap().tid,
            core.process().unwrap().pid,
            "{name}"
        );
    }
}

#[test]
fn signal_and_producer() {
    for name in SAMPLES {
        let core = core(name);
        let sig = core.signal().unwrap();
        if name.ends_with("gcore") {
            // gdb stops the live process; readelf-l shows the section-header mapping.
            assert_eq!(core.producer(), CoreProducer::Gdb);
            assert_eq!(sig.name(), "SIGSTOP");
        } else {
            assert_eq!(core.producer(), CoreProducer::Kernel);
            // gdb-threads.txt: "Program terminated with signal SIGABRT".
            assert!(text(name, "gdb-threads.txt").contains("signal SIGABRT"));
            assert_eq!((sig.signo, sig.name()), (6, "SIGABRT"));
        }
    }
}

#[test]
fn memory_falls_back_to_the_executable() {
    for name in ["go1.22", "go1.26", "go1.26-gcore"] {
        let core_only = core(name);
        let exe_file = std::fs::read(exe_path(name)).unwrap();
        let maps = proc_maps(name);
        // The read-only data mapping of the executable (second file line).
        let rodata = maps
            .iter()
            .filter(|m| m.4.ends_with("/mapzoo"))
            .nth(1)
            .unwrap();
        assert_eq!(rodata.2, "r--p");
        let mut buf = [0u8; 64];
        // Neither the kernel nor gdb writes unmodified read-only file pages.
        let err = core_only.read_present(rodata.0, &mut buf).unwrap_err();
        assert!(
            matches!(err, ReadError::Absent { .. } | ReadError::Unmapped { .. }),
            "{name}: {err:?}"
        );

        let mem = mem(name);
        assert_eq!(mem.placement().unwrap().bias, 0, "{name}: not PIE");
        // rodata: the executable's bytes at the offset /proc/PID/maps gives.
        let off = rodata.3 as usize;
        let got = mem.bytes(rodata.0 + 0x100, 0x1000).unwrap();
        assert_eq!(got, &exe_file[off + 0x100..off + 0x1100], "{name}");
        // The ELF header page: in the core (kernel) and equal to the file.
        let text_map = maps.iter().find(|m| m.4.ends_with("/mapzoo")).unwrap();
        mem.read(text_map.0, &mut buf).unwrap();
        assert_eq!(&buf[..], &exe_file[..64]);
        // Never zeros for what neither file has: a PROT_NONE reservation in
        // a kernel core is absent.
        if !name.ends_with("gcore") {
            let none = maps
                .iter()
                .find(|m| m.2 == "---p" && m.4.is_empty())
                .unwrap();
            assert_eq!(
                mem.read_u64(none.0),
                Err(ReadError::Absent { addr: none.0 }),
                "{name}"
            );
        }
        // Unmapped: below the executable.
        assert_eq!(
            mem.read_u64(0x1000),
            Err(ReadError::Unmapped { addr: 0x1000 })
        );
    }
}

#[test]
fn map_headers_in_the_heap_hold_their_counts() {
    // truth.json: each map's header address and its count (classic `count`,
    // Swiss `used`) — both are the header's first 8 bytes.
    for name in SAMPLES {
        let truth: serde_json::Value = serde_json::from_str(&text(name, "truth.json")).unwrap();
        let mem = mem(name);
        let mut checked = 0;
        for m in truth["maps"].as_array().unwrap() {
            let header = &m["header"];
            let Some(count) = header["count"].as_u64().or(header["used"].as_u64()) else {
                continue;
            };
            let addr = hex(m["address"].as_str().unwrap());
            assert_eq!(mem.read_u64(addr), Ok(count), "{name}: {}", m["name"]);
            checked += 1;
        }
        assert!(checked >= 8, "{name}: only {checked} maps checked");
    }
}

#[test]
fn plain_and_compressed_core_are_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("core");
    let zst = std::fs::read(sample_dir("go1.26").join("core.zst")).unwrap();
    let mut out = std::fs::File::create(&plain).unwrap();
    zstd::stream::copy_decode(&zst[..], &mut out).unwrap();
    drop(out);
    let sums = text("go1.26", "sha256.txt");
    let size: u64 = sums
        .lines()
        .find(|l| l.ends_with(" core") && !l.contains("  "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let c = Core::open(&plain).unwrap();
    assert_eq!(c.file_size(), size, "sha256.txt size");
    assert_eq!(c.data(), core("go1.26").data());
    assert_eq!(c.compression(), mapscope_elfcore::Compression::None);
    assert_eq!(
        core("go1.26").compression(),
        mapscope_elfcore::Compression::Zstd
    );
}

#[test]
fn gcore_regions_carry_perms_from_the_executable() {
    let name = "go1.26-gcore";
    let mem = mem(name);
    let maps = proc_maps(name);
    let rodata = maps
        .iter()
        .filter(|m| m.4.ends_with("/mapzoo"))
        .nth(1)
        .unwrap();
    let r = mem
        .regions()
        .into_iter()
        .find(|r| r.start == rodata.0)
        .unwrap();
    assert_eq!(
        (r.end, r.perms_string(), r.present_bytes, r.in_core),
        (rodata.1, rodata.2.clone(), 0, false)
    );
}
