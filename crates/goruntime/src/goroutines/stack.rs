//! Stack frames of a goroutine or thread: the pclntab unwinder's physical
//! frames turned into owned [`Frame`]s with their inlined calls and their
//! DWARF locals located in memory.
//!
//! The canonical frame address (CFA) Go's DWARF uses is the caller's SP
//! once the call returned: on amd64 SP at the call instruction, i.e. the
//! frame's SP + its SP delta + 8 for the return address; on arm64 SP +
//! SP delta (the linker's `.debug_frame` defines it the same way). That is
//! exactly the unwinder's `fp`, so a variable at `DW_OP_call_frame_cfa + N`
//! (or `DW_OP_fbreg N`, the frame base being the CFA) lives at `fp + N`.
//!
//! PIE: pclntab and DWARF speak link addresses. The unwinder only ever
//! reads return addresses through its memory callback, so the callback
//! subtracts the load bias from what it reads, and frames add it back.

use mapscope_elfcore::{Arch, ProcessMemory, Registers};

use crate::dwarf::{DwarfInfo, Location, TypeId, VariableRole};
use crate::pclntab::{
    scans_conservatively, Arch as ImageArch, FrameGeometry, FramePointers, Pclntab, Traceback,
    UnwindFrame, UnwindStart, UnwindStop, Unwinder,
};

/// How the garbage collector would find the pointers of one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameRoots {
    /// From the compiler's stack maps at the frame's call site: the live
    /// pointer words, and the stack objects (live only when a live pointer
    /// points into them).
    Precise(FramePointers),
    /// No usable stack map here (the innermost frame of a thread stopped at
    /// an arbitrary instruction, a frame above an injected call or an
    /// async preemption, a function without maps): every word of these
    /// ranges may be a pointer.
    Conservative {
        reason: String,
        ranges: Vec<(u64, u64)>,
    },
}

/// One function call on the stack, as Go's traceback prints it: the
/// function, and the source position the frame is at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFrame {
    /// e.g. `main.stackOnlyWorker`, `runtime.(*mheap).alloc`.
    pub function: String,
    pub file: String,
    pub line: u32,
    /// Inlined into the physical function of its [`Frame`].
    pub inlined: bool,
}

/// Where a local variable (or one piece of it) is at the frame's pc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalPlace {
    /// In memory: on the stack at `address` (CFA-relative in DWARF).
    Stack { address: u64 },
    /// In memory at a static address (as mapped in the process).
    Static { address: u64 },
    /// In a register (DWARF number). `value` is known only for the
    /// innermost frame of a thread whose registers the core recorded.
    Register { register: u16, value: Option<u64> },
    /// Split over several places (strings, slices, interfaces).
    Pieces(Vec<LocalPiece>),
    /// DWARF has the variable but no location at this pc (dead or
    /// optimized out here).
    NotLive,
    /// A DWARF expression this crate does not evaluate.
    Unsupported,
}

/// One piece of a split value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalPiece {
    /// Offset of the piece in the value.
    pub offset: u64,
    pub size: u64,
    /// Never `Pieces`.
    pub place: LocalPlace,
}

/// A parameter, result or local variable of a frame, located.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalVar {
    pub name: String,
    pub role: VariableRole,
    /// Declared in a function inlined into the frame's function.
    pub inlined: bool,
    /// The variable's DWARF type.
    pub ty: TypeId,
    /// Its Go spelling (`map[string]int64`, `*main.Session`).
    pub type_name: String,
    pub size: Option<u64>,
    pub place: LocalPlace,
}

impl LocalVar {
    /// Address of the whole value when it is in memory in one piece.
    pub fn address(&self) -> Option<u64> {
        match self.place {
            LocalPlace::Stack { address } | LocalPlace::Static { address } => Some(address),
            _ => None,
        }
    }

