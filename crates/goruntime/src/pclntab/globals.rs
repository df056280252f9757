//! Runtime globals of an executable without DWARF: where `runtime.mheap_`,
//! `runtime.allgs`, `runtime.allm`, … are, and the stand-in DWARF
//! ([`DwarfInfo::from_table`]) built from the built-in layout table.
//!
//! Owns: choosing the layout table for the build (release, GOARCH,
//! `noswissmap`), placing each runtime global of the table — by ELF symbol
//! (`-w`), from the moduledata (`runtime.firstmoduledata`), from the code of
//! runtime functions the pclntab names (amd64 RIP-relative operands, arm64
//! `ADRP` + `ADD`/`LDR`/`STR`), or by the size class table's known values —
//! and validating every searched candidate against the table's layout in
//! the process memory. A candidate that does not validate is never used.
//!
//! Unlike the rest of [`crate::pclntab`] this reads the core: candidates are
//! checked against what the running program left in its globals.
//!
//! Does not touch: the layouts themselves ([`crate::dwarf::table`]), the
//! heap walk, goroutines.

use std::collections::{BTreeSet, HashMap};

use mapscope_elfcore::{Arch as CoreArch, ProcessMemory};

use super::image::Arch;
use super::Pclntab;
use crate::buildinfo::BuildInfo;
use crate::dwarf::table::{builtin, LayoutTable};
use crate::dwarf::{DwarfInfo, TypeTable};
use crate::symbols::SymbolTable;

/// How a global was placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The ELF symbol table names it.
    Symbol,
    /// `runtime.firstmoduledata`, found from the pclntab.
    ModuleData,
    /// A reference in the code of this runtime function, validated against
    /// the layout in the core.
    Code(&'static str),
    /// A search of the executable's data for its known contents.
    Contents,
}

/// Bytes of one function scanned for references.
const MAX_FUNCTION_BYTES: u64 = 64 * 1024;
/// Occurrences of a string's bytes tried when looking for its header.
const MAX_STRING_OCCURRENCES: usize = 16;
/// Entries of a list checked when validating a candidate.
const MAX_CHECKED: u64 = 64;

/// Runtime functions whose code refers to each searched global.
const SEARCHES: &[(&str, &[&str])] = &[
    (
        "runtime.mheap_",
        &[
            "runtime.mallocinit",
            "runtime.(*mcache).allocLarge",
            "runtime.(*mcentral).grow",
            "runtime.gcinit",
            "runtime.mallocgc",
            "runtime.(*mheap).alloc",
        ],
    ),
    (
        "runtime.allgs",
        &[
            "runtime.allgadd",
            "runtime.forEachG",
            "runtime.checkdead",
            "runtime.forEachGRace",
        ],
    ),
    (
        "runtime.allm",
        &["runtime.mcommoninit", "runtime.checkdead", "runtime.allocm"],
    ),
    (
        "runtime.mbuckets",
        &[
            "runtime.stkbucket",
            "runtime.mProf_Flush",
            "runtime.mProf_FlushLocked",
            "runtime.memProfileInternal",
            "runtime.mProf_NextCycle",
            "runtime.mProf_PostSweep",
        ],
    ),
    (
        "runtime.memstats",
        &[
            "runtime.readmemstats_m",
            "runtime.ReadMemStats",
            "runtime.mallocinit",
            "runtime.(*mheap).allocSpan",
            "runtime.(*mheap).freeSpanLocked",
            "runtime.gcMarkTermination",
        ],
    ),
    (
        "runtime.gcController",
        &[
            "runtime.gcinit",
            "runtime.gcStart",
            "runtime.gcMarkTermination",
            "runtime.(*mheap).allocSpan",
            "runtime.(*mheap).freeSpanLocked",
            "runtime.setGCPercent",
        ],
    ),
    (
        "runtime.mProfCycle",
        &[
            "runtime.mProf_NextCycle",
            "runtime.mProf_Flush",
            "runtime.mProf_FlushLocked",
            "runtime.mProf_PostSweep",
            "runtime.mProf_Malloc",
            "runtime.mProf_Free",
            "runtime.gcMarkTermination",
        ],
    ),
    (
        "runtime.MemProfileRate",
        &[
            "runtime.nextSample",
            "runtime.profilealloc",
            "runtime.mallocinit",
        ],
    ),
];

