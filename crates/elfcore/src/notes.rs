//! Core-file notes: threads (`NT_PRSTATUS`, plus `NT_ARM_TLS` on arm64),
//! the process (`NT_PRPSINFO`), the auxiliary vector (`NT_AUXV`), the fatal
//! signal (`NT_SIGINFO`) and file-backed mappings (`NT_FILE`).
//!
//! Layouts are the Linux 64-bit ones (identical on x86_64 and aarch64 apart
//! from the register block). Every field is read with a bounds check; a note
//! too short for a field leaves that field out rather than failing the core.

use crate::elf::{Arch, RawNote};

pub(crate) const NT_PRSTATUS: u32 = 1;
pub(crate) const NT_PRPSINFO: u32 = 3;
pub(crate) const NT_AUXV: u32 = 6;
pub(crate) const NT_SIGINFO: u32 = 0x5349_4749;
pub(crate) const NT_FILE: u32 = 0x4649_4c45;
pub(crate) const NT_ARM_TLS: u32 = 0x401;

/// `AT_*` keys of the auxiliary vector that matter for reading a core.
pub mod auxv {
    pub const AT_NULL: u64 = 0;
    pub const AT_PHDR: u64 = 3;
    pub const AT_PHENT: u64 = 4;
    pub const AT_PHNUM: u64 = 5;
    pub const AT_PAGESZ: u64 = 6;
    pub const AT_BASE: u64 = 7;
    pub const AT_ENTRY: u64 = 9;
    pub const AT_PLATFORM: u64 = 15;
    pub const AT_HWCAP: u64 = 16;
    pub const AT_RANDOM: u64 = 25;
    pub const AT_EXECFN: u64 = 31;
    pub const AT_SYSINFO_EHDR: u64 = 33;
}

pub(crate) fn le_u64(b: &[u8], off: usize) -> Option<u64> {
    let bytes = b.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}
pub(crate) fn le_u32(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}
pub(crate) fn le_i32(b: &[u8], off: usize) -> Option<i32> {
    le_u32(b, off).map(|v| v as i32)
}
fn le_u16(b: &[u8], off: usize) -> Option<u16> {
    let bytes = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(bytes.try_into().ok()?))
}

/// A NUL-terminated C string inside a fixed-size field.
fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(b.get(..end).unwrap_or(&[])).into_owned()
}

// ---------------------------------------------------------------------------
// Registers

const X86_64_REGS: [&str; 27] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];
const AARCH64_REGS: [&str; 34] = [
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
    "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
    "x28", "x29", "x30", "sp", "pc", "pstate",
];

/// Offset of `pr_reg` in the 64-bit `elf_prstatus` (both machines).
const PR_REG_OFFSET: usize = 112;

/// The general registers of one thread, by name, in the kernel's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registers {
    arch: Arch,
    /// Only as many as the note held (a short note gives fewer).
    values: Vec<u64>,
}

impl Registers {
    fn names(arch: Arch) -> &'static [&'static str] {
        match arch {
            Arch::X86_64 => &X86_64_REGS,
            Arch::Aarch64 => &AARCH64_REGS,
        }
    }
    /// The register called `name` (`"rip"`, `"rsp"`, `"x29"`, `"pc"`, ...).
    pub fn get(&self, name: &str) -> Option<u64> {
        let idx = Self::names(self.arch).iter().position(|n| *n == name)?;
        self.values.get(idx).copied()
    }
    /// All registers as `(name, value)`, in the kernel's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        Self::names(self.arch)
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }
    /// Program counter (`rip` / `pc`).
    pub fn pc(&self) -> Option<u64> {
        self.get(match self.arch {
            Arch::X86_64 => "rip",
            Arch::Aarch64 => "pc",
        })
    }
    /// Stack pointer (`rsp` / `sp`).
    pub fn sp(&self) -> Option<u64> {
        self.get(match self.arch {
            Arch::X86_64 => "rsp",
            Arch::Aarch64 => "sp",
        })
    }
    /// Frame pointer (`rbp` / `x29`).
    pub fn fp(&self) -> Option<u64> {
        self.get(match self.arch {
            Arch::X86_64 => "rbp",
            Arch::Aarch64 => "x29",
        })
    }
    /// Link register (`x30`); `None` on x86_64, which has none.
    pub fn lr(&self) -> Option<u64> {
        match self.arch {
            Arch::X86_64 => None,
            Arch::Aarch64 => self.get("x30"),
        }
    }
    pub fn arch(&self) -> Arch {
        self.arch
    }
}

