//! Goroutines of a Go process image: every `g` in `runtime.allgs` with its
//! id, status, wait reason, stack bounds and saved context, its stack
//! walked with pclntab into frames (inlined calls expanded, as Go's own
//! traceback prints them), each frame's DWARF locals located on the
//! stack, and each frame's live pointer slots from the compiler's stack
//! maps ([`FrameRoots`]) — the roots of objects only a goroutine stack
//! refers to.
//!
//! Owns: reading `allgs`/`allm`, matching threads to goroutines, choosing
//! where each walk starts, the `g`/`m` offsets (from DWARF, see
//! `layout`) and the meaning of status and wait-reason numbers
//! (`names`). Does not own the frame arithmetic (the pclntab
//! [`crate::pclntab::Unwinder`]), variable locations (the DWARF module) or
//! any output formatting.
//!
//! Where a walk starts, per goroutine (Go's `traceback1`/`unwinder.initAt`
//! rules, plus the thread registers a core adds):
//! 1. in a system call (`syscallsp != 0`): `syscallpc`/`syscallsp`;
//! 2. in a VDSO call (`m.vdsoSP != 0`): `m.vdsoPC`/`m.vdsoSP`;
//! 3. running (`_Grunning`) on a thread whose registers — or, inside a
//!    signal handler, whose interrupted registers — lie on the goroutine's
//!    stack: those registers (the pc is exact, not a return address);
//! 4. otherwise `g.sched` (pc, sp, and lr on arm64). A running goroutine
//!    whose thread is on its system stack has a `sched` saved by the
//!    switch; with `sched.sp == 0` the stack is unavailable (Go prints
//!    "goroutine running on other thread").
//!
//! Untrusted input: `allgs` is bounded by its length, its capacity, a hard
//! limit and readable memory; the `allm` list by a limit and a visited set;
//! every walk by a frame limit. Unreadable `g`s become warnings.

use crate::layout::goroutines as layout;
mod names;
mod stack;
mod threads;

use std::collections::HashMap;

use mapscope_elfcore::{ProcessMemory, ReadError, Registers, Thread};

use crate::error::GoRuntimeError;
use crate::pclntab::UnwindStart;
use crate::process::GoProcess;

pub use layout::LayoutSource;
pub use names::GoStatus;
pub use stack::{Frame, FrameRoots, LocalPiece, LocalPlace, LocalVar, SourceFrame};
pub use threads::{GoThread, InterruptedContext, ThreadStack};

use layout::Layouts;
use names::StatusNames;
use stack::StackContext;
use threads::MRecord;

/// Default bound on physical frames per stack (the pclntab unwinder caps
/// any larger value at its own limit of the same size).
pub const MAX_FRAMES: usize = 1000;

/// Hard bound on the number of goroutines read from `allgs`.
pub const MAX_GOROUTINES: u64 = 10_000_000;

/// Go's maximum stack size on 64-bit (`runtime.maxstacksize`, 1 GB).
const MAX_G_STACK: u64 = 1 << 30;

/// Skipped `allgs` entries listed one by one; the rest are counted.
const MAX_LISTED_BAD_GS: usize = 20;

/// What to read.
#[derive(Clone, Debug)]
pub struct GoroutineOptions {
    /// Also list dead goroutines (`_Gdead`: `g`s kept for reuse). They are
    /// counted in [`Goroutines::dead`] either way; their stacks are never
    /// walked.
    pub include_dead: bool,
    /// Walk stacks (frames and locals). Off: only the `g` fields.
    pub frames: bool,
    /// Bound on physical frames per stack (at most [`MAX_FRAMES`]).
    pub max_frames: usize,
}

impl Default for GoroutineOptions {
    fn default() -> Self {
        GoroutineOptions {
            include_dead: false,
            frames: true,
            max_frames: MAX_FRAMES,
        }
    }
}

