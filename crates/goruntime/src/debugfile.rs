//! Separate debug files: the DWARF and ELF symbols of a stripped
//! executable kept in another file, as gdb finds them.
//!
//! Owns: finding the file — given by the user (`--symbols FILE`: the
//! output of `objcopy --only-keep-debug`, or the unstripped build), or
//! searched automatically as gdb does: first at
//! `<dir>/.build-id/<first 2 hex>/<rest>.debug` from the executable's GNU
//! build ID (`dir` is `$MAPSCOPE_DEBUG_DIR`, default `/usr/lib/debug`),
//! then by the executable's `.gnu_debuglink` (a file name and the CRC-32
//! of the debug file: `objcopy --add-gnu-debuglink`) in the executable's
//! directory, its `.debug/` subdirectory and `<dir>/<the executable's
//! directory>/` — and deciding that it is the same build: the GNU build
//! IDs, and the Go build IDs, of both files must be equal wherever both
//! files have one, and at least one pair must be compared (a debuglink
//! file whose CRC-32 matches stands in when neither file has an ID the
//! other has). A given file that is another build is a typed error naming
//! both files ([`GoRuntimeError::DebugFileMismatch`]); a searched one is
//! left out with a note.
//!
//! Does not touch: reading DWARF or symbols (the process loader reads the
//! file's DWARF sections and `.symtab`; its `NOBITS` text and data are
//! never read: memory comes from the core and the executable).

use std::path::{Path, PathBuf};

use mapscope_elfcore::{hex, Executable};

use crate::error::GoRuntimeError;

/// Environment variable overriding the root of the build-ID tree.
pub const DEBUG_DIR_ENV: &str = "MAPSCOPE_DEBUG_DIR";
/// The root of the build-ID tree when [`DEBUG_DIR_ENV`] is unset (gdb's).
pub const DEFAULT_DEBUG_DIR: &str = "/usr/lib/debug";

/// A separate debug file known to be the same build as its executable.
#[derive(Debug)]
pub struct DebugFile {
    file: Executable,
    /// Which build ID matched, e.g. `GNU build ID 28a6…` (the Go build ID
    /// only when either file has no GNU one).
    matched: String,
}

impl DebugFile {
    /// The file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The file as an ELF executable (its symbols, notes, sections).
    pub fn executable(&self) -> &Executable {
        &self.file
    }

    /// The whole file (decompressed), memory-mapped.
    pub fn data(&self) -> &[u8] {
        self.file.data()
    }

    /// Which build IDs matched (for the provenance note).
    pub fn matched(&self) -> &str {
        &self.matched
    }

    /// Opens `path` as the debug file of `exe`: refused when unreadable
    /// ([`GoRuntimeError::DebugFile`]) or another build
    /// ([`GoRuntimeError::DebugFileMismatch`]).
    pub fn open_for(path: &Path, exe: &Executable) -> Result<DebugFile, GoRuntimeError> {
        let file = Executable::open(path).map_err(|e| GoRuntimeError::DebugFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        match same_build(exe, &file) {
            Ok(matched) => Ok(DebugFile { file, matched }),
            Err(why) => Err(GoRuntimeError::DebugFileMismatch {
                debug: path.to_path_buf(),
                exe: exe.path().to_path_buf(),
                why,
            }),
        }
    }

    /// The debug file of `exe`: in the build-ID tree under [`debug_dir`]
    /// when the executable has a GNU build ID and the file exists, else
    /// the file its `.gnu_debuglink` names ([`debuglink_candidates`]). A
    /// file found that is unreadable or another build is left out, with a
    /// note.
    pub fn search(exe: &Executable) -> (Option<DebugFile>, Option<String>) {
        let dir = debug_dir();
        let mut notes = Vec::new();
        if let Some(path) = exe
            .gnu_build_id()
            .and_then(|id| build_id_path(&dir, id))
            .filter(|p| p.is_file())
        {
            match DebugFile::open_for(&path, exe) {
                Ok(d) => return (Some(d), None),
                Err(e) => notes.push(format!("separate debug file left out: {e}")),
            }
        }
        if let Some((name, crc)) = debuglink(exe) {
            for path in debuglink_candidates(exe.path(), &name, &dir) {
                if !path.is_file() || same_file(&path, exe.path()) {
                    continue;
                }
                match DebugFile::open_linked(&path, exe, crc) {
                    Ok(d) => return (Some(d), join_notes(notes)),
                    Err(e) => notes.push(format!("separate debug file left out: {e}")),
                }
            }
        }
        (None, join_notes(notes))
    }

    /// Opens a file `.gnu_debuglink` named: its CRC-32 must be `crc`, and
    /// it must be the executable's build wherever build IDs compare (the
    /// CRC alone when none does, as gdb accepts it).
    fn open_linked(path: &Path, exe: &Executable, crc: u32) -> Result<DebugFile, GoRuntimeError> {
        let mismatch = |why: String| GoRuntimeError::DebugFileMismatch {
            debug: path.to_path_buf(),
            exe: exe.path().to_path_buf(),
            why,
        };
        let got = file_crc32(path).map_err(|e| GoRuntimeError::DebugFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if got != crc {
            return Err(mismatch(format!(
                "its CRC-32 is {got:#010x}, the executable's .gnu_debuglink says {crc:#010x}"
            )));
        }
        let file = Executable::open(path).map_err(|e| GoRuntimeError::DebugFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let comparable = (exe.gnu_build_id().is_some() && file.gnu_build_id().is_some())
            || (exe.go_build_id().is_some() && file.go_build_id().is_some());
        let matched = if comparable {
            same_build(exe, &file).map_err(mismatch)?
        } else {
            format!(".gnu_debuglink CRC-32 {crc:#010x}")
        };
        Ok(DebugFile { file, matched })
    }
}

fn join_notes(notes: Vec<String>) -> Option<String> {
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// Longest file name a `.gnu_debuglink` section may give.
const MAX_DEBUGLINK_NAME: usize = 4096;

/// The executable's `.gnu_debuglink`: the debug file's name (no
/// directory) and its CRC-32 (the little-endian word after the name's NUL,
/// 4-aligned). `None` without the section or when it is malformed.
pub fn debuglink(exe: &Executable) -> Option<(String, u32)> {
    let data = exe.section_data(".gnu_debuglink").ok()??;
    let end = data.iter().take(MAX_DEBUGLINK_NAME).position(|&b| b == 0)?;
    let name = std::str::from_utf8(&data[..end]).ok()?;
    // A bare file name: anything with a directory part is not followed.
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    let at = (end + 1).next_multiple_of(4);
    let crc = u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?);
    Some((name.to_string(), crc))
}

/// Where gdb looks for a `.gnu_debuglink` file `name` of the executable
/// at `exe`: its directory, that directory's `.debug/`, and the same
/// directory under the debug root `dir`.
pub fn debuglink_candidates(exe: &Path, name: &str, dir: &Path) -> Vec<PathBuf> {
    let exe_dir = exe
        .canonicalize()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .or_else(|| exe.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let mut out = vec![exe_dir.join(name), exe_dir.join(".debug").join(name)];
    if exe_dir.is_absolute() {
        let relative: PathBuf = exe_dir.components().skip(1).collect();
        out.push(dir.join(relative).join(name));
    }
    out
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// CRC-32 (IEEE, as gdb's `gnu_debuglink_crc32`) of a file, read in
/// pieces.
fn file_crc32(path: &Path) -> std::io::Result<u32> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize());
        }
        hasher.update(&buf[..n]);
    }
}

/// The root of the build-ID tree: `$MAPSCOPE_DEBUG_DIR`, else
/// `/usr/lib/debug`.
pub fn debug_dir() -> PathBuf {
    std::env::var_os(DEBUG_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DEBUG_DIR))
}

