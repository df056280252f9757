//! Offsets of `runtime.g`, `runtime.m` (with `runtime.stack` and
//! `runtime.gobuf` inside) and of the saved registers in a signal frame's
//! `ucontext` (the kernel ABI of linux/amd64 and linux/arm64); the Go
//! structs' offsets are resolved once from DWARF —
//! the executable's own, or for a stripped executable the stand-in that
//! the per-release layout table builds (`dwarf::table`), which is tested
//! against the DWARF of reference builds of every release.

use mapscope_elfcore::Arch;

use crate::dwarf::{DwarfInfo, DwarfSource, TypeTable};
use crate::error::GoRuntimeError;

/// Where the layouts came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutSource {
    /// The executable's DWARF.
    Dwarf,
    /// The built-in layout table for the executable's Go release (no
    /// DWARF in the executable).
    Table,
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
/// the start of the kernel's `ucontext`, and how to find that `ucontext`
/// from `runtime.sigtramp`'s frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SignalLayout {
    pub sp: u64,
    pub pc: u64,
    /// The frame pointer: `rbp` on amd64, `x29` on arm64.
    pub fp: u64,
    /// The link register `x30` (arm64 only).
    pub lr: Option<u64>,
    pub ucontext: UcontextAt,
}

/// Where `runtime.sigtramp`'s frame holds the signal's `ucontext`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UcontextAt {
    /// At the frame's CFA (amd64: the kernel's `rt_sigframe` puts the
    /// restorer's address, then the `ucontext`, at the handler's stack).
    Cfa,
    /// In the word at `sp + offset` of sigtramp's frame (arm64: the kernel
    /// passes the `ucontext` in R2 and sigtramp stores R2 at `24(RSP)` as
    /// `sigtrampgo`'s third argument).
    SavedArgument(u64),
}

impl SignalLayout {
    /// `struct ucontext` puts `uc_mcontext` after flags, link and a 24-byte
    /// `stack_t`; in `struct sigcontext` rbp, rsp and rip are words 10, 15
    /// and 16. This is the kernel ABI, not a Go layout.
    const LINUX_AMD64: SignalLayout = SignalLayout {
        fp: 40 + 10 * 8,
        sp: 40 + 15 * 8,
        pc: 40 + 16 * 8,
        lr: None,
        ucontext: UcontextAt::Cfa,
    };

    /// `uc_mcontext` at 176 (flags, link, `stack_t`, sigmask and 1 KiB
    /// of signal set padding); `struct sigcontext` is fault_address,
    /// regs[31], sp, pc: x29 at 8 + 29 * 8, sp at 256, pc at 264.
    const LINUX_ARM64: SignalLayout = SignalLayout {
        fp: 176 + 8 + 29 * 8,
        sp: 176 + 256,
        pc: 176 + 264,
        lr: Some(176 + 8 + 30 * 8),
        ucontext: UcontextAt::SavedArgument(24),
    };

    /// The kernel ABI of `arch`. (Go's DWARF has no `runtime.ucontext`:
    /// the runtime reaches it only through unsafe casts.) The corpus
    /// goroutine test checks both against the crash traceback's registers.
    fn for_arch(arch: Arch) -> SignalLayout {
        match arch {
            Arch::Aarch64 => SignalLayout::LINUX_ARM64,
            _ => SignalLayout::LINUX_AMD64,
        }
    }
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
    pub(crate) fn from_dwarf(dwarf: &DwarfInfo, arch: Arch) -> Result<Layouts, GoRuntimeError> {
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
        let signal = SignalLayout::for_arch(arch);
        Ok(Layouts {
            g: gl,
            m: ml,
            signal,
            source: match dwarf.source() {
                DwarfSource::Executable => LayoutSource::Dwarf,
                DwarfSource::Table { .. } => LayoutSource::Table,
            },
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
