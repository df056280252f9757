//! Shared by the DWARF tests: fixture discovery and parsers for the output
//! of the independent tools (gdb `ptype /o`, `go tool nm`, llvm-dwarfdump,
//! the probe program itself). See tests/fixtures/dwarf/regen.sh.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// One fixture directory: an executable plus what the tools said about it.
pub struct Fixture {
    /// Directory name: `probe-go1.22`, `mapzoo-go1.26`, `probe-go1.24-noswissmap`.
    pub label: String,
    pub dir: PathBuf,
    /// Where the executable came from (`probe.zst`, or the path named in
    /// the `executable` file).
    pub exe_path: PathBuf,
    pub exe: Vec<u8>,
}

impl Fixture {
    pub fn text(&self, name: &str) -> String {
        let path = self.dir.join(name);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Built from tests/fixtures/dwarf/probe (has `probe.out`).
    pub fn is_probe(&self) -> bool {
        self.dir.join("probe.out").exists()
    }

    /// The sample program's own record (`truth.json` next to the
    /// executable), for mapzoo fixtures.
    pub fn program_truth(&self) -> Option<serde_json::Value> {
        let path = self.exe_path.parent()?.join("truth.json");
        let text = fs::read_to_string(path).ok()?;
        Some(serde_json::from_str(&text).expect("truth.json parses"))
    }
}

fn committed_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dwarf")
}

/// Paths in `executable` files are relative to the workspace root, five
/// levels above tests/fixtures/dwarf.
fn workspace_root() -> PathBuf {
    let fixtures = committed_root().canonicalize().expect("fixture directory");
    fixtures.join("../../../../..")
}

fn read_maybe_zst(path: &Path) -> Vec<u8> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "zst") {
        zstd::decode_all(bytes.as_slice()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    } else {
        bytes
    }
}

fn load_fixture(dir: &Path) -> Fixture {
    let exe_path = if dir.join("executable").exists() {
        let named = fs::read_to_string(dir.join("executable")).unwrap();
        let named = Path::new(named.trim());
        if named.is_absolute() {
            named.to_path_buf()
        } else {
            workspace_root().join(named)
        }
    } else if dir.join("probe.zst").exists() {
        dir.join("probe.zst")
    } else {
        dir.join("probe")
    };
    let exe = read_maybe_zst(&exe_path);
    // The truth files describe one exact build.
    let build_id = fs::read_to_string(dir.join("buildid")).unwrap();
    let build_id = build_id.trim().as_bytes();
    assert!(
        exe.windows(build_id.len()).any(|w| w == build_id),
        "{}: {} is not the build the fixture was made from; rerun \
         tests/fixtures/dwarf/regen.sh for it",
        dir.display(),
        exe_path.display()
    );
    Fixture {
        label: dir.file_name().unwrap().to_string_lossy().into_owned(),
        dir: dir.to_path_buf(),
        exe_path,
        exe,
    }
}

fn fixtures_in(root: &Path) -> Vec<Fixture> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.join("gdb-ptype.txt").exists())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| load_fixture(d)).collect()
}

/// The committed fixtures — the shipped samples (samples/go1.22 classic
/// maps, samples/go1.26 Swiss maps) — plus every fixture directory under
/// `$MAPSCOPE_CORPUS/dwarf-probe` (regen.sh probe for every toolchain, made
/// by scripts/gen-corpus.sh; not committed) when `MAPSCOPE_CORPUS` is set.
pub fn fixtures() -> Vec<Fixture> {
    let mut out = fixtures_in(&committed_root());
    // The probe fixtures (probe-go1.XX, with their executables) are not
    // committed, to keep the repository lean: scripts/gen-corpus.sh makes
    // them with regen.sh, and $MAPSCOPE_CORPUS brings them in.
    for want in ["mapzoo-go1.22", "mapzoo-go1.26"] {
        assert!(
            out.iter().any(|f| f.label == want),
            "committed fixture {want} missing under {}",
            committed_root().display()
        );
    }
    if let Some(corpus) = std::env::var_os(mapscope_testsupport::corpus::ENV) {
        out.extend(fixtures_in(&Path::new(&corpus).join("dwarf-probe")));
    }
    out
}