/// `<dir>/.build-id/<first byte hex>/<rest hex>.debug`, gdb's layout;
/// `None` for an ID shorter than 2 bytes.
pub fn build_id_path(dir: &Path, id: &[u8]) -> Option<PathBuf> {
    let (first, rest) = id.split_first()?;
    if rest.is_empty() {
        return None;
    }
    Some(
        dir.join(".build-id")
            .join(hex(&[*first]))
            .join(format!("{}.debug", hex(rest))),
    )
}

/// Whether `debug` is the same build as `exe`: `Ok` says which IDs agreed,
/// `Err` which differed (or that nothing could be compared).
pub fn same_build(exe: &Executable, debug: &Executable) -> Result<String, String> {
    let mut agreed = Vec::new();
    if let (Some(a), Some(b)) = (exe.gnu_build_id(), debug.gnu_build_id()) {
        if a != b {
            return Err(format!(
                "its GNU build ID is {}, the executable's is {}",
                hex(b),
                hex(a)
            ));
        }
        agreed.push(format!("GNU build ID {}", hex(a)));
    }
    if let (Some(a), Some(b)) = (exe.go_build_id(), debug.go_build_id()) {
        if a != b {
            return Err(format!(
                "its Go build ID is {b:?}, the executable's is {a:?}"
            ));
        }
        agreed.push(format!("Go build ID {a}"));
    }
    // The strongest agreement names the build (both were checked).
    agreed.truncate(1);
    if agreed.is_empty() {
        return Err(format!(
            "cannot tell whether it is the same build: no GNU or Go build ID note in both (executable: {}; debug file: {})",
            ids_of(exe),
            ids_of(debug)
        ));
    }
    Ok(agreed.concat())
}

fn ids_of(e: &Executable) -> String {
    match (e.gnu_build_id().is_some(), e.go_build_id().is_some()) {
        (true, true) => "GNU and Go build IDs",
        (true, false) => "GNU build ID only",
        (false, true) => "Go build ID only",
        (false, false) => "no build ID",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_path_is_gdbs_layout() {
        let id = [0x1a, 0x87, 0xb1, 0x02];
        assert_eq!(
            build_id_path(Path::new("/usr/lib/debug"), &id),
            Some(PathBuf::from("/usr/lib/debug/.build-id/1a/87b102.debug"))
        );
        assert_eq!(build_id_path(Path::new("/d"), &[0x1a]), None);
        assert_eq!(build_id_path(Path::new("/d"), &[]), None);
    }

    #[test]
    fn debuglink_candidates_are_gdbs() {
        let c = debuglink_candidates(
            Path::new("/no/such/dir/app"),
            "app.debug",
            Path::new("/dbg"),
        );
        assert_eq!(
            c,
            vec![
                PathBuf::from("/no/such/dir/app.debug"),
                PathBuf::from("/no/such/dir/.debug/app.debug"),
                PathBuf::from("/dbg/no/such/dir/app.debug"),
            ]
        );
    }

    #[test]
    fn crc32_is_the_ieee_one_gdb_uses() {
        // The CRC-32 check value of "123456789" (IEEE 802.3, zlib's crc32).
        let p = std::env::temp_dir().join(format!("mapscope-crc-{}", std::process::id()));
        std::fs::write(&p, b"123456789").unwrap();
        let crc = file_crc32(&p).unwrap();
        let _ = std::fs::remove_file(&p);
        assert_eq!(crc, 0xcbf4_3926);
    }
}