/// Where a goroutine's walk started (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackStart {
    /// `g.sched`: a parked, runnable or preempted goroutine.
    Sched,
    /// `g.syscallpc`/`g.syscallsp`.
    Syscall,
    /// `m.vdsoPC`/`m.vdsoSP`.
    Vdso,
    /// The registers of thread `tid` as the core recorded them.
    ThreadRegisters { tid: u32 },
    /// The registers a signal interrupted on thread `tid`.
    SignalContext { tid: u32 },
    /// Nothing to start from (dead, or running with no context).
    Unavailable,
}

/// The `go` statement that created a goroutine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedBy {
    pub function: String,
    pub file: String,
    pub line: u32,
    /// `g.gopc`: the return address of the `go` statement's call.
    pub pc: u64,
    /// `pc - entry`.
    pub pc_offset: u64,
    /// The creating goroutine (`g.parentGoid`, Go 1.21+), if recorded.
    pub goroutine: Option<u64>,
}

/// One goroutine.
#[derive(Clone, Debug)]
pub struct Goroutine {
    /// Address of its `runtime.g`.
    pub address: u64,
    pub id: u64,
    pub status: GoStatus,
    /// The raw `atomicstatus` word.
    pub status_word: u32,
    /// The `_Gscan` bit: the GC was scanning the stack.
    pub scan: bool,
    /// Why it waits (`g.waitreason` as Go prints it), when it does.
    pub wait_reason: Option<String>,
    /// `g.waitsince` (nanotime when it blocked; 0 if unknown).
    pub wait_since: i64,
    pub locked_to_thread: bool,
    pub stack_lo: u64,
    pub stack_hi: u64,
    pub sched_pc: u64,
    pub sched_sp: u64,
    pub sched_lr: u64,
    pub syscall_pc: u64,
    pub syscall_sp: u64,
    /// `g.gopc`, `g.startpc` (0 when the layout lacks them).
    pub gopc: u64,
    pub startpc: u64,
    /// Its M (`g.m`), that M's id and thread, while it runs or is in a
    /// system call.
    pub m: Option<u64>,
    pub m_id: Option<i64>,
    pub thread: Option<u32>,
    pub start: StackStart,
    /// Innermost first; empty when not walked.
    pub frames: Vec<Frame>,
    /// Why the walk stopped before the top of the stack (`None`: complete,
    /// or not walked).
    pub incomplete: Option<String>,
    /// `None` for the main goroutine (id 1) and runtime-made ones without
    /// a `gopc`, as in Go's traceback.
    pub created_by: Option<CreatedBy>,
}

impl Goroutine {
    /// What Go prints between the brackets of `goroutine N [...]:`, minus
    /// the waiting time: the wait reason for a waiting goroutine, else the
    /// status, then ` (scan)` and `, locked to thread`.
    pub fn status_text(&self) -> String {
        let mut s = match (&self.wait_reason, self.status) {
            (Some(reason), GoStatus::Waiting | GoStatus::Leaked) => reason.clone(),
            _ => self.status.name().to_string(),
        };
        if self.status == GoStatus::Leaked {
            s.push_str(" (leaked)");
        }
        if self.scan {
            s.push_str(" (scan)");
        }
        if self.locked_to_thread {
            s.push_str(", locked to thread");
        }
        s
    }

    /// All calls on the stack, innermost first, inlined calls expanded.
    pub fn source_frames(&self) -> impl Iterator<Item = SourceFrame> + '_ {
        self.frames.iter().flat_map(|f| f.source_frames())
    }

    /// The innermost frame whose physical or inlined function is `function`.
    pub fn frame_of(&self, function: &str) -> Option<&Frame> {
        self.frames
            .iter()
            .find(|f| f.function == function || f.inlined.iter().any(|i| i.function == function))
    }

    /// `[stack_lo, stack_hi)`, when the goroutine has a stack.
    pub fn stack_range(&self) -> Option<(u64, u64)> {
        (self.stack_lo < self.stack_hi).then_some((self.stack_lo, self.stack_hi))
    }
}

