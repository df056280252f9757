//! Test-only helpers shared by every crate's tests.
//!
//! Owns: locating the shipped samples under `samples/` and materializing
//! them — `core.zst` and `mapzoo.zst` are decompressed once (zero blocks
//! as holes) into a cache directory under the cargo target dir and reused
//! by every test binary and thread (atomic rename makes concurrent first
//! use safe); running the CLI
//! on a sample (`run_cli`, `run_analyze`, `analyze_json`); reading truth
//! files (`truth_entries`, `truth_top_map`, `smaps_anon_rss`); locating
//! the generated incident corpus (`corpus`, `$MAPSCOPE_CORPUS`).
//!
//! Must not touch: anything mapscope computes. Truth files (`truth.json`,
//! `pprof-top*.txt`, `readelf-*.txt`, `gdb-*.txt`) are read as they are.

pub mod corpus;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

/// `samples/<name>` in the repository (compressed files, truth files).
pub fn sample_source(name: &str) -> PathBuf {
    workspace_root().join("samples").join(name)
}

/// Names of the shipped incident samples (`samples/go1.*`).
pub fn sample_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(workspace_root().join("samples"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("core.zst").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A shipped sample with its core and executable decompressed.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    /// `samples/<name>`: truth files and the compressed originals.
    pub source: PathBuf,
    /// The decompressed core (cached).
    pub core: PathBuf,
    /// The decompressed executable (cached).
    pub exe: PathBuf,
    /// `samples/<name>/heap.pb.gz`.
    pub profile: PathBuf,
}

impl Sample {
    /// A truth file of the sample, read as text.
    pub fn text(&self, file: &str) -> String {
        fs::read_to_string(self.source.join(file))
            .unwrap_or_else(|e| panic!("{}: {e}", self.source.join(file).display()))
    }
    /// `truth.json`, parsed.
    pub fn truth(&self) -> serde_json::Value {
        serde_json::from_str(&self.text("truth.json")).expect("truth.json parses")
    }
}

fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("sample-cache")
}

/// Materializes `samples/<name>`: decompresses `core.zst` and `mapzoo.zst`
/// into the cache on first use. Panics (it is test code) if the sample is
/// missing.
pub fn sample(name: &str) -> Sample {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    // One thread decompresses; others in this process wait for it.
    let _guard = LOCK
        .get_or_init(|| Mutex::new(()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    let source = sample_source(name);
    assert!(source.is_dir(), "no sample {}", source.display());
    let dir = cache_dir().join(name);
    fs::create_dir_all(&dir).expect("create sample cache");
    let core = materialize(&source.join("core.zst"), &dir.join("core")).expect("decompress core");
    let exe = materialize(&source.join("mapzoo.zst"), &dir.join("mapzoo")).expect("decompress exe");
    Sample {
        name: name.to_string(),
        profile: source.join("heap.pb.gz"),
        source,
        core,
        exe,
    }
}

/// Decompresses `src` (zstd) to `dst`, zero blocks as holes, unless `dst`
/// is already there and newer than `src`. Writes to a unique temporary name, then renames, so a
/// concurrent test binary never sees a half-written file.
fn materialize(src: &Path, dst: &Path) -> io::Result<PathBuf> {
    let fresh = match (fs::metadata(src), fs::metadata(dst)) {
        (Ok(s), Ok(d)) => match (s.modified(), d.modified()) {
            (Ok(sm), Ok(dm)) => dm >= sm,
            _ => false,
        },
        _ => false,
    };
    if !fresh {
        let tmp = dst.with_extension(format!("tmp{}", std::process::id()));
        {
            let input = fs::File::open(src)?;
            let mut output = fs::File::create(&tmp)?;
            let mut decoder = zstd::stream::read::Decoder::new(input)?;
            decoder.window_log_max(31)?;
            // Sparse: the gcore sample is 1.2 GB, mostly zeros.
            mapscope_elfcore::copy_sparse(&mut decoder, &mut output)?;
        }
        fs::rename(&tmp, dst)?;
    }
    Ok(dst.to_path_buf())
}

/// What a run of a command-line binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `bin` (a test passes `env!("CARGO_BIN_EXE_mapscope")`) with `args`
/// and fails the test if it panicked: exit 101, or a panic message (the
/// binary's hook turns a panic into exit 2 with "panicked" on stderr).
pub fn run_cli(bin: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    run_cli_env(bin, args, &[])
}

/// [`run_cli`] with environment variables `env` set for the run.
pub fn run_cli_env(
    bin: &str,
    args: &[&dyn AsRef<std::ffi::OsStr>],
    env: &[(&str, &std::ffi::OsStr)],
) -> Run {
    let out = std::process::Command::new(bin)
        .args(args.iter().map(|a| a.as_ref()))
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("{bin}: {e}"));
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_ne!(run.code, 101, "exit 101: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

/// TOTAL from the `Showing nodes accounting for X B, P% of TOTAL B total`
/// line of a committed `go tool pprof -top -unit=B` output.
pub fn pprof_top_total(text: &str) -> Option<i64> {
    let line = text
        .lines()
        .find(|l| l.starts_with("Showing nodes accounting for "))?;
    line.split(" of ")
        .nth(1)?
        .split('B')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Runs `bin analyze <core> --exe <exe> --profile <profile> <extra…>` on a
/// shipped sample; the exit code is the caller's to check.
pub fn run_analyze(bin: &str, s: &Sample, extra: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"analyze",
        &s.core,
        &"--exe",
        &s.exe,
        &"--profile",
        &s.profile,
    ];
    args.extend_from_slice(extra);
    run_cli(bin, &args)
}

/// [`run_analyze`] with `--format json` and `extra`: fails the test unless
/// it exits 0, and returns the parsed report.
pub fn analyze_json(
    bin: &str,
    s: &Sample,
    extra: &[&dyn AsRef<std::ffi::OsStr>],
) -> serde_json::Value {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"--format", &"json"];
    args.extend_from_slice(extra);
    let out = run_analyze(bin, s, &args);
    assert_eq!(out.code, 0, "{}: {}", s.name, out.stderr);
    serde_json::from_str(&out.stdout).expect("analyze json")
}

/// Symlinks `src` as `dir/name`, creating `dir` first.
pub fn link(src: &Path, dir: &Path, name: &str) {
    fs::create_dir_all(dir).unwrap();
    std::os::unix::fs::symlink(src, dir.join(name)).unwrap();
}

/// Every entry of a truth.json: its `maps`, then its `others`.
pub fn truth_entries(truth: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    truth["maps"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(truth["others"].as_array().into_iter().flatten())
}

/// The truth's map with the most retained bytes: (root, retained).
pub fn truth_top_map(s: &Sample) -> (String, u64) {
    let truth = s.truth();
    let top = truth["maps"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|m| m["retained_bytes"].as_u64().unwrap())
        .unwrap();
    (
        top["root"].as_str().unwrap().to_string(),
        top["retained_bytes"].as_u64().unwrap(),
    )
}

/// Rss (kB → bytes) of the anonymous mappings of an smaps file: no path,
/// or `[heap]`/`[stack]` (not `[vdso]`, `[vvar]`, `[vsyscall]`).
pub fn smaps_anon_rss(text: &str) -> u64 {
    let mut sum = 0;
    let mut anon = false;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.first().is_some_and(|f| {
            f.contains('-') && f.split('-').all(|h| u64::from_str_radix(h, 16).is_ok())
        }) {
            anon = match fields.get(5) {
                None => true,
                Some(p) => *p == "[heap]" || *p == "[stack]",
            };
        } else if let (true, Some(kb)) = (anon, line.strip_prefix("Rss:")) {
            sum += kb
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap()
                * 1024;
        }
    }
    sum
}

/// Writes `out`: the ELF core `core` cut just before its first `PT_LOAD`
/// segment's bytes — headers and notes only, no memory. (Test data for
/// "the core opens, the heap walk cannot".)
pub fn write_core_without_segment_data(core: &Path, out: &Path) {
    let bytes = std::fs::read(core).expect("read core");
    let u16at = |at: usize| u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap()) as usize;
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16at(54), u16at(56));
    let first_data = (0..phnum)
        .map(|i| &bytes[phoff + i * phentsize..phoff + (i + 1) * phentsize])
        .filter(|ph| u32::from_le_bytes(ph[0..4].try_into().unwrap()) == 1) // PT_LOAD
        .filter(|ph| u64::from_le_bytes(ph[32..40].try_into().unwrap()) > 0) // p_filesz
        .map(|ph| u64::from_le_bytes(ph[8..16].try_into().unwrap()) as usize) // p_offset
        .min()
        .expect("PT_LOAD with data");
    std::fs::write(out, &bytes[..first_data]).expect("write cut core");
}

