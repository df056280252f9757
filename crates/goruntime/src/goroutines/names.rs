//! What a goroutine's status and wait reason numbers mean.
//!
//! Status numbers (`runtime._Gidle` …, `_Gscan`) come from the DWARF
//! constants when present; their values have not changed since Go 1.0
//! (1.26 appended `_Gleaked` and `_Gdeadextra`), so the built-in values
//! stand in for a stripped executable.
//!
//! Wait reasons (`g.waitreason`, a `uint8`) are renumbered by almost every
//! release: the strings are read from the runtime's own
//! `runtime.waitReasonStrings` array in the process image. Only when that
//! global cannot be found (no DWARF and no symbol table) a per-release
//! table is used, with a warning.

use crate::process::GoProcess;

/// A goroutine's scheduling state (`g.atomicstatus` without `_Gscan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GoStatus {
    Idle,
    Runnable,
    Running,
    Syscall,
    Waiting,
    Dead,
    Copystack,
    Preempted,
    /// A leaked goroutine caught by the GC (Go 1.26+).
    Leaked,
    /// A dead goroutine attached to an extra M for cgo callbacks (1.26+).
    DeadExtra,
    /// A value this code does not know.
    Other(u32),
}

impl GoStatus {
    /// The word Go's traceback prints (`gStatusStrings`).
    pub fn name(self) -> &'static str {
        match self {
            GoStatus::Idle => "idle",
            GoStatus::Runnable => "runnable",
            GoStatus::Running => "running",
            GoStatus::Syscall => "syscall",
            GoStatus::Waiting => "waiting",
            GoStatus::Dead => "dead",
            GoStatus::Copystack => "copystack",
            GoStatus::Preempted => "preempted",
            GoStatus::Leaked => "leaked",
            GoStatus::DeadExtra => "waiting for cgo callback",
            GoStatus::Other(_) => "???",
        }
    }

    /// Whether the goroutine is gone (its `g` is kept for reuse).
    pub fn is_dead(self) -> bool {
        matches!(self, GoStatus::Dead | GoStatus::DeadExtra)
    }
}

/// Decodes status words and wait reasons for one executable.
#[derive(Clone, Debug)]
pub(crate) struct StatusNames {
    /// (value, status) pairs.
    statuses: Vec<(u32, GoStatus)>,
    scan_bit: u32,
    wait_reasons: Vec<String>,
}

/// Bound on the number of entries read from the runtime's string arrays.
const MAX_WAIT_REASONS: u64 = 256;
/// Bound on the length of one wait-reason string.
const MAX_WAIT_REASON_LEN: u64 = 128;

impl StatusNames {
    /// Loads the status constants and the wait-reason strings; `warnings`
    /// receives a line for every fallback used.
    pub(crate) fn load(process: &GoProcess, warnings: &mut Vec<String>) -> StatusNames {
        let constant = |name: &str, default: u32| -> u32 {
            process
                .dwarf()
                .and_then(|d| d.constant(name))
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(default)
        };
        let statuses = vec![
            (constant("runtime._Gidle", 0), GoStatus::Idle),
            (constant("runtime._Grunnable", 1), GoStatus::Runnable),
            (constant("runtime._Grunning", 2), GoStatus::Running),
            (constant("runtime._Gsyscall", 3), GoStatus::Syscall),
            (constant("runtime._Gwaiting", 4), GoStatus::Waiting),
            (constant("runtime._Gdead", 6), GoStatus::Dead),
            (constant("runtime._Gcopystack", 8), GoStatus::Copystack),
            (constant("runtime._Gpreempted", 9), GoStatus::Preempted),
            (constant("runtime._Gleaked", 10), GoStatus::Leaked),
            (constant("runtime._Gdeadextra", 11), GoStatus::DeadExtra),
        ];
        let scan_bit = constant("runtime._Gscan", 0x1000);
        let wait_reasons = match read_wait_reasons(process) {
            Ok(list) => list,
            Err(why) => {
                let version = process.version();
                match fallback_wait_reasons(version.minor).filter(|_| version.major == 1) {
                    Some(table) => {
                        warnings.push(format!(
                            "wait reasons from the built-in Go 1.{} table ({why})",
                            version.minor
                        ));
                        table.iter().map(|s| s.to_string()).collect()
                    }
                    None => {
                        warnings.push(format!(
                            "wait reasons unknown ({why}; no built-in table for {:?}): printed as numbers",
                            version.raw
                        ));
                        Vec::new()
                    }
                }
            }
        };
        StatusNames {
            statuses,
            scan_bit,
            wait_reasons,
        }
    }

