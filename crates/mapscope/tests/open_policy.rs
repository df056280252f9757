//! One executable policy for every command (`mapscope_incident::open`):
//! an executable that is not the build the core ran is refused at once,
//! exit 2, with one line naming both files — by `regions`, `heap`,
//! `goroutines`, `maps` and `analyze` alike, and as a failed incident by
//! `batch`; `check`, whose job is to report it, fails its
//! `executable-matches-core` check instead (exit 1, the contract's "check
//! found a mismatch"). Also what `analyze` says about memory with no
//! heap profile (`MemProfileRate=0`) and about RSS from a gcore core.
//!
//! Truth: the samples' `sha256.txt` (two different builds), `smaps.txt`
//! (resident memory), `truth.json` (`mem_profile_rate`) and `pprof-top.txt`
//! (`go tool pprof`'s total of the rate-0 profile); on real programs
//! `/proc/PID/status` saved as `status.txt`.

use mapscope_testsupport::{pprof_top_total, run_cli, sample, smaps_anon_rss, Run, Sample};
use serde_json::Value;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn mapscope(args: &[&dyn AsRef<OsStr>]) -> Run {
    run_cli(env!("CARGO_BIN_EXE_mapscope"), args)
}

fn sha(s: &Sample) -> String {
    s.text("sha256.txt")
        .lines()
        .find(|l| l.ends_with(" mapzoo") && l.len() > 64)
        .map(|l| l[..64].to_string())
        .expect("sha256.txt lists mapzoo")
}

/// Every single-incident command refuses `exe` for `core` within `limit`:
/// exit 2, one line, naming both files.
fn refused_by_every_command(core: &Path, exe: &Path, profile: Option<&Path>, limit: Duration) {
    let mut runs: Vec<(&str, Vec<&dyn AsRef<OsStr>>)> = ["regions", "heap", "goroutines", "maps"]
        .iter()
        .map(|c| {
            let v: Vec<&dyn AsRef<OsStr>> = vec![c, &core, &"--exe", &exe];
            (*c, v)
        })
        .collect();
    runs.push(("analyze", vec![&"analyze", &core, &"--exe", &exe]));
    if let Some(p) = &profile {
        let r = mapscope(&[&"check", p, &core, &"--exe", &exe, &"--format", &"json"]);
        assert_eq!(r.code, 1, "check: {}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).expect("check json");
        let failed = v["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["name"] == "executable-matches-core" && c["status"] == "fail");
        assert!(failed, "check: {}", r.stdout);
    }
    for (name, args) in runs {
        let started = Instant::now();
        let r = mapscope(&args);
        let took = started.elapsed();
        eprintln!("{name}: exit {} in {took:?}", r.code);
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(took < limit, "{name} took {took:?}");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: {}", r.stderr);
        let line = lines[0];
        assert!(
            line.contains("does not match the core")
                && line.contains(&exe.display().to_string())
                && line.contains(&core.display().to_string()),
            "{name}: {line}"
        );
    }
}

/// `batch` over a directory holding `core` and only `exe`: the incident
/// fails, naming the executable.
fn refused_by_batch(core: &Path, exe: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("incidents").join("one");
    std::fs::create_dir_all(&d).unwrap();
    let core_name = core.file_name().unwrap().to_string_lossy().into_owned();
    let core_name = if mapscope_incident::discover::is_core_name(&core_name) {
        core_name
    } else {
        "core".to_string()
    };
    std::os::unix::fs::symlink(core, d.join(core_name)).unwrap();
    std::os::unix::fs::symlink(exe, d.join("program")).unwrap();
    let out = tmp.path().join("out");
    let r = mapscope(&[
        &"batch",
        &tmp.path().join("incidents"),
        &"-o",
        &out,
        &"-q",
        &"--format",
        &"json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let summary: Value = serde_json::from_str(&r.stdout).unwrap();
    let row = &summary["incidents"][0];
    assert_eq!(row["status"], "failed", "{row}");
    let why = row["error"].as_str().unwrap();
    assert!(
        why.contains("does not match the core") && why.contains("program"),
        "{why}"
    );
}

#[test]
fn an_executable_of_another_build_is_refused_by_every_command() {
    let new = sample("go1.26");
    let old = sample("go1.22");
    assert_ne!(sha(&new), sha(&old), "precondition: two builds");
    refused_by_every_command(
        &new.core,
        &old.exe,
        Some(&new.profile),
        Duration::from_secs(10),
    );
    refused_by_batch(&new.core, &old.exe);
    // The incident directory's executable is held to the same rule.
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&new.core, tmp.path().join("core")).unwrap();
    std::os::unix::fs::symlink(&old.exe, tmp.path().join("mapzoo")).unwrap();
    let r = mapscope(&[&"analyze", &tmp.path()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("does not match the core"), "{}", r.stderr);
}

fn rss_row(report: &Value) -> (String, u64) {
    let row = report["accounting"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["layer"].as_str().unwrap().starts_with("process RSS"))
        .expect("an RSS row");
    (
        row["layer"].as_str().unwrap().to_string(),
        row["bytes"].as_u64().unwrap(),
    )
}

#[test]
fn rss_of_a_gcore_core_does_not_count_reserved_ranges() {
    let s = sample("go1.26-gcore");
    let truth = smaps_anon_rss(&s.text("smaps.txt"));
    let r = mapscope(&[&"analyze", &s.core, &"--exe", &s.exe, &"--format", &"json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let (layer, rss) = rss_row(&report);
    assert!(layer.contains("core"), "{layer}");
    // A lower bound (resident pages of zeros are missed), within 10%.
    assert!(
        rss <= truth && rss * 10 >= truth * 9,
        "core estimate {rss}, smaps anon Rss {truth}"
    );
    // With the smaps file, its Rss sum is the row.
    let all: u64 = s
        .text("smaps.txt")
        .lines()
        .filter_map(|l| l.strip_prefix("Rss:"))
        .map(|kb| {
            kb.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap()
                * 1024
        })
        .sum();
    let smaps = s.source.join("smaps.txt");
    let r = mapscope(&[
        &"analyze",
        &s.core,
        &"--exe",
        &s.exe,
        &"--maps",
        &smaps,
        &"--format",
        &"json",
    ]);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        rss_row(&report),
        ("process RSS (smaps Rss)".to_string(), all)
    );
}

/// `$MAPSCOPE_CORPUS/rate0/go1.26` (scripts/gen-corpus.sh: mapzoo with
/// `-rate 0`).
#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn no_heap_profile_when_mem_profile_rate_is_zero() {
    let rate0 = mapscope_testsupport::corpus::incident("rate0", "go1.26");
    let dir = rate0.as_path();
    let truth: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("truth.json")).unwrap()).unwrap();
    assert_eq!(truth["mem_profile_rate"], 0, "precondition");
    let pprof_total =
        pprof_top_total(&std::fs::read_to_string(dir.join("pprof-top.txt")).unwrap()).unwrap();
    let r = mapscope(&[&"analyze", &dir, &"--format", &"json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let rows = report["accounting"].as_array().unwrap();
    let last = rows.last().unwrap();
    assert_eq!(last["layer"], "no heap profile: MemProfileRate=0");
    assert_eq!(last["bytes"], 0);
    for row in rows {
        let layer = row["layer"].as_str().unwrap();
        assert!(!layer.contains("profile inuse"), "{layer}");
        assert!(!layer.contains("(profile)"), "{layer}");
        // The few bytes sampled before the rate was set are not a layer.
        assert_ne!(row["bytes"].as_i64(), Some(pprof_total), "{row}");
    }
    let warnings = report["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("MemProfileRate=0")),
        "{warnings:?}"
    );
    assert_eq!(report["profile"]["mem_profile_rate"], 0);
    mapscope_testsupport::corpus::assert_checked("rate0", &["go1.26".to_string()], &[]);
}

/// `/tmp/realworld/<name>-w-exe/`: the `-ldflags=-w` build of the program
/// of `/tmp/realworld/<name>/` (same source, other link flags).
fn near_miss_pairs() -> Vec<(PathBuf, PathBuf, Option<PathBuf>)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/tmp/realworld") else {
        return out;
    };
    let mut dirs: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    for w in dirs {
        let name = w.file_name().unwrap().to_string_lossy().into_owned();
        let Some(base) = name.strip_suffix("-w-exe") else {
            continue;
        };
        let inc_dir = Path::new("/tmp/realworld").join(base);
        let Ok(inc) = mapscope_incident::discover_incident(&inc_dir) else {
            continue;
        };
        let exe = std::fs::read_dir(&w).ok().and_then(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
                std::fs::read(p)
                    .map(|b| b.starts_with(b"\x7fELF"))
                    .unwrap_or(false)
            })
        });
        if let Some(exe) = exe {
            out.push((inc.core, exe, inc.profiles.first().cloned()));
        }
    }
    out
}

