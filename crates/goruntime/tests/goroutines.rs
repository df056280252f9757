//! Goroutines, threads, frames and frame locals against independent truth:
//!
//! - `stderr.txt`: the traceback the Go runtime itself printed when the
//!   incident program aborted under `GOTRACEBACK=crash`. Its first section
//!   lists every goroutine (header, then per logical frame the function,
//!   `file:line`, and for physical frames `+0x… fp= sp= pc=`); every
//!   following section is one thread answering the crash (`PC=… m=N`), with
//!   the stack its signal interrupted and the interrupted registers.
//! - `truth.json`: the goroutine that holds `main.stackOnlyWorker`'s map
//!   and the map's address, recorded by the program itself.
//! - `gdb-registers.txt` and `gdb-threads.txt`: gdb's `rip`/`rsp` (arm64:
//!   gdb-multiarch's `pc`/`sp`) of every thread of the core and the
//!   function it is in; every thread must also belong to a `runtime.m`
//!   (`m.procid` = thread id).
//!
//! What is compared, for every goroutine in both (`goroutine 0` blocks are
//! threads, compared separately):
//! - the id, `gp=` (the `g` address) and `m=` (the M id) when printed;
//! - the text between the brackets (status or wait reason, `(scan)`,
//!   `locked to thread`) minus the `, N minutes` waiting time;
//! - every logical frame in order — function, file and line — and for each
//!   physical frame `pc`, `sp` and `fp` (our CFA) exactly, and `+0x…`;
//! - `created by F in goroutine N` with its `file:line +0x…`.
//!
//! Nothing is exempt: the crash left every goroutine parked, so even the
//! runtime-internal frames of the goroutines must agree. The crashing
//! thread itself is a `goroutine 0` (system stack) block; for those, the
//! thread whose M has that id must have read the same interrupted `rip`
//! and `rsp` from its signal frame, and its system-stack frames must match
//! the block's frames the same way.

use std::collections::HashMap;
use std::path::PathBuf;

use mapscope_goruntime::goroutines::{Goroutine, Goroutines, LocalPlace, ThreadStack};
use mapscope_goruntime::GoProcess;

// ---------------------------------------------------------------------------
// The runtime's crash traceback.

#[derive(Debug, Default, Clone)]
struct TbFrame {
    function: String,
    file: String,
    line: u32,
    inlined: bool,
    offset: Option<u64>,
    fp: Option<u64>,
    sp: Option<u64>,
    pc: Option<u64>,
}

/// `created by F in goroutine N` + `\tfile:line +0x…`: function, parent
/// goroutine, file, line, offset.
type TbCreatedBy = (String, Option<u64>, String, u32, Option<u64>);

#[derive(Debug, Default, Clone)]
struct TbGoroutine {
    id: u64,
    gp: Option<u64>,
    m: Option<Option<i64>>,
    status: String,
    frames: Vec<TbFrame>,
    created_by: Option<TbCreatedBy>,
    elided: bool,
}

#[derive(Debug, Default)]
struct TbSection {
    /// `m=N` of `PC=0x… m=N sigcode=…`.
    m: Option<i64>,
    goroutines: Vec<TbGoroutine>,
    registers: HashMap<String, u64>,
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

fn kv<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|w| w.strip_prefix(key))
}

/// `file:line +0x1f fp=… sp=… pc=…` (after the tab).
fn parse_position(line: &str, frame: &mut TbFrame) {
    let mut words = line.split_whitespace();
    if let Some(pos) = words.next() {
        if let Some((file, l)) = pos.rsplit_once(':') {
            frame.file = file.to_string();
            frame.line = l.parse().unwrap_or(0);
        }
    }
    for w in words {
        if let Some(o) = w.strip_prefix('+') {
            frame.offset = hex(o);
        } else if let Some(v) = w.strip_prefix("fp=") {
            frame.fp = hex(v);
        } else if let Some(v) = w.strip_prefix("sp=") {
            frame.sp = hex(v);
        } else if let Some(v) = w.strip_prefix("pc=") {
            frame.pc = hex(v);
        }
    }
}

