//! Relating an [`Executable`] to a [`Core`]: where the process loaded it
//! ([`Placement`], the PIE load bias) and whether it is the very file the
//! process ran ([`match_executable`]).

use crate::core::{file_name, Core};
use crate::executable::{hex, Executable};
use crate::notes::{auxv, FileMapping};

/// Where an executable sits in the process: runtime address = link-time
/// address + `bias` (wrapping; 0 for a non-PIE executable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub bias: u64,
    pub source: PlacementSource,
}

/// What established a [`Placement`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlacementSource {
    /// An `NT_FILE` mapping of the executable and its program headers.
    FileNote,
    /// The auxiliary vector's `AT_ENTRY` and the executable's `e_entry`.
    AuxvEntry,
    /// A non-PIE executable with no other evidence: its link addresses.
    LinkAddress,
}

impl Placement {
    /// Runtime address of a link-time virtual address.
    pub fn runtime_address(&self, link_vaddr: u64) -> u64 {
        link_vaddr.wrapping_add(self.bias)
    }
    /// Link-time virtual address of a runtime address.
    pub fn link_address(&self, runtime_addr: u64) -> u64 {
        runtime_addr.wrapping_sub(self.bias)
    }
}

/// Largest distance between a segment's file offset and the start of the
/// page-aligned mapping that holds it (64 KiB pages on some arm64 kernels).
const MAX_PAGE: u64 = 0x10000;

/// Link-time address the mapping's first byte corresponds to, if `m` maps
/// the start of `ph`'s file range.
fn link_start_of(m: &FileMapping, exe: &Executable) -> Option<u64> {
    exe.load_segments()
        .filter(|ph| ph.filesz > 0)
        .find_map(|ph| {
            let lead = ph.offset.checked_sub(m.file_offset)?;
            (lead < MAX_PAGE)
                .then(|| ph.vaddr.checked_sub(lead))
                .flatten()
        })
}

/// The `NT_FILE` mappings that belong to `exe`: those with its file name,
/// else the core's main-executable mappings (the file may have been renamed).
/// The executable's file name without a compression suffix
/// (`mapzoo.zst` was `mapzoo` when it ran).
fn exe_file_name(exe: &Executable) -> String {
    let name = exe
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if exe.compression() == crate::Compression::None {
        return name;
    }
    [".zst", ".zstd", ".gz", ".xz"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .map(str::to_string)
        .unwrap_or(name)
}

pub(crate) fn exe_mappings<'c>(core: &'c Core, exe: &Executable) -> Vec<&'c FileMapping> {
    let name = exe_file_name(exe);
    let by_name: Vec<&FileMapping> = core
        .file_mappings()
        .iter()
        .filter(|m| file_name(&m.path) == name)
        .collect();
    if !by_name.is_empty() {
        return by_name;
    }
    core.executable_mappings()
}

/// Finds the load bias of `exe` in `core`: from its `NT_FILE` mappings, else
/// `AT_ENTRY`, else (non-PIE only) its link addresses. `None` if nothing fits.
pub fn place_executable(core: &Core, exe: &Executable) -> Option<Placement> {
    let accept = |bias: u64| exe.is_pie() || bias == 0;
    let mut mappings = exe_mappings(core, exe);
    mappings.sort_by_key(|m| m.start);
    for m in &mappings {
        if let Some(link) = link_start_of(m, exe) {
            let bias = m.start.wrapping_sub(link);
            if accept(bias) {
                return Some(Placement {
                    bias,
                    source: PlacementSource::FileNote,
                });
            }
        }
    }
    if let Some(at_entry) = core.auxv().and_then(|a| a.get(auxv::AT_ENTRY)) {
        let bias = at_entry.wrapping_sub(exe.entry());
        if accept(bias) {
            return Some(Placement {
                bias,
                source: PlacementSource::AuxvEntry,
            });
        }
    }
    if !exe.is_pie() {
        return Some(Placement {
            bias: 0,
            source: PlacementSource::LinkAddress,
        });
    }
    None
}

/// The outcome of one comparison between a core and an executable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Agrees,
    Disagrees,
    /// The core lacks what would be needed to compare.
    Unknown,
}

/// A [`Verdict`] with a one-line explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub verdict: Verdict,
    pub detail: String,
}

impl Evidence {
    fn new(verdict: Verdict, detail: impl Into<String>) -> Evidence {
        Evidence {
            verdict,
            detail: detail.into(),
        }
    }
}