/// All goroutines and threads of a process image.
#[derive(Clone, Debug)]
pub struct Goroutines {
    /// In `allgs` order (creation order).
    pub goroutines: Vec<Goroutine>,
    /// Dead goroutines in `allgs` (listed only with `include_dead`).
    pub dead: usize,
    /// `len(allgs)`.
    pub allgs_len: usize,
    pub threads: Vec<GoThread>,
    /// DWARF, or the built-in table of a stripped executable.
    pub layout_source: LayoutSource,
    /// Everything skipped or degraded, one line each.
    pub warnings: Vec<String>,
}

impl Goroutines {
    pub fn by_id(&self, id: u64) -> Option<&Goroutine> {
        self.goroutines.iter().find(|g| g.id == id)
    }

    /// Stack ranges of the listed goroutines and of every M's system and
    /// signal stacks, sorted and merged: what `regions` labels `go-stack`.
    pub fn stack_ranges(&self) -> Vec<(u64, u64)> {
        let mut ranges: Vec<(u64, u64)> = self
            .goroutines
            .iter()
            .filter_map(Goroutine::stack_range)
            .chain(
                self.threads
                    .iter()
                    .flat_map(|t| [t.g0_stack, t.gsignal_stack])
                    .flatten(),
            )
            .collect();
        merge(&mut ranges);
        ranges
    }
}