fn parse_stderr(text: &str) -> Vec<TbSection> {
    let mut sections = Vec::new();
    for chunk in text.split("\n-----\n") {
        let mut section = TbSection::default();
        let mut current: Option<TbGoroutine> = None;
        let mut pending_created = false;
        for line in chunk.lines() {
            if line.starts_with("PC=") {
                section.m = kv(line, "m=").and_then(|v| v.parse().ok());
                continue;
            }
            if let Some(rest) = line.strip_prefix("goroutine ") {
                if let Some(g) = current.take() {
                    section.goroutines.push(g);
                }
                let (head, status) = rest.split_once(" [").expect("goroutine header");
                let status = status.trim_end_matches("]:");
                let id = head.split_whitespace().next().unwrap().parse().unwrap();
                let m = kv(head, "m=").map(|v| v.parse().ok());
                current = Some(TbGoroutine {
                    id,
                    gp: kv(head, "gp=").and_then(hex),
                    m,
                    status: strip_minutes(status),
                    ..Default::default()
                });
                continue;
            }
            // Register dumps (`rip    0x46af41`) follow the goroutine blocks.
            let mut words = line.split_whitespace();
            if let (Some(name), Some(value), None) = (words.next(), words.next(), words.next()) {
                if let (Some(v), false) = (hex(value), name.contains('(') || line.starts_with('\t'))
                {
                    section.registers.insert(name.to_string(), v);
                    continue;
                }
            }
            let Some(g) = current.as_mut() else { continue };
            if line.is_empty() {
                section.goroutines.push(current.take().unwrap());
                continue;
            }
            if let Some(tabbed) = line.strip_prefix('\t') {
                if pending_created {
                    let mut f = TbFrame::default();
                    parse_position(tabbed, &mut f);
                    if let Some(c) = g.created_by.as_mut() {
                        c.2 = f.file;
                        c.3 = f.line;
                        c.4 = f.offset;
                    }
                    pending_created = false;
                } else if let Some(f) = g.frames.last_mut() {
                    parse_position(tabbed, f);
                    f.inlined = f.offset.is_none() && f.pc.is_none();
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("created by ") {
                let (function, parent) = match rest.split_once(" in goroutine ") {
                    Some((f, p)) => (f.to_string(), p.parse().ok()),
                    None => (rest.to_string(), None),
                };
                g.created_by = Some((function, parent, String::new(), 0, None));
                pending_created = true;
                continue;
            }
            if line.starts_with("...") {
                g.elided = true;
                continue;
            }
            // A function line: the name ends where the argument list starts.
            let name = line.rfind('(').map(|i| &line[..i]).unwrap_or(line);
            g.frames.push(TbFrame {
                function: name.to_string(),
                ..Default::default()
            });
        }
        if let Some(g) = current.take() {
            section.goroutines.push(g);
        }
        // Register dumps end goroutine blocks without a blank line.
        sections.push(section);
    }
    sections
}

/// `chan receive, 2 minutes` → `chan receive`.
fn strip_minutes(status: &str) -> String {
    status
        .split(", ")
        .filter(|part| !part.ends_with(" minutes") && !part.ends_with(" minute"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------
// Comparison.

#[derive(Debug, Default)]
struct Tally {
    goroutines_in_traceback: usize,
    goroutines_ours: usize,
    matched: usize,
    logical_frames: usize,
    physical_frames: usize,
    thread_blocks: usize,
    thread_frames: usize,
    problems: Vec<String>,
}

impl Tally {
    fn problem(&mut self, s: String) {
        if self.problems.len() < 40 {
            self.problems.push(s);
        }
    }
}

fn compare_frames(
    who: &str,
    tally: &mut Tally,
    ours: &[mapscope_goruntime::goroutines::Frame],
    theirs: &[TbFrame],
    elided: bool,
) -> (usize, usize) {
    let mut logical = Vec::new();
    for f in ours {
        let n = f.inlined.len();
        for (i, s) in f.source_frames().enumerate() {
            logical.push((s, if i == n { Some(f) } else { None }));
        }
    }
    if !elided && logical.len() != theirs.len() {
        tally.problem(format!(
            "{who}: {} logical frames, traceback has {}: ours {:?}",
            logical.len(),
            theirs.len(),
            logical
                .iter()
                .map(|(s, _)| s.function.as_str())
                .collect::<Vec<_>>()
        ));
    }
    let (mut nl, mut np) = (0, 0);
    for (i, ((s, physical), t)) in logical.iter().zip(theirs).enumerate() {
        if s.function != t.function || s.file != t.file || s.line != t.line {
            tally.problem(format!(
                "{who} frame {i}: ours {} {}:{}, traceback {} {}:{}",
                s.function, s.file, s.line, t.function, t.file, t.line
            ));
            continue;
        }
        nl += 1;
        match physical {
            Some(f) if !t.inlined => {
                let same = t.pc.is_none_or(|v| v == f.pc)
                    && t.sp.is_none_or(|v| v == f.sp)
                    && t.fp.is_none_or(|v| v == f.cfa)
                    && t.offset.is_none_or(|v| v == f.pc_offset());
                if same {
                    np += 1;
                } else {
                    tally.problem(format!(
                        "{who} frame {i} {}: ours pc={:#x} sp={:#x} fp={:#x} +{:#x}, traceback {t:?}",
                        s.function,
                        f.pc,
                        f.sp,
                        f.cfa,
                        f.pc_offset()
                    ));
                }
            }
            None if t.inlined => {}
            _ => tally.problem(format!("{who} frame {i} {}: inlined differs", s.function)),
        }
    }
    (nl, np)
}

fn compare_goroutine(tally: &mut Tally, ours: &Goroutine, t: &TbGoroutine) {
    let who = format!("goroutine {}", t.id);
    if let Some(gp) = t.gp {
        if gp != ours.address {
            tally.problem(format!("{who}: gp {gp:#x}, ours {:#x}", ours.address));
        }
    }
    if let Some(m) = t.m {
        if m != ours.m_id {
            tally.problem(format!("{who}: m {m:?}, ours {:?}", ours.m_id));
        }
    }
    if ours.status_text() != t.status {
        tally.problem(format!(
            "{who}: status {:?}, ours {:?}",
            t.status,
            ours.status_text()
        ));
    }
    let (nl, np) = compare_frames(&who, tally, &ours.frames, &t.frames, t.elided);
    tally.logical_frames += nl;
    tally.physical_frames += np;
    let theirs = t.created_by.as_ref();
    let mine = ours.created_by.as_ref().map(|c| {
        (
            c.function.clone(),
            c.goroutine,
            c.file.clone(),
            c.line,
            Some(c.pc_offset),
        )
    });
    if theirs != mine.as_ref() {
        tally.problem(format!("{who}: created by {theirs:?}, ours {mine:?}"));
    }
    if ours.incomplete.is_some() {
        tally.problem(format!("{who}: walk incomplete: {:?}", ours.incomplete));
    }
}

fn compare_with_traceback(gs: &Goroutines, stderr: &str) -> Tally {
    let mut tally = Tally::default();
    let sections = parse_stderr(stderr);
    let Some(first) = sections.first() else {
        return tally;
    };
    let listed: Vec<&TbGoroutine> = first.goroutines.iter().filter(|g| g.id != 0).collect();
    tally.goroutines_in_traceback = listed.len();
    tally.goroutines_ours = gs.goroutines.len();
    for t in &listed {
        match gs.by_id(t.id) {
            Some(ours) => {
                compare_goroutine(&mut tally, ours, t);
                tally.matched += 1;
            }
            None => tally.problem(format!("goroutine {} of the traceback not found", t.id)),
        }
    }
    for g in &gs.goroutines {
        if !listed.iter().any(|t| t.id == g.id) {
            tally.problem(format!("goroutine {} not in the traceback", g.id));
        }
    }
    // One section per thread that answered the crash.
    for section in &sections {
        let Some(m) = section.m else { continue };
        let Some(thread) = gs.threads.iter().find(|t| t.m_id == Some(m)) else {
            tally.problem(format!("no thread for m={m}"));
            continue;
        };
        tally.thread_blocks += 1;
        let who = format!("thread m={m} (tid {})", thread.tid);
        match (
            thread.interrupted,
            // amd64 prints rip/rsp, arm64 pc/sp.
            section
                .registers
                .get("rip")
                .or_else(|| section.registers.get("pc")),
            section
                .registers
                .get("rsp")
                .or_else(|| section.registers.get("sp")),
        ) {
            (Some(c), Some(&rip), Some(&rsp)) if c.pc == rip && c.sp == rsp => {}
            (c, rip, rsp) => tally.problem(format!(
                "{who}: interrupted {c:?}, traceback rip {rip:x?} rsp {rsp:x?}"
            )),
        }
        let Some(block) = section.goroutines.first() else {
            continue;
        };
        if block.id == 0 {
            if thread.stack != ThreadStack::System {
                tally.problem(format!(
                    "{who}: on {:?}, traceback shows its system stack",
                    thread.stack
                ));
            }
            let (nl, _) = compare_frames(
                &who,
                &mut tally,
                &thread.frames,
                &block.frames,
                block.elided,
            );
            tally.thread_frames += nl;
        } else if thread.stack != ThreadStack::Goroutine(block.id) {
            tally.problem(format!(
                "{who}: on {:?}, traceback shows goroutine {}",
                thread.stack, block.id
            ));
        }
    }
    tally
}

/// `gdb-registers.txt`: LWP → (rip, rsp); arm64 (gdb-multiarch): (pc, sp).
fn gdb_registers(text: &str) -> HashMap<u32, (u64, u64)> {
    let mut out = HashMap::new();
    let mut lwp = None;
    let mut rip = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Thread ") {
            lwp = rest
                .split("(LWP ")
                .nth(1)
                .and_then(|s| s.trim_end_matches("):").trim_end_matches(')').parse().ok());
        }
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("rip" | "pc"), Some(v)) => rip = hex(v),
            (Some("rsp" | "sp"), Some(v)) => {
                if let (Some(l), Some(ip), Some(sp)) = (lwp, rip, hex(v)) {
                    out.insert(l, (ip, sp));
                }
            }
            _ => {}
        }
    }
    out
}

/// `gdb-threads.txt`: LWP → the function of its innermost frame.
fn gdb_thread_functions(text: &str) -> HashMap<u32, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let Some((_, rest)) = line.split_once("LWP ") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(tid), Some(function)) = (words.next(), words.next()) else {
            continue;
        };
        if let (Ok(tid), Some("()")) = (tid.parse(), words.next()) {
            out.insert(tid, function.to_string());
        }
    }
    out
}

