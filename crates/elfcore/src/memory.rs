//! [`ProcessMemory`]: the process image as a bounds-checked view by virtual
//! address. Bytes come from the core where the kernel wrote them and from
//! the executable for pages it left out (text, rodata, pclntab, unwritten
//! data); bytes neither has are reported [`ReadError::Absent`], never zeros.
//!
//! Address translation goes through a sorted, non-overlapping table of
//! pieces built once; a read is a binary search plus a slice of a memory
//! map. Nothing allocates per read.

use crate::core::Core;
use crate::error::{CoreError, ReadError};
use crate::executable::Executable;
use crate::matching::{place_executable, Placement};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Where the bytes of a piece of address space live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backing {
    /// In the core file, starting at this file offset.
    Core(u64),
    /// In the executable file, starting at this file offset.
    Exe(u64),
    /// Mapped in the process, but its bytes are in neither file.
    Absent,
}

/// An input range for [`PieceTable::build`]: lower `priority` wins where
/// ranges overlap. The backing offset is that of `start`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub start: u64,
    pub end: u64,
    pub priority: u8,
    pub backing: Backing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    start: u64,
    end: u64,
    backing: Backing,
}

/// Sorted, non-overlapping pieces of address space.
#[derive(Clone, Debug, Default)]
pub(crate) struct PieceTable {
    pieces: Vec<Piece>,
}

fn advance(backing: Backing, by: u64) -> Backing {
    match backing {
        Backing::Core(o) => Backing::Core(o.saturating_add(by)),
        Backing::Exe(o) => Backing::Exe(o.saturating_add(by)),
        Backing::Absent => Backing::Absent,
    }
}

impl PieceTable {
    /// Resolves overlapping spans (a sweep over their boundaries with a heap
    /// of the active spans, O(n log n)) and merges adjacent pieces that
    /// continue each other in the same file.
    pub fn build(mut spans: Vec<Span>) -> PieceTable {
        spans.retain(|s| s.start < s.end);
        spans.sort_by_key(|s| s.start);
        let mut points: Vec<u64> = spans.iter().flat_map(|s| [s.start, s.end]).collect();
        points.sort_unstable();
        points.dedup();
        let mut pieces: Vec<Piece> = Vec::new();
        // (priority, input order) so that ties go to the earlier span.
        let mut active: BinaryHeap<Reverse<(u8, usize)>> = BinaryHeap::new();
        let mut next = 0usize;
        for pair in points.windows(2) {
            let (lo, hi) = (pair[0], pair[1]);
            while let Some(s) = spans.get(next).filter(|s| s.start <= lo) {
                active.push(Reverse((s.priority, next)));
                next += 1;
            }
            while let Some(Reverse((_, i))) = active.peek() {
                if spans.get(*i).is_some_and(|s| s.end <= lo) {
                    active.pop();
                } else {
                    break;
                }
            }
            let Some(Reverse((_, i))) = active.peek() else {
                continue;
            };
            let Some(span) = spans.get(*i) else { continue };
            let backing = advance(span.backing, lo - span.start);
            if let Some(last) = pieces.last_mut() {
                if last.end == lo && advance(last.backing, last.end - last.start) == backing {
                    last.end = hi;
                    continue;
                }
            }
            pieces.push(Piece {
                start: lo,
                end: hi,
                backing,
            });
        }
        PieceTable { pieces }
    }

    fn index_of(&self, addr: u64) -> Option<usize> {
        let i = self.pieces.partition_point(|p| p.end <= addr);
        self.pieces.get(i).filter(|p| p.start <= addr).map(|_| i)
    }

