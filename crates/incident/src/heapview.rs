//! The rest of the heap around the maps, for the `analyze` report: every
//! live object by type ([`type_rows`], from the heap walk's
//! `Heap::type_histogram`) and what retains the most ([`retainer_rows`]:
//! the top level of the dominator tree `discover` measured,
//! `Discovery::dominance` — roots that alone hold something, and heap
//! objects several roots reach, named by their shortest path,
//! `Discovery::object_retainers`).
//!
//! Does not touch: how the histogram or the retained bytes are computed
//! (goruntime, gomaps) or how they are rendered (`mapscope-render`).

use mapscope_gomaps::discover::Discovery;
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

/// One row of `retainers`: a node at the top level of the dominator
/// tree (under the virtual root of all roots) and what it alone keeps
/// alive. The rows never overlap.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct RetainerReport {
    /// A root (`node` = `root`): `main.registry`, `goroutine 1
    /// main.main`, `finalizer(*os.File)`. A heap object several roots
    /// reach (`node` = `object`): its shortest path from a root, itself
    /// last (`cmd/link/internal/ld.ctxt (*ld.Link) → ld.Link`).
    pub root: String,
    /// `global`, `goroutine` or `finalizer`: the root's, or for an object
    /// the kind of the root its path starts at.
    pub root_kind: String,
    /// A root: the global's type (DWARF), the finalized `*T`, empty for a
    /// goroutine. An object: its heap type, else `N-byte object`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `root` or `object`.
    pub node: String,
    /// Top-level nodes in the row: 1 for a root; for objects, how many
    /// share this path and type (the elements of one slice, say), summed.
    pub count: u64,
    /// Bytes of the objects it dominates: every path from the roots to
    /// them passes through it (what dropping it would free; for a group,
    /// what dropping its members one by one would).
    pub retained_bytes: u64,
    pub objects: u64,
}

/// What the listed retainers do not hold.
#[derive(Serialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionRest {
    /// Reachable, held by the top-level retainers past the listed ones
    /// (smaller roots and objects).
    pub other_bytes: u64,
    pub other_objects: u64,
    /// How many top-level nodes that is.
    pub other_retainers: u64,
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

/// The top level of the dominator tree retaining the most, largest first
/// (at most [`LISTED_RETAINERS`], none retaining nothing): roots and heap
/// objects several roots reach; and the rest (smaller retainers, and
/// garbage). Rows, `other` and `unreached` sum to the heap in use.
pub fn retainer_rows(discovery: &Discovery) -> (Vec<RetainerReport>, RetentionRest) {
    let d = &discovery.dominance;
    let kind = |k: mapscope_gomaps::discover::RootKind| {
        serde_json::to_value(k)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    let roots = discovery
        .roots
        .named
        .iter()
        .enumerate()
        .filter_map(|(i, root)| {
            let bytes = d.root_bytes.get(i).copied().unwrap_or(0);
            (bytes > 0).then(|| RetainerReport {
                root: root.name.clone(),
                root_kind: kind(root.kind),
                type_name: root.type_name.clone(),
                node: "root".to_string(),
                count: 1,
                retained_bytes: bytes,
                objects: d.root_objects.get(i).copied().unwrap_or(0),
            })
        });
    let objects = discovery
        .object_retainers
        .iter()
        .filter(|o| o.retained_bytes > 0)
        .map(|o| RetainerReport {
            root: o.path.clone(),
            root_kind: kind(o.root_kind),
            type_name: o.type_name.clone(),
            node: "object".to_string(),
            count: o.count,
            retained_bytes: o.retained_bytes,
            objects: o.objects,
        });
    let mut rows: Vec<RetainerReport> = roots.chain(objects).collect();
    // Top-level nodes: roots holding something, and objects.
    let all = d.root_bytes.iter().filter(|&&b| b > 0).count() as u64 + d.top_objects;
    rows.sort_by(|a, b| {
        b.retained_bytes
            .cmp(&a.retained_bytes)
            .then_with(|| a.root.cmp(&b.root))
    });
    rows.truncate(LISTED_RETAINERS);
    let (listed_bytes, listed_objects, listed_nodes) =
        rows.iter().fold((0u64, 0u64, 0u64), |(b, o, c), r| {
            (
                b.saturating_add(r.retained_bytes),
                o.saturating_add(r.objects),
                c.saturating_add(r.count),
            )
        });
    let rest = RetentionRest {
        other_bytes: d.reachable_bytes.saturating_sub(listed_bytes),
        other_objects: d.reachable_objects.saturating_sub(listed_objects),
        other_retainers: all.saturating_sub(listed_nodes),
        unreached_bytes: d.unreached_bytes,
        unreached_objects: d.unreached_objects,
    };
    (rows, rest)
}

/// The headline's word on the root retaining the most, when it is not
/// the top map's own root and retains more than that map (`mapscope-render`
/// words it `; the largest retainer is goroutine 1 main.main, 286 MiB
/// (58%)`).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct HeadlineRetainer {
    pub root: String,
    /// `global`, `goroutine`, ... as in `retainers`.
    pub root_kind: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// `root` or `object`, as in `retainers`.
    pub node: String,
    /// Top-level nodes summed, as in `retainers`.
    pub count: u64,
    pub retained_bytes: u64,
    /// Of the Go heap in use.
    pub percent_of_heap: f64,
}

