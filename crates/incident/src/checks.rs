//! The profile ↔ core ↔ executable cross-checks of `mapscope check` (and
//! of `analyze`, which turns a failed check into a finding): named checks
//! with pass/fail/skip and a one-line detail.
//!
//! Checks:
//! - `profile-build-id`: the profile's main mapping build ID equals the
//!   executable's GNU build ID;
//! - `executable-matches-core`: the executable is the file the core's
//!   process ran (NT_FILE name, mapping layout vs program headers, build-id
//!   note bytes in the core's copy of the first page). [`check_files`]
//!   opens a given executable without refusing it
//!   ([`crate::open::ExeChoice::Examine`]): a mismatch is this check
//!   failing (exit 1), where every other command refuses to start;
//! - `sample-addresses`: every sample location address, relocated from the
//!   profile's mapping to the core (PIE: vaddr = address − mapping.start +
//!   mapping.offset − p_offset + p_vaddr, then + the core's load bias), lies
//!   in an executable region of the core;
//! - `sample-symbols`: the function at each location is the one the
//!   profile names (the outermost of its inlined frames), by the ELF
//!   symbols of the separate debug file (`check --symbols`) or of the
//!   executable, else — a `-s` build has none — by the executable's
//!   pclntab, which the runtime itself names functions from;
//! - `mapping-ranges`: each profile mapping has a core mapping with the same
//!   file, offset, start and size;
//! - `core-complete`: no core segment is truncated.
//!
//! Does not touch: the Go runtime model, rendering.

use crate::error::IncidentError;
use crate::open::{open_with_symbols, ExeChoice};
use crate::reports::hex_addr;
use mapscope_elfcore::{
    match_executable, place_executable, Core, Executable, ExecutableMatch, Placement, Region,
    RegionKind, Verdict,
};
use mapscope_pprof::{Mapping, Profile};
use serde::Serialize;
use std::path::Path;

/// What `mapscope check` reports.
#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub profile: String,
    pub core: String,
    pub executable: Option<String>,
    pub checks: Vec<Check>,
}

impl CheckReport {
    /// Some check failed (the command exits 1).
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }
}

