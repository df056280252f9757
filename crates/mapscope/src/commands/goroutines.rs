//! `mapscope goroutines CORE [--exe EXE]`: every goroutine of the core with
//! its status and stack, printed like the Go runtime's own traceback, plus
//! the threads and what each was doing.

use crate::commands::regions::hex_addr;
use crate::output::OutputArgs;
use crate::Outcome;
use anyhow::Context as _;
use mapscope_goruntime::goroutines::{
    Frame, GoThread, Goroutine, GoroutineOptions, Goroutines, LocalPlace, StackStart, ThreadStack,
};
use mapscope_incident::ExeChoice;
use mapscope_render::{Cell, Document, Table};
use serde::Serialize;
use std::fmt::Write as _;
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
    /// Also list dead goroutines (kept by the runtime for reuse).
    #[arg(long)]
    pub all: bool,
    /// Show each frame's parameters and locals with where they are.
    #[arg(long)]
    pub locals: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Serialize)]
struct Report {
    go_version: String,
    goroutines: Vec<GoroutineJson>,
    /// Dead goroutines in `allgs` (listed only with `--all`).
    dead: usize,
    threads: Vec<ThreadJson>,
    /// What the core holds of what it declares, per kind of memory.
    coverage: mapscope_incident::Coverage,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct GoroutineJson {
    id: u64,
    status: &'static str,
    wait_reason: Option<String>,
    scan: bool,
    locked_to_thread: bool,
    stack_lo: String,
    stack_hi: String,
    /// Address of the `runtime.g`.
    g: String,
    m: Option<i64>,
    thread: Option<u32>,
    /// Where the stack walk started: sched, syscall, vdso, thread, signal.
    start: &'static str,
    frames: Vec<FrameJson>,
    incomplete: Option<String>,
    created_by: Option<CreatedByJson>,
}

#[derive(Serialize)]
struct FrameJson {
    function: String,
    file: String,
    line: u32,
    pc: String,
    sp: String,
    /// The frame's CFA (the caller's SP); DWARF locals are relative to it.
    cfa: String,
    inlined: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    locals: Option<Vec<LocalJson>>,
}

#[derive(Serialize)]
struct LocalJson {
    name: String,
    #[serde(rename = "type")]
    type_name: String,
    /// Stack or static address when the value is in memory in one piece.
    address: Option<String>,
    place: String,
}

#[derive(Serialize)]
struct CreatedByJson {
    function: String,
    file: String,
    line: u32,
    pc: String,
    goroutine: Option<u64>,
}

#[derive(Serialize)]
struct ThreadJson {
    tid: u32,
    m: Option<i64>,
    pc: Option<String>,
    sp: Option<String>,
    /// `goroutine N`, `system`, `signal handler` or `unknown`.
    on: String,
    interrupted_pc: Option<String>,
    interrupted_sp: Option<String>,
    frames: Vec<FrameJson>,
}

fn start_name(s: StackStart) -> &'static str {
    match s {
        StackStart::Sched => "sched",
        StackStart::Syscall => "syscall",
        StackStart::Vdso => "vdso",
        StackStart::ThreadRegisters { .. } => "thread",
        StackStart::SignalContext { .. } => "signal",
        StackStart::Unavailable => "unavailable",
    }
}

fn stack_name(s: ThreadStack) -> String {
    match s {
        ThreadStack::Goroutine(id) => format!("goroutine {id}"),
        ThreadStack::System => "system".to_string(),
        ThreadStack::SignalHandler => "signal handler".to_string(),
        ThreadStack::Unknown => "unknown".to_string(),
    }
}

fn place_text(p: &LocalPlace) -> String {
    match p {
        LocalPlace::Stack { address } => format!("stack {}", hex_addr(*address)),
        LocalPlace::Static { address } => format!("static {}", hex_addr(*address)),
        LocalPlace::Register { register, value } => match value {
            Some(v) => format!("register {register} = {}", hex_addr(*v)),
            None => format!("register {register}"),
        },
        LocalPlace::Pieces(pieces) => {
            let parts: Vec<String> = pieces
                .iter()
                .map(|piece| {
                    format!(
                        "{}+{}: {}",
                        piece.offset,
                        piece.size,
                        place_text(&piece.place)
                    )
                })
                .collect();
            format!("pieces [{}]", parts.join(", "))
        }
        LocalPlace::NotLive => "not live".to_string(),
        LocalPlace::Unsupported => "unsupported location".to_string(),
    }
}

