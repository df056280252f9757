//! Findings: what is wasteful about a map, each tied to its numbers and to
//! the bytes it is about ([`Finding::bytes`]); then ranked by those bytes,
//! thresholded against the heap in use, bounded and grouped per code
//! ([`rank`]).
//!
//! Owns: the rules (when a finding is raised, which evidence it needs, its
//! bytes at stake), the threshold ([`threshold_bytes`]) and the grouping.
//! Must not touch: how maps are found (the rules read the one map record,
//! [`FoundMap`], as discovery made it: typed root, kind and key/value
//! types, nothing parsed back from strings) or how findings are rendered.
//!
//! Rules that keep a real program's report short (`docs/decisions.md`,
//! "Findings"):
//! - no finding on storage no root reaches (`root_kind` `unknown`): it is
//!   garbage or unowned, and the report summarises it elsewhere;
//! - no key/value-size finding on a map with no entries;
//! - `never-shrank` needs evidence of deletion — tombstones, or a finished
//!   growth that proves the map once held many more entries
//!   ([`FoundMap::peak_len_at_least`]); a large capacity alone is what
//!   `make(map, hint)` gives and proves nothing;
//! - `goroutine-only` is not raised for maps held by the frame of
//!   `main.main` (or `runtime.main`): that frame lives as long as the
//!   program, so the map is as long-lived as a global;
//! - a finding about fewer bytes than [`threshold_bytes`] is counted in its
//!   group, not listed.

use mapscope_gomaps::discover::{FoundKind, FoundMap, RootKind, RootOrigin};
use mapscope_goruntime::layout::funcs::RUNTIME_MAIN;
use mapscope_goruntime::layout::maps::MAX_INLINE_KEY_ELEM;
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
    /// The bytes the finding is about (what fixing it could save or what
    /// it keeps alive; per code in [`map_findings`]); 0 for profile-wide
    /// findings, which are never thresholded.
    pub bytes: u64,
}

/// The smallest threshold: below 64 KiB a map's waste is not worth a line
/// in an incident report, whatever the heap.
pub const MIN_THRESHOLD_BYTES: u64 = 64 << 10;

/// Findings listed per code (the largest first); the group counts the rest.
pub const LISTED_PER_CODE: usize = 100;

/// The bytes a finding must be about to be listed: max(64 KiB, 0.1% of
/// the Go heap in use). A few KiB of waste in a 500 MB heap is noise.
pub fn threshold_bytes(heap_in_use: u64) -> u64 {
    MIN_THRESHOLD_BYTES.max(heap_in_use / 1000)
}

/// All findings of one code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingGroup {
    pub code: String,
    /// The highest severity in the group.
    pub severity: Severity,
    /// Findings at or above the threshold.
    pub count: u64,
    /// Their bytes, summed.
    pub bytes: u64,
    /// Of them, how many [`Findings::findings`] lists (the largest first,
    /// at most [`LISTED_PER_CODE`]).
    pub listed: u64,
    /// Findings of this code below the threshold: counted, not listed.
    pub below_threshold: u64,
    pub below_threshold_bytes: u64,
}

/// Findings ranked, thresholded, bounded and grouped.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Findings {
    pub threshold_bytes: u64,
    /// Group by group in [`Findings::groups`]' order, largest bytes first
    /// within a group; at most [`LISTED_PER_CODE`] per code.
    pub findings: Vec<Finding>,
    /// Profile-wide groups first, then by bytes at stake, largest first;
    /// groups with findings only below the threshold last.
    pub groups: Vec<FindingGroup>,
}

impl Findings {
    /// The listed findings of one group, largest first.
    pub fn of_group<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| f.code == code)
    }

    /// Findings at or above the threshold, listed or not.
    pub fn count(&self) -> u64 {
        self.groups
            .iter()
            .map(|g| g.count)
            .fold(0u64, u64::saturating_add)
    }
}

fn f(sev: Severity, m: &FoundMap, code: &str, bytes: u64, message: String) -> Finding {
    Finding {
        severity: sev,
        map: m.root.clone(),
        code: code.to_string(),
        message,
        bytes,
    }
}

/// Smallest power of two ≥ x (≥ 8).
fn pow2_at_least(x: u64) -> u64 {
    x.max(8).checked_next_power_of_two().unwrap_or(u64::MAX)
}

