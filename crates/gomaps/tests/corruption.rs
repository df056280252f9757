//! Corrupted map headers and storage: a copy of a shipped core is patched
//! (absurd B, dirLen, dirPtr, cyclic overflow chains, a cyclic trie, random
//! header bytes) and every decode must end, quickly, in an error or a
//! warning — never a panic, never a hang, never a silent wrong answer.

mod common;

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{parse_addr, resolve_root};
use mapscope_elfcore::{Core, Executable, ProcessMemory};
use mapscope_gomaps::layout::{map_layout, sync_map_layout, MapLayout, SyncMapLayout};
use mapscope_gomaps::{MapDecoder, MapError, MapInstance, NoHeapIndex, StorageKind};
use mapscope_goruntime::dwarf::{DwarfInfo, TypeId};
use mapscope_testsupport::sample;

/// Generous for a debug build; a real walk of these maps takes
/// milliseconds.
const TIME_BOUND: Duration = Duration::from_secs(10);

struct Patcher {
    _dir: tempfile::TempDir,
    core: PathBuf,
    exe: PathBuf,
    /// (vaddr, end, file offset) of every core segment with file bytes.
    segments: Vec<(u64, u64, u64)>,
    dwarf: DwarfInfo,
    truth: serde_json::Value,
}

impl Patcher {
    fn new(name: &str) -> Patcher {
        let s = sample(name);
        let dir = tempfile::tempdir().expect("tempdir");
        let core = dir.path().join("core");
        fs::copy(&s.core, &core).expect("copy core");
        let segments = Core::open(&core)
            .expect("core")
            .segments()
            .iter()
            .map(|seg| (seg.vaddr, seg.vaddr + seg.present, seg.offset))
            .collect();
        let exe_bytes = fs::read(&s.exe).expect("exe");
        let dwarf = DwarfInfo::load(&exe_bytes).expect("dwarf");
        Patcher {
            _dir: dir,
            core,
            exe: s.exe.clone(),
            segments,
            dwarf,
            truth: s.truth(),
        }
    }

    fn file_offset(&self, addr: u64) -> u64 {
        let &(start, _, offset) = self
            .segments
            .iter()
            .find(|&&(s, e, _)| s <= addr && addr < e)
            .unwrap_or_else(|| panic!("{addr:#x} not in the core file"));
        offset + (addr - start)
    }

    fn memory(&self) -> ProcessMemory {
        let core = Core::open(&self.core).expect("core");
        let exe = Executable::open(&self.exe).expect("exe");
        ProcessMemory::new(core, Some(exe)).expect("memory")
    }

    /// Applies `patches` (address, bytes), runs `f` on the patched image,
    /// restores the original bytes.
    fn with_patch<T>(
        &self,
        patches: &[(u64, Vec<u8>)],
        f: impl FnOnce(&ProcessMemory, &DwarfInfo) -> T,
    ) -> T {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.core)
            .expect("open core");
        let mut originals = Vec::new();
        for (addr, bytes) in patches {
            let off = self.file_offset(*addr);
            let mut old = vec![0u8; bytes.len()];
            file.read_exact_at(&mut old, off).expect("read original");
            originals.push((off, old));
            file.write_all_at(bytes, off).expect("patch");
        }
        let result = {
            let mem = self.memory();
            f(&mem, &self.dwarf)
        };
        for (off, old) in originals.iter().rev() {
            file.write_all_at(old, *off).expect("restore");
        }
        result
    }

    fn map(&self, name: &str) -> (TypeId, u64) {
        let m = self.truth["maps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap();
        let root = m["root"].as_str().unwrap();
        let mem = self.memory();
        let inc = common::Incident {
            name: String::new(),
            mem,
            dwarf: DwarfInfo::load(&fs::read(&self.exe).unwrap()).unwrap(),
            truth: serde_json::Value::Null,
        };
        let (ty, _) = resolve_root(&inc, root).unwrap();
        (ty, parse_addr(&m["address"]))
    }

    fn field_offset(&self, ty: TypeId, field: &str) -> u64 {
        let types = self.dwarf.types();
        let map = types.map_type(ty).expect("map type");
        types.field_path(map.header, field).expect("field").offset
    }
}

/// Decodes under the time bound; a panic fails the test by itself.
fn decode(
    mem: &ProcessMemory,
    dwarf: &DwarfInfo,
    ty: TypeId,
    addr: u64,
) -> Result<MapInstance, MapError> {
    let start = Instant::now();
    let result = MapDecoder::new(mem, dwarf).decode(ty, addr, &NoHeapIndex);
    assert!(
        start.elapsed() < TIME_BOUND,
        "decode took {:?}",
        start.elapsed()
    );
    result
}

