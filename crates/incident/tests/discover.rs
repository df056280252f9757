//! Incident discovery on directories built from the shipped samples.

use mapscope_incident::discover::estimated_core_bytes;
use mapscope_incident::{discover_incident, find_incidents, Candidate, IncidentError};
use mapscope_testsupport::{link, sample};

#[test]
fn compressed_core_size_is_read_from_the_zstd_header() {
    let s = sample("go1.26");
    let real = std::fs::metadata(&s.core).unwrap().len();
    assert_eq!(estimated_core_bytes(&s.source.join("core.zst")), real);
    assert_eq!(estimated_core_bytes(&s.core), real);
}

#[test]
fn incident_files_are_found_and_the_cores_executable_is_picked() {
    let old = sample("go1.22");
    let new = sample("go1.26");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("inc");
    link(&new.source.join("core.zst"), &d, "core.zst");
    link(&old.exe, &d, "a-other-build");
    link(&new.exe, &d, "mapzoo");
    link(&new.profile, &d, "heap.pb.gz");
    link(&new.source.join("smaps.txt"), &d, "smaps.txt");
    link(&new.source.join("truth.json"), &d, "truth.json");
    std::fs::write(d.join("memory.stat"), "anon 1\nfile 2\n").unwrap();
    let inc = discover_incident(&d).unwrap();
    assert_eq!(inc.core, d.join("core.zst"));
    assert_eq!(inc.exe.as_deref(), Some(d.join("mapzoo").as_path()));
    assert_eq!(inc.profiles, vec![d.join("heap.pb.gz")]);
    assert_eq!(inc.smaps.as_deref(), Some(d.join("smaps.txt").as_path()));
    assert_eq!(
        inc.memory_stat.as_deref(),
        Some(d.join("memory.stat").as_path())
    );

    // A tree: the incident, a core without executable (still an incident:
    // its analysis falls back to the core's NT_FILE path, as `analyze DIR`
    // does), notes, a container.
    link(
        &old.core,
        &tmp.path().join("deep").join("x").join("noexe"),
        "core",
    );
    std::fs::create_dir_all(tmp.path().join("notes")).unwrap();
    std::fs::write(tmp.path().join("notes").join("a.txt"), "x").unwrap();
    let found = find_incidents(tmp.path()).unwrap();
    let kinds: Vec<(String, &str)> = found
        .iter()
        .map(|c| {
            let rel = c
                .dir()
                .strip_prefix(tmp.path())
                .unwrap()
                .display()
                .to_string();
            let kind = match c {
                Candidate::Incident(i) if i.exe.is_none() => "no-exe",
                Candidate::Incident(_) => "incident",
                Candidate::Broken { .. } => "broken",
                Candidate::Skipped { .. } => "skipped",
            };
            (rel, kind)
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("deep/x/noexe".to_string(), "no-exe"),
            ("inc".to_string(), "incident"),
            ("notes".to_string(), "skipped"),
        ]
    );
    assert!(find_incidents(&tmp.path().join("missing")).is_err());
}

#[test]
fn no_core_and_several_cores_are_errors_naming_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let e = discover_incident(tmp.path()).unwrap_err();
    assert!(
        e.to_string().contains(&tmp.path().display().to_string()),
        "{e}"
    );
    std::fs::write(tmp.path().join("core.1"), "x").unwrap();
    std::fs::write(tmp.path().join("core.2"), "x").unwrap();
    let e = discover_incident(tmp.path()).unwrap_err();
    assert!(matches!(e, IncidentError::SeveralCores { .. }), "{e}");
}
