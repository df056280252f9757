//! The binary stays flags plus calls (issue #18): its source is at most
//! [`MAX_LINES`] lines, every report model and pipeline living in
//! `mapscope-incident` and every document in `mapscope-render`. And what
//! the binary itself still owns, checked from the outside: pprof's flag
//! spellings are rewritten after `top` only, and `-o FILE` removes the
//! temporaries an interrupted earlier run left beside FILE.
//!
//! Truths: the source tree's line count; clap's own error for a flag it
//! does not know; the files on disk before and after a run.

use mapscope_testsupport::{run_cli, sample_source, Run};
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_mapscope");

/// The most lines `crates/mapscope/src/**/*.rs` may hold.
const MAX_LINES: usize = 1500;

fn mapscope(args: &[&str]) -> Run {
    let args: Vec<&dyn AsRef<std::ffi::OsStr>> = args
        .iter()
        .map(|a| a as &dyn AsRef<std::ffi::OsStr>)
        .collect();
    run_cli(BIN, &args)
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries {
        let path = e.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_binary_source_is_at_most_1500_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.iter().any(|f| f.ends_with("main.rs")),
        "no main.rs under {}",
        src.display()
    );
    let mut per_file: Vec<(usize, String)> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            (text.lines().count(), f.display().to_string())
        })
        .collect();
    let total: usize = per_file.iter().map(|(n, _)| n).sum();
    per_file.sort();
    assert!(
        total <= MAX_LINES,
        "crates/mapscope/src holds {total} lines, more than {MAX_LINES}: report models and \
         pipelines belong in mapscope-incident, documents in mapscope-render\n{per_file:#?}"
    );
}

#[test]
fn pprof_spellings_are_rewritten_after_top_only() {
    // Another command keeps `-cum`: clap refuses it as `-c`, not `--cum`.
    let out = mapscope(&["analyze", "-cum", "core"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("'-c'") && !out.stderr.contains("--cum"),
        "{}",
        out.stderr
    );
    // After `--`, `-cum` is top's PROFILE argument, as given.
    let out = mapscope(&["top", "--", "-cum"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("-cum: cannot read") && !out.stderr.contains("--cum"),
        "{}",
        out.stderr
    );
    // `-flat` and `-top` name what top does anyway: dropped.
    let p = sample_source("go1.26").join("heap.pb.gz");
    let p = p.to_str().unwrap();
    let plain = mapscope(&["top", p, "--nodecount", "3"]);
    let spelled = mapscope(&["top", "-flat", "-top", "-nodecount", "3", p]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert_eq!(spelled.stdout, plain.stdout);
}

#[test]
fn a_write_removes_what_an_interrupted_run_left() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("thin-binary-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // No process has id 4294967295: its temporary is stale.
    let stale = dir.join(".REPORT.md.tmp4294967295");
    let other = dir.join(".report.json.tmp4242");
    std::fs::write(&stale, "half").unwrap();
    std::fs::write(&other, "half").unwrap();
    let p = sample_source("go1.26").join("heap.pb.gz");
    let report = dir.join("REPORT.md");
    let out = mapscope(&["top", p.to_str().unwrap(), "-o", report.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "", "-o still printed on stdout");
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.starts_with("# Top functions by inuse_space"), "{md}");
    assert!(!stale.exists(), "stale temporary of REPORT.md left");
    assert!(other.exists(), "another file's temporary must stay");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