/// The stack-only map: the goroutine of truth.json runs
/// `main.stackOnlyWorker` and its local `m` reads back the map address.
fn check_stack_only(
    gs: &Goroutines,
    process: &GoProcess,
    truth: &serde_json::Value,
) -> Result<String, String> {
    let map = truth["maps"]
        .as_array()
        .and_then(|maps| {
            maps.iter().find(|m| {
                m["root"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("goroutine"))
            })
        })
        .ok_or("truth.json has no goroutine-rooted map")?;
    let goid = map["goroutine"].as_u64().ok_or("no goroutine id")?;
    let function = map["function"].as_str().ok_or("no function")?;
    let local = map["local"].as_str().ok_or("no local")?;
    let address = hex(map["address"].as_str().ok_or("no address")?).ok_or("bad address")?;
    let listed = truth["goroutines"].as_array().is_some_and(|l| {
        l.iter()
            .any(|g| g["id"].as_u64() == Some(goid) && g["function"] == function)
    });
    if !listed {
        return Err(format!(
            "truth.json goroutines do not list {goid} {function}"
        ));
    }
    let g = gs
        .by_id(goid)
        .ok_or(format!("goroutine {goid} not found"))?;
    let frame = g
        .frame_of(function)
        .ok_or_else(|| format!("goroutine {goid} has no {function} frame"))?;
    let var = frame.local(local).ok_or_else(|| {
        format!(
            "{function} frame has no live local {local}: {:?}",
            frame.locals()
        )
    })?;
    let value = var
        .first_word(process.memory())
        .ok_or_else(|| format!("local {local} unreadable: {:?}", var.place))?;
    if value != address {
        return Err(format!(
            "local {local} = {value:#x}, truth {address:#x} ({:?})",
            var.place
        ));
    }
    let (lo, hi) = frame.stack_range();
    let LocalPlace::Stack { address: slot } = var.place else {
        return Err(format!(
            "local {local} is not on the stack: {:?}",
            var.place
        ));
    };
    if !(g.stack_lo <= slot && slot < g.stack_hi && lo <= slot && slot < hi) {
        return Err(format!(
            "slot {slot:#x} outside the frame [{lo:#x}, {hi:#x})"
        ));
    }
    Ok(format!("{local}@{slot:#x} ({})", var.type_name))
}