    /// The first pointer-sized word of the value (a map, pointer, chan or
    /// func value is just that word): read from memory, or taken from a
    /// known register. `None` when it is not available here.
    pub fn first_word(&self, memory: &ProcessMemory) -> Option<u64> {
        fn word(place: &LocalPlace, memory: &ProcessMemory) -> Option<u64> {
            match place {
                LocalPlace::Stack { address } | LocalPlace::Static { address } => {
                    memory.read_u64(*address).ok()
                }
                LocalPlace::Register { value, .. } => *value,
                LocalPlace::Pieces(pieces) => pieces
                    .first()
                    .filter(|p| p.offset == 0 && p.size >= 8)
                    .and_then(|p| word(&p.place, memory)),
                LocalPlace::NotLive | LocalPlace::Unsupported => None,
            }
        }
        word(&self.place, memory)
    }
}

/// One physical frame: a function activation on the stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The frame's pc: a return address, or for an innermost frame started
    /// from registers the instruction being executed.
    pub pc: u64,
    /// SP in this frame.
    pub sp: u64,
    /// The canonical frame address: the caller's SP (Go's `fp`). DWARF
    /// locations `DW_OP_call_frame_cfa + N` are relative to it.
    pub cfa: u64,
    /// Entry of the physical function.
    pub entry: u64,
    /// The physical function and where in it the frame is (after inlined
    /// calls are peeled off: the line of the outermost inlined call site).
    pub function: String,
    pub file: String,
    pub line: u32,
    /// Functions inlined into `function` at `pc`, innermost first.
    pub inlined: Vec<SourceFrame>,
    /// Where the frame's live pointers are (precise stack maps or a
    /// conservative range), as the garbage collector would scan it.
    pub roots: FrameRoots,
    locals: Vec<LocalVar>,
}

impl Frame {
    /// `pc - entry`: the `+0x…` Go prints after `file:line`.
    pub fn pc_offset(&self) -> u64 {
        self.pc.saturating_sub(self.entry)
    }

    /// Every call in this frame as Go's traceback prints them: inlined
    /// functions innermost first, then the physical function.
    pub fn source_frames(&self) -> impl Iterator<Item = SourceFrame> + '_ {
        self.inlined
            .iter()
            .cloned()
            .chain(std::iter::once(SourceFrame {
                function: self.function.clone(),
                file: self.file.clone(),
                line: self.line,
                inlined: false,
            }))
    }

    /// The frame's parameters, results and locals (including those of
    /// inlined functions) with where they are at this pc. Empty without
    /// DWARF. A variable DWARF knows but that is not live here has
    /// [`LocalPlace::NotLive`].
    pub fn locals(&self) -> &[LocalVar] {
        &self.locals
    }

    /// The local called `name` that has a place at this pc (inlined
    /// functions may reuse names; the physical function's wins).
    pub fn local(&self, name: &str) -> Option<&LocalVar> {
        let live = |v: &&LocalVar| v.name == name && v.place != LocalPlace::NotLive;
        self.locals
            .iter()
            .filter(live)
            .find(|v| !v.inlined)
            .or_else(|| self.locals.iter().find(live))
    }

    /// `[sp, cfa)`: this frame's own stack words (locals, spill slots,
    /// outgoing arguments; on amd64 the return address at `cfa - 8`), for
    /// scanning conservatively when DWARF says nothing.
    pub fn stack_range(&self) -> (u64, u64) {
        (self.sp, self.cfa.max(self.sp))
    }
}

/// Everything an unwind needs about the executable and the image.
pub(crate) struct StackContext<'a> {
    pub memory: &'a ProcessMemory,
    pub pclntab: &'a Pclntab<'a>,
    pub dwarf: Option<&'a DwarfInfo>,
    pub bias: u64,
    pub arch: Arch,
}

