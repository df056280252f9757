//! Damaged and hostile inputs to the DWARF loader: never a panic, never a
//! hang; a typed error when nothing can be read, warnings when parts can.

mod dwarf_support;

use std::borrow::Cow;
use std::time::{Duration, Instant};

use mapscope_goruntime::dwarf::{DwarfError, DwarfInfo, DwarfSections, TypeId, TypeKind};
use object::{Object, ObjectSection};

/// The shipped go1.26 sample executable (the probe executables are not
/// committed; see tests/fixtures/dwarf/regen.sh).
fn probe_exe() -> Vec<u8> {
    dwarf_support::fixtures()
        .into_iter()
        .find(|f| f.label == "mapzoo-go1.26")
        .expect("mapzoo-go1.26 fixture")
        .exe
}

/// A tiny deterministic generator (xorshift64*): reproducible mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn not_an_elf() {
    for bytes in [
        &b""[..],
        b"\x7fELF",
        b"hello world, not an executable",
        &[0u8; 4096],
    ] {
        match DwarfInfo::load(bytes) {
            Err(DwarfError::NotElf(_)) => {}
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn truncated_executable() {
    let exe = probe_exe();
    let len = exe.len();
    for cut in [64, 1000, len / 10, len / 2, len * 9 / 10, len - 1] {
        // Any outcome but a panic; most cuts lose the section headers.
        let _ = DwarfInfo::load(&exe[..cut]);
    }
}

#[test]
fn stripped_executable_says_no_dwarf() {
    let mut exe = probe_exe();
    // Rename every DWARF section in the section-name table.
    mapscope_testsupport::hide_dwarf_sections(&mut exe);
    match DwarfInfo::load(&exe) {
        Err(e @ DwarfError::NoDwarf) => assert!(e.to_string().contains("stripped")),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

fn debug_info_file_range(exe: &[u8]) -> (usize, usize) {
    let file = object::File::parse(exe).unwrap();
    let section = file.section_by_name(".debug_info").unwrap();
    let (offset, size) = section.file_range().unwrap();
    (offset as usize, size as usize)
}

#[test]
fn absurd_compression_header_is_refused_before_allocating() {
    let mut exe = probe_exe();
    let (offset, _) = debug_info_file_range(&exe);
    // Elf64_Chdr: ch_type u32, ch_reserved u32, ch_size u64.
    exe[offset + 8..offset + 16].copy_from_slice(&(1u64 << 40).to_le_bytes());
    match DwarfInfo::load(&exe) {
        Err(e @ DwarfError::Section { .. }) => {
            let message = e.to_string();
            assert!(message.contains(".debug_info"), "{message}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn corrupted_compressed_data_is_an_error() {
    let mut exe = probe_exe();
    let (offset, size) = debug_info_file_range(&exe);
    for b in &mut exe[offset + size / 2..offset + size / 2 + 64] {
        *b ^= 0x5a;
    }
    // Either the stream is rejected (a typed error naming the section), or
    // the inflater produced bytes and the loader flags what it could not
    // parse; never a silent success.
    match DwarfInfo::load(&exe) {
        Err(DwarfError::Section { section, .. }) => assert_eq!(section, ".debug_info"),
        Ok(info) => assert!(info.warnings().count > 0, "corruption went unnoticed"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// Random byte flips and truncations of the decompressed sections: the
/// loader must return (with warnings) in bounded time.
#[test]
fn mutated_sections_never_panic() {
    let exe = probe_exe();
    let original = DwarfSections::from_elf(&exe).unwrap();
    // The first 64 KiB of .debug_info (a few units) keep each load quick in
    // an unoptimized test build; references beyond it become unresolved.
    let info: Vec<u8> = original.section(".debug_info")[..64 * 1024].to_vec();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let names = [
        ".debug_info",
        ".debug_abbrev",
        ".debug_loclists",
        ".debug_rnglists",
        ".debug_addr",
    ];
    let mut warned = 0;
    for round in 0..600 {
        let target = names[round % names.len()];
        let mut sections = DwarfSections::new(true, 8);
        for name in names {
            let data: &[u8] = if name == ".debug_info" {
                &info
            } else {
                original.section(name)
            };
            sections.insert(name, Cow::Owned(data.to_vec()));
        }
        let mut data = sections.section(target).to_vec();
        if data.is_empty() {
            continue;
        }
        if round % 3 == 0 {
            let cut = rng.below(data.len());
            data.truncate(cut);
        } else {
            // Concentrate flips near the start, where headers and
            // abbreviations live, and spread a few elsewhere.
            for _ in 0..1 + rng.below(8) {
                let at = if rng.below(2) == 0 {
                    rng.below(data.len().min(256))
                } else {
                    rng.below(data.len())
                };
                data[at] ^= 1 << rng.below(8);
            }
        }
        sections.insert(target, Cow::Owned(data));
        let start = Instant::now();
        match DwarfInfo::from_sections(&sections) {
            Ok(info) => {
                if !info.warnings().is_empty() {
                    warned += 1;
                }
                // Exercise the lookups on whatever came out.
                let _ = info.types().struct_layout("runtime.g");
                let _ = info.functions().at_pc(0x401000);
                for (id, _) in info.types().iter().take(2000) {
                    let _ = info.types().size_of(id);
                    let _ = info.types().resolve(id);
                }
            }
            Err(DwarfError::NoDwarf) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "round {round} took {:?}",
            start.elapsed()
        );
    }
    assert!(
        warned > 50,
        "only {warned} damaged inputs produced warnings"
    );
}

/// Hand-made DWARF 4 with hostile shapes.
mod synthetic {
    use super::*;

    const DW_TAG_COMPILE_UNIT: u8 = 0x11;
    const DW_TAG_STRUCTURE_TYPE: u8 = 0x13;
    const DW_TAG_MEMBER: u8 = 0x0d;
    const DW_TAG_TYPEDEF: u8 = 0x16;
    const DW_TAG_POINTER_TYPE: u8 = 0x0f;
    const DW_AT_NAME: u8 = 0x03;
    const DW_AT_BYTE_SIZE: u8 = 0x0b;
    const DW_AT_TYPE: u8 = 0x49;
    const DW_AT_DATA_MEMBER_LOCATION: u8 = 0x38;
    const DW_FORM_STRING: u8 = 0x08;
    const DW_FORM_DATA1: u8 = 0x0b;
    const DW_FORM_REF4: u8 = 0x13;

    /// Abbreviation codes: 1 CU, 2 struct (children), 3 member, 4 typedef,
    /// 5 pointer, 6 struct (no children).
    fn abbrev() -> Vec<u8> {
        let mut a = Vec::new();
        let mut add = |code: u8, tag: u8, children: bool, attrs: &[(u8, u8)]| {
            a.extend([code, tag, children as u8]);
            for &(at, form) in attrs {
                a.extend([at, form]);
            }
            a.extend([0, 0]);
        };
        add(
            1,
            DW_TAG_COMPILE_UNIT,
            true,
            &[(DW_AT_NAME, DW_FORM_STRING)],
        );
        add(
            2,
            DW_TAG_STRUCTURE_TYPE,
            true,
            &[
                (DW_AT_NAME, DW_FORM_STRING),
                (DW_AT_BYTE_SIZE, DW_FORM_DATA1),
            ],
        );
        add(
            3,
            DW_TAG_MEMBER,
            false,
            &[
                (DW_AT_NAME, DW_FORM_STRING),
                (DW_AT_TYPE, DW_FORM_REF4),
                (DW_AT_DATA_MEMBER_LOCATION, DW_FORM_DATA1),
            ],
        );
        add(
            4,
            DW_TAG_TYPEDEF,
            false,
            &[(DW_AT_NAME, DW_FORM_STRING), (DW_AT_TYPE, DW_FORM_REF4)],
        );
        add(
            5,
            DW_TAG_POINTER_TYPE,
            false,
            &[(DW_AT_NAME, DW_FORM_STRING), (DW_AT_TYPE, DW_FORM_REF4)],
        );
        add(
            6,
            DW_TAG_STRUCTURE_TYPE,
            false,
            &[
                (DW_AT_NAME, DW_FORM_STRING),
                (DW_AT_BYTE_SIZE, DW_FORM_DATA1),
            ],
        );
        a.push(0);
        a
    }

    /// Wraps DIE bytes (starting right after the unit header) in a DWARF 4
    /// unit header. Unit-relative offsets of DIEs start at 11.
    fn unit(dies: &[u8]) -> Vec<u8> {
        let mut u = Vec::new();
        let length = (dies.len() + 7) as u32;
        u.extend(length.to_le_bytes());
        u.extend(4u16.to_le_bytes());
        u.extend(0u32.to_le_bytes());
        u.push(8);
        u.extend(dies);
        u
    }

    fn cstr(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }

    fn load(dies: Vec<u8>) -> DwarfInfo {
        let mut sections = DwarfSections::new(true, 8);
        sections.insert(".debug_abbrev", Cow::Owned(abbrev()));
        sections.insert(".debug_info", Cow::Owned(unit(&dies)));
        DwarfInfo::from_sections(&sections).unwrap()
    }

    #[test]
    fn typedef_cycle_and_self_referencing_struct() {
        // offset 11: CU "x"
        let mut d = vec![1];
        d.extend(cstr("x")); // 11..14
                             // 14: typedef A -> 21 ; 21: typedef B -> 14
        d.push(4);
        d.extend(cstr("A"));
        d.extend(21u32.to_le_bytes());
        assert_eq!(11 + d.len(), 21);
        d.push(4);
        d.extend(cstr("B"));
        d.extend(14u32.to_le_bytes());
        // 28: struct "node" size 8 { next *node @0 }, 47: pointer to 28
        assert_eq!(11 + d.len(), 28);
        d.push(2);
        d.extend(cstr("node"));
        d.push(8);
        d.push(3);
        d.extend(cstr("next"));
        d.extend(47u32.to_le_bytes());
        d.push(0);
        d.push(0); // end of struct children
        assert_eq!(11 + d.len(), 47);
        d.push(5);
        d.extend(cstr("*node"));
        d.extend(28u32.to_le_bytes());
        // A dangling reference.
        d.push(4);
        d.extend(cstr("dangling"));
        d.extend(0xffff_u32.to_le_bytes());
        d.push(0); // end of CU children
        let info = load(d);
        let t = info.types();
        let a = t.by_name("A").unwrap();
        let _ = t.resolve(a); // terminates
        assert_eq!(t.size_of(a), None);
        let node = t.by_name("node").unwrap();
        assert!(matches!(
            t.get(t.get(node).fields[0].ty).kind,
            TypeKind::Pointer { target: Some(n) } if n == node
        ));
        // A long path through the cycle is bounded.
        let path = vec!["next"; 1000].join(".");
        assert_eq!(t.field_path(node, &path), None);
        let dangling = t.by_name("dangling").unwrap();
        assert_eq!(t.resolve(dangling), TypeId::UNKNOWN);
        assert_eq!(info.warnings().unresolved_type_refs, 1);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let mut d = vec![1];
        d.extend(cstr("x"));
        let depth = 200_000;
        for _ in 0..depth {
            d.push(2);
            d.extend(cstr("s"));
            d.push(8);
        }
        d.push(6);
        d.extend(cstr("leaf"));
        d.push(1);
        d.extend(vec![0u8; depth + 1]);
        let start = Instant::now();
        let info = load(d);
        assert!(start.elapsed() < Duration::from_secs(30));
        // Types past the depth bound are ignored, the rest is kept.
        assert!(info.types().by_name("s").is_some());
        assert!(info.types().by_name("leaf").is_none());
    }

    #[test]
    fn garbage_after_a_good_unit() {
        let mut d = vec![1];
        d.extend(cstr("x"));
        d.push(6);
        d.extend(cstr("ok"));
        d.push(16);
        d.push(0);
        let mut info_bytes = unit(&d);
        info_bytes.extend([0xff, 0xff, 0xff, 0x7f, 4, 0, 0, 0]);
        let mut sections = DwarfSections::new(true, 8);
        sections.insert(".debug_abbrev", Cow::Owned(abbrev()));
        sections.insert(".debug_info", Cow::Owned(info_bytes));
        let info = DwarfInfo::from_sections(&sections).unwrap();
        assert_eq!(
            info.types().size_of(info.types().by_name("ok").unwrap()),
            Some(16)
        );
        assert!(info.warnings().count >= 1);
        assert!(info.warnings().messages[0].contains("debug_info"));
    }
}