/// Opens the three files and runs every check. A given executable is
/// examined, not refused ([`crate::open::ExeChoice::Examine`]): a mismatch
/// is a failed check. `exe: None`: the core's `NT_FILE` path of its
/// executable, when that file exists and matches.
/// `symbols`: a separate debug file of the executable's build (refused
/// when it is another build, as by every command), whose ELF symbols
/// name the sample locations.
pub fn check_files(
    profile_path: &Path,
    core_path: &Path,
    exe_path: Option<&Path>,
    symbols: Option<&Path>,
) -> Result<CheckReport, IncidentError> {
    let profile = Profile::from_path(profile_path).map_err(|source| IncidentError::Profile {
        path: profile_path.to_path_buf(),
        source,
    })?;
    let choice = match exe_path {
        Some(p) => ExeChoice::Examine(p),
        None => ExeChoice::Discover,
    };
    let opened = open_with_symbols(core_path, choice, symbols)?;
    let notes: Vec<String> = opened.missing_executable.iter().cloned().collect();
    let core = opened.memory.core();
    let exe = opened.memory.executable();
    let debug = opened.debug.as_ref().map(|d| d.executable());
    let checks = run_checks(&profile, core, exe, debug, &notes);
    Ok(CheckReport {
        profile: profile_path.display().to_string(),
        core: core_path.display().to_string(),
        executable: exe.map(|e| e.path().display().to_string()),
        checks,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

fn check(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
    }
}

/// All checks, in a fixed order.
/// `debug`: the executable's separate debug file, whose ELF symbols name
/// functions first.
pub fn run_checks(
    profile: &Profile,
    core: &Core,
    exe: Option<&Executable>,
    debug: Option<&Executable>,
    notes: &[String],
) -> Vec<Check> {
    let no_exe = || {
        notes
            .first()
            .cloned()
            .unwrap_or_else(|| "no executable (pass --exe)".to_string())
    };
    let placement = exe.and_then(|e| place_executable(core, e));
    let matched = exe.map(|e| match_executable(core, e));
    let regions = match (exe, &placement) {
        (Some(e), Some(p)) => core.regions_with_executable(e, p),
        _ => core.regions(),
    };
    vec![
        match exe {
            Some(e) => check_build_id(profile, e),
            None => check("profile-build-id", Status::Skip, no_exe()),
        },
        match &matched {
            Some(m) => check_exe_core(m),
            None => check("executable-matches-core", Status::Skip, no_exe()),
        },
        check_sample_addresses(profile, exe.zip(placement.as_ref()), &regions),
        match exe {
            Some(e) => check_sample_symbols(profile, e, debug),
            None => check("sample-symbols", Status::Skip, no_exe()),
        },
        check_mapping_ranges(profile, core, &regions),
        check_core_complete(core),
    ]
}

fn check_build_id(profile: &Profile, exe: &Executable) -> Check {
    const NAME: &str = "profile-build-id";
    let Some(main) = profile.main_mapping() else {
        return check(NAME, Status::Skip, "the profile has no mappings");
    };
    if main.build_id.is_empty() {
        return check(
            NAME,
            Status::Skip,
            format!(
                "the profile's main mapping ({}) has no build ID",
                main.filename
            ),
        );
    }
    let Some(exe_id) = exe.gnu_build_id_hex() else {
        return check(
            NAME,
            Status::Skip,
            format!("{} has no GNU build ID note", exe.path().display()),
        );
    };
    if main.build_id.eq_ignore_ascii_case(&exe_id) {
        check(NAME, Status::Pass, format!("both {exe_id}"))
    } else {
        check(
            NAME,
            Status::Fail,
            format!(
                "profile's main mapping {} has build ID {}, executable {} has {exe_id}: the profile is from another build",
                main.filename,
                main.build_id,
                exe.path().display()
            ),
        )
    }
}

fn check_exe_core(m: &ExecutableMatch) -> Check {
    const NAME: &str = "executable-matches-core";
    let all = [
        ("machine", &m.arch),
        ("name", &m.name),
        ("layout", &m.layout),
        ("build id", &m.build_id),
    ];
    let disagreements: Vec<String> = all
        .iter()
        .filter(|(_, e)| e.verdict == Verdict::Disagrees)
        .map(|(what, e)| format!("{what}: {}", e.detail))
        .collect();
    if m.is_mismatch() {
        return check(NAME, Status::Fail, disagreements.join("; "));
    }
    let strong = [&m.layout, &m.build_id];
    if strong.iter().all(|e| e.verdict == Verdict::Unknown) {
        return check(
            NAME,
            Status::Skip,
            format!("cannot compare: {}; {}", m.layout.detail, m.build_id.detail),
        );
    }
    // Agreements, plus a differing name when stronger evidence agrees.
    let mut said: Vec<String> = all
        .iter()
        .filter(|(_, e)| e.verdict == Verdict::Agrees)
        .map(|(what, e)| format!("{what}: {}", e.detail))
        .collect();
    said.extend(
        disagreements
            .into_iter()
            .map(|d| format!("{d} (renamed copy)")),
    );
    check(NAME, Status::Pass, said.join("; "))
}

/// Is `p` one of the pseudo-paths pprof gives kernel-provided mappings?
fn pseudo_kind(filename: &str) -> Option<RegionKind> {
    match filename {
        "[vdso]" => Some(RegionKind::Vdso),
        "[vsyscall]" => Some(RegionKind::Vsyscall),
        _ => None,
    }
}

fn file_name(p: &str) -> &str {
    Path::new(p)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(p)
}

/// The core region standing for a profile mapping: same file name and file
/// offset (the region where the mapping starts), or the same pseudo-kind.
fn core_region_for<'r>(m: &Mapping, regions: &'r [Region]) -> Option<&'r Region> {
    if let Some(kind) = pseudo_kind(&m.filename) {
        return regions.iter().find(|r| r.kind == kind);
    }
    if m.filename.is_empty() {
        return None;
    }
    let name = file_name(&m.filename);
    regions.iter().find(|r| {
        r.path.as_deref().is_some_and(|p| file_name(p) == name) && r.file_offset == Some(m.offset)
    })
}

