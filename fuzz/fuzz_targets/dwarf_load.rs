//! DWARF and type loading on mutated executables. Even first byte: patches
//! on the decompressed DWARF sections of a shipped executable (what gimli
//! and the type builder see); odd: patches on the executable file itself
//! (ELF and section headers, compressed section headers), then
//! `DwarfInfo::load`. Whatever loads is queried like the runtime layer does.
#![no_main]

use std::borrow::Cow;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mapscope_fuzz::{parse_patches, BaseImage};
use mapscope_goruntime::dwarf::{DwarfInfo, DwarfSections};

const NAMES: &[&str] = &[
    ".debug_info",
    ".debug_abbrev",
    ".debug_str",
    ".debug_line_str",
    ".debug_loc",
    ".debug_loclists",
    ".debug_ranges",
    ".debug_rnglists",
    ".debug_addr",
    ".debug_str_offsets",
];

struct Base {
    exe: &'static [u8],
    sections: Vec<(&'static str, Vec<u8>)>,
    pointer_size: u8,
}

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let image = BaseImage::get("go1.26");
        let exe: &'static [u8] = Box::leak(image.exe.to_vec().into_boxed_slice());
        let parsed = DwarfSections::from_elf(exe).expect("sample DWARF sections");
        let sections = NAMES
            .iter()
            .map(|&n| (n, parsed.section(n).to_vec()))
            .filter(|(_, d)| !d.is_empty())
            .collect();
        Base {
            exe,
            sections,
            pointer_size: parsed.pointer_size(),
        }
    })
}

fn exercise(d: &DwarfInfo) {
    let _ = d.map_implementation();
    let types = d.types();
    for (id, map) in types.map_types().take(64) {
        let _ = types.size_of(id);
        let _ = types.layout_of(map.header);
        let _ = types.field_path(map.header, "B");
        let _ = types.field_path(map.header, "dirPtr");
    }
    for name in [
        "runtime.mspan",
        "runtime.mheap",
        "runtime.g",
        "runtime.hmap",
    ] {
        if let Some(l) = types.struct_layout(name) {
            let _ = l.field("next");
        }
    }
    let _ = types.field_offset("runtime.mheap", "arenas");
    let _ = d.globals().by_name("runtime.mheap_");
    let _ = d.functions().by_name("main.main");
    let _ = d.constant("runtime._KindSpecialProfile");
    let _ = (d.producer(), d.go_version(), d.pointer_size());
    for &(addr, _) in d.runtime_types().iter().take(16) {
        let _ = d.type_by_runtime_address(addr);
    }
    let _ = d.warnings().count;
}

fuzz_target!(|data: &[u8]| {
    let Some((&[mode], rest)) = data.split_first_chunk::<1>() else {
        return;
    };
    let base = base();
    if mode % 2 == 0 {
        let n = base.sections.len() as u64;
        // Address = section index << 40 | offset within the section.
        let patches = parse_patches(rest, |sel, arg| {
            let index = u64::from(sel) % n;
            let len = base.sections.get(index as usize)?.1.len() as u64;
            Some((index << 40) | (len * u64::from(arg) / 256))
        });
        let mut owned: Vec<Vec<u8>> = base.sections.iter().map(|(_, d)| d.clone()).collect();
        for (addr, bytes) in patches {
            let (index, offset) = ((addr >> 40) as usize, (addr & 0xff_ffff_ffff) as usize);
            if let Some(slot) = owned
                .get_mut(index)
                .and_then(|s| s.get_mut(offset..offset.saturating_add(bytes.len())))
            {
                slot.copy_from_slice(&bytes);
            }
        }
        let mut sections = DwarfSections::new(true, base.pointer_size);
        for ((name, _), data) in base.sections.iter().zip(owned) {
            sections.insert(name, Cow::Owned(data));
        }
        if let Ok(d) = DwarfInfo::from_sections(&sections) {
            exercise(&d);
        }
    } else {
        let len = base.exe.len() as u64;
        let patches = parse_patches(rest, |sel, arg| match sel % 2 {
            // The ELF header and program headers.
            0 => Some(0),
            // Anywhere (section headers sit at the end of a Go binary).
            _ => Some(len * u64::from(arg) / 256),
        });
        let mut exe = base.exe.to_vec();
        for (offset, bytes) in patches {
            let offset = offset as usize;
            if let Some(slot) = exe.get_mut(offset..offset.saturating_add(bytes.len())) {
                slot.copy_from_slice(&bytes);
            }
        }
        if let Ok(d) = DwarfInfo::load(&exe) {
            exercise(&d);
        }
    }
});
