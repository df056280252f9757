//! The retained-size profile (`analyze --retained-profile FILE`): what
//! holds the heap, as a pprof profile whose flame graph nests by retention
//! path, for `go tool pprof -http`, speedscope, Pyroscope or Grafana.
//!
//! Sample types `retained_objects/count` and `retained_space/bytes`
//! (default `retained_space`). Every live heap object is counted in exactly
//! one sample, so the samples sum to the Go heap in use. An object goes to
//!
//! * its root bucket: the one named root (global, goroutine, finalizers of
//!   a type) that alone reaches it (`ObjectGraph::root_labels`, the labels
//!   behind `Discovery::root_retention`), else `(reachable from several
//!   roots)` when several do, else `(garbage)` when none does;
//! * within that bucket, the map that retains it
//!   (`Discovery::map_retaining`) and, inside a family, the measured member
//!   that does (`Discovery::member_retaining`); objects no map retains are
//!   the root's own.
//!
//! Stacks (leaf first, as pprof wants them), for a map at
//! `main.registry.endpoints` of type `map[string]*main.Endpoint` retained
//! by the global `main.registry`:
//! `[map[string]*main.Endpoint, main.registry.endpoints, main.registry]` —
//! one frame per path step below the root, each named by the whole path up
//! to it (so `go tool pprof -top` and the flame graph never merge two
//! different paths that end in the same field name). A family's measured
//! members (its largest, those `discover` measures one by one) add
//! `[member type, member path]` under the family's path (members named
//! alike, `main.m[*]`, share one frame); the family's own storage and its
//! other members are `[family type, family path…]`. The root's objects no map
//! retains are `[(other objects), root]` when maps hang under the root,
//! else `[root's type or (objects), root]`. A map whose path does not start
//! at its bucket's root (shared, or named from another root) is one path
//! frame under the bucket. Hence a map's retained bytes appear once, as the
//! cum value of its path frame, and its root's frame holds its own objects
//! plus its maps — nothing is counted twice. Heap the object graph does not
//! cover (none, normally) is one `(heap outside the object graph)` sample.
//!
//! Owns: that hierarchy and the pprof model of it. Does not touch: how
//! retention is measured (gomaps), the protobuf encoding (mapscope-pprof's
//! `encode_gzip`) or writing files (the binary).

use mapscope_gomaps::discover::{Discovery, FoundMap};
use mapscope_gomaps::graph::{ROOT_NONE, ROOT_SHARED};
use mapscope_pprof::{Function, Line, Location, Mapping, Profile, Sample, ValueType};
use rayon::prelude::*;
use std::collections::HashMap;
use std::path::Path;

/// Bucket of objects several roots reach.
pub const SHARED_FRAME: &str = "(reachable from several roots)";
/// Bucket of objects no root reaches (garbage awaiting collection).
pub const GARBAGE_FRAME: &str = "(garbage)";
/// Leaf of a root's objects no map retains, when maps hang under it.
pub const OTHER_OBJECTS_FRAME: &str = "(other objects)";
/// Leaf of a root's objects when the root has no type (goroutines).
pub const OBJECTS_FRAME: &str = "(objects)";
/// Heap in use the object graph does not hold.
pub const OUTSIDE_GRAPH_FRAME: &str = "(heap outside the object graph)";
/// Sample type of the retained bytes (the default).
pub const RETAINED_SPACE: &str = "retained_space";
/// Sample type of the retained objects.
pub const RETAINED_OBJECTS: &str = "retained_objects";

/// Interned frames: one function and one location per name.
#[derive(Default)]
struct Frames {
    by_name: HashMap<String, usize>,
    functions: Vec<Function>,
    locations: Vec<Location>,
}

impl Frames {
    fn frame(&mut self, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        let i = self.functions.len();
        self.functions.push(Function {
            id: i as u64 + 1,
            name: name.to_string(),
            system_name: name.to_string(),
            filename: String::new(),
            start_line: 0,
        });
        self.locations.push(Location {
            id: i as u64 + 1,
            mapping: Some(0),
            address: 0,
            lines: vec![Line {
                function: i,
                line: 0,
                column: 0,
            }],
            is_folded: false,
        });
        self.by_name.insert(name.to_string(), i);
        i
    }
}

