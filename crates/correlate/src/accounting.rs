//! The accounting table: from what the kernel charged down to what maps hold.
//!
//! Owns the rows and their order only; the numbers come from the caller
//! (cgroup and smaps parsing are here too, as small text parsers). When
//! there is no usable heap profile (`MemProfileRate` was 0, or the profile
//! holds no live samples) the two profile layers are replaced by one row
//! saying so: a near-empty profile is not a layer of memory. On a partial
//! core the Go heap row may come from the runtime's statistics (the walk
//! is incomplete) and the profile's cut part has its own row.

use serde::Serialize;

/// One row: a layer and its bytes; `gap` explains the difference to the
/// next layer down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Layer {
    /// Stable identifier for scripts (the label may change): one of
    /// [`LAYER_IDS`]; each appears at most once.
    pub id: &'static str,
    /// The label, for people (`process RSS (smaps Rss)`).
    pub layer: String,
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_to_next: Option<String>,
}

/// What each layer measured (None: not available).
#[derive(Clone, Debug, Default)]
pub struct AccountingInput {
    pub cgroup: Option<u64>,
    pub rss: Option<u64>,
    pub rss_source: String,
    pub go_heap_in_use: Option<u64>,
    /// The heap walk is incomplete (a partial core: span records cut) and
    /// this is the runtime's own `HeapAlloc` read from the core: the Go
    /// heap row is then this, labelled as such (id
    /// `go_heap_runtime_stats`), never the walk's partial sum.
    pub go_heap_runtime_stats: Option<u64>,
    pub profile_inuse: Option<u64>,
    /// A partial core: the profile's bytes that fell into the cut part
    /// (`profile.cut` of the report); its own row, after the profile's.
    pub profile_cut: Option<u64>,
    pub maps_attributed: Option<u64>,
    pub maps_retained: Option<u64>,
    /// Why there is no usable heap profile (e.g. `no heap profile:
    /// MemProfileRate=0`): the profile rows are left out and this is the
    /// last row, with 0 bytes.
    pub no_profile: Option<String>,
}

/// Every layer id, top to bottom: `cgroup` (cgroup usage), `rss` (process
/// RSS), `go_heap` (Go heap in use by the heap walk),
/// `go_heap_runtime_stats` (instead of `go_heap` when the walk is
/// incomplete: the runtime's `HeapAlloc` from the core), `profile_inuse`
/// (the heap profile's inuse_space), `profile_cut` (a partial core: the
/// profile's bytes in the cut part), `maps_attributed` (profile bytes
/// attributed to maps), `maps_retained` (bytes retained by maps, heap
/// walk), `no_profile` (no usable heap profile: replaces the two profile
/// rows).
pub const LAYER_IDS: [&str; 9] = [
    "cgroup",
    "rss",
    "go_heap",
    "go_heap_runtime_stats",
    "profile_inuse",
    "profile_cut",
    "maps_attributed",
    "maps_retained",
    "no_profile",
];

/// Builds the rows top→bottom, each with why the next one is smaller.
pub fn accounting(i: &AccountingInput) -> Vec<Layer> {
    let mut rows = Vec::new();
    let mut push = |id: &'static str, layer: &str, bytes: Option<u64>, gap: &str| {
        if let Some(b) = bytes {
            rows.push(Layer {
                id,
                layer: layer.to_string(),
                bytes: b,
                gap_to_next: Some(gap.to_string()),
            });
        }
    };
    push(
        "cgroup",
        "cgroup usage",
        i.cgroup,
        "page cache and kernel memory charged to the cgroup, other processes in it",
    );
    push(
        "rss",
        &format!("process RSS ({})", i.rss_source),
        i.rss,
        "goroutine stacks, runtime metadata (spans, GC bitmaps), free-but-unreturned spans, non-Go (cgo) memory, executable text",
    );
    // The walk's sum, or the runtime's statistics when the walk is
    // incomplete (said in the id and the label).
    let (heap_id, heap_label, heap_bytes) = match i.go_heap_runtime_stats {
        Some(b) => (
            "go_heap_runtime_stats",
            "Go heap in use (runtime statistics HeapAlloc; the heap walk is incomplete)",
            Some(b),
        ),
        None => ("go_heap", "Go heap in use (heap walk)", i.go_heap_in_use),
    };
    if let Some(reason) = &i.no_profile {
        push(
            heap_id,
            heap_label,
            heap_bytes,
            "objects not held by any map (other data structures)",
        );
        push(
            "maps_retained",
            "retained by maps (heap walk)",
            i.maps_retained,
            "",
        );
        push("no_profile", reason, Some(0), "");
    } else {
        push(
            heap_id,
            heap_label,
            heap_bytes,
            "sampling error of the profile, objects allocated since the last GC cycle published",
        );
        push(
            "profile_inuse",
            "heap profile inuse_space",
            i.profile_inuse,
            if i.profile_cut.is_some() {
                "what fell into the cut part of the core (next row), objects not held by any map (other data structures), stacks not matched to live objects"
            } else {
                "objects not held by any map (other data structures), stacks not matched to live objects"
            },
        );
        push(
            "profile_cut",
            "heap profile in the cut part of the core (objects or their span records absent)",
            i.profile_cut,
            "",
        );
        push(
            "maps_attributed",
            "attributed to maps (profile)",
            i.maps_attributed,
            "",
        );
        push(
            "maps_retained",
            "retained by maps (heap walk)",
            i.maps_retained,
            "",
        );
    }
    for r in rows.iter_mut() {
        if r.gap_to_next.as_deref() == Some("") {
            r.gap_to_next = None;
        }
    }
    if let Some(last) = rows.last_mut() {
        last.gap_to_next = None;
    }
    rows
}

