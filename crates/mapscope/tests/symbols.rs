//! Separate debug files (`--symbols FILE`, the build-ID tree under
//! `$MAPSCOPE_DEBUG_DIR`): a stripped executable with the debug file of
//! its build answers exactly as the executable with DWARF did, apart from
//! the one note saying where the DWARF came from; a debug file of another
//! build is refused (exit 2, one line naming both files) when given, and
//! left out with a note when found in the tree.
//!
//! Truths: the DWARF run's JSON on the shipped go1.26 sample (itself
//! checked against `truth.json`, `go tool pprof` and gdb by the other
//! tests: equality with it is the claim here); the sample's GNU build ID
//! as `readelf -n` printed it (`samples/go1.26/readelf-exe-n.txt`), which
//! names the build-ID path; the files GNU objcopy writes
//! (`--only-keep-debug`, `--strip-debug`, `--strip-all`). objcopy
//! (binutils) is found on PATH; the tests fail saying so when it is absent.

use mapscope_testsupport::{sample, sample_source, Run};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_mapscope");

/// The go1.26 sample's files: core, executable with DWARF, and what
/// objcopy made of it.
struct Files {
    core: PathBuf,
    exe: PathBuf,
    profile: PathBuf,
    /// `objcopy --only-keep-debug`.
    debug: PathBuf,
    /// `objcopy --strip-debug`: symbols kept, no DWARF.
    no_dwarf: PathBuf,
    /// `objcopy --strip-all`: neither symbols nor DWARF (like `-s -w`).
    stripped: PathBuf,
    /// A directory with no build-ID tree (so no test reads the machine's
    /// /usr/lib/debug).
    empty_dir: PathBuf,
    dir: PathBuf,
}

fn objcopy(args: &[&dyn AsRef<std::ffi::OsStr>]) {
    let status = Command::new("objcopy")
        .args(args.iter().map(|a| a.as_ref()))
        .status()
        .unwrap_or_else(|e| panic!("objcopy (GNU binutils) must be on PATH for this test: {e}"));
    assert!(status.success(), "objcopy failed: {status}");
}

fn files() -> &'static Files {
    static FILES: OnceLock<Files> = OnceLock::new();
    FILES.get_or_init(|| {
        let s = sample("go1.26");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("symbols");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        let f = Files {
            core: s.core.clone(),
            exe: s.exe.clone(),
            profile: s.profile.clone(),
            debug: dir.join("mapzoo.debug"),
            no_dwarf: dir.join("mapzoo.nodwarf"),
            stripped: dir.join("mapzoo.stripped"),
            empty_dir: dir.join("empty"),
            dir,
        };
        objcopy(&[&"--only-keep-debug", &f.exe, &f.debug]);
        objcopy(&[&"--strip-debug", &f.exe, &f.no_dwarf]);
        objcopy(&[&"--strip-all", &f.exe, &f.stripped]);
        f
    })
}

