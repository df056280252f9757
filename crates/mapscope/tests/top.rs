//! `mapscope top` against the truth: what `go tool pprof -top` printed for
//! the same profiles (committed next to them by scripts/gen-profiles.sh and
//! scripts/gen-samples.sh), and bad inputs.

use mapscope_testsupport::Run;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn mapscope(args: &[&str]) -> Run {
    let args: Vec<&dyn AsRef<std::ffi::OsStr>> = args
        .iter()
        .map(|a| a as &dyn AsRef<std::ffi::OsStr>)
        .collect();
    mapscope_testsupport::run_cli(env!("CARGO_BIN_EXE_mapscope"), &args)
}

fn stdout_ok(args: &[&str]) -> String {
    let out = mapscope(args);
    assert_eq!(out.code, 0, "mapscope {args:?} failed: {}", out.stderr);
    out.stdout
}

/// The mapscope flags equivalent to a pprof command line.
fn translate(pprof_flags: &[&str]) -> Vec<String> {
    let mut args = Vec::new();
    let mut fraction = "0.005".to_string(); // pprof's default -nodefraction
    for flag in pprof_flags {
        let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
        match name {
            "-unit" => args.extend(["--unit".to_string(), value.to_string()]),
            "-nodefraction" => fraction = value.to_string(),
            "-nodecount" => args.extend(["--nodecount".to_string(), value.to_string()]),
            "-sample_index" => args.extend(["--sample-index".to_string(), value.to_string()]),
            "-cum" => args.push("--cum".to_string()),
            other => panic!("unknown pprof flag {other} in cases.txt"),
        }
    }
    args.extend(["--node-fraction".to_string(), fraction]);
    args
}

/// pprof before 2023 printed times as "Jan 2, 2006 at 3:04pm (MST)"; we
/// print the newer "2006-01-02 15:04:05 MST". Compare such a line loosely.
fn normalize_time(expected: &str, actual: &str) -> (String, String) {
    let old_layout =
        |l: &str| l.starts_with("Time: ") && l.as_bytes().get(10).is_none_or(|&b| b != b'-');
    let mut e: Vec<&str> = expected.lines().collect();
    let mut a: Vec<&str> = actual.lines().collect();
    if let Some(i) = e.iter().position(|l| old_layout(l)) {
        assert!(
            a.get(i).is_some_and(|l| l.starts_with("Time: ")),
            "no Time line in\n{actual}"
        );
        e[i] = "Time: (old pprof layout)";
        a[i] = "Time: (old pprof layout)";
    }
    (e.join("\n"), a.join("\n"))
}

/// One row of pprof's -top text: (function, flat, cum), values exact.
fn parse_rows(text: &str) -> Vec<(String, i64, i64)> {
    let mut rows = Vec::new();
    let mut in_rows = false;
    for line in text.lines() {
        if line.trim_start().starts_with("flat  flat%") {
            in_rows = true;
            continue;
        }
        if !in_rows {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        assert!(tokens.len() >= 6, "bad pprof row {line:?}");
        let mut name = tokens[5..].join(" ");
        for label in [" (inline)", " (partial-inline)"] {
            if let Some(n) = name.strip_suffix(label) {
                name = n.to_string();
            }
        }
        rows.push((name, exact(tokens[0]), exact(tokens[3])));
    }
    rows
}

/// "1234B" or "0" (pprof's -unit=B) as an integer.
fn exact(v: &str) -> i64 {
    v.strip_suffix('B')
        .unwrap_or(v)
        .parse()
        .unwrap_or_else(|_| panic!("not an exact value: {v}"))
}

/// "Showing nodes accounting for XB, P% of YB total" → (X, Y).
fn parse_totals(text: &str) -> (i64, i64) {
    let line = text
        .lines()
        .find(|l| l.starts_with("Showing nodes accounting for "))
        .expect("totals line");
    let rest = line.trim_start_matches("Showing nodes accounting for ");
    let (shown, rest) = rest.split_once(", ").unwrap();
    let total = rest
        .split(" of ")
        .nth(1)
        .unwrap()
        .trim_end_matches(" total");
    (exact(shown), exact(total))
}

fn inline_functions(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.ends_with(" (inline)") || l.ends_with(" (partial-inline)"))
        .filter_map(|l| l.split_whitespace().nth(5).map(str::to_string))
        .collect()
}