/// Why a walk ended, in words (empty when it reached the top).
pub(crate) fn stop_reason(stop: &UnwindStop, bias: u64) -> Option<String> {
    Some(match stop {
        UnwindStop::TopFrame => return None,
        UnwindStop::SpWrite { function } => {
            format!("stopped at {function}, which switches stacks")
        }
        UnwindStop::UnknownPc { pc } => {
            format!("pc {:#x} is in no Go function", pc.wrapping_add(bias))
        }
        UnwindStop::NoSpDelta { pc } => {
            format!("no frame size for pc {:#x}", pc.wrapping_add(bias))
        }
        UnwindStop::ReadFailed { address } => {
            format!("stack word at {address:#x} is not in the core")
        }
        UnwindStop::ZeroReturnAddress => "zero return address".to_string(),
        UnwindStop::Stuck => "frame repeats itself".to_string(),
        UnwindStop::FrameLimit => "frame limit reached".to_string(),
    })
}

/// The result of one walk.
pub(crate) struct Walk {
    pub frames: Vec<Frame>,
    /// `None` when the walk reached the top of the stack.
    pub incomplete: Option<String>,
}

impl<'a> StackContext<'a> {
    /// Walks from `start` (runtime addresses). `registers` are the thread's
    /// registers when `start` came from them: they give register-located
    /// locals of the innermost frame.
    pub(crate) fn walk(
        &self,
        start: UnwindStart,
        registers: Option<&Registers>,
        max_frames: usize,
    ) -> Walk {
        let traceback = self.unwind(start, max_frames);
        let incomplete = stop_reason(&traceback.stop, self.bias);
        // The frame above an asyncPreempt/debugCall frame is scanned
        // conservatively (its registers were spilled there).
        let mut conservative_next = false;
        let frames = traceback
            .frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let regs = if i == 0 { registers } else { None };
                let mut frame = self.frame(f, regs);
                let forced = if conservative_next {
                    Some("caller of an async preemption or debug call")
                } else if scans_conservatively(f.func.func_id()) {
                    Some("async preemption or debug call frame")
                } else if f.lookup_pc == f.pc && f.pc > f.func.entry {
                    // Not stopped at a call: an exact pc (thread registers
                    // or a signal context) or above an injected call.
                    Some("stopped between calls (no stack map at this pc)")
                } else {
                    None
                };
                conservative_next = scans_conservatively(f.func.func_id());
                frame.roots = self.frame_roots(f, forced);
                frame
            })
            .collect();
        Walk { frames, incomplete }
    }

    /// The raw unwind over link addresses (see the module doc for PIE).
    pub(crate) fn unwind(&self, start: UnwindStart, max_frames: usize) -> Traceback<'a> {
        let bias = self.bias;
        let memory = self.memory;
        let start = UnwindStart {
            pc: start.pc.wrapping_sub(bias),
            lr: start.lr.map(|lr| lr.wrapping_sub(bias)),
            ..start
        };
        Unwinder::new(self.pclntab)
            .with_max_frames(max_frames)
            .unwind(
                |addr| memory.read_u64(addr).ok().map(|v| v.wrapping_sub(bias)),
                start,
            )
    }

    /// The frame's pointer slots (see [`FrameRoots`]).
    fn frame_roots(&self, f: &UnwindFrame<'_>, forced: Option<&str>) -> FrameRoots {
        let args = u64::try_from(f.func.args_size()).unwrap_or(0);
        let conservative = |reason: String| FrameRoots::Conservative {
            reason,
            ranges: vec![
                (f.sp, f.fp.max(f.sp)),
                (f.argp, f.argp.saturating_add(args)),
            ],
        };
        if let Some(reason) = forced {
            return conservative(format!("{}: {reason}", f.func.name()));
        }
        let geometry = FrameGeometry {
            continpc: f.pc,
            sp: f.sp,
            varp: f.varp,
            argp: f.argp,
            min_locals: if self.pclntab.image().arch() == ImageArch::Arm64 {
                16
            } else {
                0
            },
        };
        match self.pclntab.frame_pointers(&f.func, &geometry) {
            Ok(p) => FrameRoots::Precise(p),
            Err(e) => conservative(e.to_string()),
        }
    }

    fn frame(&self, f: &UnwindFrame<'_>, registers: Option<&Registers>) -> Frame {
        let bias = self.bias;
        let mut logical: Vec<SourceFrame> = f
            .frames
            .iter()
            .map(|l| SourceFrame {
                function: l.function.to_string(),
                file: l.file.to_string(),
                line: l.line,
                inlined: l.inlined,
            })
            .collect();
        let physical = logical.pop().unwrap_or_else(|| SourceFrame {
            function: f.func.name().to_string(),
            file: "?".to_string(),
            line: 0,
            inlined: false,
        });
        let locals = match self.dwarf {
            Some(dwarf) => self.locals(dwarf, f.lookup_pc, f.fp, registers),
            None => Vec::new(),
        };
        Frame {
            pc: f.pc.wrapping_add(bias),
            sp: f.sp,
            cfa: f.fp,
            entry: f.func.entry.wrapping_add(bias),
            function: physical.function,
            file: physical.file,
            line: physical.line,
            inlined: logical,
            roots: FrameRoots::Conservative {
                reason: String::new(),
                ranges: Vec::new(),
            },
            locals,
        }
    }

    /// The DWARF variables of the function at `lookup_pc` (a link address)
    /// placed for a frame whose CFA is `cfa`.
    fn locals(
        &self,
        dwarf: &DwarfInfo,
        lookup_pc: u64,
        cfa: u64,
        registers: Option<&Registers>,
    ) -> Vec<LocalVar> {
        let Some(function) = dwarf.functions().at_pc(lookup_pc) else {
            return Vec::new();
        };
        let types = dwarf.types();
        function
            .variables
            .iter()
            .map(|v| {
                let place = match v.location_at(lookup_pc) {
                    None => LocalPlace::NotLive,
                    Some(location) => self.place(location, cfa, registers),
                };
                LocalVar {
                    name: v.name.clone(),
                    role: v.role,
                    inlined: v.inlined,
                    ty: v.ty,
                    type_name: types.get(v.ty).name.clone(),
                    size: types.size_of(v.ty),
                    place,
                }
            })
            .collect()
    }

    fn place(&self, location: &Location, cfa: u64, registers: Option<&Registers>) -> LocalPlace {
        match location {
            Location::FrameOffset(offset) => match cfa.checked_add_signed(*offset) {
                Some(address) => LocalPlace::Stack { address },
                None => LocalPlace::Unsupported,
            },
            Location::Address(a) => LocalPlace::Static {
                address: a.wrapping_add(self.bias),
            },
            Location::Register(r) => LocalPlace::Register {
                register: *r,
                value: registers.and_then(|regs| register_value(self.arch, regs, *r)),
            },
            Location::Pieces(pieces) => {
                let mut offset = 0u64;
                let mut out = Vec::with_capacity(pieces.len());
                for p in pieces {
                    let place = match &p.location {
                        Location::Unavailable => LocalPlace::NotLive,
                        Location::Pieces(_) => LocalPlace::Unsupported,
                        other => self.place(other, cfa, registers),
                    };
                    out.push(LocalPiece {
                        offset,
                        size: p.size,
                        place,
                    });
                    offset = offset.saturating_add(p.size);
                }
                LocalPlace::Pieces(out)
            }
            Location::Unavailable => LocalPlace::NotLive,
            Location::RegisterOffset { .. } | Location::Unsupported => LocalPlace::Unsupported,
        }
    }
}

/// A register by its DWARF number (System V amd64 / AAPCS64 numbering).
pub(crate) fn register_value(arch: Arch, regs: &Registers, dwarf_number: u16) -> Option<u64> {
    const AMD64: [&str; 17] = [
        "rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12",
        "r13", "r14", "r15", "rip",
    ];
    match arch {
        Arch::X86_64 => regs.get(AMD64.get(usize::from(dwarf_number))?),
        Arch::Aarch64 => match dwarf_number {
            0..=30 => regs.get(&format!("x{dwarf_number}")),
            31 => regs.get("sp"),
            _ => None,
        },
    }
}
