//! Offsets of `runtime.g`, `runtime.m` (with `runtime.stack` and
//! `runtime.gobuf` inside) and of the saved registers in a signal frame's
//! `ucontext`, resolved once from DWARF.
//!
//! Stripped executables (no DWARF) get a per-release table for linux/amd64,
//! measured from the DWARF of Go 1.21 – 1.27 builds; using it is always
//! reported as a warning, and a test checks the table against DWARF for
//! every release on disk.

use crate::dwarf::{DwarfInfo, TypeTable};
use crate::error::GoRuntimeError;

/// Where the layouts came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutSource {
    Dwarf,
    /// The built-in table for this Go release (stripped executable).
    FallbackTable,
}

/// Field offsets of `runtime.g` used here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GLayout {
    /// Bytes read per `g` (covers every field below).
    pub size: u64,
    pub stack_lo: u64,
    pub stack_hi: u64,
    pub m: u64,
    pub sched_sp: u64,
    pub sched_pc: u64,
    pub sched_lr: Option<u64>,
    pub syscallsp: u64,
    pub syscallpc: u64,
    pub atomicstatus: u64,
    pub goid: u64,
    pub waitsince: Option<u64>,
    pub waitreason: Option<u64>,
    pub lockedm: Option<u64>,
    pub parent_goid: Option<u64>,
    pub gopc: Option<u64>,
    pub startpc: Option<u64>,
}

/// Field offsets of `runtime.m` used here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MLayout {
    pub size: u64,
    pub g0: u64,
    pub procid: u64,
    pub gsignal: Option<u64>,
    pub curg: u64,
    pub id: u64,
    pub alllink: u64,
    pub vdso_sp: Option<u64>,
    pub vdso_pc: Option<u64>,
}

/// Where a signal handler finds the interrupted registers: offsets from
/// the start of the kernel's `ucontext` (linux/amd64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SignalLayout {
    pub rsp: u64,
    pub rip: u64,
    pub rbp: u64,
}

impl SignalLayout {
    /// `struct ucontext` puts `uc_mcontext` after flags, link and a 24-byte
    /// `stack_t`; in `struct sigcontext` rbp, rsp and rip are words 10, 15
    /// and 16. This is the kernel ABI, not a Go layout.
    const LINUX_AMD64: SignalLayout = SignalLayout {
        rbp: 40 + 10 * 8,
        rsp: 40 + 15 * 8,
        rip: 40 + 16 * 8,
    };
}

#[derive(Clone, Debug)]
pub(crate) struct Layouts {
    pub g: GLayout,
    pub m: MLayout,
    pub signal: SignalLayout,
    pub source: LayoutSource,
}

/// Bound on the bytes read per `g` or `m` (both are under 4 KiB in every
/// release so far).
const MAX_STRUCT_BYTES: u64 = 64 * 1024;

fn off(types: &TypeTable, ty: &str, path: &str) -> Option<u64> {
    types.field_offset(ty, path)
}

fn need(types: &TypeTable, ty: &str, path: &str) -> Result<u64, GoRuntimeError> {
    off(types, ty, path).ok_or_else(|| GoRuntimeError::MissingLayout {
        what: format!("{ty}.{path}"),
        purpose: "list goroutines",
    })
}

/// Bytes needed to read every listed offset as an 8-byte word.
fn span(offsets: &[Option<u64>]) -> u64 {
    offsets
        .iter()
        .flatten()
        .map(|o| o.saturating_add(8))
        .max()
        .unwrap_or(0)
}