fn expect_error(what: &str, r: Result<MapInstance, MapError>) -> MapError {
    match r {
        Err(e) => {
            println!("{what}: error: {e}");
            e
        }
        Ok(m) => panic!(
            "{what}: decoded without error: len {} live {} warnings {:?}",
            m.len, m.live_entries, m.warnings
        ),
    }
}

fn expect_warning(what: &str, r: Result<MapInstance, MapError>, needle: &str) {
    match r {
        Ok(m) => {
            println!("{what}: warnings {:?}", m.warnings);
            assert!(
                m.warnings.iter().any(|w| w.contains(needle)),
                "{what}: no warning containing {needle:?}: {:?}",
                m.warnings
            );
        }
        Err(e) => panic!("{what}: expected a warning, got error {e}"),
    }
}

fn error_or_warning(what: &str, r: Result<MapInstance, MapError>) {
    match r {
        Err(e) => println!("{what}: error: {e}"),
        Ok(m) => {
            println!("{what}: warnings {:?}", m.warnings);
            assert!(
                !m.warnings.is_empty(),
                "{what}: decoded silently (len {}, live {})",
                m.len,
                m.live_entries
            );
        }
    }
}

fn le(v: u64, n: usize) -> Vec<u8> {
    v.to_le_bytes()[..n].to_vec()
}

