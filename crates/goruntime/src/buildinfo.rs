//! Go build information embedded by the linker (`\xff Go buildinf:` blob):
//! toolchain version, main module, dependencies and build settings, plus
//! the GOEXPERIMENTs the binary was built with.
//!
//! Owns: finding and decoding the blob in an executable's bytes, with or
//! without section headers and symbols (it works on stripped binaries). It
//! does not read cores: the blob is static data of the executable.
//!
//! Both blob formats are handled: the inline one (flags & 2, Go 1.18+),
//! where two varint-prefixed strings follow the 32-byte header, and the
//! older pointer one, where the header holds pointers to Go strings.

use crate::pclntab::ExeImage;

const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_SIZE: usize = 32;
const ALIGN: usize = 16;
/// Strings longer than this are not build info (real ones are a few KiB).
const MAX_STRING: u64 = 16 << 20;

/// Errors while reading build info; each says where and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum BuildInfoError {
    #[error("not a readable object file: {0}")]
    Object(#[from] crate::pclntab::ImageError),
    #[error("no Go build info: magic \"\\xff Go buildinf:\" not found in .go.buildinfo or the data segments")]
    NotFound,
    #[error("build info at {address:#x}: {what}")]
    Malformed { address: u64, what: String },
}

/// One module line (`mod`, `dep`, or a `=>` replacement).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Module {
    pub path: String,
    pub version: String,
    pub sum: String,
    pub replace: Option<Box<Module>>,
}

/// Decoded build info, as `go version -m` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// Virtual address of the blob.
    pub address: u64,
    /// Toolchain version string exactly as stored, e.g. `go1.26.6-X:nogreenteagc`.
    pub go_version: String,
    /// Main package path (`path` line); empty when built without modules.
    pub path: String,
    pub main: Option<Module>,
    pub deps: Vec<Module>,
    /// `build` lines as (key, value), unquoted, in order.
    pub settings: Vec<(String, String)>,
}

impl BuildInfo {
    /// Reads build info from an executable's bytes.
    pub fn parse(exe: &[u8]) -> Result<BuildInfo, BuildInfoError> {
        let image = ExeImage::parse(exe)?;
        Self::from_image(&image)
    }

    /// Reads build info through an already built image.
    pub fn from_image(image: &ExeImage<'_>) -> Result<BuildInfo, BuildInfoError> {
        let address = find_blob(image).ok_or(BuildInfoError::NotFound)?;
        let malformed = |what: &str| BuildInfoError::Malformed {
            address,
            what: what.to_string(),
        };
        let header = image
            .bytes_at(address, HEADER_SIZE as u64)
            .ok_or_else(|| malformed("header runs past the end of its segment"))?;
        let ptr_size = header.get(14).copied().unwrap_or(0);
        let flags = header.get(15).copied().unwrap_or(0);
        let (version, modinfo) = if flags & 2 != 0 {
            let rest = image
                .bytes_from(address.wrapping_add(HEADER_SIZE as u64))
                .ok_or_else(|| malformed("no bytes after the header"))?;
            let (version, used) =
                varint_string(rest).ok_or_else(|| malformed("bad inline version string"))?;
            let (modinfo, _) = rest
                .get(used..)
                .and_then(varint_string)
                .ok_or_else(|| malformed("bad inline module string"))?;
            (version, modinfo)
        } else {
            if ptr_size != 8 || flags & 1 != 0 {
                return Err(malformed(&format!(
                    "pointer format with pointer size {ptr_size} and flags {flags:#x} is not supported"
                )));
            }
            let word = |offset: usize| image.word_in(header, offset);
            let version_ptr = word(16).ok_or_else(|| malformed("short header"))?;
            let modinfo_ptr = word(24).ok_or_else(|| malformed("short header"))?;
            let version = read_go_string(image, version_ptr)
                .ok_or_else(|| malformed("version pointer does not lead to a Go string"))?;
            // A binary built without modules has an empty modinfo string.
            let modinfo = read_go_string(image, modinfo_ptr).unwrap_or_default();
            (version, modinfo)
        };
        if version.is_empty() {
            return Err(malformed("empty Go version"));
        }
        let mut info = BuildInfo {
            address,
            go_version: String::from_utf8_lossy(version).into_owned(),
            ..BuildInfo::default()
        };
        // The module text is framed by 16-byte sentinels.
        let modinfo = if modinfo.len() >= 33 && modinfo.get(modinfo.len() - 17) == Some(&b'\n') {
            &modinfo[16..modinfo.len() - 16]
        } else {
            &[][..]
        };
        info.parse_modinfo(&String::from_utf8_lossy(modinfo))
            .map_err(|what| malformed(&what))?;
        Ok(info)
    }