/// The frames of `path` below `root`, outermost first: each path step's
/// whole prefix (`main.loader.index`, `main.loader.index.byName`); the
/// whole path as one frame when it does not start at `root`; none when it
/// is `root` itself. Steps start at `.` or `[` outside brackets and quotes,
/// or at each ` → ` of a path through the heap.
pub fn path_frames(root: &str, path: &str) -> Vec<String> {
    let Some(rest) = path.strip_prefix(root) else {
        return vec![path.to_string()];
    };
    if rest.is_empty() {
        return Vec::new();
    }
    if !(rest.starts_with('.') || rest.starts_with('[') || rest.starts_with(" → ")) {
        return vec![path.to_string()];
    }
    let mut out = Vec::new();
    // A path through the heap (`root → *T → map`): steps are the arrows
    // only (type names hold dots).
    if rest.starts_with(" → ") {
        for (i, _) in rest.match_indices(" → ").skip(1) {
            if let Some(prefix) = path.get(..root.len() + i) {
                out.push(prefix.to_string());
            }
        }
        out.push(path.to_string());
        return out;
    }
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in rest.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        let boundary = match c {
            '"' => {
                quoted = true;
                false
            }
            '[' => {
                depth += 1;
                depth == 1
            }
            ']' => {
                depth = depth.saturating_sub(1);
                false
            }
            '.' => depth == 0,
            _ => false,
        };
        if boundary && i > 0 {
            if let Some(prefix) = path.get(..root.len() + i) {
                out.push(prefix.to_string());
            }
        }
    }
    out.push(path.to_string());
    out.dedup();
    out
}

/// A cell of the hierarchy: root label, map (index into
/// `Discovery::maps`), measured member (index into its `children`).
type Key = (u32, Option<usize>, Option<usize>);

/// Objects and bytes of one cell of the hierarchy.
#[derive(Clone, Copy, Default)]
struct Cell {
    objects: u64,
    bytes: u64,
}