/// `a × b / c` without overflow (0 when `c` is 0).
fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    if c == 0 {
        return 0;
    }
    u64::try_from(u128::from(a) * u128::from(b) / u128::from(c)).unwrap_or(u64::MAX)
}

/// Storage no root reaches: garbage or unowned, no findings.
fn is_garbage(m: &FoundMap) -> bool {
    m.root_kind == RootKind::Unknown
}

/// Frames that live as long as the program: a map only they hold is as
/// long-lived as a global, not a goroutine's leak.
fn program_long_frame(func: &str) -> bool {
    func == "main.main" || func == RUNTIME_MAIN
}

/// Every rule on every rooted map, unthresholded, in map order. Bytes at
/// stake per code:
/// - `never-shrank`: the storage beyond what a map of this len needs,
///   `storage × (capacity − needed) / capacity`;
/// - `many-tiny-maps`, `sync-map-overhead`, `mid-growth`: the storage;
/// - `nested-map-family`, `goroutine-only`: the retained bytes;
/// - `indirect-values`: `len × value size`; `time-keys`, `large-keys`:
///   `len × key size`.
pub fn map_findings(maps: &[FoundMap]) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in maps.iter().filter(|m| !is_garbage(m)) {
        // A family's entries are its members' (its len counts members).
        let len = m.entries();
        let members = if m.kind == FoundKind::Family {
            m.member_count()
        } else {
            0
        };
        let (key_type, key_size) = m.key.as_ref().map_or(("", 0), |k| (&*k.type_name, k.size));
        let (elem_size, indirect_elems) = m
            .value
            .as_ref()
            .map_or((0, false), |v| (v.size, v.indirect));
        let retained = m.retained_bytes.unwrap_or(0);
        // Never shrank: the table is far larger than a map of this len
        // would have, and the storage shows entries were deleted (Go maps
        // never shrink). A capacity ≥ 4× what the len needs is not left by
        // growth alone (≤ 2×), but `make(map, hint)` gives any capacity:
        // the evidence of deletion is tombstones, or a finished growth
        // that proves the map held more entries than it has.
        if m.kind == FoundKind::Map && m.capacity >= 64 {
            let needed = pow2_at_least(len.saturating_mul(8).div_ceil(7).max(1));
            let oversized = m.capacity >= needed.saturating_mul(4);
            let deleted = m.tombstones > 0 || m.peak_len_at_least > len;
            if oversized && deleted {
                let wasted = mul_div(
                    m.storage_bytes,
                    m.capacity.saturating_sub(needed),
                    m.capacity,
                );
                let evidence = if m.tombstones > 0 {
                    format!("{} tombstones", m.tombstones)
                } else {
                    format!(
                        "it held at least {} entries when it last grew",
                        m.peak_len_at_least
                    )
                };
                out.push(f(
                    Severity::High,
                    m,
                    "never-shrank",
                    wasted,
                    format!(
                        "{} has {} entries in {} slots ({evidence}): it was filled and then emptied, and Go maps never shrink; {} of its {} bytes of storage are slots a map of {} entries would not have (about {} slots) — copy it into a new map",
                        m.root, len, m.capacity, wasted, m.storage_bytes, len, needed
                    ),
                ));
            }
        }
        if m.kind == FoundKind::Family && members >= 100 && len > 0 {
            let per_entry = m.storage_bytes / len.max(1);
            if per_entry >= 64 {
                out.push(f(
                    Severity::Warning,
                    m,
                    "many-tiny-maps",
                    m.storage_bytes,
                    format!(
                        "{} is {} maps holding {} entries: {} bytes of map storage, {} bytes per entry — consider one map with a composite key",
                        m.root, members, len, m.storage_bytes, per_entry
                    ),
                ));
            }
        } else if m.kind == FoundKind::Family && members > 0 {
            out.push(f(
                Severity::Info,
                m,
                "nested-map-family",
                retained,
                format!(
                    "{} is a family of {} nested maps retaining {} bytes",
                    m.root, members, retained
                ),
            ));
        }
        let has_entries = len > 0 && m.kind != FoundKind::Family;
        if has_entries && (indirect_elems || elem_size > MAX_INLINE_KEY_ELEM) {
            let bytes = elem_size.saturating_mul(len);
            out.push(f(
                Severity::Info,
                m,
                "indirect-values",
                bytes,
                format!(
                    "{} stores {}-byte values indirectly (over {} bytes): one extra allocation per entry ({} entries, {} bytes of values)",
                    m.root, elem_size, MAX_INLINE_KEY_ELEM, len, bytes
                ),
            ));
        }
        if has_entries && key_type == "time.Time" {
            let bytes = key_size.saturating_mul(len);
            out.push(f(
                Severity::Info,
                m,
                "time-keys",
                bytes,
                format!(
                    "{} is keyed by time.Time ({} bytes per key, with a *Location pointer; == compares the monotonic reading and location): {} bytes of keys for {} entries — key by UnixNano int64",
                    m.root, key_size, bytes, len
                ),
            ));
        } else if has_entries && key_size > 32 && m.kind == FoundKind::Map {
            let bytes = key_size.saturating_mul(len);
            out.push(f(
                Severity::Info,
                m,
                "large-keys",
                bytes,
                format!(
                    "{} has {}-byte keys ({}): {} bytes of keys for {} entries",
                    m.root, key_size, key_type, bytes, len
                ),
            ));
        }
        if m.kind == FoundKind::SyncMap && len >= 100 {
            out.push(f(
                Severity::Info,
                m,
                "sync-map-overhead",
                m.storage_bytes,
                format!(
                    "{} is a sync.Map: {} bytes of storage for {} entries ({} per entry)",
                    m.root,
                    m.storage_bytes,
                    len,
                    m.storage_bytes / len.max(1)
                ),
            ));
        }
        if m.growing {
            out.push(f(
                Severity::Info,
                m,
                "mid-growth",
                m.storage_bytes,
                format!(
                    "{} was caught mid-growth: its old buckets are still held until evacuation finishes ({} bytes of storage, old and new)",
                    m.root, m.storage_bytes
                ),
            ));
        }
        if let RootOrigin::Goroutine {
            goroutine: id,
            function: func,
        } = &m.origin
        {
            // A goroutine holds the map only when its path starts there.
            if m.root_kind == RootKind::Goroutine && !program_long_frame(func) {
                out.push(f(
                    Severity::Warning,
                    m,
                    "goroutine-only",
                    retained,
                    format!(
                        "{} is held only by goroutine {id} in {func}: {} bytes live as long as that goroutine",
                        m.root, retained
                    ),
                ));
            }
        }
    }
    out
}