    /// Value of the build setting `key` (e.g. `GOARCH`, `-ldflags`).
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The parsed toolchain version.
    pub fn version(&self) -> GoVersion {
        GoVersion::parse(&self.go_version)
    }

    /// GOEXPERIMENTs that differ from the toolchain's defaults, from the
    /// version suffix and the `GOEXPERIMENT` build setting, deduplicated,
    /// in order of appearance (e.g. `noswissmap`, `mapsplitgroup`).
    pub fn experiments(&self) -> Vec<String> {
        let mut out = self.version().experiments;
        if let Some(setting) = self.setting("GOEXPERIMENT") {
            for exp in setting.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                if !out.iter().any(|e| e == exp) {
                    out.push(exp.to_string());
                }
            }
        }
        out
    }

    /// Whether experiment `name` (e.g. `noswissmap`) is in effect.
    pub fn has_experiment(&self, name: &str) -> bool {
        self.experiments().iter().any(|e| e == name)
    }

    /// The text `go version -m` prints after the first line (each line
    /// starts with a tab), with Go's quoting of keys and values.
    pub fn modinfo_text(&self) -> String {
        let mut out = String::new();
        if !self.path.is_empty() {
            out.push_str(&format!("\tpath\t{}\n", self.path));
        }
        fn module(out: &mut String, word: &str, m: &Module) {
            out.push_str(&format!("\t{word}\t{}\t{}", m.path, m.version));
            match &m.replace {
                None => out.push_str(&format!("\t{}\n", m.sum)),
                Some(r) => {
                    out.push('\n');
                    module(out, "=>", r);
                }
            }
        }
        if let Some(main) = &self.main {
            module(&mut out, "mod", main);
        }
        for dep in &self.deps {
            module(&mut out, "dep", dep);
        }
        for (key, value) in &self.settings {
            let key = if key.is_empty() || key.contains(['=', ' ', '\t', '\r', '\n', '"', '`']) {
                go_quote(key)
            } else {
                key.clone()
            };
            let value = if value.contains([' ', '\t', '\r', '\n', '"', '`']) {
                go_quote(value)
            } else {
                value.clone()
            };
            out.push_str(&format!("\tbuild\t{key}={value}\n"));
        }
        out
    }

    /// Parses the module text (the reverse of Go's `BuildInfo.String`).
    fn parse_modinfo(&mut self, text: &str) -> Result<(), String> {
        // Which module a following `=>` line replaces.
        enum Last {
            None,
            Main,
            Dep(usize),
        }
        let mut last = Last::None;
        for (number, line) in text.split_terminator('\n').enumerate() {
            let bad = |what: &str| format!("module info line {}: {what}", number + 1);
            if let Some(path) = line.strip_prefix("path\t") {
                self.path = path.to_string();
            } else if let Some(rest) = line.strip_prefix("mod\t") {
                self.main = Some(module_line(rest).ok_or_else(|| bad("bad mod line"))?);
                last = Last::Main;
            } else if let Some(rest) = line.strip_prefix("dep\t") {
                self.deps
                    .push(module_line(rest).ok_or_else(|| bad("bad dep line"))?);
                last = Last::Dep(self.deps.len() - 1);
            } else if let Some(rest) = line.strip_prefix("=>\t") {
                let cols: Vec<&str> = rest.split('\t').collect();
                let [path, version, sum] = cols[..] else {
                    return Err(bad("replacement needs 3 columns"));
                };
                let replacement = Some(Box::new(Module {
                    path: path.into(),
                    version: version.into(),
                    sum: sum.into(),
                    replace: None,
                }));
                match last {
                    Last::Main => {
                        if let Some(m) = self.main.as_mut() {
                            m.replace = replacement
                        }
                    }
                    Last::Dep(i) => {
                        if let Some(m) = self.deps.get_mut(i) {
                            m.replace = replacement
                        }
                    }
                    Last::None => return Err(bad("replacement with no module before it")),
                }
                last = Last::None;
            } else if let Some(kv) = line.strip_prefix("build\t") {
                let (key, raw_value) = if kv.starts_with('"') || kv.starts_with('`') {
                    let (key, used) = go_unquote_prefix(kv).ok_or_else(|| bad("bad quoted key"))?;
                    let rest = &kv[used..];
                    let value = rest
                        .strip_prefix('=')
                        .ok_or_else(|| bad("missing '=' after quoted key"))?;
                    (key, value)
                } else {
                    let (key, value) = kv.split_once('=').ok_or_else(|| bad("missing '='"))?;
                    if key.is_empty() {
                        return Err(bad("missing key"));
                    }
                    (key.to_string(), value)
                };
                let value = if raw_value.starts_with('"') || raw_value.starts_with('`') {
                    match go_unquote_prefix(raw_value) {
                        Some((v, used)) if used == raw_value.len() => v,
                        _ => return Err(bad("bad quoted value")),
                    }
                } else {
                    raw_value.to_string()
                };
                self.settings.push((key, value));
            }
        }
        Ok(())
    }
}

