//! The Go-runtime boundary: no crate above the Go-runtime layer looks a
//! runtime struct, global, constant or function up by name. Every such
//! name lives in `mapscope-goruntime` (its `layout` module and the DWARF
//! reader); the layers above read resolved offsets, addresses and
//! predicates (`layout::funcs`).
//!
//! Rule: in every Rust source file of every workspace crate except the
//! Go-runtime layer (`crates/goruntime`), outside `tests/` and `benches/`
//! directories and outside `#[cfg(test)]` items, no string literal may
//! contain a runtime name: `runtime.`, `runtime/`, `internal/abi.`,
//! `internal/runtime/`, `internal/sync.`, `sync.readOnly`, `sync.entry` or
//! `sync.expunged`, where the name starts a word (not `goruntime.`,
//! `src/runtime/`) and is followed by an identifier, `(`, `*` or the end
//! of the literal (a prefix test such as `starts_with("runtime.")`), not
//! by prose (`the runtime. Then`). Exceptions are [`ALLOWED`], each with
//! its reason.

use std::path::{Path, PathBuf};

/// Crates of the Go-runtime layer: they own the names.
const RUNTIME_LAYER: &[&str] = &["goruntime"];

/// `(file relative to the workspace root, literal, reason)`: literals
/// that contain a runtime name but look nothing up.
const ALLOWED: &[(&str, &str, &str)] = &[];

/// Names that must not appear outside the runtime layer.
const NAMES: &[&str] = &[
    "runtime.",
    "runtime/",
    "internal/abi.",
    "internal/runtime/",
    "internal/sync.",
    "sync.readOnly",
    "sync.entry",
    "sync.expunged",
];

/// One string literal: its 1-based line and its source text (escapes
/// left as written).
#[derive(Debug)]
struct Literal {
    offset: usize,
    line: usize,
    text: String,
}

/// Splits Rust source into code (comments and literal contents blanked,
/// newlines kept) and its string literals. Handles nested block comments,
/// escapes, raw strings (`r#"…"#`), byte strings and char literals
/// (`'"'`) versus lifetimes (`'a`).
fn lex(src: &str) -> (Vec<u8>, Vec<Literal>) {
    let b = src.as_bytes();
    let mut code = b.to_vec();
    let mut literals = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let blank = |code: &mut Vec<u8>, from: usize, to: usize| {
        for c in code.iter_mut().take(to).skip(from) {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c == b'/' && at(i + 1) == b'/' {
            let end = src[i..].find('\n').map_or(b.len(), |n| i + n);
            blank(&mut code, i, end);
            i = end;
        } else if c == b'/' && at(i + 1) == b'*' {
            let start = i;
            let mut depth = 0;
            while i < b.len() {
                if at(i) == b'/' && at(i + 1) == b'*' {
                    depth += 1;
                    i += 2;
                } else if at(i) == b'*' && at(i + 1) == b'/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if at(i) == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
            blank(&mut code, start, i);
        } else if c == b'r'
            && (at(i + 1) == b'"'
                || (at(i + 1) == b'#' && {
                    let mut j = i + 1;
                    while at(j) == b'#' {
                        j += 1;
                    }
                    at(j) == b'"'
                }))
            && !is_ident(at(i.wrapping_sub(1)))
            || (c == b'b' && at(i + 1) == b'r' && !is_ident(at(i.wrapping_sub(1))) && {
                let mut j = i + 2;
                while at(j) == b'#' {
                    j += 1;
                }
                at(j) == b'"'
            })
        {
            // Raw string: r#…"…"#…
            let mut j = if c == b'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            while at(j) == b'#' {
                hashes += 1;
                j += 1;
            }
            let body = j + 1;
            let close = format!("\"{}", "#".repeat(hashes));
            let end = src[body..].find(&close).map_or(b.len(), |n| body + n);
            let start_line = line;
            line += src[body..end].matches('\n').count();
            literals.push(Literal {
                offset: i,
                line: start_line,
                text: src[body..end].to_string(),
            });
            let after = (end + close.len()).min(b.len());
            blank(&mut code, i, after);
            i = after;
        } else if c == b'"' {
            let start = i;
            let start_line = line;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                if at(i) == b'\n' {
                    line += 1;
                }
                i += 1;
            }
            literals.push(Literal {
                offset: start,
                line: start_line,
                text: src[start + 1..i.min(b.len())].to_string(),
            });
            i = (i + 1).min(b.len());
            blank(&mut code, start, i);
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}', '"'), else a lifetime.
            let close = if at(i + 1) == b'\\' {
                // The escaped character may itself be a quote (`'\''`).
                src.get(i + 3..)
                    .and_then(|rest| rest.find('\''))
                    .map(|n| i + 3 + n)
            } else {
                let ch = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                (at(i + 1 + ch) == b'\'').then_some(i + 1 + ch)
            };
            match close {
                Some(end) if end - i <= 12 => {
                    blank(&mut code, i, end + 1);
                    i = end + 1;
                }
                _ => i += 1,
            }
        } else {
            i += 1;
        }
    }
    (code, literals)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Byte ranges of `#[cfg(test)]` items (the attribute through the end of
/// the item: its `;` or its matching `}`), found in blanked code.
fn test_items(code: &[u8]) -> Vec<(usize, usize)> {
    let squeezed: Vec<(usize, u8)> = code
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, c)| !c.is_ascii_whitespace())
        .collect();
    let flat: Vec<u8> = squeezed.iter().map(|&(_, c)| c).collect();
    let needle = b"#[cfg(test)]";
    let mut out = Vec::new();
    let mut k = 0;
    while k + needle.len() <= flat.len() {
        if &flat[k..k + needle.len()] != needle {
            k += 1;
            continue;
        }
        let start = squeezed[k].0;
        let mut j = k + needle.len();
        let mut depth = 0i64;
        let mut end = code.len();
        while j < flat.len() {
            match flat[j] {
                b';' if depth == 0 => {
                    end = squeezed[j].0 + 1;
                    break;
                }
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = squeezed[j].0 + 1;
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        out.push((start, end));
        k = j.max(k + 1);
    }
    out
}

/// The runtime names `literal` contains, as the rule defines them.
fn runtime_names(literal: &str) -> Vec<&'static str> {
    let b = literal.as_bytes();
    let mut found = Vec::new();
    for &name in NAMES {
        let prefix = name.ends_with(['.', '/']);
        let hit = literal.match_indices(name).any(|(at, _)| {
            let before = at.checked_sub(1).and_then(|i| b.get(i)).copied();
            if before.is_some_and(|c| is_ident(c) || c == b'/' || c == b'.') {
                return false;
            }
            let after = b.get(at + name.len()).copied();
            if prefix {
                // A package prefix: a name follows, or the literal ends.
                after.is_none_or(|c| is_ident(c) || matches!(c, b'(' | b'*' | b'{'))
            } else {
                // A whole identifier, not the start of a longer one.
                !after.is_some_and(is_ident)
            }
        });
        if hit {
            found.push(name);
        }
    }
    found
}

