//! Errors from lower crates stay typed through the incident layer: a core
//! cut after its notes (no segment bytes) makes `maps` fail with
//! [`IncidentError::Discovery`] whose `source` is gomaps' typed
//! [`DiscoverError`], and the one-line message (`chain_message`, what
//! `batch` records and the CLI prints) is the core's path and the
//! runtime's reason, once.

use mapscope_gomaps::DiscoverError;
use mapscope_goruntime::GoRuntimeError;
use mapscope_incident::reports::maps::maps_report;
use mapscope_incident::IncidentError;
use mapscope_testsupport::sample;

#[test]
fn maps_on_a_core_without_heap_is_a_typed_discovery_error() {
    let s = sample("go1.26");
    let dir = tempfile::tempdir().expect("temp dir");
    let core = dir.path().join("core");
    mapscope_testsupport::write_core_without_segment_data(&s.core, &core);

    let e = maps_report(&core, Some(s.exe.as_path()).into(), None, 100)
        .expect_err("no maps without a heap walk");
    let IncidentError::Discovery { path, source } = &e else {
        panic!("not a discovery error: {e:?}");
    };
    assert_eq!(path, &core);
    let DiscoverError::Heap(GoRuntimeError::Unavailable { what, .. }) = source else {
        panic!("not the heap walk's error: {source:?}");
    };
    assert_eq!(*what, "Go heap walk");
    let msg = e.chain_message();
    let prefix = format!(
        "{}: Go heap walk unavailable: runtime.mheap_ at 0x",
        core.display()
    );
    assert!(
        msg.starts_with(&prefix) && msg.ends_with(": unreadable (sweepgen)"),
        "{msg}"
    );
    assert_eq!(msg.matches("unreadable").count(), 1, "said once: {msg}");
}
