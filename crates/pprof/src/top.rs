//! The `top` report: flat and cumulative value per function, computed the
//! way `go tool pprof -top` does (google/pprof `internal/driver`,
//! `internal/report` and `internal/graph`, granularity "functions").
//!
//! The rules reproduced here, in pprof's order:
//! 1. Frames matching the profile's `drop_frames` regexp (and not
//!    `keep_frames`) are pruned from stacks first (`RemoveUninteresting`).
//! 2. The total is the sum of |value| over all samples (only the samples
//!    labelled `pprof::base=true` when there are such).
//! 3. Every line of every location becomes a node keyed by function name
//!    alone (file, line and address are aggregated away); a location
//!    without lines, or a function without a name, becomes a node named
//!    `[basename of the mapping file]` or `<unknown>`.
//! 4. Per sample with a non-zero value, walking from the root: each node
//!    gets the value added to `cum` once per sample, however often it
//!    recurs (recursion, inlining into itself); the innermost frame of the
//!    leaf location gets it added to `flat`. Edges caller → callee carry
//!    the value once per sample and are "inline" when the callee is an
//!    inlined frame (not the last line of its location).
//! 5. Nodes with flat = cum = 0 vanish. With a node fraction, nodes with
//!    |cum| below `fraction × (sum of flat)` are dropped and the graph is
//!    rebuilt from the samples with the rest. Nodes are sorted by |flat|
//!    descending, then name, then |cum| (or |cum|, name, |flat| for
//!    `--cum`), and a node count keeps the first N (graph rebuilt again).
//! 6. Edges lighter than `edge_fraction × (sum of flat)` (pprof's default
//!    0.1%) are removed; a node is labelled "(inline)" when all its remaining
//!    incoming edges are inline, "(partial-inline)" when some are.

use crate::error::ProfileError;
use crate::model::{Profile, ValueType};
use regex::Regex;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// How rows are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortOrder {
    /// By flat value (pprof's default).
    #[default]
    Flat,
    /// By cumulative value (`-cum`).
    Cum,
}

/// Options of [`top`]; the defaults are those of
/// `go tool pprof -top -nodefraction=0` (every function shown).
#[derive(Clone, Debug)]
pub struct TopOptions {
    /// `-sample_index`: a sample type name or position; `None` for the
    /// profile's default (the last sample type unless it names another).
    pub sample_index: Option<String>,
    /// `-nodecount`: show at most this many functions; 0 for all.
    pub node_count: usize,
    /// `-nodefraction`: drop functions whose |cum| is below this fraction of
    /// the total; 0 keeps all (pprof's own default is 0.005).
    pub node_fraction: f64,
    /// `-edgefraction`: only affects the inline labels (pprof default 0.001).
    pub edge_fraction: f64,
    /// `-cum` sorts by cumulative value.
    pub sort: SortOrder,
}

impl Default for TopOptions {
    fn default() -> Self {
        TopOptions {
            sample_index: None,
            node_count: 0,
            node_fraction: 0.0,
            edge_fraction: 0.001,
            sort: SortOrder::Flat,
        }
    }
}

/// pprof's inline marker after a function name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InlineLabel {
    /// Called normally everywhere.
    None,
    /// Only ever inlined into its callers: "(inline)".
    Inline,
    /// Inlined at some call sites, called at others: "(partial-inline)".
    PartialInline,
}

impl InlineLabel {
    /// The marker as pprof prints it, `""` for none.
    pub fn as_str(self) -> &'static str {
        match self {
            InlineLabel::None => "",
            InlineLabel::Inline => "(inline)",
            InlineLabel::PartialInline => "(partial-inline)",
        }
    }
}

/// One function of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct TopRow {
    /// The function name as pprof prints it (without the inline marker).
    pub function: String,
    pub inline: InlineLabel,
    /// Value of samples whose innermost frame is this function.
    pub flat: i64,
    /// Value of samples with this function anywhere on the stack.
    pub cum: i64,
    /// |flat| / total × 100 (0 when the total is 0).
    pub flat_pct: f64,
    /// Running sum of flat up to this row, / total × 100.
    pub sum_pct: f64,
    /// |cum| / total × 100.
    pub cum_pct: f64,
}