/// Link-time virtual address of a main-mapping profile address, through
/// the executable's program headers:
/// vaddr = address − mapping.start + mapping.offset − p_offset + p_vaddr.
fn link_vaddr(address: u64, m: &Mapping, exe: &Executable) -> Result<u64, String> {
    let file_off = address
        .checked_sub(m.start)
        .and_then(|d| d.checked_add(m.offset))
        .ok_or_else(|| format!("{address:#x} lies below its mapping start {:#x}", m.start))?;
    let ph = exe
        .load_segments()
        .find(|ph| ph.offset <= file_off && file_off - ph.offset < ph.filesz)
        .ok_or_else(|| {
            format!("{address:#x} is at file offset {file_off:#x}, in no PT_LOAD of the executable")
        })?;
    ph.vaddr
        .checked_add(file_off - ph.offset)
        .ok_or_else(|| "address overflow".to_string())
}

/// Where a profile address is in the core: through the executable's program
/// headers for the main mapping, else through the core's mapping of the
/// same file.
fn relocate(
    address: u64,
    mapping: Option<&Mapping>,
    is_main: bool,
    exe: Option<(&Executable, &Placement)>,
    regions: &[Region],
) -> Result<u64, String> {
    let Some(m) = mapping else { return Ok(address) };
    let file_off = address
        .checked_sub(m.start)
        .and_then(|d| d.checked_add(m.offset))
        .ok_or_else(|| format!("{address:#x} lies below its mapping start {:#x}", m.start))?;
    if is_main {
        if let Some((exe, placement)) = exe {
            return Ok(placement.runtime_address(link_vaddr(address, m, exe)?));
        }
    }
    let r = core_region_for(m, regions).ok_or_else(|| {
        format!(
            "the core has no mapping of {} at offset {:#x}",
            m.filename, m.offset
        )
    })?;
    let start_off = r.file_offset.unwrap_or(0);
    file_off
        .checked_sub(start_off)
        .and_then(|d| r.start.checked_add(d))
        .ok_or_else(|| {
            format!(
                "{address:#x} does not fit the core's mapping of {}",
                m.filename
            )
        })
}

fn check_sample_addresses(
    profile: &Profile,
    exe: Option<(&Executable, &Placement)>,
    regions: &[Region],
) -> Check {
    const NAME: &str = "sample-addresses";
    let main_id = profile.main_mapping().map(|m| m.id);
    let used = used_locations(profile);
    let mut checked = 0usize;
    let mut bad: Vec<String> = Vec::new();
    let mut bad_count = 0usize;
    for (loc, _) in profile.locations.iter().zip(&used).filter(|(_, u)| **u) {
        if loc.address == 0 {
            continue;
        }
        checked += 1;
        let mapping = profile.mapping(loc);
        let is_main = mapping.is_some_and(|m| Some(m.id) == main_id);
        let verdict = relocate(loc.address, mapping, is_main, exe, regions).and_then(|addr| {
            let r = regions
                .iter()
                .find(|r| r.contains(addr))
                .ok_or_else(|| format!("{:#x} (core address {addr:#x}) is in no region of the core", loc.address))?;
            if r.perms.is_some_and(|p| p.exec) {
                Ok(())
            } else {
                Err(format!(
                    "{:#x} (core address {addr:#x}) is in {:#x}-{:#x} {} {}, which is not executable",
                    loc.address,
                    r.start,
                    r.end,
                    r.perms_string(),
                    r.path.as_deref().unwrap_or(r.kind.as_str())
                ))
            }
        });
        if let Err(why) = verdict {
            bad_count += 1;
            if bad.len() < 3 {
                bad.push(why);
            }
        }
    }
    if checked == 0 {
        return check(
            NAME,
            Status::Skip,
            "the profile's samples have no location addresses",
        );
    }
    let how = match exe {
        Some((_, p)) => format!(
            "relocated through the executable's program headers, load bias {:#x}",
            p.bias
        ),
        None => "relocated through the core's NT_FILE mappings (no executable)".to_string(),
    };
    if bad_count == 0 {
        check(
            NAME,
            Status::Pass,
            format!("all {checked} sample location addresses lie in executable regions ({how})"),
        )
    } else {
        check(
            NAME,
            Status::Fail,
            format!("{bad_count} of {checked} sample location addresses are not in executable code of the core: {}", bad.join("; ")),
        )
    }
}