fn frames_json(frames: &[Frame], with_locals: bool) -> Vec<FrameJson> {
    let mut out = Vec::new();
    for f in frames {
        let n = f.inlined.len();
        for (i, s) in f.source_frames().enumerate() {
            let physical = i == n;
            let locals = (with_locals && physical).then(|| {
                f.locals()
                    .iter()
                    .map(|l| LocalJson {
                        name: l.name.clone(),
                        type_name: l.type_name.clone(),
                        address: l.address().map(hex_addr),
                        place: place_text(&l.place),
                    })
                    .collect()
            });
            out.push(FrameJson {
                function: s.function,
                file: s.file,
                line: s.line,
                pc: hex_addr(f.pc),
                sp: hex_addr(f.sp),
                cfa: hex_addr(f.cfa),
                inlined: s.inlined,
                locals,
            });
        }
    }
    out
}

fn goroutine_json(g: &Goroutine, with_locals: bool) -> GoroutineJson {
    GoroutineJson {
        id: g.id,
        status: g.status.name(),
        wait_reason: g.wait_reason.clone(),
        scan: g.scan,
        locked_to_thread: g.locked_to_thread,
        stack_lo: hex_addr(g.stack_lo),
        stack_hi: hex_addr(g.stack_hi),
        g: hex_addr(g.address),
        m: g.m_id,
        thread: g.thread,
        start: start_name(g.start),
        frames: frames_json(&g.frames, with_locals),
        incomplete: g.incomplete.clone(),
        created_by: g.created_by.as_ref().map(|c| CreatedByJson {
            function: c.function.clone(),
            file: c.file.clone(),
            line: c.line,
            pc: hex_addr(c.pc),
            goroutine: c.goroutine,
        }),
    }
}

fn thread_json(t: &GoThread, with_locals: bool) -> ThreadJson {
    ThreadJson {
        tid: t.tid,
        m: t.m_id,
        pc: t.pc.map(hex_addr),
        sp: t.sp.map(hex_addr),
        on: stack_name(t.stack),
        interrupted_pc: t.interrupted.map(|c| hex_addr(c.pc)),
        interrupted_sp: t.interrupted.map(|c| hex_addr(c.sp)),
        frames: frames_json(&t.frames, with_locals),
    }
}

/// Go's traceback layout: function line, then tab, `file:line +0x…`.
fn write_frames(out: &mut String, frames: &[Frame], with_locals: bool) {
    for f in frames {
        for s in &f.inlined {
            let _ = writeln!(out, "{}(...)\n\t{}:{}", s.function, s.file, s.line);
        }
        let _ = writeln!(
            out,
            "{}(...)\n\t{}:{} +{:#x}",
            f.function,
            f.file,
            f.line,
            f.pc_offset()
        );
        if with_locals {
            for l in f.locals() {
                let _ = writeln!(
                    out,
                    "\t\t{} {} — {}",
                    l.name,
                    l.type_name,
                    place_text(&l.place)
                );
            }
        }
    }
}

fn traceback_text(gs: &Goroutines, with_locals: bool) -> String {
    let mut out = String::new();
    for (i, g) in gs.goroutines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "goroutine {} [{}]:", g.id, g.status_text());
        write_frames(&mut out, &g.frames, with_locals);
        if let Some(why) = &g.incomplete {
            let _ = writeln!(out, "\t({why})");
        }
        if let Some(c) = &g.created_by {
            let parent = c
                .goroutine
                .map(|p| format!(" in goroutine {p}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "created by {}{parent}\n\t{}:{} +{:#x}",
                c.function, c.file, c.line, c.pc_offset
            );
        }
    }
    out
}

