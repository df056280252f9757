//! `mapscope top`'s report: a heap profile's functions by flat and
//! cumulative value as `go tool pprof -top -nodefraction=0` lists them
//! (`mapscope_pprof::top`), with the profile facts pprof's header prints.

use mapscope_pprof::{top, Profile, ProfileError, TopOptions};
use serde::Serialize;

/// `mapscope top --format json` (`docs/cli.md`).
#[derive(Serialize, Debug)]
pub struct TopListing {
    pub sample_type: String,
    pub unit: String,
    pub total: i64,
    pub rows: Vec<TopLine>,
    /// What pprof's text header says (not in the JSON).
    #[serde(skip)]
    pub header: TopHeader,
}

/// One function of the listing.
#[derive(Serialize, Debug, Clone)]
pub struct TopLine {
    pub function: String,
    pub flat: i64,
    pub flat_pct: f64,
    pub sum_pct: f64,
    pub cum: i64,
    pub cum_pct: f64,
    /// pprof's marker: "inline", "partial-inline", or null.
    pub inline: Option<&'static str>,
    /// The marker as pprof prints it: `(inline)`, `(partial-inline)`, ``.
    #[serde(skip)]
    pub marker: &'static str,
}

/// The facts of pprof's header lines.
#[derive(Debug, Clone, Default)]
pub struct TopHeader {
    /// The main mapping's file name (Go's `filepath.Base`), when named.
    pub file: Option<String>,
    /// The main mapping's build ID, when it has one.
    pub build_id: Option<String>,
    /// The profile's comments but `#` lines.
    pub comments: Vec<String>,
    pub doc_url: String,
    /// 0 when unknown.
    pub time_nanos: i64,
    /// 0 when unknown.
    pub duration_nanos: i64,
    /// Sum of flat over the rows shown.
    pub shown: i64,
    /// Functions before the node count limit.
    pub nodes_before_limit: usize,
    /// Functions dropped by the node fraction, and their cut-off.
    pub dropped_nodes: usize,
    pub dropped_cutoff: i64,
}

/// The `top` listing of `profile`.
pub fn top_listing(profile: &Profile, options: &TopOptions) -> Result<TopListing, ProfileError> {
    let r = top(profile, options)?;
    let main = profile.main_mapping();
    let header = TopHeader {
        file: main
            .filter(|m| !m.filename.is_empty())
            .map(|m| go_base(&m.filename).to_string()),
        build_id: main
            .filter(|m| !m.build_id.is_empty())
            .map(|m| m.build_id.clone()),
        comments: profile
            .comments
            .iter()
            .filter(|c| !c.starts_with('#'))
            .cloned()
            .collect(),
        doc_url: profile.doc_url.clone(),
        time_nanos: profile.time_nanos,
        duration_nanos: profile.duration_nanos,
        shown: r.shown,
        nodes_before_limit: r.nodes_before_limit,
        dropped_nodes: r.dropped_nodes,
        dropped_cutoff: r.dropped_cutoff,
    };
    Ok(TopListing {
        rows: r
            .rows
            .iter()
            .map(|row| TopLine {
                function: row.function.clone(),
                flat: row.flat,
                flat_pct: row.flat_pct,
                sum_pct: row.sum_pct,
                cum: row.cum,
                cum_pct: row.cum_pct,
                inline: Some(row.inline.as_str().trim_matches(['(', ')']))
                    .filter(|s| !s.is_empty()),
                marker: row.inline.as_str(),
            })
            .collect(),
        sample_type: r.sample_type.r#type,
        unit: r.sample_type.unit,
        total: r.total,
        header,
    })
}

/// Go's `filepath.Base` on Unix.
fn go_base(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

#[cfg(test)]
mod tests {
    use super::go_base;

    #[test]
    fn base_names() {
        assert_eq!(go_base("/opt/app/bin/synth"), "synth");
        assert_eq!(go_base("x/"), "x");
        assert_eq!(go_base("/"), "/");
    }
}
