//! Partial cores (systemd-coredump's size limit, `RLIMIT_CORE`, a full
//! disk, an interrupted copy, `coredump_filter`): the shipped sample cores
//! cut at 95%, 80% and 60% of their size, and one whose writable anonymous
//! mappings were left out, through the CLI.
//!
//! Checked against independent truth: the sample program's truth.json
//! (which maps exist, at which address, with which len) and the
//! `readelf -l` listing committed beside the core (each `PT_LOAD`'s file
//! offset and size: what a cut at N bytes keeps). A cut core must never
//! pass as complete, and a partial answer exits 0 with its warning.

use mapscope_testsupport::{run_cli, sample, Sample};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `(offset, vaddr, filesz, writable)` of every `LOAD` line of
/// readelf-l.txt.
fn readelf_load_lines(s: &Sample) -> Vec<(u64, u64, u64, bool)> {
    let hex = |t: &str| u64::from_str_radix(t.trim_start_matches("0x"), 16).expect("hex");
    s.text("readelf-l.txt")
        .lines()
        .map(str::split_whitespace)
        .filter_map(|mut f| {
            (f.next()? == "LOAD").then(|| {
                let cols: Vec<&str> = f.collect();
                // Offset VirtAddr PhysAddr FileSiz MemSiz Flg... Align
                let flags = cols.get(5..cols.len() - 1).unwrap_or(&[]).join("");
                (
                    hex(cols[0]),
                    hex(cols[1]),
                    hex(cols[3]),
                    flags.contains('W'),
                )
            })
        })
        .collect()
}

/// `(offset, filesz, writable)` of every `LOAD` line of readelf-l.txt.
fn readelf_loads(s: &Sample) -> Vec<(u64, u64, bool)> {
    readelf_load_lines(s)
        .into_iter()
        .map(|(offset, _, filesz, w)| (offset, filesz, w))
        .collect()
}

/// A copy of the sample core cut to `len` bytes in `dir`.
fn cut_core(s: &Sample, dir: &Path, len: u64) -> PathBuf {
    let core = dir.join(format!("core-{len}"));
    fs::copy(&s.core, &core).expect("copy core");
    fs::OpenOptions::new()
        .write(true)
        .open(&core)
        .and_then(|f| f.set_len(len))
        .expect("truncate");
    core
}