/// The report: what `go tool pprof -top` prints, as numbers.
#[derive(Clone, Debug)]
pub struct TopReport {
    /// Position of the chosen sample type.
    pub sample_index: usize,
    /// The chosen sample type (for example `inuse_space`/`bytes`).
    pub sample_type: ValueType,
    /// Sum of |value| over all samples.
    pub total: i64,
    /// Sum of flat over the rows shown ("Showing nodes accounting for").
    pub shown: i64,
    pub rows: Vec<TopRow>,
    /// Functions before the node count limit ("out of N").
    pub nodes_before_limit: usize,
    /// Functions dropped by the node fraction.
    pub dropped_nodes: usize,
    /// The cut-off pprof prints in "Dropped N nodes (cum <= X)".
    pub dropped_cutoff: i64,
}

/// Computes the `top` report of `profile`.
///
/// Errors: [`ProfileError::NoSamples`] for a profile without samples,
/// [`ProfileError::UnknownSampleIndex`] / [`ProfileError::SampleIndexOutOfRange`]
/// for a bad `sample_index`.
pub fn top(profile: &Profile, options: &TopOptions) -> Result<TopReport, ProfileError> {
    if profile.samples.is_empty() {
        return Err(ProfileError::NoSamples {
            path: profile.path.clone(),
        });
    }
    let index = profile.sample_index(options.sample_index.as_deref())?;
    let sample_type = profile.sample_types.get(index).cloned().unwrap_or_default();
    let total = compute_total(profile, index);

    let graph_input = GraphInput::new(profile, index);
    let mut graph = graph_input.build(None);

    let total_flat: i64 = graph
        .nodes
        .iter()
        .map(|&n| graph.flat[n])
        .fold(0, i64::wrapping_add);
    let node_cutoff = ((total_flat as f64) * options.node_fraction) as i64;
    let node_cutoff = node_cutoff.wrapping_abs();
    let edge_cutoff = (((total_flat as f64) * options.edge_fraction) as i64).wrapping_abs();

    let mut dropped_nodes = 0;
    if node_cutoff > 0 {
        let kept: HashSet<usize> = graph
            .nodes
            .iter()
            .copied()
            .filter(|&n| graph.cum[n].wrapping_abs() >= node_cutoff)
            .collect();
        if kept.len() != graph.nodes.len() {
            dropped_nodes = graph.nodes.len() - kept.len();
            graph = graph_input.build(Some(&kept));
        }
    }
    let nodes_before_limit = graph.nodes.len();
    graph_input.sort(&mut graph, options.sort);
    if options.node_count > 0 && options.node_count < graph.nodes.len() {
        let kept: HashSet<usize> = graph.nodes[..options.node_count].iter().copied().collect();
        graph = graph_input.build(Some(&kept));
        graph_input.sort(&mut graph, options.sort);
    }

    let pct = |v: i64| -> f64 {
        if total == 0 {
            0.0
        } else {
            (v as f64 / total as f64).abs() * 100.0
        }
    };
    let labels = graph.inline_labels(edge_cutoff);
    let mut rows = Vec::with_capacity(graph.nodes.len());
    let mut running: i64 = 0;
    for &n in &graph.nodes {
        let (flat, cum) = (graph.flat[n], graph.cum[n]);
        running = running.wrapping_add(flat);
        rows.push(TopRow {
            function: graph_input.names[n].clone(),
            inline: labels.get(n).copied().unwrap_or(InlineLabel::None),
            flat,
            cum,
            flat_pct: pct(flat),
            sum_pct: pct(running),
            cum_pct: pct(cum),
        });
    }
    let dropped_cutoff = (((total as f64) * options.node_fraction) as i64).wrapping_abs();
    Ok(TopReport {
        sample_index: index,
        sample_type,
        total,
        shown: running,
        rows,
        nodes_before_limit,
        dropped_nodes,
        dropped_cutoff,
    })
}

/// pprof's `computeTotal`: the sum of |value|, restricted to diff-base
/// samples (label `pprof::base=true`) when any are non-zero.
fn compute_total(profile: &Profile, index: usize) -> i64 {
    let mut total: i64 = 0;
    let mut diff_total: i64 = 0;
    for s in &profile.samples {
        let v = s.values.get(index).copied().unwrap_or(0).wrapping_abs();
        total = total.wrapping_add(v);
        if s.labels
            .iter()
            .any(|l| l.key == "pprof::base" && l.value == "true")
        {
            diff_total = diff_total.wrapping_add(v);
        }
    }
    if diff_total > 0 {
        diff_total
    } else {
        total
    }
}

