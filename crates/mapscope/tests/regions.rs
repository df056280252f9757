//! `mapscope regions` on the shipped incidents, against independent truth:
//! the live process's /proc/PID/maps (proc-maps.txt) and gdb's registers per
//! thread (gdb-registers.txt); and every bad input of issue 4 (exit 2 with
//! a message naming the file, never a panic or exit 101).

use mapscope_testsupport::{sample, sample_source, Sample};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

use mapscope_testsupport::Run;

fn mapscope(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    mapscope_testsupport::run_cli(env!("CARGO_BIN_EXE_mapscope"), args)
}

fn regions_json(core: &Path, exe: &Path) -> Value {
    let r = mapscope(&[&"regions", &core, &"--exe", &exe, &"--format", &"json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    serde_json::from_str(&r.stdout).unwrap()
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// `/proc/PID/maps`: (start, end, perms, offset, path).
fn proc_maps(s: &Sample) -> Vec<(u64, u64, String, u64, String)> {
    s.text("proc-maps.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let (a, b) = t[0].split_once('-').unwrap();
            (
                hex(a),
                hex(b),
                t[1].to_string(),
                hex(t[2]),
                t.get(5).unwrap_or(&"").to_string(),
            )
        })
        .collect()
}

/// The regions at core-mapping granularity: the pieces the Go layer
/// relabelled (`go-heap`, `go-stack`) are merged back by their `vma` index,
/// taking the mapping's ELF-level kind (`stack` for the main thread's
/// `[stack]`, where the g0 stack lives, else `anon`).
fn vma_view(regions: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for r in regions {
        let kind = match r["kind"].as_str().unwrap() {
            "go-heap" | "go-stack" => "anon",
            other => other,
        };
        match out.last_mut() {
            Some(prev) if prev["vma"] == r["vma"] => {
                prev["end"] = r["end"].clone();
                let present =
                    prev["present_bytes"].as_u64().unwrap() + r["present_bytes"].as_u64().unwrap();
                prev["present_bytes"] = Value::from(present);
                if kind == "stack" {
                    prev["kind"] = Value::from("stack");
                }
                if r["truncated"] == true {
                    prev["truncated"] = Value::from(true);
                }
            }
            _ => {
                let mut v = r.clone();
                v["kind"] = Value::from(kind);
                out.push(v);
            }
        }
    }
    out
}

/// The kind `mapscope regions` must give a /proc/PID/maps line.
fn expected_kind(path: &str) -> &'static str {
    match path {
        "" => "anon",
        "[heap]" => "heap",
        "[stack]" => "stack",
        "[vdso]" => "vdso",
        "[vvar]" | "[vvar_vclock]" => "vvar",
        "[vsyscall]" => "vsyscall",
        _ => "file",
    }
}

/// gdb: tid → (rip, rsp).
fn gdb_threads(s: &Sample) -> BTreeMap<u64, (u64, u64)> {
    let mut out = BTreeMap::new();
    let mut tid = 0;
    let mut rip = 0;
    for line in s.text("gdb-registers.txt").lines() {
        if let Some(rest) = line.strip_prefix("Thread ") {
            tid = rest
                .split("(LWP ")
                .nth(1)
                .unwrap()
                .trim_end_matches("):")
                .parse()
                .unwrap();
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        match t.first() {
            Some(&"rip") => rip = hex(t[1]),
            Some(&"rsp") => {
                out.insert(tid, (rip, hex(t[1])));
            }
            _ => {}
        }
    }
    out
}

fn check_shape(j: &Value) {
    // cli.md: {"regions":[{"start","end","perms","size","present_bytes",
    // "file_offset","path","kind"}], "threads":[{"tid","pc","sp"}]}
    for r in j["regions"].as_array().unwrap() {
        for key in ["start", "end"] {
            let v = r[key].as_str().unwrap();
            assert!(
                v.starts_with("0x")
                    && v[2..]
                        .chars()
                        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
                "{v}"
            );
        }
        assert_eq!(r["perms"].as_str().unwrap().len(), 4);
        for key in ["size", "present_bytes", "file_offset"] {
            assert!(r[key].is_u64(), "{key} must be an integer: {r}");
        }
        assert!(r["path"].is_string() && r["kind"].is_string());
        assert_eq!(
            r["size"].as_u64().unwrap(),
            hex(r["end"].as_str().unwrap()) - hex(r["start"].as_str().unwrap())
        );
    }
    for t in j["threads"].as_array().unwrap() {
        assert!(t["tid"].is_u64());
        assert!(
            t["pc"].as_str().unwrap().starts_with("0x")
                && t["sp"].as_str().unwrap().starts_with("0x")
        );
    }
}

/// Go heap arenas and goroutine stacks are named from runtime data: every
/// map address the program printed (`%p`, truth.json) lies in a `go-heap`
/// region, and the stack-only map's goroutine stack is `go-stack` while no
/// map address is.
#[test]
fn go_heap_and_stacks_are_labelled() {
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let j = regions_json(&s.core, &s.exe);
        let regions = j["regions"].as_array().unwrap();
        let kind_at = |addr: u64| {
            regions
                .iter()
                .find(|r| {
                    hex(r["start"].as_str().unwrap()) <= addr
                        && addr < hex(r["end"].as_str().unwrap())
                })
                .map(|r| r["kind"].as_str().unwrap().to_string())
        };
        let truth = s.truth();
        let maps = truth["maps"].as_array().unwrap();
        assert!(maps.len() > 10, "{name}");
        // A sync.Map's recorded address is the variable itself (a global).
        for m in maps.iter().filter(|m| m["kind"] != "sync.Map") {
            let addr = hex(m["address"].as_str().unwrap());
            assert_eq!(
                kind_at(addr).as_deref(),
                Some("go-heap"),
                "{name}: {}",
                m["root"]
            );
        }
        assert!(
            regions.iter().any(|r| r["kind"] == "go-stack"),
            "{name}: no go-stack region"
        );
        // The goroutine-stack root's frame lives on a goroutine stack.
        let g = truth["goroutines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["function"] == "main.stackOnlyWorker")
            .unwrap();
        let gr = mapscope(&[
            &"goroutines",
            &s.core,
            &"--exe",
            &s.exe,
            &"--format",
            &"json",
        ]);
        assert_eq!(gr.code, 0, "{}", gr.stderr);
        let gj: Value = serde_json::from_str(&gr.stdout).unwrap();
        let worker = gj["goroutines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == g["id"])
            .unwrap();
        let lo = hex(worker["stack_lo"].as_str().unwrap());
        let hi = hex(worker["stack_hi"].as_str().unwrap());
        assert_eq!(kind_at(lo).as_deref(), Some("go-stack"), "{name}");
        assert_eq!(kind_at(hi - 1).as_deref(), Some("go-stack"), "{name}");
    }
}

#[test]
fn kernel_core_regions_equal_proc_maps() {
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let j = regions_json(&s.core, &s.exe);
        check_shape(&j);
        let regions = vma_view(j["regions"].as_array().unwrap());
        let maps = proc_maps(&s);
        // The kernel dumps every VMA: one region per /proc/PID/maps line.
        assert_eq!(regions.len(), maps.len(), "{name}");
        for (r, m) in regions.iter().zip(&maps) {
            let what = format!("{name}: {r}");
            assert_eq!(hex(r["start"].as_str().unwrap()), m.0, "{what}");
            assert_eq!(hex(r["end"].as_str().unwrap()), m.1, "{what}");
            assert_eq!(r["perms"], m.2.as_str(), "{what}");
            assert_eq!(r["file_offset"], m.3, "{what}");
            assert_eq!(r["kind"], expected_kind(&m.4), "{what}");
            // [vvar_vclock] is shown as [vvar]: the core does not tell them apart.
            if !m.4.starts_with("[vvar") {
                assert_eq!(r["path"], m.4.as_str(), "{what}");
            }
        }
        assert_eq!(j["complete"], true);
        assert_eq!(j["producer"], "kernel");
    }
}

#[test]
fn gcore_regions_from_compressed_inputs() {
    // Straight from core.zst and mapzoo.zst: exercises decompression too.
    let src = sample_source("go1.26-gcore");
    let s = sample("go1.26-gcore");
    let j = regions_json(&src.join("core.zst"), &src.join("mapzoo.zst"));
    check_shape(&j);
    assert_eq!(j["producer"], "gdb");
    let regions = vma_view(j["regions"].as_array().unwrap());
    let by_start: BTreeMap<u64, &Value> = regions
        .iter()
        .map(|r| (hex(r["start"].as_str().unwrap()), r))
        .collect();
    for m in proc_maps(&s) {
        if m.4.starts_with("[vvar") {
            // gdb does not dump [vvar]: no segment, no NT_FILE entry.
            assert!(!by_start.contains_key(&m.0), "{m:?}");
            continue;
        }
        let r = by_start
            .get(&m.0)
            .unwrap_or_else(|| panic!("no region for {m:?}"));
        assert_eq!(hex(r["end"].as_str().unwrap()), m.1, "{m:?}");
        assert_eq!(r["kind"], expected_kind(&m.4), "{m:?}");
        // gdb writes PROT_NONE reservations (and the unreadable
        // [vsyscall]) with permissions of its own.
        if m.2 != "---p" && m.4 != "[vsyscall]" {
            assert_eq!(r["perms"], m.2.as_str(), "{m:?}");
        }
        if m.4.starts_with('/') {
            assert_eq!(
                (
                    r["path"].as_str().unwrap(),
                    r["file_offset"].as_u64().unwrap()
                ),
                (m.4.as_str(), m.3)
            );
        }
    }
    // The read-only data of the executable is not in a gcore core; its
    // permissions come from the executable's program headers.
    let rodata = regions
        .iter()
        .find(|r| r["perms"] == "r--p" && r["kind"] == "file")
        .unwrap();
    assert_eq!(rodata["present_bytes"], 0);
}

#[test]
fn threads_match_gdb() {
    for name in ["go1.22", "go1.26", "go1.26-gcore"] {
        let s = sample(name);
        let j = regions_json(&s.core, &s.exe);
        let got: BTreeMap<u64, (u64, u64)> = j["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["tid"].as_u64().unwrap(),
                    (
                        hex(t["pc"].as_str().unwrap()),
                        hex(t["sp"].as_str().unwrap()),
                    ),
                )
            })
            .collect();
        assert_eq!(got, gdb_threads(&s), "{name}");
    }
}

