//! Hostile and broken inputs through the CLI (issue #10): a shipped sample
//! core truncated at many points (ELF header, program headers, notes, the
//! middle of the segment holding the Go heap, near the end), the executable
//! swapped for another build, a core of a C program, a cut compressed core,
//! damaged profiles, and files that are not files at all (empty, directory,
//! FIFO, missing, unreadable).
//!
//! Every run ends within a time bound with exit 0, 1 or 2, never a panic;
//! exit 2 prints one `mapscope: …` line naming the file; exit 0 on a damaged
//! input carries a warning in its JSON. Bit flips and zeroed pages inside
//! the Go runtime's structures are in `corruption_flips.rs`.
//!
//! Runs the release binary when it is fresher than the debug one (see
//! `corruption_support::binary`); each test is one chain of cases on its own
//! copy of a core, and the test harness runs the chains in parallel.

mod corruption_support;

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use corruption_support::{
    binary, effective_uid, judge, report, run_bounded, time_bound, Cmd, Demand, Judged,
};
use mapscope_elfcore::Core;
use mapscope_testsupport::{sample, sample_source, Sample};

/// Runs `cmd` and judges it; `inputs` are the files an error may name.
fn run(
    scratch: &Path,
    label: &str,
    cmd: Cmd,
    args: Vec<OsString>,
    demand: Demand,
    inputs: &[&Path],
) -> Judged {
    let outcome = run_bounded(&binary(), &args, &scratch.join("out"), time_bound());
    judge(label, cmd, &outcome, demand, inputs)
}

fn copy_core(s: &Sample, dir: &Path) -> PathBuf {
    let core = dir.join("core");
    fs::copy(&s.core, &core).expect("copy core");
    core
}

/// Where to cut a core: inside the ELF header, inside the program headers,
/// early and halfway in the notes, in the middle of the segment that holds
/// the first truth map's header (the Go heap), just past that segment's
/// start, and near the end. Descending, so one copy is cut step by step.
fn cut_points(s: &Sample) -> Vec<(String, u64)> {
    let core = Core::open(&s.core).expect("sample core");
    let truth = s.truth();
    let map_addr = truth["maps"][0]["address"]
        .as_str()
        .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .expect("truth map address");
    let heap_seg = core.segment_at(map_addr).expect("map in a segment");
    let note = core
        .program_headers()
        .iter()
        .find(|ph| ph.p_type == 4)
        .expect("PT_NOTE");
    let phnum = core.program_headers().len() as u64;
    let len = core.file_size();
    let mut points = vec![
        ("inside the ELF header".to_string(), 20),
        (
            format!("inside the program headers (of {phnum})"),
            64 + 56 * (phnum / 2) + 7,
        ),
        ("early in the notes".into(), note.offset + 300),
        (
            "halfway through the notes".into(),
            note.offset + note.filesz / 2,
        ),
        (
            "in the middle of the Go heap segment".into(),
            heap_seg.offset + heap_seg.present / 2 + 13,
        ),
        (
            "just past the Go heap segment's start".into(),
            heap_seg.offset + 4096 + 5,
        ),
        ("one page before the end".into(), len - 4096),
        ("one byte before the end".into(), len - 1),
    ];
    points.sort_by_key(|p| std::cmp::Reverse(p.1));
    points
}

fn truncation_chain(name: &str, commands: &[Cmd]) {
    let s = sample(name);
    let dir = tempfile::tempdir().expect("tempdir");
    let core = copy_core(&s, dir.path());
    let mut results = Vec::new();
    for (what, at) in cut_points(&s) {
        OpenOptions::new()
            .write(true)
            .open(&core)
            .and_then(|f| f.set_len(at))
            .expect("truncate");
        let label = format!("{name} cut at {at} ({what})");
        // Before the notes end, nothing Go can be read: regions and heap
        // are enough to show the refusal or the warning.
        let cmds: &[Cmd] = if at < 4096 {
            &[Cmd::Regions, Cmd::Heap]
        } else {
            commands
        };
        for &cmd in cmds {
            let args = cmd.args(&core, Some(&s.exe), Some(&s.profile));
            // A cut core must never pass as complete.
            let demand = bad_input_demand(cmd);
            results.push(run(
                dir.path(),
                &label,
                cmd,
                args,
                demand,
                &[&core, &s.exe, &s.profile],
            ));
        }
    }
    report(&results);
}

#[test]
fn truncated_go126_core() {
    truncation_chain("go1.26", &Cmd::CORE);
}

