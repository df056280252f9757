//! Walking a goroutine's stack with pclntab alone, the way the Go runtime's
//! own traceback does (runtime/traceback.go), over memory reached through a
//! callback.
//!
//! Owns: the frame arithmetic (SP delta → caller SP and return address) for
//! amd64 and arm64, the stop rules (top-of-stack functions, SP-writing
//! functions, unknown pcs, failed reads, a frame limit) and inline
//! expansion of every physical frame. It does not know where goroutines
//! are: the caller passes `g.sched.pc/sp` (or registers) and a reader.

use super::func::{Frame, Func};
use super::funcid::FuncId;
use super::image::Arch;
use super::Pclntab;

/// Default and hard bound on the number of physical frames walked.
pub const MAX_FRAMES: usize = 1000;

/// Where to start: a pc and sp, and on arm64 the link register when the
/// innermost function may not have saved it yet (e.g. `g.sched.lr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnwindStart {
    pub pc: u64,
    pub sp: u64,
    pub lr: Option<u64>,
    /// The pc is the instruction being executed (a thread's registers at a
    /// signal), not a return address. `g.sched.pc` is a return address
    /// (leave this `false`, as Go's traceback does): lookups then use
    /// `pc - 1`, inside the call instruction.
    pub exact_pc: bool,
}

impl UnwindStart {
    /// Start at a saved context such as `g.sched` (pc is a return address).
    pub fn saved(pc: u64, sp: u64) -> Self {
        UnwindStart {
            pc,
            sp,
            lr: None,
            exact_pc: false,
        }
    }
}

/// One physical frame.
#[derive(Debug, Clone)]
pub struct UnwindFrame<'p> {
    /// The frame's pc: the start pc for the innermost frame, a return
    /// address for the others.
    pub pc: u64,
    /// SP in this frame.
    pub sp: u64,
    /// The caller's SP (Go's `fp`): `sp + spdelta` (+8 on amd64 for the
    /// return address).
    pub fp: u64,
    /// Top of the locals (Go's `varp`): below the return address (amd64)
    /// and the saved frame pointer, if the frame has one. Stack-object and
    /// locals-pointer-map offsets are relative to it.
    pub varp: u64,
    /// Start of the incoming arguments (Go's `argp`): `fp` on amd64,
    /// `fp + 8` on arm64.
    pub argp: u64,
    /// The pc used for lookups: `pc - 1` for return addresses (the call
    /// instruction); `pc` itself for an exact start pc, at a function entry,
    /// or above an injected call (sigpanic, asyncPreempt).
    pub lookup_pc: u64,
    pub func: Func<'p>,
    /// Logical frames, innermost (inlined) first, `func` itself last.
    pub frames: Vec<Frame<'p>>,
}

impl UnwindFrame<'_> {
    /// `pc - entry`, the `+0x..` Go prints after file:line.
    pub fn pc_offset(&self) -> u64 {
        self.pc.saturating_sub(self.func.entry)
    }
}

/// Why the walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnwindStop {
    /// Reached a top-of-stack function (`runtime.goexit`, `runtime.mstart`,
    /// `runtime.rt0_go`, ...): the stack is complete.
    TopFrame,
    /// A function that writes SP arbitrarily (e.g. `runtime.systemstack`
    /// switching stacks); frames above it cannot be found from this stack.
    SpWrite { function: String },
    /// A pc inside no known function (the start pc, or a return address
    /// read from the stack).
    UnknownPc { pc: u64 },
    /// The function has no SP delta for this pc.
    NoSpDelta { pc: u64 },
    /// The reader could not supply the word at this address.
    ReadFailed { address: u64 },
    /// A zero return address.
    ZeroReturnAddress,
    /// The next frame would repeat this one.
    Stuck,
    /// The frame limit was reached.
    FrameLimit,
}

/// A walked stack.
#[derive(Debug, Clone)]
pub struct Traceback<'p> {
    /// Innermost first.
    pub frames: Vec<UnwindFrame<'p>>,
    pub stop: UnwindStop,
}

impl Traceback<'_> {
    /// Whether the walk reached the top of the stack.
    pub fn is_complete(&self) -> bool {
        self.stop == UnwindStop::TopFrame
    }
}

/// Walks Go frames using pclntab's SP deltas.
#[derive(Debug, Clone, Copy)]
pub struct Unwinder<'p> {
    tab: &'p Pclntab<'p>,
    arch: Arch,
    max_frames: usize,
}