/// One thread of the process, from its `NT_PRSTATUS` note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    /// Linux thread id (`pr_pid`); the main thread's equals the process id.
    pub tid: u32,
    /// `pr_cursig`: the signal this thread was handling (0 if none).
    pub current_signal: u16,
    pub registers: Registers,
    /// Thread-pointer base: `fs_base` on x86_64, `tpidr_el0` (from the
    /// following `NT_ARM_TLS` note) on aarch64.
    pub tls_base: Option<u64>,
}

impl Thread {
    pub fn pc(&self) -> Option<u64> {
        self.registers.pc()
    }
    pub fn sp(&self) -> Option<u64> {
        self.registers.sp()
    }
}

pub(crate) fn parse_prstatus(arch: Arch, desc: &[u8]) -> Option<Thread> {
    let tid = le_u32(desc, 32)?;
    let current_signal = le_u16(desc, 12).unwrap_or(0);
    let count = Registers::names(arch).len();
    let values: Vec<u64> = (0..count)
        .map_while(|i| le_u64(desc, PR_REG_OFFSET.checked_add(i.checked_mul(8)?)?))
        .collect();
    let registers = Registers { arch, values };
    let tls_base = match arch {
        Arch::X86_64 => registers.get("fs_base"),
        Arch::Aarch64 => None, // filled from NT_ARM_TLS
    };
    Some(Thread {
        tid,
        current_signal,
        registers,
        tls_base,
    })
}

// ---------------------------------------------------------------------------
// Process

/// The process, from `NT_PRPSINFO`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    /// `pr_fname`: the command name (at most 15 bytes, like `comm`).
    pub command: String,
    /// `pr_psargs`: the start of the command line (at most 80 bytes,
    /// arguments separated by spaces).
    pub args: String,
}

pub(crate) fn parse_prpsinfo(desc: &[u8]) -> Option<ProcessInfo> {
    Some(ProcessInfo {
        uid: le_u32(desc, 16)?,
        gid: le_u32(desc, 20)?,
        pid: le_u32(desc, 24)?,
        ppid: le_u32(desc, 28)?,
        command: c_string(desc.get(40..56)?),
        args: c_string(desc.get(56..desc.len().min(136))?)
            .trim_end()
            .to_string(),
    })
}

/// The fatal signal, from `NT_SIGINFO` (a `siginfo_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    /// Faulting address for SIGSEGV/SIGBUS/SIGILL/SIGFPE raised by the CPU.
    pub fault_addr: Option<u64>,
    /// Sender for signals sent by a process (`kill`, `tgkill`: `si_code <= 0`).
    pub sender_pid: Option<u32>,
}

impl SignalInfo {
    /// `"SIGABRT"`, `"SIGSEGV"`, ... (Linux numbering, same on both machines).
    pub fn name(&self) -> &'static str {
        signal_name(self.signo)
    }
}

/// Linux signal name for a number, `"SIG?"` when unknown.
pub fn signal_name(signo: i32) -> &'static str {
    match signo {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        16 => "SIGSTKFLT",
        17 => "SIGCHLD",
        18 => "SIGCONT",
        19 => "SIGSTOP",
        20 => "SIGTSTP",
        21 => "SIGTTIN",
        22 => "SIGTTOU",
        23 => "SIGURG",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        26 => "SIGVTALRM",
        27 => "SIGPROF",
        28 => "SIGWINCH",
        29 => "SIGIO",
        30 => "SIGPWR",
        31 => "SIGSYS",
        _ => "SIG?",
    }
}

pub(crate) fn parse_siginfo(desc: &[u8]) -> Option<SignalInfo> {
    let signo = le_i32(desc, 0)?;
    let errno = le_i32(desc, 4)?;
    let code = le_i32(desc, 8)?;
    // The union starts at 16 on 64-bit.
    let cpu_fault = code > 0 && matches!(signo, 4 | 7 | 8 | 11);
    let fault_addr = if cpu_fault { le_u64(desc, 16) } else { None };
    let sender_pid = if code <= 0 { le_u32(desc, 16) } else { None };
    Some(SignalInfo {
        signo,
        errno,
        code,
        fault_addr,
        sender_pid,
    })
}

/// The auxiliary vector (`NT_AUXV`): `(AT_* key, value)` pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auxv {
    pub entries: Vec<(u64, u64)>,
}