fn json_rows(args: &[String]) -> (serde_json::Value, Vec<(String, i64, i64)>) {
    let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
    a.extend(["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout_ok(&a)).expect("json");
    let rows = v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["function"].as_str().unwrap().to_string(),
                r["flat"].as_i64().unwrap(),
                r["cum"].as_i64().unwrap(),
            )
        })
        .collect();
    (v, rows)
}

/// Runs every case of one samples/profiles directory; returns how many.
fn check_cases_dir(dir: &Path) -> usize {
    let cases = std::fs::read_to_string(dir.join("cases.txt")).expect("cases.txt");
    let mut count = 0;
    for line in cases.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (output, input, flags) = (fields[0], fields[1], &fields[2..]);
        let expected = std::fs::read_to_string(dir.join(output)).expect("pprof output");
        let input_path = dir.join(input).to_string_lossy().into_owned();
        let mut args = vec!["top".to_string(), input_path];
        args.extend(translate(flags));
        let what = format!("{} ({line})", dir.display());
        let exact_unit = flags.contains(&"-unit=B");

        if input.ends_with(".pb.gz") {
            // The whole text, byte for byte.
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let actual = stdout_ok(&a);
            let (e, a) = normalize_time(&expected, &actual);
            assert_eq!(a, e, "{what}: text differs from pprof");
            // -unit=B prints time units in seconds: exact only for bytes/counts.
            if exact_unit && !output.contains(".delay.") {
                let (json, rows) = json_rows(&args);
                assert_eq!(rows, parse_rows(&expected), "{what}: JSON rows");
                assert_eq!(
                    json["total"].as_i64().unwrap(),
                    parse_totals(&expected).1,
                    "{what}: JSON total"
                );
            }
        } else {
            // Legacy text: pprof symbolizes with the executable (physical
            // functions only); we use the runtime's own frame lines. The
            // totals must agree exactly, and so must cum of every function
            // that is never inlined.
            assert!(exact_unit, "legacy cases use -unit=B");
            let (json, rows) = json_rows(&args);
            let (pprof_shown, pprof_total) = parse_totals(&expected);
            assert_eq!(
                json["total"].as_i64().unwrap(),
                pprof_total,
                "{what}: total"
            );
            let shown: i64 = rows.iter().map(|r| r.1).sum();
            assert_eq!(shown, pprof_shown, "{what}: sum of flat");
            let pb_output = output.replace("pprof-top-legacy.", "pprof-top.");
            let inlined = std::fs::read_to_string(dir.join(pb_output))
                .map(|t| inline_functions(&t))
                .unwrap_or_default();
            let mut compared = 0;
            for (name, _, pprof_cum) in parse_rows(&expected) {
                if inlined.contains(&name) {
                    continue;
                }
                if let Some(ours) = rows.iter().find(|r| r.0 == name) {
                    assert_eq!(ours.2, pprof_cum, "{what}: cum of {name}");
                    compared += 1;
                }
            }
            assert!(compared >= 3, "{what}: only {compared} functions compared");
            eprintln!(
                "{what}: legacy cum compared for {compared} of {} functions",
                rows.len()
            );
        }
        count += 1;
    }
    count
}

#[test]
fn top_equals_go_tool_pprof_on_generated_profiles() {
    let root = repo().join("samples/profiles");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("samples/profiles")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("cases.txt").is_file())
        .collect();
    dirs.sort();
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for v in 21..=27 {
        for variant in ["", "-rate4096"] {
            let want = format!("go1.{v}{variant}");
            assert!(names.contains(&want), "missing samples/profiles/{want}");
        }
    }
    assert!(names.contains(&"synthetic".to_string()));
    let mut total = 0;
    for dir in &dirs {
        total += check_cases_dir(dir);
    }
    eprintln!(
        "{total} pprof outputs compared in {} directories",
        dirs.len()
    );
    assert!(total >= 14 * 12, "only {total} cases");
}

