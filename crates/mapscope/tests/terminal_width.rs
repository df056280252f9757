//! Output for people fits the terminal: on a 100-column pseudo-terminal no
//! line of `analyze`, `maps`, `goroutines`, `check` (also on a mismatch)
//! or `regions` is wider than 100 columns, and piped output stays
//! unwrapped (the same commands piped print lines wider than 100, so the
//! check is not vacuous). The terminal is real: each command runs under
//! `script(1)` (util-linux) with `stty cols 100`.
//!
//! Byte counts people read are IEC units: every `N.NN KiB/MiB/GiB` in the
//! `maps` table reads back to the JSON's exact bytes (checked against the
//! sample's truth.json elsewhere) within rounding; CSV carries the exact
//! bytes under snake_case headers.

use mapscope_testsupport::{sample, Run};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mapscope");

fn mapscope(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    mapscope_testsupport::run_cli(BIN, args)
}

/// Columns a line takes on a terminal (tabs to the next multiple of 8).
fn width(line: &str) -> usize {
    let mut w = 0;
    for c in line.chars() {
        if c == '\t' {
            w = (w / 8 + 1) * 8;
        } else {
            w += 1;
        }
    }
    w
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Runs mapscope with `args` on a pseudo-terminal of `cols` columns and
/// returns what it printed (carriage returns of the terminal removed).
fn on_terminal(cols: usize, args: &[&str]) -> String {
    let mut cmd = format!("stty cols {cols} rows 50; exec {}", shell_quote(BIN));
    for a in args {
        cmd.push(' ');
        cmd.push_str(&shell_quote(a));
    }
    // Standard error (a progress line) is not the report.
    cmd.push_str(" 2>/dev/null");
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env_remove("MAPSCOPE_COLUMNS")
        .output()
        .expect("needs script(1) from util-linux to run a pseudo-terminal");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(
        !text.contains("internal error") && !text.trim().is_empty(),
        "{args:?}: {text}"
    );
    text
}

fn piped(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("MAPSCOPE_COLUMNS")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn widest(text: &str) -> (usize, String) {
    text.lines()
        .map(|l| (width(l), l.to_string()))
        .max_by_key(|(w, _)| *w)
        .unwrap_or_default()
}

/// Every listed command on one incident: fits 100 columns on a terminal;
/// returns the widest piped line seen, to show the fitting did something.
fn check_fits(core: &Path, exe: &Path, other_profile: &Path, profile: Option<&Path>) -> usize {
    let core = core.to_str().unwrap();
    let exe = exe.to_str().unwrap();
    let mut runs: Vec<Vec<&str>> = vec![
        vec!["analyze", core, "--exe", exe],
        vec!["maps", core, "--exe", exe],
        vec!["goroutines", core, "--exe", exe],
        vec!["regions", core, "--exe", exe],
        // A profile of another process: the checks fail, with long details.
        vec!["check", other_profile.to_str().unwrap(), core, "--exe", exe],
    ];
    if let Some(p) = profile {
        runs.push(vec!["check", p.to_str().unwrap(), core, "--exe", exe]);
    }
    let mut widest_piped = 0;
    for args in &runs {
        let text = on_terminal(100, args);
        let (w, line) = widest(&text);
        assert!(w <= 100, "{args:?}: a line of {w} columns:\n{line}");
        widest_piped = widest_piped.max(widest(&piped(args)).0);
    }
    widest_piped
}

#[test]
fn every_command_fits_a_100_column_terminal() {
    let mut widest_piped = 0;
    for (name, other) in [
        ("go1.26", "go1.22"),
        ("go1.22", "go1.26"),
        ("go1.26-gcore", "go1.22"),
    ] {
        let s = sample(name);
        let o = sample(other);
        widest_piped = widest_piped.max(check_fits(
            &s.core,
            &s.exe,
            &o.source.join("heap.pb.gz"),
            Some(&s.source.join("heap.pb.gz")),
        ));
    }
    assert!(
        widest_piped > 100,
        "piped output is never wider than 100: the test shows nothing"
    );
}

#[test]
#[ignore = "needs /tmp/realworld/go1.26-compile (scripts/gen-realworld.sh)"]
fn a_real_program_fits_a_100_column_terminal() {
    let dir = Path::new("/tmp/realworld/go1.26-compile");
    assert!(
        dir.join("core").exists(),
        "needs /tmp/realworld/go1.26-compile"
    );
    let other = sample("go1.26");
    check_fits(
        &dir.join("core"),
        &dir.join("compile"),
        &other.source.join("heap.pb.gz"),
        None,
    );
}

/// `1.50 MiB` → bytes.
fn parse_iec(s: &str) -> Option<f64> {
    let (v, u) = s.trim().split_once(' ')?;
    let f = match u {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1048576.0,
        "GiB" => 1073741824.0,
        _ => return None,
    };
    Some(v.parse::<f64>().ok()? * f)
}

#[test]
fn maps_table_bytes_read_back_and_csv_is_exact() {
    let s = sample("go1.26");
    let json = mapscope(&[&"maps", &s.core, &"--exe", &s.exe, &"--format", &"json"]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    let maps = v["maps"].as_array().unwrap();
    // The table: retained and storage in IEC units, read back within the
    // rounding of three significant digits.
    let table = mapscope(&[&"maps", &s.core, &"--exe", &s.exe]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    let mut checked = 0;
    for m in maps {
        let root = m["root"].as_str().unwrap();
        let Some(line) = table
            .stdout
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == root))
        else {
            continue;
        };
        let cells: Vec<&str> = line
            .trim_matches(|c: char| c == '│' || c.is_whitespace())
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        for (cell, key) in cells.iter().zip(["retained_bytes", "storage_bytes"]) {
            let Some(want) = m[key].as_u64() else {
                continue;
            };
            let got = parse_iec(cell).unwrap_or_else(|| panic!("{root}: {cell:?} in {line}"));
            let err = (got - want as f64).abs() / (want.max(1) as f64);
            assert!(err <= 0.005, "{root} {key}: {cell} vs {want}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked} byte cells checked");
    // CSV: snake_case headers and the JSON's exact bytes.
    let csv = mapscope(&[&"maps", &s.core, &"--exe", &s.exe, &"--format", &"csv"]);
    assert_eq!(csv.code, 0, "{}", csv.stderr);
    let mut lines = csv.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        &header[..6],
        [
            "retained",
            "storage",
            "len",
            "capacity",
            "tombstones",
            "root"
        ]
    );
    assert!(header.iter().all(|h| h
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')));
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(first[0], maps[0]["retained_bytes"].to_string());
    assert_eq!(first[1], maps[0]["storage_bytes"].to_string());
}

#[test]
fn csv_of_several_tables_is_one_file_per_table() {
    let s = sample("go1.26");
    // To standard output, a report of several tables needs --table.
    let r = mapscope(&[&"regions", &s.core, &"--exe", &s.exe, &"--format", &"csv"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--table") && r.stderr.contains("totals"),
        "{}",
        r.stderr
    );
    let r = mapscope(&[
        &"regions",
        &s.core,
        &"--exe",
        &s.exe,
        &"--format",
        &"csv",
        &"--table",
        &"totals",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("kind,regions,size,present\n"),
        "{}",
        r.stdout
    );
    // With -o FILE.csv: FILE-NAME.csv for each table.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("regions.csv");
    let r = mapscope(&[
        &"regions",
        &s.core,
        &"--exe",
        &s.exe,
        &"-o",
        &out,
        &"--format",
        &"csv",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "regions-regions.csv",
            "regions-threads.csv",
            "regions-totals.csv"
        ]
    );
    // The exact sizes: the JSON's (which tests check against readelf).
    let json = mapscope(&[&"regions", &s.core, &"--exe", &s.exe, &"--format", &"json"]);
    let v: Value = serde_json::from_str(&json.stdout).unwrap();
    let totals = std::fs::read_to_string(dir.path().join("regions-totals.csv")).unwrap();
    for (line, t) in totals.lines().skip(1).zip(v["totals"].as_array().unwrap()) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], t["kind"].as_str().unwrap());
        assert_eq!(cells[2], t["size"].to_string());
        assert_eq!(cells[3], t["present_bytes"].to_string());
    }
}

#[test]
fn headline_bytes_read_back_to_truth() {
    let s = sample("go1.26");
    let truth = s.truth();
    let table = mapscope(&[&"analyze", &s.core, &"--exe", &s.exe]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    let headline = table.stdout.lines().next().unwrap().to_string();
    // "main.pendingJobs holds 584 KiB (8% of the Go heap); the largest
    // retainer is global main.noiseBuffer ([]uint8), 2.00 MiB (29%)".
    let (root, rest) = headline.split_once(" holds ").expect("holds");
    let map_bytes = parse_iec(rest.split(" (").next().unwrap()).expect("map bytes");
    let want = truth["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["root"] == root)
        .and_then(|m| m["retained_bytes"].as_u64())
        .unwrap_or_else(|| panic!("no truth for {root}"));
    // Three significant digits (0.5%), and the walk within 5% of truth.
    let err = (map_bytes - want as f64).abs() / want as f64;
    assert!(err <= 0.055, "{headline}: truth {want}");
    let (_, retainer) = headline
        .split_once("main.noiseBuffer ([]uint8), ")
        .expect("the noise buffer named");
    let got = parse_iec(retainer.split(" (").next().unwrap()).unwrap();
    let noise = truth["others"][0]["retained_bytes"].as_u64().unwrap();
    assert!(
        (got - noise as f64).abs() / noise as f64 <= 0.055,
        "{headline}: truth {noise}"
    );
    // Markdown: Go identifiers in backticks.
    let md = mapscope(&[
        &"analyze",
        &s.core,
        &"--exe",
        &s.exe,
        &"--format",
        &"markdown",
    ]);
    let first = md.stdout.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("# `{root}` holds "))
            && first.contains("global `main.noiseBuffer` (`[]uint8`)"),
        "{first}"
    );
}
