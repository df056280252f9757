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
    let bytes = std::fs::read(&s.core).expect("read core");
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize;
    let phentsize = u16::from_le_bytes(bytes[54..56].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(bytes[56..58].try_into().unwrap()) as usize;
    let first_data = (0..phnum)
        .map(|i| &bytes[phoff + i * phentsize..phoff + (i + 1) * phentsize])
        .filter(|ph| u32::from_le_bytes(ph[0..4].try_into().unwrap()) == 1) // PT_LOAD
        .filter(|ph| u64::from_le_bytes(ph[32..40].try_into().unwrap()) > 0) // p_filesz
        .map(|ph| u64::from_le_bytes(ph[8..16].try_into().unwrap()) as usize) // p_offset
        .min()
        .expect("PT_LOAD with data");
    let core = dir.path().join("core");
    std::fs::write(&core, &bytes[..first_data]).expect("write cut core");

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
