//! `mapscope analyze --retained-profile FILE` writes a gzipped pprof
//! profile: read back with mapscope-pprof, its `retained_space` samples sum
//! to the program's `HeapAlloc` (truth.json memstats) within 1%, and the
//! largest map of the sample program (truth.json) is at its path within 5%
//! of the `HeapAlloc` delta the program measured for it. The values
//! themselves are checked map by map in
//! `crates/incident/tests/retained_profile.rs`.

use mapscope_pprof::Profile;

#[test]
fn analyze_writes_a_readable_retained_profile() {
    let s = mapscope_testsupport::sample("go1.26");
    let truth = s.truth();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("retained.pb.gz");
    let out = mapscope_testsupport::run_cli(
        env!("CARGO_BIN_EXE_mapscope"),
        &[
            &"analyze",
            &s.core,
            &"--exe",
            &s.exe,
            &"--retained-profile",
            &file,
            &"--format",
            &"json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bytes = std::fs::read(&file).expect("profile written");
    assert_eq!(bytes.get(..2), Some(&[0x1f, 0x8b][..]), "gzipped");
    let p = Profile::from_bytes(&bytes, &file).expect("decodes");
    let i = p.sample_index(None).expect("default sample type");
    assert_eq!(p.sample_types[i].r#type, "retained_space");
    let total: i64 = p.samples.iter().map(|x| x.values[i]).sum();
    let heap_alloc = truth["memstats"]["HeapAlloc"].as_f64().unwrap();
    assert!(
        (total as f64 - heap_alloc).abs() <= 0.01 * heap_alloc,
        "total {total} vs HeapAlloc {heap_alloc}"
    );
    let (root, want) = mapscope_testsupport::truth_top_map(&s);
    let (root, want) = (root.as_str(), want as f64);
    let at_path: i64 = p
        .samples
        .iter()
        .filter(|x| {
            p.stack(x)
                .skip(1)
                .filter_map(|l| l.lines.first())
                .filter_map(|line| p.function(line))
                .any(|f| f.name == root)
        })
        .map(|x| x.values[i])
        .sum();
    assert!(
        (at_path as f64 - want).abs() <= 0.05 * want,
        "{root}: {at_path} vs truth {want}"
    );
}
