//! The command line itself: completions, the manual page, `-o FILE.ext`
//! choosing the format, pprof's flag spellings, `-` as standard input,
//! error messages naming the file the user gave, and progress staying off
//! a stderr that is not a terminal.
//!
//! Truths: the command list of `docs/cli.md` (the contract, written by
//! hand), `go tool pprof -top`'s totals committed beside the samples,
//! groff rendering the page, and the same command's output through the
//! other spelling (path vs stdin, `--format` vs extension).

use mapscope_testsupport::{pprof_top_total, run_cli, sample_source, workspace_root, Run};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_mapscope");

fn mapscope(args: &[&str]) -> Run {
    let args: Vec<&dyn AsRef<std::ffi::OsStr>> = args
        .iter()
        .map(|a| a as &dyn AsRef<std::ffi::OsStr>)
        .collect();
    run_cli(BIN, &args)
}

fn ok(args: &[&str]) -> String {
    let out = mapscope(args);
    assert_eq!(out.code, 0, "mapscope {args:?}: {}", out.stderr);
    out.stdout
}

/// Runs mapscope with `input` on standard input.
fn with_stdin(args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mapscope");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_ne!(run.code, 101, "{}", run.stderr);
    run
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn profile() -> String {
    sample_source("go1.26")
        .join("heap.pb.gz")
        .to_string_lossy()
        .into_owned()
}

/// The commands `docs/cli.md` lists in its command table.
fn documented_commands() -> Vec<String> {
    let doc = std::fs::read_to_string(workspace_root().join("docs/cli.md"))
        .expect("docs/cli.md is the contract and must ship");
    let start = doc
        .find("| command | what it answers |")
        .expect("command table");
    let names: Vec<String> = doc[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .filter_map(|l| {
            l.trim_start_matches("| `")
                .split(['`', ' '])
                .next()
                .map(str::to_string)
        })
        .collect();
    assert!(names.len() >= 10, "command table of docs/cli.md: {names:?}");
    names
}

/// The subcommands `mapscope --help` lists.
fn help_commands() -> Vec<String> {
    let help = ok(&["--help"]);
    let start = help.find("Commands:").expect("Commands: in --help");
    help[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn docs_list_every_command_and_help_every_documented_one() {
    let documented = documented_commands();
    let help = help_commands();
    for c in &help {
        assert!(documented.contains(c), "`{c}` is missing from docs/cli.md");
    }
    for c in &documented {
        assert!(help.contains(c), "docs/cli.md lists `{c}`, --help does not");
    }
}

#[test]
fn completions_mention_every_command() {
    let commands = documented_commands();
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(&["completions", shell]);
        assert!(script.len() > 1000, "{shell}: {} bytes", script.len());
        for c in &commands {
            assert!(script.contains(c.as_str()), "{shell} completion lacks {c}");
        }
        // Flags too: a spot check per shell.
        assert!(
            script.contains("sample-index"),
            "{shell}: no --sample-index"
        );
    }
    let bad = mapscope(&["completions", "tcsh"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn every_subcommand_help_has_examples() {
    for c in documented_commands() {
        let help = ok(&[c.as_str(), "--help"]);
        assert!(
            help.contains("Examples:\n  mapscope "),
            "`mapscope {c} --help` has no examples:\n{help}"
        );
    }
}

#[test]
fn man_page_renders() {
    let page = ok(&["man"]);
    assert!(page.contains("\n.TH mapscope 1 "), "{page}");
    assert!(page.contains(".SH NAME"), "no NAME section");
    for c in documented_commands() {
        // roff escapes a hyphen as `\-`.
        let roff = c.replace('-', "\\-");
        assert!(page.contains(&roff), "man page lacks {c}");
    }
    // groff (groff-base, on every Debian machine with man-db) must render
    // it without a warning, and the text must carry the description.
    let mut groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("needs groff (apt-get install groff-base)");
    groff
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = groff.wait_with_output().unwrap();
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && warnings.trim().is_empty(),
        "{warnings}"
    );
    // The rendered text, without grotty's bold/underline and line breaks.
    let raw = String::from_utf8_lossy(&out.stdout);
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            '\x08' => {
                text.pop();
            }
            c => text.push(c),
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "NAME",
        "SYNOPSIS",
        "SUBCOMMANDS",
        "Print a heap profile like",
    ] {
        assert!(
            text.contains(expected),
            "rendered page lacks {expected:?}: {text}"
        );
    }

    let dir = scratch("man");
    ok(&["man", "--dir", dir.to_str().unwrap()]);
    for c in documented_commands() {
        let f = dir.join(format!("mapscope-{c}.1"));
        let body = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(body.contains(".TH"), "{}", f.display());
    }
    assert!(dir.join("mapscope.1").exists());
}

#[test]
fn output_extension_picks_the_format_and_format_wins() {
    let dir = scratch("ext");
    let p = profile();
    for (ext, format) in [("json", "json"), ("md", "markdown"), ("csv", "csv")] {
        let file = dir.join(format!("top.{ext}"));
        let written = ok(&["top", &p, "-o", file.to_str().unwrap()]);
        assert!(written.is_empty(), "-o still printed on stdout");
        let expected = ok(&["top", &p, "--format", format]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), expected, "{ext}");
    }
    // Not only top: a core command through the same flag.
    let core = sample_source("go1.26").join("core.zst");
    let exe = sample_source("go1.26").join("mapzoo.zst");
    let file = dir.join("regions.json");
    let (c, e) = (core.to_str().unwrap(), exe.to_str().unwrap());
    ok(&["regions", c, "--exe", e, "-o", file.to_str().unwrap()]);
    let expected = ok(&["regions", c, "--exe", e, "--format", "json"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    // And the incident report.
    let incident = sample_source("go1.26");
    let d = incident.to_str().unwrap();
    let file = dir.join("report.json");
    ok(&["analyze", d, "-o", file.to_str().unwrap()]);
    let expected = ok(&["analyze", d, "--format", "json"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), expected);
    let v: serde_json::Value = serde_json::from_str(&expected).unwrap();
    assert!(v["maps"].as_array().is_some_and(|m| !m.is_empty()));
    // An explicit --format wins over the extension.
    let file = dir.join("explicit.json");
    ok(&["top", &p, "-o", file.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        ok(&["top", &p, "--format", "csv"])
    );
    // An unknown extension: the default table.
    let file = dir.join("top.out");
    ok(&["top", &p, "-o", file.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), ok(&["top", &p]));
}

#[test]
fn pprof_spellings_equal_ours_and_pprofs_total() {
    let p = profile();
    let ours = ok(&[
        "top",
        "--sample-index",
        "inuse_space",
        "--nodecount",
        "5",
        &p,
    ]);
    for spelling in [
        vec!["top", "-sample_index=inuse_space", "-nodecount=5", &p],
        vec!["top", "-sample_index", "inuse_space", "-nodecount", "5", &p],
        vec!["top", "--sample_index=inuse_space", "--node-count=5", &p],
        vec!["top", "-top", "-inuse_space", "-nodecount=5", &p],
    ] {
        assert_eq!(ok(&spelling), ours, "{spelling:?}");
    }
    assert_eq!(
        ok(&["top", "-cum", "-nodefraction=0.01", "-alloc_space", &p]),
        ok(&[
            "top",
            "--cum",
            "--node-fraction",
            "0.01",
            "--sample-index",
            "alloc_space",
            &p
        ])
    );
    // The total is go tool pprof's, from the output committed beside it.
    let truth = std::fs::read_to_string(sample_source("go1.26").join("pprof-top.txt")).unwrap();
    let pprof_total = pprof_top_total(&truth).expect("total in pprof-top.txt");
    let json = ok(&[
        "top",
        "-sample_index=inuse_space",
        "-nodecount=5",
        &p,
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["total"].as_i64(), Some(pprof_total));
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(5));
}

#[test]
fn a_dash_reads_the_profile_from_stdin() {
    let p = profile();
    let bytes = std::fs::read(&p).unwrap();
    for format in ["table", "json"] {
        let piped = with_stdin(&["top", "-", "--format", format], &bytes);
        assert_eq!(piped.code, 0, "{}", piped.stderr);
        assert_eq!(
            piped.stdout,
            ok(&["top", &p, "--format", format]),
            "{format}"
        );
    }
    // check: the same checks, the profile named "standard input".
    let core = sample_source("go1.26").join("core.zst");
    let exe = sample_source("go1.26").join("mapzoo.zst");
    let (c, e) = (core.to_str().unwrap(), exe.to_str().unwrap());
    let piped = with_stdin(&["check", "-", c, "--exe", e, "--format", "json"], &bytes);
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    let piped: serde_json::Value = serde_json::from_str(&piped.stdout).unwrap();
    let direct: serde_json::Value =
        serde_json::from_str(&ok(&["check", &p, c, "--exe", e, "--format", "json"])).unwrap();
    assert_eq!(piped["profile"], "standard input");
    assert_eq!(
        piped["checks"].as_array().map(Vec::len),
        direct["checks"].as_array().map(Vec::len)
    );
    for (a, b) in piped["checks"]
        .as_array()
        .unwrap()
        .iter()
        .zip(direct["checks"].as_array().unwrap())
    {
        assert_eq!((&a["name"], &a["status"]), (&b["name"], &b["status"]));
    }
    // analyze --profile -: the same attribution as with the path.
    let dir = sample_source("go1.26");
    let d = dir.to_str().unwrap();
    let piped = with_stdin(
        &["analyze", d, "--profile", "-", "--format", "json"],
        &bytes,
    );
    assert_eq!(piped.code, 0, "{}", piped.stderr);
    let piped: serde_json::Value = serde_json::from_str(&piped.stdout).unwrap();
    let direct: serde_json::Value =
        serde_json::from_str(&ok(&["analyze", d, "--profile", &p, "--format", "json"])).unwrap();
    assert_eq!(
        piped["profile"]["inuse_space_total"],
        direct["profile"]["inuse_space_total"]
    );
    assert_eq!(
        piped["profile"]["attributed"],
        direct["profile"]["attributed"]
    );
    assert_eq!(
        piped["maps"][0]["inuse_space"],
        direct["maps"][0]["inuse_space"]
    );
    // Garbage on stdin: named "standard input", never a temporary.
    for args in [vec!["top", "-"], vec!["check", "-", c, "--exe", e]] {
        let bad = with_stdin(&args, b"not a profile at all");
        assert_eq!(bad.code, 2, "{args:?}: {}", bad.stderr);
        assert!(bad.stderr.contains("standard input"), "{}", bad.stderr);
        assert!(!bad.stderr.contains("mapscope-stdin"), "{}", bad.stderr);
    }
}

/// Tokens of a message that look like paths (contain a '/').
fn paths_in(message: &str) -> Vec<String> {
    message
        .split_whitespace()
        .map(|t| {
            t.trim_matches(|c: char| matches!(c, ':' | ',' | '(' | ')' | '`' | '\'' | '"' | ';'))
        })
        .filter(|t| t.contains('/'))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_truncated_zst_core_is_named_as_given_once() {
    let dir = scratch("trunc");
    let whole = std::fs::read(sample_source("go1.26").join("core.zst")).unwrap();
    let core = dir.join("core.zst");
    std::fs::write(&core, &whole[..whole.len() / 2]).unwrap();
    let exe = sample_source("go1.26").join("mapzoo.zst");
    let tmpdir = dir.join("scratch-tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let c = core.to_str().unwrap();
    for cmd in ["analyze", "regions", "heap", "maps", "goroutines"] {
        let out = Command::new(BIN)
            .args([cmd, c, "--exe", exe.to_str().unwrap()])
            .env("TMPDIR", &tmpdir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{cmd}: one line: {stderr}");
        assert_eq!(
            stderr.matches(c).count(),
            1,
            "{cmd}: names {c} once: {stderr}"
        );
        assert_eq!(
            paths_in(&stderr),
            vec![c.to_string()],
            "{cmd}: other paths: {stderr}"
        );
        assert!(
            !stderr.contains("scratch-tmp"),
            "{cmd}: names the temporary: {stderr}"
        );
    }
}

#[test]
fn a_missing_profile_is_named_once() {
    let missing = "/nonexistent-dir/heap.pb.gz";
    let out = mapscope(&["top", missing]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr.matches(missing).count(), 1, "{}", out.stderr);
}

#[test]
fn progress_writes_nothing_when_stderr_is_not_a_terminal() {
    // run_cli captures stderr through a pipe: not a terminal.
    let dir = sample_source("go1.26");
    let d = dir.to_str().unwrap();
    let out = mapscope(&["analyze", d, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr, "", "progress bytes on a piped stderr");
    let quiet = mapscope(&["analyze", d, "--format", "json", "-q"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert_eq!(quiet.stderr, "");
}

/// Every key of a JSON value, recursively (`registers`' keys are register
/// names, not fields).
fn json_keys(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                out.insert(k.clone());
                if k != "registers" {
                    json_keys(x, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| json_keys(x, out)),
        _ => {}
    }
}

#[test]
fn docs_name_every_flag_and_json_field() {
    let doc = std::fs::read_to_string(workspace_root().join("docs/cli.md")).unwrap();
    // Flags: every long option of every command's --help.
    for c in documented_commands() {
        let help = ok(&[c.as_str(), "--help"]);
        for word in help.split_whitespace() {
            let Some(flag) = word.strip_prefix("--") else {
                continue;
            };
            let flag: String = flag
                .chars()
                .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '-' || *ch == '_')
                .collect();
            if flag.is_empty() || ["help", "version"].contains(&flag.as_str()) {
                continue;
            }
            assert!(
                doc.contains(&format!("--{flag}")),
                "docs/cli.md lacks `{c} --{flag}`"
            );
        }
    }
    // JSON: every key every command prints on the shipped sample.
    let s = sample_source("go1.26");
    let (core, exe, prof) = (
        s.join("core.zst"),
        s.join("mapzoo.zst"),
        s.join("heap.pb.gz"),
    );
    let (c, e, p) = (
        core.to_str().unwrap(),
        exe.to_str().unwrap(),
        prof.to_str().unwrap(),
    );
    let dir = scratch("keys");
    let incident = dir.join("incidents/one");
    std::fs::create_dir_all(&incident).unwrap();
    for f in ["core.zst", "mapzoo.zst", "heap.pb.gz"] {
        std::fs::copy(s.join(f), incident.join(f)).unwrap();
    }
    let reports = dir.join("reports");
    let incidents = dir.join("incidents");
    let runs: Vec<Vec<&str>> = vec![
        vec!["top", p],
        vec!["regions", c, "--exe", e],
        vec!["check", p, c, "--exe", e],
        vec!["heap", c, "--exe", e],
        vec!["goroutines", c, "--exe", e],
        vec!["maps", c, "--exe", e],
        vec!["analyze", s.to_str().unwrap()],
        vec![
            "batch",
            incidents.to_str().unwrap(),
            "-o",
            reports.to_str().unwrap(),
            "--quiet",
        ],
    ];
    for args in runs {
        let mut a = args.clone();
        a.extend(["--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&ok(&a)).unwrap();
        let mut keys = std::collections::BTreeSet::new();
        json_keys(&v, &mut keys);
        let missing: Vec<&String> = keys
            .iter()
            .filter(|k| !doc.contains(&format!("\"{k}\"")))
            .collect();
        assert!(
            missing.is_empty(),
            "docs/cli.md lacks JSON fields of `{}`: {missing:?}",
            args[0]
        );
    }
}