impl Layouts {
    /// Resolves every offset from DWARF. Fails only when a required member
    /// is missing (a release this code does not know, or damage).
    pub(crate) fn from_dwarf(dwarf: &DwarfInfo) -> Result<Layouts, GoRuntimeError> {
        let t = dwarf.types();
        let g = "runtime.g";
        let mut gl = GLayout {
            size: 0,
            stack_lo: need(t, g, "stack.lo")?,
            stack_hi: need(t, g, "stack.hi")?,
            m: need(t, g, "m")?,
            sched_sp: need(t, g, "sched.sp")?,
            sched_pc: need(t, g, "sched.pc")?,
            sched_lr: off(t, g, "sched.lr"),
            syscallsp: need(t, g, "syscallsp")?,
            syscallpc: need(t, g, "syscallpc")?,
            atomicstatus: need(t, g, "atomicstatus")?,
            goid: need(t, g, "goid")?,
            waitsince: off(t, g, "waitsince"),
            waitreason: off(t, g, "waitreason"),
            lockedm: off(t, g, "lockedm"),
            parent_goid: off(t, g, "parentGoid"),
            gopc: off(t, g, "gopc"),
            startpc: off(t, g, "startpc"),
        };
        gl.size = gl.span();
        let m = "runtime.m";
        let mut ml = MLayout {
            size: 0,
            g0: need(t, m, "g0")?,
            procid: need(t, m, "procid")?,
            gsignal: off(t, m, "gsignal"),
            curg: need(t, m, "curg")?,
            id: need(t, m, "id")?,
            alllink: need(t, m, "alllink")?,
            vdso_sp: off(t, m, "vdsoSP"),
            vdso_pc: off(t, m, "vdsoPC"),
        };
        ml.size = ml.span();
        // Offsets come from the file: never size a read by a wild one.
        for (what, size) in [("runtime.g", gl.size), ("runtime.m", ml.size)] {
            if size > MAX_STRUCT_BYTES {
                return Err(GoRuntimeError::MissingLayout {
                    what: format!("a plausible {what} (DWARF member offsets reach {size} bytes)"),
                    purpose: "list goroutines",
                });
            }
        }
        // The kernel's layout, as Go's own DWARF describes it when present.
        let signal = match (
            off(t, "runtime.ucontext", "uc_mcontext"),
            off(t, "runtime.sigcontext", "rsp"),
            off(t, "runtime.sigcontext", "rip"),
            off(t, "runtime.sigcontext", "rbp"),
        ) {
            (Some(mc), Some(sp), Some(ip), Some(bp)) => SignalLayout {
                rsp: mc + sp,
                rip: mc + ip,
                rbp: mc + bp,
            },
            _ => SignalLayout::LINUX_AMD64,
        };
        Ok(Layouts {
            g: gl,
            m: ml,
            signal,
            source: LayoutSource::Dwarf,
        })
    }

    /// The built-in table for Go 1.`minor` on linux/amd64 (stripped
    /// executables only).
    pub(crate) fn fallback(minor: u32) -> Option<Layouts> {
        let (g, m) = fallback_table(minor)?;
        Some(Layouts {
            g,
            m,
            signal: SignalLayout::LINUX_AMD64,
            source: LayoutSource::FallbackTable,
        })
    }
}

impl GLayout {
    fn span(&self) -> u64 {
        span(&[
            Some(self.stack_lo),
            Some(self.stack_hi),
            Some(self.m),
            Some(self.sched_sp),
            Some(self.sched_pc),
            self.sched_lr,
            Some(self.syscallsp),
            Some(self.syscallpc),
            Some(self.atomicstatus),
            Some(self.goid),
            self.waitsince,
            self.waitreason,
            self.lockedm,
            self.parent_goid,
            self.gopc,
            self.startpc,
        ])
    }
}

impl MLayout {
    fn span(&self) -> u64 {
        span(&[
            Some(self.g0),
            Some(self.procid),
            self.gsignal,
            Some(self.curg),
            Some(self.id),
            Some(self.alllink),
            self.vdso_sp,
            self.vdso_pc,
        ])
    }
}

/// `runtime.g` offsets that moved between releases, in the order of
/// [`GTable`]'s fields.
struct GTable {
    syscall: (u64, u64),
    status_goid: (u64, u64),
    waitsince_reason: (u64, u64),
    lockedm: u64,
    parent_gopc_startpc: (u64, u64, u64),
    sched_lr: u64,
}

/// `runtime.m` offsets: g0, procid, gsignal, curg, id, alllink, vdsoSP, vdsoPC.
type MTable = [u64; 8];

