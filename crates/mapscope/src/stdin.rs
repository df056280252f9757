//! `-` as a profile argument (`top -`, `check - CORE`, `analyze --profile
//! -`): the profile is read from standard input, once, bounded by
//! [`MAX_PROFILE_BYTES`].
//!
//! `top` decodes the bytes directly. `check` and `analyze` hand the
//! library a path, so the bytes are written to a temporary file whose path
//! is registered here; `main` replaces it by `standard input` in error
//! messages ([`name_temporaries`]), so no message names the temporary.
//!
//! Owns: reading standard input and the temporaries' names. Must not touch:
//! decoding (the `mapscope-pprof` crate).

use anyhow::Context as _;
use mapscope_pprof::MAX_PROFILE_BYTES;
use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What messages call standard input.
pub const STDIN_NAME: &str = "standard input";

/// Temporary paths standing for standard input, for [`name_temporaries`].
static TEMPORARIES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Is this argument `-`?
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Reads all of standard input, refusing a terminal (reading it would wait
/// for typing) and more than [`MAX_PROFILE_BYTES`].
pub fn read_all() -> anyhow::Result<Vec<u8>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        anyhow::bail!("{STDIN_NAME} is a terminal: pipe or redirect a profile into `-`");
    }
    let mut data = Vec::new();
    stdin
        .lock()
        .take(MAX_PROFILE_BYTES + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("{STDIN_NAME}: cannot read"))?;
    if data.len() as u64 > MAX_PROFILE_BYTES {
        anyhow::bail!(
            "{STDIN_NAME}: profile larger than {MAX_PROFILE_BYTES} bytes; refusing to read it"
        );
    }
    Ok(data)
}

/// A profile argument as a path the library can open: the argument itself,
/// or, for `-`, a temporary file holding standard input (removed when this
/// is dropped).
pub struct ProfilePath {
    path: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl ProfilePath {
    pub fn new(arg: &Path) -> anyhow::Result<ProfilePath> {
        if !is_stdin(arg) {
            return Ok(ProfilePath {
                path: arg.to_path_buf(),
                _dir: None,
            });
        }
        let data = read_all()?;
        let dir = tempfile::Builder::new()
            .prefix("mapscope-stdin")
            .tempdir()
            .with_context(|| format!("{STDIN_NAME}: cannot create a temporary directory"))?;
        let path = dir.path().join("profile");
        std::fs::write(&path, &data).with_context(|| {
            format!(
                "{STDIN_NAME}: cannot write a temporary copy under {}",
                dir.path().display()
            )
        })?;
        if let Ok(mut t) = TEMPORARIES.lock() {
            t.push(path.display().to_string());
        }
        Ok(ProfilePath {
            path,
            _dir: Some(dir),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `msg` with every registered temporary's path replaced by
/// [`STDIN_NAME`].
pub fn name_temporaries(msg: String) -> String {
    let Ok(t) = TEMPORARIES.lock() else {
        return msg;
    };
    t.iter()
        .fold(msg, |m, temp| m.replace(temp.as_str(), STDIN_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lone_dash_is_stdin() {
        assert!(is_stdin(Path::new("-")));
        assert!(!is_stdin(Path::new("./-")));
        assert!(!is_stdin(Path::new("--")));
    }

    #[test]
    fn temporaries_are_named_standard_input() {
        TEMPORARIES
            .lock()
            .unwrap()
            .push("/tmp/mapscope-stdinXYZ/profile".to_string());
        assert_eq!(
            name_temporaries("/tmp/mapscope-stdinXYZ/profile: not a profile".to_string()),
            "standard input: not a profile"
        );
    }
}
