//! Cores built byte by byte (tests/common): layouts and damage no real
//! sample has. The expected values are the ones written into the bytes.

mod common;

use common::*;
use mapscope_elfcore::{
    auxv as at, Arch, ByteSource, Core, CoreError, Executable, ProcessMemory, ReadError, RegionKind,
};
use std::io::Write;

fn small_x86_core() -> Synth {
    let mut s = Synth::core(EM_X86_64);
    s.notes = vec![
        Note {
            name: "CORE",
            n_type: 1,
            desc: prstatus_x86_64(4242, 6, 0x401234, 0x7ffd_0000_1000, 0x6000_0000),
        },
        Note {
            name: "CORE",
            n_type: 3,
            desc: prpsinfo(4242, "svc", "./svc -flag"),
        },
        Note {
            name: "CORE",
            n_type: 0x5349_4749,
            desc: siginfo(11, 1, 0xdead_beef),
        },
        Note {
            name: "CORE",
            n_type: 6,
            desc: auxv(&[
                (at::AT_ENTRY, 0x401000),
                (at::AT_SYSINFO_EHDR, 0x7fff_0000_2000),
                (at::AT_EXECFN, 0x7ffd_0000_1800),
            ]),
        },
        Note {
            name: "CORE",
            n_type: 0x4649_4c45,
            desc: nt_file(
                4096,
                &[
                    (0x400000, 0x402000, 0, "/srv/svc"),
                    (0x7f00_0000_0000, 0x7f00_0000_1000, 3, "/lib/x.so (deleted)"),
                ],
            ),
        },
        Note {
            name: "CORE",
            n_type: 1,
            desc: prstatus_x86_64(4243, 0, 0x401300, 0x7f00_0010_0000, 0x6000_1000),
        },
    ];
    s.loads = vec![
        // Text: only the first page in the core (like the kernel's ELF-header page).
        Load {
            vaddr: 0x400000,
            memsz: 0x2000,
            flags: 5,
            data: vec![0xaa; 0x1000],
        },
        Load {
            vaddr: 0x7f00_0000_0000,
            memsz: 0x1000,
            flags: 4,
            data: vec![],
        },
        Load {
            vaddr: 0x7f00_0010_0000,
            memsz: 0x2000,
            flags: 6,
            data: (0..0x2000u32).map(|i| i as u8).collect(),
        },
        Load {
            vaddr: 0x7fff_0000_0000,
            memsz: 0x2000,
            flags: 4,
            data: vec![1; 0x2000],
        }, // vvar
        Load {
            vaddr: 0x7fff_0000_2000,
            memsz: 0x1000,
            flags: 5,
            data: vec![2; 0x1000],
        }, // vdso
        Load {
            vaddr: 0x7ffd_0000_0000,
            memsz: 0x2000,
            flags: 6,
            data: vec![3; 0x2000],
        }, // stack
    ];
    s
}

