//! Bit flips and zeroed pages inside the Go runtime's structures of a
//! shipped core (issue #10): map headers (classic `hmap` in go1.22, Swiss
//! `maps.Map` in go1.26, addresses from truth.json), bucket and group
//! arrays, `mspan` records and what they point at (addresses from the heap
//! walk of the intact core), `mheap_`'s span list and arena index, whole
//! zeroed pages of heap and of runtime data.
//!
//! Each case patches one copy of the core, runs the commands that read what
//! was damaged, and restores the bytes. Rules as in `corruption.rs`: exit
//! 0/1/2 within the time bound, never a panic, one line naming the file on
//! exit 2, and a warning in the JSON when a damaged input still exits 0.

mod corruption_support;

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use corruption_support::{binary, judge, report, run_bounded, time_bound, Cmd, Demand, Judged};
use mapscope_elfcore::Core;
use mapscope_goruntime::dwarf::DwarfInfo;
use mapscope_goruntime::GoProcess;
use mapscope_testsupport::{sample, Sample};

/// A copy of a sample core that can be patched by virtual address.
struct Patchable {
    dir: tempfile::TempDir,
    sample: Sample,
    core: PathBuf,
    /// (vaddr, vaddr + present, file offset) of every segment.
    segments: Vec<(u64, u64, u64)>,
    dwarf: DwarfInfo,
    process: GoProcess,
}

/// One damage: patches (address, bytes) and the commands that must notice.
struct Damage {
    what: String,
    patches: Vec<(u64, Vec<u8>)>,
    /// Commands that read the damaged bytes (exit 0 must warn).
    notice: Vec<Cmd>,
    /// Commands run only for survival (they may not look there).
    survive: Vec<Cmd>,
}

impl Patchable {
    fn new(name: &str) -> Patchable {
        let sample = sample(name);
        let dir = tempfile::tempdir().expect("tempdir");
        let core = dir.path().join("core");
        fs::copy(&sample.core, &core).expect("copy core");
        let segments = Core::open(&core)
            .expect("core")
            .segments()
            .iter()
            .map(|s| (s.vaddr, s.vaddr + s.present, s.offset))
            .collect();
        let dwarf = DwarfInfo::load(&fs::read(&sample.exe).expect("exe")).expect("dwarf");
        let process = GoProcess::open(&sample.core, Some(&sample.exe)).expect("process");
        Patchable {
            dir,
            sample,
            core,
            segments,
            dwarf,
            process,
        }
    }

    fn offset_of(&self, addr: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|&&(s, e, _)| s <= addr && addr < e)
            .map(|&(s, _, off)| off + (addr - s))
    }

    fn read_u64(&self, addr: u64) -> u64 {
        self.process
            .memory()
            .read_u64(addr)
            .unwrap_or_else(|e| panic!("{addr:#x}: {e}"))
    }

    fn field(&self, ty: &str, path: &str) -> u64 {
        self.dwarf
            .types()
            .field_offset(ty, path)
            .unwrap_or_else(|| panic!("no {ty}.{path} in DWARF"))
    }

    fn global(&self, name: &str) -> u64 {
        self.process
            .global(name)
            .unwrap_or_else(|| panic!("no global {name}"))
            .address
    }

    fn truth_map(&self, name: &str) -> u64 {
        let truth = self.sample.truth();
        let m = truth["maps"]
            .as_array()
            .and_then(|a| a.iter().find(|m| m["name"] == name))
            .unwrap_or_else(|| panic!("no truth map {name}"));
        let a = m["address"].as_str().expect("address");
        u64::from_str_radix(a.trim_start_matches("0x"), 16).expect("hex address")
    }

    /// The `mspan` record and start of the in-use span holding `addr`.
    fn span_of(&self, addr: u64) -> (u64, u64) {
        let heap = self.process.heap().expect("heap of the intact core");
        let i = heap.span_index_of(addr).expect("address in a span");
        let s = heap.spans()[i];
        (s.mspan, s.start)
    }

    /// Applies the damage, runs the commands, restores the bytes.
    fn run(&self, d: &Damage, results: &mut Vec<Judged>) {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.core)
            .expect("open copy");
        let mut originals = Vec::new();
        for (addr, bytes) in &d.patches {
            let off = self
                .offset_of(*addr)
                .unwrap_or_else(|| panic!("{}: {addr:#x} not in the core file", d.what));
            let mut old = vec![0u8; bytes.len()];
            file.read_exact_at(&mut old, off).expect("read");
            file.write_all_at(bytes, off).expect("patch");
            originals.push((off, old));
        }
        let label = format!("{} {}", self.sample.name, d.what);
        let inputs: [&Path; 3] = [&self.core, &self.sample.exe, &self.sample.profile];
        let runs = d
            .notice
            .iter()
            .map(|&c| (c, Demand::WarnIfOk))
            .chain(d.survive.iter().map(|&c| (c, Demand::Survive)));
        for (cmd, demand) in runs {
            let args: Vec<OsString> = cmd.args(
                &self.core,
                Some(&self.sample.exe),
                Some(&self.sample.profile),
            );
            let outcome = run_bounded(&binary(), &args, &self.dir.path().join("out"), time_bound());
            results.push(judge(&label, cmd, &outcome, demand, &inputs));
        }
        for (off, old) in originals.iter().rev() {
            file.write_all_at(old, *off).expect("restore");
        }
    }
}

