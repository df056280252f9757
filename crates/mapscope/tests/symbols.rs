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
    mapscope_testsupport::run_cli_env(BIN, args, &[("MAPSCOPE_DEBUG_DIR", debug_dir.as_os_str())])
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

/// Copies `file` to gdb's place for GNU build ID `id` under `root`
/// (`.build-id/xx/yyyy.debug`), and returns that path.
fn put_in_build_id_tree(
    root: &std::path::Path,
    id: &str,
    file: &std::path::Path,
) -> std::path::PathBuf {
    let path = root
        .join(".build-id")
        .join(&id[..2])
        .join(format!("{}.debug", &id[2..]));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::copy(file, &path).unwrap();
    path
}

#[test]
fn build_id_tree_is_searched() {
    let f = files();
    let id = readelf_build_id();
    assert!(id.len() > 2, "{id}");
    let tree = f.dir.join("debug-root");
    let path = put_in_build_id_tree(&tree, &id, &f.debug);
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
    let bad = put_in_build_id_tree(&bad_tree, &id, &other.exe);
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

/// `objcopy --strip-all --add-gnu-debuglink`: the executable names its
/// debug file and the file's CRC-32; it is found beside the executable
/// and in its `.debug/` directory (gdb's places), and a file of that name
/// with another CRC is left out with a note.
#[test]
fn gnu_debuglink_is_followed() {
    let f = files();
    let truth = json(&f.empty_dir, &[&"maps", &f.core, &"--exe", &f.exe]);
    // Beside the executable (the debug file's own directory).
    let beside = f.dir.join("mapzoo.linked");
    objcopy(&[
        &"--strip-all",
        &format!("--add-gnu-debuglink={}", f.debug.display()),
        &f.exe,
        &beside,
    ]);
    let found = json(&f.empty_dir, &[&"maps", &f.core, &"--exe", &beside]);
    let note = equal_but_one_note("maps via .gnu_debuglink", &truth, &found);
    assert_eq!(
        note,
        format!(
            "DWARF and ELF symbols from {} (the executable's build: GNU build ID {})",
            f.debug.canonicalize().unwrap().display(),
            readelf_build_id()
        )
    );
    // In `.debug/` beside the executable.
    let sub = f.dir.join("linked-sub");
    std::fs::create_dir_all(sub.join(".debug")).unwrap();
    std::fs::copy(&beside, sub.join("mapzoo.linked")).unwrap();
    std::fs::copy(&f.debug, sub.join(".debug").join("mapzoo.debug")).unwrap();
    let found = json(
        &f.empty_dir,
        &[&"maps", &f.core, &"--exe", &sub.join("mapzoo.linked")],
    );
    let note = equal_but_one_note("maps via .debug/", &truth, &found);
    assert!(note.contains("/linked-sub/.debug/mapzoo.debug"), "{note}");
    // Another file under that name: its CRC differs, left out.
    let bad = f.dir.join("linked-bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(&beside, bad.join("mapzoo.linked")).unwrap();
    std::fs::copy(&sample("go1.22").exe, bad.join("mapzoo.debug")).unwrap();
    let plain = json(&f.empty_dir, &[&"maps", &f.core, &"--exe", &f.stripped]);
    let left_out = json(
        &f.empty_dir,
        &[&"maps", &f.core, &"--exe", &bad.join("mapzoo.linked")],
    );
    let note = equal_but_one_note("maps with another file linked", &plain, &left_out);
    assert!(
        note.starts_with("separate debug file left out: ")
            && note.contains("its CRC-32 is 0x")
            && note.contains("the executable's .gnu_debuglink says 0x"),
        "{note}"
    );
}

/// `check` on a stripped executable: the pclntab names the sample
/// locations' functions (a `-s` build has no ELF symbols), and gives the
/// same verdict over the same locations as the ELF symbols of the
/// unstripped build; `--symbols` uses the debug file's symbols; a profile
/// of another build still fails.
#[test]
fn check_names_functions_of_stripped_executables() {
    let f = files();
    let e = &f.empty_dir;
    let sample_symbols = |args: &[&dyn AsRef<std::ffi::OsStr>]| -> (String, String) {
        let mut a = vec![&"check" as &dyn AsRef<std::ffi::OsStr>];
        a.extend_from_slice(args);
        a.extend([&"--format" as &dyn AsRef<std::ffi::OsStr>, &"json"]);
        let r = run(e, &a);
        let v: Value = serde_json::from_str(&r.stdout).expect("check JSON");
        let c = v["checks"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == "sample-symbols"))
            .cloned()
            .expect("sample-symbols check");
        (
            c["status"].as_str().unwrap_or("").to_string(),
            c["detail"].as_str().unwrap_or("").to_string(),
        )
    };
    let count = |detail: &str| -> String {
        detail
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    let (status, truth) = sample_symbols(&[&f.profile, &f.core, &"--exe", &f.exe]);
    assert_eq!(status, "pass", "{truth}");
    assert!(truth.ends_with("match the executable's symbols"), "{truth}");
    let (status, detail) = sample_symbols(&[&f.profile, &f.core, &"--exe", &f.stripped]);
    assert_eq!(status, "pass", "{detail}");
    assert!(
        detail.ends_with("match the executable's pclntab (it has no symbol table)"),
        "{detail}"
    );
    assert_eq!(count(&detail), count(&truth), "{detail} vs {truth}");
    let (status, detail) = sample_symbols(&[
        &f.profile,
        &f.core,
        &"--exe",
        &f.stripped,
        &"--symbols",
        &f.debug,
    ]);
    assert_eq!(status, "pass", "{detail}");
    assert_eq!(
        detail,
        format!(
            "all {} located functions match the symbols of {}",
            count(&truth),
            f.debug.display()
        )
    );
    // The go1.22 sample's profile names functions of another build.
    let other = sample("go1.22");
    let (status, detail) = sample_symbols(&[&other.profile, &f.core, &"--exe", &f.stripped]);
    assert_eq!(status, "fail", "{detail}");
    assert!(detail.contains("the executable's pclntab"), "{detail}");
}
