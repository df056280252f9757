//! The rest of the heap around the maps, for the `analyze` report: every
//! live object by type ([`type_rows`], from the heap walk's
//! `Heap::type_histogram`) and the roots that retain the most
//! ([`retainer_rows`], from the per-root retained bytes `discover`
//! measured: `Discovery::root_retention`).
//!
//! Does not touch: how the histogram or the retained bytes are computed
//! (goruntime, gomaps) or how they are rendered (the binary).

use mapscope_gomaps::discover::Discovery;
use mapscope_gomaps::graph::RootRetention;
use mapscope_goruntime::heap::Heap;
use serde::Serialize;

/// Type rows the JSON report keeps; the rest are summed in one
/// [`OTHER_TYPES`] row, so the rows always sum to the heap in use.
pub const LISTED_TYPES: usize = 200;
/// Retainer rows the JSON report keeps (largest first).
pub const LISTED_RETAINERS: usize = 200;
/// The row summing the types past [`LISTED_TYPES`].
pub const OTHER_TYPES: &str = "(other types)";

/// One row of `types`: live heap objects of one type.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct TypeReport {
    /// The runtime's type name, or `(no type: pointer-free)` /
    /// `(no type: with pointers)` for objects the heap keeps no type for
    /// (Go 1.22+: small objects of 512 bytes or less; every object before).
    #[serde(rename = "type")]
    pub type_name: String,
    pub objects: u64,
    pub bytes: u64,
}

/// One row of `retainers`: a root and what only it keeps alive.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct RetainerReport {
    /// `main.registry`, `goroutine 1 main.main`, `finalizer(*os.File)`.
    pub root: String,
    /// `global`, `goroutine` or `finalizer`.
    pub root_kind: String,
    /// The global's type (DWARF), the finalized `*T`; empty for a
    /// goroutine.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Bytes of the objects reachable from this root and from no other
    /// (what dropping the root would free).
    pub retained_bytes: u64,
    pub objects: u64,
}

/// What no single root retains.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionRest {
    /// Reachable from two roots or more.
    pub shared_bytes: u64,
    pub shared_objects: u64,
    /// Reachable from no root (garbage awaiting the next GC).
    pub unreached_bytes: u64,
    pub unreached_objects: u64,
}

/// Every live heap object by type, largest first: the first
/// [`LISTED_TYPES`] rows and one row summing the rest.
pub fn type_rows(heap: &Heap) -> Vec<TypeReport> {
    let all = heap.type_histogram();
    let mut rows: Vec<TypeReport> = all
        .iter()
        .take(LISTED_TYPES)
        .map(|r| TypeReport {
            type_name: r.name.clone(),
            objects: r.objects,
            bytes: r.bytes,
        })
        .collect();
    let rest = all.get(LISTED_TYPES..).unwrap_or(&[]);
    if !rest.is_empty() {
        rows.push(TypeReport {
            type_name: format!("{OTHER_TYPES}: {} types", rest.len()),
            objects: rest.iter().map(|r| r.objects).sum(),
            bytes: rest.iter().map(|r| r.bytes).sum(),
        });
    }
    rows
}