/// Indexes of the locations some sample uses.
fn used_locations(profile: &Profile) -> Vec<bool> {
    let mut used = vec![false; profile.locations.len()];
    for s in &profile.samples {
        for &i in &s.locations {
            if let Some(u) = used.get_mut(i) {
                *u = true;
            }
        }
    }
    used
}

/// The executable's ELF symbol at each main-mapping location must be the
/// function the profile names for it (the outermost of its inlined lines):
/// catches a profile of another build even when build IDs are missing.
/// What names the function at a link address for `sample-symbols`.
enum FunctionNames<'a> {
    Elf(mapscope_elfcore::SymbolTable, &'a Path),
    Pclntab(Box<mapscope_goruntime::pclntab::Pclntab<'a>>),
}

impl FunctionNames<'_> {
    /// The ELF symbols of the debug file, else of the executable, else its
    /// pclntab; `Err` says why none can be read.
    fn of<'a>(
        exe: &'a Executable,
        debug: Option<&'a Executable>,
    ) -> Result<FunctionNames<'a>, String> {
        for file in debug.into_iter().chain([exe]) {
            match file.symbols() {
                Ok(s) if !s.is_empty() => return Ok(FunctionNames::Elf(s, file.path())),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        mapscope_goruntime::pclntab::Pclntab::parse(exe.data())
            .map(|p| FunctionNames::Pclntab(Box::new(p)))
            .map_err(|e| {
                format!(
                    "{} has no symbol table (stripped) and no readable pclntab: {e}",
                    exe.path().display()
                )
            })
    }

    fn name_at(&self, link_pc: u64) -> Option<String> {
        match self {
            FunctionNames::Elf(s, _) => s.lookup(link_pc).map(|s| s.name.clone()),
            FunctionNames::Pclntab(p) => p.func_for_pc(link_pc).map(|f| f.name().to_string()),
        }
    }

    /// "the executable's symbols", "the symbols of FILE", "the
    /// executable's pclntab (it has no symbol table)".
    fn describe(&self, exe: &Executable) -> String {
        match self {
            FunctionNames::Elf(_, p) if *p == exe.path() => "the executable's symbols".into(),
            FunctionNames::Elf(_, p) => format!("the symbols of {}", p.display()),
            FunctionNames::Pclntab(_) => "the executable's pclntab (it has no symbol table)".into(),
        }
    }
}

fn check_sample_symbols(profile: &Profile, exe: &Executable, debug: Option<&Executable>) -> Check {
    const NAME: &str = "sample-symbols";
    let names = match FunctionNames::of(exe, debug) {
        Ok(n) => n,
        Err(e) => return check(NAME, Status::Skip, e),
    };
    let Some(main) = profile.main_mapping() else {
        return check(NAME, Status::Skip, "the profile has no mappings");
    };
    let used = used_locations(profile);
    let (mut checked, mut bad_count) = (0usize, 0usize);
    let mut bad = Vec::new();
    for (loc, _) in profile.locations.iter().zip(&used).filter(|(_, u)| **u) {
        let Some(line) = loc.lines.last() else {
            continue;
        };
        let Some(function) = profile.function(line) else {
            continue;
        };
        if loc.address == 0
            || profile.mapping(loc).map(|m| m.id) != Some(main.id)
            || function.name.is_empty()
        {
            continue;
        }
        checked += 1;
        let found = link_vaddr(loc.address, main, exe).map(|v| names.name_at(v));
        // Go's ELF symbols of assembly functions carry an ABI suffix that
        // pclntab (and so the profile) does not.
        let ok = matches!(&found, Ok(Some(name)) if name.strip_suffix(".abi0").unwrap_or(name) == function.name);
        if !ok {
            bad_count += 1;
            if bad.len() < 3 {
                bad.push(match found {
                    Ok(Some(name)) => format!(
                        "{:#x}: profile says {}, {} say {name}",
                        loc.address,
                        function.name,
                        names.describe(exe)
                    ),
                    Ok(None) => format!(
                        "{:#x}: profile says {}, {} name no function there",
                        loc.address,
                        function.name,
                        names.describe(exe)
                    ),
                    Err(e) => e,
                });
            }
        }
    }
    if checked == 0 {
        return check(
            NAME,
            Status::Skip,
            "no profile location has both an address and a function name",
        );
    }
    if bad_count == 0 {
        check(
            NAME,
            Status::Pass,
            format!(
                "all {checked} located functions match {}",
                names.describe(exe)
            ),
        )
    } else {
        check(
            NAME,
            Status::Fail,
            format!(
                "{bad_count} of {checked} locations name a different function than {} (another build?): {}",
                names.describe(exe),
                bad.join("; ")
            ),
        )
    }
}