impl<'p> Unwinder<'p> {
    /// An unwinder for the executable's architecture, limited to
    /// `MAX_FRAMES` frames.
    pub fn new(tab: &'p Pclntab<'p>) -> Self {
        Unwinder {
            tab,
            arch: tab.image().arch(),
            max_frames: MAX_FRAMES,
        }
    }

    /// Overrides the frame limit (capped at `MAX_FRAMES`).
    pub fn with_max_frames(mut self, max_frames: usize) -> Self {
        self.max_frames = max_frames.min(MAX_FRAMES);
        self
    }

    /// Overrides the architecture (e.g. when the image reports `Other`).
    pub fn with_arch(mut self, arch: Arch) -> Self {
        self.arch = arch;
        self
    }

    /// Walks from `start`, reading 8-byte words through `read` (little or
    /// big endian is the reader's business). Never panics; a bad read or
    /// unknown pc ends the walk with the frames found so far.
    pub fn unwind<R: Fn(u64) -> Option<u64>>(&self, read: R, start: UnwindStart) -> Traceback<'p> {
        let uses_lr = self.arch == Arch::Arm64;
        let mut frames: Vec<UnwindFrame<'p>> = Vec::new();
        let (mut pc, mut sp, mut lr) = (start.pc, start.sp, start.lr);
        let mut callee_injected = false;