fn merge(ranges: &mut Vec<(u64, u64)>) {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges.iter() {
        match out.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    *ranges = out;
}

/// Reads `size` bytes of a runtime struct at `address`.
pub(crate) fn read_struct(
    memory: &ProcessMemory,
    address: u64,
    size: u64,
) -> Result<Vec<u8>, ReadError> {
    let mut buf = vec![0u8; usize::try_from(size).unwrap_or(0)];
    memory.read(address, &mut buf)?;
    Ok(buf)
}

/// The little-endian word at `offset` of `buf` (0 past the end; layouts
/// size the buffers to cover every field).
pub(crate) fn field(buf: &[u8], offset: u64) -> u64 {
    usize::try_from(offset)
        .ok()
        .and_then(|o| buf.get(o..o.checked_add(8)?))
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

fn field_u32(buf: &[u8], offset: u64) -> u32 {
    usize::try_from(offset)
        .ok()
        .and_then(|o| buf.get(o..o.checked_add(4)?))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0)
}

fn field_u8(buf: &[u8], offset: u64) -> u8 {
    usize::try_from(offset)
        .ok()
        .and_then(|o| buf.get(o))
        .copied()
        .unwrap_or(0)
}

/// The `g` fields before any stack walk.
struct GRecord {
    address: u64,
    goid: u64,
    status_word: u32,
    wait_code: u8,
    wait_since: i64,
    locked: bool,
    stack: (u64, u64),
    sched: (u64, u64, u64),
    syscall: (u64, u64),
    m: u64,
    gopc: u64,
    startpc: u64,
    parent_goid: u64,
}

impl GRecord {
    fn read(memory: &ProcessMemory, layouts: &Layouts, address: u64) -> Result<GRecord, ReadError> {
        let gl = &layouts.g;
        let buf = read_struct(memory, address, gl.size)?;
        let w = |off: u64| field(&buf, off);
        let opt = |off: Option<u64>| off.map(|o| field(&buf, o)).unwrap_or(0);
        Ok(GRecord {
            address,
            goid: w(gl.goid),
            status_word: field_u32(&buf, gl.atomicstatus),
            wait_code: gl.waitreason.map(|o| field_u8(&buf, o)).unwrap_or(0),
            wait_since: opt(gl.waitsince) as i64,
            locked: opt(gl.lockedm) != 0,
            stack: (w(gl.stack_lo), w(gl.stack_hi)),
            sched: (w(gl.sched_pc), w(gl.sched_sp), opt(gl.sched_lr)),
            syscall: (w(gl.syscallpc), w(gl.syscallsp)),
            m: w(gl.m),
            gopc: opt(gl.gopc),
            startpc: opt(gl.startpc),
            parent_goid: opt(gl.parent_goid),
        })
    }

    fn on_stack(&self, sp: u64) -> bool {
        self.stack.0 <= sp && sp < self.stack.1
    }
}

impl GoProcess {
    /// All live goroutines with their stacks walked (see [`GoroutineOptions`]
    /// for dead ones and frame limits).
    pub fn goroutines(&self) -> Result<Goroutines, GoRuntimeError> {
        self.goroutines_with(&GoroutineOptions::default())
    }

    /// Goroutine and thread stack ranges (every `g` in `allgs` that has a
    /// stack, dead ones included, plus each M's system and signal stacks),
    /// sorted and merged, for labelling `go-stack` regions. Empty when the
    /// goroutines cannot be read.
    pub fn goroutine_stack_ranges(&self) -> Vec<(u64, u64)> {
        let options = GoroutineOptions {
            include_dead: true,
            frames: false,
            max_frames: 0,
        };
        self.goroutines_with(&options)
            .map(|g| g.stack_ranges())
            .unwrap_or_default()
    }

    /// Reads `allgs` and `allm`. Fails only when no layout is known
    /// (stripped executable of an unknown release) or `allgs` itself is
    /// unreadable; everything else becomes a warning.
    pub fn goroutines_with(
        &self,
        options: &GoroutineOptions,
    ) -> Result<Goroutines, GoRuntimeError> {
        let layouts = self.goroutine_layouts()?;
        self.goroutines_in(options, layouts, Vec::new())
    }

    fn goroutines_in(
        &self,
        options: &GoroutineOptions,
        layouts: Layouts,
        mut warnings: Vec<String>,
    ) -> Result<Goroutines, GoRuntimeError> {
        let names = StatusNames::load(self, &mut warnings);
        let memory = self.memory();
        let max_frames = options.max_frames.min(MAX_FRAMES);

        let records = self.read_allgs(&mut warnings)?;
        let allgs_len = records.len();
        // A damaged allgs (absurd len) hands us heap garbage as g pointers:
        // skip records that cannot be a g (unreadable, misaligned, inverted
        // or over-1-GiB stack, unknown status), and list only the first few.
        let mut skipped = 0usize;
        let mut seen = std::collections::HashSet::new();
        // Every goid ever handed out is at most `sched.goidgen`.
        let max_goid = self
            .dwarf()
            .and_then(|d| d.types().field_offset("runtime.schedt", "goidgen"))
            .zip(self.global("runtime.sched"))
            .and_then(|(off, g)| memory.read_u64(g.address.checked_add(off)?).ok())
            .filter(|&n| n > 0)
            .unwrap_or(u64::MAX);
        let gs: Vec<GRecord> = records
            .into_iter()
            .filter(|&address| seen.insert(address))
            .filter_map(|address| {
                let problem = match GRecord::read(memory, &layouts, address) {
                    Ok(_) if address % 8 != 0 => format!("misaligned g pointer {address:#x}"),
                    // Go stacks are a power of two from 2 KiB to 1 GiB
                    // (stackalloc throws otherwise), or none at all.
                    Ok(g)
                        if g.stack != (0, 0)
                            && !g.stack.1.checked_sub(g.stack.0).is_some_and(|n| {
                                n.is_power_of_two() && (2048..=MAX_G_STACK).contains(&n)
                            }) =>
                    {
                        format!("implausible stack {:#x}-{:#x}", g.stack.0, g.stack.1)
                    }
                    Ok(g) if g.goid > max_goid => {
                        format!("goid {} exceeds runtime.sched.goidgen {max_goid}", g.goid)
                    }
                    Ok(g) if matches!(names.decode(g.status_word).0, GoStatus::Other(_)) => {
                        format!("unknown status word {:#x}", g.status_word)
                    }
                    // allgadd runs after _Gidle → _Gdead, and a live g has a
                    // goid: an idle or id-less live record is zeroed memory.
                    Ok(g)
                        if g.goid == 0 && !names.decode(g.status_word).0.is_dead()
                            || names.decode(g.status_word).0 == GoStatus::Idle =>
                    {
                        format!("goid {} with status word {:#x}", g.goid, g.status_word)
                    }
                    Ok(g) => return Some(g),
                    Err(e) => e.to_string(),
                };
                skipped += 1;
                if skipped <= MAX_LISTED_BAD_GS {
                    warnings.push(format!("runtime.g at {address:#x}: {problem}; skipped"));
                }
                None
            })
            .collect();
        if skipped > MAX_LISTED_BAD_GS {
            warnings.push(format!(
                "{} more runtime.allgs entries are not goroutines; skipped",
                skipped - MAX_LISTED_BAD_GS
            ));
        }
        let by_address: HashMap<u64, usize> =
            gs.iter().enumerate().map(|(i, g)| (g.address, i)).collect();

        let ms = threads::read_ms(self, &layouts, &mut warnings);
        let ctx = if options.frames {
            match self.pclntab() {
                Some(pclntab) => Some(StackContext {
                    memory,
                    pclntab,
                    dwarf: self.dwarf(),
                    bias: self.load_bias(),
                    arch: self.arch(),
                }),
                None => {
                    warnings.push("no pclntab: goroutine stacks are not walked".to_string());
                    None
                }
            }
        } else {
            None
        };
        // m.curg → (goid, stack lo, hi); curg may be missing from allgs
        // only in a damaged core, so read it directly then.
        let goid_of = |g: u64| -> Option<(u64, u64, u64)> {
            match by_address.get(&g).and_then(|&i| gs.get(i)) {
                Some(r) => Some((r.goid, r.stack.0, r.stack.1)),
                None => GRecord::read(memory, &layouts, g)
                    .ok()
                    .map(|r| (r.goid, r.stack.0, r.stack.1)),
            }
        };
        let threads = threads::threads(self, ctx.as_ref(), &layouts, &ms, &goid_of, max_frames);

        let core_threads = memory.core().threads();
        let mut dead = 0usize;
        let mut goroutines = Vec::with_capacity(gs.len());
        for g in &gs {
            let (status, scan) = names.decode(g.status_word);
            if status.is_dead() {
                dead += 1;
                if !options.include_dead {
                    continue;
                }
            }
            let m = (g.m != 0)
                .then(|| ms.iter().find(|m| m.address == g.m))
                .flatten();
            let thread = m.and_then(|m| threads.iter().find(|t| u64::from(t.tid) == m.procid));
            let mut goroutine = Goroutine {
                address: g.address,
                id: g.goid,
                status,
                status_word: g.status_word,
                scan,
                wait_reason: if matches!(status, GoStatus::Waiting | GoStatus::Leaked) {
                    names.wait_reason(g.wait_code)
                } else {
                    None
                },
                wait_since: g.wait_since,
                locked_to_thread: g.locked,
                stack_lo: g.stack.0,
                stack_hi: g.stack.1,
                sched_pc: g.sched.0,
                sched_sp: g.sched.1,
                sched_lr: g.sched.2,
                syscall_pc: g.syscall.0,
                syscall_sp: g.syscall.1,
                gopc: g.gopc,
                startpc: g.startpc,
                m: (g.m != 0).then_some(g.m),
                m_id: m.map(|m| m.id),
                thread: thread.map(|t| t.tid),
                start: StackStart::Unavailable,
                frames: Vec::new(),
                incomplete: None,
                created_by: None,
            };
            if let Some(ctx) = &ctx {
                goroutine.created_by = created_by(ctx, g);
                if !status.is_dead() {
                    let core_thread =
                        thread.and_then(|t| core_threads.iter().find(|c| c.tid == t.tid));
                    let (start, begin, registers) = choose_start(g, status, m, thread, core_thread);
                    goroutine.start = start;
                    match begin {
                        Some(begin) => {
                            let walk = ctx.walk(begin, registers, max_frames);
                            goroutine.frames = walk.frames;
                            goroutine.incomplete = walk.incomplete;
                        }
                        None => {
                            goroutine.incomplete =
                                Some("running on another thread; stack unavailable".to_string())
                        }
                    }
                }
            }
            goroutines.push(goroutine);
        }
        Ok(Goroutines {
            goroutines,
            dead,
            allgs_len,
            threads,
            layout_source: layouts.source,
            warnings,
        })
    }

    /// From the executable's DWARF, or the layout table's stand-in for a
    /// stripped one (its warning is the process's, said once).
    fn goroutine_layouts(&self) -> Result<Layouts, GoRuntimeError> {
        let dwarf = self
            .require_dwarf("the goroutine list (no layout table for this release and machine)")?;
        Layouts::from_dwarf(dwarf, self.arch())
    }

    /// The `*g` pointers of `runtime.allgs`.
    fn read_allgs(&self, warnings: &mut Vec<String>) -> Result<Vec<u64>, GoRuntimeError> {
        let memory = self.memory();
        let global = self
            .global("runtime.allgs")
            .ok_or(GoRuntimeError::MissingGlobal {
                name: "runtime.allgs",
            })?;
        let read = |off: u64| {
            memory
                .read_u64(global.address.wrapping_add(off))
                .map_err(|source| GoRuntimeError::Read {
                    what: "runtime.allgs",
                    source,
                })
        };
        let (array, len, cap) = (read(0)?, read(8)?, read(16)?);
        if len > cap {
            return Err(GoRuntimeError::Corrupt {
                what: "runtime.allgs",
                address: global.address,
                problem: format!("length {len} exceeds capacity {cap}"),
            });
        }
        let mut count = len;
        if count > MAX_GOROUTINES {
            warnings.push(format!(
                "runtime.allgs has {len} entries; only the first {MAX_GOROUTINES} are read"
            ));
            count = MAX_GOROUTINES;
        }
        // Fewer if the array is cut short in the core: the readable prefix.
        if !memory.is_readable(array, count * 8) {
            let (mut lo, mut hi) = (0u64, count);
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if memory.is_readable(array, mid * 8) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            warnings.push(format!(
                "runtime.allgs array at {array:#x}: only {lo} of {count} entries are in the core"
            ));
            count = lo;
        }
        let mut bytes = vec![0u8; (count * 8) as usize];
        if count > 0 {
            memory
                .read(array, &mut bytes)
                .map_err(|source| GoRuntimeError::Read {
                    what: "runtime.allgs array",
                    source,
                })?;
        }
        Ok(bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .filter(|&p| p != 0)
            .collect())
    }
}

/// Picks where to walk from (see the module doc). Returns the start kind,
/// the unwinder's start, and registers for the innermost frame's locals.
fn choose_start<'t>(
    g: &GRecord,
    status: GoStatus,
    m: Option<&MRecord>,
    thread: Option<&GoThread>,
    core_thread: Option<&'t Thread>,
) -> (StackStart, Option<UnwindStart>, Option<&'t Registers>) {
    let (sched_pc, sched_sp, sched_lr) = g.sched;
    let (syscall_pc, syscall_sp) = g.syscall;
    if syscall_sp != 0 {
        return (
            StackStart::Syscall,
            Some(UnwindStart::saved(syscall_pc, syscall_sp)),
            None,
        );
    }
    if let Some(m) = m.filter(|m| m.vdso_sp != 0) {
        return (
            StackStart::Vdso,
            Some(UnwindStart::saved(m.vdso_pc, m.vdso_sp)),
            None,
        );
    }
    if status == GoStatus::Running {
        if let Some((t, (pc, sp, own))) = thread.and_then(|t| Some((t, t.effective()?))) {
            if t.stack == ThreadStack::Goroutine(g.goid) && g.on_stack(sp) {
                let registers = if own {
                    core_thread.map(|c| &c.registers)
                } else {
                    None
                };
                // A frameless leaf (e.g. an assembly syscall stub) keeps its
                // return address only in LR: the thread's own LR register,
                // or the LR the signal interrupted (the sigcontext's
                // regs[30]), as Go's sighandler passes `c.siglr()`.
                let lr = if own {
                    core_thread.and_then(|c| c.registers.lr())
                } else {
                    t.interrupted.and_then(|c| c.lr)
                };
                let start = UnwindStart {
                    pc,
                    sp,
                    lr,
                    exact_pc: true,
                };
                let kind = if own {
                    StackStart::ThreadRegisters { tid: t.tid }
                } else {
                    StackStart::SignalContext { tid: t.tid }
                };
                return (kind, Some(start), registers);
            }
        }
    }
    if sched_sp == 0 || sched_pc == 0 {
        return (StackStart::Unavailable, None, None);
    }
    let lr = (sched_lr != 0).then_some(sched_lr);
    (
        StackStart::Sched,
        Some(UnwindStart {
            pc: sched_pc,
            sp: sched_sp,
            lr,
            exact_pc: false,
        }),
        None,
    )
}