/// The shipped incidents (samples/go1.*): pprof-top*.txt made with
/// `-unit=B -nodefraction=0 -nodecount=100000` by the samples generator.
fn check_incident(dir: &Path) -> usize {
    let mut count = 0;
    for (file, index) in [
        ("pprof-top.txt", "inuse_space"),
        ("pprof-top-inuse_objects.txt", "inuse_objects"),
        ("pprof-top-alloc_space.txt", "alloc_space"),
        ("pprof-top-alloc_objects.txt", "alloc_objects"),
    ] {
        let Ok(expected) = std::fs::read_to_string(dir.join(file)) else {
            continue;
        };
        let profile = dir.join("heap.pb.gz").to_string_lossy().into_owned();
        let actual = stdout_ok(&["top", &profile, "--sample-index", index, "--unit", "B"]);
        let (e, a) = normalize_time(&expected, &actual);
        assert_eq!(a, e, "{}: {file}", dir.display());
        count += 1;
    }
    // The legacy text profile of the same moment: pprof's totals.
    if let (Ok(expected), true) = (
        std::fs::read_to_string(dir.join("pprof-top-legacy.txt")),
        dir.join("heap.txt").is_file(),
    ) {
        let text = dir.join("heap.txt").to_string_lossy().into_owned();
        let v: serde_json::Value =
            serde_json::from_str(&stdout_ok(&["top", &text, "--format", "json"])).expect("json");
        let (shown, total) = parse_totals(&expected);
        assert_eq!(
            v["total"].as_i64().unwrap(),
            total,
            "{}: legacy total",
            dir.display()
        );
        let flat: i64 = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["flat"].as_i64().unwrap())
            .sum();
        assert_eq!(flat, shown, "{}: legacy sum of flat", dir.display());
        count += 1;
    }
    count
}

#[test]
fn top_equals_go_tool_pprof_on_shipped_incidents() {
    let root = repo().join("samples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&root).expect("samples").flatten() {
        let dir = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("go1.") && dir.join("heap.pb.gz").is_file() {
            checked += check_incident(&dir);
        }
    }
    eprintln!("{checked} pprof outputs of shipped incidents compared");
    assert!(checked >= 4, "no shipped incident was checked");
}

/// The corpus's incidents (every Go version and variant, scripts/gen-corpus.sh):
/// `MAPSCOPE_CORPUS=DIR cargo test -p mapscope --test top -- --ignored`.
#[test]
#[ignore = "needs the incident corpus: MAPSCOPE_CORPUS=DIR (scripts/gen-corpus.sh)"]
fn top_equals_go_tool_pprof_on_external_incidents() {
    use mapscope_testsupport::corpus;
    let mut compared = 0;
    for kind in ["mapzoo", "extra-roots", "stripped"] {
        let mut checked = Vec::new();
        for dir in corpus::incidents(kind) {
            let n = check_incident(&dir);
            assert!(n >= 5, "{}: only {n} pprof outputs", dir.display());
            compared += n;
            checked.push(corpus::name(&dir));
        }
        corpus::assert_checked(kind, &checked, &[]);
    }
    eprintln!("{compared} pprof outputs of corpus incidents compared");
}

