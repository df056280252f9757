//! The runtime's Ms (`runtime.allm`) matched to the core's threads, and
//! what each thread was doing: running a goroutine, on its system stack
//! (`g0`), or inside a signal handler — in which case the registers the
//! signal interrupted are read back from the kernel's signal frame.
//!
//! Matching: an M's `procid` is its thread id; `m.curg` is the goroutine
//! it runs (nil on an idle M).
//!
//! Signal frames (linux/amd64): the kernel enters `runtime.sigtramp` with
//! SP pointing at the `rt_sigframe`'s return address, and the `ucontext`
//! follows that word. The unwinder's CFA of the `sigtramp` frame is entry
//! SP + 8, i.e. the `ucontext`. Go's traceback of a thread that took a
//! signal (`goroutine 0 [idle]` blocks of a `GOTRACEBACK=crash` dump)
//! starts from exactly those interrupted registers.

use std::collections::HashSet;

use mapscope_elfcore::{Arch, ProcessMemory, Thread};

use super::layout::{Layouts, UcontextAt};
use super::stack::{Frame, StackContext};
use super::{field, read_struct};
use crate::pclntab::UnwindStart;
use crate::process::GoProcess;

/// Bound on the length of the `allm` list.
const MAX_MS: usize = 100_000;
/// Signal handlers nested on one signal stack that are followed.
const MAX_NESTED_SIGNALS: usize = 8;
/// Frames walked on a signal stack looking for `runtime.sigtramp`.
const MAX_SIGNAL_FRAMES: usize = 64;

/// One `runtime.m` as read from the core.
#[derive(Clone, Debug)]
pub(crate) struct MRecord {
    pub address: u64,
    pub id: i64,
    pub procid: u64,
    pub curg: u64,
    pub g0_stack: Option<(u64, u64)>,
    pub gsignal_stack: Option<(u64, u64)>,
    pub vdso_sp: u64,
    pub vdso_pc: u64,
}

/// Reads the `allm` list; stops (with a warning) at an unreadable or
/// repeated M.
pub(crate) fn read_ms(
    process: &GoProcess,
    layouts: &Layouts,
    warnings: &mut Vec<String>,
) -> Vec<MRecord> {
    let memory = process.memory();
    let Some(allm) = process.global("runtime.allm") else {
        warnings.push("runtime.allm not found: threads are not matched to goroutines".to_string());
        return Vec::new();
    };
    let mut next = match memory.read_ptr(allm.address) {
        Ok(p) => p,
        Err(e) => {
            warnings.push(format!("runtime.allm: {e}"));
            return Vec::new();
        }
    };
    let ml = &layouts.m;
    let mut seen = HashSet::new();
    let mut ms = Vec::new();
    while next != 0 {
        if ms.len() >= MAX_MS || !seen.insert(next) {
            warnings.push(format!(
                "runtime.allm list loops or is longer than {MAX_MS} at m {next:#x}; stopped"
            ));
            break;
        }
        let buf = match read_struct(memory, next, ml.size) {
            Ok(b) => b,
            Err(e) => {
                warnings.push(format!(
                    "runtime.m at {next:#x}: {e}; rest of runtime.allm skipped"
                ));
                break;
            }
        };
        let word = |off: u64| field(&buf, off);
        let opt = |off: Option<u64>| off.map(|o| field(&buf, o)).unwrap_or(0);
        let g0 = word(ml.g0);
        let gsignal = opt(ml.gsignal);
        ms.push(MRecord {
            address: next,
            id: word(ml.id) as i64,
            procid: word(ml.procid),
            curg: word(ml.curg),
            g0_stack: g_stack(memory, layouts, g0),
            gsignal_stack: g_stack(memory, layouts, gsignal),
            vdso_sp: opt(ml.vdso_sp),
            vdso_pc: opt(ml.vdso_pc),
        });
        next = word(ml.alllink);
    }
    ms
}

/// `[stack.lo, stack.hi)` of the `g` at `g`, when readable and sane.
fn g_stack(memory: &ProcessMemory, layouts: &Layouts, g: u64) -> Option<(u64, u64)> {
    if g == 0 {
        return None;
    }
    let lo = memory.read_u64(g.checked_add(layouts.g.stack_lo)?).ok()?;
    let hi = memory.read_u64(g.checked_add(layouts.g.stack_hi)?).ok()?;
    (lo < hi).then_some((lo, hi))
}

