//! `mapscope batch --shard K/N` and `mapscope batch-merge` over a tree of
//! incidents built from the shipped samples (docs/batch.md): the merged
//! shards equal one unsharded batch, shard membership is the documented
//! hash (expected sets computed outside mapscope), adding incidents moves
//! no other one, inconsistent shards are refused, and the GNU parallel,
//! Slurm and Kubernetes recipes of docs/batch.md run as written.
//! Heap numbers are also checked against each sample's truth.json.

use mapscope_testsupport::{link, run_cli, sample, truth_top_map, workspace_root, Sample};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mapscope");

fn incident(dir: &Path, s: &Sample, compressed: bool) {
    if compressed {
        link(&s.source.join("core.zst"), dir, "core.zst");
        link(&s.source.join("mapzoo.zst"), dir, "mapzoo.zst");
    } else {
        link(&s.core, dir, "core");
        link(&s.exe, dir, "mapzoo");
    }
    link(&s.profile, dir, "heap.pb.gz");
}

/// Five analysable incidents, a truncated core (`partial` or `failed`), a
/// directory with two cores (`failed`) and a notes folder (`skipped`).
/// Their shards of 3, from FNV-1a 64 + fmix64 computed in Python
/// (docs/batch.md): 0 {staging/svc-d-go126, two-cores}, 1 {prod/svc-a-go122,
/// prod/svc-b-go126, team/night/svc-e-go126}, 2 {notes,
/// staging/svc-c-go122, truncated}.
fn tree(root: &Path) {
    let old = sample("go1.22");
    let new = sample("go1.26");
    incident(&root.join("prod/svc-a-go122"), &old, false);
    incident(&root.join("prod/svc-b-go126"), &new, true);
    incident(&root.join("staging/svc-c-go122"), &old, false);
    incident(&root.join("staging/svc-d-go126"), &new, false);
    incident(&root.join("team/night/svc-e-go126"), &new, false);
    let d = root.join("truncated");
    let core = std::fs::read(&new.core).unwrap();
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("core"), &core[..core.len() / 3]).unwrap();
    link(&new.exe, &d, "mapzoo");
    link(&old.core, &root.join("two-cores"), "core.1");
    link(&new.core, &root.join("two-cores"), "core.2");
    std::fs::create_dir_all(root.join("notes")).unwrap();
    std::fs::write(root.join("notes/README.txt"), "postmortem notes\n").unwrap();
}

const SHARDS_OF_3: [&[&str]; 3] = [
    &["staging/svc-d-go126", "two-cores"],
    &[
        "prod/svc-a-go122",
        "prod/svc-b-go126",
        "team/night/svc-e-go126",
    ],
    &["notes", "staging/svc-c-go122", "truncated"],
];

fn json_file(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p:?}: {e}")))
        .unwrap()
}

fn names(summary: &Value) -> Vec<String> {
    summary["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

/// The rows without what legitimately differs between runs (per-row
/// `seconds`, docs/batch.md).
fn rows(summary: &Value) -> Vec<Value> {
    summary["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("seconds");
            r
        })
        .collect()
}

/// The merged summary equals the unsharded one: every row field but
/// `seconds`, the order, `root` and `shard` (null); `jobs`/`seconds` are
/// the sums over `merged_from`.
fn assert_same_summary(merged: &Value, unsharded: &Value, shards: usize) {
    assert_eq!(rows(merged), rows(unsharded));
    assert_eq!(merged["root"], unsharded["root"]);
    assert!(merged["shard"].is_null() && unsharded["shard"].is_null());
    let from = merged["merged_from"].as_array().unwrap();
    assert_eq!(from.len(), shards);
    let jobs: u64 = from.iter().map(|s| s["jobs"].as_u64().unwrap()).sum();
    assert_eq!(merged["jobs"].as_u64().unwrap(), jobs);
    assert!(unsharded.get("merged_from").is_none());
}

fn batch(root: &Path, out: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"batch",
        &root,
        &"-o",
        &out,
        &"--format",
        &"json",
        &"--quiet",
    ];
    for e in extra {
        args.push(e);
    }
    let r = run_cli(BIN, &args);
    let v = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stderr));
    (r.code, v)
}

