//! Typed errors of map layouts and discovery, on the shipped samples:
//! what a resolver could not find is a [`MapLayoutError`] naming the type
//! and member (kept as the `source` of [`MapError::Layout`], cached per
//! map type), and discovery without a heap walk is
//! [`DiscoverError::Heap`] with the runtime's own error and message.

use mapscope_gomaps::discover::discover;
use mapscope_gomaps::layout::{sync_map_layout, MapLayoutError};
use mapscope_gomaps::{DiscoverError, MapDecoder, MapError};
use mapscope_goruntime::dwarf::TypeId;
use mapscope_goruntime::{GoProcess, GoRuntimeError};
use mapscope_testsupport::sample;

#[test]
fn layout_errors_name_the_type_and_member() {
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
        let dwarf = process.dwarf().expect("samples keep DWARF");
        let types = dwarf.types();

        // A struct that is not sync.Map has neither of its members.
        let mheap = types.by_name("runtime.mheap").expect("runtime.mheap");
        let e = sync_map_layout(dwarf, mheap).expect_err("mheap is no sync.Map");
        assert_eq!(e, MapLayoutError::UnknownSyncMap, "{name}");
        assert_eq!(e.to_string(), "sync.Map has neither m nor read in DWARF");

        // A map type whose key has no size: the decoder says which map,
        // the layout error which role and type, and caches it.
        let (id, map) = types
            .map_types()
            .find(|(_, m)| types.size_of(m.key).is_some())
            .map(|(id, m)| (id, *m))
            .expect("a map type");
        let mut broken = map;
        broken.key = TypeId::UNKNOWN;
        let decoder = MapDecoder::new(process.memory(), dwarf);
        for attempt in 0..2 {
            let e = decoder
                .map_layout(id, &broken)
                .expect_err("no key size, no layout");
            let MapError::Layout { type_name, source } = &e else {
                panic!("{name}: not a layout error: {e:?}");
            };
            let MapLayoutError::NoSize { what, ty } = source else {
                panic!("{name}: not NoSize: {source:?}");
            };
            assert_eq!(*what, "map key", "{name}");
            assert_eq!(ty, &types.get(TypeId::UNKNOWN).name, "{name}");
            assert_eq!(type_name, &types.get(id).name, "{name} attempt {attempt}");
            // Worded as before the errors were typed.
            assert_eq!(
                e.to_string(),
                format!("map type {type_name:?}: map key ({ty}): DWARF gives no size"),
                "{name}"
            );
            assert!(std::error::Error::source(&e).is_some(), "{name}");
        }
    }
}

#[test]
fn discovery_without_a_heap_walk_is_the_runtimes_error() {
    let s = sample("go1.26");
    let dir = tempfile::tempdir().expect("temp dir");
    // Headers and notes only: every segment's bytes cut.
    let core = dir.path().join("core");
    mapscope_testsupport::write_core_without_segment_data(&s.core, &core);

    let process = GoProcess::open(&core, Some(&s.exe)).expect("a cut core still opens");
    let heap_error = process.heap().expect_err("no heap").to_string();
    let Err(e) = discover(&process) else {
        panic!("no discovery without a heap walk");
    };
    let DiscoverError::Heap(GoRuntimeError::Unavailable { what, .. }) = &e else {
        panic!("not the heap walk's error: {e:?}");
    };
    assert_eq!(*what, "Go heap walk");
    assert_eq!(e.to_string(), heap_error);
    assert!(
        heap_error.starts_with("Go heap walk unavailable: runtime.mheap_ at 0x")
            && heap_error.ends_with(": unreadable (sweepgen)"),
        "{heap_error}"
    );
}