/// Measured from the DWARF of linux/amd64 builds of each release (see the
/// module test that re-checks it against every executable on disk).
fn fallback_table(minor: u32) -> Option<(GLayout, MLayout)> {
    const G_121: GTable = GTable {
        syscall: (112, 120),
        status_goid: (144, 152),
        waitsince_reason: (168, 176),
        lockedm: 208,
        parent_gopc_startpc: (272, 280, 296),
        sched_lr: 40,
    };
    const G_123: GTable = GTable {
        syscall: (112, 120),
        status_goid: (152, 160),
        waitsince_reason: (176, 184),
        lockedm: 216,
        parent_gopc_startpc: (280, 288, 304),
        sched_lr: 40,
    };
    const G_125: GTable = GTable {
        syscall: (104, 112),
        status_goid: (144, 152),
        waitsince_reason: (168, 176),
        lockedm: 208,
        parent_gopc_startpc: (272, 280, 296),
        sched_lr: 32,
    };
    const G_126: GTable = GTable {
        syscall: (104, 112),
        status_goid: (144, 152),
        waitsince_reason: (168, 176),
        lockedm: 208,
        parent_gopc_startpc: (280, 288, 304),
        sched_lr: 32,
    };
    let (g, m): (&GTable, MTable) = match minor {
        21 => (&G_121, [0, 72, 80, 192, 232, 336, 808, 816]),
        22 => (&G_121, [0, 72, 80, 192, 232, 328, 1120, 1128]),
        23 => (&G_123, [0, 72, 80, 192, 232, 328, 856, 864]),
        24 => (&G_123, [0, 72, 80, 192, 232, 352, 904, 912]),
        25 => (&G_125, [0, 64, 72, 184, 224, 344, 896, 904]),
        26 | 27 => (&G_126, [0, 64, 72, 184, 232, 352, 896, 904]),
        _ => return None,
    };
    let mut gl = GLayout {
        size: 0,
        stack_lo: 0,
        stack_hi: 8,
        m: 48,
        sched_sp: 56,
        sched_pc: 64,
        sched_lr: Some(56 + g.sched_lr),
        syscallsp: g.syscall.0,
        syscallpc: g.syscall.1,
        atomicstatus: g.status_goid.0,
        goid: g.status_goid.1,
        waitsince: Some(g.waitsince_reason.0),
        waitreason: Some(g.waitsince_reason.1),
        lockedm: Some(g.lockedm),
        parent_goid: Some(g.parent_gopc_startpc.0),
        gopc: Some(g.parent_gopc_startpc.1),
        startpc: Some(g.parent_gopc_startpc.2),
    };
    gl.size = gl.span();
    let mut ml = MLayout {
        size: 0,
        g0: m[0],
        procid: m[1],
        gsignal: Some(m[2]),
        curg: m[3],
        id: m[4],
        alllink: m[5],
        vdso_sp: Some(m[6]),
        vdso_pc: Some(m[7]),
    };
    ml.size = ml.span();
    Some((gl, ml))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// Executables to check the table against: the shipped samples, and
    /// with `$MAPSCOPE_CORPUS` set every mapzoo incident of the corpus
    /// (scripts/gen-corpus.sh: Go 1.21 – 1.27 and variants).
    fn executables() -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = ["go1.22", "go1.26"]
            .iter()
            .map(|n| mapscope_testsupport::sample(n).exe)
            .collect();
        if let Some(corpus) = std::env::var_os(mapscope_testsupport::corpus::ENV) {
            let root = PathBuf::from(corpus).join("mapzoo");
            let entries = std::fs::read_dir(&root)
                .unwrap_or_else(|e| panic!("{}: {e} (scripts/gen-corpus.sh)", root.display()));
            out.extend(
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.path().join("mapzoo"))
                    .filter(|p| p.is_file()),
            );
        }
        out
    }

    #[test]
    fn fallback_table_matches_dwarf_of_every_release_on_disk() {
        for exe in executables() {
            let bytes = std::fs::read(&exe).expect("read exe");
            let dwarf = DwarfInfo::load(&bytes).expect("dwarf");
            let version = dwarf.go_version().expect("producer").to_string();
            let minor: u32 = version
                .trim_start_matches("go1.")
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .expect("minor");
            let from_dwarf = Layouts::from_dwarf(&dwarf).expect("layout");
            let table = Layouts::fallback(minor).expect("table");
            assert_eq!(from_dwarf.g, table.g, "{} ({version})", exe.display());
            assert_eq!(from_dwarf.m, table.m, "{} ({version})", exe.display());
            assert_eq!(
                from_dwarf.signal,
                table.signal,
                "{} ({version})",
                exe.display()
            );
        }
    }
}