fn module_line(rest: &str) -> Option<Module> {
    let cols: Vec<&str> = rest.split('\t').collect();
    match cols[..] {
        [path, version] => Some(Module {
            path: path.into(),
            version: version.into(),
            ..Module::default()
        }),
        [path, version, sum] => Some(Module {
            path: path.into(),
            version: version.into(),
            sum: sum.into(),
            replace: None,
        }),
        _ => None,
    }
}

/// A Go toolchain version such as `go1.26.6`, `go1.24.11 X:noswissmap`,
/// `go1.26.6-X:nogreenteagc` or `go1.23rc1`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GoVersion {
    /// The whole string as stored.
    pub raw: String,
    /// `go1.26.6` without experiment suffix; empty if the string is not a release.
    pub release: String,
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// `rc1`, `beta2`, ... for prereleases.
    pub prerelease: String,
    /// Experiments from the ` X:` (before 1.26) or `-X:` (from 1.26) suffix.
    pub experiments: Vec<String>,
}

impl GoVersion {
    pub fn parse(raw: &str) -> GoVersion {
        let mut v = GoVersion {
            raw: raw.to_string(),
            ..GoVersion::default()
        };
        // `devel go1.27-abcdef ...` builds carry the release after "devel ".
        let s = raw.strip_prefix("devel ").unwrap_or(raw);
        let (base, experiments) = match (s.find(" X:"), s.find("-X:")) {
            (Some(i), _) | (None, Some(i)) => (&s[..i], Some(&s[i + 3..])),
            (None, None) => (s, None),
        };
        if let Some(exps) = experiments {
            // The list ends at the first space (devel strings carry a date).
            let exps = exps.split(' ').next().unwrap_or("");
            v.experiments = exps
                .split(',')
                .filter(|e| !e.is_empty())
                .map(str::to_string)
                .collect();
        }
        let base = base.split(' ').next().unwrap_or("");
        let Some(numbers) = base.strip_prefix("go") else {
            return v;
        };
        let end = numbers
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(numbers.len());
        let (digits, pre) = numbers.split_at(end);
        let mut parts = digits.split('.').map(|p| p.parse::<u32>().ok());
        v.major = parts.next().flatten().unwrap_or(0);
        v.minor = parts.next().flatten().unwrap_or(0);
        v.patch = parts.next().flatten().unwrap_or(0);
        // `go1.27-devel_abc`: a dash starts build metadata, not a prerelease.
        v.prerelease = if pre.starts_with('-') {
            String::new()
        } else {
            pre.to_string()
        };
        v.release = format!("go{digits}{}", v.prerelease);
        v
    }

    /// Whether this is at least go`major`.`minor`.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

/// Address of the blob: the `.go.buildinfo` section, else a 16-aligned
/// search of the writable segments' file bytes (the linker puts it at the
/// start of the data segment).
fn find_blob(image: &ExeImage<'_>) -> Option<u64> {
    if let Some(section) = image.section(".go.buildinfo") {
        if let Some(offset) = search(section.data, section.address) {
            return section.address.checked_add(offset as u64);
        }
    }
    image
        .segments()
        .filter(|(seg, _)| seg.writable)
        .find_map(|(seg, data)| seg.address.checked_add(search(data, seg.address)? as u64))
}

/// Offset of the first 16-byte aligned (by virtual address) magic in `data`.
fn search(data: &[u8], address: u64) -> Option<usize> {
    let misalign = (address % ALIGN as u64) as usize;
    let mut offset = (ALIGN - misalign) % ALIGN;
    while offset.checked_add(MAGIC.len())? <= data.len() {
        if data.get(offset..offset + MAGIC.len()) == Some(&MAGIC[..]) {
            return Some(offset);
        }
        offset += ALIGN;
    }
    None
}

/// A uvarint length followed by that many bytes; returns bytes and the
/// total length consumed.
fn varint_string(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let mut value: u64 = 0;
    let mut used = 0usize;
    loop {
        let b = *bytes.get(used)?;
        if used >= 10 {
            return None;
        }
        value |= u64::from(b & 0x7f) << (7 * used);
        used += 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    if value > MAX_STRING {
        return None;
    }
    let end = used.checked_add(usize::try_from(value).ok()?)?;
    Some((bytes.get(used..end)?, end))
}

/// A Go string header (ptr, len) at `address`, followed to its bytes.
fn read_go_string<'a>(image: &ExeImage<'a>, address: u64) -> Option<&'a [u8]> {
    let ptr = image.read_ptr(address)?;
    let len = image.read_ptr(address.checked_add(8)?)?;
    if len > MAX_STRING {
        return None;
    }
    image.bytes_at(ptr, len)
}

