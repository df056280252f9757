//! `mapscope regions CORE [--exe EXE]`: the core's memory regions like
//! `/proc/PID/maps`, totals per kind, the threads and the fatal signal.
//!
//! The executable is chosen and validated by `mapscope_incident::open`,
//! as for every command: `--exe` must match the core (else exit 2, one
//! line naming both files); without it the core's `NT_FILE` path is used
//! when that file exists and matches.

use crate::output::OutputArgs;
use crate::Outcome;
use mapscope_elfcore::{relabel, CoreProducer, ProcessMemory, Region, RegionKind};
use mapscope_goruntime::GoProcess;
use mapscope_incident::{open, ExeChoice};
use mapscope_render::{Cell, Document, Table};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

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

/// A process image with, when the executable is a Go program, its Go view.
enum View {
    Go(Box<GoProcess>),
    Plain(Box<ProcessMemory>),
}

/// Byte counts for people, in IEC units (`1.50 MiB`).
pub fn format_bytes(n: u64) -> String {
    mapscope_render::units::iec_bytes(i128::from(n))
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
    /// What the core holds of what it declares, per kind of Go memory
    /// (null without the Go view).
    coverage: Option<mapscope_incident::Coverage>,
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
    let choice = ExeChoice::from_option(args.exe.as_deref());
    let opened = open(&args.core, choice)?;
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
                View::Plain(Box::new(open(&args.core, choice)?.memory))
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
    let coverage = match &view {
        View::Go(go) => Some(mapscope_incident::Coverage::of(go)),
        View::Plain(_) => None,
    };
    let mut warnings: Vec<String> = core.warnings().to_vec();
    warnings.extend(coverage.as_ref().and_then(|c| c.warning()));
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
        coverage,
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
        .named("regions")
        .left("start-end")
        .left("perms")
        .right("offset")
        .optional()
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
            Cell::text(format!(
                "{}-{}",
                r.start.trim_start_matches("0x"),
                r.end.trim_start_matches("0x")
            )),
            Cell::text(r.perms.clone()),
            Cell::text(format!("{:08x}", r.file_offset)),
            Cell::bytes(r.size),
            Cell::bytes(r.present_bytes),
            Cell::text(kind),
            Cell::path(r.path.clone()),
        ]);
    }
    doc.table(t);

    let mut t = Table::new(Some("Totals by kind".to_string()))
        .named("totals")
        .left("kind")
        .right("regions")
        .right("size")
        .right("present");
    for k in &report.totals {
        t.row([
            Cell::text(k.kind),
            Cell::text(k.regions.to_string()),
            Cell::bytes(k.size),
            Cell::bytes(k.present_bytes),
        ]);
    }
    doc.table(t);

    let mut t = Table::new(Some(format!("Threads ({})", report.threads.len())))
        .named("threads")
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