/// The headline's word on the heap the listed retainers do not hold,
/// when that is at least half of it: held by smaller retainers, or by
/// none (garbage).
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct HeadlineRest {
    pub other_bytes: u64,
    pub other_percent_of_heap: f64,
    pub unreached_bytes: u64,
    pub unreached_percent_of_heap: f64,
}

/// What the headline adds about the rest of the heap: the root retaining
/// the most when it is not the top map's own root and retains more than
/// that map, and, when the listed retainers leave most of the heap, how
/// much smaller retainers hold and how much is unreachable. Facts only:
/// `mapscope-render` words them.
pub fn retainer_headline(
    top_map: Option<(&str, u64)>,
    top: Option<&RetainerReport>,
    rest: &RetentionRest,
    heap_bytes: u64,
) -> (Option<HeadlineRetainer>, Option<HeadlineRest>) {
    let pct = |b: u64| {
        if heap_bytes > 0 {
            b as f64 * 100.0 / heap_bytes as f64
        } else {
            0.0
        }
    };
    let retainer = top
        .filter(|r| match top_map {
            Some((root, bytes)) => r.root != root && r.retained_bytes > bytes,
            None => true,
        })
        .map(|r| HeadlineRetainer {
            root: r.root.clone(),
            root_kind: r.root_kind.clone(),
            type_name: r.type_name.clone(),
            node: r.node.clone(),
            count: r.count,
            retained_bytes: r.retained_bytes,
            percent_of_heap: pct(r.retained_bytes),
        });
    let unheld = (heap_bytes > 0
        && rest.other_bytes.saturating_add(rest.unreached_bytes) >= heap_bytes / 2)
        .then(|| HeadlineRest {
            other_bytes: rest.other_bytes,
            other_percent_of_heap: pct(rest.other_bytes),
            unreached_bytes: rest.unreached_bytes,
            unreached_percent_of_heap: pct(rest.unreached_bytes),
        });
    (retainer, unheld)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(root: &str, kind: &str, bytes: u64) -> RetainerReport {
        RetainerReport {
            root: root.into(),
            root_kind: kind.into(),
            type_name: "*T".into(),
            node: "root".into(),
            count: 1,
            retained_bytes: bytes,
            objects: 1,
        }
    }

    #[test]
    fn headline_names_a_bigger_retainer_that_is_not_the_map() {
        let none = RetentionRest::default();
        let g = row("goroutine 1 main.main", "goroutine", 300_000_000);
        let (r, rest) =
            retainer_headline(Some(("main.m", 2_000_000)), Some(&g), &none, 600_000_000);
        let r = r.expect("a bigger retainer");
        assert_eq!(
            (r.root.as_str(), r.retained_bytes, r.percent_of_heap),
            ("goroutine 1 main.main", 300_000_000, 50.0)
        );
        assert_eq!(rest, None);
        // The map's own root, or a smaller retainer: nothing to add.
        let m = row("main.m", "global", 3_000_000);
        assert_eq!(
            retainer_headline(Some(("main.m", 2_000_000)), Some(&m), &none, 10_000_000),
            (None, None)
        );
        let small = row("main.x", "global", 1_000);
        assert_eq!(
            retainer_headline(Some(("main.m", 2_000_000)), Some(&small), &none, 10_000_000),
            (None, None)
        );
        let (r, _) = retainer_headline(None, Some(&small), &none, 10_000);
        let r = r.expect("no map: the retainer");
        assert_eq!(
            (
                r.root_kind.as_str(),
                r.type_name.as_str(),
                r.percent_of_heap
            ),
            ("global", "*T", 10.0)
        );
        // Most of the heap past the listed retainers or garbage: said so.
        let rest = RetentionRest {
            other_bytes: 400_000_000,
            unreached_bytes: 200_000_000,
            ..RetentionRest::default()
        };
        let (_, unheld) = retainer_headline(
            Some(("main.m", 2_000_000)),
            Some(&small),
            &rest,
            800_000_000,
        );
        assert_eq!(
            unheld,
            Some(HeadlineRest {
                other_bytes: 400_000_000,
                other_percent_of_heap: 50.0,
                unreached_bytes: 200_000_000,
                unreached_percent_of_heap: 25.0,
            })
        );
    }
}