/// Go's `strconv.Quote` for the strings build info holds.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Unquotes a Go quoted string at the start of `s` (double-quoted with
/// escapes, or a backquoted raw string). Returns the value and the bytes
/// consumed.
fn go_unquote_prefix(s: &str) -> Option<(String, usize)> {
    let mut chars = s.char_indices();
    let (_, quote) = chars.next()?;
    let mut out = String::new();
    if quote == '`' {
        let end = s.get(1..)?.find('`')? + 1;
        return Some((s.get(1..end)?.replace('\r', ""), end + 1));
    }
    if quote != '"' {
        return None;
    }
    let hex = |chars: &mut std::str::CharIndices<'_>, n: usize| -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = v * 16 + chars.next()?.1.to_digit(16)?;
        }
        Some(v)
    };
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\x0b'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' => out.push(char::from_u32(hex(&mut chars, 2)?)?),
                    'u' => out.push(char::from_u32(hex(&mut chars, 4)?)?),
                    'U' => out.push(char::from_u32(hex(&mut chars, 8)?)?),
                    '0'..='7' => {
                        let mut v = e.to_digit(8)?;
                        for _ in 0..2 {
                            v = v * 8 + chars.next()?.1.to_digit(8)?;
                        }
                        out.push(char::from_u32(v)?);
                    }
                    _ => return None,
                }
            }
            '\n' => return None,
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_suffixes() {
        let old = GoVersion::parse("go1.24.11 X:noswissmap");
        assert_eq!(old.release, "go1.24.11");
        assert_eq!((old.major, old.minor, old.patch), (1, 24, 11));
        assert_eq!(old.experiments, vec!["noswissmap"]);
        let new = GoVersion::parse("go1.26.6-X:nogreenteagc,mapsplitgroup");
        assert_eq!(new.release, "go1.26.6");
        assert_eq!(new.experiments, vec!["nogreenteagc", "mapsplitgroup"]);
        let plain = GoVersion::parse("go1.21.13");
        assert!(plain.experiments.is_empty());
        assert!(plain.at_least(1, 21) && !plain.at_least(1, 22));
        let rc = GoVersion::parse("go1.23rc1");
        assert_eq!((rc.minor, rc.patch, rc.prerelease.as_str()), (23, 0, "rc1"));
        let devel = GoVersion::parse("devel go1.27-1234abcd Tue Jan 1 00:00:00 2026 +0000");
        assert_eq!((devel.major, devel.minor), (1, 27));
        assert_eq!(GoVersion::parse("garbage").major, 0);
    }

    #[test]
    fn quoting_round_trips() {
        for s in ["-s -w", "a\"b", "tab\there", "x\\y\n"] {
            let q = go_quote(s);
            assert_eq!(go_unquote_prefix(&q), Some((s.to_string(), q.len())));
        }
        assert_eq!(go_unquote_prefix("`raw`=x"), Some(("raw".into(), 5)));
        assert_eq!(go_unquote_prefix("\"unterminated"), None);
    }

    #[test]
    fn modinfo_lines() {
        let mut info = BuildInfo::default();
        let text = "path\tex.com/p\nmod\tex.com/p\t(devel)\t\ndep\tgolang.org/x/sys\tv0.1.0\n=>\t../sys\t(devel)\t\nbuild\t-ldflags=\"-s -w\"\nbuild\tCGO_ENABLED=0\n";
        info.parse_modinfo(text).unwrap();
        assert_eq!(info.path, "ex.com/p");
        assert_eq!(info.setting("-ldflags"), Some("-s -w"));
        assert_eq!(info.setting("CGO_ENABLED"), Some("0"));
        assert_eq!(
            info.deps[0].replace.as_deref().map(|m| m.path.as_str()),
            Some("../sys")
        );
        let rendered: String = info
            .modinfo_text()
            .lines()
            .map(|l| format!("{}\n", l.trim_start_matches('\t')))
            .collect();
        assert_eq!(rendered, text);
        assert!(info.parse_modinfo("build\tnoequals\n").is_err());
    }

    #[test]
    fn varint_strings_are_bounded() {
        assert_eq!(
            varint_string(&[3, b'a', b'b', b'c', 9]),
            Some((&b"abc"[..], 4))
        );
        assert_eq!(varint_string(&[5, b'a']), None);
        assert_eq!(varint_string(&[0xff; 12]), None);
        assert_eq!(varint_string(&[]), None);
    }
}
