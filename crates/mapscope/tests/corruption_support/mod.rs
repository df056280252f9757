//! The harness of the corruption suite: runs the `mapscope` binary as a
//! child under a time bound and judges the outcome by the rules of issue
//! #10 — exit 0/1/2 only, never a panic, never a hang; a failure is one
//! `mapscope: …` line naming an input file; a success on a damaged input
//! carries a warning in its JSON.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test: `MAPSCOPE_BIN` if set, else the release build
/// beside this test's target dir when it is newer than the debug one (much
/// faster on 100 MB cores), else the debug build cargo made for the test.
pub fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("MAPSCOPE_BIN") {
        return PathBuf::from(p);
    }
    let debug = PathBuf::from(env!("CARGO_BIN_EXE_mapscope"));
    let release = debug
        .parent()
        .and_then(Path::parent)
        .map(|target| target.join("release").join("mapscope"));
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    match release {
        Some(r) if modified(&r).is_some() && modified(&r) >= modified(&debug) => r,
        _ => debug,
    }
}

/// How long one command may take before it counts as a hang. Generous:
/// the debug binary on a loaded 2-core CI machine; a normal run takes
/// about a second.
pub fn time_bound() -> Duration {
    let secs = std::env::var("MAPSCOPE_CORRUPTION_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    Duration::from_secs(secs)
}

/// What one run produced.
#[derive(Debug)]
pub struct Outcome {
    /// `None` when it was killed at the time bound (or by a signal).
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs the binary with `args`, stdout/stderr into files (no pipe can fill
/// up), killing it at `bound`.
pub fn run_bounded(bin: &Path, args: &[OsString], scratch: &Path, bound: Duration) -> Outcome {
    let out_path = scratch.with_extension("stdout");
    let err_path = scratch.with_extension("stderr");
    let stdout = File::create(&out_path).expect("create stdout file");
    let stderr = File::create(&err_path).expect("create stderr file");
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let mut timed_out = false;
    let status = loop {
        match child.try_wait().expect("wait for child") {
            Some(status) => break Some(status),
            None if start.elapsed() > bound => {
                timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let read = |p: &Path| {
        let mut s = Vec::new();
        if let Ok(mut f) = File::open(p) {
            let _ = f.read_to_end(&mut s);
        }
        let _ = std::fs::remove_file(p);
        String::from_utf8_lossy(&s).into_owned()
    };
    Outcome {
        code: status.and_then(|s| s.code()),
        timed_out,
        stdout: read(&out_path),
        stderr: read(&err_path),
        elapsed: start.elapsed(),
    }
}

/// The commands the suite runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Regions,
    Check,
    Heap,
    Goroutines,
    Maps,
    Analyze,
    Top,
}

impl Cmd {
    pub const CORE: [Cmd; 6] = [
        Cmd::Regions,
        Cmd::Check,
        Cmd::Heap,
        Cmd::Goroutines,
        Cmd::Maps,
        Cmd::Analyze,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cmd::Regions => "regions",
            Cmd::Check => "check",
            Cmd::Heap => "heap",
            Cmd::Goroutines => "goroutines",
            Cmd::Maps => "maps",
            Cmd::Analyze => "analyze",
            Cmd::Top => "top",
        }
    }

    /// Arguments for a core/exe/profile triple (`exe`/`profile` optional).
    pub fn args(self, core: &Path, exe: Option<&Path>, profile: Option<&Path>) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![self.name().into()];
        match self {
            Cmd::Top => a.push(profile.unwrap_or(core).into()),
            Cmd::Check => {
                a.push(profile.unwrap_or(core).into());
                a.push(core.into());
            }
            _ => a.push(core.into()),
        }
        if self != Cmd::Top {
            if let Some(exe) = exe {
                a.push("--exe".into());
                a.push(exe.into());
            }
        }
        if self == Cmd::Analyze {
            if let Some(p) = profile {
                a.push("--profile".into());
                a.push(p.into());
            }
        }
        a.push("--format".into());
        a.push("json".into());
        a
    }
}

/// What a case demands beyond the universal rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demand {
    /// Exit 0, 1 or 2 by the universal rules; nothing more.
    Survive,
    /// The input is damaged where this command looks: exit 0 must carry a
    /// warning (for `check`: a check that does not pass).
    WarnIfOk,
    /// Must not succeed: exit 1 or 2.
    Fail,
}

/// One judged run.
pub struct Judged {
    pub label: String,
    pub elapsed: Duration,
    pub code: Option<i32>,
    pub problems: Vec<String>,
    /// First warning or error line, for the log.
    pub note: String,
}

/// Judges `outcome` of `cmd` under `demand`; `inputs` are the files a
/// failure message may name.
pub fn judge(label: &str, cmd: Cmd, outcome: &Outcome, demand: Demand, inputs: &[&Path]) -> Judged {
    let mut problems = Vec::new();
    let mut note = String::new();
    if outcome.timed_out {
        problems.push(format!("hung: killed after {:?}", outcome.elapsed));
    }
    if outcome.stderr.contains("panicked") || outcome.code == Some(101) {
        problems.push(format!("panicked: {}", outcome.stderr.trim()));
    }
    match outcome.code {
        Some(0..=2) => {}
        Some(c) => problems.push(format!("exit {c} (allowed: 0, 1, 2)")),
        None if !outcome.timed_out => problems.push("killed by a signal".to_string()),
        None => {}
    }
    if outcome.code == Some(2) {
        let lines: Vec<&str> = outcome
            .stderr
            .lines()
            .filter(|l| l.starts_with("mapscope:"))
            .collect();
        if lines.len() != 1 {
            problems.push(format!(
                "exit 2 wants one `mapscope: …` line on stderr, got: {:?}",
                outcome.stderr
            ));
        }
        let line = lines.first().copied().unwrap_or("");
        let names_input = inputs.iter().any(|p| {
            line.contains(&*p.to_string_lossy())
                || p.file_name()
                    .is_some_and(|n| line.contains(&*n.to_string_lossy()))
        });
        if !names_input {
            problems.push(format!("error names no input file: {line:?}"));
        }
        note = line.to_string();
    }
    if matches!(outcome.code, Some(0) | Some(1)) {
        match serde_json::from_str::<Value>(&outcome.stdout) {
            Err(e) => problems.push(format!(
                "exit {:?} but stdout is not JSON: {e}",
                outcome.code
            )),
            Ok(json) => {
                let warnings = warnings_of(cmd, &json);
                note = warnings.first().cloned().unwrap_or_default();
                if outcome.code == Some(0) && demand == Demand::WarnIfOk && warnings.is_empty() {
                    problems.push(
                        "exit 0 on a damaged input without any warning in the JSON".to_string(),
                    );
                }
            }
        }
    }
    if demand == Demand::Fail && outcome.code == Some(0) {
        problems.push("exit 0 where the input must be refused".to_string());
    }
    Judged {
        label: format!("{label}: {}", cmd.name()),
        elapsed: outcome.elapsed,
        code: outcome.code,
        problems,
        note,
    }
}

/// The warnings a report carries: `warnings` (and `notes` of `heap`,
/// `findings`... not counted); for `check`, every check that did not pass.
pub fn warnings_of(cmd: Cmd, json: &Value) -> Vec<String> {
    if cmd == Cmd::Check {
        return json["checks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|c| c["status"] != "pass")
                    .map(|c| format!("{}: {}: {}", c["name"], c["status"], c["detail"]))
                    .collect()
            })
            .unwrap_or_default();
    }
    json["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|w| {
                    w.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| w.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads `/proc/self/status` for the effective uid (no libc dependency).
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Prints every run and fails with all problems at once.
pub fn report(results: &[Judged]) {
    let mut failures = Vec::new();
    for r in results {
        println!(
            "{:<70} exit {:>4} {:>6.2}s  {}",
            r.label,
            r.code.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
            r.elapsed.as_secs_f64(),
            r.note.chars().take(140).collect::<String>()
        );
        for p in &r.problems {
            failures.push(format!("{}: {p}", r.label));
        }
    }
    println!("binary: {}", binary().display());
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