/// Writes `exe` to `out` with its DWARF hidden ([`hide_dwarf_sections`]):
/// the same build as a `-w` loader sees it. Panics (test code) on I/O
/// errors.
pub fn write_without_dwarf(exe: &Path, out: &Path) {
    let mut bytes = fs::read(exe).expect("read executable");
    hide_dwarf_sections(&mut bytes);
    fs::write(out, bytes).expect("write executable without DWARF");
}

/// Renames every `.debug_*` section name in an ELF image to `.Xebug_*`:
/// the executable as a DWARF loader sees a stripped (`-w`) build.
pub fn hide_dwarf_sections(bytes: &mut [u8]) {
    let needle = b".debug_";
    let mut i = 0;
    while i + needle.len() <= bytes.len() {
        if &bytes[i..i + needle.len()] == needle {
            bytes[i + 1] = b'X';
        }
        i += 1;
    }
}

/// A type name in the runtime's spelling: DWARF names types by package
/// path (`map[string]cmd/link/internal/sym.LoaderSym`), the runtime's type
/// descriptors by package name (`map[string]sym.LoaderSym`).
pub fn runtime_spelling(t: &str) -> String {
    let mut out = String::with_capacity(t.len());
    let mut word = String::new();
    for c in t.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || matches!(c, '_' | '.' | '/' | '-') {
            word.push(c);
            continue;
        }
        out.push_str(word.rsplit_once('/').map_or(word.as_str(), |(_, w)| w));
        word.clear();
        out.push(c);
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_spelling_drops_package_paths() {
        assert_eq!(
            runtime_spelling("map[string]cmd/link/internal/sym.LoaderSym"),
            "map[string]sym.LoaderSym"
        );
        assert_eq!(
            runtime_spelling("map[*cmd/compile/internal/types.Sym][]*cmd/compile/internal/ir.Name"),
            "map[*types.Sym][]*ir.Name"
        );
        assert_eq!(runtime_spelling("map[string]uint32"), "map[string]uint32");
        assert_eq!(
            runtime_spelling("map[int64]*encoding/json.field | map[uint64]uint64"),
            "map[int64]*json.field | map[uint64]uint64"
        );
    }
}