/// One member as gdb printed it. Members of anonymous nested structs
/// (slices, strings gdb expands inline) get a dotted path.
#[derive(Debug)]
pub struct GdbMember {
    pub path: String,
    pub offset: u64,
    pub size: u64,
    /// The declaration text, e.g. `runtime.mspan *next`.
    pub decl: String,
    /// 1 for direct members.
    pub depth: usize,
}

#[derive(Debug)]
pub struct GdbStruct {
    pub name: String,
    pub size: u64,
    pub members: Vec<GdbMember>,
}

/// Parses the `### NAME` blocks of gdb-ptype.txt.
pub fn parse_gdb(text: &str) -> Vec<GdbStruct> {
    let mut out = Vec::new();
    let mut current: Option<GdbStruct> = None;
    // Open nested structs: (offset, size, decl) awaiting their name.
    let mut open: Vec<(u64, u64, String)> = Vec::new();
    let mut pending_children: Vec<Vec<GdbMember>> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            if let Some(s) = current.take() {
                out.push(s);
            }
            current = Some(GdbStruct {
                name: name.to_string(),
                size: 0,
                members: Vec::new(),
            });
            open.clear();
            pending_children.clear();
            continue;
        }
        let Some(s) = current.as_mut() else { continue };
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("/* total size (bytes):") {
            if open.is_empty() {
                s.size = rest.trim_end_matches("*/").trim().parse().unwrap();
            }
            continue;
        }
        if trimmed.starts_with('}') {
            let name = trimmed
                .trim_start_matches('}')
                .trim()
                .trim_end_matches(';')
                .trim();
            if name.is_empty() {
                continue; // end of the outer struct
            }
            let (offset, size, decl) = open.pop().expect("balanced braces");
            let children = pending_children.pop().unwrap_or_default();
            let depth = open.len() + 1;
            let mut group = vec![GdbMember {
                path: name.to_string(),
                offset,
                size,
                decl,
                depth,
            }];
            for mut child in children {
                child.path = format!("{name}.{}", child.path);
                group.push(child);
            }
            match pending_children.last_mut() {
                Some(parent) => parent.extend(group),
                None => s.members.extend(group),
            }
            continue;
        }
        if !trimmed.starts_with("/*") || trimmed.contains("type = ") || trimmed.contains("XXX") {
            continue;
        }
        let Some(end) = trimmed.find("*/") else {
            continue;
        };
        let numbers = &trimmed[2..end];
        let mut parts = numbers.split('|');
        let (Some(offset), Some(size)) = (parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(offset), Ok(size)) = (offset.trim().parse::<u64>(), size.trim().parse::<u64>())
        else {
            continue;
        };
        let decl = trimmed[end + 2..].trim().to_string();
        if decl.ends_with('{') {
            open.push((offset, size, decl.trim_end_matches('{').trim().to_string()));
            pending_children.push(Vec::new());
            continue;
        }
        let decl = decl.trim_end_matches(';').to_string();
        let name = decl
            .rsplit(char::is_whitespace)
            .next()
            .unwrap()
            .trim_start_matches('*')
            .to_string();
        let member = GdbMember {
            path: name,
            offset,
            size,
            decl: decl.clone(),
            depth: open.len() + 1,
        };
        match pending_children.last_mut() {
            Some(children) => children.push(member),
            None => s.members.push(member),
        }
    }
    if let Some(s) = current.take() {
        out.push(s);
    }
    out
}

/// A `go tool nm -size` line.
#[derive(Debug)]
pub struct NmSymbol {
    pub address: u64,
    pub size: u64,
    pub kind: char,
    pub name: String,
}

pub fn parse_nm(text: &str) -> Vec<NmSymbol> {
    text.lines()
        .filter_map(|line| {
            let mut it = line.split_whitespace();
            let address = u64::from_str_radix(it.next()?, 16).ok()?;
            let size = it.next()?.parse().ok()?;
            let kind = it.next()?.chars().next()?;
            let name = it.collect::<Vec<_>>().join(" ");
            Some(NmSymbol {
                address,
                size,
                kind,
                name,
            })
        })
        .collect()
}