/// The roots retaining the most, largest first (at most
/// [`LISTED_RETAINERS`], none retaining nothing), and what no single root
/// retains.
pub fn retainer_rows(discovery: &Discovery) -> (Vec<RetainerReport>, RetentionRest) {
    let r: &RootRetention = &discovery.root_retention;
    let mut rows: Vec<RetainerReport> = discovery
        .roots
        .named
        .iter()
        .enumerate()
        .filter_map(|(i, root)| {
            let bytes = r.bytes.get(i).copied().unwrap_or(0);
            (bytes > 0).then(|| RetainerReport {
                root: root.name.clone(),
                root_kind: serde_json::to_value(root.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                type_name: root.type_name.clone(),
                retained_bytes: bytes,
                objects: r.objects.get(i).copied().unwrap_or(0),
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.retained_bytes
            .cmp(&a.retained_bytes)
            .then_with(|| a.root.cmp(&b.root))
    });
    rows.truncate(LISTED_RETAINERS);
    let rest = RetentionRest {
        shared_bytes: r.shared_bytes,
        shared_objects: r.shared_objects,
        unreached_bytes: r.unreached_bytes,
        unreached_objects: r.unreached_objects,
    };
    (rows, rest)
}

/// What the headline adds about the rest of the heap: the root retaining
/// the most when it is not the top map's own root and retains more than
/// that map (`; the largest retainer is goroutine 1 main.main, 300 MB
/// (58%)`), and, when no single root holds most of the heap, how much is
/// shared between roots or unreachable.
pub fn retainer_headline(
    top_map: Option<(&str, u64)>,
    top: Option<&RetainerReport>,
    rest: &RetentionRest,
    heap_bytes: u64,
) -> String {
    let pct = |b: u64| {
        if heap_bytes > 0 {
            b as f64 * 100.0 / heap_bytes as f64
        } else {
            0.0
        }
    };
    let human = crate::analyze::human;
    let mut out = String::new();
    if let Some(r) = top {
        let bigger = match top_map {
            Some((root, bytes)) => r.root != root && r.retained_bytes > bytes,
            None => true,
        };
        if bigger {
            let what = match r.root_kind.as_str() {
                "global" if !r.type_name.is_empty() => {
                    format!("global {} ({})", r.root, r.type_name)
                }
                "global" => format!("global {}", r.root),
                _ => r.root.clone(),
            };
            out.push_str(&format!(
                "; the largest retainer is {what}, {} ({:.0}%)",
                human(r.retained_bytes),
                pct(r.retained_bytes)
            ));
        }
    }
    if rest.shared_bytes.saturating_add(rest.unreached_bytes) >= heap_bytes / 2 && heap_bytes > 0 {
        out.push_str(&format!(
            "; no single root holds the rest: {} ({:.0}%) is reachable from several roots, {} ({:.0}%) from none (garbage)",
            human(rest.shared_bytes),
            pct(rest.shared_bytes),
            human(rest.unreached_bytes),
            pct(rest.unreached_bytes)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(root: &str, kind: &str, bytes: u64) -> RetainerReport {
        RetainerReport {
            root: root.into(),
            root_kind: kind.into(),
            type_name: "*T".into(),
            retained_bytes: bytes,
            objects: 1,
        }
    }

    #[test]
    fn headline_names_a_bigger_retainer_that_is_not_the_map() {
        let none = RetentionRest::default();
        let g = row("goroutine 1 main.main", "goroutine", 300_000_000);
        assert_eq!(
            retainer_headline(Some(("main.m", 2_000_000)), Some(&g), &none, 600_000_000),
            "; the largest retainer is goroutine 1 main.main, 300 MB (50%)"
        );
        // The map's own root, or a smaller retainer: nothing to add.
        let m = row("main.m", "global", 3_000_000);
        assert_eq!(
            retainer_headline(Some(("main.m", 2_000_000)), Some(&m), &none, 10_000_000),
            ""
        );
        let small = row("main.x", "global", 1_000);
        assert_eq!(
            retainer_headline(Some(("main.m", 2_000_000)), Some(&small), &none, 10_000_000),
            ""
        );
        assert_eq!(
            retainer_headline(None, Some(&small), &none, 10_000),
            "; the largest retainer is global main.x (*T), 1000 B (10%)"
        );
        // Most of the heap shared or garbage: said so.
        let rest = RetentionRest {
            shared_bytes: 400_000_000,
            unreached_bytes: 200_000_000,
            ..RetentionRest::default()
        };
        assert_eq!(
            retainer_headline(Some(("main.m", 2_000_000)), Some(&small), &rest, 800_000_000),
            "; no single root holds the rest: 400 MB (50%) is reachable from several roots, 200 MB (25%) from none (garbage)"
        );
    }
}
