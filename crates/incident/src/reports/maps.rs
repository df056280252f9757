//! `mapscope maps`'s report: every map, `sync.Map` and map family found
//! from the core's roots, sorted by the bytes each would free (retained
//! bytes), as the MAP objects `analyze` prints too
//! ([`crate::analyze::MapReport`], one serializer).

use crate::analyze::{map_report, MapReport};
use crate::coverage::Coverage;
use crate::error::IncidentError;
use crate::open::{open_go, ExeFiles};
use crate::warning::{library, Warning};
use mapscope_gomaps::discover::{discover_with, DiscoverOptions, Garbage};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// `mapscope maps --format json`.
#[derive(Serialize, Debug)]
pub struct MapsReport {
    pub go_version: String,
    /// The MAP objects `analyze` prints too (one serializer); their
    /// attribution fields are null (no profile is read).
    pub maps: Vec<MapReport>,
    /// Map storage no root reaches (garbage awaiting collection).
    pub garbage: Garbage,
    /// `retained_bytes` are lower bounds (each map's own storage): the
    /// core lacks the heap's span metadata, so object extents are unknown.
    pub retained_bytes_lower_bound: bool,
    /// What the core holds of what it declares, per kind of memory.
    pub coverage: Coverage,
    pub warnings: Vec<Warning>,
    /// The core (the document's heading).
    #[serde(skip)]
    pub core: PathBuf,
}

/// The maps of `core`: the `top` largest by retained bytes (all with
/// `None`), each family listing at most `children` members (0: all).
pub fn maps_report(
    core: &Path,
    exe: ExeFiles<'_>,
    top: Option<usize>,
    children: usize,
) -> Result<MapsReport, IncidentError> {
    let (process, notes) = open_go(core, exe)?;
    // Members the report does not list are counted, not kept.
    let options = DiscoverOptions {
        members_kept: children,
    };
    let found = discover_with(&process, &options).map_err(|source| IncidentError::Discovery {
        path: core.to_path_buf(),
        source,
    })?;
    let mut maps = found.maps;
    if let Some(n) = top {
        maps.truncate(n);
    }
    let coverage = Coverage::of(&process);
    let mut warnings = notes;
    warnings.extend(library(process.warnings()));
    warnings.extend(coverage.warning());
    warnings.extend(library(&found.warnings));
    Ok(MapsReport {
        go_version: process.version_string().to_string(),
        maps: maps.iter().map(|m| map_report(m, children)).collect(),
        garbage: found.garbage.clone(),
        retained_bytes_lower_bound: found.retained_lower_bound,
        coverage,
        warnings,
        core: core.to_path_buf(),
    })
}
