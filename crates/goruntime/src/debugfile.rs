//! Separate debug files: the DWARF and ELF symbols of a stripped
//! executable kept in another file, as gdb finds them.
//!
//! Owns: finding the file — given by the user (`--symbols FILE`: the
//! output of `objcopy --only-keep-debug`, or the unstripped build), or
//! searched automatically at `<dir>/.build-id/<first 2 hex>/<rest>.debug`
//! from the executable's GNU build ID (`dir` is `$MAPSCOPE_DEBUG_DIR`,
//! default `/usr/lib/debug`) — and deciding that it is the same build:
//! the GNU build IDs, and the Go build IDs, of both files must be equal
//! wherever both files have one, and at least one pair must be compared.
//! A given file that is another build is a typed error naming both files
//! ([`GoRuntimeError::DebugFileMismatch`]); a searched one is left out
//! with a note.
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

    /// The debug file of `exe` in the build-ID tree under [`debug_dir`],
    /// when the executable has a GNU build ID and the file exists. A file
    /// there that is unreadable or another build is left out, with a note.
    pub fn search(exe: &Executable) -> (Option<DebugFile>, Option<String>) {
        let Some(path) = exe
            .gnu_build_id()
            .and_then(|id| build_id_path(&debug_dir(), id))
        else {
            return (None, None);
        };
        if !path.is_file() {
            return (None, None);
        }
        match DebugFile::open_for(&path, exe) {
            Ok(d) => (Some(d), None),
            Err(e) => (None, Some(format!("separate debug file left out: {e}"))),
        }
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
}