/// What a node is, after pprof aggregates to function granularity.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum NodeKey {
    Named(String),
    /// No function name: told apart by mapping file and start line.
    Unnamed {
        objfile: String,
        start_line: i64,
    },
}

/// The samples reduced to node ids, ready to build graphs from.
struct GraphInput {
    /// Printable name per node id.
    names: Vec<String>,
    /// Go's `fmt.Sprint(NodeInfo)`, the last sort tie-breaker.
    sprint: Vec<String>,
    /// Per sample: value and the node ids of each location (root last,
    /// within a location innermost first).
    samples: Vec<(i64, Vec<usize>)>,
    /// Node ids per location (after pruning lines).
    location_nodes: Vec<Vec<usize>>,
}

struct Graph {
    /// Node ids present (cum or flat non-zero), in report order once sorted.
    nodes: Vec<usize>,
    flat: Vec<i64>,
    cum: Vec<i64>,
    /// (caller, callee) → (weight, all additions inline).
    edges: HashMap<(usize, usize), (i64, bool)>,
}

impl Graph {
    /// Inline label per node id, from the edges at least `edge_cutoff`
    /// heavy (pprof trims lighter edges before labelling).
    fn inline_labels(&self, edge_cutoff: i64) -> Vec<InlineLabel> {
        // (has an inline incoming edge, has a normal incoming edge)
        let mut seen = vec![(false, false); self.flat.len()];
        for (&(_, callee), &(weight, is_inline)) in &self.edges {
            if weight.wrapping_abs() < edge_cutoff {
                continue;
            }
            if let Some(s) = seen.get_mut(callee) {
                if is_inline {
                    s.0 = true;
                } else {
                    s.1 = true;
                }
            }
        }
        seen.into_iter()
            .map(|s| match s {
                (true, true) => InlineLabel::PartialInline,
                (true, false) => InlineLabel::Inline,
                _ => InlineLabel::None,
            })
            .collect()
    }
}

impl GraphInput {
    fn new(profile: &Profile, index: usize) -> GraphInput {
        let pruning = Pruning::new(profile);
        let mut ids: HashMap<NodeKey, usize> = HashMap::new();
        let mut names = Vec::new();
        let mut sprint = Vec::new();
        let mut intern = |key: NodeKey| -> usize {
            if let Some(&id) = ids.get(&key) {
                return id;
            }
            let (name, start_line, objfile) = match &key {
                NodeKey::Named(n) => (n.clone(), 0, String::new()),
                NodeKey::Unnamed {
                    objfile,
                    start_line,
                } => (String::new(), *start_line, objfile.clone()),
            };
            names.push(printable_name(&key));
            // {Name OrigName Address File StartLine Lineno Columnno Objfile}
            sprint.push(format!("{{{name}  0  {start_line} 0 0 {objfile}}}"));
            let id = names.len() - 1;
            ids.insert(key, id);
            id
        };

        let mut location_nodes = Vec::with_capacity(profile.locations.len());
        for (li, loc) in profile.locations.iter().enumerate() {
            let objfile = profile
                .mapping(loc)
                .map(|m| m.filename.clone())
                .unwrap_or_default();
            let first_line = pruning.as_ref().map_or(0, |p| p.first_line[li]);
            let lines = loc.lines.get(first_line..).unwrap_or(&[]);
            let mut nodes = Vec::with_capacity(lines.len().max(1));
            if lines.is_empty() {
                nodes.push(intern(NodeKey::Unnamed {
                    objfile,
                    start_line: 0,
                }));
            } else {
                for line in lines {
                    let key = match profile.function(line) {
                        Some(f) if !f.name.is_empty() => NodeKey::Named(f.name.clone()),
                        Some(f) => NodeKey::Unnamed {
                            objfile: objfile.clone(),
                            start_line: f.start_line,
                        },
                        None => NodeKey::Unnamed {
                            objfile: objfile.clone(),
                            start_line: 0,
                        },
                    };
                    nodes.push(intern(key));
                }
            }
            location_nodes.push(nodes);
        }

        let mut samples = Vec::with_capacity(profile.samples.len());
        for s in &profile.samples {
            let value = s.values.get(index).copied().unwrap_or(0);
            let stack = match &pruning {
                Some(p) => p.stack(&s.locations),
                None => &s.locations[..],
            };
            samples.push((value, stack.to_vec()));
        }
        GraphInput {
            names,
            sprint,
            samples,
            location_nodes,
        }
    }

