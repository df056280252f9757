//! The retained-size pprof profile (`analyze --retained-profile`) of the
//! shipped samples, written with mapscope-pprof's encoder and read back
//! with its decoder, against the sample program's truth.json: the samples
//! sum to the heap in use, within 1% of the program's `HeapAlloc`
//! (`runtime.ReadMemStats`) and their objects within 1% of `HeapObjects`;
//! every truth map's retained bytes (the `HeapAlloc` delta the program
//! measured around building it) is the value at that map's path (the cum
//! of its path frame) within 5%. And `go tool pprof -top` reads the file
//! and agrees on the total (ignored without `MAPSCOPE_GO`).

use mapscope_incident::retained_profile::{OTHER_OBJECTS_FRAME, RETAINED_SPACE};
use mapscope_incident::{analyze, AnalyzeInputs};
use mapscope_pprof::Profile;
use mapscope_testsupport::sample;
use std::path::Path;

/// The retained profile of a sample as written to disk, decoded again,
/// with the heap in use the report gives.
fn written_profile(name: &str, dir: &Path) -> (Profile, u64, std::path::PathBuf) {
    let s = sample(name);
    let report = analyze(&AnalyzeInputs {
        core: s.core.clone(),
        exe: Some(s.exe.clone()),
        retained_profile: true,
        ..Default::default()
    })
    .expect("analyze");
    let profile = report.retained_profile.expect("retained profile asked for");
    let path = dir.join(format!("{name}-retained.pb.gz"));
    std::fs::write(
        &path,
        mapscope_pprof::encode_gzip(&profile).expect("encode"),
    )
    .expect("write");
    let back = Profile::from_path(&path).expect("decode the written profile");
    (back, report.heap_in_use_bytes, path)
}

/// Function names of a sample's stack, leaf first.
fn stack<'a>(p: &'a Profile, s: &'a mapscope_pprof::Sample) -> Vec<&'a str> {
    p.stack(s)
        .filter_map(|l| l.lines.first())
        .filter_map(|line| p.function(line))
        .map(|f| f.name.as_str())
        .collect()
}

#[test]
fn retained_profile_matches_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["go1.22", "go1.26"] {
        let truth = sample(name).truth();
        let (p, heap, _) = written_profile(name, dir.path());
        let types: Vec<(&str, &str)> = p
            .sample_types
            .iter()
            .map(|t| (t.r#type.as_str(), t.unit.as_str()))
            .collect();
        assert_eq!(
            types,
            [("retained_objects", "count"), ("retained_space", "bytes")]
        );
        assert_eq!(p.default_sample_type.as_deref(), Some(RETAINED_SPACE));
        let space = p.sample_index(None).expect("default index");
        assert_eq!(space, 1);
        // Every object once: the samples sum to the heap in use, which is
        // the program's HeapAlloc within 1%.
        let total: i64 = p.samples.iter().map(|s| s.values[1]).sum();
        assert_eq!(total as u64, heap, "{name}");
        let heap_alloc = truth["memstats"]["HeapAlloc"].as_f64().unwrap();
        assert!(
            (total as f64 - heap_alloc).abs() <= 0.01 * heap_alloc,
            "{name}: total {total} vs HeapAlloc {heap_alloc}"
        );
        let objects: i64 = p.samples.iter().map(|s| s.values[0]).sum();
        let heap_objects = truth["memstats"]["HeapObjects"].as_f64().unwrap();
        assert!(
            (objects as f64 - heap_objects).abs() <= 0.01 * heap_objects,
            "{name}: objects {objects} vs HeapObjects {heap_objects}"
        );
        assert!(p.samples.iter().all(|s| s.values.iter().all(|&v| v >= 0)));
        // Each truth map: the value under its path frame.
        let mut checked = 0;
        for t in truth["maps"].as_array().expect("maps") {
            let root = t["root"].as_str().unwrap();
            let want = t["retained_bytes"].as_f64().unwrap();
            let at_path: i64 = p
                .samples
                .iter()
                .filter(|s| {
                    let st = stack(&p, s);
                    st.first() != Some(&OTHER_OBJECTS_FRAME)
                        && st.iter().skip(1).any(|f| *f == root)
                })
                .map(|s| s.values[1])
                .sum();
            eprintln!("{name}: {root}: {at_path} at its path, truth {want}");
            assert!(
                (at_path as f64 - want).abs() <= 0.05 * want,
                "{name}: {root}: {at_path} at its path vs truth {want}"
            );
            // The leaf under a map's path is its type (a family's own
            // storage may be nothing: an array inside a struct).
            if t["kind"] == "map-family" {
                checked += 1;
                continue;
            }
            let leaf_is_type = p.samples.iter().any(|s| {
                let st = stack(&p, s);
                st.len() >= 2 && st[1] == root && st[0] == t["type"].as_str().unwrap()
            });
            assert!(leaf_is_type, "{name}: {root}: no [type, path] stack");
            checked += 1;
        }
        assert!(checked >= 10, "{name}: {checked} maps checked");
    }
}

/// `go tool pprof` reads the written file: its `-top` total is the heap in
/// use. CI runs it with `MAPSCOPE_GO` set to a `go` binary.
#[test]
#[ignore = "needs go tool pprof (MAPSCOPE_GO)"]
fn go_tool_pprof_reads_retained_profile() {
    let go = std::env::var_os("MAPSCOPE_GO").expect("MAPSCOPE_GO: path of a go binary");
    let dir = tempfile::tempdir().expect("tempdir");
    let (p, heap, path) = written_profile("go1.26", dir.path());
    let out = std::process::Command::new(&go)
        .args([
            "tool",
            "pprof",
            "-top",
            "-unit=B",
            "-sample_index=retained_space",
        ])
        .arg(&path)
        .env("PPROF_TMPDIR", dir.path())
        .output()
        .expect("run go tool pprof");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "go tool pprof failed: {stderr}");
    let total = mapscope_testsupport::pprof_top_total(&stdout)
        .unwrap_or_else(|| panic!("no total in:\n{stdout}\n{stderr}"));
    assert_eq!(total as u64, heap, "{stdout}");
    assert!(stdout.contains("Type: retained_space"), "{stdout}");
    // The largest retention path's frames are listed.
    let largest = p.samples.iter().max_by_key(|s| s.values[1]).unwrap();
    let leaf = stack(&p, largest)[0];
    assert!(stdout.contains(leaf), "{leaf} not in:\n{stdout}");
    // The objects too.
    let out = std::process::Command::new(&go)
        .args(["tool", "pprof", "-top", "-sample_index=retained_objects"])
        .arg(&path)
        .env("PPROF_TMPDIR", dir.path())
        .output()
        .expect("run go tool pprof");
    assert!(out.status.success());
    let objects: i64 = p.samples.iter().map(|s| s.values[0]).sum();
    let text = String::from_utf8_lossy(&out.stdout);
    let total_line = text
        .lines()
        .find(|l| l.starts_with("Showing nodes accounting for "))
        .expect("total line");
    assert!(
        total_line.ends_with(&format!(" of {objects} total")),
        "{total_line} vs {objects}"
    );
}
