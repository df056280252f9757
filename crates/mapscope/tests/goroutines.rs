//! `mapscope goroutines` on the shipped incidents against the traceback the
//! Go runtime printed when the program aborted (`stderr.txt`,
//! `GOTRACEBACK=crash`) and the program's own `truth.json`.
//!
//! The human output prints each goroutine the way Go does, so the check is
//! textual: every `goroutine N [...]` block of the runtime's first section
//! (all goroutines; `goroutine 0` blocks are threads' system stacks and are
//! left to the library tests) must appear verbatim in ours once Go's extras
//! are normalized away — the `gp=`/`m=` header fields, the `, N minutes`
//! waiting time, the argument values (we print `(...)`), and the
//! ` fp= sp= pc=` suffix. Function, file, line and `+0x…` must agree on
//! every frame, and `created by` lines too.

use mapscope_testsupport::sample;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

use mapscope_testsupport::Run;

fn mapscope(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    mapscope_testsupport::run_cli(env!("CARGO_BIN_EXE_mapscope"), args)
}

/// Go's block normalized to what mapscope prints.
fn normalize_go_line(line: &str) -> String {
    if let Some(rest) = line.strip_prefix("goroutine ") {
        let (head, status) = rest.split_once(" [").unwrap();
        let id = head.split_whitespace().next().unwrap();
        let status: Vec<&str> = status
            .trim_end_matches("]:")
            .split(", ")
            .filter(|p| !p.ends_with(" minutes") && !p.ends_with(" minute"))
            .collect();
        return format!("goroutine {id} [{}]:", status.join(", "));
    }
    if let Some(pos) = line.strip_prefix('\t') {
        return format!("\t{}", pos.split(" fp=").next().unwrap());
    }
    if line.starts_with("created by ") {
        return line.to_string();
    }
    match line.rfind('(') {
        Some(i) => format!("{}(...)", &line[..i]),
        None => line.to_string(),
    }
}

/// `goroutine N` → its block, from the runtime's first section.
fn go_blocks(stderr: &str) -> BTreeMap<u64, String> {
    let first = stderr.split("\n-----\n").next().unwrap();
    let mut blocks = BTreeMap::new();
    for block in first.split("\n\n") {
        let Some(start) = block.find("goroutine ") else {
            continue;
        };
        let block = &block[start..];
        let id: u64 = block["goroutine ".len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if id == 0 {
            continue;
        }
        let lines: Vec<String> = block
            .lines()
            // The register dump after the last block.
            .take_while(|l| !l.starts_with("rax "))
            .map(normalize_go_line)
            .collect();
        blocks.insert(id, lines.join("\n"));
    }
    blocks
}

/// Our traceback (the code block of the Markdown output), per goroutine.
fn our_blocks(markdown: &str) -> BTreeMap<u64, String> {
    let start = markdown.find("# Traceback").expect("traceback heading");
    let body = &markdown[start..];
    let code = body.split("```").nth(1).expect("code block");
    let mut blocks = BTreeMap::new();
    for block in code.trim_matches('\n').split("\n\n") {
        let id: u64 = block["goroutine ".len()..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap();
        blocks.insert(id, block.trim_end().to_string());
    }
    blocks
}

fn check_sample(name: &str) {
    let s = sample(name);
    let r = mapscope(&[
        &"goroutines",
        &s.core,
        &"--exe",
        &s.exe,
        &"--format",
        &"markdown",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ours = our_blocks(&r.stdout);
    let theirs = go_blocks(&s.text("stderr.txt"));
    assert!(
        theirs.len() >= 8,
        "{name}: traceback parsed {} goroutines",
        theirs.len()
    );
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "{name}: goroutine ids"
    );
    for (id, block) in &theirs {
        assert_eq!(&ours[id], block, "{name}: goroutine {id}");
    }
}

#[test]
fn go1_22_traceback_matches_the_runtime() {
    check_sample("go1.22");
}

#[test]
fn go1_26_traceback_matches_the_runtime() {
    check_sample("go1.26");
}

/// JSON per cli.md; the goroutine truth.json names holds the stack-only
/// map in a `main.stackOnlyWorker` frame, waiting on `chan receive`.
#[test]
fn json_lists_the_stack_only_worker() {
    for name in ["go1.22", "go1.26-gcore"] {
        let s = sample(name);
        let truth = s.truth();
        let r = mapscope(&[
            &"goroutines",
            &s.core,
            &"--exe",
            &s.exe,
            &"--format",
            &"json",
            &"--locals",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let worker = truth["goroutines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["function"] == "main.stackOnlyWorker")
            .unwrap();
        let id = worker["id"].as_u64().unwrap();
        let g = v["goroutines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"].as_u64() == Some(id))
            .unwrap_or_else(|| panic!("{name}: goroutine {id} missing"));
        assert_eq!(g["status"], "waiting");
        assert_eq!(g["wait_reason"], worker["waits_on"]);
        for key in ["stack_lo", "stack_hi", "g"] {
            assert!(g[key].as_str().unwrap().starts_with("0x"), "{key}");
        }
        let frames = g["frames"].as_array().unwrap();
        let frame = frames
            .iter()
            .find(|f| f["function"] == "main.stackOnlyWorker")
            .unwrap_or_else(|| panic!("{name}: no worker frame"));
        for key in ["file", "line", "pc", "sp", "inlined"] {
            assert!(!frame[key].is_null(), "{key}");
        }
        // The local `m` holds the map truth.json recorded.
        let map = truth["maps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["root_kind"] == "goroutine")
            .unwrap();
        let local = frame["locals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == map["local"] && l["type"] == map["type"])
            .unwrap_or_else(|| panic!("{name}: no local {}", map["local"]));
        assert!(local["address"].as_str().unwrap().starts_with("0x"));
        let stack = (
            hex(g["stack_lo"].as_str().unwrap()),
            hex(g["stack_hi"].as_str().unwrap()),
        );
        let slot = hex(local["address"].as_str().unwrap());
        assert!(
            stack.0 <= slot && slot < stack.1,
            "{name}: slot outside the stack"
        );
    }
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

#[test]
fn csv_has_one_row_per_goroutine() {
    let s = sample("go1.22");
    let r = mapscope(&[
        &"goroutines",
        &s.core,
        &"--exe",
        &s.exe,
        &"--format",
        &"csv",
        &"--table",
        &"goroutines",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let header = r.stdout.lines().next().unwrap();
    assert!(header.starts_with("id,status,frames,function"), "{header}");
    let ids: Vec<&str> = r
        .stdout
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids.len(), go_blocks(&s.text("stderr.txt")).len());
}

#[test]
fn unreadable_core_exits_2_naming_the_file() {
    let r = mapscope(&[&"goroutines", &Path::new("/nonexistent/core")]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("/nonexistent/core"), "{}", r.stderr);
}