    /// pprof's `newGraph`, restricted to `kept` nodes when given.
    fn build(&self, kept: Option<&HashSet<usize>>) -> Graph {
        let count = self.names.len();
        let mut flat = vec![0i64; count];
        let mut cum = vec![0i64; count];
        let mut edges: HashMap<(usize, usize), (i64, bool)> = HashMap::new();
        let mut seen_node: HashSet<usize> = HashSet::new();
        let mut seen_edge: HashSet<(usize, usize)> = HashSet::new();
        let is_kept = |n: usize| kept.is_none_or(|k| k.contains(&n));
        for (w, stack) in &self.samples {
            let w = *w;
            if w == 0 {
                continue;
            }
            seen_node.clear();
            seen_edge.clear();
            let mut parent: Option<usize> = None;
            // A residual edge jumps over nodes that were not kept.
            let mut residual = false;
            for &loc in stack.iter().rev() {
                let Some(nodes) = self.location_nodes.get(loc) else {
                    continue;
                };
                for (ni, &n) in nodes.iter().enumerate().rev() {
                    if !is_kept(n) {
                        residual = true;
                        continue;
                    }
                    if seen_node.insert(n) {
                        cum[n] = cum[n].wrapping_add(w);
                    }
                    if let Some(p) = parent {
                        if n != p && seen_edge.insert((n, p)) {
                            let inline = ni != nodes.len() - 1;
                            let e = edges.entry((p, n)).or_insert((0, inline));
                            e.0 = e.0.wrapping_add(w);
                            if !inline {
                                e.1 = false;
                            }
                        }
                    }
                    parent = Some(n);
                    residual = false;
                }
            }
            if let (Some(p), false) = (parent, residual) {
                flat[p] = flat[p].wrapping_add(w);
            }
        }
        let nodes = (0..count)
            .filter(|&n| is_kept(n) && (flat[n] != 0 || cum[n] != 0))
            .collect();
        Graph {
            nodes,
            flat,
            cum,
            edges,
        }
    }

    /// pprof's FlatNameOrder / CumNameOrder.
    fn sort(&self, graph: &mut Graph, order: SortOrder) {
        let (flat, cum) = (&graph.flat, &graph.cum);
        let by_name = |l: usize, r: usize| self.names[l].cmp(&self.names[r]);
        let desc_abs =
            |v: &Vec<i64>, l: usize, r: usize| v[r].wrapping_abs().cmp(&v[l].wrapping_abs());
        graph.nodes.sort_by(|&l, &r| {
            let ord = match order {
                SortOrder::Flat => desc_abs(flat, l, r)
                    .then(by_name(l, r))
                    .then(desc_abs(cum, l, r)),
                SortOrder::Cum => desc_abs(cum, l, r)
                    .then(by_name(l, r))
                    .then(desc_abs(flat, l, r)),
            };
            ord.then_with(|| self.sprint[l].cmp(&self.sprint[r]))
                .then(Ordering::Equal)
        });
    }
}

fn printable_name(key: &NodeKey) -> String {
    match key {
        NodeKey::Named(n) => n.clone(),
        NodeKey::Unnamed { objfile, .. } if !objfile.is_empty() => {
            format!("[{}]", go_base(objfile))
        }
        NodeKey::Unnamed { .. } => "<unknown>".to_string(),
    }
}