    /// The file bytes of one piece from `addr` to its end, or why not.
    fn slice_from<'a>(
        piece: &Piece,
        core: &'a [u8],
        exe: &'a [u8],
        addr: u64,
    ) -> Result<&'a [u8], ReadError> {
        let (file, base) = match piece.backing {
            Backing::Core(o) => (core, o),
            Backing::Exe(o) => (exe, o),
            Backing::Absent => return Err(ReadError::Absent { addr }),
        };
        let skip = addr - piece.start; // addr >= piece.start by lookup
        let len = piece.end - addr;
        let from = base.checked_add(skip).and_then(|v| usize::try_from(v).ok());
        let to = from.and_then(|f| f.checked_add(usize::try_from(len).ok()?));
        match (from, to) {
            (Some(f), Some(t)) => file.get(f..t).ok_or(ReadError::Absent { addr }),
            _ => Err(ReadError::Absent { addr }),
        }
    }

    /// The whole piece holding `addr`: its start address and its bytes.
    pub fn piece<'a>(
        &self,
        core: &'a [u8],
        exe: &'a [u8],
        addr: u64,
    ) -> Result<(u64, &'a [u8]), ReadError> {
        let i = self.index_of(addr).ok_or(ReadError::Unmapped { addr })?;
        let piece = self.pieces.get(i).ok_or(ReadError::Unmapped { addr })?;
        match Self::slice_from(piece, core, exe, piece.start) {
            Ok(bytes) => Ok((piece.start, bytes)),
            Err(_) => Err(ReadError::Absent { addr }),
        }
    }

    /// Everything readable from `addr` to the end of its piece.
    pub fn contiguous<'a>(
        &self,
        core: &'a [u8],
        exe: &'a [u8],
        addr: u64,
    ) -> Result<&'a [u8], ReadError> {
        let i = self.index_of(addr).ok_or(ReadError::Unmapped { addr })?;
        let piece = self.pieces.get(i).ok_or(ReadError::Unmapped { addr })?;
        Self::slice_from(piece, core, exe, addr)
    }

    pub fn bytes<'a>(
        &self,
        core: &'a [u8],
        exe: &'a [u8],
        addr: u64,
        len: usize,
    ) -> Result<&'a [u8], ReadError> {
        let len64 = len as u64;
        addr.checked_add(len64)
            .ok_or(ReadError::Overflow { addr, len: len64 })?;
        let avail = self.contiguous(core, exe, addr)?;
        if let Some(s) = avail.get(..len) {
            return Ok(s);
        }
        // Crosses a piece boundary: say what is wrong at the first bad byte,
        // or that it is fine but not in one slice.
        match self.first_failure(addr, len64) {
            Some(e) => Err(e),
            None => Err(ReadError::Discontiguous { addr, len: len64 }),
        }
    }

    /// The first unreadable byte of `[addr, addr+len)`, if any.
    fn first_failure(&self, addr: u64, len: u64) -> Option<ReadError> {
        let end = addr.checked_add(len)?;
        let mut at = addr;
        let mut i = match self.index_of(addr) {
            Some(i) => i,
            None => return Some(ReadError::Unmapped { addr }),
        };
        while at < end {
            let Some(p) = self.pieces.get(i) else {
                return Some(ReadError::Unmapped { addr: at });
            };
            if p.start > at {
                return Some(ReadError::Unmapped { addr: at });
            }
            if p.backing == Backing::Absent {
                return Some(ReadError::Absent { addr: at });
            }
            at = p.end;
            i += 1;
        }
        None
    }

    pub fn read(
        &self,
        core: &[u8],
        exe: &[u8],
        addr: u64,
        buf: &mut [u8],
    ) -> Result<(), ReadError> {
        let len = buf.len() as u64;
        addr.checked_add(len)
            .ok_or(ReadError::Overflow { addr, len })?;
        let mut at = addr;
        let mut out = buf;
        while !out.is_empty() {
            let src = self.contiguous(core, exe, at)?;
            let n = src.len().min(out.len());
            if n == 0 {
                return Err(ReadError::Absent { addr: at });
            }
            let (head, tail) = out.split_at_mut(n);
            head.copy_from_slice(src.get(..n).unwrap_or(&[]));
            out = tail;
            at += n as u64; // n <= remaining len: no overflow (checked above)
        }
        Ok(())
    }

    fn ranges(&self) -> impl Iterator<Item = MemoryRange> + '_ {
        self.pieces.iter().map(|p| MemoryRange {
            start: p.start,
            end: p.end,
            source: match p.backing {
                Backing::Core(_) => ByteSource::Core,
                Backing::Exe(_) => ByteSource::Executable,
                Backing::Absent => ByteSource::Absent,
            },
        })
    }
}

/// Which file a range of process memory is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteSource {
    Core,
    Executable,
    /// Mapped, but in neither file.
    Absent,
}

/// A maximal range of address space with one source (see
/// [`ProcessMemory::ranges`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRange {
    pub start: u64,
    pub end: u64,
    pub source: ByteSource,
}