#[test]
fn synthetic_core_notes_segments_and_regions() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "core", &small_x86_core().build());
    let core = Core::open(&path).unwrap();
    assert_eq!(core.arch(), Arch::X86_64);
    assert_eq!(core.segments().len(), 6);
    assert!(core.is_complete());
    assert_eq!(core.threads().len(), 2);
    let t = &core.threads()[0];
    assert_eq!(
        (t.tid, t.pc(), t.sp(), t.tls_base),
        (
            4242,
            Some(0x401234),
            Some(0x7ffd_0000_1000),
            Some(0x6000_0000)
        )
    );
    assert_eq!(t.registers.get("r15"), Some(0x1000));
    assert_eq!(t.registers.get("gs"), Some(0x1000 + 26));
    assert_eq!(t.registers.iter().count(), 27);
    assert_eq!(core.main_thread().unwrap().tid, 4242);
    let sig = core.signal().unwrap();
    assert_eq!(
        (sig.signo, sig.name(), sig.fault_addr),
        (11, "SIGSEGV", Some(0xdead_beef))
    );
    let p = core.process().unwrap();
    assert_eq!(
        (p.pid, p.command.as_str(), p.args.as_str()),
        (4242, "svc", "./svc -flag")
    );
    let files = core.file_mappings();
    assert_eq!(files.len(), 2);
    assert_eq!(
        (
            files[1].file_offset,
            files[1].path.as_str(),
            files[1].deleted
        ),
        (3 * 4096, "/lib/x.so", true)
    );
    assert_eq!(core.executable_path(), Some("/srv/svc"));

    let regions = core.regions();
    let kind_at = |a: u64| regions.iter().find(|r| r.contains(a)).map(|r| r.kind);
    assert_eq!(kind_at(0x400000), Some(RegionKind::File));
    assert_eq!(kind_at(0x7fff_0000_2000), Some(RegionKind::Vdso));
    assert_eq!(kind_at(0x7fff_0000_0000), Some(RegionKind::Vvar));
    assert_eq!(kind_at(0x7ffd_0000_0000), Some(RegionKind::Stack));
    assert_eq!(kind_at(0x7f00_0010_0000), Some(RegionKind::Anon));
    let text = regions.iter().find(|r| r.start == 0x400000).unwrap();
    assert_eq!(
        (
            text.present_bytes,
            text.size(),
            text.perms_string().as_str()
        ),
        (0x1000, 0x2000, "r-xp")
    );

    // Core-only memory: present, absent (filesz < memsz), unmapped.
    let mem = ProcessMemory::new(core, None).unwrap();
    assert_eq!(mem.read_u8(0x400fff), Ok(0xaa));
    assert_eq!(
        mem.read_u8(0x401000),
        Err(ReadError::Absent { addr: 0x401000 })
    );
    assert_eq!(
        mem.read_u64(0x400ffc),
        Err(ReadError::Absent { addr: 0x401000 })
    );
    assert_eq!(
        mem.read_u8(0x7f00_0000_0010),
        Err(ReadError::Absent {
            addr: 0x7f00_0000_0010
        })
    );
    assert_eq!(mem.read_u8(0x10), Err(ReadError::Unmapped { addr: 0x10 }));
    assert_eq!(
        mem.read_u32(0x7f00_0010_0004),
        Ok(u32::from_le_bytes([4, 5, 6, 7]))
    );
    assert_eq!(
        mem.read_u64(u64::MAX - 3),
        Err(ReadError::Overflow {
            addr: u64::MAX - 3,
            len: 8
        })
    );
    let b = mem.bytes(0x7f00_0010_0000, 0x2000).unwrap();
    assert_eq!(b.len(), 0x2000);
    assert_eq!(b[0x1ff], 0xff);
    // vvar and vdso are contiguous in the file: one zero-copy slice spans both.
    assert_eq!(
        mem.bytes(0x7fff_0000_1ffc, 8).unwrap(),
        &[1, 1, 1, 1, 2, 2, 2, 2]
    );
    let sources: Vec<ByteSource> = mem.ranges().map(|r| r.source).collect();
    assert!(sources.contains(&ByteSource::Absent));

    // The mapped core's pages dropped from the page table, in parts (more
    // parts than pages too): every read still gives the file's bytes.
    let before = mem.bytes(0x7f00_0010_0000, 0x2000).unwrap().to_vec();
    for parts in [1, 3, 1000] {
        for part in 0..=parts {
            mem.release_core_part(part, parts);
        }
        assert_eq!(mem.read_u8(0x400fff), Ok(0xaa));
        assert_eq!(
            mem.read_u32(0x7f00_0010_0004),
            Ok(u32::from_le_bytes([4, 5, 6, 7]))
        );
        assert_eq!(mem.bytes(0x7f00_0010_0000, 0x2000).unwrap(), &before[..]);
    }
}