/// Go's `filepath.Base` on Unix.
fn go_base(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

/// pprof's `Prune(drop_frames, keep_frames)`: which lines of each location
/// survive and where each sample's stack is cut.
struct Pruning {
    first_line: Vec<usize>,
    prune: Vec<bool>,
    prune_beneath: Vec<bool>,
}

impl Pruning {
    fn new(profile: &Profile) -> Option<Pruning> {
        if profile.drop_frames.is_empty() {
            return None;
        }
        // pprof ignores frame regexps it cannot compile.
        let drop = Regex::new(&format!("^({})$", profile.drop_frames)).ok()?;
        let keep = if profile.keep_frames.is_empty() {
            None
        } else {
            Some(Regex::new(&format!("^({})$", profile.keep_frames)).ok()?)
        };
        let mut cache: HashMap<String, bool> = HashMap::new();
        let mut prune_from_here = |name: &str| -> bool {
            if let Some(&hit) = cache.get(name) {
                return hit;
            }
            *cache.entry(name.to_string()).or_insert_with(|| {
                let simple = simplify_function_name(name);
                drop.is_match(simple) && !keep.as_ref().is_some_and(|k| k.is_match(simple))
            })
        };
        let n = profile.locations.len();
        let mut p = Pruning {
            first_line: vec![0; n],
            prune: vec![false; n],
            prune_beneath: vec![false; n],
        };
        for (li, loc) in profile.locations.iter().enumerate() {
            let hit = loc.lines.iter().enumerate().rev().find(|(_, line)| {
                profile
                    .function(line)
                    .is_some_and(|f| !f.name.is_empty() && prune_from_here(&f.name))
            });
            if let Some((i, _)) = hit {
                p.prune_beneath[li] = true;
                if i + 1 == loc.lines.len() {
                    p.prune[li] = true;
                } else {
                    p.first_line[li] = i + 1;
                }
            }
        }
        Some(p)
    }

    /// The part of a stack (leaf first) that survives pruning.
    fn stack<'a>(&self, locations: &'a [usize]) -> &'a [usize] {
        let mut found_user = false;
        for i in (0..locations.len()).rev() {
            let id = locations[i];
            let (prune, beneath) = (
                self.prune.get(id).copied().unwrap_or(false),
                self.prune_beneath.get(id).copied().unwrap_or(false),
            );
            if !prune && !beneath {
                found_user = true;
                continue;
            }
            if !found_user {
                continue;
            }
            if prune {
                return &locations[i + 1..];
            }
            return &locations[i..];
        }
        locations
    }
}