#[test]
fn table_lists_totals_threads_and_signal() {
    let s = sample("go1.26");
    let r = mapscope(&[&"regions", &s.core, &"--exe", &s.exe]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // gdb-threads.txt: "Program terminated with signal SIGABRT".
    assert!(s.text("gdb-threads.txt").contains("signal SIGABRT"));
    assert!(
        r.stdout.contains("fatal signal SIGABRT (6)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Totals by kind"));
    // gdb-threads.txt: `info threads` lists one "  N    LWP n" row per thread.
    let threads = s
        .text("gdb-threads.txt")
        .lines()
        .filter(|l| {
            let mut w = l.trim_start_matches(['*', ' ']).split_whitespace();
            w.next().is_some_and(|id| id.parse::<u32>().is_ok()) && w.next() == Some("LWP")
        })
        .count();
    assert!(threads > 1, "gdb-threads.txt");
    assert!(
        r.stdout.contains(&format!("Threads ({threads})")),
        "{threads} threads: {}",
        r.stdout
    );
    assert!(r.stdout.contains("[stack]"));
}

// --- bad inputs --------------------------------------------------------------

fn fails_with(args: &[&dyn AsRef<std::ffi::OsStr>], code: i32, needles: &[&str]) -> Run {
    let r = mapscope(args);
    assert_eq!(r.code, code, "stdout: {}\nstderr: {}", r.stdout, r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "stderr lacks {n:?}: {}", r.stderr);
    }
    assert_eq!(r.stderr.lines().count(), 1, "one line: {}", r.stderr);
    r
}