fn within(range: Option<(u64, u64)>, sp: u64) -> bool {
    range.is_some_and(|(lo, hi)| lo <= sp && sp < hi)
}

/// Registers a signal interrupted, read from the kernel's signal frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterruptedContext {
    /// Address of the `ucontext` they were read from.
    pub ucontext: u64,
    pub pc: u64,
    pub sp: u64,
    pub fp: u64,
    /// The link register (arm64): a leaf function's return address.
    pub lr: Option<u64>,
}

/// Which stack a thread's (interrupted, if in a signal handler) context is
/// on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadStack {
    /// The goroutine `m.curg` with this id.
    Goroutine(u64),
    /// The M's system stack (`g0`): scheduler, idle, or `systemstack`.
    System,
    /// The M's signal stack, and the signal frame could not be read.
    SignalHandler,
    /// No M, or a stack no runtime structure describes (e.g. C code).
    Unknown,
}

/// One thread of the core, as the Go runtime knew it.
#[derive(Clone, Debug)]
pub struct GoThread {
    pub tid: u32,
    /// Registers at the dump.
    pub pc: Option<u64>,
    pub sp: Option<u64>,
    /// The signal the thread was handling (`pr_cursig`), 0 if none.
    pub current_signal: u16,
    /// The thread's `runtime.m` and its id (`m=N` in Go's tracebacks).
    pub m: Option<u64>,
    pub m_id: Option<i64>,
    /// The goroutine id of `m.curg`, if the M was running one.
    pub curg: Option<u64>,
    pub g0_stack: Option<(u64, u64)>,
    pub gsignal_stack: Option<(u64, u64)>,
    /// Set when the registers are in a Go signal handler: what it interrupted.
    pub interrupted: Option<InterruptedContext>,
    /// Where the effective context (interrupted, else the registers) is.
    pub stack: ThreadStack,
    /// The system-stack frames when `stack` is [`ThreadStack::System`]
    /// (Go prints them as `goroutine 0`); goroutine frames belong to the
    /// goroutine.
    pub frames: Vec<Frame>,
    /// Why `frames` stops short of the top of the stack.
    pub incomplete: Option<String>,
}

impl GoThread {
    /// The pc/sp the goroutine or system stack is walked from, and whether
    /// it is the thread's own registers (not an interrupted context).
    pub(crate) fn effective(&self) -> Option<(u64, u64, bool)> {
        match self.interrupted {
            Some(c) => Some((c.pc, c.sp, false)),
            None => Some((self.pc?, self.sp?, true)),
        }
    }
}

/// Builds the thread list: matches every core thread to its M, reads
/// signal frames, classifies the stacks and walks system stacks.
pub(crate) fn threads(
    process: &GoProcess,
    ctx: Option<&StackContext<'_>>,
    layouts: &Layouts,
    ms: &[MRecord],
    goid_of: &dyn Fn(u64) -> Option<(u64, u64, u64)>,
    max_frames: usize,
) -> Vec<GoThread> {
    process
        .memory()
        .core()
        .threads()
        .iter()
        .map(|t| thread(ctx, layouts, ms, t, goid_of, max_frames))
        .collect()
}