#[test]
#[ignore = "needs /tmp/realworld/<name>/ and /tmp/realworld/<name>-w-exe/ (the real-program incidents)"]
fn a_near_miss_build_of_a_real_program_is_refused_quickly() {
    let pairs = near_miss_pairs();
    assert!(!pairs.is_empty(), "no /tmp/realworld/*-w-exe pairs");
    for (core, exe, profile) in pairs {
        eprintln!("{} with {}", core.display(), exe.display());
        refused_by_every_command(&core, &exe, profile.as_deref(), Duration::from_secs(30));
        refused_by_batch(&core, &exe);
    }
}

#[test]
#[ignore = "needs /tmp/realworld/go1.26-compile-gcore (a gcore of a real program with status.txt)"]
fn rss_of_a_real_gcore_core_is_close_to_vmrss() {
    let dir = Path::new("/tmp/realworld/go1.26-compile-gcore");
    let status = std::fs::read_to_string(dir.join("status.txt")).unwrap();
    let kb = |key: &str| {
        status.lines().find_map(|l| l.strip_prefix(key)).map(|v| {
            v.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap()
                * 1024
        })
    };
    // The estimate covers anonymous memory: RssAnon when recorded.
    let truth = kb("RssAnon:").or_else(|| kb("VmRSS:")).unwrap();
    let inc = mapscope_incident::discover_incident(dir).unwrap();
    let exe = inc.exe.expect("an executable in the incident");
    let r = mapscope(&[&"analyze", &inc.core, &"--exe", &exe, &"--format", &"json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let (_, rss) = rss_row(&report);
    eprintln!("core estimate {rss}, status {truth}");
    assert!(
        rss <= truth + truth / 50 && rss * 10 >= truth * 8,
        "core estimate {rss}, status.txt {truth}"
    );
}
