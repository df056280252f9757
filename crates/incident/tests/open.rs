//! One executable policy and one discovery for every command
//! (`mapscope_incident::open`, `discover_incident` / `find_incidents`), and
//! the choice among several profiles, on directories built from the
//! shipped samples. Truth: the samples' `readelf-exe-n.txt` (build IDs),
//! `sha256.txt`/`build.txt` (which samples share one executable) and
//! `smaps.txt` (what was resident).

use mapscope_elfcore::RegionKind;
use mapscope_incident::{
    choose_profile, discover_incident, find_incidents, open, Candidate, ExeChoice, IncidentError,
};
use mapscope_testsupport::{link, sample, smaps_anon_rss, Sample};
use std::path::Path;

/// The GNU build ID `readelf -n` printed for the sample's executable.
fn gnu_build_id(s: &Sample) -> String {
    s.text("readelf-exe-n.txt")
        .lines()
        .find_map(|l| {
            l.split_once("Build ID:")
                .map(|(_, id)| id.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no GNU build ID in {}/readelf-exe-n.txt", s.name))
}

#[test]
fn an_executable_of_another_build_is_refused_naming_both_files() {
    let new = sample("go1.26");
    let old = sample("go1.22");
    let sha = |s: &Sample| {
        s.text("sha256.txt")
            .lines()
            .find(|l| l.ends_with(" mapzoo") && l.len() > 64)
            .map(|l| l[..64].to_string())
            .unwrap()
    };
    assert_ne!(sha(&new), sha(&old), "precondition: two builds");
    let e = open(&new.core, ExeChoice::Given(&old.exe))
        .err()
        .expect("another build's executable must be refused");
    assert!(
        matches!(e, IncidentError::ExecutableMismatch { .. }),
        "{e:?}"
    );
    let msg = e.chain_message();
    assert!(!msg.contains('\n'), "{msg}");
    for needle in [
        old.exe.display().to_string(),
        new.core.display().to_string(),
        "build id".to_string(),
    ] {
        assert!(msg.contains(&needle), "{needle} not in: {msg}");
    }
    // The matching one opens, and its Go view comes up.
    let opened = open(&new.core, ExeChoice::Given(&new.exe)).unwrap();
    assert!(opened.memory.executable().is_some());
    opened.into_go().unwrap();
}

#[test]
fn the_same_directory_is_the_same_incident_for_analyze_and_batch() {
    // Everything kept compressed, as shipped: core.zst and mapzoo.zst.
    let s = sample("go1.26");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("zst-only");
    link(&s.source.join("core.zst"), &d, "core.zst");
    link(&s.source.join("mapzoo.zst"), &d, "mapzoo.zst");
    link(&s.profile, &d, "heap.pb.gz");
    let one = discover_incident(&d).unwrap();
    let found = find_incidents(tmp.path()).unwrap();
    let [Candidate::Incident(batch)] = found.as_slice() else {
        panic!("batch sees {found:?}");
    };
    assert_eq!(format!("{one:?}"), format!("{batch:?}"));
    assert_eq!(one.exe.as_deref(), Some(d.join("mapzoo.zst").as_path()));
    assert_eq!(one.profiles, vec![d.join("heap.pb.gz")]);

    // Without an executable in the directory it is still an incident for
    // both (the analysis falls back to the core's NT_FILE path, which does
    // not exist here, and fails naming it).
    std::fs::remove_file(d.join("mapzoo.zst")).unwrap();
    let one = discover_incident(&d).unwrap();
    let found = find_incidents(tmp.path()).unwrap();
    let [Candidate::Incident(batch)] = found.as_slice() else {
        panic!("batch sees {found:?}");
    };
    assert_eq!(format!("{one:?}"), format!("{batch:?}"));
    assert_eq!(one.exe, None);
    let truth = s.truth();
    let ran = truth["executable"].as_str().unwrap();
    if !Path::new(ran).exists() {
        let e = open(&one.core, ExeChoice::Discover)
            .unwrap()
            .into_go()
            .err()
            .unwrap();
        let msg = e.to_string();
        assert!(
            msg.contains("no Go executable") && msg.contains(ran),
            "{msg}"
        );
    }
}

#[test]
fn of_several_profiles_the_one_with_the_executables_build_id_is_chosen() {
    let new = sample("go1.26");
    let old = sample("go1.22");
    let gcore = sample("go1.26-gcore");
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    link(&new.source.join("core.zst"), d, "core.zst");
    link(&new.exe, d, "mapzoo");
    link(&old.profile, d, "heap-a.pb.gz");
    link(&new.profile, d, "heap-b.pb.gz");
    let inc = discover_incident(d).unwrap();
    assert_eq!(inc.profiles.len(), 2);
    let exe = mapscope_elfcore::Executable::open(&new.exe).unwrap();
    // Truth: readelf's build ID of the executable.
    assert_eq!(exe.gnu_build_id_hex().unwrap(), gnu_build_id(&new));
    let chosen = choose_profile(d, &inc.profiles, Some(&exe)).unwrap();
    assert_eq!(chosen, Some(d.join("heap-b.pb.gz")));

    // go1.26-gcore ran the same build (same build ID per readelf): two
    // profiles match, and the choice is refused, listing them.
    assert_eq!(gnu_build_id(&gcore), gnu_build_id(&new), "precondition");
    link(&gcore.profile, d, "heap-c.pb.gz");
    let inc = discover_incident(d).unwrap();
    let e = choose_profile(d, &inc.profiles, Some(&exe)).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, IncidentError::SeveralProfiles { .. })
            && ["heap-a.pb.gz", "heap-b.pb.gz", "heap-c.pb.gz", "--profile"]
                .iter()
                .all(|n| msg.contains(n)),
        "{msg}"
    );
    // And the analysis refuses the same way, before any work.
    let e = mapscope_incident::analyze(&inc.into()).err().unwrap();
    assert!(matches!(e, IncidentError::SeveralProfiles { .. }), "{e:?}");
}

/// gdb's gcore writes every reserved (`---p`) range of a Go process as
/// zeros: 1.2 GB for this sample. What the core says was resident must
/// agree with what `/proc/PID/smaps` said (its Rss lines) instead.
#[test]
fn rss_of_a_gcore_core_is_what_smaps_said_was_resident() {
    for name in ["go1.26-gcore", "go1.26", "go1.22"] {
        let s = sample(name);
        let truth = smaps_anon_rss(&s.text("smaps.txt"));
        assert!(truth > 1 << 20, "{name}: smaps anon Rss {truth}");
        let opened = open(&s.core, ExeChoice::Given(&s.exe)).unwrap();
        let core = opened.memory.core();
        let anon: Vec<_> = core
            .regions()
            .into_iter()
            .filter(|r| {
                !matches!(
                    r.kind,
                    RegionKind::File | RegionKind::Vdso | RegionKind::Vvar | RegionKind::Vsyscall
                )
            })
            .collect();
        let present: u64 = anon.iter().map(|r| r.present_bytes).sum();
        let estimate: u64 = anon.iter().map(|r| core.nonzero_bytes(r)).sum();
        eprintln!("{name}: smaps anon Rss {truth}, core present {present}, non-zero {estimate}");
        // A lower bound (resident pages of zeros are missed) within 10%.
        assert!(
            estimate <= truth && estimate * 10 >= truth * 9,
            "{name}: estimate {estimate} vs smaps {truth}"
        );
        if name.ends_with("gcore") {
            // The count this replaces: present bytes, 100x too many.
            assert!(present > truth * 100, "{name}: present {present}");
        }
    }
}