/// Findings for every map, ranked, thresholded against `heap_in_use` (see
/// [`threshold_bytes`]) and grouped.
pub fn findings(maps: &[FoundMap], heap_in_use: u64) -> Findings {
    rank(map_findings(maps), threshold_bytes(heap_in_use))
}

/// Ranks `all` by bytes at stake and groups it per code: findings about
/// fewer than `threshold` bytes are counted in their group, not listed
/// (profile-wide findings, with no map, always are); each code lists at
/// most [`LISTED_PER_CODE`].
pub fn rank(all: Vec<Finding>, threshold: u64) -> Findings {
    let mut groups: Vec<FindingGroup> = Vec::new();
    let mut kept: Vec<Finding> = Vec::new();
    for x in all {
        let i = match groups.iter().position(|g| g.code == x.code) {
            Some(i) => i,
            None => {
                groups.push(FindingGroup {
                    code: x.code.clone(),
                    severity: x.severity,
                    count: 0,
                    bytes: 0,
                    listed: 0,
                    below_threshold: 0,
                    below_threshold_bytes: 0,
                });
                groups.len() - 1
            }
        };
        let Some(g) = groups.get_mut(i) else {
            continue;
        };
        if x.map.is_empty() || x.bytes >= threshold {
            g.severity = g.severity.max(x.severity);
            g.count += 1;
            g.bytes = g.bytes.saturating_add(x.bytes);
            kept.push(x);
        } else {
            g.below_threshold += 1;
            g.below_threshold_bytes = g.below_threshold_bytes.saturating_add(x.bytes);
        }
    }
    // Profile-wide groups (findings with no map) first.
    let mut groups: Vec<(bool, FindingGroup)> = groups
        .into_iter()
        .map(|g| {
            let wide = kept.iter().any(|x| x.code == g.code && x.map.is_empty());
            (wide, g)
        })
        .collect();
    groups.sort_by(|(wa, ga), (wb, gb)| {
        (gb.count > 0)
            .cmp(&(ga.count > 0))
            .then(wb.cmp(wa))
            .then(gb.bytes.cmp(&ga.bytes))
            .then(gb.severity.cmp(&ga.severity))
            .then(gb.below_threshold_bytes.cmp(&ga.below_threshold_bytes))
            .then(ga.code.cmp(&gb.code))
    });
    let mut groups: Vec<FindingGroup> = groups.into_iter().map(|(_, g)| g).collect();
    kept.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(b.severity.cmp(&a.severity))
            .then(a.map.cmp(&b.map))
    });
    let mut findings = Vec::new();
    for g in &mut groups {
        let listed: Vec<Finding> = kept
            .iter()
            .filter(|x| x.code == g.code)
            .take(LISTED_PER_CODE)
            .cloned()
            .collect();
        g.listed = listed.len() as u64;
        findings.extend(listed);
    }
    Findings {
        threshold_bytes: threshold,
        findings,
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapscope_gomaps::discover::SlotType;

    fn map(root: &str, len: u64, capacity: u64, tombstones: u64) -> FoundMap {
        FoundMap {
            root: root.into(),
            root_kind: RootKind::Global,
            kind: FoundKind::Map,
            len,
            capacity,
            tombstones,
            storage_bytes: capacity * 18,
            ..Default::default()
        }
    }

    fn slot(name: &str, size: u64, indirect: bool) -> Option<SlotType> {
        Some(SlotType {
            type_name: name.into(),
            size,
            indirect,
            type_id: mapscope_goruntime::dwarf::TypeId::UNKNOWN,
        })
    }

    fn codes<'a>(fs: &'a [Finding], code: &str) -> Vec<&'a str> {
        fs.iter()
            .filter(|f| f.code == code)
            .map(|f| f.map.as_str())
            .collect()
    }

    #[test]
    fn never_shrank_only_on_deleted() {
        let deleted = map("main.pendingJobs", 100, 32768, 5000);
        let healthy = map("main.sessionsByID", 3000, 4096, 0);
        let just_grew = map("g", 2049, 4096, 0);
        let fs = map_findings(&[deleted, healthy, just_grew]);
        assert_eq!(codes(&fs, "never-shrank"), vec!["main.pendingJobs"]);
        // Bytes at stake: the storage of the slots a 100-entry map would
        // not have: it needs 128 slots (100 × 8/7 → 115 → 128).
        let ns = fs.iter().find(|f| f.code == "never-shrank").unwrap();
        assert_eq!(ns.bytes, 32768 * 18 * (32768 - 128) / 32768);
    }

    #[test]
    fn hinted_map_without_tombstones_is_not_never_shrank() {
        // make(map[K]V, 100000) with 3 entries and nothing deleted: a huge
        // capacity is what the hint asked for, not evidence of deletion.
        let hinted = map("hinted", 3, 131072, 0);
        let empty_hinted = map("empty", 0, 1024, 0);
        assert!(codes(
            &map_findings(&[hinted.clone(), empty_hinted]),
            "never-shrank"
        )
        .is_empty());
        // A finished doubling grow proves it once held ≥ 6 × 2^(B−1).
        let grown = FoundMap {
            peak_len_at_least: 6 * 8192,
            ..hinted.clone()
        };
        let fs = map_findings(&[grown]);
        assert_eq!(codes(&fs, "never-shrank"), vec!["hinted"]);
        assert!(fs[0].message.contains("held at least 49152 entries"));
        // A proof that does not exceed len is no evidence.
        let small_peak = FoundMap {
            peak_len_at_least: 3,
            ..hinted
        };
        assert!(codes(&map_findings(&[small_peak]), "never-shrank").is_empty());
    }

    #[test]
    fn no_size_findings_on_empty_maps() {
        let empty = FoundMap {
            key: slot("main.Key40", 40, false),
            value: slot("main.Value", 256, true),
            ..map("main.empty", 0, 8, 0)
        };
        let time_keyed = FoundMap {
            key: slot("time.Time", 24, false),
            ..map("main.times", 0, 8, 0)
        };
        let fs = map_findings(&[empty.clone(), time_keyed]);
        assert!(fs.is_empty(), "{fs:?}");
        let full = FoundMap { len: 10, ..empty };
        let fs = map_findings(&[full]);
        let lk = fs.iter().find(|f| f.code == "large-keys").unwrap();
        assert_eq!(lk.bytes, 400);
        let iv = fs.iter().find(|f| f.code == "indirect-values").unwrap();
        assert_eq!(iv.bytes, 2560);
    }

    #[test]
    fn no_findings_on_unrooted_storage() {
        let m = FoundMap {
            root_kind: RootKind::Unknown,
            key: slot("time.Time", 24, false),
            growing: true,
            ..map("(unknown)", 100, 32768, 5000)
        };
        assert!(map_findings(&[m]).is_empty());
    }

    #[test]
    fn goroutine_only_skips_main_main() {
        let g = |id: u64, func: &str| FoundMap {
            root_kind: RootKind::Goroutine,
            origin: RootOrigin::Goroutine {
                goroutine: id,
                function: func.into(),
            },
            retained_bytes: Some(1 << 20),
            ..map(&format!("goroutine {id} {func}.m"), 10, 16, 0)
        };
        let fs = map_findings(&[g(1, "main.main"), g(7, "main.worker")]);
        assert_eq!(
            codes(&fs, "goroutine-only"),
            vec!["goroutine 7 main.worker.m"]
        );
    }

    #[test]
    fn threshold_is_relative_to_the_heap() {
        assert_eq!(threshold_bytes(0), 64 << 10);
        assert_eq!(threshold_bytes(8 << 20), 64 << 10);
        assert_eq!(threshold_bytes(500_000_000), 500_000);
    }

    fn finding(code: &str, map: &str, bytes: u64, severity: Severity) -> Finding {
        Finding {
            severity,
            map: map.into(),
            code: code.into(),
            message: String::new(),
            bytes,
        }
    }

    #[test]
    fn grouping_counts_sums_and_ranks() {
        let mut all = Vec::new();
        // 1,204 goroutine-only findings of 10 KiB..., two above a 1 MiB threshold.
        for i in 0..1200u64 {
            all.push(finding(
                "goroutine-only",
                &format!("g{i}"),
                1000 + i,
                Severity::Warning,
            ));
        }
        all.push(finding(
            "goroutine-only",
            "big1",
            3 << 20,
            Severity::Warning,
        ));
        all.push(finding(
            "goroutine-only",
            "big2",
            2 << 20,
            Severity::Warning,
        ));
        all.push(finding("never-shrank", "ns", 4 << 20, Severity::High));
        all.push(finding("large-keys", "lk", 100, Severity::Info));
        all.push(finding("profile-mismatch", "", 0, Severity::High));
        let r = rank(all, 1 << 20);
        let order: Vec<&str> = r.groups.iter().map(|g| g.code.as_str()).collect();
        // Profile-wide first, then by bytes (5 MiB > 4 MiB), then groups
        // with nothing above the threshold.
        assert_eq!(
            order,
            vec![
                "profile-mismatch",
                "goroutine-only",
                "never-shrank",
                "large-keys"
            ]
        );
        let g = &r.groups[1];
        assert_eq!((g.count, g.bytes, g.listed), (2, 5 << 20, 2));
        let below: u64 = (0..1200u64).map(|i| 1000 + i).sum();
        assert_eq!((g.below_threshold, g.below_threshold_bytes), (1200, below));
        let lk = &r.groups[3];
        assert_eq!(
            (lk.count, lk.below_threshold, lk.below_threshold_bytes),
            (0, 1, 100)
        );
        let maps: Vec<&str> = r.findings.iter().map(|f| f.map.as_str()).collect();
        assert_eq!(maps, vec!["", "big1", "big2", "ns"]);
        assert_eq!(r.count(), 4);
        assert_eq!(r.of_group("goroutine-only").count(), 2);
    }

    #[test]
    fn listing_is_bounded_per_code() {
        let all: Vec<Finding> = (0..(LISTED_PER_CODE as u64 + 50))
            .map(|i| {
                finding(
                    "goroutine-only",
                    &format!("g{i}"),
                    1 << 20,
                    Severity::Warning,
                )
            })
            .collect();
        let r = rank(all, 0);
        assert_eq!(r.findings.len(), LISTED_PER_CODE);
        assert_eq!(r.groups[0].count, LISTED_PER_CODE as u64 + 50);
        assert_eq!(r.groups[0].listed, LISTED_PER_CODE as u64);
        assert_eq!(r.groups[0].bytes, (LISTED_PER_CODE as u64 + 50) << 20);
    }
}
