//! `mapscope goroutines`'s report: every goroutine of the core with its
//! status and stack (each frame as its source frames, inlined ones
//! first), the threads and what each was doing. The document prints it
//! like the Go runtime's own traceback.

use crate::coverage::Coverage;
use crate::error::IncidentError;
use crate::open::{open_go, ExeFiles};
use crate::reports::hex_addr;
use crate::warning::{library, Warning};
use mapscope_goruntime::goroutines::{
    Frame, GoThread, Goroutine, GoroutineOptions, Goroutines, LocalPlace, StackStart, ThreadStack,
};
use mapscope_goruntime::layout::funcs::is_outside_runtime_and_internal;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// `mapscope goroutines --format json`.
#[derive(Serialize, Debug)]
pub struct GoroutinesReport {
    pub go_version: String,
    pub goroutines: Vec<GoroutineRow>,
    /// Dead goroutines in `allgs` (listed only with `--all`).
    pub dead: usize,
    pub threads: Vec<ThreadRow>,
    /// What the core holds of what it declares, per kind of memory.
    pub coverage: Coverage,
    pub warnings: Vec<Warning>,
    /// The core (the document's heading).
    #[serde(skip)]
    pub core: PathBuf,
    /// Dead goroutines are listed (`--all`).
    #[serde(skip)]
    pub include_dead: bool,
    /// Frames list their locals (`--locals`).
    #[serde(skip)]
    pub with_locals: bool,
}

#[derive(Serialize, Debug, Clone)]
pub struct GoroutineRow {
    pub id: u64,
    pub status: &'static str,
    pub wait_reason: Option<String>,
    pub scan: bool,
    pub locked_to_thread: bool,
    pub stack_lo: String,
    pub stack_hi: String,
    /// Address of the `runtime.g`.
    pub g: String,
    pub m: Option<i64>,
    pub thread: Option<u32>,
    /// Where the stack walk started: sched, syscall, vdso, thread, signal.
    pub start: &'static str,
    pub frames: Vec<FrameRow>,
    pub incomplete: Option<String>,
    pub created_by: Option<CreatedBy>,
    /// The status as Go's traceback words it (`chan receive`, `running,
    /// locked to thread`).
    #[serde(skip)]
    pub status_text: String,
    /// The frame that says what the goroutine is about (function,
    /// `file:line`): the program's own code first, else the first frame
    /// outside the runtime, else the innermost; empty without frames.
    #[serde(skip)]
    pub about: (String, String),
}

#[derive(Serialize, Debug, Clone)]
pub struct FrameRow {
    pub function: String,
    pub file: String,
    pub line: u32,
    pub pc: String,
    pub sp: String,
    /// The frame's CFA (the caller's SP); DWARF locals are relative to it.
    pub cfa: String,
    pub inlined: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locals: Option<Vec<LocalRow>>,
    /// pc − the physical function's entry (the traceback's `+0x…`).
    #[serde(skip)]
    pub pc_offset: u64,
    /// The frame's physical function (the last of its source frames; the
    /// others were inlined into it).
    #[serde(skip)]
    pub physical: bool,
}

#[derive(Serialize, Debug, Clone)]
pub struct LocalRow {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// Stack or static address when the value is in memory in one piece.
    pub address: Option<String>,
    pub place: String,
}

#[derive(Serialize, Debug, Clone)]
pub struct CreatedBy {
    pub function: String,
    pub file: String,
    pub line: u32,
    pub pc: String,
    pub goroutine: Option<u64>,
    #[serde(skip)]
    pub pc_offset: u64,
}

#[derive(Serialize, Debug, Clone)]
pub struct ThreadRow {
    pub tid: u32,
    pub m: Option<i64>,
    pub pc: Option<String>,
    pub sp: Option<String>,
    /// `goroutine N`, `system`, `signal handler` or `unknown`.
    pub on: String,
    pub interrupted_pc: Option<String>,
    pub interrupted_sp: Option<String>,
    pub frames: Vec<FrameRow>,
    /// The function it is in: its innermost frame's, else that of the
    /// goroutine it runs; empty when unknown.
    #[serde(skip)]
    pub function: String,
}

/// The goroutines of `core` (dead ones too with `include_dead`; each
/// frame's locals with `with_locals`).
pub fn goroutines_report(
    core: &Path,
    exe: ExeFiles<'_>,
    include_dead: bool,
    with_locals: bool,
) -> Result<GoroutinesReport, IncidentError> {
    let (process, notes) = open_go(core, exe)?;
    let options = GoroutineOptions {
        include_dead,
        ..GoroutineOptions::default()
    };
    let gs = process
        .goroutines_with(&options)
        .map_err(|source| IncidentError::Goroutines {
            path: core.to_path_buf(),
            source,
        })?;
    let coverage = Coverage::of(&process);
    let mut warnings: Vec<Warning> = notes;
    warnings.extend(library(process.warnings()));
    warnings.extend(coverage.warning());
    warnings.extend(library(&gs.warnings));
    Ok(GoroutinesReport {
        go_version: process.version_string().to_string(),
        goroutines: gs
            .goroutines
            .iter()
            .map(|g| goroutine_row(g, with_locals))
            .collect(),
        dead: gs.dead,
        threads: gs
            .threads
            .iter()
            .map(|t| thread_row(t, &gs, with_locals))
            .collect(),
        coverage,
        warnings,
        core: core.to_path_buf(),
        include_dead,
        with_locals,
    })
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

fn frame_rows(frames: &[Frame], with_locals: bool) -> Vec<FrameRow> {
    let mut out = Vec::new();
    for f in frames {
        let n = f.inlined.len();
        for (i, s) in f.source_frames().enumerate() {
            let physical = i == n;
            let locals = (with_locals && physical).then(|| {
                f.locals()
                    .iter()
                    .map(|l| LocalRow {
                        name: l.name.clone(),
                        type_name: l.type_name.clone(),
                        address: l.address().map(hex_addr),
                        place: place_text(&l.place),
                    })
                    .collect()
            });
            out.push(FrameRow {
                function: s.function,
                file: s.file,
                line: s.line,
                pc: hex_addr(f.pc),
                sp: hex_addr(f.sp),
                cfa: hex_addr(f.cfa),
                inlined: s.inlined,
                locals,
                pc_offset: f.pc_offset(),
                physical,
            });
        }
    }
    out
}

fn goroutine_row(g: &Goroutine, with_locals: bool) -> GoroutineRow {
    GoroutineRow {
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
        frames: frame_rows(&g.frames, with_locals),
        incomplete: g.incomplete.clone(),
        created_by: g.created_by.as_ref().map(|c| CreatedBy {
            function: c.function.clone(),
            file: c.file.clone(),
            line: c.line,
            pc: hex_addr(c.pc),
            goroutine: c.goroutine,
            pc_offset: c.pc_offset,
        }),
        status_text: g.status_text(),
        about: first_user_frame(g).unwrap_or_default(),
    }
}

fn thread_row(t: &GoThread, gs: &Goroutines, with_locals: bool) -> ThreadRow {
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
    ThreadRow {
        tid: t.tid,
        m: t.m_id,
        pc: t.pc.map(hex_addr),
        sp: t.sp.map(hex_addr),
        on: stack_name(t.stack),
        interrupted_pc: t.interrupted.map(|c| hex_addr(c.pc)),
        interrupted_sp: t.interrupted.map(|c| hex_addr(c.sp)),
        frames: frame_rows(&t.frames, with_locals),
        function,
    }
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
    let outside_runtime = is_outside_runtime_and_internal;
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
