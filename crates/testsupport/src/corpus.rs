//! The generated-incident corpus (`scripts/gen-corpus.sh OUT`), read by the
//! `#[ignore = "needs the corpus …"]` truth tests.
//!
//! Owns: where the corpus is (`$MAPSCOPE_CORPUS`, no default), which
//! incident directories a kind holds (`$MAPSCOPE_CORPUS/<kind>/<incident>`),
//! and the coverage check: a test must have checked at least one incident,
//! and with `MAPSCOPE_CORPUS_EXPECT=all` (CI) every name the generator wrote
//! to `<kind>/expected.txt` (Go 1.21–1.27 and the variants).
//!
//! Missing data is a test failure (a panic naming the command that makes
//! it), never a silent pass: these tests only run with `--ignored`, which
//! says the caller wants them to test.
//!
//! Must not touch: anything mapscope computes; the incidents are read by the
//! tests themselves.

use std::fs;
use std::path::PathBuf;

/// Names the corpus directory.
pub const ENV: &str = "MAPSCOPE_CORPUS";
/// `all`: every incident of `<kind>/expected.txt` must have been checked.
pub const EXPECT_ENV: &str = "MAPSCOPE_CORPUS_EXPECT";

const HOW: &str = "make it with `scripts/gen-corpus.sh DIR` and set MAPSCOPE_CORPUS=DIR";

/// `$MAPSCOPE_CORPUS`; panics when unset or not a directory.
pub fn root() -> PathBuf {
    let Some(dir) = std::env::var_os(ENV) else {
        panic!("{ENV} is not set: this test reads the generated incident corpus; {HOW}");
    };
    let dir = PathBuf::from(dir);
    assert!(
        dir.is_dir(),
        "{ENV}={}: not a directory; {HOW}",
        dir.display()
    );
    dir
}

/// `$MAPSCOPE_CORPUS/<kind>`; panics when missing.
pub fn kind_dir(kind: &str) -> PathBuf {
    let dir = root().join(kind);
    assert!(
        dir.is_dir(),
        "{}: the corpus has no kind {kind}; {HOW}",
        dir.display()
    );
    dir
}

/// `$MAPSCOPE_CORPUS/<kind>/<name>`; panics when it holds no core.
pub fn incident(kind: &str, name: &str) -> PathBuf {
    let dir = kind_dir(kind).join(name);
    assert!(
        dir.join("core").is_file(),
        "{}: no incident (core) there; {HOW}",
        dir.display()
    );
    dir
}

/// Every incident directory of `kind` (a subdirectory holding `core`),
/// sorted by name; panics when there is none.
pub fn incidents(kind: &str) -> Vec<PathBuf> {
    let dir = kind_dir(kind);
    let mut dirs: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("core").is_file())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "{}: no incident; {HOW}", dir.display());
    dirs
}

/// The incident names the generator made for `kind` (`expected.txt`).
pub fn expected(kind: &str) -> Vec<String> {
    let file = kind_dir(kind).join("expected.txt");
    fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}; {HOW}", file.display()))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The file name of an incident directory (`go1.26-arm64`).
pub fn name(dir: &std::path::Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Asserts that a test checked at least one incident of `kind` and, with
/// `MAPSCOPE_CORPUS_EXPECT=all`, every incident of `<kind>/expected.txt`
/// except those in `not_applicable` (incidents the test cannot check by
/// design, e.g. a gcore has no crash traceback). `checked` holds incident
/// names (directory names). Prints what was checked.
pub fn assert_checked(kind: &str, checked: &[String], not_applicable: &[&str]) {
    eprintln!(
        "corpus {kind}: checked {} incident(s): {}",
        checked.len(),
        checked.join(" ")
    );
    assert!(
        !checked.is_empty(),
        "corpus {kind}: no incident was checked"
    );
    if std::env::var(EXPECT_ENV).as_deref() == Ok("all") {
        let missing: Vec<String> = expected(kind)
            .into_iter()
            .filter(|n| !checked.contains(n) && !not_applicable.contains(&n.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "corpus {kind}: {EXPECT_ENV}=all but these expected incidents were not checked: {missing:?}"
        );
    }
}