#[test]
fn not_an_elf_file() {
    let s = sample("go1.26");
    let truth = s.source.join("truth.json");
    fails_with(&[&"regions", &truth], 2, &["truth.json", "not an ELF file"]);
    let missing = s.source.join("no-such-core");
    fails_with(&[&"regions", &missing], 2, &["no-such-core", "cannot open"]);
}

#[test]
fn executable_given_as_core_and_core_as_executable() {
    let s = sample("go1.26");
    fails_with(
        &[&"regions", &s.exe],
        2,
        &["mapzoo", "an executable, not a core dump", "--exe"],
    );
    fails_with(
        &[&"regions", &s.core, &"--exe", &s.core],
        2,
        &["a core dump, not an executable"],
    );
}

#[test]
fn executable_from_another_build() {
    let s26 = sample("go1.26");
    let s22 = sample("go1.22");
    fails_with(
        &[&"regions", &s26.core, &"--exe", &s22.exe],
        2,
        &["does not match the core", "build id"],
    );
}

#[test]
fn core_of_another_architecture() {
    let s = sample("go1.26");
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(&s.core).unwrap();
    // e_machine (offset 18) = EM_RISCV.
    bytes[18..20].copy_from_slice(&243u16.to_le_bytes());
    let riscv = dir.path().join("core-riscv");
    std::fs::write(&riscv, &bytes).unwrap();
    fails_with(
        &[&"regions", &riscv],
        2,
        &["core-riscv", "unsupported machine riscv"],
    );
    // A core that claims aarch64, with the x86_64 executable.
    bytes[18..20].copy_from_slice(&183u16.to_le_bytes());
    let arm = dir.path().join("core-arm64");
    std::fs::write(&arm, &bytes).unwrap();
    fails_with(
        &[&"regions", &arm, &"--exe", &s.exe],
        2,
        &["does not match", "aarch64"],
    );
}

#[test]
fn truncated_core_lists_what_is_there() {
    let s = sample("go1.26");
    let bytes = std::fs::read(&s.core).unwrap();
    // Cut in the middle of the largest segment (from readelf-l.txt).
    let (off, size) = s
        .text("readelf-l.txt")
        .lines()
        .filter(|l| l.trim_start().starts_with("LOAD"))
        .map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            (hex(t[1]), hex(t[4]))
        })
        .max_by_key(|(_, filesz)| *filesz)
        .unwrap();
    let cut = (off + size / 2) as usize;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core-cut");
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let r = mapscope(&[&"regions", &path, &"--exe", &s.exe, &"--format", &"json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(j["complete"], false);
    let regions = vma_view(j["regions"].as_array().unwrap());
    assert_eq!(
        regions.len(),
        proc_maps(&s).len(),
        "all regions still listed"
    );
    let cut_region = regions.iter().find(|r| r["truncated"] == true).unwrap();
    assert_eq!(cut_region["present_bytes"].as_u64().unwrap(), size / 2);
    assert!(j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("truncated")));
    let text = mapscope(&[&"regions", &path, &"--exe", &s.exe]);
    assert!(text.stdout.contains("TRUNCATED") && text.stdout.contains("(truncated)"));
}