#[test]
fn sharded_batch_and_merge_equal_one_unsharded_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("incidents");
    tree(&root);
    // Unsharded and sharded runs share one OUTDIR, as docs/batch.md says:
    // then even `report_dir` is the same.
    let reports = tmp.path().join("reports");
    let (code, unsharded) = batch(&root, &reports, &["--jobs", "2"]);
    assert_eq!(code, 1, "two-cores fails");
    assert_eq!(names(&unsharded).len(), 8);

    for (k, want) in SHARDS_OF_3.iter().enumerate() {
        let shard = format!("{k}/3");
        let (code, s) = batch(&root, &reports, &["--shard", shard.as_str()]);
        assert_eq!(names(&s), *want, "shard {shard}");
        let failed = s["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == "failed");
        assert_eq!(
            failed,
            k == 0 || code == 1,
            "shard {shard}: two-cores is in 0"
        );
        assert_eq!(code, i32::from(failed), "shard {shard}");
        assert_eq!(s["shard"]["index"], k);
        assert_eq!(s["shard"]["count"], 3);
        let kept = json_file(&reports.join(format!("summary.shard-{k}-of-3.json")));
        assert_eq!(rows(&kept), rows(&s));
    }

    let merged_file = tmp.path().join("merged.json");
    let r = run_cli(
        BIN,
        &[
            &"batch-merge",
            &reports,
            &"-o",
            &merged_file,
            &"--format",
            &"json",
        ],
    );
    assert_eq!(r.code, 1, "exits as the unsharded batch: {}", r.stderr);
    let merged: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json_file(&merged_file), merged);
    assert_same_summary(&merged, &unsharded, 3);
    // The unsharded summary.json beside the shard files is not merged.
    assert!(merged["merged_from"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["file"].as_str().unwrap().contains("summary.shard-")));

    // Same totals in the table heading as the unsharded batch's table.
    let heading = |out: &str| {
        out.lines()
            .find(|l| l.contains("incidents:"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no heading in {out}"))
    };
    let merged_table = run_cli(BIN, &[&"batch-merge", &reports]);
    assert_eq!(merged_table.code, 1);
    let table_out = tmp.path().join("table-out");
    let table = run_cli(BIN, &[&"batch", &root, &"-o", &table_out, &"--quiet"]);
    assert_eq!(table.code, 1);
    assert_eq!(heading(&merged_table.stdout), heading(&table.stdout));
    assert!(heading(&table.stdout).contains("5 ok"), "{}", table.stdout);

    // The numbers themselves, against the samples' truth.
    let row = |name: &str| {
        merged["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    for (name, s) in [
        ("prod/svc-a-go122", sample("go1.22")),
        ("prod/svc-b-go126", sample("go1.26")),
    ] {
        let r = row(name);
        assert_eq!(r["status"], "ok");
        let heap = r["heap_in_use_bytes"].as_u64().unwrap();
        let alloc = s.truth()["memstats"]["HeapAlloc"].as_u64().unwrap();
        assert!(
            heap.abs_diff(alloc) as f64 <= alloc as f64 * 0.01,
            "{name}: heap {heap} vs truth HeapAlloc {alloc}"
        );
        let (top, retained) = truth_top_map(&s);
        assert_eq!(r["top_map"], top.as_str());
        let got = r["top_map_retained_bytes"].as_u64().unwrap();
        assert!(
            got.abs_diff(retained) as f64 <= retained as f64 * 0.05,
            "{name}: {got} vs truth {retained}"
        );
    }
    assert_ne!(row("truncated")["status"], "ok");
    assert_eq!(row("two-cores")["status"], "failed");
    assert_eq!(row("notes")["status"], "skipped");

    // Incidents arrive (one sorting first): no existing incident changes
    // shard; the new ones land where the hash says (Python: both 0 of 3).
    let old = sample("go1.22");
    incident(&root.join("aaa-first-new"), &old, false);
    incident(&root.join("prod/svc-f-go122-new"), &old, false);
    let grown = tmp.path().join("grown");
    for (k, before) in SHARDS_OF_3.iter().enumerate() {
        let shard = format!("{k}/3");
        let (_, s) = batch(&root, &grown, &["--shard", shard.as_str()]);
        let now = names(&s);
        let kept: Vec<&str> = now
            .iter()
            .map(String::as_str)
            .filter(|n| !n.contains("-new"))
            .collect();
        assert_eq!(kept, *before, "shard {k}");
        let added: Vec<&str> = now
            .iter()
            .map(String::as_str)
            .filter(|n| n.contains("-new"))
            .collect();
        let want: Vec<&str> = if k == 0 {
            vec!["aaa-first-new", "prod/svc-f-go122-new"]
        } else {
            vec![]
        };
        assert_eq!(added, want, "shard {k}");
    }
    let r = run_cli(BIN, &[&"batch-merge", &grown, &"--format", &"json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(names(&v).len(), 10);
}

/// A tree of directories that are not incidents: cheap shards.
fn notes_tree(root: &Path, n: usize) {
    for i in 0..n {
        let d = root.join(format!("notes-{i:02}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("README.txt"), "notes\n").unwrap();
    }
}

#[test]
fn merge_refuses_inconsistent_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("incidents");
    notes_tree(&root, 12);
    let out = tmp.path().join("out");
    for k in 0..3 {
        let (code, _) = batch(&root, &out, &["--shard", &format!("{k}/3")]);
        assert_eq!(code, 0);
    }
    let shard_file = |k: usize| out.join(format!("summary.shard-{k}-of-3.json"));
    let merge = |args: &[&dyn AsRef<std::ffi::OsStr>]| {
        let mut a: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"batch-merge"];
        a.extend_from_slice(args);
        a.push(&"--format");
        a.push(&"json");
        run_cli(BIN, &a)
    };

    // The directory and one of its files again: read once.
    let r = merge(&[&out, &shard_file(1)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(names(&v).len(), 12);

    // A missing shard.
    let r = merge(&[&shard_file(0), &shard_file(2)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing shard(s) 1 of 3"), "{}", r.stderr);

    // The same shard from two files.
    let copy = tmp.path().join("copy.json");
    std::fs::copy(shard_file(1), &copy).unwrap();
    let r = merge(&[&out, &copy]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("shard 1/3 twice"), "{}", r.stderr);

    // A shard of another N.
    let other = tmp.path().join("other");
    batch(&root, &other, &["--shard", "0/2"]);
    let r = merge(&[&out, &other.join("summary.shard-0-of-2.json")]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("of 2 shards") || r.stderr.contains("of 3 shards"),
        "{}",
        r.stderr
    );

    // An incident in a shard it does not hash to (moved by hand).
    let moved = tmp.path().join("moved");
    std::fs::create_dir_all(&moved).unwrap();
    let mut s0 = json_file(&shard_file(0));
    let mut s1 = json_file(&shard_file(1));
    let row = s1["incidents"].as_array_mut().unwrap().remove(0);
    let name = row["name"].as_str().unwrap().to_string();
    s0["incidents"].as_array_mut().unwrap().push(row);
    std::fs::write(moved.join("summary.shard-0-of-3.json"), s0.to_string()).unwrap();
    std::fs::write(moved.join("summary.shard-1-of-3.json"), s1.to_string()).unwrap();
    std::fs::copy(shard_file(2), moved.join("summary.shard-2-of-3.json")).unwrap();
    let r = merge(&[&moved]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains(&format!("incident {name} belongs to shard 1/3")),
        "{}",
        r.stderr
    );

    // Not a summary; no summary in a directory.
    let junk = tmp.path().join("junk.json");
    std::fs::write(&junk, "{\"incidents\": 3}").unwrap();
    let r = merge(&[&junk]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("junk.json: not a mapscope batch summary"),
        "{}",
        r.stderr
    );
    let r = merge(&[&root]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no summary"), "{}", r.stderr);

    // K is 0-based.
    let r = run_cli(BIN, &[&"batch", &root, &"--shard", &"3/3"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("0-based"), "{}", r.stderr);

    // A shard that owns nothing still writes its summary.
    let few = tmp.path().join("few");
    notes_tree(&few, 1);
    let few_out = tmp.path().join("few-out");
    for k in 0..8 {
        batch(&few, &few_out, &["--shard", &format!("{k}/8")]);
    }
    let r = merge(&[&few_out]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

// ---- docs/batch.md, executed ----

/// The fenced block after `<!-- test: NAME -->` in docs/batch.md.
fn documented(name: &str) -> String {
    let doc = std::fs::read_to_string(workspace_root().join("docs/batch.md")).unwrap();
    let marker = format!("<!-- test: {name} -->");
    let after = &doc[doc
        .find(&marker)
        .unwrap_or_else(|| panic!("{marker} missing"))..];
    let start = after.find("```").unwrap();
    let body = &after[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_string()
}

/// The documented merge line (the same everywhere in docs/batch.md).
fn merge_line() -> String {
    let doc = std::fs::read_to_string(workspace_root().join("docs/batch.md")).unwrap();
    let lines: Vec<&str> = doc
        .lines()
        .filter(|l| l.starts_with("mapscope batch-merge /srv"))
        .collect();
    assert!(lines.len() >= 3, "{lines:?}");
    assert!(lines.iter().all(|l| *l == lines[0]), "{lines:?}");
    lines[0].to_string()
}

fn with_paths(text: &str, root: &Path, reports: &Path) -> String {
    text.replace("/srv/incidents", root.to_str().unwrap())
        .replace("/srv/reports", reports.to_str().unwrap())
}

/// `sh -c SCRIPT` with the mapscope under test first on PATH.
fn sh(script: &str, env: &[(&str, String)]) -> std::process::Output {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("sh");
    c.arg("-c").arg(script).env("PATH", path);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Runs `shards` (the documented recipe) into a fresh reports directory
/// beside an unsharded batch of the same tree, then the documented merge
/// line; the merged summary must equal the unsharded one.
fn check_recipe(name: &str, shards: usize, run: impl Fn(&Path, &Path)) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("incidents");
    tree(&root);
    let reports = tmp.path().join("reports");
    let (_, unsharded) = batch(&root, &reports, &[]);
    run(&root, &reports);
    let files = std::fs::read_dir(&reports)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("summary.shard-")
        })
        .count();
    assert_eq!(files, shards, "{name}: one summary per shard");
    let out = sh(&with_paths(&merge_line(), &root, &reports), &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{name}: merge exits 1 (two-cores failed): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let merged = json_file(&reports.join("summary.json"));
    assert_same_summary(&merged, &unsharded, shards);
}

#[test]
fn documented_gnu_parallel_line_works() {
    let block = documented("parallel");
    let line = block
        .lines()
        .find(|l| l.starts_with("parallel "))
        .expect("a parallel line");
    let have_parallel = Command::new("parallel")
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("GNU parallel"));
    // `parallel OPTS 'CMD' ::: ARGS`: without GNU parallel, CMD runs once
    // per argument with {} replaced, as parallel runs it (through a shell).
    let cmd = &line[line.find('\'').unwrap() + 1..line.rfind("' :::").unwrap()];
    let args: Vec<String> = line[line.rfind(":::").unwrap() + 3..]
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(args, ["0", "1", "2", "3"]);
    assert!(cmd.contains("--shard {}/4"), "{cmd}");
    check_recipe("parallel", args.len(), |root, reports| {
        if have_parallel {
            let out = sh(&with_paths(line, root, reports), &[]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        } else {
            for a in &args {
                let out = sh(&with_paths(&cmd.replace("{}", a), root, reports), &[]);
                assert!(
                    out.status.success(),
                    "shard {a}: exit 1 counts as done: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    });
}

#[test]
fn documented_slurm_array_works() {
    let script = documented("slurm");
    let array = script
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --array="))
        .expect("#SBATCH --array=");
    let (a, b) = array.split_once('-').unwrap();
    let (first, last): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
    assert_eq!(first, 0, "the documented array is 0-based");
    check_recipe("slurm", last - first + 1, |root, reports| {
        let script = with_paths(&script, root, reports);
        for id in first..=last {
            // As Slurm sets them for each array task.
            let out = sh(
                &script,
                &[
                    ("SLURM_ARRAY_TASK_ID", id.to_string()),
                    ("SLURM_ARRAY_TASK_COUNT", (last - first + 1).to_string()),
                    ("SLURM_ARRAY_TASK_MIN", first.to_string()),
                    ("SLURM_ARRAY_TASK_MAX", last.to_string()),
                ],
            );
            assert!(
                out.status.success(),
                "task {id}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
}

/// A structural check of the block YAML used in docs/batch.md (no YAML
/// parser is a dependency): no tabs, two-space indentation that only
/// deepens under `key:` or inside a `- ` item, every line a `key: value`,
/// `key:` or `- item`. Returns `key: value` pairs by key path.
fn yaml_lines(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut prev: Option<(usize, bool)> = None; // (indent, may open)
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        assert!(!line.contains('\t'), "tab: {line:?}");
        let indent = line.len() - line.trim_start().len();
        assert_eq!(indent % 2, 0, "odd indentation: {line:?}");
        if let Some((p, opens)) = prev {
            assert!(
                indent <= p || (indent == p + 2 && opens),
                "bad indentation: {line:?}"
            );
        } else {
            assert_eq!(indent, 0);
        }
        let mut body = line.trim_start();
        let mut key_indent = indent;
        let item = body.starts_with("- ");
        if item {
            body = &body[2..];
            key_indent += 2;
        }
        let (key, value) = match body.split_once(':') {
            Some((k, v))
                if !k.is_empty()
                    && k.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                    && (v.is_empty() || v.starts_with(' ')) =>
            {
                (Some(k.to_string()), v.trim().to_string())
            }
            _ => {
                assert!(item, "neither key nor item: {line:?}");
                (None, body.to_string())
            }
        };
        while stack.last().is_some_and(|(i, _)| *i >= key_indent) {
            stack.pop();
        }
        let path: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
        let path = path.join(".");
        match key {
            Some(k) => {
                let full = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                out.push((full, value.clone()));
                if value.is_empty() {
                    stack.push((key_indent, k));
                }
            }
            None => out.push((format!("{path}[]"), value.clone())),
        }
        prev = Some((indent, value.is_empty() || item));
    }
    out
}

#[test]
fn documented_kubernetes_indexed_job_works() {
    let manifest = documented("kubernetes");
    let kv = yaml_lines(&manifest);
    let get = |k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{k} missing from {kv:?}"))
    };
    let top: Vec<&str> = kv
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !k.contains('.'))
        .collect();
    assert_eq!(top, ["apiVersion", "kind", "metadata", "spec"]);
    assert_eq!(get("apiVersion"), "batch/v1");
    assert_eq!(get("kind"), "Job");
    assert_eq!(get("spec.completionMode"), "Indexed");
    assert_eq!(get("spec.template.spec.restartPolicy"), "Never");
    let completions: usize = get("spec.completions").parse().unwrap();
    assert!(get("spec.parallelism").parse::<usize>().unwrap() <= completions);
    assert_eq!(
        get("spec.template.spec.containers.command"),
        r#"["/bin/sh", "-c"]"#
    );
    let args = get("spec.template.spec.containers.args[]");
    let args = args
        .strip_prefix('\'')
        .and_then(|a| a.strip_suffix('\''))
        .expect("args item single-quoted")
        .replace("''", "'");
    assert!(
        args.contains(&format!("--shard \"$JOB_COMPLETION_INDEX/{completions}\"")),
        "--shard's N is completions: {args}"
    );
    assert!(kv
        .iter()
        .any(|(k, v)| k.ends_with("volumeMounts.mountPath") && v == "/srv"));
    check_recipe("kubernetes", completions, |root, reports| {
        let cmd = with_paths(&args, root, reports);
        for index in 0..completions {
            // What the Job controller sets in pod `index`.
            let out = sh(&cmd, &[("JOB_COMPLETION_INDEX", index.to_string())]);
            assert!(
                out.status.success(),
                "pod {index}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
}

#[test]
fn yaml_check_rejects_bad_structure() {
    let bad = std::panic::catch_unwind(|| yaml_lines("a:\n    b: 1\n"));
    assert!(bad.is_err(), "indentation jumps by 4");
    let bad = std::panic::catch_unwind(|| yaml_lines("a:\n\tb: 1\n"));
    assert!(bad.is_err(), "tab");
    let ok = yaml_lines("a:\n  b: 1\n  c:\n    - name: x\n      d: 2\n");
    assert!(
        ok.contains(&("a.c.d".to_string(), "2".to_string())),
        "{ok:?}"
    );
}