/// The `go` statement that created `g` (Go's `printcreatedby`).
fn created_by(ctx: &StackContext<'_>, g: &GRecord) -> Option<CreatedBy> {
    if g.goid == 1 || g.gopc == 0 {
        return None;
    }
    let link_pc = g.gopc.wrapping_sub(ctx.bias);
    let func = ctx.pclntab.func_for_pc(link_pc)?;
    // Back up into the CALL instruction for the line, as Go does.
    let line_pc = if link_pc > func.entry {
        link_pc - 1
    } else {
        link_pc
    };
    let (file, line) = func.file_line(line_pc).unwrap_or(("?", 0));
    Some(CreatedBy {
        function: func.name().to_string(),
        file: file.to_string(),
        line,
        pc: g.gopc,
        pc_offset: link_pc - func.entry,
        goroutine: (g.parent_goid != 0).then_some(g.parent_goid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A running goroutine whose thread is in a signal handler starts from
    /// the interrupted registers, LR included: an interrupted frameless
    /// leaf (arm64 `Syscall6`) has its return address only there.
    #[test]
    fn signal_context_start_keeps_the_interrupted_lr() {
        let g = GRecord {
            address: 0x40_0000_21c0,
            goid: 1,
            status_word: 2,
            wait_code: 0,
            wait_since: 0,
            locked: false,
            stack: (0x40_004e_e000, 0x40_004f_0000),
            sched: (0x48b00, 0x40_004e_fe00, 0x48c00),
            syscall: (0, 0),
            m: 0x20f9c0,
            gopc: 0,
            startpc: 0,
            parent_goid: 0,
        };
        let interrupted = InterruptedContext {
            ucontext: 0x40_0000_9800,
            pc: 0x12e70,
            sp: 0x40_004e_fb50,
            fp: 0x40_004e_fba0,
            lr: Some(0x12e2c),
        };
        let thread = GoThread {
            tid: 26345,
            pc: Some(0x7b4a8),
            sp: Some(0x40_0000_97c0),
            current_signal: 6,
            m: Some(0x20f9c0),
            m_id: Some(0),
            curg: Some(1),
            g0_stack: None,
            gsignal_stack: Some((0x40_0000_8000, 0x40_0001_0000)),
            interrupted: Some(interrupted),
            stack: ThreadStack::Goroutine(1),
            frames: Vec::new(),
            incomplete: None,
        };
        let (kind, start, registers) =
            choose_start(&g, GoStatus::Running, None, Some(&thread), None);
        assert_eq!(kind, StackStart::SignalContext { tid: 26345 });
        assert!(registers.is_none());
        assert_eq!(
            start,
            Some(UnwindStart {
                pc: 0x12e70,
                sp: 0x40_004e_fb50,
                lr: Some(0x12e2c),
                exact_pc: true,
            })
        );
    }

    #[test]
    fn stack_ranges_merge() {
        let mut r = vec![(10, 20), (0, 5), (15, 30), (30, 31)];
        merge(&mut r);
        assert_eq!(r, vec![(0, 5), (10, 31)]);
    }
}
