//! The map decoders over a mutated memory image: patches land on a map
//! header of a shipped sample (classic maps in go1.22, Swiss maps and the
//! `HashTrieMap` in go1.26) or on storage one or two pointers away from it
//! (buckets, overflow chains, directory, tables, groups), then the map is
//! decoded.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mapscope_fuzz::{parse_patches, truth_map_targets, BaseImage};
use mapscope_gomaps::{MapDecoder, NoHeapIndex};
use mapscope_goruntime::dwarf::{DwarfInfo, TypeId};

struct Sample {
    image: &'static BaseImage,
    dwarf: DwarfInfo,
    maps: Vec<(TypeId, u64)>,
}

fn samples() -> &'static [Sample] {
    static SAMPLES: OnceLock<Vec<Sample>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        ["go1.22", "go1.26"]
            .into_iter()
            .map(|name| {
                let image = BaseImage::get(name);
                let dwarf = DwarfInfo::load(&image.exe).expect("sample DWARF");
                let maps = truth_map_targets(image, &dwarf);
                assert!(!maps.is_empty(), "{name}: no map targets");
                Sample { image, dwarf, maps }
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&[which, map_index], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let samples = samples();
    let sample = &samples[usize::from(which) % samples.len()];
    let (ty, header) = sample.maps[usize::from(map_index) % sample.maps.len()];
    let image = sample.image;
    let patches = parse_patches(rest, |sel, arg| {
        let slot = u64::from(arg % 16) * 8;
        match sel % 3 {
            0 => Some(header),
            1 => image.read_u64(header.checked_add(slot)?),
            _ => {
                let first = image.read_u64(header.checked_add(slot)?)?;
                image.read_u64(first.checked_add(u64::from(arg / 16) * 8)?)
            }
        }
    });
    image.with_patches(&patches, |mem| {
        let decoder = MapDecoder::new(&mem, &sample.dwarf);
        if let Ok(m) = decoder.decode(ty, header, &NoHeapIndex) {
            let _ = (m.len, m.live_entries, m.capacity, m.storage_bytes);
            let _ = m.warnings.len();
        }
    });
});