/// The stand-in DWARF of an executable without DWARF, and one warning per
/// degradation (the table used, names found by searching, names not found).
/// `Err` says why there is no table for this build.
pub(crate) fn table_dwarf(
    buildinfo: Option<&BuildInfo>,
    core_arch: CoreArch,
    symbols: &SymbolTable<'_>,
    pclntab: Option<&Pclntab<'_>>,
    memory: &ProcessMemory,
    bias: u64,
) -> Result<(DwarfInfo, Vec<String>), String> {
    let info = buildinfo.ok_or("no Go build info to choose a layout table by")?;
    let version = info.version();
    let goarch = info
        .setting("GOARCH")
        .map(str::to_string)
        .unwrap_or_else(|| match core_arch {
            CoreArch::X86_64 => "amd64".to_string(),
            CoreArch::Aarch64 => "arm64".to_string(),
        });
    let experiments = info.experiments();
    let noswiss = experiments.iter().any(|e| e == "noswissmap");
    let chosen = (version.major == 1)
        .then(|| builtin(version.minor, &goarch, noswiss))
        .flatten()
        .ok_or_else(|| {
            format!(
                "no built-in layout table for {} linux/{goarch}{}",
                if version.raw.is_empty() {
                    "this Go version"
                } else {
                    &version.raw
                },
                if noswiss {
                    " GOEXPERIMENT=noswissmap"
                } else {
                    ""
                }
            )
        })?;
    let table = LayoutTable::parse(chosen.text).map_err(|e| format!("{}: {e}", chosen.name))?;
    let mut warnings = Vec::new();
    let mut note = format!(
        "no DWARF: runtime layouts from the built-in table for {}",
        table.header.describe()
    );
    if table.header.go != version.release {
        note.push_str(&format!(" (the executable is {})", version.release));
    }
    let others: Vec<&String> = experiments.iter().filter(|e| *e != "noswissmap").collect();
    if !others.is_empty() {
        note.push_str(&format!(
            "; the table is for the default experiments, the executable has GOEXPERIMENT={}",
            others
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    note.push_str("; program types, globals and locals are unknown");
    warnings.push(note);

    let names: Vec<String> = table.globals.iter().map(|(n, _)| n.clone()).collect();
    let found = locate(
        &names,
        Some(info.go_version.as_str()),
        &table,
        symbols,
        pclntab,
        memory,
        bias,
    );
    let searched: Vec<String> = names
        .iter()
        .filter_map(|n| match found.get(n)? {
            (_, Placement::Code(f)) => Some(format!("{n} (code of {f})")),
            (_, Placement::Contents) => Some(format!("{n} (its contents)")),
            (_, Placement::ModuleData) if !symbols.is_empty() => None,
            (_, Placement::ModuleData) => Some(format!("{n} (pclntab)")),
            _ => None,
        })
        .collect();
    if !searched.is_empty() {
        warnings.push(format!(
            "no symbol table: runtime globals found by searching the executable and checked against the core: {}",
            searched.join(", ")
        ));
    }
    let mut dwarf = DwarfInfo::from_table(table, |name| found.get(name).map(|&(a, _)| a));
    // The program's map types from its runtime type descriptors.
    if let Some(md) = pclntab.and_then(|p| p.moduledata()) {
        let (start, end) = (md.types.wrapping_add(bias), md.etypes.wrapping_add(bias));
        if let Some(section) =
            crate::rtype::TypesSection::read(start, end, |a, buf| memory.read(a, buf).is_ok())
        {
            let done = crate::rtype::import_map_types(&mut dwarf, &section);
            if let Some(e) = done
                .first_error
                .filter(|_| done.failed > 0 || done.map_types == 0)
            {
                warnings.push(format!(
                    "runtime type descriptors: {} map types read, {} unreadable ({e})",
                    done.map_types, done.failed
                ));
            }
        }
    }
    Ok((dwarf, warnings))
}

/// Places every global of `names` (link addresses).
pub fn locate(
    names: &[String],
    version: Option<&str>,
    table: &LayoutTable,
    symbols: &SymbolTable<'_>,
    pclntab: Option<&Pclntab<'_>>,
    memory: &ProcessMemory,
    bias: u64,
) -> HashMap<String, (u64, Placement)> {
    let mut found = HashMap::new();
    for name in names {
        if let Some(address) = symbols.address_of(name) {
            found.insert(name.clone(), (address, Placement::Symbol));
        }
    }
    let Some(pclntab) = pclntab else {
        return found;
    };
    if let Some(md) = pclntab.moduledata() {
        found
            .entry("runtime.firstmoduledata".to_string())
            .or_insert((md.address, Placement::ModuleData));
    }
    let md = pclntab.moduledata();
    let mut checker = Checker {
        types: &table.types,
        memory,
        bias,
        data: md.map(|md| (md.noptrdata.min(md.data), md.end.max(md.enoptrbss))),
        noptrdata: md.map(|md| (md.noptrdata, md.enoptrdata)),
        max_stack_depth: table
            .constants
            .get("runtime.maxProfStackDepth")
            .or_else(|| table.constants.get("runtime.maxStack"))
            .map_or(1024, |&v| v.clamp(1, 4096) as u64),
        heap_in_use: None,
        num_gc: None,
    };
    let page_size = [
        "internal/runtime/gc.PageSize",
        "runtime.pageSize",
        "runtime._PageSize",
    ]
    .iter()
    .find_map(|n| table.constants.get(*n))
    .map_or(8192, |&v| v as u64);
    for &(name, functions) in SEARCHES {
        if !found.contains_key(name) && names.iter().any(|n| n == name) {
            if let Some((address, function)) =
                search_code(pclntab, functions, |a| checker.check(name, a))
            {
                found.insert(name.to_string(), (address, Placement::Code(function)));
            }
        }
        // What later candidates are checked against.
        match (name, found.get(name)) {
            ("runtime.mheap_", Some(&(mheap, _))) => {
                checker.heap_in_use = checker
                    .off("runtime.mheap", "pagesInUse")
                    .and_then(|o| checker.word(mheap.checked_add(o)?))
                    .map(|p| p.wrapping_mul(page_size));
            }
            ("runtime.memstats", Some(&(memstats, _))) => {
                checker.num_gc = checker
                    .off("runtime.mstats", "numgc")
                    .and_then(|o| checker.word(memstats.checked_add(o)?))
                    .map(|w| w & 0xffff_ffff);
            }
            _ => {}
        }
    }
    if !found.contains_key("runtime.buildVersion")
        && names.iter().any(|n| n == "runtime.buildVersion")
    {
        if let Some(address) = version.and_then(|v| find_string_header(pclntab, v.as_bytes())) {
            found.insert(
                "runtime.buildVersion".to_string(),
                (address, Placement::Contents),
            );
        }
    }
    if !found.contains_key("runtime.waitReasonStrings")
        && names.iter().any(|n| n == "runtime.waitReasonStrings")
    {
        // waitReasonStrings[0] is "", [1] is "GC assist marking".
        if let Some(address) = find_string_header(pclntab, b"GC assist marking")
            .and_then(|a| a.checked_sub(16))
            .filter(|&a| {
                let image = pclntab.image();
                image.read_u64(a.wrapping_add(8)) == Some(0)
            })
        {
            found.insert(
                "runtime.waitReasonStrings".to_string(),
                (address, Placement::Contents),
            );
        }
    }
    for name in [
        "internal/runtime/gc.SizeClassToSize",
        "runtime.class_to_size",
    ] {
        if found.contains_key(name) || !names.iter().any(|n| n == name) {
            continue;
        }
        let count = table
            .globals
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|&(_, ty)| table.types.size_of(ty))
            .map_or(0, |s| s / 2);
        if let Some(address) = find_size_classes(pclntab, count) {
            found.insert(name.to_string(), (address, Placement::Contents));
        }
    }
    found
}

/// The first validated candidate among the data references of `functions`
/// (each function's candidates in address order).
fn search_code(
    pclntab: &Pclntab<'_>,
    functions: &[&'static str],
    valid: impl Fn(u64) -> Option<u64>,
) -> Option<(u64, &'static str)> {
    let mut tried = BTreeSet::new();
    for &name in functions {
        let Some(func) = pclntab.func_by_name(name) else {
            continue;
        };
        let len = func.end.saturating_sub(func.entry).min(MAX_FUNCTION_BYTES);
        let Some(code) = pclntab.image().bytes_at(func.entry, len) else {
            continue;
        };
        let refs = match pclntab.image().arch() {
            Arch::Amd64 => amd64_refs(code, func.entry),
            Arch::Arm64 => arm64_refs(code, func.entry),
            Arch::Other => Vec::new(),
        };
        for address in refs {
            if !tried.insert(address) {
                continue;
            }
            if let Some(base) = valid(address) {
                return Some((base, name));
            }
        }
    }
    None
}

/// Targets of RIP-relative operands (`mod=00 rm=101`) of the common
/// load/store/lea/compare opcodes, at every byte offset (false decodes only
/// add candidates, which validation rejects).
pub fn amd64_refs(code: &[u8], base: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for i in 2..code.len().saturating_sub(4) {
        let modrm = code[i - 1];
        if modrm & 0xC7 != 0x05 {
            continue;
        }
        let op = code[i - 2];
        let two_byte = i >= 3 && code[i - 3] == 0x0f;
        // Bytes of immediate after the displacement.
        let imm = if two_byte {
            match op {
                0xb1 | 0xc1 | 0xb6 | 0xb7 | 0x10 | 0x11 | 0xb0 => 0,
                _ => continue,
            }
        } else {
            match op {
                0x8b | 0x8d | 0x89 | 0x39 | 0x3b | 0x85 | 0x87 | 0x88 | 0x8a | 0x38 | 0x3a
                | 0x01 | 0x03 | 0x29 | 0x2b | 0xff => 0,
                0x83 | 0x80 | 0xc6 => 1,
                0x81 | 0xc7 => 4,
                _ => continue,
            }
        };
        let disp = i32::from_le_bytes([code[i], code[i + 1], code[i + 2], code[i + 3]]);
        let next = base.wrapping_add((i + 4 + imm) as u64);
        out.push(next.wrapping_add(disp as i64 as u64));
    }
    out
}

/// Targets of `ADRP Xd, page` followed (within four instructions) by
/// `ADD Xn, Xd, #imm` or a 64/32/8-bit `LDR`/`STR` with `Xd` as base.
pub fn arm64_refs(code: &[u8], base: u64) -> Vec<u64> {
    let words: Vec<u32> = code
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut out = Vec::new();
    for (i, &insn) in words.iter().enumerate() {
        if insn & 0x9F00_0000 != 0x9000_0000 {
            continue;
        }
        let rd = insn & 0x1f;
        let immlo = u64::from((insn >> 29) & 3);
        let immhi = u64::from((insn >> 5) & 0x7_FFFF);
        let imm21 = (immhi << 2) | immlo;
        // Sign-extend 21 bits, then pages of 4 KiB.
        let offset = (((imm21 << 43) as i64) >> 43) << 12;
        let pc = base.wrapping_add(4 * i as u64);
        let page = (pc & !0xfff).wrapping_add(offset as u64);
        for &next in words.iter().skip(i + 1).take(4) {
            let rn = (next >> 5) & 0x1f;
            if rn != rd {
                continue;
            }
            let imm12 = u64::from((next >> 10) & 0xfff);
            let target = match next & 0xFFC0_0000 {
                // ADD (immediate), 64-bit, optional LSL #12.
                0x9100_0000 => Some(page.wrapping_add(imm12)),
                0x9140_0000 => Some(page.wrapping_add(imm12 << 12)),
                // LDR/STR Xt, [Xn, #imm*8].
                0xF940_0000 | 0xF900_0000 => Some(page.wrapping_add(imm12 * 8)),
                // LDR/STR Wt, [Xn, #imm*4].
                0xB940_0000 | 0xB900_0000 => Some(page.wrapping_add(imm12 * 4)),
                // LDRB/STRB.
                0x3940_0000 | 0x3900_0000 => Some(page.wrapping_add(imm12)),
                _ => None,
            };
            if let Some(t) = target {
                out.push(t);
                break;
            }
        }
    }
    out
}

/// The size class table: `[N]uint16` = 0, 8, 16, 24, 32, 48, … strictly
/// increasing; found in the executable's file bytes (it is initialised
/// data).
fn find_size_classes(pclntab: &Pclntab<'_>, count: u64) -> Option<u64> {
    if !(8..=256).contains(&count) {
        return None;
    }
    let needle: Vec<u8> = [0u16, 8, 16, 24, 32, 48, 64, 80]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let image = pclntab.image();
    for (segment, data) in image.segments() {
        let mut from = 0usize;
        while let Some(pos) = find(&data[from..], &needle) {
            let at = from + pos;
            from = at + 2;
            let Some(bytes) = data.get(at..at + 2 * count as usize) else {
                break;
            };
            let values: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            if values.windows(2).all(|w| w[0] < w[1]) && values.last() == Some(&32768) {
                return Some(segment.address.wrapping_add(at as u64));
            }
        }
    }
    None
}

/// A Go string header `{ptr, len}` in the executable's data whose bytes
/// are `text` (both initialised data, so the file holds them).
fn find_string_header(pclntab: &Pclntab<'_>, text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let image = pclntab.image();
    let mut header = Vec::with_capacity(16);
    // Each occurrence costs a scan of the file: a hostile file repeating
    // the text gets a bounded number of them.
    let mut occurrences = 0;
    for (segment, data) in image.segments() {
        let mut from = 0usize;
        while let Some(pos) = find(&data[from..], text) {
            occurrences += 1;
            if occurrences > MAX_STRING_OCCURRENCES {
                return None;
            }
            let at = from + pos;
            from = at + 1;
            let address = segment.address.wrapping_add(at as u64);
            header.clear();
            header.extend_from_slice(&address.to_le_bytes());
            header.extend_from_slice(&(text.len() as u64).to_le_bytes());
            for (seg2, data2) in image.segments() {
                let mut from2 = 0usize;
                while let Some(p) = find(&data2[from2..], &header) {
                    let h = from2 + p;
                    if h % 8 == 0 {
                        return Some(seg2.address.wrapping_add(h as u64));
                    }
                    from2 = h + 1;
                }
            }
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Validates a candidate address for a runtime global in the core.
struct Checker<'a> {
    types: &'a TypeTable,
    memory: &'a ProcessMemory,
    bias: u64,
    /// The module's data and bss (link addresses), when known.
    data: Option<(u64, u64)>,
    /// The module's initialised pointer-free data (link addresses).
    noptrdata: Option<(u64, u64)>,
    max_stack_depth: u64,
    /// `mheap_.pagesInUse × pageSize`, once `mheap_` is placed.
    heap_in_use: Option<u64>,
    /// `memstats.numgc`, once `memstats` is placed.
    num_gc: Option<u64>,
}

impl Checker<'_> {
    fn word(&self, link_address: u64) -> Option<u64> {
        self.memory
            .read_u64(link_address.wrapping_add(self.bias))
            .ok()
    }

    /// A word of the process (already an address as mapped).
    fn at(&self, address: u64) -> Option<u64> {
        self.memory.read_u64(address).ok()
    }

    fn off(&self, ty: &str, path: &str) -> Option<u64> {
        self.types.field_offset(ty, path)
    }

    /// The global's validated start for a referenced address, which may
    /// point at one of its members (`&memstats.heapStats`).
    fn check(&self, name: &str, address: u64) -> Option<u64> {
        let in_data = |a: u64| a % 8 == 0 && self.data.is_none_or(|(lo, hi)| a >= lo && a < hi);
        let ok = |a: u64, valid: Option<bool>| (in_data(a) && valid == Some(true)).then_some(a);
        match name {
            "runtime.allgs" => ok(address, self.allgs(address)),
            "runtime.allm" => ok(address, self.allm(address)),
            "runtime.mheap_" => ok(address, self.mheap(address)),
            "runtime.mbuckets" => ok(address, self.mbuckets(address)),
            "runtime.memstats" | "runtime.gcController" => {
                let ty = if name == "runtime.memstats" {
                    "runtime.mstats"
                } else {
                    "runtime.gcControllerState"
                };
                let layout = self.types.struct_layout(ty)?;
                let mut offsets: Vec<u64> = layout.fields.iter().map(|f| f.offset).collect();
                offsets.sort_unstable();
                offsets.dedup();
                offsets.into_iter().find_map(|k| {
                    let base = address.checked_sub(k)?;
                    let valid = if name == "runtime.memstats" {
                        self.memstats(base)
                    } else {
                        self.gc_controller(base)
                    };
                    ok(base, valid)
                })
            }
            "runtime.mProfCycle" => {
                let gc = self.num_gc?;
                let v = self.word(address)? & 0xffff_ffff;
                (address % 4 == 0 && (v >> 1).abs_diff(gc) <= 4 && v >> 1 > 0).then_some(address)
            }
            "runtime.MemProfileRate" => {
                let (lo, hi) = self.noptrdata?;
                let v = self.word(address)?;
                (address % 8 == 0 && address >= lo && address < hi && v <= 1 << 31)
                    .then_some(address)
            }
            _ => None,
        }
    }

    /// The shards of `memstats.heapStats` add up to the heap's in-use
    /// span bytes (`inHeap`), within 1%.
    fn memstats(&self, base: u64) -> Option<bool> {
        let want = self.heap_in_use?;
        let stats = base.checked_add(self.off("runtime.mstats", "heapStats.stats")?)?;
        let delta = self
            .types
            .struct_layout("runtime.heapStatsDelta")
            .and_then(|l| l.size)?;
        let in_heap = self.off("runtime.heapStatsDelta", "inHeap")?;
        let mut sum = 0u64;
        for i in 0..3u64 {
            sum = sum.wrapping_add(
                self.word(
                    stats
                        .wrapping_add(i.wrapping_mul(delta))
                        .wrapping_add(in_heap),
                )?,
            );
        }
        Some(want > 0 && sum.abs_diff(want) <= want / 100)
    }

    /// `gcController.heapInUse` equals the heap's in-use span bytes within 1%.
    fn gc_controller(&self, base: u64) -> Option<bool> {
        let want = self.heap_in_use?;
        let got =
            self.word(base.checked_add(self.off("runtime.gcControllerState", "heapInUse")?)?)?;
        Some(want > 0 && got.abs_diff(want) <= want / 100)
    }

    /// A plausible `runtime.g` at `g`: a stack of a power-of-two size or
    /// none, a goid below 2^40.
    fn g(&self, g: u64) -> Option<bool> {
        let lo = self.at(g.checked_add(self.off("runtime.g", "stack.lo")?)?)?;
        let hi = self.at(g.checked_add(self.off("runtime.g", "stack.hi")?)?)?;
        let goid = self.at(g.checked_add(self.off("runtime.g", "goid")?)?)?;
        let stack_ok = (lo, hi) == (0, 0)
            || hi
                .checked_sub(lo)
                .is_some_and(|n| n.is_power_of_two() && (2048..=1 << 30).contains(&n));
        Some(g % 8 == 0 && g != 0 && stack_ok && goid < 1 << 40)
    }

    /// `[]*g` with 0 < len <= cap and every checked entry a `g`, one with a
    /// stack at least.
    fn allgs(&self, address: u64) -> Option<bool> {
        let (array, len, cap) = (
            self.word(address)?,
            self.word(address.wrapping_add(8))?,
            self.word(address.wrapping_add(16))?,
        );
        if len == 0 || len > cap || cap > 1 << 28 || array == 0 || array % 8 != 0 {
            return Some(false);
        }
        let mut with_stack = 0;
        for i in 0..len.min(MAX_CHECKED) {
            let g = self.at(array.checked_add(8 * i)?)?;
            if !self.g(g)? {
                return Some(false);
            }
            let lo = self.at(g.checked_add(self.off("runtime.g", "stack.lo")?)?)?;
            with_stack += u64::from(lo != 0);
        }
        Some(with_stack > 0)
    }

    /// `*m`: `m.g0.m == m` along the `alllink` list.
    fn allm(&self, address: u64) -> Option<bool> {
        let mut m = self.word(address)?;
        let (g0, gm, link) = (
            self.off("runtime.m", "g0")?,
            self.off("runtime.g", "m")?,
            self.off("runtime.m", "alllink")?,
        );
        let mut checked = 0;
        while m != 0 && checked < MAX_CHECKED {
            let g = self.at(m.checked_add(g0)?)?;
            if g == 0 || self.at(g.checked_add(gm)?)? != m {
                return Some(false);
            }
            m = self.at(m.checked_add(link)?)?;
            checked += 1;
        }
        Some(checked > 0)
    }

    /// `runtime.mheap`: `allspans` a slice of spans with pages, and
    /// `pagesInUse` non-zero.
    fn mheap(&self, address: u64) -> Option<bool> {
        let allspans = address.checked_add(self.off("runtime.mheap", "allspans")?)?;
        let (array, len, cap) = (
            self.word(allspans)?,
            self.word(allspans.wrapping_add(8))?,
            self.word(allspans.wrapping_add(16))?,
        );
        if len == 0 || len > cap || cap > 1 << 32 || array == 0 || array % 8 != 0 {
            return Some(false);
        }
        let pages = self.word(address.checked_add(self.off("runtime.mheap", "pagesInUse")?)?)?;
        if pages == 0 {
            return Some(false);
        }
        let (start, npages) = (
            self.off("runtime.mspan", "startAddr")?,
            self.off("runtime.mspan", "npages")?,
        );
        for i in 0..len.min(MAX_CHECKED) {
            let span = self.at(array.checked_add(8 * i)?)?;
            if span == 0 || span % 8 != 0 {
                return Some(false);
            }
            let base = self.at(span.checked_add(start)?)?;
            let n = self.at(span.checked_add(npages)?)?;
            if base == 0 || n == 0 || n > 1 << 32 {
                return Some(false);
            }
        }
        Some(true)
    }

    /// `*bucket` of heap-profile buckets along `allnext`.
    fn mbuckets(&self, address: u64) -> Option<bool> {
        let mut b = self.word(address)?;
        let typ = self.off("runtime.bucket", "typ")?;
        let nstk = self.off("runtime.bucket", "nstk")?;
        let next = self.off("runtime.bucket", "allnext")?;
        let mut checked = 0;
        while b != 0 && checked < MAX_CHECKED {
            // memProfile is 1 in every release; typ is a small integer.
            let t = self.at(b.checked_add(typ)?)? & 0xffff_ffff;
            let n = self.at(b.checked_add(nstk)?)?;
            if t != 1 || n == 0 || n > self.max_stack_depth {
                return Some(false);
            }
            b = self.at(b.checked_add(next)?)?;
            checked += 1;
        }
        Some(checked > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rip_relative_lea() {
        // lea rax, [rip+0x10] at 0x1000: 48 8d 05 10 00 00 00 → 0x1017.
        let code = [0x48, 0x8d, 0x05, 0x10, 0, 0, 0, 0x90];
        assert!(amd64_refs(&code, 0x1000).contains(&0x1017));
        // cmp dword [rip-8], 0 (83 3d disp32 imm8): next at 0x1007.
        let code = [0x83, 0x3d, 0xf8, 0xff, 0xff, 0xff, 0x00, 0x90];
        assert!(amd64_refs(&code, 0x1000).contains(&0xfff));
    }

    #[test]
    fn decodes_adrp_add_and_ldr() {
        // adrp x0, +2 pages at 0x10000; add x0, x0, #0x18 → 0x12018.
        let adrp: u32 = 0x9000_0000 | (2 << 29);
        let add: u32 = 0x9100_0000 | (0x18 << 10);
        let code: Vec<u8> = [adrp, add].iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(arm64_refs(&code, 0x10000), vec![0x12018]);
        // adrp x27, -1 page; ldr x1, [x27, #16] → page - 0x1000 + 16.
        let adrp: u32 = 0x9000_0000 | 27 | (0x7_FFFF << 5) | (3 << 29);
        let ldr: u32 = 0xF940_0000 | (27 << 5) | 1 | (2 << 10);
        let code: Vec<u8> = [adrp, ldr].iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(arm64_refs(&code, 0x10000), vec![0xF010]);
    }
}