/// The frame that says what the goroutine is about: the first of the
/// program's own code (`main.` or a module path with a dot in its first
/// element), else the first outside the runtime, else the innermost.
fn first_user_frame(g: &Goroutine) -> Option<(String, String)> {
    let frames: Vec<_> = g.source_frames().collect();
    let own = |f: &str| {
        f.starts_with("main.")
            || f.split('/')
                .next()
                .is_some_and(|first| first.contains('.') && f.contains('/'))
    };
    let outside_runtime = |f: &str| !f.starts_with("runtime.") && !f.starts_with("internal/");
    let pick = frames
        .iter()
        .find(|f| own(&f.function))
        .or_else(|| frames.iter().find(|f| outside_runtime(&f.function)))
        .or(frames.first())?;
    Some((
        pick.function.clone(),
        format!("{}:{}", pick.file, pick.line),
    ))
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    // The executable: chosen and validated as for every command.
    let (process, notes) =
        mapscope_incident::open(&args.core, ExeChoice::from_option(args.exe.as_deref()))?
            .into_go()?;
    let options = GoroutineOptions {
        include_dead: args.all,
        ..GoroutineOptions::default()
    };
    let gs = process
        .goroutines_with(&options)
        .with_context(|| format!("{}: cannot list goroutines", args.core.display()))?;

    let coverage = mapscope_incident::Coverage::of(&process);
    let mut warnings: Vec<String> = notes;
    warnings.extend(process.warnings().iter().cloned());
    warnings.extend(coverage.warning());
    warnings.extend(gs.warnings.iter().cloned());

    let report = Report {
        go_version: process.version_string().to_string(),
        goroutines: gs
            .goroutines
            .iter()
            .map(|g| goroutine_json(g, args.locals))
            .collect(),
        dead: gs.dead,
        threads: gs
            .threads
            .iter()
            .map(|t| thread_json(t, args.locals))
            .collect(),
        coverage,
        warnings: warnings.clone(),
    };

    let mut doc = Document::new();
    doc.heading(format!("Goroutines of {}", args.core.display()));
    let dead_note = if args.all {
        format!("{} dead included", gs.dead)
    } else {
        format!("{} dead not shown", gs.dead)
    };
    doc.paragraph(format!(
        "{} goroutines ({dead_note}), {} threads; {}",
        gs.goroutines.len(),
        gs.threads.len(),
        process.version_string()
    ));
    let mut table = Table::new(Some("Goroutines".to_string()))
        .right("id")
        .left("status")
        .right("frames")
        .optional()
        .left("function")
        .left("location")
        .left("created by")
        .left("stack")
        .optional();
    for g in &gs.goroutines {
        let (function, location) = first_user_frame(g).unwrap_or_default();
        let created = g
            .created_by
            .as_ref()
            .map(|c| match c.goroutine {
                Some(p) => format!("{} in goroutine {p}", c.function),
                None => c.function.clone(),
            })
            .unwrap_or_default();
        table.row([
            Cell::text(g.id.to_string()),
            Cell::text(g.status_text()),
            Cell::text(g.source_frames().count().to_string()),
            Cell::code(function),
            Cell::path(location),
            Cell::code(created),
            Cell::text(format!("{}-{}", hex_addr(g.stack_lo), hex_addr(g.stack_hi))),
        ]);
    }
    doc.table(table);
    let mut threads = Table::new(Some("Threads".to_string()))
        .right("tid")
        .right("m")
        .left("on")
        .left("pc")
        .left("sp")
        .optional()
        .left("interrupted pc")
        .optional()
        .left("function");
    for t in &gs.threads {
        let function = t
            .frames
            .first()
            .map(|f| f.function.clone())
            .or_else(|| match t.stack {
                ThreadStack::Goroutine(id) => gs
                    .by_id(id)
                    .and_then(|g| g.frames.first())
                    .map(|f| f.function.clone()),
                _ => None,
            })
            .unwrap_or_default();
        threads.row([
            Cell::text(t.tid.to_string()),
            Cell::text(t.m_id.map(|m| m.to_string()).unwrap_or_default()),
            Cell::text(stack_name(t.stack)),
            Cell::text(t.pc.map(hex_addr).unwrap_or_default()),
            Cell::text(t.sp.map(hex_addr).unwrap_or_default()),
            Cell::text(t.interrupted.map(|c| hex_addr(c.pc)).unwrap_or_default()),
            Cell::code(function),
        ]);
    }
    doc.table(threads);
    doc.heading("Traceback");
    doc.preformatted(traceback_text(&gs, args.locals));
    doc.list(warnings.iter().map(|w| format!("warning: {w}")).collect());
    args.out.emit(&doc, &report)?;
    Ok(Outcome::Clean)
}