fn thread(
    ctx: Option<&StackContext<'_>>,
    layouts: &Layouts,
    ms: &[MRecord],
    t: &Thread,
    goid_of: &dyn Fn(u64) -> Option<(u64, u64, u64)>,
    max_frames: usize,
) -> GoThread {
    let m = ms.iter().find(|m| m.procid == u64::from(t.tid));
    // goid, stack lo, stack hi of m.curg.
    let curg = m.filter(|m| m.curg != 0).and_then(|m| goid_of(m.curg));
    let mut out = GoThread {
        tid: t.tid,
        pc: t.pc(),
        sp: t.sp(),
        current_signal: t.current_signal,
        m: m.map(|m| m.address),
        m_id: m.map(|m| m.id),
        curg: curg.map(|(id, _, _)| id),
        g0_stack: m.and_then(|m| m.g0_stack),
        gsignal_stack: m.and_then(|m| m.gsignal_stack),
        interrupted: None,
        stack: ThreadStack::Unknown,
        frames: Vec::new(),
        incomplete: None,
    };
    let (Some(pc), Some(sp)) = (out.pc, out.sp) else {
        return out;
    };
    if within(out.gsignal_stack, sp) {
        // A handler can itself be interrupted (Go's crash path raises the
        // signal again from inside the handler): follow nested frames out
        // to the first context that is not on the signal stack.
        // The thread's own LR (arm64) starts the innermost frame: a leaf
        // such as `runtime.raise` keeps its return address only there.
        let (mut pc, mut sp, mut lr) = (pc, sp, t.registers.lr());
        for _ in 0..MAX_NESTED_SIGNALS {
            let Some(c) = ctx.and_then(|c| signal_context(c, layouts, pc, sp, lr)) else {
                break;
            };
            out.interrupted = Some(c);
            if !within(out.gsignal_stack, c.sp) {
                break;
            }
            (pc, sp, lr) = (c.pc, c.sp, c.lr);
        }
        if out.interrupted.is_none() {
            out.stack = ThreadStack::SignalHandler;
            return out;
        }
    }
    let Some((pc, sp, own_registers)) = out.effective() else {
        return out;
    };
    if let Some((id, lo, hi)) = curg {
        if lo <= sp && sp < hi {
            out.stack = ThreadStack::Goroutine(id);
            return out;
        }
    }
    if within(out.g0_stack, sp) || (m.is_some() && out.interrupted.is_some()) {
        out.stack = ThreadStack::System;
        if let Some(c) = ctx {
            let start = UnwindStart {
                pc,
                sp,
                lr: if own_registers {
                    t.registers.lr()
                } else {
                    out.interrupted.and_then(|c| c.lr)
                },
                exact_pc: true,
            };
            let regs = own_registers.then_some(&t.registers);
            let walk = c.walk(start, regs, max_frames);
            out.frames = walk.frames;
            out.incomplete = walk.incomplete;
        }
    }
    out
}

/// Finds `runtime.sigtramp` on the signal stack starting at the thread's
/// registers and reads the interrupted registers from its `ucontext`
/// (linux/amd64: at the trampoline's CFA; linux/arm64: the pointer
/// sigtramp saved as `sigtrampgo`'s third argument).
fn signal_context(
    ctx: &StackContext<'_>,
    layouts: &Layouts,
    pc: u64,
    sp: u64,
    lr: Option<u64>,
) -> Option<InterruptedContext> {
    if !matches!(ctx.arch, Arch::X86_64 | Arch::Aarch64) {
        return None;
    }
    let start = UnwindStart {
        pc,
        sp,
        lr,
        exact_pc: true,
    };
    let traceback = ctx.unwind(start, MAX_SIGNAL_FRAMES);
    let trampoline = traceback
        .frames
        .iter()
        .find(|f| matches!(f.func.name(), "runtime.sigtramp" | "runtime.cgoSigtramp"))?;
    let memory = ctx.memory;
    let s = &layouts.signal;
    let ucontext = match s.ucontext {
        UcontextAt::Cfa => trampoline.fp,
        UcontextAt::SavedArgument(offset) => {
            let at = memory.read_u64(trampoline.sp.checked_add(offset)?).ok()?;
            // The kernel builds the signal frame just above the handler's
            // stack: a pointer elsewhere is not this frame's ucontext.
            if at < trampoline.fp || at - trampoline.fp > MAX_SIGFRAME_BYTES {
                return None;
            }
            at
        }
    };
    let read = |off: u64| memory.read_u64(ucontext.checked_add(off)?).ok();
    Some(InterruptedContext {
        ucontext,
        pc: read(s.pc)?,
        sp: read(s.sp)?,
        fp: read(s.fp)?,
        lr: s.lr.and_then(read),
    })
}

/// How far above the trampoline's frame the kernel may put the
/// `ucontext` (arm64's `rt_sigframe` puts a 128-byte siginfo first).
const MAX_SIGFRAME_BYTES: u64 = 4096;
