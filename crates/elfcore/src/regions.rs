//! The process's memory regions like `/proc/PID/maps`, from `PT_LOAD`
//! segments merged with `NT_FILE` mappings and labelled with a
//! [`RegionKind`]. A higher layer (the Go runtime model) may relabel ranges
//! as [`RegionKind::GoHeap`] / [`RegionKind::GoStack`] with [`relabel`].
//! [`Core::nonzero_bytes`] estimates what of a region was resident (its
//! non-zero pages), for an RSS when no smaps file was saved.

use crate::core::{Core, Perms};
use crate::executable::Executable;
use crate::matching::Placement;
use crate::memory::ProcessMemory;
use crate::notes::auxv;
use crate::Arch;

/// What a region holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegionKind {
    /// Mapped from a file (`NT_FILE` path).
    File,
    /// The brk heap (`[heap]`); found heuristically, see [`Core::regions`].
    Heap,
    /// The main thread's stack (`[stack]`).
    Stack,
    /// The vDSO (`AT_SYSINFO_EHDR`).
    Vdso,
    /// The vDSO's data pages just below it (`[vvar]`, `[vvar_vclock]`).
    Vvar,
    /// The legacy x86_64 `[vsyscall]` page.
    Vsyscall,
    /// Anonymous memory nothing else claims.
    Anon,
    /// Go heap arena (set by the Go runtime layer).
    GoHeap,
    /// Goroutine stack memory (set by the Go runtime layer).
    GoStack,
}

impl RegionKind {
    /// The name used in reports and JSON: `file`, `heap`, `stack`, `vdso`,
    /// `vvar`, `vsyscall`, `anon`, `go-heap`, `go-stack`.
    pub fn as_str(self) -> &'static str {
        match self {
            RegionKind::File => "file",
            RegionKind::Heap => "heap",
            RegionKind::Stack => "stack",
            RegionKind::Vdso => "vdso",
            RegionKind::Vvar => "vvar",
            RegionKind::Vsyscall => "vsyscall",
            RegionKind::Anon => "anon",
            RegionKind::GoHeap => "go-heap",
            RegionKind::GoStack => "go-stack",
        }
    }
    /// The pseudo-path `/proc/PID/maps` shows for this kind, if any.
    pub fn maps_label(self) -> Option<&'static str> {
        match self {
            RegionKind::Heap => Some("[heap]"),
            RegionKind::Stack => Some("[stack]"),
            RegionKind::Vdso => Some("[vdso]"),
            RegionKind::Vvar => Some("[vvar]"),
            RegionKind::Vsyscall => Some("[vsyscall]"),
            _ => None,
        }
    }
}

/// One memory region of the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    /// `None` when the core has no segment for the range (gdb's `gcore`
    /// skips unmodified read-only file mappings) and no executable says.
    pub perms: Option<Perms>,
    /// Bytes of the region held by the core file (a prefix of the region).
    pub present_bytes: u64,
    /// Offset in `path` of `start`, for file-backed regions.
    pub file_offset: Option<u64>,
    /// File path from `NT_FILE` (without ` (deleted)`).
    pub path: Option<String>,
    /// The file had been deleted when the core was written.
    pub deleted: bool,
    pub kind: RegionKind,
    /// The core's segment for this region ends past the end of the file.
    pub truncated: bool,
    /// The core has a `PT_LOAD` segment for this region.
    pub in_core: bool,
}

