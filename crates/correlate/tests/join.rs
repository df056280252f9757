//! The profile ↔ core join on the shipped samples, checked against the
//! samples' `go tool pprof -top` output (the profile total) and the
//! profile file itself (which samples exist, their `bytes` labels).

use mapscope_correlate::{join_profile, ProfileFile, ProfileSource};
use mapscope_gomaps::discover::discover;
use mapscope_goruntime::GoProcess;
use mapscope_pprof::Profile;

/// The total `go tool pprof -top` printed for the sample (pprof-top.txt).
fn pprof_total(s: &mapscope_testsupport::Sample) -> i64 {
    mapscope_testsupport::pprof_top_total(&s.text("pprof-top.txt")).expect("pprof-top.txt total")
}

#[test]
fn every_sample_joins_its_bucket_by_pc_and_the_total_conserves() {
    for name in ["go1.22", "go1.26"] {
        let s = mapscope_testsupport::sample(name);
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
        let heap = process.heap().expect("heap");
        let discovery = discover(&process).expect("discover");
        let profile = Profile::from_path(&s.profile).expect("profile");
        let joined = join_profile(
            &process,
            heap,
            &discovery,
            Some(ProfileFile {
                path: &s.profile,
                profile: &profile,
            }),
        );
        assert_eq!(joined.source, ProfileSource::File, "{name}");
        // Every sample of the file is one bucket of this process: all of
        // them resolve by address (and `bytes` label), none by line only.
        assert_eq!(joined.matched_by_line, 0, "{name}: {:?}", joined.warnings);
        assert_eq!(
            joined.matched_by_pc,
            profile.samples.len(),
            "{name}: {:?}",
            joined.warnings
        );
        let a = &joined.attribution;
        assert_eq!(a.total, pprof_total(&s), "{name}: total vs go tool pprof");
        assert_eq!(
            a.attributed() + a.non_map + a.unattributed,
            a.total,
            "{name}"
        );
        // The profile was written after the maps were built, and every
        // stack with bytes in use still has its sampled objects in the core.
        assert_eq!(a.unattributed, 0, "{name}: {:?}", a.unattributed_sites);
        assert_eq!(a.per_map.len(), discovery.maps.len(), "{name}");
    }
}
