//! `mapscope regions CORE [--exe EXE]`: the core's memory regions like
//! `/proc/PID/maps`, totals per kind, the threads and the fatal signal.
//!
//! Also owns opening a core together with its executable for other
//! commands ([`open_process`]): the executable comes from `--exe`, else from
//! the core's `NT_FILE` path when that file exists.

use crate::output::OutputArgs;
use crate::Outcome;
use anyhow::Context as _;
use mapscope_elfcore::{
    match_executable, relabel, Core, CoreProducer, Executable, ProcessMemory, Region, RegionKind,
};
use mapscope_goruntime::GoProcess;
use mapscope_render::units::human_bytes;
use mapscope_render::{Document, Table};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The core file (plain, or compressed as .zst, .gz or .xz).
    #[arg(value_name = "CORE")]
    pub core: PathBuf,
    /// The executable the core's process ran (default: the core's NT_FILE
    /// path of the main executable, when that file exists).
    #[arg(long, value_name = "EXE")]
    pub exe: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// A core with its executable, and notes about how the executable was found.
pub struct OpenedProcess {
    pub memory: ProcessMemory,
    /// Human notes (executable discovered, or ignored and why).
    pub notes: Vec<String>,
}

/// A process image with, when the executable is a Go program, its Go view.
enum View {
    Go(Box<GoProcess>),
    Plain(Box<ProcessMemory>),
}

/// Where the executable came from.
#[derive(Clone, Copy)]
pub enum ExeChoice<'a> {
    /// `--exe`: must match the core, else an error.
    Given(&'a Path),
    /// Look for the core's NT_FILE path on disk; ignore it if it does not match.
    Discover,
}

/// Opens `core` and its executable. A given executable that cannot be
/// opened, is for another machine or does not match the core is an error
/// (exit 2); a discovered one that does not match is left out with a note.
pub fn open_process(core_path: &Path, exe: ExeChoice<'_>) -> anyhow::Result<OpenedProcess> {
    let core = Core::open(core_path).context("cannot read core")?;
    let mut notes = Vec::new();
    let exe = match exe {
        ExeChoice::Given(p) => {
            let exe = Executable::open(p).context("cannot read executable")?;
            let m = match_executable(&core, &exe);
            if m.is_mismatch() {
                let why: Vec<String> = [&m.arch, &m.name, &m.layout, &m.build_id]
                    .iter()
                    .filter(|e| e.verdict == mapscope_elfcore::Verdict::Disagrees)
                    .map(|e| e.detail.clone())
                    .collect();
                anyhow::bail!(
                    "{}: executable does not match the core {}: {}",
                    p.display(),
                    core_path.display(),
                    why.join("; ")
                );
            }
            Some(exe)
        }
        ExeChoice::Discover => match core
            .executable_path()
            .map(PathBuf::from)
            .filter(|p| p.is_file())
        {
            None => None,
            Some(p) => match Executable::open(&p) {
                Ok(exe) if !match_executable(&core, &exe).is_mismatch() => {
                    notes.push(format!(
                        "executable: {} (from the core's NT_FILE note)",
                        p.display()
                    ));
                    Some(exe)
                }
                Ok(_) => {
                    notes.push(format!(
                        "{} exists but does not match the core; not used",
                        p.display()
                    ));
                    None
                }
                Err(e) => {
                    notes.push(format!("{e}; not used"));
                    None
                }
            },
        },
    };
    let memory = ProcessMemory::new(core, exe).context("cannot combine core and executable")?;
    Ok(OpenedProcess { memory, notes })
}

/// Byte counts for people (binary units, like pprof).
pub fn format_bytes(n: u64) -> String {
    human_bytes(i64::try_from(n).unwrap_or(i64::MAX))
}

/// `"0x…"` lowercase hex, as cli.md wants addresses.
pub fn hex_addr(v: u64) -> String {
    format!("{v:#x}")
}

#[derive(Serialize)]
struct RegionJson {
    start: String,
    end: String,
    perms: String,
    size: u64,
    present_bytes: u64,
    file_offset: u64,
    path: String,
    kind: &'static str,
    truncated: bool,
    deleted: bool,
    /// Index of the core mapping (VMA) this region is part of: the Go
    /// layer splits a mapping into `go-heap`/`go-stack` pieces, and pieces
    /// of one mapping share this index.
    vma: usize,
}