    /// Splits a status word into the state and the `_Gscan` bit.
    pub(crate) fn decode(&self, word: u32) -> (GoStatus, bool) {
        let scan = word & self.scan_bit != 0;
        let value = word & !self.scan_bit;
        let status = self
            .statuses
            .iter()
            .find(|(v, _)| *v == value)
            .map(|&(_, s)| s)
            .unwrap_or(GoStatus::Other(value));
        (status, scan)
    }

    /// The string of wait reason `code` (`None` for 0, `waitReasonZero`).
    pub(crate) fn wait_reason(&self, code: u8) -> Option<String> {
        if code == 0 {
            return None;
        }
        Some(
            self.wait_reasons
                .get(usize::from(code))
                .cloned()
                .unwrap_or_else(|| format!("wait reason {code}")),
        )
    }
}

/// Reads `runtime.waitReasonStrings` (`[N]string`) from the process image.
fn read_wait_reasons(process: &GoProcess) -> Result<Vec<String>, String> {
    let global = process
        .global("runtime.waitReasonStrings")
        .ok_or("runtime.waitReasonStrings not in DWARF or the symbol table")?;
    let count = global.size / 16;
    if count == 0 || count > MAX_WAIT_REASONS {
        return Err(format!(
            "runtime.waitReasonStrings at {:#x} has an implausible size of {} bytes",
            global.address, global.size
        ));
    }
    let mut list = Vec::with_capacity(count as usize);
    for i in 0..count {
        let at = global.address + i * 16;
        let bytes = process
            .read_go_string(at, MAX_WAIT_REASON_LEN)
            .map_err(|e| format!("runtime.waitReasonStrings[{i}]: {e}"))?;
        list.push(String::from_utf8_lossy(bytes).into_owned());
    }
    Ok(list)
}

/// `runtime.waitReasonStrings` of Go 1.21.
const WAIT_REASONS_1_21: &[&str] = &[
    "",
    "GC assist marking",
    "IO wait",
    "chan receive (nil chan)",
    "chan send (nil chan)",
    "dumping heap",
    "garbage collection",
    "garbage collection scan",
    "panicwait",
    "select",
    "select (no cases)",
    "GC assist wait",
    "GC sweep wait",
    "GC scavenge wait",
    "chan receive",
    "chan send",
    "finalizer wait",
    "force gc (idle)",
    "semacquire",
    "sleep",
    "sync.Cond.Wait",
    "sync.Mutex.Lock",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "trace reader (blocked)",
    "wait for GC cycle",
    "GC worker (idle)",
    "GC worker (active)",
    "preempted",
    "debug call",
    "GC mark termination",
    "stopping the world",
];

/// `runtime.waitReasonStrings` of Go 1.22.
const WAIT_REASONS_1_22: &[&str] = &[
    "",
    "GC assist marking",
    "IO wait",
    "chan receive (nil chan)",
    "chan send (nil chan)",
    "dumping heap",
    "garbage collection",
    "garbage collection scan",
    "panicwait",
    "select",
    "select (no cases)",
    "GC assist wait",
    "GC sweep wait",
    "GC scavenge wait",
    "chan receive",
    "chan send",
    "finalizer wait",
    "force gc (idle)",
    "semacquire",
    "sleep",
    "sync.Cond.Wait",
    "sync.Mutex.Lock",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "trace reader (blocked)",
    "wait for GC cycle",
    "GC worker (idle)",
    "GC worker (active)",
    "preempted",
    "debug call",
    "GC mark termination",
    "stopping the world",
    "flushing proc caches",
    "trace goroutine status",
    "trace proc status",
    "page trace flush",
    "coroutine",
];

/// `runtime.waitReasonStrings` of Go 1.23.
const WAIT_REASONS_1_23: &[&str] = &[
    "",
    "GC assist marking",
    "IO wait",
    "chan receive (nil chan)",
    "chan send (nil chan)",
    "dumping heap",
    "garbage collection",
    "garbage collection scan",
    "panicwait",
    "select",
    "select (no cases)",
    "GC assist wait",
    "GC sweep wait",
    "GC scavenge wait",
    "chan receive",
    "chan send",
    "finalizer wait",
    "force gc (idle)",
    "semacquire",
    "sleep",
    "sync.Cond.Wait",
    "sync.Mutex.Lock",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "trace reader (blocked)",
    "wait for GC cycle",
    "GC worker (idle)",
    "GC worker (active)",
    "preempted",
    "debug call",
    "GC mark termination",
    "stopping the world",
    "flushing proc caches",
    "trace goroutine status",
    "trace proc status",
    "page trace flush",
    "coroutine",
    "GC weak to strong wait",
];