/// Runs mapscope with `MAPSCOPE_DEBUG_DIR=debug_dir`.
fn run(debug_dir: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    let out = Command::new(BIN)
        .args(args.iter().map(|a| a.as_ref()))
        .env("MAPSCOPE_DEBUG_DIR", debug_dir)
        .output()
        .unwrap_or_else(|e| panic!("{BIN}: {e}"));
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

fn json(debug_dir: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Value {
    let mut a = args.to_vec();
    a.extend([&"--format" as &dyn AsRef<std::ffi::OsStr>, &"json"]);
    let r = run(debug_dir, &a);
    assert_eq!(
        r.code,
        0,
        "{:?}: {}",
        a.iter().map(|x| x.as_ref()).collect::<Vec<_>>(),
        r.stderr
    );
    serde_json::from_str(&r.stdout).expect("JSON")
}

fn warnings(v: &Value) -> Vec<String> {
    v["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|w| w.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `with` equals `truth` except for one added warning, which is returned.
fn equal_but_one_note(what: &str, truth: &Value, with: &Value) -> String {
    let (mut t, mut w) = (truth.clone(), with.clone());
    let (tw, ww) = (warnings(&t), warnings(&w));
    t["warnings"] = Value::Null;
    w["warnings"] = Value::Null;
    assert!(t == w, "{what}: the answer differs from the DWARF run's");
    let added: Vec<&String> = ww.iter().filter(|x| !tw.contains(x)).collect();
    let lost: Vec<&String> = tw.iter().filter(|x| !ww.contains(x)).collect();
    assert!(lost.is_empty(), "{what}: warnings lost: {lost:?}");
    assert_eq!(added.len(), 1, "{what}: added warnings {added:?}");
    added[0].clone()
}

/// The sample's GNU build ID as `readelf -n` printed it.
fn readelf_build_id() -> String {
    let text = std::fs::read_to_string(sample_source("go1.26").join("readelf-exe-n.txt")).unwrap();
    text.lines()
        .find_map(|l| l.split("Build ID: ").nth(1))
        .expect("readelf-exe-n.txt names a GNU build ID")
        .trim()
        .to_string()
}

#[test]
fn symbols_file_gives_the_dwarf_runs_answer() {
    let f = files();
    let e = &f.empty_dir;
    for cmd in ["maps", "heap", "goroutines"] {
        let truth = json(e, &[&cmd, &f.core, &"--exe", &f.exe]);
        // Stripped like `-s -w`: DWARF and symbols both from the file.
        let with = json(
            e,
            &[&cmd, &f.core, &"--exe", &f.stripped, &"--symbols", &f.debug],
        );
        let note = equal_but_one_note(cmd, &truth, &with);
        assert_eq!(
            note,
            format!(
                "DWARF and ELF symbols from {} (the executable's build: GNU build ID {})",
                f.debug.display(),
                readelf_build_id()
            )
        );
        // Without the file the same executable degrades (so the file is
        // what made the difference).
        let without = json(e, &[&cmd, &f.core, &"--exe", &f.stripped]);
        assert!(
            warnings(&without).iter().any(|w| w.contains("no DWARF")),
            "{cmd}: {:?}",
            warnings(&without)
        );
    }
    // `--strip-debug` kept the symbols: DWARF alone from the file.
    let truth = json(e, &[&"maps", &f.core, &"--exe", &f.exe]);
    let with = json(
        e,
        &[
            &"maps",
            &f.core,
            &"--exe",
            &f.no_dwarf,
            &"--symbols",
            &f.debug,
        ],
    );
    let note = equal_but_one_note("maps --strip-debug", &truth, &with);
    assert!(
        note.starts_with(&format!("DWARF from {} (", f.debug.display())),
        "{note}"
    );
    // The unstripped build is a debug file too.
    let with = json(
        e,
        &[
            &"maps",
            &f.core,
            &"--exe",
            &f.stripped,
            &"--symbols",
            &f.exe,
        ],
    );
    equal_but_one_note("maps --symbols EXE", &truth, &with);
    // analyze: the whole report, profile attribution included.
    let truth = json(
        e,
        &[
            &"analyze",
            &f.core,
            &"--exe",
            &f.exe,
            &"--profile",
            &f.profile,
        ],
    );
    let with = json(
        e,
        &[
            &"analyze",
            &f.core,
            &"--exe",
            &f.stripped,
            &"--symbols",
            &f.debug,
            &"--profile",
            &f.profile,
        ],
    );
    equal_but_one_note("analyze", &truth, &with);
}

#[test]
fn build_id_tree_is_searched() {
    let f = files();
    let id = readelf_build_id();
    assert!(id.len() > 2, "{id}");
    let tree = f.dir.join("debug-root");
    let path = tree
        .join(".build-id")
        .join(&id[..2])
        .join(format!("{}.debug", &id[2..]));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::copy(&f.debug, &path).unwrap();
    let truth = json(&f.empty_dir, &[&"maps", &f.core, &"--exe", &f.exe]);
    let found = json(&tree, &[&"maps", &f.core, &"--exe", &f.stripped]);
    let note = equal_but_one_note("maps via the build-ID tree", &truth, &found);
    assert_eq!(
        note,
        format!(
            "DWARF and ELF symbols from {} (the executable's build: GNU build ID {id})",
            path.display()
        )
    );

    // Another build at that path: left out with a note, the answer is the
    // stripped executable's own.
    let other = sample("go1.22");
    let bad_tree = f.dir.join("bad-root");
    let bad = bad_tree
        .join(".build-id")
        .join(&id[..2])
        .join(format!("{}.debug", &id[2..]));
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::copy(&other.exe, &bad).unwrap();
    let plain = json(&f.empty_dir, &[&"maps", &f.core, &"--exe", &f.stripped]);
    let left_out = json(&bad_tree, &[&"maps", &f.core, &"--exe", &f.stripped]);
    let note = equal_but_one_note("maps with another build in the tree", &plain, &left_out);
    assert!(
        note.starts_with(&format!(
            "separate debug file left out: {}: not a debug file of {}: ",
            bad.display(),
            f.stripped.display()
        )),
        "{note}"
    );
}

#[test]
fn debug_file_of_another_build_is_refused() {
    let f = files();
    let other = sample("go1.22");
    for cmd in ["maps", "heap", "analyze"] {
        let r = run(
            &f.empty_dir,
            &[
                &cmd,
                &f.core,
                &"--exe",
                &f.stripped,
                &"--symbols",
                &other.exe,
            ],
        );
        assert_eq!(r.code, 2, "{cmd}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{cmd}");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{cmd}: {}", r.stderr);
        let line = lines[0];
        for file in [&other.exe, &f.stripped] {
            assert!(line.contains(&file.display().to_string()), "{cmd}: {line}");
        }
        assert!(line.contains("not a debug file of"), "{cmd}: {line}");
    }
    // Not an ELF file at all: refused too, naming it.
    let r = run(
        &f.empty_dir,
        &[
            &"maps",
            &f.core,
            &"--exe",
            &f.stripped,
            &"--symbols",
            &f.profile,
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(&f.profile.display().to_string()) && r.stderr.lines().count() == 1,
        "{}",
        r.stderr
    );
}