#[test]
fn truncated_go122_core() {
    truncation_chain(
        "go1.22",
        &[Cmd::Regions, Cmd::Heap, Cmd::Maps, Cmd::Analyze],
    );
}

/// The executable of another build: go1.22's with go1.26's core and the
/// other way round. `check` must fail; the rest refuse or warn.
#[test]
fn executable_from_another_build() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut results = Vec::new();
    for (core_of, exe_of) in [("go1.26", "go1.22"), ("go1.22", "go1.26")] {
        let c = sample(core_of);
        let e = sample(exe_of);
        for cmd in Cmd::CORE {
            let demand = bad_input_demand(cmd);
            results.push(run(
                dir.path(),
                &format!("{core_of} core + {exe_of} exe"),
                cmd,
                cmd.args(&c.core, Some(&e.exe), Some(&c.profile)),
                demand,
                &[&c.core, &e.exe, &c.profile],
            ));
        }
        // A profile of the other build with the right core and executable.
        for cmd in [Cmd::Check, Cmd::Analyze] {
            let demand = bad_input_demand(cmd);
            results.push(run(
                dir.path(),
                &format!("{core_of} core + {exe_of} profile"),
                cmd,
                cmd.args(&c.core, Some(&c.exe), Some(&e.profile)),
                demand,
                &[&c.core, &c.exe, &e.profile],
            ));
        }
    }
    report(&results);
}

/// `samples/c-core`: a kernel core of a small C program
/// (`scripts/gen-c-core.sh`), with its own executable, with none, and with
/// a Go executable (given as `.zst`, decompressed by the reader). Nothing Go can be found: Go commands exit 2 saying so;
/// `regions` of a healthy C core is a plain success.
#[test]
fn core_of_a_c_program() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Both given compressed: the reader decompresses `.zst` by magic.
    let src = sample_source("c-core");
    let core = src.join("crash-core.zst");
    let exe = src.join("crash.zst");
    let go = sample("go1.26");
    let mut results = Vec::new();
    let go_cmds = [
        Cmd::Heap,
        Cmd::Goroutines,
        Cmd::Maps,
        Cmd::Analyze,
        Cmd::Check,
    ];
    for (label, exe_arg) in [
        ("C core + C exe", Some(exe.as_path())),
        ("C core, no exe", None),
        ("C core + Go exe", Some(go.exe.as_path())),
    ] {
        let demand = if exe_arg == Some(go.exe.as_path()) {
            Demand::WarnIfOk
        } else {
            Demand::Survive
        };
        results.push(run(
            dir.path(),
            label,
            Cmd::Regions,
            Cmd::Regions.args(&core, exe_arg, None),
            demand,
            &[&core, &exe],
        ));
        for cmd in go_cmds {
            results.push(run(
                dir.path(),
                label,
                cmd,
                cmd.args(&core, exe_arg, Some(&go.profile)),
                Demand::Fail,
                &[&core, &exe, &go.exe, &go.profile],
            ));
        }
    }
    report(&results);
}