/// Parses a cgroup file: `memory.current` (one integer) or `memory.stat`
/// (`anon N`, `file N`, ...; the sum of anon + file + kernel + sock when
/// present, else of anon + file).
pub fn parse_cgroup(text: &str) -> Option<u64> {
    let t = text.trim();
    if let Ok(v) = t.parse::<u64>() {
        return Some(v);
    }
    let mut sum = 0u64;
    let mut seen = false;
    for line in t.lines() {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        let Ok(v) = v.parse::<u64>() else { continue };
        match k {
            "anon" | "file" | "kernel" | "sock" => {
                sum = sum.saturating_add(v);
                seen = true;
            }
            // cgroup v1
            "total_rss" | "total_cache" => {
                sum = sum.saturating_add(v);
                seen = true;
            }
            _ => {}
        }
    }
    seen.then_some(sum)
}

/// Sums `Rss:` lines (kB) of an smaps file; for a plain maps file (no Rss
/// lines) returns None.
pub fn parse_smaps_rss(text: &str) -> Option<u64> {
    let mut sum = 0u64;
    let mut seen = false;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Rss:") {
            let kb = rest.trim().trim_end_matches("kB").trim();
            if let Ok(v) = kb.parse::<u64>() {
                sum = sum.saturating_add(v.saturating_mul(1024));
                seen = true;
            }
        }
    }
    seen.then_some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn no_profile_replaces_the_profile_layers() {
        let input = AccountingInput {
            rss: Some(100),
            rss_source: "x".into(),
            go_heap_in_use: Some(50),
            profile_inuse: Some(1024),
            maps_attributed: Some(1024),
            maps_retained: Some(10),
            no_profile: Some("no heap profile: MemProfileRate=0".into()),
            ..Default::default()
        };
        let rows = accounting(&input);
        let names: Vec<&str> = rows.iter().map(|r| r.layer.as_str()).collect();
        assert_eq!(
            names,
            [
                "process RSS (x)",
                "Go heap in use (heap walk)",
                "retained by maps (heap walk)",
                "no heap profile: MemProfileRate=0"
            ]
        );
        assert!(rows.iter().all(|r| r.bytes != 1024));
        let ids: Vec<&str> = rows.iter().map(|r| r.id).collect();
        assert_eq!(ids, ["rss", "go_heap", "maps_retained", "no_profile"]);
    }

    /// Every row of both shapes has a distinct id from [`LAYER_IDS`], in
    /// its order, whatever the labels say.
    #[test]
    fn layer_ids_are_unique_and_stable() {
        let full = AccountingInput {
            cgroup: Some(300),
            rss: Some(200),
            rss_source: "smaps Rss".into(),
            go_heap_in_use: Some(100),
            profile_inuse: Some(90),
            maps_attributed: Some(50),
            maps_retained: Some(60),
            no_profile: None,
            ..Default::default()
        };
        let ids: Vec<&str> = accounting(&full).iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [
                "cgroup",
                "rss",
                "go_heap",
                "profile_inuse",
                "maps_attributed",
                "maps_retained"
            ]
        );
        let none = AccountingInput {
            no_profile: Some("no heap profile: MemProfileRate=0".into()),
            ..full.clone()
        };
        let partial = AccountingInput {
            go_heap_runtime_stats: Some(120),
            profile_cut: Some(40),
            ..full.clone()
        };
        let ids: Vec<&str> = accounting(&partial).iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [
                "cgroup",
                "rss",
                "go_heap_runtime_stats",
                "profile_inuse",
                "profile_cut",
                "maps_attributed",
                "maps_retained"
            ]
        );
        let partial_none = AccountingInput {
            no_profile: Some("no heap profile: MemProfileRate=0".into()),
            ..partial
        };
        for input in [&none, &partial_none, &AccountingInput::default()] {
            let ids: Vec<&str> = accounting(input).iter().map(|r| r.id).collect();
            let mut order: Vec<usize> = ids
                .iter()
                .map(|id| LAYER_IDS.iter().position(|k| k == id).expect("known id"))
                .collect();
            let sorted = order.clone();
            order.dedup();
            assert_eq!(order, sorted, "unique, in LAYER_IDS order: {ids:?}");
            assert!(sorted.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
        }
    }

    #[test]
    fn parses() {
        assert_eq!(parse_cgroup("12345\n"), Some(12345));
        assert_eq!(parse_cgroup("anon 10\nfile 5\nshmem 3\n"), Some(15));
        assert_eq!(
            parse_smaps_rss("Rss:   4 kB\nPss: 1 kB\nRss: 1 kB\n"),
            Some(5120)
        );
    }
}
