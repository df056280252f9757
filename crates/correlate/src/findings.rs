//! Findings: what is wasteful about a map, each tied to its numbers.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    High,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// The map's root path; empty for profile-wide findings.
    pub map: String,
    pub code: String,
    pub message: String,
}

/// What the findings need to know about a map.
#[derive(Clone, Debug, Default)]
pub struct MapFacts {
    pub root: String,
    pub root_kind: String,
    /// `map`, `sync.Map`, `map-family`.
    pub kind: String,
    pub type_name: String,
    pub key_type: String,
    pub key_size: u64,
    pub elem_size: u64,
    pub indirect_elems: bool,
    pub len: u64,
    pub capacity: u64,
    pub tombstones: u64,
    pub growing: bool,
    pub storage_bytes: u64,
    pub retained_bytes: u64,
    /// Members of a family.
    pub members: u64,
    /// Goroutine holding a goroutine-only map: (id, function).
    pub goroutine: Option<(u64, String)>,
    /// Swiss maps: slots a map of this len would need (grow at 7/8) — the
    /// caller may leave 0 to use `len*8/7`.
    pub needed_capacity: u64,
}

fn f(sev: Severity, m: &MapFacts, code: &str, message: String) -> Finding {
    Finding {
        severity: sev,
        map: m.root.clone(),
        code: code.to_string(),
        message,
    }
}

/// Smallest power of two ≥ x (≥ 8).
fn pow2_at_least(x: u64) -> u64 {
    x.max(8).checked_next_power_of_two().unwrap_or(u64::MAX)
}

/// Findings for every map, strongest first.
pub fn findings(maps: &[MapFacts]) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in maps {
        // Never shrank: the table is far larger than a map of this len
        // would have, because entries were deleted (Go maps never shrink).
        // Evidence of deletion: tombstones, or a capacity ≥ 8× what the
        // len needs (growth alone leaves ≤ 2× + load factor).
        if m.kind == "map" && m.capacity >= 64 {
            let needed = pow2_at_least(m.len.saturating_mul(8).div_ceil(7).max(1));
            let oversized = m.capacity >= needed.saturating_mul(8);
            if oversized || (m.tombstones > 0 && m.tombstones >= m.len) {
                out.push(f(
                    Severity::High,
                    m,
                    "never-shrank",
                    format!(
                        "{} has {} entries in {} slots ({} tombstones): it was filled and then emptied, and Go maps never shrink; {} bytes of storage for a map that needs about {} slots — copy it into a new map",
                        m.root, m.len, m.capacity, m.tombstones, m.storage_bytes, needed
                    ),
                ));
            }
        }
        if m.kind == "map-family" && m.members >= 100 && m.len > 0 {
            let per_entry = m.storage_bytes / m.len.max(1);
            if per_entry >= 64 {
                out.push(f(
                    Severity::Warning,
                    m,
                    "many-tiny-maps",
                    format!(
                        "{} is {} maps holding {} entries: {} bytes of map storage, {} bytes per entry — consider one map with a composite key",
                        m.root, m.members, m.len, m.storage_bytes, per_entry
                    ),
                ));
            }
        } else if m.kind == "map-family" {
            out.push(f(
                Severity::Info,
                m,
                "nested-map-family",
                format!(
                    "{} is a family of {} nested maps retaining {} bytes",
                    m.root, m.members, m.retained_bytes
                ),
            ));
        }
        if m.indirect_elems || m.elem_size > 128 {
            out.push(f(
                Severity::Info,
                m,
                "indirect-values",
                format!(
                    "{} stores {}-byte values indirectly (over 128 bytes): one extra allocation per entry ({} entries)",
                    m.root, m.elem_size, m.len
                ),
            ));
        }
        if m.key_type == "time.Time" {
            out.push(f(
                Severity::Info,
                m,
                "time-keys",
                format!(
                    "{} is keyed by time.Time ({} bytes per key, with a *Location pointer; == compares the monotonic reading and location) — key by UnixNano int64",
                    m.root, m.key_size
                ),
            ));
        } else if m.key_size > 32 && m.kind == "map" {
            out.push(f(
                Severity::Info,
                m,
                "large-keys",
                format!(
                    "{} has {}-byte keys ({}): {} bytes of keys for {} entries",
                    m.root,
                    m.key_size,
                    m.key_type,
                    m.key_size.saturating_mul(m.len),
                    m.len
                ),
            ));
        }
        if m.kind == "sync.Map" && m.len >= 100 {
            out.push(f(
                Severity::Info,
                m,
                "sync-map-overhead",
                format!(
                    "{} is a sync.Map: {} bytes of storage for {} entries ({} per entry)",
                    m.root,
                    m.storage_bytes,
                    m.len,
                    m.storage_bytes / m.len.max(1)
                ),
            ));
        }
        if m.growing {
            out.push(f(
                Severity::Info,
                m,
                "mid-growth",
                format!(
                    "{} was caught mid-growth: its old buckets are still held until evacuation finishes",
                    m.root
                ),
            ));
        }
        if let Some((id, func)) = &m.goroutine {
            out.push(f(
                Severity::Warning,
                m,
                "goroutine-only",
                format!(
                    "{} is held only by goroutine {id} in {func}: {} bytes live as long as that goroutine",
                    m.root, m.retained_bytes
                ),
            ));
        }
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn never_shrank_only_on_deleted() {
        let deleted = MapFacts {
            root: "main.pendingJobs".into(),
            kind: "map".into(),
            len: 100,
            capacity: 32768,
            tombstones: 5000,
            ..Default::default()
        };
        let healthy = MapFacts {
            root: "main.sessionsByID".into(),
            kind: "map".into(),
            len: 3000,
            capacity: 4096,
            ..Default::default()
        };
        let just_grew = MapFacts {
            root: "g".into(),
            kind: "map".into(),
            len: 2049,
            capacity: 4096,
            ..Default::default()
        };
        let fs = findings(&[deleted, healthy, just_grew]);
        let ns: Vec<_> = fs.iter().filter(|f| f.code == "never-shrank").collect();
        assert_eq!(ns.len(), 1);
        assert_eq!(ns[0].map, "main.pendingJobs");
    }
}
