//! `mapscope batch` over a directory of incidents built from the shipped
//! samples: go1.22 (plain core), go1.26 (core kept `.zst`), a nested go1.26
//! incident holding two executables (the core's must be picked), a
//! truncated core (reported `partial`), a core without executable and a
//! folder of notes.
//! Checked against independent truth: each sample's truth.json (the
//! largest map's root and retained bytes) and build.txt (`go version -m`).

use mapscope_testsupport::{link, run_cli, sample, truth_top_map, Sample};
use serde_json::Value;

/// `go1.22.10` from build.txt's `/path/mapzoo: go1.22.10` line.
fn truth_version(s: &Sample) -> String {
    let text = s.text("build.txt");
    let line = text
        .lines()
        .find(|l| l.contains("mapzoo: go"))
        .expect("build.txt names the version");
    line.rsplit(' ').next().unwrap().trim().to_string()
}

fn within_5pct(got: u64, want: u64) -> bool {
    got.abs_diff(want) as f64 <= want as f64 * 0.05
}

#[test]
fn batch_reports_every_incident_and_fails_only_the_broken_ones() {
    let old = sample("go1.22");
    let new = sample("go1.26");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("incidents");
    // Plain core.
    let d = root.join("svc-a-go122");
    link(&old.core, &d, "core");
    link(&old.exe, &d, "mapzoo");
    link(&old.profile, &d, "heap.pb.gz");
    // Core and executable kept compressed.
    let d = root.join("svc-b-go126");
    link(&new.source.join("core.zst"), &d, "core.zst");
    link(&new.source.join("mapzoo.zst"), &d, "mapzoo.zst");
    link(&new.profile, &d, "heap.pb.gz");
    // Nested, with another build's executable beside the right one (and
    // sorting first: the core must pick it by build ID / NT_FILE path).
    let d = root.join("team").join("night").join("svc-c-go126");
    link(&new.core, &d, "core.4242");
    link(&old.exe, &d, "a-previous-deploy");
    link(&new.exe, &d, "mapzoo");
    // A truncated core.
    let d = root.join("truncated");
    let core = std::fs::read(&new.core).unwrap();
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("core"), &core[..core.len() / 3]).unwrap();
    link(&new.exe, &d, "mapzoo");
    // A core without its executable.
    link(&old.core, &root.join("no-exe"), "core");
    // Not an incident.
    std::fs::create_dir_all(root.join("notes")).unwrap();
    std::fs::write(root.join("notes").join("README.txt"), "postmortem notes\n").unwrap();

    let out = tmp.path().join("out");
    let r = run_cli(
        env!("CARGO_BIN_EXE_mapscope"),
        &[
            &"batch",
            &root,
            &"-o",
            &out,
            &"--jobs",
            &"2",
            &"--format",
            &"json",
        ],
    );
    assert_eq!(r.code, 1, "some incidents failed: {}", r.stderr);
    assert!(
        r.stderr.is_empty(),
        "no progress when not a terminal: {}",
        r.stderr
    );
    let summary: Value = serde_json::from_str(&r.stdout).expect("json summary");
    let rows = summary["incidents"].as_array().unwrap();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {rows:?}"))
    };
    assert_eq!(rows.len(), 6, "{rows:?}");
    for key in [
        "path",
        "status",
        "error",
        "go_version",
        "top_map",
        "top_map_retained_bytes",
    ] {
        assert!(rows.iter().all(|r| r.get(key).is_some()), "{key}");
    }

    for (name, s) in [
        ("svc-a-go122", &old),
        ("svc-b-go126", &new),
        ("team/night/svc-c-go126", &new),
    ] {
        let r = row(name);
        assert_eq!(r["status"], "ok", "{name}: {r}");
        assert!(r["error"].is_null(), "{name}");
        assert_eq!(r["go_version"], truth_version(s).as_str(), "{name}");
        let (root_name, retained) = truth_top_map(s);
        assert_eq!(r["top_map"], root_name.as_str(), "{name}");
        let got = r["top_map_retained_bytes"].as_u64().unwrap();
        assert!(
            within_5pct(got, retained),
            "{name}: {got} vs truth {retained}"
        );

        // Its reports, complete and renamed into place.
        let dir = out.join(name);
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap())
                .unwrap();
        assert_eq!(report["go_version"], truth_version(s).as_str());
        let top = report["maps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["root"] == root_name.as_str())
            .unwrap_or_else(|| panic!("{name}: {root_name} not in report.json"));
        assert!(within_5pct(
            top["retained_bytes"].as_u64().unwrap(),
            retained
        ));
        assert_eq!(
            report["profile"]["source"],
            if name.contains("svc-c") {
                "core"
            } else {
                "file"
            }
        );
        let md = std::fs::read_to_string(dir.join("REPORT.md")).unwrap();
        assert!(
            md.contains(&root_name),
            "{name}: REPORT.md lacks {root_name}"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "REPORT.md" && n != "report.json")
            .collect();
        assert!(leftovers.is_empty(), "{name}: {leftovers:?}");
    }

    // Cut to a third: the heap arenas and globals survive, so it is
    // answered from what the core holds (tests/partial.rs checks what).
    let truncated = row("truncated");
    assert_eq!(truncated["status"], "partial", "{truncated}");
    assert!(truncated["error"].is_null());
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("truncated").join("report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["coverage"]["complete"], false);

    let no_exe = row("no-exe");
    assert_eq!(no_exe["status"], "failed");
    let why = no_exe["error"].as_str().unwrap();
    assert!(
        why.contains("no Go executable") && why.contains("no-exe"),
        "{why}"
    );

    let notes = row("notes");
    assert_eq!(notes["status"], "skipped");
    assert!(notes["error"].as_str().unwrap().contains("no core"));

    // The same summary is kept beside the reports.
    let kept: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(kept["incidents"], summary["incidents"]);
}

#[test]
fn unreadable_dir_exits_2_and_empty_dir_exits_0() {
    let r = run_cli(
        env!("CARGO_BIN_EXE_mapscope"),
        &[&"batch", &"/nonexistent/incidents", &"--quiet"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("/nonexistent/incidents"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let r = run_cli(
        env!("CARGO_BIN_EXE_mapscope"),
        &[&"batch", &tmp.path(), &"-o", &out, &"--format", &"json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["incidents"].as_array().unwrap().len(), 0);
}