        let stop = loop {
            if frames.len() >= self.max_frames {
                break UnwindStop::FrameLimit;
            }
            let innermost = frames.is_empty();
            let Some(func) = self.tab.func_for_pc(pc) else {
                break UnwindStop::UnknownPc { pc };
            };
            let Some(sp_delta) = func.sp_delta(pc) else {
                break UnwindStop::NoSpDelta { pc };
            };
            let Some(fp) = sp
                .checked_add_signed(sp_delta)
                .and_then(|fp| fp.checked_add(if uses_lr { 0 } else { 8 }))
            else {
                break UnwindStop::NoSpDelta { pc };
            };
            let lookup_pc = if (innermost && start.exact_pc) || callee_injected || pc <= func.entry
            {
                pc
            } else {
                pc - 1
            };
            let flags = func.flags();
            let func_id = func.func_id();
            // As runtime/traceback.go derives them (frame pointers are on
            // for both amd64 and arm64).
            let mut varp = if uses_lr { fp } else { fp - 8 };
            if varp > sp {
                varp -= 8;
            }
            let argp = if uses_lr { fp.saturating_add(8) } else { fp };
            frames.push(UnwindFrame {
                pc,
                sp,
                fp,
                varp,
                argp,
                lookup_pc,
                func,
                frames: func.frames(lookup_pc),
            });

            if flags.top_frame()
                || matches!(func_id, FuncId::Goexit | FuncId::Mstart | FuncId::Rt0Go)
            {
                break UnwindStop::TopFrame;
            }
            // cgocallback keeps both stacks unwindable; Go ignores its flag.
            if flags.sp_write() && func_id != FuncId::Cgocallback {
                break UnwindStop::SpWrite {
                    function: func.name().to_string(),
                };
            }

            // The return address.
            let ret = if uses_lr {
                match lr {
                    // A leaf that has not stored LR yet: the register holds it.
                    Some(lr) if !(innermost && sp < fp) => lr,
                    _ => match read(sp) {
                        Some(v) => v,
                        None => break UnwindStop::ReadFailed { address: sp },
                    },
                }
            } else {
                let at = fp - 8;
                match read(at) {
                    Some(v) => v,
                    None => break UnwindStop::ReadFailed { address: at },
                }
            };
            if ret == 0 {
                break UnwindStop::ZeroReturnAddress;
            }
            if ret == pc && fp == sp {
                break UnwindStop::Stuck;
            }

            callee_injected = func_id.is_injected_call();
            pc = ret;
            sp = fp;
            lr = None;

            // On LR machines the signal handler saved the interrupted
            // function's LR on the stack before faking the call.
            if uses_lr && callee_injected {
                let Some(saved) = read(sp) else {
                    break UnwindStop::ReadFailed { address: sp };
                };
                sp = sp.saturating_add(16);
                match self.tab.func_for_pc(pc) {
                    None => pc = saved,
                    Some(f) if f.sp_delta(pc) == Some(0) => lr = Some(saved),
                    Some(_) => {}
                }
            }
        };
        Traceback { frames, stop }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A committed Go executable (amd64). Its pclntab supplies real
    /// functions and SP deltas; the arm64 frame rules are forced with
    /// [`Unwinder::with_arch`] over a synthetic stack.
    fn fixture_exe() -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/pclntab/go1.27-mapsplitgroup-symbols/exe.zst");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        zstd::decode_all(&bytes[..]).unwrap()
    }

    /// A pc inside `f` past its prologue (SP delta > 0) whose `pc - 1` is
    /// in the same SP-delta range, and that delta.
    fn pc_in_frame(f: &Func<'_>) -> (u64, i64) {
        let (start, end, delta) = f
            .sp_delta_ranges()
            .filter(|&(s, e, d)| d > 0 && e > s + 2)
            .max_by_key(|&(s, e, _)| e - s)
            .unwrap_or_else(|| panic!("{}: no frame", f.name()));
        let pc = start + (end - start) / 2;
        assert_eq!(f.sp_delta(pc), Some(i64::from(delta)));
        assert_eq!(f.sp_delta(pc - 1), Some(i64::from(delta)));
        (pc, i64::from(delta))
    }

    /// arm64, a signal that interrupted a frameless assembly leaf (like
    /// `runtime/internal/syscall.Syscall6`, `NOSPLIT,$0`): the leaf never
    /// stored LR, so its caller's pc is the interrupted LR, and the word at
    /// 0(SP) is the *caller's* saved LR (the grand-caller's return
    /// address). With the interrupted LR the walk is leaf → caller →
    /// grand-caller → goexit; without it (the go1.22-arm64 incident's
    /// bug: the signal context's LR was dropped) the caller is skipped
    /// and the grand-caller appears at the caller's SP.
    #[test]
    fn arm64_frameless_leaf_interrupted_by_a_signal_uses_the_interrupted_lr() {
        let exe = fixture_exe();
        let tab = Pclntab::parse(&exe).unwrap();
        let leaf = tab
            .funcs()
            .filter(|f| {
                f.max_sp_delta() == Some(0)
                    && f.end - f.entry >= 8
                    && f.func_id() == FuncId::Normal
                    && f.flags().0 & 3 == 0
            })
            .min_by_key(|f| !f.name().ends_with("Syscall6"))
            .expect("a frameless function");
        let caller = tab.func_by_name("main.main").unwrap();
        let grand = tab.func_by_name("runtime.main").unwrap();
        let goexit = tab.func_by_name("runtime.goexit").unwrap();

        let leaf_pc = leaf.entry + 4;
        let (caller_pc, caller_delta) = pc_in_frame(&caller);
        let (grand_pc, grand_delta) = pc_in_frame(&grand);
        let goexit_pc = goexit.entry + 1;
        let sp = 0x40_004e_fb50u64;
        let caller_fp = sp + caller_delta as u64;
        let grand_fp = caller_fp + grand_delta as u64;
        // Each frame's saved LR at its 0(SP): the caller's return address.
        let memory: HashMap<u64, u64> = [(sp, grand_pc), (caller_fp, goexit_pc)].into();
        let read = |a: u64| memory.get(&a).copied();
        let unwinder = Unwinder::new(&tab).with_arch(Arch::Arm64);
        let start = UnwindStart {
            pc: leaf_pc,
            sp,
            lr: Some(caller_pc),
            exact_pc: true,
        };

        let trace = unwinder.unwind(read, start);
        assert_eq!(trace.stop, UnwindStop::TopFrame, "{:?}", trace.frames);
        let got: Vec<(&str, u64, u64, u64, u64)> = trace
            .frames
            .iter()
            .map(|f| (f.func.name(), f.pc, f.sp, f.fp, f.lookup_pc))
            .collect();
        assert_eq!(
            got,
            vec![
                // Exact pc: looked up at itself.
                (leaf.name(), leaf_pc, sp, sp, leaf_pc),
                // From LR, a return address: looked up inside the call
                // (pc - 1), which is what finds calls inlined there.
                (caller.name(), caller_pc, sp, caller_fp, caller_pc - 1),
                (grand.name(), grand_pc, caller_fp, grand_fp, grand_pc - 1),
                (goexit.name(), goexit_pc, grand_fp, grand_fp, goexit.entry),
            ]
        );
        assert_eq!(trace.frames[1].frames, caller.frames(caller_pc - 1));

        // The symptom when the interrupted LR is lost: the caller's frame
        // is skipped (its saved LR is taken for the leaf's return address).
        let lost = unwinder.unwind(read, UnwindStart { lr: None, ..start });
        assert_eq!(lost.frames[1].func.name(), grand.name());
        assert_eq!(lost.frames[1].sp, sp);
    }
}
