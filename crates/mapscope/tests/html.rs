//! `mapscope analyze --format html`: one self-contained page whose treemap
//! rectangles are the report's retained bytes (checked against truth.json
//! and the JSON report) at one scale, and which a real browser opens
//! without errors (ignored unless MAPSCOPE_CHROMIUM names chromium).

use serde_json::Value;
use std::path::PathBuf;

const SAMPLE: &str = "go1.26";

/// Runs `analyze` on the sample writing `report.html` into a fresh
/// directory; returns the page, the JSON report and the directory.
fn html_and_json(tag: &str) -> (String, Value, Value, PathBuf) {
    let s = mapscope_testsupport::sample(SAMPLE);
    let dir = std::env::temp_dir().join(format!("mapscope-html-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let bin = env!("CARGO_BIN_EXE_mapscope");
    let out = mapscope_testsupport::run_analyze(bin, &s, &[&"--format", &"html", &"-o", &page]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = mapscope_testsupport::analyze_json(bin, &s, &[]);
    let html = std::fs::read_to_string(&page).expect("report.html written");
    (html, json, s.truth(), dir)
}

/// truth.json's largest map (by the program's own retained bytes).
fn truth_top_map(truth: &Value) -> (String, f64) {
    truth["maps"]
        .as_array()
        .expect("truth maps")
        .iter()
        .map(|m| {
            (
                m["root"].as_str().unwrap().to_string(),
                m["retained_bytes"].as_f64().unwrap(),
            )
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("a map in truth.json")
}

/// The value of attribute `name` in one tag's text.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag.get(start..)?.find('"')?;
    tag.get(start..start + len)
}

/// Every start tag's text (`<name attrs…>` without the brackets).
fn tags(html: &str) -> Vec<&str> {
    html.split('<')
        .skip(1)
        .filter_map(|t| t.split_once('>').map(|x| x.0))
        .filter(|t| !t.starts_with('/') && !t.starts_with('!'))
        .collect()
}

struct Tile {
    label: String,
    bytes: f64,
    depth: u32,
    area: f64,
    perimeter: f64,
}

/// The main picture (before the first family's `<details>`): its total
/// bytes, viewBox area and tiles.
fn main_picture(html: &str) -> (f64, f64, Vec<Tile>) {
    let start = html
        .find("<svg class=\"treemap heap\"")
        .expect("the heap treemap");
    let end = html
        .get(start..)
        .unwrap()
        .find("<details")
        .map_or(html.len(), |e| start + e);
    let fig = html.get(start..end).unwrap();
    let head = tags(fig)[0];
    let total: f64 = attr(head, "data-total-bytes").unwrap().parse().unwrap();
    let vb: Vec<f64> = attr(head, "viewBox")
        .unwrap()
        .split(' ')
        .map(|x| x.parse().unwrap())
        .collect();
    let tiles = tags(fig)
        .into_iter()
        .filter(|t| t.starts_with("rect ") && attr(t, "data-bytes").is_some())
        .map(|t| {
            let num = |n: &str| -> f64 { attr(t, n).unwrap().parse().unwrap() };
            Tile {
                label: attr(t, "data-label").unwrap().to_string(),
                bytes: num("data-bytes"),
                depth: attr(t, "data-depth").unwrap().parse().unwrap(),
                area: num("width") * num("height"),
                perimeter: num("width") + num("height"),
            }
        })
        .collect();
    (total, vb[2] * vb[3], tiles)
}

#[test]
fn html_report_is_self_contained_well_formed_and_drawn_to_scale() {
    let (html, json, truth, dir) = html_and_json("static");
    mapscope_render::html::check_tags(&html).expect("every tag closed in order");
    // Self-contained: nothing loads from anywhere, nothing runs.
    assert!(html.contains("http-equiv=\"Content-Security-Policy\""));
    assert!(html.contains("default-src 'none'"));
    for t in tags(&html) {
        let name = t.split_whitespace().next().unwrap_or("");
        assert!(!name.eq_ignore_ascii_case("script"), "a script: <{t}>");
        assert!(!name.eq_ignore_ascii_case("iframe"), "<{t}>");
        assert!(attr(t, "src").is_none(), "a src: <{t}>");
        if let Some(h) = attr(t, "href") {
            assert!(h.starts_with("data:"), "an external href: <{t}>");
        }
        let lower = t.to_ascii_lowercase();
        assert!(
            !lower.contains("http:") && !lower.contains("https:"),
            "<{t}>"
        );
    }
    let style = html
        .split("<style>")
        .nth(1)
        .unwrap()
        .split("</style>")
        .next()
        .unwrap();
    assert!(
        !style.contains("url(") && !style.contains("@import"),
        "{style}"
    );

    // The top map of the truth is drawn, with the report's retained bytes,
    // themselves within 15% of the program's own.
    let (top_root, top_truth) = truth_top_map(&truth);
    let (total, area, tiles) = main_picture(&html);
    let tile = tiles
        .iter()
        .find(|t| t.label == top_root && t.depth == 2)
        .unwrap_or_else(|| panic!("no map tile {top_root}"));
    let reported = json["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["root"] == top_root.as_str())
        .and_then(|m| m["retained_bytes"].as_f64())
        .expect("top map in the JSON report");
    assert_eq!(tile.bytes, reported, "{top_root}");
    assert!(
        (tile.bytes / top_truth - 1.0).abs() <= 0.15,
        "{top_root}: drawn {} vs truth retained {top_truth}",
        tile.bytes
    );
    // The picture is the Go heap in use; its first level sums to it.
    let heap = json["accounting"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["layer"]
                .as_str()
                .unwrap_or("")
                .starts_with("Go heap in use")
        })
        .and_then(|l| l["bytes"].as_f64())
        .expect("Go heap layer");
    assert_eq!(total, heap);
    let types: f64 = json["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["bytes"].as_f64().unwrap())
        .sum();
    assert_eq!(total, types, "the heap by type sums to the heap in use");
    let first: f64 = tiles.iter().filter(|t| t.depth == 1).map(|t| t.bytes).sum();
    assert!(first <= total, "roots {first} > heap {total}");
    // Every rectangle's area is its bytes at the picture's one scale
    // (coordinates are printed to 1/1000 of a unit).
    let scale = area / total;
    assert!(tiles.len() > 10, "{} tiles", tiles.len());
    for t in &tiles {
        let want = t.bytes * scale;
        let slack = 0.002 * t.perimeter + 1e-3;
        assert!(
            (t.area - want).abs() <= slack,
            "{}: area {} for {} bytes, want {want}",
            t.label,
            t.area,
            t.bytes
        );
    }
    // Families expand (a <details> each) into their members' own picture.
    for fam in json["maps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "map-family" && !m["children"].as_array().unwrap().is_empty())
        .take(3)
    {
        let root = fam["root"].as_str().unwrap();
        assert!(
            html.contains(&format!("<summary>Family <b>{root}</b>")),
            "no expandable family {root}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Opens the page in headless chromium: the DOM it builds holds the top
/// map's rectangle and root, and the browser logs no console message (a
/// blocked load or a CSP violation logs one). Also writes a screenshot beside the page (its path is
/// printed) for a person to look at.
#[test]
#[ignore = "needs chromium (MAPSCOPE_CHROMIUM)"]
fn html_report_loads_in_chromium() {
    let chromium = std::env::var_os("MAPSCOPE_CHROMIUM")
        .map(PathBuf::from)
        .expect("MAPSCOPE_CHROMIUM: the path of a chromium binary");
    let (_html, _json, truth, dir) = html_and_json("chromium");
    let page = dir.join("report.html");
    let (top_root, _) = truth_top_map(&truth);
    let url = format!("file://{}", page.display());
    let run = |extra: &[&str]| {
        let profile = dir.join(format!("profile-{}", extra.len()));
        let out = std::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", chromium.display()));
        assert!(out.status.success(), "chromium: {:?}", out.status);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // The page runs no script: any console message (a CSP violation,
        // a blocked load, an error) is a fault.
        for bad in [
            ":CONSOLE",
            "Uncaught",
            "Refused to",
            "Content Security Policy",
        ] {
            let hit: Vec<&str> = stderr.lines().filter(|l| l.contains(bad)).collect();
            assert!(hit.is_empty(), "chromium logged {bad}: {hit:#?}");
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = run(&["--dump-dom"]);
    assert!(
        dom.contains("<svg class=\"treemap heap\""),
        "no treemap in the DOM"
    );
    assert!(
        dom.contains(&format!("data-label=\"{top_root}\"")),
        "the DOM lacks the top map {top_root}'s rectangle"
    );
    assert!(dom.contains("<table>"), "no table in the DOM");
    let shot = dir.join("report.png");
    run(&[
        "--hide-scrollbars",
        "--window-size=1300,1400",
        &format!("--screenshot={}", shot.display()),
    ]);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
}