/// Every violation in one file's source: `(line, literal, names)`.
fn violations(src: &str) -> Vec<(usize, String, Vec<&'static str>)> {
    let (code, literals) = lex(src);
    let skip = test_items(&code);
    literals
        .into_iter()
        .filter(|l| !skip.iter().any(|&(a, b)| (a..b).contains(&l.offset)))
        .filter_map(|l| {
            let names = runtime_names(&l.text);
            (!names.is_empty()).then_some((l.line, l.text, names))
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "tests" | "benches" | "target") {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

#[test]
fn no_runtime_name_is_looked_up_outside_the_runtime_layer() {
    let root = workspace_root();
    let crates = root.join("crates");
    let mut files = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&crates)
        .expect("crates/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    let mut scanned_crates = 0;
    for dir in dirs {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if RUNTIME_LAYER.contains(&name) {
            continue;
        }
        scanned_crates += 1;
        rust_files(&dir, &mut files);
    }
    assert!(scanned_crates >= 5, "found only {scanned_crates} crates");
    assert!(files.len() >= 50, "found only {} files", files.len());
    let mut problems = Vec::new();
    let mut allowed_used = vec![false; ALLOWED.len()];
    for file in &files {
        let rel = file
            .strip_prefix(&root)
            .unwrap_or(file)
            .to_string_lossy()
            .replace('\\', "/");
        let src = std::fs::read_to_string(file).expect("read source");
        for (line, literal, names) in violations(&src) {
            if let Some(i) = ALLOWED
                .iter()
                .position(|&(f, l, _)| f == rel && literal.contains(l))
            {
                allowed_used[i] = true;
                continue;
            }
            problems.push(format!(
                "{rel}:{line}: \"{literal}\" names {}",
                names.join(", ")
            ));
        }
    }
    let stale: Vec<_> = ALLOWED
        .iter()
        .zip(&allowed_used)
        .filter(|(_, &used)| !used)
        .map(|((f, l, _), _)| format!("{f}: \"{l}\""))
        .collect();
    assert!(
        problems.is_empty(),
        "runtime names looked up outside mapscope-goruntime (resolve them in \
         goruntime's layout module and read the result):\n{}",
        problems.join("\n")
    );
    assert!(
        stale.is_empty(),
        "allow-list entries that match nothing (remove them):\n{}",
        stale.join("\n")
    );
}

/// The scanner itself: what it flags and what it leaves alone.
#[test]
fn the_scanner_finds_lookups_and_skips_tests_comments_and_prose() {
    let src = r##"
// "runtime.mheap_" in a comment
/* "runtime.g" /* nested */ still a comment */
fn a(t: &T) { t.by_name("runtime.hmap"); }
fn b(f: &str) -> bool { f.starts_with("runtime.") }
fn c() { let _ = format!("internal/sync.entry{suffix}"); }
fn d() { let _ = "the Go runtime. It"; let _ = "mapscope_goruntime.x"; }
fn e() { let _ = r#"internal/abi.Type"#; let _ = '"'; let _x: &'static str = "ok"; let _ = ['\'', '\\']; }
fn f() { let _ = "go/src/runtime/proc.go"; let _ = "sync.Map"; let _ = "sync.entryway"; }
#[cfg(test)]
mod tests {
    fn t() { let _ = "runtime.mallocgc"; let _ = "}"; }
}
#[cfg(test)]
use x::y;
fn g() { let _ = "sync.expunged not found"; }
"##;
    let found: Vec<(usize, String)> = violations(src)
        .into_iter()
        .map(|(line, lit, _)| (line, lit))
        .collect();
    assert_eq!(
        found,
        vec![
            (4, "runtime.hmap".to_string()),
            (5, "runtime.".to_string()),
            (6, "internal/sync.entry{suffix}".to_string()),
            (8, "internal/abi.Type".to_string()),
            (16, "sync.expunged not found".to_string()),
        ]
    );
}
