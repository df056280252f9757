//! Special-function identities (`abi.FuncID`) and function flags.
//!
//! The numeric funcID values shift between Go releases (1.22 added
//! `corostart`, 1.25 replaced `runfinq` with `runFinalizers`/`runCleanups`),
//! so the table is chosen by checking it against the runtime functions the
//! binary itself contains, never by version number.

/// What a function is to the unwinder. Version independent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FuncId {
    Normal,
    Abort,
    Asmcgocall,
    AsyncPreempt,
    Cgocallback,
    Corostart,
    DebugCallV2,
    GcBgMarkWorker,
    Goexit,
    Gogo,
    Gopanic,
    HandleAsyncEvent,
    Mcall,
    Morestack,
    Mstart,
    Panicwrap,
    Rt0Go,
    RuntimeMain,
    /// `runtime.runfinq` (Go 1.21–1.24).
    Runfinq,
    /// `runtime.runFinalizers` (Go 1.25+).
    RunFinalizers,
    /// `runtime.runCleanups` (Go 1.25+).
    RunCleanups,
    Sigpanic,
    Systemstack,
    SystemstackSwitch,
    /// Compiler-generated code (method wrappers, hash/eq functions) and
    /// `runtime.deferreturn`; hidden from Go's tracebacks.
    Wrapper,
    /// A raw value the detected table does not know.
    Unknown(u8),
}

impl FuncId {
    /// Calls the signal handler injects (no CALL instruction precedes the
    /// caller's pc, so it must not be backed up by one).
    pub fn is_injected_call(self) -> bool {
        matches!(
            self,
            FuncId::Sigpanic | FuncId::AsyncPreempt | FuncId::DebugCallV2
        )
    }
}

/// `abi.FuncFlag` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FuncFlags(pub u8);

impl FuncFlags {
    /// The function sits at the top of a stack (goexit, mstart, rt0_go):
    /// unwinding ends here, successfully.
    pub fn top_frame(self) -> bool {
        self.0 & 1 != 0
    }
    /// The function writes SP arbitrarily; frames above it cannot be found.
    pub fn sp_write(self) -> bool {
        self.0 & 2 != 0
    }
    /// Written in assembly.
    pub fn asm(self) -> bool {
        self.0 & 4 != 0
    }
}

/// Which release family's funcID numbering a binary uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncIdTable {
    /// Go 1.21 (no `corostart`).
    Go121,
    /// Go 1.22 – 1.24.
    Go122,
    /// Go 1.25 and later.
    Go125,
    /// No table matched; ids are derived from function names instead.
    Unknown,
}

use FuncId::*;

const GO121: &[FuncId] = &[
    Normal,
    Abort,
    Asmcgocall,
    AsyncPreempt,
    Cgocallback,
    DebugCallV2,
    GcBgMarkWorker,
    Goexit,
    Gogo,
    Gopanic,
    HandleAsyncEvent,
    Mcall,
    Morestack,
    Mstart,
    Panicwrap,
    Rt0Go,
    Runfinq,
    RuntimeMain,
    Sigpanic,
    Systemstack,
    SystemstackSwitch,
    Wrapper,
];

const GO122: &[FuncId] = &[
    Normal,
    Abort,
    Asmcgocall,
    AsyncPreempt,
    Cgocallback,
    Corostart,
    DebugCallV2,
    GcBgMarkWorker,
    Goexit,
    Gogo,
    Gopanic,
    HandleAsyncEvent,
    Mcall,
    Morestack,
    Mstart,
    Panicwrap,
    Rt0Go,
    Runfinq,
    RuntimeMain,
    Sigpanic,
    Systemstack,
    SystemstackSwitch,
    Wrapper,
];

const GO125: &[FuncId] = &[
    Normal,
    Abort,
    Asmcgocall,
    AsyncPreempt,
    Cgocallback,
    Corostart,
    DebugCallV2,
    GcBgMarkWorker,
    Goexit,
    Gogo,
    Gopanic,
    HandleAsyncEvent,
    Mcall,
    Morestack,
    Mstart,
    Panicwrap,
    Rt0Go,
    RuntimeMain,
    RunFinalizers,
    RunCleanups,
    Sigpanic,
    Systemstack,
    SystemstackSwitch,
    Wrapper,
];

impl FuncIdTable {
    /// Newest first: when a small binary cannot tell two tables apart, the
    /// newer numbering is the likelier one.
    pub(crate) const CANDIDATES: [FuncIdTable; 3] =
        [FuncIdTable::Go125, FuncIdTable::Go122, FuncIdTable::Go121];

    fn ids(self) -> &'static [FuncId] {
        match self {
            FuncIdTable::Go121 => GO121,
            FuncIdTable::Go122 => GO122,
            FuncIdTable::Go125 => GO125,
            FuncIdTable::Unknown => &[],
        }
    }

    /// Maps a raw funcID to its meaning; `name` is used when the table is
    /// unknown.
    pub fn resolve(self, raw: u8, name: &str) -> FuncId {
        if raw == 0 {
            return Normal;
        }
        match self {
            FuncIdTable::Unknown => id_for_name(name).unwrap_or(Unknown(raw)),
            table => table
                .ids()
                .get(usize::from(raw))
                .copied()
                .unwrap_or(Unknown(raw)),
        }
    }

    /// Whether a function called `name` with raw id `raw` agrees with this
    /// table: the linker assigns special ids by name, and any function may
    /// be a wrapper (ABI wrappers keep the name of the function they wrap).
    pub(crate) fn agrees(self, raw: u8, name: &str) -> bool {
        match self.ids().get(usize::from(raw)) {
            Some(Wrapper) => true,
            Some(&id) => id_for_name(name) == Some(id),
            None => false,
        }
    }
}

/// The id the linker gives a runtime function by name
/// (cmd/internal/objabi/funcid.go).
pub fn id_for_name(name: &str) -> Option<FuncId> {
    Some(match name.strip_prefix("runtime.")? {
        "abort" => Abort,
        "asmcgocall" => Asmcgocall,
        "asyncPreempt" => AsyncPreempt,
        "cgocallback" => Cgocallback,
        "corostart" => Corostart,
        "debugCallV2" => DebugCallV2,
        "gcBgMarkWorker" => GcBgMarkWorker,
        "rt0_go" => Rt0Go,
        "goexit" => Goexit,
        "gogo" => Gogo,
        "gopanic" => Gopanic,
        "handleAsyncEvent" => HandleAsyncEvent,
        "main" => RuntimeMain,
        "mcall" => Mcall,
        "morestack" => Morestack,
        "mstart" => Mstart,
        "panicwrap" => Panicwrap,
        "runfinq" => Runfinq,
        "runFinalizers" => RunFinalizers,
        "runCleanups" => RunCleanups,
        "sigpanic" => Sigpanic,
        "systemstack_switch" => SystemstackSwitch,
        "systemstack" => Systemstack,
        "deferreturn" => Wrapper,
        _ => return None,
    })
}