struct Incident {
    name: String,
    core: PathBuf,
    exe: PathBuf,
    dir: PathBuf,
}

struct Row {
    name: String,
    version: String,
    summary: String,
    ok: bool,
}

fn check_incident(inc: &Incident) -> Row {
    let process = GoProcess::open(&inc.core, Some(&inc.exe)).expect("open incident");
    let gs = process.goroutines().expect("goroutines");
    let read = |f: &str| std::fs::read_to_string(inc.dir.join(f)).unwrap_or_default();
    let mut problems = Vec::new();
    // gcore incidents have no traceback (the process did not crash).
    let stderr = read("stderr.txt");
    let tally = if stderr.trim().is_empty() {
        Tally {
            goroutines_ours: gs.goroutines.len(),
            ..Tally::default()
        }
    } else {
        compare_with_traceback(&gs, &stderr)
    };
    problems.extend(tally.problems.iter().cloned());

    let gdb = gdb_registers(&read("gdb-registers.txt"));
    let mut threads_ok = 0;
    for t in &gs.threads {
        match gdb.get(&t.tid) {
            Some(&(rip, rsp)) if Some(rip) == t.pc && Some(rsp) == t.sp => threads_ok += 1,
            other => problems.push(format!(
                "thread {}: gdb {other:x?}, core {:x?}/{:x?}",
                t.tid, t.pc, t.sp
            )),
        }
        if t.m.is_none() {
            problems.push(format!("thread {} matches no runtime.m", t.tid));
        }
    }
    // gdb names the function each thread is in (`* 1    LWP 16123  runtime.raise () at …`).
    let functions = gdb_thread_functions(&read("gdb-threads.txt"));
    for t in &gs.threads {
        let ours =
            t.pc.and_then(|pc| {
                process
                    .pclntab()?
                    .func_for_pc(pc.wrapping_sub(process.load_bias()))
            })
            .map(|f| f.name().to_string());
        if functions.get(&t.tid) != ours.as_ref() {
            problems.push(format!(
                "thread {}: gdb says {:?}, pclntab {ours:?}",
                t.tid,
                functions.get(&t.tid)
            ));
        }
    }
    if gdb.len() != gs.threads.len() {
        problems.push(format!(
            "gdb lists {} threads, the core {}",
            gdb.len(),
            gs.threads.len()
        ));
    }
    let truth: serde_json::Value = serde_json::from_str(&read("truth.json")).expect("truth.json");
    // The program's own record of its goroutines: each runs its function.
    for g in truth["goroutines"].as_array().into_iter().flatten() {
        let (Some(id), Some(function)) = (g["id"].as_u64(), g["function"].as_str()) else {
            problems.push(format!("truth.json goroutine without id/function: {g}"));
            continue;
        };
        match gs.by_id(id) {
            Some(ours) if ours.frame_of(function).is_some() => {}
            Some(ours) => problems.push(format!(
                "goroutine {id}: no {function} frame in {:?}",
                ours.source_frames().map(|f| f.function).collect::<Vec<_>>()
            )),
            None => problems.push(format!(
                "goroutine {id} ({function}) of truth.json not found"
            )),
        }
    }
    let stack_only = match check_stack_only(&gs, &process, &truth) {
        Ok(s) => s,
        Err(e) => {
            problems.push(e);
            "FAILED".to_string()
        }
    };
    for w in &gs.warnings {
        problems.push(format!("warning: {w}"));
    }
    let summary = format!(
        "goroutines {}/{} (traceback/ours, {} dead), matched {}, logical frames {}, physical pc/sp/fp {}, thread sections {} (g0 frames {}), gdb threads {}/{}, stack-only {}",
        tally.goroutines_in_traceback,
        tally.goroutines_ours,
        gs.dead,
        tally.matched,
        tally.logical_frames,
        tally.physical_frames,
        tally.thread_blocks,
        tally.thread_frames,
        threads_ok,
        gdb.len(),
        stack_only
    );
    for p in &problems {
        eprintln!("{}: {p}", inc.name);
    }
    Row {
        name: inc.name.clone(),
        version: process.version_string().to_string(),
        summary,
        ok: problems.is_empty(),
    }
}