fn run_json(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (i32, Value, String, Duration) {
    let started = Instant::now();
    let r = run_cli(env!("CARGO_BIN_EXE_mapscope"), args);
    let took = started.elapsed();
    let json = serde_json::from_str(&r.stdout).unwrap_or(Value::Null);
    (r.code, json, r.stderr, took)
}

fn warnings(json: &Value) -> Vec<String> {
    json["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Truth maps found at their address with exactly their len — for a map
/// or `sync.Map`, its entries counted in the storage too (a header whose
/// storage was cut keeps its `len` but counts no entries): decoded, not
/// just read from the header.
fn exact_len_count(truth: &Value, json: &Value) -> (usize, usize, Vec<String>) {
    let found = json["maps"].as_array().cloned().unwrap_or_default();
    let mut missing = Vec::new();
    let tmaps = truth["maps"].as_array().expect("truth maps");
    let mut n = 0;
    for t in tmaps {
        let hit = found
            .iter()
            .find(|m| m["address"] == t["address"])
            .is_some_and(|m| {
                m["len"] == t["len"] && (m["kind"] == "map-family" || m["live_entries"] == t["len"])
            });
        if hit {
            n += 1;
        } else {
            missing.push(t["name"].as_str().unwrap_or("?").to_string());
        }
    }
    (n, tmaps.len(), missing)
}

/// The coverage JSON against readelf: declared = the uncut size, bytes
/// per kind sum to the segments' file sizes, present bytes to what lies
/// below the cut.
fn check_coverage(s: &Sample, cov: &Value, cut: u64, full: u64, label: &str) {
    assert_eq!(cov["complete"], false, "{label}: {cov}");
    assert_eq!(cov["file_bytes"].as_u64(), Some(cut), "{label}");
    assert_eq!(cov["declared_bytes"].as_u64(), Some(full), "{label}");
    let loads = readelf_loads(s);
    let declared: u64 = loads.iter().map(|l| l.1).sum();
    let present: u64 = loads
        .iter()
        .map(|&(off, size, _)| size.min(cut.saturating_sub(off)))
        .sum();
    let kinds = cov["kinds"].as_array().expect("kinds");
    let sum = |f: &str| kinds.iter().map(|k| k[f].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("declared_bytes"), declared, "{label}: {cov}");
    assert_eq!(sum("present_bytes"), present, "{label}: {cov}");
    let cut_segments = loads
        .iter()
        .filter(|&&(off, size, _)| size > 0 && off < cut && off + size > cut)
        .count() as u64;
    let absent_segments = loads
        .iter()
        .filter(|&&(off, size, _)| size > 0 && off >= cut)
        .count() as u64;
    assert_eq!(cov["segments_cut"].as_u64(), Some(cut_segments), "{label}");
    assert_eq!(
        cov["segments_absent"].as_u64(),
        Some(absent_segments),
        "{label}"
    );
}

/// `maps` on cores cut at 95%, 80% and 60%: exit 0, the coverage warning
/// and JSON, and the truth's maps at their address with their exact len
/// (at least 10 of them at every cut: the heap arenas and globals sit
/// below the runtime's off-heap metadata, which the cut takes first); at
/// 10% (into the heap arena) still exit 0 with the warning.
fn maps_on_cut_cores(name: &str) {
    let s = sample(name);
    let truth = s.truth();
    let full = fs::metadata(&s.core).expect("core").len();
    let dir = tempfile::tempdir().expect("tempdir");
    // 10%: the cut goes into the heap arena itself (reported, not bound).
    for pct in [95u64, 80, 60, 10] {
        let cut = full * pct / 100;
        let core = cut_core(&s, dir.path(), cut);
        let label = format!("{name} cut at {pct}% ({cut} of {full} bytes)");
        let (code, json, stderr, took) =
            run_json(&[&"maps", &core, &"--exe", &s.exe, &"--format", &"json"]);
        assert_eq!(code, 0, "{label}: {stderr}");
        assert!(took < Duration::from_secs(30), "{label}: {took:?}");
        let w = warnings(&json);
        assert!(
            w.iter().any(|w| w.starts_with("partial core:")),
            "{label}: no coverage warning in {w:?}"
        );
        check_coverage(&s, &json["coverage"], cut, full, &label);
        // The sample's heap arena sits in the first fifth of the file
        // (readelf-l.txt), below every cut from 60% up: a non-empty
        // heap-arenas kind, fully present.
        if pct >= 60 {
            let arenas = json["coverage"]["kinds"]
                .as_array()
                .unwrap()
                .iter()
                .find(|k| k["kind"] == "heap-arenas")
                .cloned()
                .unwrap();
            assert!(
                arenas["declared_bytes"].as_u64() > Some(0),
                "{label}: {arenas}"
            );
            assert_eq!(arenas["present_bytes"], arenas["declared_bytes"], "{label}");
        }
        let (n, of, missing) = exact_len_count(&truth, &json);
        eprintln!(
            "{label}: {n} of {of} truth maps with exact len (missing: {missing:?}); span source {}",
            json["coverage"]["span_source"]
        );
        if pct >= 60 {
            assert!(n >= 10, "{label}: only {n} of {of}: missing {missing:?}");
        }
        // Without span metadata retained bytes are lower bounds, said so,
        // and never below the map's own storage.
        if json["coverage"]["span_source"] != "allspans" {
            assert_eq!(json["retained_bytes_lower_bound"], true, "{label}");
            for m in json["maps"].as_array().unwrap() {
                assert!(
                    m["retained_bytes"].as_u64() >= m["storage_bytes"].as_u64(),
                    "{label}: {m}"
                );
            }
        }
    }
}

#[test]
fn maps_on_cut_go126_cores() {
    maps_on_cut_cores("go1.26");
}

#[test]
fn maps_on_cut_go122_cores() {
    maps_on_cut_cores("go1.22");
}

/// Every core command on a core cut at 60% answers within 30 s: a partial
/// answer (exit 0 with the coverage warning; `check`, asked whether the
/// core is complete, exit 1) or one `mapscope: …` line (exit 2).
fn every_command_answers(name: &str) {
    let s = sample(name);
    let full = fs::metadata(&s.core).expect("core").len();
    let dir = tempfile::tempdir().expect("tempdir");
    let cut = full * 60 / 100;
    let core = cut_core(&s, dir.path(), cut);
    let exe = s.exe.clone();
    let profile = s.profile.clone();
    let cmds: Vec<(&str, Vec<&dyn AsRef<std::ffi::OsStr>>)> = vec![
        ("regions", vec![&"regions", &core, &"--exe", &exe]),
        ("heap", vec![&"heap", &core, &"--exe", &exe]),
        ("goroutines", vec![&"goroutines", &core, &"--exe", &exe]),
        ("maps", vec![&"maps", &core, &"--exe", &exe]),
        (
            "analyze",
            vec![&"analyze", &core, &"--exe", &exe, &"--profile", &profile],
        ),
        ("check", vec![&"check", &profile, &core, &"--exe", &exe]),
    ];
    for (what, mut args) in cmds {
        args.extend([&"--format" as &dyn AsRef<std::ffi::OsStr>, &"json"]);
        let (code, json, stderr, took) = run_json(&args);
        let label = format!("{name} cut at 60%: {what}");
        eprintln!("{label}: exit {code} in {took:?}");
        assert!(took < Duration::from_secs(30), "{label}: {took:?}");
        match (what, code) {
            ("check", 1) => {}
            ("check", c) => panic!("{label}: a cut core must fail check, got {c}: {stderr}"),
            (_, 0) => {
                let w = warnings(&json);
                assert!(
                    w.iter().any(|w| w.starts_with("partial core:")),
                    "{label}: exit 0 without the coverage warning: {w:?}"
                );
                assert_eq!(json["coverage"]["complete"], false, "{label}");
            }
            (_, 2) => {
                let lines: Vec<&str> = stderr.lines().collect();
                assert!(
                    lines.len() == 1 && lines[0].starts_with("mapscope: "),
                    "{label}: not one clear line: {stderr}"
                );
            }
            (_, c) => panic!("{label}: exit {c}: {stderr}"),
        }
    }
}

#[test]
fn every_command_answers_a_60pct_go126_core() {
    every_command_answers("go1.26");
}

#[test]
fn every_command_answers_a_60pct_go122_core() {
    every_command_answers("go1.22");
}

/// `coredump_filter` without bit 0 (anonymous private memory): the kernel
/// writes those segments with `p_filesz` 0. Simulated by zeroing the
/// file size of every writable segment no `NT_FILE` mapping names
/// (proc-maps.txt: no path, or a `[...]` pseudo-path). Coverage must say
/// so; no command may treat the missing memory as zeros or pass it as
/// complete.
#[test]
fn anonymous_memory_left_out_by_coredump_filter() {
    let s = sample("go1.26");
    let dir = tempfile::tempdir().expect("tempdir");
    let core = dir.path().join("core");
    let mut bytes = fs::read(&s.core).expect("core");
    // Anonymous ranges from the process's own /proc/PID/maps.
    let anon: Vec<(u64, u64)> = s
        .text("proc-maps.txt")
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let range = f.next()?;
            let path = f.nth(4);
            if path.is_some_and(|p| !p.starts_with('[')) {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            ))
        })
        .collect();
    let u16at = |b: &[u8], o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize;
    let u64at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let phoff = u64at(&bytes, 32) as usize;
    let phentsize = u16at(&bytes, 54);
    let phnum = u16at(&bytes, 56);
    let mut dropped = 0u64;
    let mut dropped_bytes = 0u64;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(bytes[ph..ph + 4].try_into().unwrap());
        let flags = u32::from_le_bytes(bytes[ph + 4..ph + 8].try_into().unwrap());
        let vaddr = u64at(&bytes, ph + 16);
        let filesz = u64at(&bytes, ph + 32);
        let writable = flags & 2 != 0;
        if p_type == 1
            && writable
            && filesz > 0
            && anon.iter().any(|&(a, b)| a <= vaddr && vaddr < b)
        {
            bytes[ph + 32..ph + 40].copy_from_slice(&0u64.to_le_bytes());
            dropped += 1;
            dropped_bytes += u64at(&bytes, ph + 40);
        }
    }
    assert!(dropped > 0, "no anonymous writable segment in the sample");
    fs::write(&core, &bytes).expect("write core");

    let (code, json, stderr, _) =
        run_json(&[&"regions", &core, &"--exe", &s.exe, &"--format", &"json"]);
    assert_eq!(code, 0, "{stderr}");
    let cov = &json["coverage"];
    assert_eq!(cov["complete"], false, "{cov}");
    assert_eq!(cov["segments_not_dumped"].as_u64(), Some(dropped), "{cov}");
    let not_dumped: u64 = cov["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["not_dumped_bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(not_dumped, dropped_bytes, "{cov}");
    assert!(
        warnings(&json)
            .iter()
            .any(|w| w.starts_with("partial core:") && w.contains("not dumped")),
        "{:?}",
        warnings(&json)
    );
    // The Go heap lives in anonymous memory: nothing of it is left, so
    // `maps` answers with the warning (exit 0) or refuses in one line.
    let (code, json, stderr, took) =
        run_json(&[&"maps", &core, &"--exe", &s.exe, &"--format", &"json"]);
    assert!(took < Duration::from_secs(30));
    match code {
        0 => assert!(
            warnings(&json)
                .iter()
                .any(|w| w.starts_with("partial core:")),
            "{:?}",
            warnings(&json)
        ),
        2 => assert_eq!(stderr.lines().count(), 1, "{stderr}"),
        c => panic!("maps exit {c}: {stderr}"),
    }
}