/// One variable of llvm-dwarfdump's view of a subprogram.
#[derive(Debug, Default)]
pub struct DumpVariable {
    pub tag: String,
    /// From `DW_AT_name`, or the name in `DW_AT_abstract_origin`.
    pub name: String,
    /// Empty when the DIE takes its type from its abstract origin.
    pub type_name: String,
    /// Inside a `DW_TAG_inlined_subroutine`.
    pub inlined: bool,
    /// (start, end, operations text) per location-list entry; empty for
    /// `<empty>`.
    pub ranges: Vec<(u64, u64, String)>,
}

/// Parses `llvm-dwarfdump --name=F --show-children` output: the function's
/// name and its variables (including those of inlined calls).
pub fn parse_dwarfdump_variables(text: &str) -> (String, Vec<DumpVariable>) {
    let mut function = String::new();
    let mut out: Vec<DumpVariable> = Vec::new();
    let mut current: Option<DumpVariable> = None;
    let mut in_subprogram_header = false;
    // Indentation of the innermost enclosing DW_TAG_inlined_subroutine.
    let mut inlined_indent: Option<usize> = None;
    for line in text.lines() {
        let t = line.trim();
        let is_die = t.starts_with("0x") && t.contains(':');
        if is_die {
            if let Some(v) = current.take() {
                out.push(v);
            }
            let after = &line[line.find(':').unwrap() + 1..];
            let indent = after.len() - after.trim_start().len();
            let tag = after.trim();
            if inlined_indent.is_some_and(|i| indent <= i) {
                inlined_indent = None;
            }
            in_subprogram_header = tag == "DW_TAG_subprogram";
            if tag == "DW_TAG_inlined_subroutine" && inlined_indent.is_none() {
                inlined_indent = Some(indent);
            }
            if tag == "DW_TAG_variable" || tag == "DW_TAG_formal_parameter" {
                current = Some(DumpVariable {
                    tag: tag.to_string(),
                    inlined: inlined_indent.is_some(),
                    ..Default::default()
                });
            }
            continue;
        }
        if in_subprogram_header && function.is_empty() {
            if let Some(rest) = t.strip_prefix("DW_AT_name") {
                function = unquote(rest);
            }
        }
        let Some(v) = current.as_mut() else { continue };
        if let Some(rest) = t.strip_prefix("DW_AT_name") {
            v.name = unquote(rest);
        } else if let Some(rest) = t.strip_prefix("DW_AT_abstract_origin") {
            v.name = quoted(rest);
        } else if let Some(rest) = t.strip_prefix("DW_AT_type") {
            v.type_name = quoted(rest);
        } else if t.starts_with('[') {
            // [0x..., 0x...): OPS   (the last one with a trailing ')')
            let close = t.find("):").unwrap();
            let mut bounds = t[1..close].split(',');
            let start = parse_hex(bounds.next().unwrap().trim());
            let end = parse_hex(bounds.next().unwrap().trim());
            let ops = t[close + 2..].trim().trim_end_matches(')').to_string();
            v.ranges.push((start, end, ops));
        }
    }
    if let Some(v) = current.take() {
        out.push(v);
    }
    (function, out)
}

/// `\t("text")` → `text`.
fn unquote(rest: &str) -> String {
    rest.trim()
        .trim_start_matches("(\"")
        .trim_end_matches("\")")
        .to_string()
}

/// `\t(0x1234 "text")` → `text`.
fn quoted(rest: &str) -> String {
    match (rest.find('"'), rest.rfind('"')) {
        (Some(a), Some(b)) if b > a => rest[a + 1..b].to_string(),
        _ => String::new(),
    }
}

/// Lines of probe.out split into words.
pub fn probe_facts(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(' ').map(str::to_string).collect())
        .collect()
}

pub fn parse_hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}