/// pprof's `simplifyFunc`: drops a leading '.' and everything from the
/// first '(' that does not start "(anonymous namespace)" or belong to
/// "operator()".
fn simplify_function_name(name: &str) -> &str {
    const RESERVED: [&str; 2] = ["(anonymous namespace)", "operator()"];
    let name = name.strip_prefix('.').unwrap_or(name);
    let mut i = 0;
    while i < name.len() {
        let rest = &name[i..];
        if let Some(r) = RESERVED.iter().find(|r| rest.starts_with(**r)) {
            i += r.len();
            continue;
        }
        if rest.starts_with('(') {
            return &name[..i];
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Function, Line, Location, Sample};

    /// A profile from stacks of function names (leaf first); each location
    /// holds one frame unless a name contains '+', which joins inlined
    /// frames of one location (innermost first).
    fn profile(samples: &[(&[&str], i64)]) -> Profile {
        let mut p = Profile {
            path: "t.pb".into(),
            sample_types: vec![ValueType {
                r#type: "space".into(),
                unit: "bytes".into(),
            }],
            ..Profile::default()
        };
        let mut funcs: HashMap<String, usize> = HashMap::new();
        let mut locs: HashMap<String, usize> = HashMap::new();
        for (stack, v) in samples {
            let mut ids = Vec::new();
            for frame in *stack {
                let loc = *locs.entry(frame.to_string()).or_insert_with(|| {
                    let lines = frame
                        .split('+')
                        .map(|name| {
                            let f = *funcs.entry(name.to_string()).or_insert_with(|| {
                                p.functions.push(Function {
                                    id: p.functions.len() as u64 + 1,
                                    name: name.to_string(),
                                    ..Function::default()
                                });
                                p.functions.len() - 1
                            });
                            Line {
                                function: f,
                                line: 1,
                                column: 0,
                            }
                        })
                        .collect();
                    p.locations.push(Location {
                        id: p.locations.len() as u64 + 1,
                        lines,
                        ..Location::default()
                    });
                    p.locations.len() - 1
                });
                ids.push(loc);
            }
            p.samples.push(Sample {
                locations: ids,
                values: vec![*v],
                ..Sample::default()
            });
        }
        p
    }

    fn rows(r: &TopReport) -> Vec<(String, i64, i64, &'static str)> {
        r.rows
            .iter()
            .map(|x| (x.function.clone(), x.flat, x.cum, x.inline.as_str()))
            .collect()
    }

    #[test]
    fn recursion_counts_cum_once_and_flat_at_the_leaf() {
        let p = profile(&[
            (&["a", "b", "a", "main"], 10),
            (&["b", "main"], 5),
            (&["main"], 0),
        ]);
        let r = top(&p, &TopOptions::default()).unwrap();
        assert_eq!(r.total, 15);
        assert_eq!(
            rows(&r),
            [
                ("a".into(), 10, 10, ""),
                ("b".into(), 5, 15, ""),
                ("main".into(), 0, 15, ""),
            ]
        );
        assert_eq!(r.rows[1].sum_pct, 100.0);
    }

    #[test]
    fn inlined_frames_are_nodes_with_labels() {
        // helper inlined into caller at one site, called at another.
        let p = profile(&[
            (&["helper+caller", "main"], 100),
            (&["helper", "other", "main"], 50),
        ]);
        let r = top(&p, &TopOptions::default()).unwrap();
        assert_eq!(
            rows(&r),
            [
                ("helper".into(), 150, 150, "(partial-inline)"),
                ("caller".into(), 0, 100, ""),
                ("main".into(), 0, 150, ""),
                ("other".into(), 0, 50, ""),
            ]
        );
    }

    #[test]
    fn ties_sort_by_name_then_cum_and_cum_order() {
        let p = profile(&[(&["z"], 7), (&["y", "x"], 7), (&["x"], 1)]);
        let r = top(&p, &TopOptions::default()).unwrap();
        let names: Vec<_> = r.rows.iter().map(|r| r.function.as_str()).collect();
        assert_eq!(names, ["y", "z", "x"]);
        let r = top(
            &p,
            &TopOptions {
                sort: SortOrder::Cum,
                ..TopOptions::default()
            },
        )
        .unwrap();
        let names: Vec<_> = r.rows.iter().map(|r| r.function.as_str()).collect();
        assert_eq!(names, ["x", "y", "z"]);
    }

    #[test]
    fn node_count_and_fraction_trim_like_pprof() {
        let p = profile(&[
            (&["a", "main"], 90),
            (&["b", "main"], 9),
            (&["c", "main"], 1),
        ]);
        let r = top(
            &p,
            &TopOptions {
                node_count: 2,
                ..TopOptions::default()
            },
        )
        .unwrap();
        assert_eq!(rows(&r), [("a".into(), 90, 90, ""), ("b".into(), 9, 9, "")]);
        assert_eq!((r.shown, r.total, r.nodes_before_limit), (99, 100, 4));
        let r = top(
            &p,
            &TopOptions {
                node_fraction: 0.05,
                ..TopOptions::default()
            },
        )
        .unwrap();
        assert_eq!(r.dropped_nodes, 1);
        assert_eq!(r.dropped_cutoff, 5);
        assert_eq!(r.rows.len(), 3);
    }

    #[test]
    fn drop_frames_prune_allocator_frames() {
        let mut p = profile(&[
            (&["runtime.mallocgc", "main.f", "runtime.main"], 8),
            (&["runtime.a", "runtime.b"], 2),
        ]);
        p.drop_frames = r"runtime\..*".into();
        let r = top(&p, &TopOptions::default()).unwrap();
        assert_eq!(
            rows(&r),
            [
                ("main.f".into(), 8, 8, ""),
                ("runtime.a".into(), 2, 2, ""),
                ("runtime.b".into(), 0, 2, ""),
                ("runtime.main".into(), 0, 8, ""),
            ]
        );
    }

    #[test]
    fn errors_for_empty_profiles_and_bad_indexes() {
        let p = profile(&[]);
        assert!(matches!(
            top(&p, &TopOptions::default()),
            Err(ProfileError::NoSamples { .. })
        ));
        let p = profile(&[(&["a"], 1)]);
        let o = TopOptions {
            sample_index: Some("nope".into()),
            ..TopOptions::default()
        };
        assert_eq!(
            top(&p, &o).unwrap_err().to_string(),
            "t.pb: unknown sample index \"nope\"; the profile has: space"
        );
    }

    #[test]
    fn simplify_like_pprof() {
        assert_eq!(simplify_function_name("main.(*Cache).Put"), "main.");
        assert_eq!(simplify_function_name(".foo(int)"), "foo");
        assert_eq!(
            simplify_function_name("(anonymous namespace)::f(int)"),
            "(anonymous namespace)::f"
        );
        assert_eq!(
            simplify_function_name("A::operator()(int)"),
            "A::operator()"
        );
        assert_eq!(go_base("/a/b/exe"), "exe");
        assert_eq!(go_base("exe/"), "exe");
    }
}