/// `batch` reports an incident whose core was cut (but answers) as
/// `partial`, not `failed`, and writes its report.
#[test]
fn batch_reports_a_cut_core_as_partial() {
    let s = sample("go1.26");
    let full = fs::metadata(&s.core).expect("core").len();
    let tmp = tempfile::tempdir().expect("tempdir");
    let inc = tmp.path().join("incidents").join("cut95");
    fs::create_dir_all(&inc).unwrap();
    let cut = cut_core(&s, &inc, full * 95 / 100);
    fs::rename(&cut, inc.join("core")).unwrap();
    std::os::unix::fs::symlink(&s.exe, inc.join("mapzoo")).unwrap();
    let out = tmp.path().join("out");
    let r = run_cli(
        env!("CARGO_BIN_EXE_mapscope"),
        &[
            &"batch",
            &tmp.path().join("incidents"),
            &"--output",
            &out,
            &"--quiet",
            &"--format",
            &"json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: Value = serde_json::from_str(&r.stdout).expect("json");
    let row = &json["incidents"][0];
    assert_eq!(row["status"], "partial", "{row}");
    assert!(out.join("cut95").join("report.json").exists());
}

/// `allspans` unreadable (its array pointer flipped) but the arena span
/// tables intact: `heap` takes its spans from `heapArena.spans`, says so,
/// and finds what the runtime's own statistics in the core count
/// (`HeapObjects`, `HeapAlloc`); `maps` still matches the truth.
#[test]
fn spans_from_the_arena_tables_when_allspans_is_lost() {
    use mapscope_goruntime::GoProcess;
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
        let layout = process.layout().expect("layout");
        let at = layout.globals.mheap + layout.mheap.allspans;
        let core = process.memory().core();
        let seg = core.segment_at(at).expect("allspans in a segment");
        let off = (seg.offset + (at - seg.vaddr)) as usize;
        drop(process);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("core");
        let mut bytes = fs::read(&s.core).expect("core");
        let ptr = u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
        bytes[off..off + 8].copy_from_slice(&(ptr ^ (1 << 44)).to_le_bytes());
        fs::write(&path, &bytes).expect("write");

        let (code, json, stderr, _) =
            run_json(&[&"heap", &path, &"--exe", &s.exe, &"--format", &"json"]);
        assert_eq!(code, 0, "{name}: {stderr}");
        assert_eq!(json["span_source"], "arena-spans", "{name}");
        let stats = &json["runtime_stats"];
        assert_eq!(json["objects"], stats["heap_objects"], "{name}");
        assert_eq!(json["in_use_bytes"], stats["heap_alloc"], "{name}");
        assert!(
            warnings(&json)
                .iter()
                .any(|w| w.contains("spans taken from the heap arenas' span tables")),
            "{name}: {:?}",
            warnings(&json)
        );
        let (code, json, stderr, _) =
            run_json(&[&"maps", &path, &"--exe", &s.exe, &"--format", &"json"]);
        assert_eq!(code, 0, "{name}: {stderr}");
        let (n, of, missing) = exact_len_count(&s.truth(), &json);
        assert_eq!(n, of, "{name}: missing {missing:?}");
        // Every arena table read and every mspan valid: the span list is
        // complete, retained bytes are measured, not bounded.
        assert_eq!(json["retained_bytes_lower_bound"], false, "{name}");
    }
}

/// `(vaddr, offset, filesz)` of every `LOAD` line of readelf-l.txt.
fn readelf_load_placement(s: &Sample) -> Vec<(u64, u64, u64)> {
    readelf_load_lines(s)
        .into_iter()
        .map(|(offset, vaddr, filesz, _)| (vaddr, offset, filesz))
        .collect()
}

/// Whether `[addr, addr+len)` is entirely in a core cut to `cut` bytes,
/// by the segments' file placement (readelf): no byte of it past the cut
/// or outside the segments' file bytes.
fn present_in_cut(loads: &[(u64, u64, u64)], cut: u64, addr: u64, len: u64) -> bool {
    let end = addr + len.max(1);
    let mut at = addr;
    while at < end {
        let Some(&(vaddr, off, filesz)) =
            loads.iter().find(|&&(v, _, size)| v <= at && at < v + size)
        else {
            return false;
        };
        let seg_end = (vaddr + filesz).min(end);
        if off + (seg_end - vaddr) > cut {
            return false;
        }
        at = seg_end;
    }
    true
}

/// Per profile special of the uncut core (the sampled live objects):
/// whether all it takes to place it — the object's bytes, the special
/// record, the mspan record of its span — lies in a core cut to `cut`
/// bytes. Read from the complete core (whose walk is checked against the
/// runtime's statistics in goruntime's tests) and placed with readelf's
/// segment table, not with the cut core's reader.
/// Also returns, per cut, the share of the sampled objects' estimated
/// bytes (`size / (1 - exp(-size/rate))` each, runtime/pprof's scaling of
/// one sample, `rate` from truth.json) that lies in the cut part.
fn sampled_objects_in_cut(s: &Sample, cuts: &[u64]) -> Vec<(usize, usize, f64)> {
    use mapscope_goruntime::heap::SpecialKind;
    use mapscope_goruntime::GoProcess;
    let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
    let heap = process.heap().expect("heap");
    let loads = readelf_load_placement(s);
    let specials: Vec<(u64, u64, u64, u64)> = heap
        .specials()
        .iter()
        .filter(|r| r.kind == SpecialKind::Profile)
        .filter_map(|r| {
            let o = heap.object_at(r.object)?;
            let span = heap.spans().get(heap.span_index_of(r.object)?)?;
            Some((o.address, o.size, r.record, span.mspan))
        })
        .collect();
    assert!(!specials.is_empty(), "{}: no profile specials", s.name);
    let rate = s.truth()["mem_profile_rate"]
        .as_f64()
        .expect("mem_profile_rate");
    let weight = |size: u64| size as f64 / (1.0 - (-(size as f64) / rate).exp());
    let all: f64 = specials.iter().map(|o| weight(o.1)).sum();
    cuts.iter()
        .map(|&cut| {
            let absent: Vec<_> = specials
                .iter()
                .filter(|&&(addr, size, record, mspan)| {
                    !(present_in_cut(&loads, cut, addr, size)
                        && present_in_cut(&loads, cut, record, 1)
                        && present_in_cut(&loads, cut, mspan, 1))
                })
                .collect();
            let share = absent.iter().map(|o| weight(o.1)).sum::<f64>() / all;
            (absent.len(), specials.len(), share)
        })
        .collect()
}

/// `analyze` on the uncut core and on cores cut at 98%, 95% and 60%: the
/// profile is conserved exactly — its total is `go tool pprof`'s
/// (pprof-top.txt) and `attributed + non_map + unattributed + cut` equals
/// it — the cut row is 0 on the uncut core and > 0 exactly when sampled
/// objects (their bytes, special or span records) lie in the cut part
/// (placed independently from readelf's segment table), and the Go heap
/// row never silently shows the walk's partial sum: on a core whose span
/// list is incomplete it is the runtime's `HeapAlloc`
/// (`go_heap_runtime_stats`), within 1% of truth.json's memstats.
fn profile_conserved_on_cut_cores(name: &str) {
    let s = sample(name);
    let truth = s.truth();
    let heap_alloc = truth["memstats"]["HeapAlloc"].as_u64().expect("HeapAlloc");
    let pprof_total = mapscope_testsupport::pprof_top_total(&s.text("pprof-top.txt"))
        .expect("pprof-top.txt total");
    let full = fs::metadata(&s.core).expect("core").len();
    let dir = tempfile::tempdir().expect("tempdir");
    let pcts = [100u64, 98, 95, 60];
    let cuts: Vec<u64> = pcts.iter().map(|p| full * p / 100).collect();
    let expected = sampled_objects_in_cut(&s, &cuts);
    // Whether the runtime's span list (`mheap_.allspans` array) is in each
    // cut, by readelf's placement of the uncut core's pointer and length.
    let allspans_present: std::collections::HashMap<u64, bool> = {
        use mapscope_goruntime::GoProcess;
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
        let layout = process.layout().expect("layout");
        let at = layout.globals.mheap + layout.mheap.allspans;
        let mem = process.memory();
        let (ptr, len) = (
            mem.read_u64(at).expect("allspans"),
            mem.read_u64(at + 8).expect("allspans len"),
        );
        let loads = readelf_load_placement(&s);
        cuts.iter()
            .map(|&c| (c, present_in_cut(&loads, c, ptr, len * 8)))
            .collect()
    };
    for ((&pct, &cut), &(absent, sampled, share)) in pcts.iter().zip(&cuts).zip(&expected) {
        let core = if pct == 100 {
            s.core.clone()
        } else {
            cut_core(&s, dir.path(), cut)
        };
        let label = format!("{name} cut at {pct}% ({cut} of {full} bytes)");
        let (code, json, stderr, _) = run_json(&[
            &"analyze",
            &core,
            &"--exe",
            &s.exe,
            &"--profile",
            &s.profile,
            &"--format",
            &"json",
        ]);
        assert_eq!(code, 0, "{label}: {stderr}");
        let p = &json["profile"];
        let v = |k: &str| {
            p[k].as_i64()
                .unwrap_or_else(|| panic!("{label}: {k} in {p}"))
        };
        let (total, attributed, non_map, unattributed, cut_bytes) = (
            v("inuse_space_total"),
            v("attributed"),
            v("non_map"),
            v("unattributed"),
            v("cut"),
        );
        assert_eq!(total, pprof_total, "{label}: total vs go tool pprof");
        assert_eq!(
            attributed + non_map + unattributed + cut_bytes,
            total,
            "{label}: not conserved: {p}"
        );
        let acc = json["accounting"].as_array().expect("accounting");
        let row = |id: &str| acc.iter().find(|r| r["id"] == id);
        let heap_row = row("go_heap")
            .or_else(|| row("go_heap_runtime_stats"))
            .unwrap_or_else(|| panic!("{label}: no Go heap row in {acc:?}"));
        let heap_bytes = heap_row["bytes"].as_u64().unwrap();
        let spans_complete = json["coverage"]["spans_complete"] == true;
        eprintln!(
            "{label}: total {total} = attributed {attributed} + non_map {non_map} + unattributed {unattributed} + cut {cut_bytes}; {absent} of {sampled} sampled objects in the cut part ({:.1}% of their estimated bytes; cut row {:.1}% of the total); {} {heap_bytes} (HeapAlloc {heap_alloc}); spans from {}",
            share * 100.0,
            cut_bytes as f64 * 100.0 / total as f64,
            heap_row["id"],
            json["coverage"]["span_source"]
        );
        assert_eq!(
            cut_bytes > 0,
            absent > 0,
            "{label}: cut {cut_bytes} but {absent} of {sampled} sampled objects in the cut part"
        );
        assert!(heap_bytes > 0, "{label}: Go heap row 0: {heap_row}");
        let source = json["coverage"]["span_source"].as_str().unwrap_or("?");
        if source == "none" {
            // No span record found: no sampled object can be placed, and
            // the walk lost its span list only if it is really cut.
            assert_eq!(cut_bytes, total, "{label}: {p}");
            assert!(!allspans_present[&cut], "{label}: allspans in the core");
        } else if source == "allspans" && cut_bytes > 0 {
            // A partial span list: the cut row is the absent objects'
            // share of the profile (bucket values are split by the same
            // estimate), within 3 points.
            let row_share = cut_bytes as f64 / total as f64;
            assert!(
                (row_share - share).abs() <= 0.03,
                "{label}: cut row {row_share:.3} of the total, absent sampled objects {share:.3}"
            );
        }
        if pct == 100 {
            assert_eq!(cut_bytes, 0, "{label}");
            assert!(row("profile_cut").is_none(), "{label}: {acc:?}");
            assert_eq!(heap_row["id"], "go_heap", "{label}");
        } else {
            let cut_row = row("profile_cut").unwrap_or_else(|| panic!("{label}: {acc:?}"));
            assert_eq!(cut_row["bytes"].as_i64(), Some(cut_bytes), "{label}");
        }
        if !spans_complete {
            assert_eq!(heap_row["id"], "go_heap_runtime_stats", "{label}");
            assert!(
                heap_bytes.abs_diff(heap_alloc) as f64 <= 0.01 * heap_alloc as f64,
                "{label}: {heap_bytes} vs HeapAlloc {heap_alloc}"
            );
        }
    }
}

#[test]
fn profile_conserved_on_cut_go126_cores() {
    profile_conserved_on_cut_cores("go1.26");
}

#[test]
fn profile_conserved_on_cut_go122_cores() {
    profile_conserved_on_cut_cores("go1.22");
}
