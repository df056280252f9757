//! The API other layers rely on: the decoder can be shared across rayon
//! threads, and every way a map's type may reach it (the map type, a
//! pointer to its header, the header struct, `sync.Map`, `*sync.Map`)
//! designates the same map.

use mapscope_elfcore::{Core, Executable, ProcessMemory};
use mapscope_gomaps::{decode_map, MapDecoder, MapError, MapTarget, NoHeapIndex};
use mapscope_goruntime::dwarf::DwarfInfo;
use mapscope_testsupport::sample;

fn assert_sync<T: Sync>() {}

#[test]
fn decoder_is_sync() {
    assert_sync::<MapDecoder<'static>>();
}

#[test]
fn every_spelling_of_a_map_type_resolves() {
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let mem = ProcessMemory::new(
            Core::open(&s.core).unwrap(),
            Some(Executable::open(&s.exe).unwrap()),
        )
        .unwrap();
        let dwarf = DwarfInfo::load(mem.executable().unwrap().data()).unwrap();
        let decoder = MapDecoder::new(&mem, &dwarf);
        let types = dwarf.types();
        let mut checked = 0;
        for (id, map) in types.map_types() {
            let Some(MapTarget::Map { map: m, .. }) = decoder.target(id) else {
                panic!("{name}: {}", types.get(id).name)
            };
            assert_eq!((m.key, m.value), (map.key, map.value));
            for spelling in [map.pointer, map.header] {
                match decoder.target(spelling) {
                    Some(MapTarget::Map { map: m, .. }) => {
                        assert_eq!(m.header, map.header, "{name}: {}", types.get(spelling).name)
                    }
                    other => panic!("{name}: {} → {other:?}", types.get(spelling).name),
                }
            }
            checked += 1;
        }
        assert!(checked > 20, "{name}: {checked} map types");
        let sync_map = types.by_name("sync.Map").unwrap();
        assert!(matches!(
            decoder.target(sync_map),
            Some(MapTarget::SyncMap { .. })
        ));
        let ptr = types.by_name("*sync.Map").unwrap();
        assert!(matches!(
            decoder.target(ptr),
            Some(MapTarget::SyncMap { .. })
        ));
        // Not a map; a nil map.
        let int = types.by_name("int").unwrap();
        assert!(matches!(
            decoder.decode(int, 0x1000, &NoHeapIndex),
            Err(MapError::NotAMap { .. })
        ));
        let any_map = types.map_types().next().unwrap().0;
        assert!(matches!(
            decode_map(&mem, &dwarf, any_map, 0, &NoHeapIndex),
            Err(MapError::Nil)
        ));
        // An unmapped header address is an error naming it.
        let e = decode_map(&mem, &dwarf, any_map, 0x10, &NoHeapIndex).unwrap_err();
        assert!(e.to_string().contains("0x10"), "{e}");
        // The model serializes (renderers emit it as JSON).
        let global = dwarf.globals().by_name("main.sessionsByID").unwrap();
        let header = mem.read_u64(global.address).unwrap();
        let instance = decoder.decode(global.ty, header, &NoHeapIndex).unwrap();
        let json = serde_json::to_value(&instance).unwrap();
        assert_eq!(json["len"], 3000);
        assert_eq!(json["kind"], "map");
        assert!(json["header"]["impl"].is_string());
        assert!(json["objects"].as_array().is_some_and(|o| !o.is_empty()));
    }
}