/// Not files, or not readable ones: empty, a directory, a FIFO (must not
/// block), a missing path, a cut `.zst`, unreadable permissions — as the
/// core, as the executable and as the profile.
#[test]
fn files_that_are_not_inputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let s = sample("go1.26");
    let empty = d.join("empty");
    fs::write(&empty, b"").expect("empty");
    let subdir = d.join("a-directory");
    fs::create_dir(&subdir).expect("dir");
    let fifo = d.join("a-fifo");
    // mkfifo is coreutils: part of every machine this runs on.
    let made_fifo = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|st| st.success())
        .unwrap_or(false);
    assert!(made_fifo, "mkfifo {} failed", fifo.display());
    let missing = d.join("missing");
    let cut_zst = d.join("core-cut.zst");
    let zst = fs::read(sample_source("go1.26").join("core.zst")).expect("core.zst");
    fs::write(&cut_zst, &zst[..zst.len() / 2]).expect("cut zst");
    let garbage = d.join("garbage.pb.gz");
    fs::write(&garbage, b"\x1f\x8b\x08\x00garbage that is no gzip stream").expect("garbage");
    let profile_bytes = fs::read(&s.profile).expect("profile");
    let cut_profile = d.join("heap-cut.pb.gz");
    fs::write(&cut_profile, &profile_bytes[..profile_bytes.len() / 2]).expect("cut profile");

    let bad: Vec<(&str, PathBuf)> = vec![
        ("empty file", empty),
        ("directory", subdir),
        ("missing file", missing),
        ("FIFO", fifo),
    ];
    let mut results = Vec::new();
    for (what, path) in &bad {
        let path = path.as_path();
        for cmd in [Cmd::Regions, Cmd::Heap, Cmd::Analyze] {
            results.push(run(
                d,
                &format!("{what} as core"),
                cmd,
                cmd.args(path, Some(&s.exe), None),
                Demand::Fail,
                &[path],
            ));
        }
        for cmd in [Cmd::Heap, Cmd::Maps] {
            results.push(run(
                d,
                &format!("{what} as exe"),
                cmd,
                cmd.args(&s.core, Some(path), None),
                Demand::Fail,
                &[path],
            ));
        }
        results.push(run(
            d,
            &format!("{what} as profile"),
            Cmd::Top,
            Cmd::Top.args(&s.core, None, Some(path)),
            Demand::Fail,
            &[path],
        ));
        results.push(run(
            d,
            &format!("{what} as profile"),
            Cmd::Analyze,
            Cmd::Analyze.args(&s.core, Some(&s.exe), Some(path)),
            Demand::Fail,
            &[path],
        ));
        results.push(run(
            d,
            &format!("{what} as profile"),
            Cmd::Check,
            Cmd::Check.args(&s.core, Some(&s.exe), Some(path)),
            Demand::Fail,
            &[path],
        ));
    }
    for cmd in [Cmd::Regions, Cmd::Heap] {
        results.push(run(
            d,
            "zstd core cut in half",
            cmd,
            cmd.args(&cut_zst, Some(&s.exe), None),
            Demand::Fail,
            &[&cut_zst],
        ));
    }
    for (what, p) in [("not gzip inside", &garbage), ("cut in half", &cut_profile)] {
        for cmd in [Cmd::Top, Cmd::Check] {
            results.push(run(
                d,
                &format!("profile {what}"),
                cmd,
                cmd.args(&s.core, Some(&s.exe), Some(p)),
                Demand::Fail,
                &[p],
            ));
        }
    }
    report(&results);
}

/// A core the user may not read is refused (exit 2, one line naming it).
/// Root reads any file, so the case means something only for an ordinary
/// user: run it with `--ignored` as one; as root it fails.
#[test]
#[ignore = "needs an ordinary user (root reads any file): cargo test -- --ignored unreadable_core"]
fn unreadable_core_is_refused() {
    if effective_uid() == Some(0) {
        panic!("run as an ordinary user: root reads any file");
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let s = sample("go1.26");
    let locked = d.join("locked-core");
    fs::copy(&s.core, &locked).expect("copy");
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).expect("chmod");
    let mut results = Vec::new();
    for cmd in [Cmd::Regions, Cmd::Heap] {
        results.push(run(
            d,
            "unreadable core",
            cmd,
            cmd.args(&locked, Some(&s.exe), None),
            Demand::Fail,
            &[&locked],
        ));
    }
    report(&results);
}

/// Profiles with flipped bytes through `top`: decoded or refused, never a
/// panic. (The pprof crate's own robustness test covers thousands more.)
#[test]
fn profile_with_flipped_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = sample("go1.22");
    let mut raw = Vec::new();
    {
        use std::io::Read;
        flate2::read::GzDecoder::new(fs::File::open(&s.profile).expect("profile"))
            .read_to_end(&mut raw)
            .expect("gunzip");
    }
    let mut results = Vec::new();
    for (i, frac) in [0.01, 0.1, 0.33, 0.5, 0.77, 0.95].iter().enumerate() {
        let mut bytes = raw.clone();
        let at = (bytes.len() as f64 * frac) as usize;
        for b in bytes.iter_mut().skip(at).take(4) {
            *b ^= 0xa5;
        }
        let p = dir.path().join(format!("flipped-{i}.pb"));
        fs::write(&p, &bytes).expect("write");
        results.push(run(
            dir.path(),
            &format!("raw profile, 4 bytes flipped at {at}"),
            Cmd::Top,
            Cmd::Top.args(&p, None, Some(&p)),
            Demand::Survive,
            &[&p],
        ));
    }
    report(&results);
}

/// What a cut core or inputs from different builds demand of a command:
/// `check` must fail, every other command must warn if it exits 0.
fn bad_input_demand(cmd: Cmd) -> Demand {
    if cmd == Cmd::Check {
        Demand::Fail
    } else {
        Demand::WarnIfOk
    }
}
