//! Damaged cores: the goroutine reader must answer with warnings or a
//! typed error, never panic, loop forever or allocate from a wild length.
//! Each case copies the shipped go1.22 core and overwrites a few words of
//! runtime state in the copy.

use mapscope_goruntime::goroutines::Goroutines;
use mapscope_goruntime::{GoProcess, GoRuntimeError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// File offset of virtual address `addr` in the core, when it is there.
fn core_offset(process: &GoProcess, addr: u64) -> u64 {
    let seg = process
        .memory()
        .core()
        .segment_at(addr)
        .expect("address in a segment");
    assert!(
        addr - seg.vaddr < seg.present,
        "{addr:#x} not present in the core"
    );
    seg.offset + (addr - seg.vaddr)
}

struct Patch {
    addr: u64,
    value: u64,
}

/// Copies the core, applies the patches, and reads goroutines from the copy.
fn patched(
    core: &Path,
    exe: &Path,
    patches: &[Patch],
    original: &GoProcess,
) -> Result<Goroutines, GoRuntimeError> {
    static CASE: AtomicUsize = AtomicUsize::new(0);
    let n = CASE.fetch_add(1, Ordering::Relaxed);
    let copy: PathBuf =
        std::env::temp_dir().join(format!("mapscope-damaged-{}-{n}.core", std::process::id()));
    std::fs::copy(core, &copy).unwrap();
    let mut f = std::fs::OpenOptions::new().write(true).open(&copy).unwrap();
    for p in patches {
        f.seek(SeekFrom::Start(core_offset(original, p.addr)))
            .unwrap();
        f.write_all(&p.value.to_le_bytes()).unwrap();
    }
    drop(f);
    let process = GoProcess::open(&copy, Some(exe)).expect("open patched core");
    let result = process.goroutines();
    drop(process);
    let _ = std::fs::remove_file(&copy);
    result
}

#[test]
fn damaged_runtime_state_degrades_without_panicking() {
    let s = mapscope_testsupport::sample("go1.22");
    let process = GoProcess::open(&s.core, Some(&s.exe)).unwrap();
    let good = process.goroutines().unwrap();
    let allgs = process.global("runtime.allgs").unwrap().address;
    let array = process.memory().read_u64(allgs).unwrap();
    let allm = process
        .memory()
        .read_u64(process.global("runtime.allm").unwrap().address)
        .unwrap();
    let second_g = process.memory().read_u64(array + 8).unwrap();
    let dwarf = process.dwarf().unwrap();
    let t = dwarf.types();
    let off = |ty: &str, path: &str| t.field_offset(ty, path).unwrap();

    // A length beyond the capacity: a typed error naming allgs.
    let e = patched(
        &s.core,
        &s.exe,
        &[Patch {
            addr: allgs + 8,
            value: 1 << 40,
        }],
        &process,
    )
    .unwrap_err();
    assert!(e.to_string().contains("runtime.allgs"), "{e}");

    // A huge length and capacity: bounded by the readable array.
    let r = patched(
        &s.core,
        &s.exe,
        &[
            Patch {
                addr: allgs + 8,
                value: 1 << 40,
            },
            Patch {
                addr: allgs + 16,
                value: 1 << 40,
            },
        ],
        &process,
    )
    .unwrap();
    assert!(
        r.warnings.iter().any(|w| w.contains("runtime.allgs")),
        "{:?}",
        r.warnings
    );

    // A g pointer to nowhere, and a g whose saved context is garbage.
    let r = patched(
        &s.core,
        &s.exe,
        &[
            Patch {
                addr: array,
                value: 0xdead_0000_0000,
            },
            Patch {
                addr: second_g + off("runtime.g", "sched.sp"),
                value: 0x10,
            },
        ],
        &process,
    )
    .unwrap();
    assert_eq!(
        r.goroutines.len() + r.dead + 1,
        good.goroutines.len() + good.dead
    );
    let id = good
        .goroutines
        .iter()
        .find(|g| g.address == second_g)
        .expect("second g")
        .id;
    let damaged = r.by_id(id).expect("second goroutine");
    assert!(damaged.incomplete.is_some(), "{damaged:?}");
    assert!(
        r.warnings.iter().any(|w| w.contains("0xdead00000000")),
        "{:?}",
        r.warnings
    );

    // Every goroutine's sched.sp in the middle of nowhere: walks end early
    // with a reason, nothing else breaks.
    let patches: Vec<Patch> = (0..good.allgs_len as u64)
        .map(|i| process.memory().read_u64(array + 8 * i).unwrap())
        .map(|g| Patch {
            addr: g + off("runtime.g", "sched.pc"),
            value: 0x1234,
        })
        .collect();
    let r = patched(&s.core, &s.exe, &patches, &process).unwrap();
    assert!(r
        .goroutines
        .iter()
        .filter(|g| g.syscall_sp == 0)
        .all(|g| g.frames.is_empty() && g.incomplete.is_some()));

    // An allm list that loops back on itself.
    let r = patched(
        &s.core,
        &s.exe,
        &[Patch {
            addr: allm + off("runtime.m", "alllink"),
            value: allm,
        }],
        &process,
    )
    .unwrap();
    assert!(
        r.warnings.iter().any(|w| w.contains("loops")),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.goroutines.len(), good.goroutines.len());
}