/// Whether an executable is the file the core's process ran.
#[derive(Clone, Debug)]
pub struct ExecutableMatch {
    /// The main executable's path as `NT_FILE` recorded it.
    pub core_path: Option<String>,
    pub placement: Option<Placement>,
    /// Machine of core and executable.
    pub arch: Evidence,
    /// File name of the executable vs the core's `NT_FILE` path.
    pub name: Evidence,
    /// `NT_FILE` mappings (start, end, file offset) vs the executable's
    /// `PT_LOAD` headers and file size.
    pub layout: Evidence,
    /// Build-id note bytes in the core's copy of the executable's first page
    /// vs the executable's.
    pub build_id: Evidence,
}

impl ExecutableMatch {
    /// The executable is not the core's: the machine, the mapping layout or
    /// the build id disagree — or only the file name could be compared and
    /// it differs (a renamed copy with matching layout and build id is fine).
    pub fn is_mismatch(&self) -> bool {
        let disagrees = |e: &Evidence| e.verdict == Verdict::Disagrees;
        let nothing_strong =
            self.layout.verdict == Verdict::Unknown && self.build_id.verdict == Verdict::Unknown;
        disagrees(&self.arch)
            || disagrees(&self.layout)
            || disagrees(&self.build_id)
            || (nothing_strong && disagrees(&self.name))
    }
}

fn page_size(core: &Core) -> u64 {
    core.auxv()
        .and_then(|a| a.get(auxv::AT_PAGESZ))
        .filter(|p| p.is_power_of_two() && *p <= MAX_PAGE)
        .unwrap_or(4096)
}

fn page_up(v: u64, page: u64) -> Option<u64> {
    v.checked_add(page - 1).map(|x| x & !(page - 1))
}

/// Compares `exe` with what `core` recorded about its main executable.
pub fn match_executable(core: &Core, exe: &Executable) -> ExecutableMatch {
    let core_path = core.executable_path().map(str::to_string);
    let arch = if core.arch() == exe.arch() {
        Evidence::new(Verdict::Agrees, format!("both {}", core.arch().elf_name()))
    } else {
        Evidence::new(
            Verdict::Disagrees,
            format!(
                "core is {}, executable is {}",
                core.arch().elf_name(),
                exe.arch().elf_name()
            ),
        )
    };
    let exe_name = exe_file_name(exe);
    let name = match &core_path {
        None => Evidence::new(
            Verdict::Unknown,
            "the core has no NT_FILE entry for its executable",
        ),
        Some(p) if file_name(p) == exe_name => {
            Evidence::new(Verdict::Agrees, format!("core mapped {p}"))
        }
        Some(p) => Evidence::new(
            Verdict::Disagrees,
            format!("core mapped {p}, executable is named {exe_name}"),
        ),
    };
    let placement = place_executable(core, exe);
    let mut mappings = exe_mappings(core, exe);
    mappings.sort_by_key(|m| m.start);
    let layout = compare_layout(core, exe, placement.as_ref(), &mappings);
    let build_id = compare_build_id(core, exe, &mappings);
    ExecutableMatch {
        core_path,
        placement,
        arch,
        name,
        layout,
        build_id,
    }
}