/// `runtime.waitReasonStrings` of Go 1.24.
const WAIT_REASONS_1_24: &[&str] = &[
    "",
    "GC assist marking",
    "IO wait",
    "chan receive (nil chan)",
    "chan send (nil chan)",
    "dumping heap",
    "garbage collection",
    "garbage collection scan",
    "panicwait",
    "select",
    "select (no cases)",
    "GC assist wait",
    "GC sweep wait",
    "GC scavenge wait",
    "chan receive",
    "chan send",
    "finalizer wait",
    "force gc (idle)",
    "semacquire",
    "sleep",
    "sync.Cond.Wait",
    "sync.Mutex.Lock",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "sync.WaitGroup.Wait",
    "trace reader (blocked)",
    "wait for GC cycle",
    "GC worker (idle)",
    "GC worker (active)",
    "preempted",
    "debug call",
    "GC mark termination",
    "stopping the world",
    "flushing proc caches",
    "trace goroutine status",
    "trace proc status",
    "page trace flush",
    "coroutine",
    "GC weak to strong wait",
    "synctest.Run",
    "synctest.Wait",
    "chan receive (synctest)",
    "chan send (synctest)",
    "select (synctest)",
];

/// `runtime.waitReasonStrings` of Go 1.25.
const WAIT_REASONS_1_25: &[&str] = &[
    "",
    "GC assist marking",
    "IO wait",
    "chan receive (nil chan)",
    "chan send (nil chan)",
    "dumping heap",
    "garbage collection",
    "garbage collection scan",
    "panicwait",
    "select",
    "select (no cases)",
    "GC assist wait",
    "GC sweep wait",
    "GC scavenge wait",
    "chan receive",
    "chan send",
    "finalizer wait",
    "force gc (idle)",
    "GOMAXPROCS updater (idle)",
    "semacquire",
    "sleep",
    "sync.Cond.Wait",
    "sync.Mutex.Lock",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "sync.WaitGroup.Wait",
    "trace reader (blocked)",
    "wait for GC cycle",
    "GC worker (idle)",
    "GC worker (active)",
    "preempted",
    "debug call",
    "GC mark termination",
    "stopping the world",
    "flushing proc caches",
    "trace goroutine status",
    "trace proc status",
    "page trace flush",
    "coroutine",
    "GC weak to strong wait",
    "synctest.Run",
    "synctest.Wait",
    "chan receive (durable)",
    "chan send (durable)",
    "select (durable)",
    "sync.WaitGroup.Wait (durable)",
    "cleanup wait",
];

/// `runtime.waitReasonStrings` of Go 1.26 (and 1.27).
const WAIT_REASONS_1_26: &[&str] = &[
    "",
    "GC assist marking",
    "IO wait",
    "dumping heap",
    "garbage collection",
    "garbage collection scan",
    "panicwait",
    "GC assist wait",
    "GC sweep wait",
    "GC scavenge wait",
    "finalizer wait",
    "force gc (idle)",
    "GOMAXPROCS updater (idle)",
    "semacquire",
    "sleep",
    "chan receive (nil chan)",
    "chan send (nil chan)",
    "select (no cases)",
    "select",
    "chan receive",
    "chan send",
    "sync.Cond.Wait",
    "sync.Mutex.Lock",
    "sync.RWMutex.RLock",
    "sync.RWMutex.Lock",
    "sync.WaitGroup.Wait",
    "trace reader (blocked)",
    "wait for GC cycle",
    "GC worker (idle)",
    "GC worker (active)",
    "preempted",
    "debug call",
    "GC mark termination",
    "stopping the world",
    "flushing proc caches",
    "trace goroutine status",
    "trace proc status",
    "page trace flush",
    "coroutine",
    "GC weak to strong wait",
    "synctest.Run",
    "synctest.Wait",
    "chan receive (durable)",
    "chan send (durable)",
    "select (durable)",
    "sync.WaitGroup.Wait (durable)",
    "cleanup wait",
];

fn fallback_wait_reasons(minor: u32) -> Option<&'static [&'static str]> {
    match minor {
        21 => Some(WAIT_REASONS_1_21),
        22 => Some(WAIT_REASONS_1_22),
        23 => Some(WAIT_REASONS_1_23),
        24 => Some(WAIT_REASONS_1_24),
        25 => Some(WAIT_REASONS_1_25),
        26 => Some(WAIT_REASONS_1_26),
        27 => Some(WAIT_REASONS_1_26),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_tables_cover_the_supported_releases() {
        for minor in 21..=27 {
            let table = fallback_wait_reasons(minor).expect("table");
            assert_eq!(table[0], "");
            assert!(table.contains(&"chan receive"));
        }
        assert!(fallback_wait_reasons(20).is_none());
    }
}
