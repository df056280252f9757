//! The accounting table: from what the kernel charged down to what maps hold.
//!
//! Owns the rows and their order only; the numbers come from the caller
//! (cgroup and smaps parsing are here too, as small text parsers). When
//! there is no usable heap profile (`MemProfileRate` was 0, or the profile
//! holds no live samples) the two profile layers are replaced by one row
//! saying so: a near-empty profile is not a layer of memory.

use serde::Serialize;

/// One row: a layer and its bytes; `gap` explains the difference to the
/// next layer down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Layer {
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
    pub profile_inuse: Option<u64>,
    pub maps_attributed: Option<u64>,
    pub maps_retained: Option<u64>,
    /// Why there is no usable heap profile (e.g. `no heap profile:
    /// MemProfileRate=0`): the profile rows are left out and this is the
    /// last row, with 0 bytes.
    pub no_profile: Option<String>,
}

/// Builds the rows top→bottom, each with why the next one is smaller.
pub fn accounting(i: &AccountingInput) -> Vec<Layer> {
    let mut rows = Vec::new();
    let mut push = |layer: &str, bytes: Option<u64>, gap: &str| {
        if let Some(b) = bytes {
            rows.push(Layer {
                layer: layer.to_string(),
                bytes: b,
                gap_to_next: Some(gap.to_string()),
            });
        }
    };
    push(
        "cgroup usage",
        i.cgroup,
        "page cache and kernel memory charged to the cgroup, other processes in it",
    );
    push(
        &format!("process RSS ({})", i.rss_source),
        i.rss,
        "goroutine stacks, runtime metadata (spans, GC bitmaps), free-but-unreturned spans, non-Go (cgo) memory, executable text",
    );
    if let Some(reason) = &i.no_profile {
        push(
            "Go heap in use (heap walk)",
            i.go_heap_in_use,
            "objects not held by any map (other data structures)",
        );
        push("retained by maps (heap walk)", i.maps_retained, "");
        push(reason, Some(0), "");
    } else {
        push(
            "Go heap in use (heap walk)",
            i.go_heap_in_use,
            "sampling error of the profile, objects allocated since the last GC cycle published",
        );
        push(
            "heap profile inuse_space",
            i.profile_inuse,
            "objects not held by any map (other data structures), stacks not matched to live objects",
        );
        push("attributed to maps (profile)", i.maps_attributed, "");
        push("retained by maps (heap walk)", i.maps_retained, "");
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