fn shipped(name: &str) -> Incident {
    let s = mapscope_testsupport::sample(name);
    Incident {
        name: name.to_string(),
        core: s.core.clone(),
        exe: s.exe.clone(),
        dir: s.source.clone(),
    }
}

fn assert_incident(inc: Incident) {
    let row = check_incident(&inc);
    eprintln!("{} {}: {}", row.name, row.version, row.summary);
    assert!(row.ok, "{}: see the problems above", row.name);
}

#[test]
fn go1_22_agrees_with_its_crash_traceback() {
    assert_incident(shipped("go1.22"));
}

#[test]
fn go1_26_agrees_with_its_crash_traceback() {
    assert_incident(shipped("go1.26"));
}

#[test]
fn go1_26_gcore_finds_the_stack_only_map() {
    assert_incident(shipped("go1.26-gcore"));
}

/// Every mapzoo incident of the corpus (`$MAPSCOPE_CORPUS/mapzoo`, made by
/// scripts/gen-corpus.sh: every release 1.21–1.27, noswissmap, gcore,
/// arm64). Ignored by default; fails when the corpus is absent, and under
/// `MAPSCOPE_CORPUS_EXPECT=all` unless every expected incident was checked.
#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn every_local_incident_agrees_with_its_crash_traceback() {
    let dirs = mapscope_testsupport::corpus::incidents("mapzoo");
    let mut rows = Vec::new();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let inc = Incident {
            name,
            core: dir.join("core"),
            exe: dir.join("mapzoo"),
            dir: dir.clone(),
        };
        rows.push(check_incident(&inc));
    }
    eprintln!("| incident | Go | result | details |\n|---|---|---|---|");
    for r in &rows {
        eprintln!(
            "| {} | {} | {} | {} |",
            r.name,
            r.version,
            if r.ok { "ok" } else { "FAIL" },
            r.summary
        );
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|r| !r.ok)
        .map(|r| r.name.as_str())
        .collect();
    let checked: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    mapscope_testsupport::corpus::assert_checked("mapzoo", &checked, &[]);
    assert!(failed.is_empty(), "failed: {failed:?}");
}