fn u64le(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// Damage to `mspan` records, `mheap_` and runtime data, common to both
/// samples. `map` is a heap address whose span is damaged.
fn runtime_damage(p: &Patchable, map: u64) -> Vec<Damage> {
    let (mspan, _start) = p.span_of(map);
    let f = |path: &str| p.field("runtime.mspan", path);
    let mheap = p.global("runtime.mheap_");
    let allspans = mheap + p.field("runtime.mheap", "allspans");
    let arenas = mheap + p.field("runtime.mheap", "arenas");
    let allgs = p.global("runtime.allgs");
    let heap_only = || vec![Cmd::Heap];
    let page = |a: u64| a & !0xfff;
    vec![
        Damage {
            what: "mspan.npages = 2^32-1".into(),
            patches: vec![(mspan + f("npages"), u64le(0xffff_ffff))],
            notice: heap_only(),
            survive: vec![Cmd::Maps],
        },
        Damage {
            what: "mspan.startAddr high bit flipped".into(),
            patches: vec![(
                mspan + f("startAddr"),
                u64le(p.read_u64(mspan + f("startAddr")) ^ (1 << 45)),
            )],
            notice: heap_only(),
            survive: vec![Cmd::Maps],
        },
        Damage {
            what: "mspan.allocBits points nowhere".into(),
            patches: vec![(mspan + f("allocBits"), u64le(0xdead_0000_0000))],
            notice: heap_only(),
            survive: vec![Cmd::Analyze],
        },
        Damage {
            what: "mspan.nelems = 65535".into(),
            patches: vec![(mspan + f("nelems"), vec![0xff, 0xff])],
            notice: heap_only(),
            survive: vec![],
        },
        Damage {
            what: "mheap_.allspans array pointer flipped".into(),
            patches: vec![(allspans, u64le(p.read_u64(allspans) ^ (1 << 44)))],
            notice: vec![Cmd::Heap, Cmd::Maps],
            // Regions label go-heap from the arena index, not from spans.
            survive: vec![Cmd::Regions],
        },
        Damage {
            what: "mheap_.allspans len = 2^40".into(),
            patches: vec![
                (allspans + 8, u64le(1 << 40)),
                (allspans + 16, u64le(1 << 40)),
            ],
            notice: vec![Cmd::Heap],
            survive: vec![],
        },
        Damage {
            what: "mheap_.arenas[0] (arena index) pointer flipped".into(),
            patches: vec![(arenas, u64le(p.read_u64(arenas) ^ (1 << 43)))],
            notice: vec![Cmd::Heap, Cmd::Maps],
            // The arena list (heapArenas) still labels go-heap regions.
            survive: vec![Cmd::Regions],
        },
        Damage {
            what: "the page holding the mspan zeroed".into(),
            patches: vec![(page(mspan), vec![0; 4096])],
            notice: heap_only(),
            survive: vec![],
        },
        Damage {
            what: "the page of mheap_ holding allspans zeroed".into(),
            patches: vec![(page(allspans), vec![0; 4096])],
            notice: vec![Cmd::Heap, Cmd::Maps],
            survive: vec![Cmd::Regions],
        },
        Damage {
            // Its first page holds locks and page-allocator state the walk
            // does not read: surviving is all that is asked.
            what: "the first page of mheap_ zeroed".into(),
            patches: vec![(page(mheap), vec![0; 4096])],
            notice: vec![],
            survive: vec![Cmd::Heap],
        },
        Damage {
            what: "runtime.allgs slice zeroed".into(),
            patches: vec![(allgs, vec![0; 24])],
            notice: vec![Cmd::Goroutines],
            survive: vec![],
        },
        Damage {
            what: "runtime.allgs len = 2^31".into(),
            patches: vec![(allgs + 8, u64le(1 << 31)), (allgs + 16, u64le(1 << 31))],
            notice: vec![Cmd::Goroutines],
            survive: vec![Cmd::Analyze],
        },
    ]
}

#[test]
fn swiss_maps_and_runtime_go126() {
    let p = Patchable::new("go1.26");
    let m = "internal/runtime/maps.Map";
    let map = p.truth_map("sessions");
    let used = map + p.field(m, "used");
    let dir_ptr = map + p.field(m, "dirPtr");
    let dir_len = map + p.field(m, "dirLen");
    let depth = map + p.field(m, "globalDepth");
    // Directory → first table → its groups array.
    let table = p.read_u64(p.read_u64(dir_ptr));
    let groups = p.read_u64(table + p.field("internal/runtime/maps.table", "groups.data"));
    let maps = || vec![Cmd::Maps];
    let mut damage = vec![
        Damage {
            what: "Map.used off by 1024".into(),
            patches: vec![(used, u64le(p.read_u64(used) ^ 0x400))],
            notice: vec![Cmd::Maps, Cmd::Analyze],
            survive: vec![],
        },
        Damage {
            what: "Map.dirLen = 2^31-1".into(),
            patches: vec![(dir_len, u64le(0x7fff_ffff))],
            notice: maps(),
            survive: vec![],
        },
        Damage {
            what: "Map.dirPtr points nowhere".into(),
            patches: vec![(dir_ptr, u64le(p.read_u64(dir_ptr) ^ (1 << 46)))],
            notice: maps(),
            survive: vec![],
        },
        Damage {
            what: "Map.globalDepth = 63".into(),
            patches: vec![(depth, vec![63])],
            notice: maps(),
            survive: vec![],
        },
        Damage {
            what: "group 0 control word: every slot empty".into(),
            patches: vec![(groups, vec![0x80; 8])],
            notice: maps(),
            survive: vec![],
        },
        Damage {
            what: "a page of the first table's groups zeroed".into(),
            patches: vec![((groups + 4096) & !0xfff, vec![0; 4096])],
            notice: vec![Cmd::Maps, Cmd::Analyze],
            survive: vec![],
        },
    ];
    damage.extend(runtime_damage(&p, groups));
    let mut results = Vec::new();
    for d in &damage {
        p.run(d, &mut results);
    }
    report(&results);
}

#[test]
fn classic_maps_and_runtime_go122() {
    let p = Patchable::new("go1.22");
    let h = "runtime.hmap";
    let map = p.truth_map("sessions");
    let count = map + p.field(h, "count");
    let b = map + p.field(h, "B");
    let buckets_field = map + p.field(h, "buckets");
    let buckets = p.read_u64(buckets_field);
    // A bucket with an empty slot (tophash emptyRest 0 / emptyOne 1), so
    // marking every slot full adds entries the decoder must not accept; a
    // bucket that is already full would change nothing it counts.
    let truth = p.sample.truth();
    let storage = &truth["maps"]
        .as_array()
        .and_then(|a| a.iter().find(|m| m["name"] == "sessions"))
        .expect("truth map sessions")["storage"];
    let bucket_size = storage["bucket_size"].as_u64().expect("bucket_size");
    let nbuckets = storage["buckets"].as_u64().expect("buckets");
    let not_full = (0..nbuckets)
        .map(|i| buckets + i * bucket_size)
        .find(|&b| p.read_u64(b).to_le_bytes().iter().any(|&t| t <= 1))
        .expect("a bucket of sessions with an empty slot");
    let maps = || vec![Cmd::Maps];
    let mut damage = vec![
        Damage {
            what: "hmap.count off by 1024".into(),
            patches: vec![(count, u64le(p.read_u64(count) ^ 0x400))],
            notice: vec![Cmd::Maps, Cmd::Analyze],
            survive: vec![],
        },
        Damage {
            what: "hmap.B = 60".into(),
            patches: vec![(b, vec![60])],
            notice: maps(),
            survive: vec![],
        },
        Damage {
            what: "hmap.buckets points nowhere".into(),
            patches: vec![(buckets_field, u64le(buckets ^ (1 << 46)))],
            notice: maps(),
            survive: vec![],
        },
        Damage {
            what: "tophash of a bucket with empty slots: every slot full".into(),
            patches: vec![(not_full, vec![0x80; 8])],
            notice: maps(),
            survive: vec![],
        },
        Damage {
            what: "a page of the bucket array zeroed".into(),
            patches: vec![((buckets + 4096) & !0xfff, vec![0; 4096])],
            notice: vec![Cmd::Maps, Cmd::Analyze],
            survive: vec![],
        },
    ];
    damage.extend(runtime_damage(&p, buckets));
    let mut results = Vec::new();
    for d in &damage {
        p.run(d, &mut results);
    }
    report(&results);
}
