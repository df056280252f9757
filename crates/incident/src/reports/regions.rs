//! `mapscope regions`'s report: the core's memory regions like
//! `/proc/PID/maps`, with the Go layer's labels (`go-heap` over the heap
//! arenas, `go-stack` over goroutine stacks) when the executable is a Go
//! program, totals per kind, the threads and the fatal signal.

use crate::coverage::Coverage;
use crate::error::IncidentError;
use crate::open::{open, open_with_symbols, ExeChoice, ExeFiles};
use crate::reports::hex_addr;
use crate::warning::{library, Warning};
use mapscope_elfcore::{relabel, CoreProducer, ProcessMemory, Region, RegionKind};
use mapscope_goruntime::GoProcess;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One region (a core mapping, or a Go-labelled piece of one).
#[derive(Serialize, Debug, Clone)]
pub struct RegionRow {
    pub start: String,
    pub end: String,
    pub perms: String,
    pub size: u64,
    pub present_bytes: u64,
    pub file_offset: u64,
    pub path: String,
    pub kind: &'static str,
    pub truncated: bool,
    pub deleted: bool,
    /// Index of the core mapping (VMA) this region is part of: the Go
    /// layer splits a mapping into `go-heap`/`go-stack` pieces, and pieces
    /// of one mapping share this index.
    pub vma: usize,
}

/// One thread's registers.
#[derive(Serialize, Debug, Clone)]
pub struct ThreadRow {
    pub tid: u32,
    pub pc: Option<String>,
    pub sp: Option<String>,
    pub tls_base: Option<String>,
    pub registers: BTreeMap<&'static str, String>,
}

/// The regions of one kind, summed.
#[derive(Serialize, Debug, Clone)]
pub struct KindTotal {
    pub kind: &'static str,
    pub regions: usize,
    pub size: u64,
    pub present_bytes: u64,
}

/// The signal the core records.
#[derive(Serialize, Debug, Clone)]
pub struct SignalFacts {
    pub signo: i32,
    pub name: &'static str,
    pub code: i32,
    pub fault_addr: Option<String>,
    pub sender_pid: Option<u32>,
}

/// The process the core is of.
#[derive(Serialize, Debug, Clone)]
pub struct ProcessFacts {
    pub pid: u32,
    pub command: String,
    pub args: String,
}

/// `mapscope regions --format json`.
#[derive(Serialize, Debug)]
pub struct RegionsReport {
    pub core: String,
    pub arch: &'static str,
    /// `kernel`, `gdb` (gcore) or `other`.
    pub producer: &'static str,
    pub executable: Option<String>,
    pub load_bias: Option<String>,
    pub process: Option<ProcessFacts>,
    pub signal: Option<SignalFacts>,
    pub complete: bool,
    pub regions: Vec<RegionRow>,
    pub totals: Vec<KindTotal>,
    pub threads: Vec<ThreadRow>,
    /// What the core holds of what it declares, per kind of Go memory
    /// (null without the Go view).
    pub coverage: Option<Coverage>,
    pub warnings: Vec<Warning>,
}

/// A process image with, when the executable is a Go program, its Go view.
enum View {
    Go(Box<GoProcess>),
    Plain(Box<ProcessMemory>),
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

/// The regions of `core` (with `exe`, else the core's own executable; a
/// core of a non-Go program keeps the ELF kinds).
pub fn regions_report(core_path: &Path, exe: ExeFiles<'_>) -> Result<RegionsReport, IncidentError> {
    let choice = ExeChoice::from_option(exe.exe);
    let opened = open_with_symbols(core_path, choice, exe.symbols)?;
    let mut notes = opened.notes;
    let view = if opened.memory.executable().is_some() {
        match GoProcess::with_debug_file(opened.memory, opened.debug) {
            Ok(go) => View::Go(Box::new(go)),
            Err(e) => {
                notes.push(Warning::NoGoView {
                    error: e.to_string(),
                });
                View::Plain(Box::new(open(core_path, choice)?.memory))
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
        View::Go(go) => Some(Coverage::of(go)),
        View::Plain(_) => None,
    };
    let mut warnings: Vec<Warning> = library(core.warnings()).collect();
    warnings.extend(coverage.as_ref().and_then(|c| c.warning()));
    warnings.extend(notes);
    Ok(RegionsReport {
        core: PathBuf::from(core_path).display().to_string(),
        arch: core.arch().go_name(),
        producer: match core.producer() {
            CoreProducer::Kernel => "kernel",
            CoreProducer::Gdb => "gdb",
            CoreProducer::Other => "other",
        },
        executable: mem.executable().map(|e| e.path().display().to_string()),
        load_bias: mem.placement().map(|p| hex_addr(p.bias)),
        process: core.process().map(|p| ProcessFacts {
            pid: p.pid,
            command: p.command.clone(),
            args: p.args.clone(),
        }),
        signal: core.signal().map(|s| SignalFacts {
            signo: s.signo,
            name: s.name(),
            code: s.code,
            fault_addr: s.fault_addr.map(hex_addr),
            sender_pid: s.sender_pid,
        }),
        complete: core.is_complete(),
        regions: regions
            .iter()
            .map(|r| RegionRow {
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
            .map(|t| ThreadRow {
                tid: t.tid,
                pc: t.pc().map(hex_addr),
                sp: t.sp().map(hex_addr),
                tls_base: t.tls_base.map(hex_addr),
                registers: t.registers.iter().map(|(n, v)| (n, hex_addr(v))).collect(),
            })
            .collect(),
        coverage,
        warnings,
    })
}
