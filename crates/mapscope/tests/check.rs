//! `mapscope check PROFILE CORE --exe EXE` on the shipped incidents: passes
//! on matching inputs, fails (exit 1) naming the reason when the profile or
//! the executable comes from another build or the core is cut short, and
//! exits 2 on inputs it cannot read.
//!
//! Truth: which files belong together is known from how the samples were
//! made (samples/README.md): go1.22 and go1.26 are different builds;
//! go1.26 and go1.26-gcore share one executable but are different runs.

use mapscope_testsupport::{sample, Sample};
use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;

use mapscope_testsupport::Run;

fn mapscope(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    mapscope_testsupport::run_cli(env!("CARGO_BIN_EXE_mapscope"), args)
}

/// Runs `check` and returns (exit code, name → (status, detail)).
fn check(profile: &Path, core: &Path, exe: &Path) -> (i32, Vec<(String, String, String)>) {
    let r = mapscope(&[
        &"check",
        &profile,
        &core,
        &"--exe",
        &exe,
        &"--format",
        &"json",
    ]);
    assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
    let j: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout));
    let checks = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_string();
            (s("name"), s("status"), s("detail"))
        })
        .collect();
    (r.code, checks)
}

fn status<'a>(checks: &'a [(String, String, String)], name: &str) -> (&'a str, &'a str) {
    let c = checks
        .iter()
        .find(|c| c.0 == name)
        .unwrap_or_else(|| panic!("no check {name}: {checks:?}"));
    (c.1.as_str(), c.2.as_str())
}

const NAMES: [&str; 6] = [
    "profile-build-id",
    "executable-matches-core",
    "sample-addresses",
    "sample-symbols",
    "mapping-ranges",
    "core-complete",
];

#[test]
fn matching_inputs_pass() {
    for name in ["go1.22", "go1.26", "go1.26-gcore"] {
        let s = sample(name);
        let (code, checks) = check(&s.profile, &s.core, &s.exe);
        assert_eq!(code, 0, "{name}: {checks:?}");
        let names: Vec<&str> = checks.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, NAMES);
        for (n, st, detail) in &checks {
            // samples/README.md: GNU build IDs only from Go 1.24 on.
            let want = if name == "go1.22" && n == "profile-build-id" {
                "skip"
            } else {
                "pass"
            };
            assert_eq!(st, want, "{name} {n}: {detail}");
        }
    }
    // The build ID readelf shows for the executable is the one compared.
    let s = sample("go1.26");
    let exe_id = s
        .text("readelf-exe-n.txt")
        .lines()
        .find_map(|l| l.split("Build ID: ").nth(1).map(|id| id.trim().to_string()))
        .unwrap();
    let (_, checks) = check(&s.profile, &s.core, &s.exe);
    assert_eq!(
        status(&checks, "profile-build-id").1,
        format!("both {exe_id}")
    );
}

#[test]
fn profile_from_another_build_fails() {
    let old = sample("go1.22");
    let new = sample("go1.26");
    let (code, checks) = check(&old.profile, &new.core, &new.exe);
    assert_eq!(code, 1);
    let (st, detail) = status(&checks, "sample-symbols");
    assert_eq!(st, "fail");
    assert!(detail.contains("another build"), "{detail}");
    let (st, detail) = status(&checks, "mapping-ranges");
    assert_eq!(st, "fail");
    // The profile names the executable where go1.22 ran (proc-maps.txt).
    let ran = old.text("proc-maps.txt");
    let ran = ran
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().last())
        .expect("proc-maps.txt");
    assert!(detail.contains(ran), "{ran}: {detail}");
    // The executable still matches the core.
    assert_eq!(status(&checks, "executable-matches-core").0, "pass");
}

/// go1.26's profile with its GNU build ID replaced (same length, so the
/// protobuf stays valid), written raw: a profile "of another build".
fn profile_with_build_id(s: &Sample, dir: &Path, new_id: &str) -> std::path::PathBuf {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&s.profile).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let exe_id = s
        .text("readelf-exe-n.txt")
        .lines()
        .find_map(|l| l.split("Build ID: ").nth(1).map(|id| id.trim().to_string()))
        .unwrap();
    assert_eq!(exe_id.len(), new_id.len());
    let at = raw
        .windows(exe_id.len())
        .position(|w| w == exe_id.as_bytes())
        .expect("build id in string table");
    raw[at..at + new_id.len()].copy_from_slice(new_id.as_bytes());
    let path = dir.join("other-build.pb.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&raw).unwrap();
    gz.finish().unwrap();
    path
}

#[test]
fn profile_build_id_mismatch_fails() {
    let s = sample("go1.26");
    let dir = tempfile::tempdir().unwrap();
    let other = profile_with_build_id(&s, dir.path(), "0123456789abcdef0123456789abcdef01234567");
    let (code, checks) = check(&other, &s.core, &s.exe);
    assert_eq!(code, 1);
    let (st, detail) = status(&checks, "profile-build-id");
    assert_eq!(st, "fail");
    assert!(
        detail.contains("0123456789abcdef0123456789abcdef01234567")
            && detail.contains("another build"),
        "{detail}"
    );
}

#[test]
fn executable_from_another_build_fails() {
    let new = sample("go1.26");
    let old = sample("go1.22");
    let (code, checks) = check(&new.profile, &new.core, &old.exe);
    assert_eq!(code, 1);
    let (st, detail) = status(&checks, "executable-matches-core");
    assert_eq!(st, "fail");
    assert!(
        detail.contains("layout") && detail.contains("build id"),
        "{detail}"
    );
    assert_eq!(status(&checks, "sample-symbols").0, "fail");
}

#[test]
fn profile_of_another_run_of_the_same_build() {
    // Same executable, other process: build IDs and symbols agree, the
    // kernel-placed [vdso] moved.
    let kernel = sample("go1.26");
    let gcore = sample("go1.26-gcore");
    let (code, checks) = check(&kernel.profile, &gcore.core, &gcore.exe);
    assert_eq!(code, 1);
    assert_eq!(status(&checks, "profile-build-id").0, "pass");
    assert_eq!(status(&checks, "sample-symbols").0, "pass");
    assert_eq!(status(&checks, "sample-addresses").0, "pass");
    let (st, detail) = status(&checks, "mapping-ranges");
    assert_eq!(st, "fail");
    assert!(
        detail.contains("[vdso]") && detail.contains("another process"),
        "{detail}"
    );
}

#[test]
fn truncated_core_fails_core_complete() {
    let s = sample("go1.26");
    let bytes = std::fs::read(&s.core).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("core-cut");
    std::fs::write(&path, &bytes[..bytes.len() - 5000]).unwrap();
    let (code, checks) = check(&s.profile, &path, &s.exe);
    assert_eq!(code, 1);
    let (st, detail) = status(&checks, "core-complete");
    assert_eq!(st, "fail");
    assert!(
        detail.contains("truncated") && detail.contains("5000 bytes missing"),
        "{detail}"
    );
}

#[test]
fn unreadable_inputs_exit_2() {
    let s = sample("go1.26");
    let cases = [
        (&s.core, &s.core, &s.exe, "core"), // a core given as the profile
        (&s.profile, &s.exe, &s.exe, "not a core dump"), // an executable as the core
        (&s.profile, &s.core, &s.core, "not an executable"), // a core as the executable
    ];
    for (profile, core, exe, needle) in cases {
        let r = mapscope(&[&"check", profile, core, &"--exe", exe]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains(needle), "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
}