#[derive(Serialize)]
struct ThreadJson {
    tid: u32,
    pc: Option<String>,
    sp: Option<String>,
    tls_base: Option<String>,
    registers: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct KindTotal {
    kind: &'static str,
    regions: usize,
    size: u64,
    present_bytes: u64,
}

#[derive(Serialize)]
struct SignalJson {
    signo: i32,
    name: &'static str,
    code: i32,
    fault_addr: Option<String>,
    sender_pid: Option<u32>,
}

#[derive(Serialize)]
struct ProcessJson {
    pid: u32,
    command: String,
    args: String,
}

#[derive(Serialize)]
struct Report {
    core: String,
    arch: &'static str,
    /// `kernel`, `gdb` (gcore) or `other`.
    producer: &'static str,
    executable: Option<String>,
    load_bias: Option<String>,
    process: Option<ProcessJson>,
    signal: Option<SignalJson>,
    complete: bool,
    regions: Vec<RegionJson>,
    totals: Vec<KindTotal>,
    threads: Vec<ThreadJson>,
    warnings: Vec<String>,
}

/// The path column as `/proc/PID/maps` shows it: file path, pseudo-path
/// (`[heap]`, `[stack]`, ...) or empty.
fn maps_path(r: &Region) -> String {
    match (&r.path, r.kind.maps_label()) {
        (Some(p), _) if r.deleted => format!("{p} (deleted)"),
        (Some(p), _) => p.clone(),
        (None, Some(label)) => label.to_string(),
        (None, None) => String::new(),
    }
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let choice = match &args.exe {
        Some(p) => ExeChoice::Given(p),
        None => ExeChoice::Discover,
    };
    let opened = open_process(&args.core, choice)?;
    let mut notes = opened.notes;
    // The Go layer names heap arenas and goroutine stacks. A core of a
    // non-Go program (or one without its executable) keeps the ELF kinds.
    let view = if opened.memory.executable().is_some() {
        match GoProcess::new(opened.memory) {
            Ok(go) => View::Go(Box::new(go)),
            Err(e) => {
                notes.push(format!(
                    "no Go runtime view ({e}): go-heap/go-stack not labelled"
                ));
                View::Plain(Box::new(open_process(&args.core, choice)?.memory))
            }
        }
    } else {
        View::Plain(Box::new(opened.memory))
    };
    let mem = match &view {
        View::Go(go) => go.memory(),
        View::Plain(m) => m,
    };
    let core = mem.core();
    let mut regions = mem.regions();
    let vma_starts: Vec<u64> = regions.iter().map(|r| r.start).collect();
    if let View::Go(go) = &view {
        for (start, end) in go.heap_ranges() {
            relabel(&mut regions, start, end, RegionKind::GoHeap);
        }
        for (start, end) in go.goroutine_stack_ranges() {
            relabel(&mut regions, start, end, RegionKind::GoStack);
        }
    }

    let mut totals: BTreeMap<RegionKind, KindTotal> = BTreeMap::new();
    for r in &regions {
        let t = totals.entry(r.kind).or_insert(KindTotal {
            kind: r.kind.as_str(),
            regions: 0,
            size: 0,
            present_bytes: 0,
        });
        t.regions += 1;
        t.size = t.size.saturating_add(r.size());
        t.present_bytes = t.present_bytes.saturating_add(r.present_bytes);
    }
    let mut warnings: Vec<String> = core.warnings().to_vec();
    warnings.extend(notes);

    let report = Report {
        core: args.core.display().to_string(),
        arch: core.arch().go_name(),
        producer: match core.producer() {
            CoreProducer::Kernel => "kernel",
            CoreProducer::Gdb => "gdb",
            CoreProducer::Other => "other",
        },
        executable: mem.executable().map(|e| e.path().display().to_string()),
        load_bias: mem.placement().map(|p| hex_addr(p.bias)),
        process: core.process().map(|p| ProcessJson {
            pid: p.pid,
            command: p.command.clone(),
            args: p.args.clone(),
        }),
        signal: core.signal().map(|s| SignalJson {
            signo: s.signo,
            name: s.name(),
            code: s.code,
            fault_addr: s.fault_addr.map(hex_addr),
            sender_pid: s.sender_pid,
        }),
        complete: core.is_complete(),
        regions: regions
            .iter()
            .map(|r| RegionJson {
                start: hex_addr(r.start),
                end: hex_addr(r.end),
                perms: r.perms_string(),
                size: r.size(),
                present_bytes: r.present_bytes,
                file_offset: r.file_offset.unwrap_or(0),
                path: maps_path(r),
                kind: r.kind.as_str(),
                truncated: r.truncated,
                deleted: r.deleted,
                vma: vma_starts
                    .partition_point(|&s| s <= r.start)
                    .saturating_sub(1),
            })
            .collect(),
        totals: totals.into_values().collect(),
        threads: core
            .threads()
            .iter()
            .map(|t| ThreadJson {
                tid: t.tid,
                pc: t.pc().map(hex_addr),
                sp: t.sp().map(hex_addr),
                tls_base: t.tls_base.map(hex_addr),
                registers: t.registers.iter().map(|(n, v)| (n, hex_addr(v))).collect(),
            })
            .collect(),
        warnings,
    };

    let doc = document(&report);
    args.out.emit(&doc, &report)?;
    Ok(Outcome::Clean)
}

fn document(report: &Report) -> Document {
    let mut doc = Document::new();
    doc.heading(format!("Regions of {}", report.core));
    let mut facts = vec![format!(
        "arch {}, core written by {}",
        report.arch,
        match report.producer {
            "gdb" => "gdb (gcore of a live process)",
            "kernel" => "the kernel",
            _ => "an unknown program",
        }
    )];
    if let Some(p) = &report.process {
        facts.push(format!("pid {} ({}): {}", p.pid, p.command, p.args));
    }
    match &report.signal {
        Some(s) => facts.push(format!(
            "{} {} ({}){}",
            if report.producer == "gdb" {
                "signal at dump time"
            } else {
                "fatal signal"
            },
            s.name,
            s.signo,
            s.fault_addr
                .as_ref()
                .map(|a| format!(" at {a}"))
                .unwrap_or_default()
        )),
        None => facts.push("no fatal signal recorded".into()),
    }
    match (&report.executable, &report.load_bias) {
        (Some(e), Some(b)) => facts.push(format!("executable {e} (load bias {b})")),
        _ => facts.push("no executable: pages the kernel left out are absent".into()),
    }
    if !report.complete {
        facts.push("the core is TRUNCATED: some segments end past the end of the file".into());
    }
    doc.list(facts);

    let mut t = Table::new(None)
        .left("start-end")
        .left("perms")
        .right("offset")
        .right("size")
        .right("present")
        .left("kind")
        .left("path");
    for r in &report.regions {
        let mut kind = r.kind.to_string();
        if r.truncated {
            kind.push_str(" (truncated)");
        }
        t.row([
            format!(
                "{}-{}",
                r.start.trim_start_matches("0x"),
                r.end.trim_start_matches("0x")
            ),
            r.perms.clone(),
            format!("{:08x}", r.file_offset),
            format_bytes(r.size),
            format_bytes(r.present_bytes),
            kind,
            r.path.clone(),
        ]);
    }
    doc.table(t);

    let mut t = Table::new(Some("Totals by kind".to_string()))
        .left("kind")
        .right("regions")
        .right("size")
        .right("present");
    for k in &report.totals {
        t.row([
            k.kind.to_string(),
            k.regions.to_string(),
            format_bytes(k.size),
            format_bytes(k.present_bytes),
        ]);
    }
    doc.table(t);

    let mut t = Table::new(Some(format!("Threads ({})", report.threads.len())))
        .right("tid")
        .left("pc")
        .left("sp");
    for th in &report.threads {
        t.row([
            th.tid.to_string(),
            th.pc.clone().unwrap_or_default(),
            th.sp.clone().unwrap_or_default(),
        ]);
    }
    doc.table(t);
    doc.list(
        report
            .warnings
            .iter()
            .map(|w| format!("warning: {w}"))
            .collect(),
    );
    doc
}