fn compare_layout(
    core: &Core,
    exe: &Executable,
    placement: Option<&Placement>,
    mappings: &[&FileMapping],
) -> Evidence {
    let Some(placement) = placement else {
        return Evidence::new(
            Verdict::Disagrees,
            "no NT_FILE mapping or AT_ENTRY fits the executable's program headers",
        );
    };
    if mappings.is_empty() {
        return Evidence::new(
            Verdict::Unknown,
            "the core has no NT_FILE mappings of the executable",
        );
    }
    let page = page_size(core);
    let file_len = exe.data().len() as u64;
    // Mappings and segments correspond page range to page range, at the same
    // vaddr − file offset displacement. The kernel splits a segment when
    // its permissions change (RELRO) and merges file-contiguous mappings
    // with equal permissions, so compare unions, not one-to-one.
    let seg_ranges: Vec<(u64, u64, u64)> = exe
        .load_segments()
        .filter(|ph| ph.filesz > 0)
        .filter_map(|ph| {
            let lo = ph.vaddr & !(page - 1);
            let hi = page_up(ph.vaddr.checked_add(ph.filesz.min(ph.memsz))?, page)?;
            Some((ph.vaddr.wrapping_sub(ph.offset), lo, hi))
        })
        .collect();
    let map_ranges: Vec<(u64, u64, u64)> = mappings
        .iter()
        .map(|m| {
            let lo = placement.link_address(m.start);
            (
                lo.wrapping_sub(m.file_offset),
                lo,
                lo.saturating_add(m.size()),
            )
        })
        .collect();
    for (m, &(disp, lo, hi)) in mappings.iter().zip(&map_ranges) {
        if !covered(
            lo,
            hi,
            seg_ranges
                .iter()
                .filter(|s| s.0 == disp)
                .map(|s| (s.1, s.2)),
        ) {
            return Evidence::new(
                Verdict::Disagrees,
                format!(
                    "core maps {}:{:#x}-{:#x} from file offset {:#x}; the executable's PT_LOAD headers do not place those file bytes there",
                    m.path, m.start, m.end, m.file_offset
                ),
            );
        }
        if m.file_offset >= file_len {
            return Evidence::new(
                Verdict::Disagrees,
                format!(
                    "core maps file offset {:#x} but the executable is only {file_len} bytes",
                    m.file_offset
                ),
            );
        }
    }
    for &(disp, lo, hi) in &seg_ranges {
        if !covered(
            lo,
            hi,
            map_ranges
                .iter()
                .filter(|m| m.0 == disp)
                .map(|m| (m.1, m.2)),
        ) {
            return Evidence::new(
                Verdict::Disagrees,
                format!(
                    "the executable's PT_LOAD at {:#x}-{:#x} (runtime) is not mapped from the same file offsets in the core",
                    placement.runtime_address(lo),
                    placement.runtime_address(hi)
                ),
            );
        }
    }
    Evidence::new(
        Verdict::Agrees,
        format!(
            "{} NT_FILE mappings match the executable's PT_LOAD headers (load bias {:#x})",
            mappings.len(),
            placement.bias
        ),
    )
}

/// Whether `[lo, hi)` is covered by the union of `ranges`.
fn covered(lo: u64, hi: u64, ranges: impl Iterator<Item = (u64, u64)>) -> bool {
    let mut ranges: Vec<(u64, u64)> = ranges.collect();
    ranges.sort_unstable();
    let mut at = lo;
    for (start, end) in ranges {
        if at >= hi {
            break;
        }
        if start <= at && end > at {
            at = end;
        }
    }
    at >= hi
}

fn compare_build_id(core: &Core, exe: &Executable, mappings: &[&FileMapping]) -> Evidence {
    let Some(first) = mappings.iter().find(|m| m.file_offset == 0) else {
        return Evidence::new(
            Verdict::Unknown,
            "the core has no NT_FILE mapping of the executable's first page",
        );
    };
    if exe.build_id_notes().is_empty() {
        return Evidence::new(
            Verdict::Unknown,
            "the executable has no GNU or Go build-id note",
        );
    }
    let mut compared = Vec::new();
    for loc in exe.build_id_notes() {
        let Some(expected) = usize::try_from(loc.offset)
            .ok()
            .zip(usize::try_from(loc.size).ok())
            .and_then(|(o, n)| exe.data().get(o..o.checked_add(n)?))
        else {
            continue;
        };
        let Some(addr) = first
            .start
            .checked_add(loc.offset)
            .filter(|a| *a < first.end)
        else {
            continue;
        };
        let mut got = vec![0u8; expected.len()];
        match core.read_present(addr, &mut got) {
            Ok(()) if got == expected => compared.push(loc.owner),
            Ok(()) => {
                let ids = crate::core::scan_build_id_notes(&got);
                let found = match loc.owner {
                    "GNU" => ids.gnu_build_id.as_deref().map(hex),
                    _ => ids.go_build_id.clone(),
                };
                let want = match loc.owner {
                    "GNU" => exe.gnu_build_id_hex(),
                    _ => exe.go_build_id().map(str::to_string),
                };
                return Evidence::new(
                    Verdict::Disagrees,
                    format!(
                        "{} build id in the core's copy of {} is {}, the executable's is {}",
                        loc.owner,
                        first.path,
                        found.unwrap_or_else(|| "different bytes".into()),
                        want.unwrap_or_default()
                    ),
                );
            }
            Err(_) => {}
        }
    }
    if compared.is_empty() {
        Evidence::new(
            Verdict::Unknown,
            "the core does not hold the executable's build-id notes (first page not dumped)",
        )
    } else {
        Evidence::new(
            Verdict::Agrees,
            format!(
                "{} build-id note bytes identical in core and executable",
                compared.join(" and ")
            ),
        )
    }
}