#[test]
fn classic_corrupt_headers_and_chains() {
    let p = Patcher::new("go1.22");
    let (ty, addr) = p.map("sessions");
    let b_off = p.field_offset(ty, "B");
    let count_off = p.field_offset(ty, "count");
    let buckets_off = p.field_offset(ty, "buckets");
    let old_off = p.field_offset(ty, "oldbuckets");
    let extra_off = p.field_offset(ty, "extra");

    // The intact map decodes cleanly.
    let clean = p
        .with_patch(&[], |m, d| decode(m, d, ty, addr))
        .expect("clean decode");
    assert!(clean.warnings.is_empty(), "{:?}", clean.warnings);

    let e = expect_error(
        "B = 255",
        p.with_patch(&[(addr + b_off, vec![255])], |m, d| decode(m, d, ty, addr)),
    );
    assert!(matches!(e, MapError::Corrupt { .. }));
    expect_error(
        "B = 30",
        p.with_patch(&[(addr + b_off, vec![30])], |m, d| decode(m, d, ty, addr)),
    );
    error_or_warning(
        "B + 1",
        p.with_patch(&[(addr + b_off, vec![10])], |m, d| decode(m, d, ty, addr)),
    );
    error_or_warning(
        "B - 1",
        p.with_patch(&[(addr + b_off, vec![8])], |m, d| decode(m, d, ty, addr)),
    );
    expect_error(
        "count < 0",
        p.with_patch(&[(addr + count_off, le(u64::MAX - 4, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
    );
    expect_warning(
        "count + 1",
        p.with_patch(&[(addr + count_off, le(3001, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
        "len 3001",
    );
    expect_error(
        "buckets = garbage",
        p.with_patch(&[(addr + buckets_off, le(0xdead_beef_0000, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
    );
    expect_warning(
        "oldbuckets = garbage",
        p.with_patch(&[(addr + old_off, le(0x1234_5678_9000, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
        "old bucket array",
    );
    expect_warning(
        "extra = garbage",
        p.with_patch(&[(addr + extra_off, le(0x10, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
        "mapextra",
    );

    // Overflow chains: a bucket pointing at itself, and one pointing back
    // into the primary array.
    let map = *p.dwarf.types().map_type(ty).unwrap();
    let MapLayout::Classic(layout) = map_layout(&p.dwarf, &map).unwrap() else {
        panic!("classic")
    };
    let overflow_off = layout.bucket.overflow_offset.unwrap();
    let overflow = clean
        .objects
        .iter()
        .find(|o| o.kind == StorageKind::OverflowBucket)
        .map(|o| o.address)
        .or_else(|| {
            // Overflow buckets preallocated in the array are not separate
            // objects: find one through a chain.
            let buckets = match &clean.header {
                mapscope_gomaps::Header::Classic(h) => h.buckets,
                _ => 0,
            };
            (0..512u64).find_map(|i| {
                let b = buckets + i * layout.bucket.size;
                let next = p.with_patch(&[], |m, _| m.read_u64(b + overflow_off).unwrap());
                (next != 0).then_some(next)
            })
        })
        .expect("sessions has overflow buckets");
    expect_warning(
        "overflow cycle",
        p.with_patch(&[(overflow + overflow_off, le(overflow, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
        "cycle",
    );
    let buckets = match &clean.header {
        mapscope_gomaps::Header::Classic(h) => h.buckets,
        _ => unreachable!(),
    };
    expect_warning(
        "overflow into the primary array",
        p.with_patch(
            &[(overflow + overflow_off, le(buckets + layout.bucket.size, 8))],
            |m, d| decode(m, d, ty, addr),
        ),
        "primary bucket array",
    );
}

#[test]
fn swiss_corrupt_headers_tables_and_trie() {
    let p = Patcher::new("go1.26");
    let (ty, addr) = p.map("sessions");
    let dir_len_off = p.field_offset(ty, "dirLen");
    let dir_ptr_off = p.field_offset(ty, "dirPtr");
    let depth_off = p.field_offset(ty, "globalDepth");
    let clean = p
        .with_patch(&[], |m, d| decode(m, d, ty, addr))
        .expect("clean decode");
    assert!(clean.warnings.is_empty(), "{:?}", clean.warnings);
    let (dir_ptr, table) = match (&clean.header, &clean.storage) {
        (mapscope_gomaps::Header::Swiss(h), mapscope_gomaps::Storage::Swiss(s)) => {
            (h.dir_ptr, s.table_list[0])
        }
        _ => panic!("swiss"),
    };

    expect_error(
        "dirLen = 2^40",
        p.with_patch(&[(addr + dir_len_off, le(1 << 40, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
    );
    expect_error(
        "dirLen = 2^23",
        p.with_patch(&[(addr + dir_len_off, le(1 << 23, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
    );
    expect_error(
        "dirLen < 0",
        p.with_patch(&[(addr + dir_len_off, le(u64::MAX, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
    );
    expect_error(
        "dirPtr = garbage",
        p.with_patch(&[(addr + dir_ptr_off, le(0xdead_beef_0000, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
    );
    expect_error(
        "dirPtr = nil",
        p.with_patch(&[(addr + dir_ptr_off, le(0, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
    );
    error_or_warning(
        "dirLen = 0 (directory read as a small-map group)",
        p.with_patch(&[(addr + dir_len_off, le(0, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
    );
    expect_warning(
        "dirLen = 8 with globalDepth 2",
        p.with_patch(
            &[(addr + dir_len_off, le(8, 8)), (addr + depth_off, vec![2])],
            |m, d| decode(m, d, ty, addr),
        ),
        "2^globalDepth",
    );

    let map = *p.dwarf.types().map_type(ty).unwrap();
    let MapLayout::Swiss(layout) = map_layout(&p.dwarf, &map).unwrap() else {
        panic!("swiss")
    };
    expect_warning(
        "lengthMask = garbage",
        p.with_patch(
            &[(
                table.address + layout.t_length_mask.offset,
                le(0x00ff_ffff_ffff, 8),
            )],
            |m, d| decode(m, d, ty, addr),
        ),
        "lengthMask",
    );
    expect_warning(
        "groups.data = garbage",
        p.with_patch(
            &[(
                table.address + layout.t_groups_data.offset,
                le(0x7777_0000_0000, 8),
            )],
            |m, d| decode(m, d, ty, addr),
        ),
        "not in the core",
    );
    expect_warning(
        "directory entry = garbage",
        p.with_patch(&[(dir_ptr, le(0x5555_0000_0000, 8))], |m, d| {
            decode(m, d, ty, addr)
        }),
        "unreadable",
    );
    // Flip the first group's occupancy: all empty if it holds entries,
    // all full otherwise — the counts no longer match `used`.
    let ctrl_at = table.groups + layout.group.control_offset;
    let ctrl = p.with_patch(&[], |m, _| m.read_u64(ctrl_at).unwrap());
    let any_full = (0..8).any(|j| (ctrl >> (8 * j)) & 0x80 == 0);
    let flipped = if any_full {
        0x8080_8080_8080_8080
    } else {
        0x0101_0101_0101_0101
    };
    expect_warning(
        "control bytes flipped",
        p.with_patch(&[(ctrl_at, le(flipped, 8))], |m, d| decode(m, d, ty, addr)),
        "full slots counted",
    );

    // sync.Map hash trie: a child pointing back at the root.
    let (sync_ty, sync_addr) = p.map("tokenCache");
    let sync_id = p.dwarf.types().resolve(sync_ty);
    let SyncMapLayout::HashTrie(trie) = sync_map_layout(&p.dwarf, sync_id).unwrap() else {
        panic!("trie")
    };
    let root = p.with_patch(&[], |m, _| {
        m.read_u64(sync_addr + trie.root.offset).unwrap()
    });
    let child0 = root + trie.children_offset;
    expect_warning(
        "trie cycle",
        p.with_patch(&[(child0, le(root, 8))], |m, d| {
            decode(m, d, sync_ty, sync_addr)
        }),
        "twice",
    );
}

/// A trie cycle below the root, walked by the parallel parts (the heap
/// walk as lookup: parts list their nodes unchecked) and by one thread (the
/// same lookup behind a closure: a set checks each node): the parts must
/// notice the repeat, or outgrow their list, and give the one-thread
/// answer, warnings included, in time.
#[test]
fn trie_cycles_below_the_root_give_the_sequential_answer() {
    let p = Patcher::new("go1.26");
    let (sync_ty, sync_addr) = p.map("tokenCache");
    let sync_id = p.dwarf.types().resolve(sync_ty);
    let SyncMapLayout::HashTrie(trie) = sync_map_layout(&p.dwarf, sync_id).unwrap() else {
        panic!("trie")
    };
    // The root, and its first child that is an indirect node.
    let (root, inner) = p.with_patch(&[], |m, _| {
        let root = m.read_u64(sync_addr + trie.root.offset).unwrap();
        let inner = (0..trie.child_count)
            .map(|k| {
                m.read_u64(root + trie.children_offset + k * trie.child_stride)
                    .unwrap()
            })
            .find(|&c| c != 0 && m.read_u8(c + trie.entry_is_entry.offset).unwrap() == 0)
            .expect("the sample's trie has an indirect node below the root");
        (root, inner)
    });
    let slot = |k: u64| inner + trie.children_offset + k * trie.child_stride;
    type Patches = Vec<(u64, Vec<u8>)>;
    let cases: [(&str, Patches); 2] = [
        // One child of an inner node points back at the root.
        ("back edge", vec![(slot(0), le(root, 8))]),
        // Every child of it does: each pass through it walks the trie 16
        // more times, so only the parts' cap ends their walk early.
        (
            "fan of back edges",
            (0..trie.child_count)
                .map(|k| (slot(k), le(root, 8)))
                .collect(),
        ),
    ];
    for (what, patches) in cases {
        let (parallel, sequential) = p.with_patch(&patches, |_, _| {
            let process =
                mapscope_goruntime::GoProcess::open(&p.core, Some(&p.exe)).expect("process");
            let heap = process.heap().expect("heap walk");
            let dwarf = process.dwarf().expect("dwarf");
            let decoder = MapDecoder::new(process.memory(), dwarf);
            let closure = |a: u64| mapscope_gomaps::AllocationLookup::object_at(heap, a);
            let start = Instant::now();
            let parallel = decoder.decode(sync_ty, sync_addr, heap).expect("decode");
            assert!(
                start.elapsed() < TIME_BOUND,
                "{what}: {:?}",
                start.elapsed()
            );
            let sequential = decoder
                .decode(sync_ty, sync_addr, &closure)
                .expect("decode");
            (parallel, sequential)
        });
        println!("{what}: warnings {:?}", parallel.warnings);
        assert!(
            parallel.warnings.iter().any(|w| w.contains("twice")),
            "{what}: {:?}",
            parallel.warnings
        );
        let json = |i: &MapInstance| serde_json::to_value(i).unwrap();
        assert_eq!(json(&parallel), json(&sequential), "{what}");
    }
}

/// Random bytes over the whole header, many times: every decode ends in
/// time with a result or an error.
fn random_headers(name: &str, rounds: u64) {
    let p = Patcher::new(name);
    let (ty, addr) = p.map("sessions");
    let header_size = p
        .dwarf
        .types()
        .size_of(p.dwarf.types().map_type(ty).unwrap().header)
        .unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut errors, mut warned) = (0, 0);
    for _ in 0..rounds {
        let at = next() % header_size;
        let len = (1 + next() % 8).min(header_size - at) as usize;
        let bytes = next().to_le_bytes()[..len].to_vec();
        match p.with_patch(&[(addr + at, bytes)], |m, d| decode(m, d, ty, addr)) {
            Err(_) => errors += 1,
            Ok(m) if !m.warnings.is_empty() => warned += 1,
            Ok(_) => {}
        }
    }
    println!("{name}: {rounds} random headers: {errors} errors, {warned} with warnings");
}

#[test]
fn random_header_bytes_never_panic_or_hang() {
    random_headers("go1.22", 150);
    random_headers("go1.26", 150);
}