impl Region {
    pub fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
    /// `rwxp` style, `????` when unknown.
    pub fn perms_string(&self) -> String {
        self.perms
            .map(|p| p.to_string())
            .unwrap_or_else(|| "????".to_string())
    }
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// How far above the executable's end the kernel may place the brk heap
/// (`arch_randomize_brk`: up to 1 GiB for 64-bit processes on current
/// x86_64 and arm64 kernels; 32 MiB on old x86_64 ones).
fn brk_window(_arch: Arch) -> u64 {
    1 << 30
}

const VSYSCALL_ADDR: u64 = 0xffff_ffff_ff60_0000;

impl Core {
    /// Regions without executable information (see [`ProcessMemory::regions`]).
    pub fn regions(&self) -> Vec<Region> {
        build_regions(self, None)
    }
    /// Regions, with `exe` (placed at `placement`) supplying permissions for
    /// its ranges the core has no segment for.
    pub fn regions_with_executable(&self, exe: &Executable, placement: &Placement) -> Vec<Region> {
        build_regions(self, Some((exe, placement)))
    }
}

/// Granularity of [`Core::nonzero_bytes`]: the smallest page size of the
/// architectures mapscope reads (a larger page is several of these).
const ZERO_SCAN_PAGE: u64 = 4096;

impl Core {
    /// Bytes of `region`'s part held by the core file that lie in 4 KiB
    /// pages with at least one non-zero byte: an estimate of what was
    /// resident. A core holds every page of a dumped mapping, resident or
    /// not — the kernel writes holes for pages never touched, and gdb's
    /// `gcore` writes zeros for whole reserved (`---p`) ranges, gigabytes
    /// for a Go process — so the present bytes overstate RSS; untouched and
    /// released (`MADV_DONTNEED`) pages read as zeros. A resident page that
    /// holds only zeros is missed, so this is a lower bound (apart from
    /// swapped-out pages, which the core holds but RSS does not count).
    pub fn nonzero_bytes(&self, region: &Region) -> u64 {
        let Some(seg) = self.segment_at(region.start) else {
            return 0;
        };
        let skip = region.start - seg.vaddr;
        let len = region.present_bytes.min(seg.present.saturating_sub(skip));
        let bytes = seg
            .offset
            .checked_add(skip)
            .and_then(|o| usize::try_from(o).ok())
            .zip(usize::try_from(len).ok())
            .and_then(|(o, n)| self.data().get(o..o.checked_add(n)?));
        let Some(bytes) = bytes else { return 0 };
        let base = seg.offset.saturating_add(skip);
        // Holes read as zeros: only the file's data extents are scanned
        // (touching gigabytes of holes costs seconds of page faults).
        let extents = self
            .mapped()
            .data_extents(base, base.saturating_add(len))
            .unwrap_or_else(|| vec![(base, base.saturating_add(len))]);
        let mut sum = 0u64;
        let mut scanned_to = 0u64; // relative to `base`, page aligned
        for (lo, hi) in extents {
            let lo = ((lo - base) & !(ZERO_SCAN_PAGE - 1)).max(scanned_to);
            let hi = (hi - base).min(len);
            if lo >= hi {
                continue;
            }
            // Whole pages: the extent's last page up to its end.
            let hi = (hi.saturating_add(ZERO_SCAN_PAGE - 1) & !(ZERO_SCAN_PAGE - 1)).min(len);
            scanned_to = hi;
            let piece = usize::try_from(lo)
                .ok()
                .zip(usize::try_from(hi).ok())
                .and_then(|(l, h)| bytes.get(l..h))
                .unwrap_or(&[]);
            sum = piece
                .chunks(ZERO_SCAN_PAGE as usize)
                .filter(|p| !all_zero(p))
                .map(|p| p.len() as u64)
                .fold(sum, u64::saturating_add);
        }
        sum
    }
}

/// Whether every byte is zero (blockwise OR, which vectorizes).
fn all_zero(bytes: &[u8]) -> bool {
    bytes
        .chunks(256)
        .all(|block| block.iter().fold(0u8, |acc, b| acc | b) == 0)
}

impl ProcessMemory {
    /// The process's regions like `/proc/PID/maps`. With an executable,
    /// ranges the core has no segment for get their permissions from its
    /// program headers.
    pub fn regions(&self) -> Vec<Region> {
        build_regions(self.core(), self.executable().zip(self.placement()))
    }
}

/// Builds the region list:
/// - one region per `PT_LOAD` segment, path and offset from the `NT_FILE`
///   mapping containing its start;
/// - `NT_FILE` ranges no segment covers, with no bytes present;
/// - kinds: `file` (has a path), `vdso` (`AT_SYSINFO_EHDR`), `vvar`
///   (read-only anonymous regions directly below the vDSO), `vsyscall`,
///   `stack` (holds `AT_EXECFN`/`AT_RANDOM`, else the main thread's sp),
///   `heap` (the first anonymous writable region above the executable's
///   image, not contiguous with it, within the kernel's brk randomisation
///   window — a heuristic: a core does not record the brk), else `anon`.
pub(crate) fn build_regions(core: &Core, exe: Option<(&Executable, &Placement)>) -> Vec<Region> {
    let mut regions: Vec<Region> = core
        .segments()
        .iter()
        .map(|s| Region {
            start: s.vaddr,
            end: s.end(),
            perms: Some(s.perms()),
            present_bytes: s.present,
            file_offset: None,
            path: None,
            deleted: false,
            kind: RegionKind::Anon,
            truncated: s.truncated,
            in_core: true,
        })
        .filter(|r| r.end > r.start)
        .collect();

    let mut mappings: Vec<_> = core.file_mappings().iter().collect();
    mappings.sort_by_key(|m| m.start);
    for r in regions.iter_mut() {
        let i = mappings.partition_point(|m| m.start <= r.start);
        if let Some(m) = i
            .checked_sub(1)
            .and_then(|i| mappings.get(i))
            .filter(|m| m.contains(r.start))
        {
            r.path = Some(m.path.clone());
            r.deleted = m.deleted;
            r.file_offset = m.file_offset.checked_add(r.start - m.start);
        }
    }
    // File ranges without a segment.
    let mut extra = Vec::new();
    for m in &mappings {
        let mut at = m.start;
        let first = regions.partition_point(|r| r.end <= m.start);
        for r in regions.iter().skip(first) {
            if r.start >= m.end || at >= m.end {
                break;
            }
            if r.start > at {
                extra.push((at, r.start, *m));
            }
            at = at.max(r.end);
        }
        if at < m.end {
            extra.push((at, m.end, *m));
        }
    }
    for (start, end, m) in extra {
        let perms = exe.and_then(|(e, p)| {
            let link = p.link_address(start);
            e.load_segments()
                .find(|ph| ph.vaddr <= link && link < ph.vaddr_end())
                .map(|ph| Perms::from_flags(ph.flags))
        });
        regions.push(Region {
            start,
            end,
            perms,
            present_bytes: 0,
            file_offset: m.file_offset.checked_add(start - m.start),
            path: Some(m.path.clone()),
            deleted: m.deleted,
            kind: RegionKind::File,
            truncated: false,
            in_core: false,
        });
    }
    // Without NT_FILE, the placed executable still names its own ranges.
    if mappings.is_empty() {
        if let Some((e, p)) = exe {
            let path = e.path().to_string_lossy().into_owned();
            for r in regions.iter_mut() {
                let link = p.link_address(r.start);
                if let Some(ph) = e
                    .load_segments()
                    .find(|ph| ph.vaddr <= link && link < ph.vaddr_end())
                {
                    if link - ph.vaddr < ph.filesz {
                        r.path = Some(path.clone());
                        r.file_offset = ph.offset.checked_add(link - ph.vaddr);
                    }
                }
            }
        }
    }
    regions.sort_by_key(|r| (r.start, r.end));
    label_kinds(core, exe, &mut regions);
    regions
}

fn label_kinds(core: &Core, exe: Option<(&Executable, &Placement)>, regions: &mut [Region]) {
    for r in regions.iter_mut() {
        if r.path.is_some() {
            r.kind = RegionKind::File;
        }
    }
    let aux = |k| core.auxv().and_then(|a| a.get(k));
    let find = |regions: &[Region], addr: u64| regions.iter().position(|r| r.contains(addr));

    if core.arch() == Arch::X86_64 {
        if let Some(i) = regions
            .iter()
            .position(|r| r.start == VSYSCALL_ADDR && r.path.is_none())
        {
            if let Some(r) = regions.get_mut(i) {
                r.kind = RegionKind::Vsyscall;
            }
        }
    }
    if let Some(vdso) = aux(auxv::AT_SYSINFO_EHDR).and_then(|a| find(regions, a)) {
        if let Some(r) = regions.get_mut(vdso) {
            r.kind = RegionKind::Vdso;
        }
        // [vvar] (and [vvar_vclock] on newer kernels) sit right below.
        let mut next_start = regions.get(vdso).map(|r| r.start);
        for i in (0..vdso).rev().take(4) {
            let Some(r) = regions.get_mut(i) else { break };
            let read_only = r.perms.is_some_and(|p| !p.write && !p.exec);
            if Some(r.end) != next_start || r.path.is_some() || !read_only {
                break;
            }
            r.kind = RegionKind::Vvar;
            next_start = Some(r.start);
        }
    }
    let stack_addr = [auxv::AT_EXECFN, auxv::AT_RANDOM, auxv::AT_PLATFORM]
        .iter()
        .filter_map(|k| aux(*k))
        .find(|a| {
            find(regions, *a).is_some_and(|i| regions.get(i).is_some_and(|r| r.path.is_none()))
        })
        .or_else(|| core.main_thread().and_then(|t| t.sp()));
    if let Some(i) = stack_addr.and_then(|a| find(regions, a)) {
        if let Some(r) = regions.get_mut(i).filter(|r| r.kind == RegionKind::Anon) {
            r.kind = RegionKind::Stack;
        }
    }
    // brk heap: above the executable's image, not its bss continuation.
    let image_end = match core.executable_mappings().iter().map(|m| m.end).max() {
        Some(end) => Some(end),
        None => exe.and_then(|(e, p)| {
            e.load_segments()
                .map(|ph| p.runtime_address(ph.vaddr_end()))
                .max()
        }),
    };
    if let Some(image_end) = image_end {
        // An anonymous region starting exactly at the image's end is its bss.
        let after = regions
            .iter()
            .find(|r| r.start == image_end && r.path.is_none())
            .map(|r| r.end)
            .unwrap_or(image_end);
        let limit = image_end.saturating_add(brk_window(core.arch()));
        if let Some(r) = regions.iter_mut().find(|r| {
            r.start >= after
                && r.start != image_end
                && r.start <= limit
                && r.path.is_none()
                && r.kind == RegionKind::Anon
                && r.perms.is_some_and(|p| p.read && p.write && !p.exec)
        }) {
            r.kind = RegionKind::Heap;
        }
    }
}

/// Relabels `[start, end)` as `kind`, splitting regions at the boundaries.
/// Present bytes are a prefix of each region, so they split exactly; file
/// offsets advance with the split. For the Go runtime layer (`GoHeap`,
/// `GoStack`); regions outside the range are untouched.
pub fn relabel(regions: &mut Vec<Region>, start: u64, end: u64, kind: RegionKind) {
    if start >= end {
        return;
    }
    let mut out = Vec::with_capacity(regions.len() + 2);
    for r in regions.drain(..) {
        if r.end <= start || r.start >= end {
            out.push(r);
            continue;
        }
        let cut_lo = start.max(r.start);
        let cut_hi = end.min(r.end);
        for (lo, hi, relabelled) in [
            (r.start, cut_lo, false),
            (cut_lo, cut_hi, true),
            (cut_hi, r.end, false),
        ] {
            if lo >= hi {
                continue;
            }
            let mut part = r.clone();
            part.start = lo;
            part.end = hi;
            let skip = lo - r.start;
            part.present_bytes = r.present_bytes.saturating_sub(skip).min(hi - lo);
            part.file_offset = r.file_offset.and_then(|o| o.checked_add(skip));
            if relabelled {
                part.kind = kind;
            }
            out.push(part);
        }
    }
    *regions = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(start: u64, end: u64, present: u64) -> Region {
        Region {
            start,
            end,
            perms: None,
            present_bytes: present,
            file_offset: Some(0x1000),
            path: None,
            deleted: false,
            kind: RegionKind::Anon,
            truncated: false,
            in_core: true,
        }
    }

    #[test]
    fn relabel_splits_and_keeps_present_bytes_a_prefix() {
        let mut rs = vec![region(0x1000, 0x5000, 0x2800), region(0x6000, 0x7000, 0)];
        relabel(&mut rs, 0x2000, 0x6800, RegionKind::GoHeap);
        let got: Vec<_> = rs
            .iter()
            .map(|r| (r.start, r.end, r.present_bytes, r.file_offset, r.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                (0x1000, 0x2000, 0x1000, Some(0x1000), RegionKind::Anon),
                (0x2000, 0x5000, 0x1800, Some(0x2000), RegionKind::GoHeap),
                (0x6000, 0x6800, 0, Some(0x1000), RegionKind::GoHeap),
                (0x6800, 0x7000, 0, Some(0x1800), RegionKind::Anon),
            ]
        );
        let before = rs.clone();
        relabel(&mut rs, 0x9000, 0x8000, RegionKind::GoStack);
        assert_eq!(rs, before);
    }
}