#[test]
fn traceback_parser_reads_headers_frames_and_registers() {
    let text = "SIGQUIT: quit\nPC=0x46af41 m=2 sigcode=0\n\ngoroutine 18 gp=0xc00009c1c0 m=2 mp=0xc000046808 [syscall, 3 minutes, locked to thread]:\nruntime.notetsleepg(0x654e00, 0xffffffffffffffff)\n\t/go/src/runtime/lock_futex.go:246 +0x29 fp=0xc000073fa0 sp=0xc000073f78 pc=0x40c4c9\nruntime.goparkunlock(...)\n\t/go/src/runtime/proc.go:408\ncreated by os/signal.Notify.func1.1 in goroutine 1\n\t/go/src/os/signal/signal.go:151 +0x1f\nrax    0xca\nrip    0x46af41\n";
    let sections = parse_stderr(text);
    assert_eq!(sections.len(), 1);
    let s = &sections[0];
    assert_eq!(s.m, Some(2));
    assert_eq!(s.registers.get("rip"), Some(&0x46af41));
    let g = &s.goroutines[0];
    assert_eq!((g.id, g.gp, g.m), (18, Some(0xc00009c1c0), Some(Some(2))));
    assert_eq!(g.status, "syscall, locked to thread");
    assert_eq!(g.frames[0].function, "runtime.notetsleepg");
    assert_eq!(
        (g.frames[0].line, g.frames[0].pc, g.frames[0].inlined),
        (246, Some(0x40c4c9), false)
    );
    assert!(g.frames[1].inlined);
    let c = g.created_by.as_ref().unwrap();
    assert_eq!(
        (c.0.as_str(), c.1, c.3, c.4),
        ("os/signal.Notify.func1.1", Some(1), 151, Some(0x1f))
    );
}