fn check_mapping_ranges(profile: &Profile, core: &Core, regions: &[Region]) -> Check {
    const NAME: &str = "mapping-ranges";
    if profile.mappings.is_empty() {
        return check(NAME, Status::Skip, "the profile has no mappings");
    }
    if core.file_mappings().is_empty() {
        return check(NAME, Status::Skip, "the core has no NT_FILE note");
    }
    let mut problems = Vec::new();
    // Same sizes at other addresses: another process of the same build.
    let mut resized = false;
    let mut agreed = 0usize;
    for m in &profile.mappings {
        let Some(r) = core_region_for(m, regions) else {
            problems.push(format!(
                "profile mapping {:#x}-{:#x} {} (offset {:#x}) has no counterpart in the core",
                m.start, m.limit, m.filename, m.offset
            ));
            resized = true;
            continue;
        };
        // A file mapping may be split into several regions by permission
        // changes; compare with the contiguous run of same-file regions.
        let mut end = r.end;
        for next in regions.iter().filter(|n| n.start >= r.end) {
            if next.start == end
                && next.path == r.path
                && next.path.is_some()
                && next.end <= m.limit
            {
                end = next.end;
            }
        }
        if r.start == m.start && end == m.limit {
            agreed += 1;
        } else {
            if end.wrapping_sub(r.start) != m.limit.wrapping_sub(m.start) {
                resized = true;
            }
            problems.push(format!(
                "{}: profile {:#x}-{:#x}, core {}-{}",
                if m.filename.is_empty() {
                    "(anonymous)"
                } else {
                    &m.filename
                },
                m.start,
                m.limit,
                hex_addr(r.start),
                hex_addr(end)
            ));
        }
    }
    if problems.is_empty() {
        check(
            NAME,
            Status::Pass,
            format!("all {agreed} profile mappings match the core's mappings"),
        )
    } else {
        check(
            NAME,
            Status::Fail,
            format!(
                "{} of {} profile mappings differ from the core's: {}{}",
                problems.len(),
                profile.mappings.len(),
                problems.join("; "),
                if resized {
                    ""
                } else {
                    " (same sizes at other addresses: the profile is from another process)"
                }
            ),
        )
    }
}

fn check_core_complete(core: &Core) -> Check {
    const NAME: &str = "core-complete";
    let truncated: Vec<_> = core.segments().iter().filter(|s| s.truncated).collect();
    if truncated.is_empty() {
        return check(
            NAME,
            Status::Pass,
            format!("all {} segments are in the file", core.segments().len()),
        );
    }
    let missing: u64 = truncated
        .iter()
        .map(|s| s.filesz.saturating_sub(s.present))
        .sum();
    let first = truncated
        .first()
        .map(|s| format!("first at {:#x}", s.vaddr))
        .unwrap_or_default();
    check(
        NAME,
        Status::Fail,
        format!(
            "{} of {} segments are truncated ({missing} bytes missing, {first}); the file is {} bytes",
            truncated.len(),
            core.segments().len(),
            core.file_size()
        ),
    )
}