#[test]
fn json_is_the_documented_shape() {
    let p = repo().join("samples/profiles/go1.26/heap.pb.gz");
    let out = stdout_ok(&["top", p.to_str().unwrap(), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["sample_type"], "inuse_space");
    assert_eq!(v["unit"], "bytes");
    assert!(v["total"].as_i64().unwrap() > 0);
    let row = &v["rows"][0];
    for key in ["function", "flat", "flat_pct", "sum_pct", "cum", "cum_pct"] {
        assert!(row.get(key).is_some(), "row lacks {key}: {row}");
    }
    assert!(row["flat"].is_i64() && row["cum"].is_i64());
}

#[test]
fn other_formats_and_output_file() {
    let p = repo().join("samples/profiles/go1.22/heap.pb.gz");
    let p = p.to_str().unwrap();
    let md = stdout_ok(&["top", p, "--format", "markdown", "--nodecount", "3"]);
    assert!(md.starts_with("# Top functions by inuse_space"), "{md}");
    assert!(
        md.contains("| flat | flat% | sum% | cum | cum% | function | inline |"),
        "{md}"
    );
    assert!(md.contains("Showing top 3 nodes out of"), "{md}");
    let csv = stdout_ok(&["top", p, "--format", "csv", "--cum"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("flat,flat_pct,sum_pct,cum,cum_pct,function,inline")
    );
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert!(first[3].parse::<i64>().is_ok(), "{csv}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("top.json");
    let out = mapscope(&["top", p, "--format", "json", "-o", file.to_str().unwrap()]);
    assert!(out.code == 0 && out.stdout.is_empty());
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(v["rows"].as_array().unwrap().len() > 5);
}

#[test]
fn plain_legacy_text_and_raw_protobuf_are_read() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("samples/profiles/go1.24");
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(src.join("heap.txt.gz")).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    let txt = dir.path().join("heap.txt");
    std::fs::write(&txt, &text).unwrap();
    let expected = std::fs::read_to_string(src.join("pprof-top-legacy.inuse_space.txt")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&stdout_ok(&[
        "top",
        txt.to_str().unwrap(),
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(v["total"].as_i64().unwrap(), parse_totals(&expected).1);

    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(src.join("heap.pb.gz")).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    let pb = dir.path().join("heap.pb");
    std::fs::write(&pb, &raw).unwrap();
    let expected = std::fs::read_to_string(src.join("pprof-top.inuse_space.txt")).unwrap();
    let actual = stdout_ok(&["top", pb.to_str().unwrap(), "--unit", "B"]);
    assert_eq!(actual, expected);
}

/// Runs `mapscope top` on a bad input: exit 2, one line on stderr that names
/// the file and says `what`.
fn assert_bad_input(path: &Path, extra: &[&str], what: &str) {
    let p = path.to_str().unwrap();
    let mut args = vec!["top", p];
    args.extend(extra);
    let out = mapscope(&args);
    let stderr = &out.stderr;
    assert_eq!(out.code, 2, "{p}: {stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.starts_with("mapscope: "), "{stderr}");
    assert!(stderr.contains(p), "message does not name {p}: {stderr}");
    assert!(stderr.contains(what), "expected {what:?} in {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_inputs_exit_2_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = std::fs::read(repo().join("samples/profiles/go1.26/heap.pb.gz")).unwrap();

    std::fs::write(d.join("notes.txt"), "this is a text file, not a profile\n").unwrap();
    assert_bad_input(&d.join("notes.txt"), &[], "not a pprof profile");

    std::fs::write(
        d.join("random.bin"),
        [0xffu8, 0xfe, 0x00, 0x13, 0x37, 0x99, 0x07, 0x01].repeat(64),
    )
    .unwrap();
    assert_bad_input(&d.join("random.bin"), &[], "protobuf");

    std::fs::write(d.join("cut.pb.gz"), &good[..good.len() / 2]).unwrap();
    assert_bad_input(&d.join("cut.pb.gz"), &[], "truncated");

    let mut raw = Vec::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(&good[..])
        .read_to_end(&mut raw)
        .unwrap();
    std::fs::write(d.join("cut.pb"), &raw[..raw.len() - 7]).unwrap();
    assert_bad_input(&d.join("cut.pb"), &[], "");

    std::fs::write(d.join("empty.pb.gz"), b"").unwrap();
    assert_bad_input(&d.join("empty.pb.gz"), &[], "empty file");

    assert_bad_input(d, &[], "is a directory");
    assert_bad_input(&d.join("missing.pb.gz"), &[], "No such file");

    // Sample types "space"/"bytes" but no sample (hand-encoded protobuf).
    let mut zero = vec![0x0a, 0x04, 0x08, 0x01, 0x10, 0x02, 0x32, 0x00];
    for s in ["space", "bytes"] {
        zero.extend([0x32, s.len() as u8]);
        zero.extend(s.as_bytes());
    }
    std::fs::write(d.join("zero.pb"), &zero).unwrap();
    assert_bad_input(&d.join("zero.pb"), &[], "no samples");

    let good_path = repo().join("samples/profiles/go1.26/heap.pb.gz");
    assert_bad_input(
        &good_path,
        &["--sample-index", "bogus"],
        "unknown sample index \"bogus\"",
    );
    assert_bad_input(&good_path, &["--sample-index", "9"], "outside the range");

    std::fs::write(
        d.join("bad-legacy.txt"),
        "heap profile: 1: 1 [1: 1] @ heap/2\nnot a sample\n",
    )
    .unwrap();
    assert_bad_input(
        &d.join("bad-legacy.txt"),
        &[],
        "malformed legacy heap profile",
    );
}