impl Auxv {
    /// The value for `key` (see [`auxv`] for the constants).
    pub fn get(&self, key: u64) -> Option<u64> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

pub(crate) fn parse_auxv(desc: &[u8]) -> Auxv {
    // Bounded by the note: at most desc.len() / 16 pairs.
    let mut entries = Vec::with_capacity(desc.len() / 16);
    for pair in desc.chunks_exact(16) {
        let (Some(key), Some(value)) = (le_u64(pair, 0), le_u64(pair, 8)) else {
            break;
        };
        if key == auxv::AT_NULL {
            break;
        }
        entries.push((key, value));
    }
    Auxv { entries }
}

/// A file-backed mapping, from `NT_FILE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMapping {
    pub start: u64,
    pub end: u64,
    /// Offset in the file, in bytes (the note stores pages × `page_size`).
    pub file_offset: u64,
    /// The path, without a ` (deleted)` suffix.
    pub path: String,
    /// The kernel marked the file as deleted (` (deleted)` suffix).
    pub deleted: bool,
}

impl FileMapping {
    pub fn size(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// `NT_FILE` as a whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileNote {
    /// The page size the offsets are counted in (gdb's `gcore` writes 1).
    pub page_size: u64,
    pub mappings: Vec<FileMapping>,
}

pub(crate) fn parse_nt_file(desc: &[u8]) -> Result<FileNote, String> {
    let count = le_u64(desc, 0).ok_or("NT_FILE shorter than its header")?;
    let page_size = le_u64(desc, 8).ok_or("NT_FILE shorter than its header")?;
    // Bound the count by what the note can hold before allocating anything.
    let max = (desc.len().saturating_sub(16) / 24) as u64;
    if count > max {
        return Err(format!(
            "NT_FILE claims {count} entries but its {} bytes hold at most {max}",
            desc.len()
        ));
    }
    if page_size == 0 {
        return Err("NT_FILE page size is 0".into());
    }
    let count = count as usize; // <= max, which came from a usize
    let strings_at = 16 + count * 24; // cannot overflow: <= desc.len()
    let mut names = desc.get(strings_at..).unwrap_or(&[]).split(|&b| b == 0);
    let mut mappings = Vec::with_capacity(count);
    for i in 0..count {
        let at = 16 + i * 24;
        let (Some(start), Some(end), Some(pgoff)) = (
            le_u64(desc, at),
            le_u64(desc, at + 8),
            le_u64(desc, at + 16),
        ) else {
            break;
        };
        let raw = names
            .next()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_default();
        let (path, deleted) = match raw.strip_suffix(" (deleted)") {
            Some(p) => (p.to_string(), true),
            None => (raw, false),
        };
        let file_offset = pgoff.checked_mul(page_size).ok_or_else(|| {
            format!("NT_FILE entry {i}: offset {pgoff} pages × {page_size} overflows")
        })?;
        if end < start {
            return Err(format!(
                "NT_FILE entry {i}: end {end:#x} before start {start:#x}"
            ));
        }
        mappings.push(FileMapping {
            start,
            end,
            file_offset,
            path,
            deleted,
        });
    }
    Ok(FileNote {
        page_size,
        mappings,
    })
}

/// All notes of a core, parsed.
#[derive(Clone, Debug, Default)]
pub(crate) struct CoreNotes {
    pub threads: Vec<Thread>,
    pub process: Option<ProcessInfo>,
    pub auxv: Option<Auxv>,
    pub signals: Vec<SignalInfo>,
    pub files: Option<FileNote>,
    pub warnings: Vec<String>,
}

pub(crate) fn collect(arch: Arch, notes: &[RawNote<'_>], out: &mut CoreNotes) {
    for note in notes {
        match (note.name, note.n_type) {
            (b"CORE", NT_PRSTATUS) => match parse_prstatus(arch, note.desc) {
                Some(t) => out.threads.push(t),
                None => out.warnings.push(format!(
                    "NT_PRSTATUS of {} bytes is too short",
                    note.desc.len()
                )),
            },
            (b"CORE", NT_PRPSINFO) if out.process.is_none() => {
                out.process = parse_prpsinfo(note.desc);
                if out.process.is_none() {
                    out.warnings.push(format!(
                        "NT_PRPSINFO of {} bytes is too short",
                        note.desc.len()
                    ));
                }
            }
            (b"CORE", NT_AUXV) if out.auxv.is_none() => out.auxv = Some(parse_auxv(note.desc)),
            (b"CORE", NT_SIGINFO) => {
                if let Some(s) = parse_siginfo(note.desc) {
                    out.signals.push(s);
                }
            }
            (b"CORE", NT_FILE) if out.files.is_none() => match parse_nt_file(note.desc) {
                Ok(f) => out.files = Some(f),
                Err(e) => out.warnings.push(e),
            },
            (b"LINUX", NT_ARM_TLS) if arch == Arch::Aarch64 => {
                // Belongs to the thread whose NT_PRSTATUS came last.
                if let (Some(t), Some(v)) = (out.threads.last_mut(), le_u64(note.desc, 0)) {
                    t.tls_base = Some(v);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nt_file(count: u64, page_size: u64, entries: &[(u64, u64, u64)], names: &[&str]) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&count.to_le_bytes());
        d.extend_from_slice(&page_size.to_le_bytes());
        for (s, e, o) in entries {
            for v in [s, e, o] {
                d.extend_from_slice(&v.to_le_bytes());
            }
        }
        for n in names {
            d.extend_from_slice(n.as_bytes());
            d.push(0);
        }
        d
    }

    #[test]
    fn nt_file_page_size_one_as_gcore_writes() {
        let d = nt_file(
            1,
            1,
            &[(0x400000, 0x401000, 0x117000)],
            &["/bin/x (deleted)"],
        );
        let f = parse_nt_file(&d).unwrap();
        assert_eq!(f.page_size, 1);
        assert_eq!(f.mappings[0].file_offset, 0x117000);
        assert_eq!(
            (f.mappings[0].path.as_str(), f.mappings[0].deleted),
            ("/bin/x", true)
        );
    }

    #[test]
    fn nt_file_counts_are_bounded_by_the_note() {
        let d = nt_file(1000, 4096, &[(0, 1, 0)], &["a"]);
        assert!(parse_nt_file(&d).unwrap_err().contains("at most"));
        let d = nt_file(1, 0, &[(0, 1, 0)], &["a"]);
        assert!(parse_nt_file(&d).is_err());
        let d = nt_file(1, 1 << 40, &[(0, 1, 1 << 40)], &["a"]);
        assert!(parse_nt_file(&d).unwrap_err().contains("overflows"));
        let d = nt_file(1, 4096, &[(2, 1, 0)], &["a"]);
        assert!(parse_nt_file(&d).unwrap_err().contains("before start"));
        assert!(parse_nt_file(&[1, 2, 3]).is_err());
        // Missing names: empty paths, no panic.
        let d = nt_file(2, 4096, &[(0, 1, 0), (1, 2, 0)], &[]);
        assert_eq!(parse_nt_file(&d).unwrap().mappings.len(), 2);
    }

    #[test]
    fn auxv_stops_at_null_and_at_the_end() {
        let mut d = Vec::new();
        for v in [auxv::AT_ENTRY, 0x401000, auxv::AT_NULL, 0, auxv::AT_BASE, 7] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        let a = parse_auxv(&d);
        assert_eq!(a.entries, vec![(auxv::AT_ENTRY, 0x401000)]);
        assert_eq!(parse_auxv(&d[..20]).entries.len(), 1);
    }

    #[test]
    fn prstatus_offsets_match_the_kernel_layout() {
        // amd64: rip at 240, rsp at 264, fs_base at 280 (formats.md).
        let mut d = vec![0u8; 336];
        d[32..36].copy_from_slice(&99u32.to_le_bytes());
        d[240..248].copy_from_slice(&0x1111u64.to_le_bytes());
        d[264..272].copy_from_slice(&0x2222u64.to_le_bytes());
        d[280..288].copy_from_slice(&0x3333u64.to_le_bytes());
        let t = parse_prstatus(Arch::X86_64, &d).unwrap();
        assert_eq!(
            (t.tid, t.pc(), t.sp(), t.tls_base),
            (99, Some(0x1111), Some(0x2222), Some(0x3333))
        );
        // A short note keeps the tid and the registers that fit.
        let t = parse_prstatus(Arch::X86_64, &d[..200]).unwrap();
        assert_eq!((t.tid, t.pc()), (99, None));
        assert!(parse_prstatus(Arch::X86_64, &d[..20]).is_none());
    }

    #[test]
    fn siginfo_fault_address_only_for_cpu_faults() {
        let mut d = vec![0u8; 128];
        d[0..4].copy_from_slice(&11i32.to_le_bytes());
        d[8..12].copy_from_slice(&1i32.to_le_bytes());
        d[16..24].copy_from_slice(&0x42u64.to_le_bytes());
        assert_eq!(parse_siginfo(&d).unwrap().fault_addr, Some(0x42));
        d[0..4].copy_from_slice(&6i32.to_le_bytes());
        d[8..12].copy_from_slice(&(-6i32).to_le_bytes());
        let s = parse_siginfo(&d).unwrap();
        assert_eq!(
            (s.fault_addr, s.sender_pid, s.name()),
            (None, Some(0x42), "SIGABRT")
        );
    }
}