/// The retained-size profile of a discovery (see the module doc):
/// `heap_in_use` is the heap walk's in-use bytes, which the samples sum to;
/// the core is named in a comment, the executable as the profile's one
/// mapping (marked symbolized, so readers never look for its symbols).
pub fn retained_profile(
    discovery: &Discovery,
    heap_in_use: u64,
    core: &Path,
    executable: Option<&Path>,
) -> Profile {
    let graph = &discovery.graph;
    let named = &discovery.roots.named;
    let labels = mapscope_goruntime::timing::phase("retained profile: root labels", || {
        graph.root_labels(&discovery.roots.target_lists())
    });
    // (root label, map, member) → objects and bytes. Every object once;
    // chunks of ids in parallel, their tables merged.
    let n = graph.len().min(u32::MAX as usize) as u32;
    let cells: HashMap<Key, Cell> = (0..n)
        .into_par_iter()
        .with_min_len(1 << 14)
        .fold(HashMap::new, |mut cells: HashMap<Key, Cell>, id| {
            if let Some(obj) = graph.object(id) {
                let label = labels.get(id as usize).copied().unwrap_or(ROOT_NONE);
                let (map, _) = discovery.map_retaining(obj.address);
                let member = map.and_then(|m| discovery.member_retaining(obj.address, m));
                let cell = cells.entry((label, map, member)).or_default();
                cell.objects += 1;
                cell.bytes = cell.bytes.saturating_add(obj.size);
            }
            cells
        })
        .reduce(HashMap::new, |mut a, b| {
            for (k, c) in b {
                let cell = a.entry(k).or_default();
                cell.objects += c.objects;
                cell.bytes = cell.bytes.saturating_add(c.bytes);
            }
            a
        });
    let graph_bytes = cells
        .values()
        .map(|c| c.bytes)
        .fold(0u64, u64::saturating_add);
    let mut keys: Vec<_> = cells.keys().copied().collect();
    keys.sort_unstable();
    // Roots with at least one map cell: their own objects are "(other objects)".
    let with_maps: std::collections::HashSet<u32> =
        keys.iter().filter(|k| k.1.is_some()).map(|k| k.0).collect();
    let mut frames = Frames::default();
    let mut samples: Vec<Sample> = Vec::with_capacity(keys.len() + 1);
    for key in keys {
        let (label, map, member) = key;
        let Some(cell) = cells.get(&key).copied() else {
            continue;
        };
        let root = named.get(label as usize);
        let bucket = match (label, root) {
            (ROOT_NONE, _) => GARBAGE_FRAME.to_string(),
            (ROOT_SHARED, _) | (_, None) => SHARED_FRAME.to_string(),
            (_, Some(r)) => r.name.clone(),
        };
        // Outermost first, then reversed to pprof's leaf-first order.
        let mut names: Vec<String> = vec![bucket.clone()];
        match map.and_then(|m| discovery.maps.get(m)) {
            Some(m) => {
                names.extend(path_frames(&bucket, &m.root));
                match member.and_then(|c| m.children.get(c)) {
                    Some(c) => {
                        names.extend(member_frames(m, c));
                        names.push(c.type_name.clone());
                    }
                    None => names.push(m.type_name.clone()),
                }
            }
            // The shared and garbage buckets' own objects: the bucket frame.
            None if root.is_none() => {}
            None => names.push(match root {
                _ if with_maps.contains(&label) => OTHER_OBJECTS_FRAME.to_string(),
                Some(r) if !r.type_name.is_empty() => r.type_name.clone(),
                _ => OBJECTS_FRAME.to_string(),
            }),
        }
        let mut locations: Vec<usize> = names.iter().map(|n| frames.frame(n)).collect();
        locations.reverse();
        samples.push(Sample {
            locations,
            values: vec![
                i64::try_from(cell.objects).unwrap_or(i64::MAX),
                i64::try_from(cell.bytes).unwrap_or(i64::MAX),
            ],
            labels: Vec::new(),
            num_labels: Vec::new(),
        });
    }
    let outside = heap_in_use.saturating_sub(graph_bytes);
    if outside > 0 {
        samples.push(Sample {
            locations: vec![frames.frame(OUTSIDE_GRAPH_FRAME)],
            values: vec![0, i64::try_from(outside).unwrap_or(i64::MAX)],
            labels: Vec::new(),
            num_labels: Vec::new(),
        });
    }
    samples.sort_by(|a, b| b.values.get(1).cmp(&a.values.get(1)));
    let t = |name: &str, unit: &str| ValueType {
        r#type: name.to_string(),
        unit: unit.to_string(),
    };
    Profile {
        path: Default::default(),
        format: None,
        sample_types: vec![t(RETAINED_OBJECTS, "count"), t(RETAINED_SPACE, "bytes")],
        default_sample_type: Some(RETAINED_SPACE.to_string()),
        samples,
        locations: frames.locations,
        functions: frames.functions,
        mappings: vec![Mapping {
            id: 1,
            filename: executable
                .map(|e| e.display().to_string())
                .unwrap_or_default(),
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: true,
            ..Mapping::default()
        }],
        period_type: Some(t(RETAINED_SPACE, "bytes")),
        period: 1,
        time_nanos: 0,
        duration_nanos: 0,
        comments: vec![
            format!("mapscope retained-size profile of {}", core.display()),
            "stacks are retention paths (root → field path → map or object), leaf first; values sum to the Go heap in use".to_string(),
        ],
        drop_frames: String::new(),
        keep_frames: String::new(),
        doc_url: String::new(),
    }
}

/// The frames of family member `c` below its family `m`'s path: the
/// member's path as one frame (members are named `family[key]`).
fn member_frames(m: &FoundMap, c: &FoundMap) -> Vec<String> {
    path_frames(&m.root, &c.root)
        .into_iter()
        .filter(|f| f != &m.root)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_frames_step_by_step() {
        assert_eq!(
            path_frames("main.loader", "main.loader.index.byName"),
            ["main.loader.index", "main.loader.index.byName"]
        );
        assert!(path_frames("main.m", "main.m").is_empty());
        assert_eq!(
            path_frames("main.m", "main.m[\"a.b\"].x"),
            ["main.m[\"a.b\"]", "main.m[\"a.b\"].x"]
        );
        // Not below the root: one frame.
        assert_eq!(
            path_frames("main.reg", "main.registry.e"),
            ["main.registry.e"]
        );
        assert_eq!(path_frames("(garbage)", "main.x"), ["main.x"]);
        assert_eq!(
            path_frames("goroutine 5 main.f", "goroutine 5 main.f.m"),
            ["goroutine 5 main.f.m"]
        );
        assert_eq!(
            path_frames(
                "goroutine 1 main.main",
                "goroutine 1 main.main → *main.T → map"
            ),
            [
                "goroutine 1 main.main → *main.T",
                "goroutine 1 main.main → *main.T → map"
            ]
        );
    }
}