/// The process image: a core plus (optionally) its executable, read by
/// virtual address. Owns both, so a higher layer can keep one value.
#[derive(Debug)]
pub struct ProcessMemory {
    core: Core,
    exe: Option<Executable>,
    placement: Option<Placement>,
    table: PieceTable,
    /// Whether [`ProcessMemory::release`] and [`ProcessMemory::prefetch`]
    /// act: only for a core larger than [`RELEASE_FRACTION`] of the
    /// machine's memory (see there).
    release_behind: bool,
}

/// A core file larger than `1 / RELEASE_FRACTION` of the machine's RAM has
/// its pages released behind long scans (and prefetched ahead of them), so
/// that the process's resident set stays far below the core's size. A
/// smaller core stays mapped: its pages are in the page cache anyway, they
/// stay reclaimable (clean, file-backed), and every later pass over the
/// heap would otherwise fault them in again (0.5 s of system time on a
/// 2.85 GB core read three times).
const RELEASE_FRACTION: u64 = 4;

/// Whether a core file of `size` bytes should be released behind scans on
/// this machine ([`RELEASE_FRACTION`]); `MAPSCOPE_RELEASE_PAGES=1` / `=0`
/// forces it either way.
fn release_behind(size: u64) -> bool {
    match std::env::var("MAPSCOPE_RELEASE_PAGES").as_deref() {
        Ok("1") => return true,
        Ok("0") => return false,
        _ => {}
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let ram = {
        let info = rustix::system::sysinfo();
        u64::from(info.mem_unit).saturating_mul(info.totalram as u64)
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let ram = 0;
    release_for(size, ram)
}

/// [`release_behind`] for a machine with `ram` bytes (0: unknown, then
/// released: the safe side).
fn release_for(size: u64, ram: u64) -> bool {
    ram == 0 || size > ram / RELEASE_FRACTION
}

impl ProcessMemory {
    /// Builds the view. With an executable, it is placed at the address the
    /// core mapped it (PIE load bias from `NT_FILE` or `AT_ENTRY`) and its
    /// file bytes fill pages the core lacks. Fails if the executable is for
    /// another machine or cannot be placed in this process at all; whether
    /// it is really the same build is [`crate::match_executable`]'s job.
    pub fn new(core: Core, exe: Option<Executable>) -> Result<ProcessMemory, CoreError> {
        let mut spans = Vec::new();
        for s in core.segments() {
            let present_end = s.vaddr.saturating_add(s.present);
            spans.push(Span {
                start: s.vaddr,
                end: present_end,
                priority: 0,
                backing: Backing::Core(s.offset),
            });
            spans.push(Span {
                start: present_end,
                end: s.end(),
                priority: 2,
                backing: Backing::Absent,
            });
        }
        let mut placement = None;
        if let Some(exe) = &exe {
            if exe.arch() != core.arch() {
                return Err(CoreError::Malformed {
                    path: exe.path().to_path_buf(),
                    what: format!(
                        "executable is for {} but the core {} is for {}",
                        exe.arch().elf_name(),
                        core.path().display(),
                        core.arch().elf_name()
                    ),
                });
            }
            let p = place_executable(&core, exe).ok_or_else(|| CoreError::Malformed {
                path: exe.path().to_path_buf(),
                what: format!(
                    "cannot find where the core {} mapped this executable (no matching NT_FILE entry or AT_ENTRY)",
                    core.path().display()
                ),
            })?;
            let file_len = exe.data().len() as u64;
            for ph in exe.load_segments() {
                let filesz = ph
                    .filesz
                    .min(ph.memsz)
                    .min(file_len.saturating_sub(ph.offset));
                let start = ph.vaddr.wrapping_add(p.bias);
                let Some(end) = start.checked_add(filesz) else {
                    continue;
                };
                spans.push(Span {
                    start,
                    end,
                    priority: 1,
                    backing: Backing::Exe(ph.offset),
                });
            }
            placement = Some(p);
        }
        let table = PieceTable::build(spans);
        let release_behind = release_behind(core.file_size());
        Ok(ProcessMemory {
            core,
            exe,
            placement,
            table,
            release_behind,
        })
    }

    pub fn core(&self) -> &Core {
        &self.core
    }
    pub fn executable(&self) -> Option<&Executable> {
        self.exe.as_ref()
    }
    /// Where the executable sits in the process (load bias), if one was given.
    pub fn placement(&self) -> Option<&Placement> {
        self.placement.as_ref()
    }
    /// Gives back the core and executable.
    pub fn into_parts(self) -> (Core, Option<Executable>) {
        (self.core, self.exe)
    }

    fn exe_bytes(&self) -> &[u8] {
        self.exe.as_ref().map(|e| e.data()).unwrap_or(&[])
    }

    /// Copies `buf.len()` bytes at `addr` into `buf`, across pieces and files.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.table
            .read(self.core.data(), self.exe_bytes(), addr, buf)
    }

    /// `len` bytes at `addr`, borrowed from the memory map (zero-copy). Fails
    /// with [`ReadError::Discontiguous`] when the range is readable but
    /// spans two files (use [`ProcessMemory::read`] then).
    pub fn bytes(&self, addr: u64, len: usize) -> Result<&[u8], ReadError> {
        self.table
            .bytes(self.core.data(), self.exe_bytes(), addr, len)
    }

    /// All bytes readable in one slice from `addr` to the end of its piece
    /// (for scanning: e.g. search a region without knowing its layout).
    pub fn contiguous_at(&self, addr: u64) -> Result<&[u8], ReadError> {
        self.table
            .contiguous(self.core.data(), self.exe_bytes(), addr)
    }

    /// The whole readable piece holding `addr`: its start address and its
    /// bytes (for readers that cache it: any later address inside needs no
    /// search).
    pub fn piece_at(&self, addr: u64) -> Result<(u64, &[u8]), ReadError> {
        self.table.piece(self.core.data(), self.exe_bytes(), addr)
    }

    /// Tells the kernel this process will not read the core's bytes of
    /// `[addr, addr+len)` again soon: their pages leave the process's
    /// resident set (they stay in the page cache, and a later read simply
    /// maps them again). Long scans call this behind them so that peak RSS
    /// stays far below the core's size. Whole pages inside the range only;
    /// a no-op for bytes not from a memory-mapped core file, and for a
    /// core small next to the machine's memory (`RELEASE_FRACTION`).
    pub fn release(&self, addr: u64, len: u64) {
        if !self.release_behind {
            return;
        }
        self.for_core_file_range(addr, len, |from, n| self.release_file(from, n));
    }

    /// Drops this process's page-table entries for part `part` of `parts`
    /// (equal slices, page-aligned) of the memory-mapped core file, for
    /// the end of a run: unmapping a core whose pages are all mapped tears
    /// down one entry per page on one thread (0.1 s for a 2.65 GB core),
    /// while the parts can be dropped on several threads, beside the
    /// run's last steps. The bytes stay readable: a later read maps them
    /// again from the page cache. Unlike [`ProcessMemory::release`], done
    /// whatever the core's size; a no-op for a core that is not mapped.
    pub fn release_core_part(&self, part: usize, parts: usize) {
        const PAGE: u64 = 4096;
        let len = self.core.file_size();
        let parts = parts.max(1) as u64;
        let share = len.div_ceil(parts).div_ceil(PAGE) * PAGE;
        let from = share.saturating_mul(part as u64);
        if from < len {
            self.release_file(from, share.min(len - from));
        }
    }

    /// Tells the kernel this process is about to read the core's bytes of
    /// `[addr, addr+len)`: their pages are mapped in one call
    /// (`MADV_POPULATE_READ`, Linux 5.14+) instead of one page fault per
    /// few pages while scanning. Best effort: without the call (older
    /// kernels, other systems) nothing happens and reads fault as before.
    /// Only where pages are released behind scans (`RELEASE_FRACTION`):
    /// otherwise each page is faulted once and stays mapped.
    pub fn prefetch(&self, addr: u64, len: u64) {
        if !self.release_behind {
            return;
        }
        self.for_core_file_range(addr, len, |from, n| self.prefetch_file(from, n));
    }

    /// Calls `f(file offset, len)` for the core-file bytes of `[addr,
    /// addr+len)`, piece by piece (unmapped gaps skipped).
    fn for_core_file_range(&self, addr: u64, len: u64, mut f: impl FnMut(u64, u64)) {
        let end = addr.saturating_add(len);
        let pieces = &self.table.pieces;
        // The first piece ending after `addr`, then each one in order.
        let first = pieces.partition_point(|p| p.end <= addr);
        for p in pieces.get(first..).unwrap_or(&[]) {
            if p.start >= end {
                break;
            }
            let at = p.start.max(addr);
            let stop = p.end.min(end);
            if let Backing::Core(off) = p.backing {
                f(off.saturating_add(at - p.start), stop - at);
            }
        }
    }

    /// Calls `f(mapping, start, len)` for the pages of the core file's
    /// `[offset, offset+len)`: only those wholly inside it (`whole`), or
    /// every page it touches. Nothing for a core that is not mapped.
    fn with_pages(
        &self,
        offset: u64,
        len: u64,
        whole: bool,
        f: impl FnOnce(&memmap2::Mmap, usize, usize),
    ) {
        const PAGE: u64 = 4096;
        let file = self.core.mapped();
        let crate::input::FileBytes::Map(map) = &file.map else {
            return;
        };
        let end = offset.saturating_add(len).min(map.len() as u64);
        let (lo, hi) = if whole {
            (offset.div_ceil(PAGE) * PAGE, end / PAGE * PAGE)
        } else {
            (offset / PAGE * PAGE, end)
        };
        if hi > lo {
            f(map, lo as usize, (hi - lo) as usize);
        }
    }

    fn release_file(&self, offset: u64, len: u64) {
        // Only whole pages inside the range: a neighbour's partial page
        // stays mapped.
        self.with_pages(offset, len, true, |map, lo, n| {
            #[cfg(not(unix))]
            let _ = (map, lo, n);
            #[cfg(unix)]
            {
                // SAFETY: the map is a read-only mapping of a file nobody
                // writes while we hold it; MADV_DONTNEED only drops this
                // process's page table entries, and the next access maps
                // the same file bytes again, so every outstanding `&[u8]`
                // keeps reading what it read.
                let _ = unsafe {
                    map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, lo, n)
                };
            }
        });
    }

    fn prefetch_file(&self, offset: u64, len: u64) {
        // Every page the range touches.
        self.with_pages(offset, len, false, |map, lo, n| {
            #[cfg(not(target_os = "linux"))]
            let _ = (map, lo, n);
            #[cfg(target_os = "linux")]
            {
                let _ = map.advise_range(memmap2::Advice::PopulateRead, lo, n);
            }
        });
    }

    /// Whether `[addr, addr+len)` can be read completely.
    pub fn is_readable(&self, addr: u64, len: u64) -> bool {
        addr.checked_add(len).is_some()
            && self.table.index_of(addr).is_some()
            && self.table.first_failure(addr, len).is_none()
    }

    /// The address space as maximal ranges by source, sorted.
    pub fn ranges(&self) -> impl Iterator<Item = MemoryRange> + '_ {
        self.table.ranges()
    }

    #[inline]
    fn read_array<const N: usize>(&self, addr: u64) -> Result<[u8; N], ReadError> {
        // Fast path: one slice of one piece; crossing pieces is rare.
        match self.bytes(addr, N) {
            Ok(b) => <[u8; N]>::try_from(b).map_err(|_| ReadError::Absent { addr }),
            Err(ReadError::Discontiguous { .. }) => {
                let mut a = [0u8; N];
                self.read(addr, &mut a)?;
                Ok(a)
            }
            Err(e) => Err(e),
        }
    }

    pub fn read_u8(&self, addr: u64) -> Result<u8, ReadError> {
        Ok(self.read_array::<1>(addr)?[0])
    }
    pub fn read_u16(&self, addr: u64) -> Result<u16, ReadError> {
        self.read_array(addr).map(u16::from_le_bytes)
    }
    pub fn read_u32(&self, addr: u64) -> Result<u32, ReadError> {
        self.read_array(addr).map(u32::from_le_bytes)
    }
    pub fn read_u64(&self, addr: u64) -> Result<u64, ReadError> {
        self.read_array(addr).map(u64::from_le_bytes)
    }
    pub fn read_i64(&self, addr: u64) -> Result<i64, ReadError> {
        self.read_array(addr).map(i64::from_le_bytes)
    }
    /// A pointer (8 bytes on both supported machines).
    pub fn read_ptr(&self, addr: u64) -> Result<u64, ReadError> {
        self.read_u64(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cores_over_a_quarter_of_memory_are_released_behind_scans() {
        const GIB: u64 = 1 << 30;
        // The bench cores on the 23.5 GiB machine: 2.85 GB stays mapped,
        // the 12.6 GB one is released behind the scans.
        let ram = 23 * GIB + GIB / 2;
        assert!(!release_for(2_848_051_200, ram));
        assert!(release_for(12_583_452_672, ram));
        // The boundary: a quarter stays mapped, a byte more does not.
        assert!(!release_for(4 * GIB, 16 * GIB));
        assert!(release_for(4 * GIB + 1, 16 * GIB));
        // Memory size unknown: released.
        assert!(release_for(1, 0));
    }

    fn span(start: u64, end: u64, priority: u8, backing: Backing) -> Span {
        Span {
            start,
            end,
            priority,
            backing,
        }
    }

    #[test]
    fn core_beats_executable_beats_absent() {
        let t = PieceTable::build(vec![
            span(0x1000, 0x5000, 2, Backing::Absent),
            span(0x2000, 0x3000, 0, Backing::Core(100)),
            span(0x0000, 0x4000, 1, Backing::Exe(0)),
        ]);
        let got: Vec<_> = t
            .pieces
            .iter()
            .map(|p| (p.start, p.end, p.backing))
            .collect();
        assert_eq!(
            got,
            vec![
                (0x0000, 0x2000, Backing::Exe(0)),
                (0x2000, 0x3000, Backing::Core(100)),
                (0x3000, 0x4000, Backing::Exe(0x3000)),
                (0x4000, 0x5000, Backing::Absent),
            ]
        );
    }

    #[test]
    fn adjacent_pieces_that_continue_in_the_file_merge() {
        let t = PieceTable::build(vec![
            span(0, 0x10, 0, Backing::Core(0)),
            span(0x10, 0x20, 0, Backing::Core(0x10)),
        ]);
        assert_eq!(t.pieces.len(), 1);
        let t = PieceTable::build(vec![
            span(0, 0x10, 0, Backing::Core(0)),
            span(0x10, 0x20, 0, Backing::Core(0x40)),
        ]);
        assert_eq!(t.pieces.len(), 2);
    }

    #[test]
    fn reads_cross_pieces_and_report_the_first_bad_byte() {
        let core: Vec<u8> = (0..=255).collect();
        let exe: Vec<u8> = (0..=255).rev().collect();
        let t = PieceTable::build(vec![
            span(0x100, 0x110, 0, Backing::Core(0)),
            span(0x110, 0x120, 0, Backing::Exe(0)),
            span(0x120, 0x130, 2, Backing::Absent),
        ]);
        let mut buf = [0u8; 4];
        t.read(&core, &exe, 0x10e, &mut buf).unwrap();
        assert_eq!(buf, [14, 15, 255, 254]);
        assert_eq!(
            t.bytes(&core, &exe, 0x10e, 4),
            Err(ReadError::Discontiguous {
                addr: 0x10e,
                len: 4
            })
        );
        assert_eq!(t.bytes(&core, &exe, 0x100, 16).unwrap(), &core[..16]);
        assert_eq!(
            t.read(&core, &exe, 0x11e, &mut buf),
            Err(ReadError::Absent { addr: 0x120 })
        );
        assert_eq!(
            t.bytes(&core, &exe, 0x11e, 4),
            Err(ReadError::Absent { addr: 0x120 })
        );
        assert_eq!(
            t.read(&core, &exe, 0x12e, &mut buf),
            Err(ReadError::Absent { addr: 0x12e })
        );
        assert_eq!(
            t.read(&core, &exe, 0x130, &mut buf),
            Err(ReadError::Unmapped { addr: 0x130 })
        );
        assert_eq!(
            t.read(&core, &exe, 0xff, &mut buf),
            Err(ReadError::Unmapped { addr: 0xff })
        );
        assert_eq!(t.bytes(&core, &exe, 0x100, 0).unwrap().len(), 0);
        // The whole piece of an address inside it: from its start.
        assert_eq!(t.piece(&core, &exe, 0x10e), Ok((0x100, &core[..16])));
        assert_eq!(t.piece(&core, &exe, 0x110), Ok((0x110, &exe[..16])));
        assert_eq!(
            t.piece(&core, &exe, 0x12e),
            Err(ReadError::Absent { addr: 0x12e })
        );
        assert_eq!(
            t.piece(&core, &exe, 0x130),
            Err(ReadError::Unmapped { addr: 0x130 })
        );
    }

    #[test]
    fn a_backing_range_past_the_file_is_absent_not_a_panic() {
        let core = vec![0u8; 8];
        let t = PieceTable::build(vec![span(0, 0x100, 0, Backing::Core(u64::MAX - 4))]);
        let mut buf = [0u8; 4];
        assert_eq!(
            t.read(&core, &[], 0, &mut buf),
            Err(ReadError::Absent { addr: 0 })
        );
    }
}