#[test]
fn pn_xnum_core_with_70000_segments() {
    let mut s = Synth::core(EM_X86_64);
    s.notes = vec![Note {
        name: "CORE",
        n_type: 1,
        desc: prstatus_x86_64(1, 6, 0x401000, 0x1000, 0),
    }];
    for i in 0..70_000u64 {
        let data = if i % 1000 == 0 {
            i.to_le_bytes().to_vec()
        } else {
            Vec::new()
        };
        s.loads.push(Load {
            vaddr: 0x1_0000_0000 + i * 0x2000,
            memsz: 0x1000,
            flags: 6,
            data,
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "core", &s.build());
    let core = Core::open(&path).unwrap();
    assert_eq!(
        core.program_headers().len(),
        70_001,
        "real count from section 0's sh_info"
    );
    assert_eq!(core.segments().len(), 70_000);
    let last = core.segments().last().unwrap();
    assert_eq!(last.vaddr, 0x1_0000_0000 + 69_999 * 0x2000);
    let mem = ProcessMemory::new(core, None).unwrap();
    assert_eq!(mem.read_u64(0x1_0000_0000 + 69_000 * 0x2000), Ok(69_000));
    assert_eq!(
        mem.read_u64(0x1_0000_0000 + 68_999 * 0x2000),
        Err(ReadError::Absent {
            addr: 0x1_0000_0000 + 68_999 * 0x2000
        })
    );
    assert_eq!(
        mem.read_u64(0x1_0000_0000 + 0x1000),
        Err(ReadError::Unmapped {
            addr: 0x1_0000_0000 + 0x1000
        })
    );
    assert_eq!(mem.regions().len(), 70_000);
}

#[test]
fn small_count_written_as_xnum_still_reads() {
    let mut s = small_x86_core();
    s.force_xnum = true;
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(write(dir.path(), "core", &s.build())).unwrap();
    assert_eq!(core.segments().len(), 6);
}

#[test]
fn aarch64_registers_and_tls() {
    let mut s = Synth::core(EM_AARCH64);
    s.notes = vec![
        Note {
            name: "CORE",
            n_type: 1,
            desc: prstatus_aarch64(77, 0x41_0000, 0xffff_f000),
        },
        Note {
            name: "LINUX",
            n_type: 0x401,
            desc: 0x4000_1234u64.to_le_bytes().to_vec(),
        },
        Note {
            name: "CORE",
            n_type: 1,
            desc: prstatus_aarch64(78, 0x41_0010, 0xffff_e000),
        },
    ];
    s.loads = vec![Load {
        vaddr: 0x41_0000,
        memsz: 0x1000,
        flags: 5,
        data: vec![0; 0x1000],
    }];
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(write(dir.path(), "core", &s.build())).unwrap();
    assert_eq!(core.arch(), Arch::Aarch64);
    let t = &core.threads()[0];
    assert_eq!(
        (t.tid, t.pc(), t.sp(), t.tls_base),
        (77, Some(0x41_0000), Some(0xffff_f000), Some(0x4000_1234))
    );
    assert_eq!(t.registers.fp(), Some(0x2000 + 29));
    assert_eq!(t.registers.lr(), Some(0x2000 + 30));
    assert_eq!(t.registers.get("pstate"), Some(0x6000_0000));
    assert_eq!(
        core.threads()[1].tls_base,
        None,
        "NT_ARM_TLS belongs to the thread before it"
    );
}

#[test]
fn compressed_cores_gzip_xz_zstd() {
    let raw = small_x86_core().build();
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
    xz.write_all(&raw).unwrap();
    let zst = zstd::encode_all(&raw[..], 3).unwrap();
    // Names without the usual extension: detection is by magic bytes.
    for (name, bytes) in [
        ("a.gz", gz.finish().unwrap()),
        ("b", xz.finish().unwrap()),
        ("c.core", zst),
    ] {
        let core = Core::open(write(dir.path(), name, &bytes)).unwrap();
        assert_ne!(
            core.compression(),
            mapscope_elfcore::Compression::None,
            "{name}"
        );
        assert_eq!(core.data(), &raw[..], "{name}: decompressed bytes");
        assert_eq!(core.threads().len(), 2);
    }
    let lz4 = write(dir.path(), "d.lz4", &[0x04, 0x22, 0x4d, 0x18, 0, 0, 0, 0]);
    let e = Core::open(&lz4).unwrap_err();
    assert!(matches!(e, CoreError::UnsupportedCompression { .. }), "{e}");
    let bad_zst = write(
        dir.path(),
        "e.zst",
        &[0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5],
    );
    let e = Core::open(&bad_zst).unwrap_err();
    assert!(
        matches!(e, CoreError::Decompress { .. }) && e.to_string().contains("e.zst"),
        "{e}"
    );
}

#[test]
fn truncated_core_keeps_what_is_there() {
    let raw = small_x86_core().build();
    let core_full = {
        let dir = tempfile::tempdir().unwrap();
        let c = Core::open(write(dir.path(), "core", &raw)).unwrap();
        c.segments().to_vec()
    };
    // Cut in the middle of the third segment (file order = program order).
    let third = core_full
        .iter()
        .find(|s| s.vaddr == 0x7f00_0010_0000)
        .unwrap();
    let cut = third.offset + 0x800;
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(write(dir.path(), "core", &raw[..cut as usize])).unwrap();
    assert!(!core.is_complete());
    let seg = core
        .segments()
        .iter()
        .find(|s| s.vaddr == 0x7f00_0010_0000)
        .unwrap();
    assert_eq!((seg.present, seg.truncated), (0x800, true));
    let later = core
        .segments()
        .iter()
        .find(|s| s.vaddr == 0x7ffd_0000_0000)
        .unwrap();
    assert_eq!((later.present, later.truncated), (0, true));
    assert!(core.warnings().iter().any(|w| w.contains("truncated")));
    assert_eq!(core.threads().len(), 2, "notes come first and survive");
    let mem = ProcessMemory::new(core, None).unwrap();
    assert_eq!(mem.read_u8(0x7f00_0010_07ff), Ok(0xff));
    assert_eq!(
        mem.read_u8(0x7f00_0010_0800),
        Err(ReadError::Absent {
            addr: 0x7f00_0010_0800
        })
    );
    let r = mem
        .regions()
        .into_iter()
        .find(|r| r.start == 0x7f00_0010_0000)
        .unwrap();
    assert!(r.truncated);
    assert_eq!(r.present_bytes, 0x800);
}

#[test]
fn truncated_inside_the_notes() {
    let raw = small_x86_core().build();
    let dir = tempfile::tempdir().unwrap();
    // Header + phdrs + part of the first note.
    let cut = 64 + 56 * 7 + 200;
    let core = Core::open(write(dir.path(), "core", &raw[..cut])).unwrap();
    assert!(core.threads().is_empty());
    assert!(!core.warnings().is_empty());
}

#[test]
fn bad_inputs_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let text = write(dir.path(), "notes.txt", b"this is not an ELF file at all\n");
    let e = Core::open(&text).unwrap_err();
    assert!(
        matches!(e, CoreError::NotElf { .. }) && e.to_string().contains("notes.txt"),
        "{e}"
    );
    let empty = write(dir.path(), "empty", b"");
    assert!(matches!(
        Core::open(&empty).unwrap_err(),
        CoreError::NotElf { .. }
    ));
    let missing = dir.path().join("missing");
    assert!(matches!(
        Core::open(&missing).unwrap_err(),
        CoreError::Io { .. }
    ));
    assert!(matches!(
        Core::open(dir.path()).unwrap_err(),
        CoreError::Io { .. } | CoreError::NotElf { .. }
    ));

    let mut riscv = small_x86_core();
    riscv.machine = 243;
    let p = write(dir.path(), "riscv-core", &riscv.build());
    let e = Core::open(&p).unwrap_err();
    assert!(e.to_string().contains("unsupported machine riscv"), "{e}");

    let mut b32 = small_x86_core().build();
    b32[4] = 1;
    let e = Core::open(write(dir.path(), "core32", &b32)).unwrap_err();
    assert!(matches!(e, CoreError::UnsupportedClass { .. }), "{e}");

    let mut exe = small_x86_core();
    exe.e_type = ET_EXEC;
    let exe_path = write(dir.path(), "prog", &exe.build());
    let e = Core::open(&exe_path).unwrap_err();
    assert!(
        matches!(e, CoreError::NotACore { .. })
            && e.to_string().contains("an executable, not a core dump"),
        "{e}"
    );
    assert!(Executable::open(&exe_path).is_ok());

    let core_path = write(dir.path(), "core", &small_x86_core().build());
    let e = Executable::open(&core_path).unwrap_err();
    assert!(
        matches!(e, CoreError::NotAnExecutable { .. })
            && e.to_string().contains("a core dump, not an executable"),
        "{e}"
    );

    // Damaged program header table: offset past the end.
    let mut bad_ph = small_x86_core().build();
    bad_ph[32..40].copy_from_slice(&0xffff_ffffu64.to_le_bytes());
    let e = Core::open(write(dir.path(), "badph", &bad_ph)).unwrap_err();
    assert!(matches!(e, CoreError::Malformed { .. }), "{e}");
}

#[test]
fn hostile_note_counts_do_not_allocate() {
    let mut s = small_x86_core();
    // NT_FILE claiming 2^60 entries in a 40-byte note.
    let mut desc = Vec::new();
    desc.extend_from_slice(&(1u64 << 60).to_le_bytes());
    desc.extend_from_slice(&4096u64.to_le_bytes());
    desc.extend_from_slice(&[0; 24]);
    s.notes.push(Note {
        name: "CORE",
        n_type: 0x4649_4c45,
        desc,
    });
    // A PRSTATUS too short for registers.
    s.notes.insert(
        0,
        Note {
            name: "CORE",
            n_type: 1,
            desc: vec![0; 20],
        },
    );
    // A segment whose range wraps around the address space.
    s.loads.push(Load {
        vaddr: u64::MAX - 0x10,
        memsz: 0x1000,
        flags: 4,
        data: vec![],
    });
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(write(dir.path(), "core", &s.build())).unwrap();
    // The first NT_FILE (valid) is kept; the hostile one is ignored.
    assert_eq!(core.file_mappings().len(), 2);
    assert!(core.warnings().iter().any(|w| w.contains("NT_PRSTATUS")));
    assert!(core.warnings().iter().any(|w| w.contains("overflows")));
    assert_eq!(core.segments().len(), 6);
}

#[test]
fn brk_heap_is_the_anonymous_region_above_the_image_not_its_bss() {
    let mut s = small_x86_core();
    // Executable image 0x400000-0x402000 (NT_FILE), bss right after it,
    // brk heap 200 MiB higher (randomised), an unrelated mapping far away.
    s.loads.push(Load {
        vaddr: 0x402000,
        memsz: 0x1000,
        flags: 6,
        data: vec![0; 0x1000],
    });
    s.loads.push(Load {
        vaddr: 0x402000 + (200 << 20),
        memsz: 0x21000,
        flags: 6,
        data: vec![],
    });
    s.loads.push(Load {
        vaddr: 0x7e00_0000_0000,
        memsz: 0x1000,
        flags: 6,
        data: vec![],
    });
    let dir = tempfile::tempdir().unwrap();
    let core = Core::open(write(dir.path(), "core", &s.build())).unwrap();
    let regions = core.regions();
    let kind_at = |a: u64| regions.iter().find(|r| r.contains(a)).map(|r| r.kind);
    assert_eq!(kind_at(0x402000), Some(RegionKind::Anon), "bss");
    assert_eq!(kind_at(0x402000 + (200 << 20)), Some(RegionKind::Heap));
    assert_eq!(kind_at(0x7e00_0000_0000), Some(RegionKind::Anon));
    assert_eq!(
        regions
            .iter()
            .filter(|r| r.kind == RegionKind::Heap)
            .count(),
        1
    );
}
