//! The dominator tree of the object graph, and the retained bytes it gives
//! every root and every heap object at its top level (as heap analysers
//! such as Eclipse MAT compute them).
//!
//! The graph is the heap's ([`ObjectGraph`]) plus virtual nodes: one per
//! named root, pointing at that root's target ids, under one virtual
//! super-root. An object `d` dominates `v` when every path from the
//! super-root to `v` passes through `d`; the retained size of a node is
//! the sum of the sizes of the objects it dominates (itself included):
//! what dropping it would free. The *top level* of the tree — the
//! super-root's children — are the named roots (each retaining what only
//! it reaches) and the heap objects that several roots reach but no single
//! one retains (a context object a global and a goroutine's frame both
//! point at). Their retained sets partition the reachable heap.
//!
//! Algorithm: Lengauer–Tarjan on a reduced graph ([`retention`]). Most
//! heap objects have exactly one referrer, which is then their immediate
//! dominator: each such object is folded into its *head* (the first
//! object up its chain of single referrers with none or several, or a
//! root), and the dominator tree is computed over the heads only (6% of
//! the objects of the benchmark core, 45% of `go1.26-compile`'s); the
//! top level and its retained sizes follow exactly (see
//! `retention_of`'s proof). Three parallel passes over the edges build
//! the reduced graph: referrers, then per object its edges into heads
//! counted and placed. Lengauer–Tarjan itself is the "simple" version
//! with path compression (O(m log n)) over a depth-first numbering,
//! everything iterative (no recursion: graphs have millions of nodes), in
//! `u32` arrays indexed by preorder number. Buckets are processed once,
//! when every node numbered above their semidominator is linked, and
//! chained through the `idom` array itself. The walk looks each node's
//! successor list up once (its stack holds what is left of it) and counts
//! the in-degrees; the predecessor lists are then placed in one
//! sequential pass over the nodes in id order (no atomics).
//!
//! Memory, for n objects, H heads (plus one node per root and the
//! super-root) and E edges into heads: the referrers, then each object's
//! head (4 n bytes, freed before Lengauer–Tarjan runs), two bits per
//! object, each head's tree's bytes and objects (12 H), the reduced graph
//! (4 H + 4 E); Lengauer–Tarjan over the reduced graph, with N of its
//! nodes reachable, M edges between those and a walk of depth D: the
//! node → preorder map and the in-degree counts (8 H), parents (4 N) and
//! the walk's stack (16 D); the counts cut to N list offsets, the
//! predecessor lists (4 M); `semi`, `label`, `idom` and bucket heads
//! (16 N), the parents reused as the forest's ancestors; then 12 N bytes
//! of retained sizes. On the benchmark core (23.3 M objects, 1.5 M heads)
//! the phase adds ~80 MiB to the graph instead of ~720 MiB.
//!
//! Owns: the dominator algorithm and the retained sizes it gives.
//! Must not touch: what the roots are or how they are named
//! ([`crate::roots`]), naming objects or paths (mapscope-gomaps' `unrooted`),
//! the graph's construction ([`crate::graph`]).

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use mapscope_goruntime::timing::Phase;
use rayon::prelude::*;

use crate::graph::{edge_blocks, prefetch, EdgeSlices, ObjectGraph};

/// No node (unreached, no dominator, end of a bucket).
pub const NONE: u32 = u32::MAX;
/// How many successors ahead the walks prefetch a target's number.
const AHEAD: usize = 4;

/// Why a dominator tree was not computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DominatorError {
    /// The nodes or the edges between reachable nodes do not fit the
    /// `u32` arrays.
    TooLarge { nodes: u64, edges: u64 },
}

impl std::fmt::Display for DominatorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DominatorError::TooLarge { nodes, edges } => write!(
                f,
                "dominator tree: graph too large for u32 arrays ({nodes} nodes, {edges} edges)"
            ),
        }
    }
}

impl std::error::Error for DominatorError {}

/// Dominator tree in preorder numbers: `num` maps a node to its preorder
/// number ([`NONE`] when unreachable); `idom` maps a preorder number to
/// its immediate dominator's (the root, number 0, is its own).
struct Tree {
    num: Vec<u32>,
    idom: Vec<u32>,
}

/// Lengauer–Tarjan over nodes `0..n` with successors `succ`, from `root`
/// (see the module doc). Successors `>= n` are ignored.
fn lengauer_tarjan<'a, F>(n: usize, root: u32, succ: F) -> Result<Tree, DominatorError>
where
    F: Fn(u32) -> &'a [u32] + Sync,
{
    let too_large = |edges: u64| DominatorError::TooLarge {
        nodes: n as u64,
        edges,
    };
    if n >= NONE as usize {
        return Err(too_large(0));
    }
    let mut num = vec![NONE; n];
    if root as usize >= n {
        return Ok(Tree {
            num,
            idom: Vec::new(),
        });
    }
    // 1. Depth-first numbering, iterative. The stack holds, per node on
    // the current path, what is left of its successor list (looked up
    // once, when the node is numbered); `cur` is the top's preorder
    // number, and its parent's is `anc[cur]`. Every edge out of a reached
    // node is looked at once: its target's in-degree is counted here
    // (`counts[q + 1]`, q its preorder number).
    let timing = Phase::start("maps: dominator tree: depth-first walk");
    let mut anc: Vec<u32> = vec![0];
    let mut counts: Vec<u32> = vec![0; n + 1];
    let mut total: u64 = 0;
    let mut numbered: u32 = 1;
    num[root as usize] = 0;
    let mut cur: u32 = 0;
    let mut stack: Vec<std::slice::Iter<'a, u32>> = vec![succ(root).iter()];
    while let Some(top) = stack.last_mut() {
        let mut next = NONE;
        while let Some(&w) = top.next() {
            // Targets are random: start loading a later one's number.
            if let Some(x) = top.as_slice().get(AHEAD).and_then(|&a| num.get(a as usize)) {
                prefetch(x);
            }
            let Some(q) = num.get_mut(w as usize) else {
                continue;
            };
            total += 1;
            if *q == NONE {
                // A tree edge: w is numbered now.
                *q = numbered;
                next = w;
            }
            if let Some(c) = counts.get_mut(*q as usize + 1) {
                *c += 1;
            }
            if next != NONE {
                break;
            }
        }
        if next == NONE {
            stack.pop();
            cur = anc.get(cur as usize).copied().unwrap_or(0);
            continue;
        }
        anc.push(cur);
        cur = numbered;
        numbered += 1;
        stack.push(succ(next).iter());
    }
    drop((stack, timing));
    if total >= NONE as u64 {
        return Err(too_large(total));
    }
    let big_n = numbered as usize;
    let timing = Phase::start("maps: dominator tree: predecessors");
    // 2. Predecessors of the reachable nodes, CSR over preorder numbers:
    // the in-degrees summed to list offsets, then every edge placed, its
    // sources taken in node order (sequential reads of the successor
    // lists and of `num`; the order within a list does not change the
    // dominators). `off[q]` is list q's cursor while placing.
    counts.truncate(big_n + 1);
    counts.shrink_to_fit();
    let mut off = counts;
    for q in 1..=big_n {
        off[q] += off[q - 1];
    }
    let mut preds: Vec<u32> = vec![0; total as usize];
    for (v, &p) in num.iter().enumerate() {
        if p == NONE {
            continue;
        }
        let s = succ(v as u32);
        for (j, &w) in s.iter().enumerate() {
            if let Some(x) = s.get(j + AHEAD).and_then(|&a| num.get(a as usize)) {
                prefetch(x);
            }
            let Some(&q) = num.get(w as usize) else {
                continue;
            };
            if let Some(at) = off.get_mut(q as usize) {
                if let Some(slot) = preds.get_mut(*at as usize) {
                    *slot = p;
                }
                *at += 1;
            }
        }
    }
    // Each cursor now holds its list's end: shift them back to starts.
    for q in (1..=big_n).rev() {
        off[q] = off[q - 1];
    }
    off[0] = 0;
    drop(timing);
    // 3. Semidominators, then immediate dominators.
    let _timing = Phase::start("maps: dominator tree: semidominators");
    let mut semi: Vec<u32> = (0..big_n as u32).collect();
    let mut label: Vec<u32> = semi.clone();
    let mut idom: Vec<u32> = vec![NONE; big_n];
    let mut bucket: Vec<u32> = vec![NONE; big_n];
    let mut path: Vec<u32> = Vec::new();
    for w in (1..big_n).rev() {
        // Every node above w is linked: w's bucket can be emptied.
        empty_bucket(
            w as u32,
            &mut bucket,
            &mut idom,
            &mut anc,
            &semi,
            &mut label,
            &mut path,
        );
        let last = w as u32 + 1;
        let mut s = semi[w];
        for &v in &preds[off[w] as usize..off[w + 1] as usize] {
            let u = eval(v, last, &mut anc, &semi, &mut label, &mut path);
            s = s.min(semi[u as usize]);
        }
        semi[w] = s;
        idom[w] = bucket[s as usize];
        bucket[s as usize] = w as u32;
        // w is linked to its parent (anc[w]) from now on: linked nodes
        // are those numbered `last - 1` and above.
    }
    empty_bucket(
        0,
        &mut bucket,
        &mut idom,
        &mut anc,
        &semi,
        &mut label,
        &mut path,
    );
    drop((preds, off, label, bucket, anc));
    if let Some(r) = idom.first_mut() {
        *r = 0;
    }
    for w in 1..big_n {
        if idom[w] != semi[w] {
            idom[w] = idom[idom[w] as usize];
        }
    }
    Ok(Tree { num, idom })
}

/// Sets the (relative) dominator of every node whose semidominator is
/// `p`, once every node numbered above `p` is linked.
fn empty_bucket(
    p: u32,
    bucket: &mut [u32],
    idom: &mut [u32],
    anc: &mut [u32],
    semi: &[u32],
    label: &mut [u32],
    path: &mut Vec<u32>,
) {
    let mut v = std::mem::replace(&mut bucket[p as usize], NONE);
    while v != NONE {
        let next = idom[v as usize];
        let u = eval(v, p + 1, anc, semi, label, path);
        idom[v as usize] = if semi[u as usize] < semi[v as usize] {
            u
        } else {
            p
        };
        v = next;
    }
}

/// The node of least semidominator on the forest path from `v` up to (not
/// including) its tree's root; nodes numbered `last` and above are linked
/// to their `anc`. Compresses the path (iteratively).
#[inline]
fn eval(
    v: u32,
    last: u32,
    anc: &mut [u32],
    semi: &[u32],
    label: &mut [u32],
    path: &mut Vec<u32>,
) -> u32 {
    if anc[v as usize] < last {
        return label[v as usize];
    }
    path.clear();
    let mut x = v;
    loop {
        path.push(x);
        x = anc[x as usize];
        if anc[x as usize] < last {
            break;
        }
    }
    // x is the child of the tree's root on the path.
    let (mut p, mut p_label) = (x, label[x as usize]);
    while let Some(y) = path.pop() {
        anc[y as usize] = anc[p as usize];
        let y_label = label[y as usize];
        if semi[p_label as usize] < semi[y_label as usize] {
            label[y as usize] = p_label;
        } else {
            p_label = y_label;
        }
        p = y;
    }
    label[v as usize]
}

/// Immediate dominators of the graph over nodes `0..n` with successors
/// `succ`, from `root`: per node, its immediate dominator's id; `root`
/// is its own, a node `root` does not reach has [`NONE`].
pub fn immediate_dominators<'a, F>(n: usize, root: u32, succ: F) -> Result<Vec<u32>, DominatorError>
where
    F: Fn(u32) -> &'a [u32] + Sync,
{
    let t = lengauer_tarjan(n, root, succ)?;
    let mut vertex = vec![NONE; t.idom.len()];
    for (node, &p) in t.num.iter().enumerate() {
        if let Some(slot) = vertex.get_mut(p as usize) {
            *slot = node as u32;
        }
    }
    Ok(t.num
        .iter()
        .map(|&p| {
            t.idom
                .get(p as usize)
                .and_then(|&d| vertex.get(d as usize).copied())
                .unwrap_or(NONE)
        })
        .collect())
}

/// A heap object at the top level of the dominator tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopObject {
    /// Graph id.
    pub id: u32,
    /// Bytes and objects it dominates (itself included).
    pub bytes: u64,
    pub objects: u64,
}

/// What [`retention`] measured. The named roots' and the top-level
/// objects' retained sets partition the reachable heap:
/// `Σ root_bytes + top_object_bytes = reachable_bytes`, and
/// `reachable_bytes + unreached_bytes` is the heap in use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dominance {
    /// Per root (in the order given): bytes and objects it dominates —
    /// reachable from its targets and from no other root's.
    pub root_bytes: Vec<u64>,
    pub root_objects: Vec<u64>,
    /// The largest top-level heap objects (reachable from several roots,
    /// retained by none alone), largest first, at most the `keep` asked.
    pub objects: Vec<TopObject>,
    /// All top-level heap objects: how many, and what they retain.
    pub top_objects: u64,
    pub top_object_bytes: u64,
    /// Objects some root reaches.
    pub reachable_bytes: u64,
    pub reachable_objects: u64,
    /// Objects no root reaches (garbage the next GC would free).
    pub unreached_bytes: u64,
    pub unreached_objects: u64,
}

/// The dominator tree of `graph` under a super-root whose children are
/// one virtual node per root (pointing at `roots[i]`, graph ids), and the
/// retained sizes of its top level (see the module doc); keeps the `keep`
/// largest top-level objects. Root targets that are not graph ids are
/// ignored.
pub fn retention(
    graph: &ObjectGraph,
    roots: &[&[u32]],
    keep: usize,
) -> Result<Dominance, DominatorError> {
    retention_of(
        graph.len(),
        &graph.edge_slices(),
        graph.id_ranges(),
        roots,
        keep,
    )
}

/// A node's referrer while counting them: none yet ([`NONE`]) or
/// several (this).
const MANY: u32 = u32::MAX - 1;
/// Calls `f(u, w)` for every edge `u → w` of `graph`, in parallel over
/// blocks of consecutive ids (in id order within a block), calling
/// `pre(x)` on the target [`AHEAD`] edges later first (a prefetch).
fn for_each_edge<P, F>(graph: &[EdgeSlices<'_>], pre: P, f: F)
where
    P: Fn(u32) + Sync,
    F: Fn(u32, u32) + Sync,
{
    edge_blocks(graph).par_iter().for_each(|&(c, lo, hi)| {
        let (Some(&start), Some(&end)) = (c.offsets.get(lo), c.offsets.get(hi)) else {
            return;
        };
        let end = (end as usize).min(c.edges.len());
        let mut j = start as usize;
        for i in lo..hi {
            let u = c.first.wrapping_add(i as u32);
            let to = c.offsets.get(i + 1).map_or(end, |&b| (b as usize).min(end));
            while j < to {
                if let Some(&x) = c.edges.get(j + AHEAD).filter(|_| j + AHEAD < end) {
                    pre(x);
                }
                if let Some(&w) = c.edges.get(j) {
                    f(u, w);
                }
                j += 1;
            }
        }
    });
}

/// Calls `f(u, successors of u)` for every object of `graph`, in
/// parallel over blocks of consecutive ids (in id order within a block),
/// calling `pre(x)` on the object [`AHEAD`] ids later first (a prefetch).
fn for_each_node<P, F>(graph: &[EdgeSlices<'_>], pre: P, f: F)
where
    P: Fn(u32) + Sync,
    F: Fn(u32, &[u32]) + Sync,
{
    edge_blocks(graph).par_iter().for_each(|&(c, lo, hi)| {
        for i in lo..hi {
            if i + AHEAD < hi {
                pre(c.first.wrapping_add((i + AHEAD) as u32));
            }
            let (Some(&a), Some(&b)) = (c.offsets.get(i), c.offsets.get(i + 1)) else {
                continue;
            };
            let succ = c.edges.get(a as usize..b as usize).unwrap_or(&[]);
            f(c.first.wrapping_add(i as u32), succ);
        }
    });
}

/// Notes an edge `u → w` in `refs`: `w`'s one referrer so far, or
/// [`MANY`] from the second on (the order of the calls does not matter).
#[inline]
fn note_referrer(refs: &[AtomicU32], u: u32, w: u32) {
    let Some(a) = refs.get(w as usize) else {
        return;
    };
    let prev = a.load(Relaxed);
    if prev == MANY || (prev == NONE && a.compare_exchange(NONE, u, Relaxed, Relaxed).is_ok()) {
        return;
    }
    a.store(MANY, Relaxed);
}

/// The heads among the objects: one bit per object and, per 64 objects,
/// how many heads come before them. A head's reduced id is its rank (the
/// heads before it in id order); the roots' virtual nodes follow, then
/// the super-root.
struct HeadSet {
    bits: Vec<u64>,
    before: Vec<u32>,
    count: u32,
}

impl HeadSet {
    #[inline]
    fn contains(&self, w: u32) -> bool {
        crate::graph::bit_set(&self.bits, w)
    }

    /// The reduced id of head `w`.
    #[inline]
    fn rank(&self, w: u32) -> u32 {
        let i = w as usize / 64;
        match (self.bits.get(i), self.before.get(i)) {
            (Some(&b), Some(&r)) => r + (b & ((1u64 << (w % 64)) - 1)).count_ones(),
            _ => NONE,
        }
    }

    /// The heads, in id order (so in reduced id order).
    fn members(&self) -> impl Iterator<Item = u32> + '_ {
        crate::graph::set_bits(&self.bits)
    }
}

/// Every object's head (its reduced id) in place of its referrer: itself
/// when it has several referrers, else its one referrer's head; a root's
/// virtual node is a head. [`NONE`] for an object nothing reaches that
/// way: no referrer at all, below one without, or in a cycle of single
/// referrers.
fn heads(mut refs: Vec<u32>, n: usize) -> (Vec<u32>, HeadSet) {
    let bits: Vec<u64> = refs
        .chunks(64)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u64, |b, (j, &r)| b | ((r == MANY) as u64) << j)
        })
        .collect();
    let mut before = Vec::with_capacity(bits.len());
    let mut count = 0u32;
    for &b in &bits {
        before.push(count);
        count += b.count_ones();
    }
    let set = HeadSet {
        bits,
        before,
        count,
    };
    // Every other object follows its referrers up to a head, or to an
    // object already resolved; the objects on the way get the same head.
    // An object on the way is marked MANY until then: meeting one again is
    // a cycle of single referrers, unreachable.
    let mut done = vec![0u64; n.div_ceil(64)];
    let mut path: Vec<u32> = Vec::new();
    for v in 0..n as u32 {
        let bit = |x: u32| (x as usize / 64, 1u64 << (x % 64));
        let (w, m) = bit(v);
        if set.contains(v) {
            if let Some(r) = refs.get_mut(v as usize) {
                *r = set.rank(v);
            }
            continue;
        }
        if done.get(w).is_some_and(|d| d & m != 0) {
            continue;
        }
        path.clear();
        let mut x = v;
        let head = loop {
            if x as usize >= n {
                // A root's virtual node (only roots' ids are >= n).
                break count.saturating_add(x - n as u32);
            }
            if set.contains(x) {
                break set.rank(x);
            }
            let (w, m) = bit(x);
            let Some(d) = done.get_mut(w) else {
                break NONE;
            };
            if *d & m != 0 {
                let h = refs.get(x as usize).copied().unwrap_or(NONE);
                break if h == MANY { NONE } else { h };
            }
            *d |= m;
            path.push(x);
            let Some(r) = refs.get_mut(x as usize) else {
                break NONE;
            };
            x = std::mem::replace(r, MANY);
            if x == NONE {
                // No referrer at all: garbage, and so is what it alone
                // refers to.
                break NONE;
            }
        };
        for &y in &path {
            if let Some(r) = refs.get_mut(y as usize) {
                *r = head;
            }
        }
    }
    (refs, set)
}

/// [`retention`] over a graph of `n` objects given as CSR pieces, the
/// objects' sizes as runs `(first id, count, size)`.
///
/// Lengauer–Tarjan runs on a reduced graph. An object with exactly one
/// referrer (one edge into it, a root's included) has that referrer as
/// immediate dominator; following referrers up from it ends at a *head*
/// (an object with several, or a root's virtual node), which dominates
/// it, or at an object with none: unreachable, like all objects on the
/// way (their edges are left out). The reduced graph has the heads and the super-root as
/// nodes and an edge `head(u) → w` for every edge `u → w` into a head `w`.
/// A path from the super-root to a head passes, between two heads, only
/// through the single-referrer tree of the first of them, so the heads on
/// the paths of the full graph are the paths of the reduced one: a head
/// dominates another in one graph exactly when it does in the other. The
/// immediate dominator of a head `w` whose reduced one is `h` is `h` or an
/// object of `h`'s tree; the super-root's tree is itself alone (its
/// successors are roots, all heads). So the top level of the tree — the
/// super-root's children — is the heads whose reduced immediate dominator
/// is the super-root, and every other object sits below the top-level
/// ancestor of its head in the reduced tree: the retained sizes of the
/// top level are the reduced tree's subtree sums of its heads' trees.
fn retention_of(
    n: usize,
    graph: &[EdgeSlices<'_>],
    ranges: impl Iterator<Item = (u32, u32, u64)>,
    roots: &[&[u32]],
    keep: usize,
) -> Result<Dominance, DominatorError> {
    let k = roots.len();
    let too_large = |edges: u64| DominatorError::TooLarge {
        nodes: (n as u64).saturating_add(k as u64 + 1),
        edges,
    };
    if n.checked_add(k)
        .and_then(|t| t.checked_add(1))
        .is_none_or(|t| t >= MANY as usize)
    {
        return Err(too_large(0));
    }
    let root_targets = |i: usize| {
        roots
            .get(i)
            .copied()
            .unwrap_or(&[])
            .iter()
            .copied()
            .filter(|&w| (w as usize) < n)
    };
    // 1. Each object's one referrer, or MANY. Edges out of objects no root
    // reaches count too: they only make more heads, which is allowed (a
    // head needs no property but heading its tree).
    let timing = Phase::start("maps: dominator tree: referrers");
    let refs: Vec<AtomicU32> = std::iter::repeat_with(|| AtomicU32::new(NONE))
        .take(n)
        .collect();
    for_each_edge(
        graph,
        |x| {
            if let Some(a) = refs.get(x as usize) {
                prefetch(a);
            }
        },
        |u, w| note_referrer(&refs, u, w),
    );
    for i in 0..k {
        for w in root_targets(i) {
            note_referrer(&refs, (n + i) as u32, w);
        }
    }
    let refs: Vec<u32> = refs.into_iter().map(AtomicU32::into_inner).collect();
    drop(timing);
    // 2. Heads, and the bytes and objects of each head's tree.
    let timing = Phase::start("maps: dominator tree: heads");
    let (head, set) = heads(refs, n);
    let heads = set.count;
    let h = heads as usize + k + 1;
    let sup = (heads as usize + k) as u32;
    let mut head_bytes: Vec<u64> = vec![0; h];
    let mut head_objects: Vec<u32> = vec![0; h];
    let mut lost = (0u64, 0u64);
    for (first, count, size) in ranges {
        let ids = first as usize..(first as usize).saturating_add(count as usize);
        for &r in head.get(ids).unwrap_or(&[]) {
            match (
                head_bytes.get_mut(r as usize),
                head_objects.get_mut(r as usize),
            ) {
                (Some(b), Some(o)) => {
                    *b += size;
                    *o += 1;
                }
                _ => {
                    lost.0 += size;
                    lost.1 += 1;
                }
            }
        }
    }
    drop(timing);
    // 3. The reduced graph in CSR form: per object, its edges into heads
    // counted, then placed in one run at its head's cursor (the order
    // within a list does not change the dominators).
    let timing = Phase::start("maps: dominator tree: reduced graph");
    let head_of = |u: u32| head.get(u as usize).copied().filter(|&r| r != NONE);
    let into_heads = |succ: &[u32]| succ.iter().filter(|&&w| set.contains(w)).count() as u32;
    let cursor: Vec<AtomicU32> = std::iter::repeat_with(|| AtomicU32::new(0))
        .take(h + 1)
        .collect();
    // The cursor of a later object's head is loaded ahead.
    let pre = |cursor: &[AtomicU32], off: usize, a: u32| {
        if let Some(c) = head_of(a).and_then(|r| cursor.get(r as usize + off)) {
            prefetch(c);
        }
    };
    for_each_node(
        graph,
        |a| pre(&cursor, 1, a),
        |u, succ| {
            // Objects no root reaches (no head) have no edges here.
            let Some(at) = head_of(u).and_then(|r| cursor.get(r as usize + 1)) else {
                return;
            };
            let c = into_heads(succ);
            if c > 0 {
                at.fetch_add(c, Relaxed);
            }
        },
    );
    let mut cursor: Vec<u32> = cursor.into_iter().map(AtomicU32::into_inner).collect();
    for i in 0..k {
        let c = root_targets(i).filter(|&w| set.contains(w)).count() as u32;
        if let Some(at) = cursor.get_mut(heads as usize + i + 1) {
            *at += c;
        }
    }
    if let Some(at) = cursor.get_mut(sup as usize + 1) {
        *at = k as u32;
    }
    // Offsets: the counts summed (in u64: the total must fit u32).
    let mut total: u64 = 0;
    for q in 1..=h {
        total = total.saturating_add(cursor[q] as u64);
        if total >= NONE as u64 {
            return Err(too_large(total));
        }
        cursor[q] += cursor[q - 1];
    }
    let total = cursor[h] as usize;
    let cursor: Vec<AtomicU32> = cursor.into_iter().map(AtomicU32::new).collect();
    let edges: Vec<AtomicU32> = std::iter::repeat_with(|| AtomicU32::new(0))
        .take(total)
        .collect();
    let place = |r: u32, c: u32, targets: &mut dyn Iterator<Item = u32>| {
        let Some(at) = cursor.get(r as usize) else {
            return;
        };
        let at = at.fetch_add(c, Relaxed) as usize;
        for (slot, t) in edges
            .get(at..at + c as usize)
            .unwrap_or(&[])
            .iter()
            .zip(targets)
        {
            slot.store(t, Relaxed);
        }
    };
    for_each_node(
        graph,
        |a| pre(&cursor, 0, a),
        |u, succ| {
            let Some(r) = head_of(u) else {
                return;
            };
            let c = into_heads(succ);
            if c > 0 {
                let mut targets = succ
                    .iter()
                    .filter(|&&w| set.contains(w))
                    .map(|&w| set.rank(w));
                place(r, c, &mut targets);
            }
        },
    );
    for i in 0..k {
        let r = (heads as usize + i) as u32;
        let c = root_targets(i).filter(|&w| set.contains(w)).count() as u32;
        let mut targets = root_targets(i)
            .filter(|&w| set.contains(w))
            .map(|w| set.rank(w));
        place(r, c, &mut targets);
        place(sup, 1, &mut std::iter::once(r));
    }
    let mut offsets: Vec<u32> = cursor.into_iter().map(AtomicU32::into_inner).collect();
    // Each cursor now holds its list's end: shift them back to starts.
    for q in (1..=h).rev() {
        offsets[q] = offsets[q - 1];
    }
    offsets[0] = 0;
    let edges: Vec<u32> = edges.into_iter().map(AtomicU32::into_inner).collect();
    drop((head, timing));
    // 3. The reduced graph's dominator tree.
    let tree = lengauer_tarjan(h, sup, |r| {
        let r = r as usize;
        match (offsets.get(r), offsets.get(r + 1)) {
            (Some(&a), Some(&b)) => edges.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    })?;
    drop((offsets, edges));
    // 4. Subtree sums in preorder numbers (children after their
    // dominator: summed from the end).
    let _timing = Phase::start("maps: dominator tree: retained sums");
    let big_n = tree.idom.len();
    let mut bytes: Vec<u64> = vec![0; big_n];
    let mut objects: Vec<u32> = vec![0; big_n];
    let mut out = Dominance {
        unreached_bytes: lost.0,
        unreached_objects: lost.1,
        ..Dominance::default()
    };
    for (r, &p) in tree.num.iter().enumerate() {
        let (b, o) = (head_bytes[r], head_objects[r]);
        match (bytes.get_mut(p as usize), objects.get_mut(p as usize)) {
            (Some(x), Some(y)) => {
                *x += b;
                *y += o;
            }
            _ => {
                out.unreached_bytes += b;
                out.unreached_objects += o as u64;
            }
        }
    }
    drop((head_bytes, head_objects));
    for w in (1..big_n).rev() {
        let d = tree.idom[w] as usize;
        let (b, o) = (bytes[w], objects[w]);
        bytes[d] += b;
        objects[d] += o;
    }
    out.reachable_bytes = bytes.first().copied().unwrap_or(0);
    out.reachable_objects = objects.first().copied().unwrap_or(0) as u64;
    let at = |r: usize| -> Option<usize> {
        let p = *tree.num.get(r)? as usize;
        (p < big_n).then_some(p)
    };
    for i in 0..k {
        let p = at(heads as usize + i);
        out.root_bytes.push(p.map_or(0, |p| bytes[p]));
        out.root_objects.push(p.map_or(0, |p| objects[p] as u64));
    }
    let mut top: Vec<TopObject> = Vec::new();
    for (r, id) in set.members().enumerate() {
        let Some(p) = at(r) else { continue };
        if p != 0 && tree.idom.get(p) == Some(&0) {
            let t = TopObject {
                id,
                bytes: bytes[p],
                objects: objects[p] as u64,
            };
            out.top_objects += 1;
            out.top_object_bytes += t.bytes;
            top.push(t);
        }
    }
    let order = |a: &TopObject, b: &TopObject| b.bytes.cmp(&a.bytes).then(a.id.cmp(&b.id));
    if top.len() > keep && keep > 0 {
        top.select_nth_unstable_by(keep - 1, order);
    }
    top.truncate(keep);
    top.sort_unstable_by(order);
    out.objects = top;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testgraph::{pieces, slices};

    /// Adjacency lists → a successor function.
    fn idoms(adj: &[Vec<u32>], root: u32) -> Vec<u32> {
        immediate_dominators(adj.len(), root, |v| adj[v as usize].as_slice()).unwrap()
    }

    #[test]
    fn diamond() {
        // 0 → 1, 2 → 3 → 4
        let adj = vec![vec![1, 2], vec![3], vec![3], vec![4], vec![]];
        assert_eq!(idoms(&adj, 0), vec![0, 0, 0, 0, 3]);
    }

    #[test]
    fn cycle_self_loop_and_unreachable() {
        // 0 → 1 → 2 → 3 → 1 (cycle), 2 → 2 (self-loop), 3 → 4; 5 → 1
        // unreachable from 0, and 6 alone.
        let adj = vec![
            vec![1],
            vec![2],
            vec![2, 3],
            vec![1, 4],
            vec![],
            vec![1],
            vec![],
        ];
        assert_eq!(idoms(&adj, 0), vec![0, 0, 1, 2, 3, NONE, NONE]);
    }

    #[test]
    fn classic_lengauer_tarjan_example() {
        // The flow graph of Lengauer & Tarjan's paper (Fig. 1), R=0, A=1,
        // B=2, C=3, D=4, E=5, F=6, G=7, H=8, I=9, J=10, K=11, L=12.
        let adj = vec![
            vec![1, 2, 3], // R → A B C
            vec![4],       // A → D
            vec![1, 4, 5], // B → A D E
            vec![6, 7],    // C → F G
            vec![12],      // D → L
            vec![8],       // E → H
            vec![9],       // F → I
            vec![9, 10],   // G → I J
            vec![5, 11],   // H → E K
            vec![11],      // I → K
            vec![9],       // J → I
            vec![9, 0],    // K → I R
            vec![8],       // L → H
        ];
        // idom: A,B,C,D,E,H,I,K = R; F,G = C; J = G; L = D.
        assert_eq!(idoms(&adj, 0), vec![0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 7, 0, 4]);
    }

    #[test]
    fn long_chain_needs_no_recursion() {
        let n = 1_000_000u32;
        let adj: Vec<Vec<u32>> = (0..n)
            .map(|i| if i + 1 < n { vec![i + 1] } else { vec![0] })
            .collect();
        let d = idoms(&adj, 0);
        assert_eq!(d[0], 0);
        assert!((1..n as usize).all(|i| d[i] == i as u32 - 1));
    }

    /// Naive dominators by definition: `d` dominates `v` iff `v` is not
    /// reachable from the root once `d` is removed; the immediate one is
    /// the strict dominator that every other strict dominator dominates.
    fn naive(adj: &[Vec<u32>], root: u32) -> Vec<u32> {
        let n = adj.len();
        let reach = |removed: Option<usize>| {
            let mut seen = vec![false; n];
            if removed == Some(root as usize) {
                return seen;
            }
            let mut st = vec![root as usize];
            seen[root as usize] = true;
            while let Some(x) = st.pop() {
                for &y in &adj[x] {
                    let y = y as usize;
                    if y < n && !seen[y] && Some(y) != removed {
                        seen[y] = true;
                        st.push(y);
                    }
                }
            }
            seen
        };
        let all = reach(None);
        // dom[d][v]: d dominates v.
        let dom: Vec<Vec<bool>> = (0..n)
            .map(|d| {
                let without = reach(Some(d));
                (0..n).map(|v| all[v] && (v == d || !without[v])).collect()
            })
            .collect();
        (0..n)
            .map(|v| {
                if !all[v] {
                    return NONE;
                }
                if v == root as usize {
                    return root;
                }
                let strict: Vec<usize> = (0..n).filter(|&d| d != v && dom[d][v]).collect();
                let idom = strict
                    .iter()
                    .copied()
                    .find(|&d| strict.iter().all(|&e| dom[e][d]))
                    .expect("an immediate dominator");
                idom as u32
            })
            .collect()
    }

    #[test]
    fn random_graphs_match_the_definition() {
        let mut rnd = crate::testrng::below(0x9e37_79b9_7f4a_7c15);
        for round in 0..400 {
            let n = 1 + rnd(40) as usize;
            let density = 1 + rnd(4);
            let adj: Vec<Vec<u32>> = (0..n)
                .map(|_| {
                    let deg = rnd(density * 2 + 1);
                    (0..deg).map(|_| rnd(n as u64) as u32).collect()
                })
                .collect();
            let root = rnd(n as u64) as u32;
            assert_eq!(
                idoms(&adj, root),
                naive(&adj, root),
                "round {round}: {adj:?} root {root}"
            );
        }
    }

    /// [`Dominance`] by its definition, from the full graph's immediate
    /// dominators (`idoms_of`: the naive definition or the full
    /// Lengauer–Tarjan): every reachable object counted at its top-level
    /// ancestor.
    fn reference(
        adj: &[Vec<u32>],
        sizes: &[u64],
        roots: &[Vec<u32>],
        keep: usize,
        idoms_of: impl Fn(&[Vec<u32>], u32) -> Vec<u32>,
    ) -> Dominance {
        let (n, k) = (adj.len(), roots.len());
        let mut full = adj.to_vec();
        full.extend(roots.iter().cloned());
        full.push((n as u32..(n + k) as u32).collect());
        let sup = (n + k) as u32;
        let idom = idoms_of(&full, sup);
        let mut acc = vec![(0u64, 0u64); n + k];
        let mut out = Dominance::default();
        for v in 0..n {
            if idom[v] == NONE {
                out.unreached_bytes += sizes[v];
                out.unreached_objects += 1;
                continue;
            }
            out.reachable_bytes += sizes[v];
            out.reachable_objects += 1;
            let mut t = v;
            while idom[t] != sup {
                t = idom[t] as usize;
            }
            acc[t].0 += sizes[v];
            acc[t].1 += 1;
        }
        for i in 0..k {
            out.root_bytes.push(acc[n + i].0);
            out.root_objects.push(acc[n + i].1);
        }
        let mut top: Vec<TopObject> = (0..n)
            .filter(|&v| idom[v] == sup)
            .map(|v| TopObject {
                id: v as u32,
                bytes: acc[v].0,
                objects: acc[v].1,
            })
            .collect();
        out.top_objects = top.len() as u64;
        out.top_object_bytes = top.iter().map(|t| t.bytes).sum();
        top.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.id.cmp(&b.id)));
        top.truncate(keep);
        out.objects = top;
        out
    }

    /// A test graph: successor lists, object sizes, root targets, where
    /// the CSR pieces are cut and the gap of ids no piece covers.
    type Case = (
        Vec<Vec<u32>>,
        Vec<u64>,
        Vec<Vec<u32>>,
        Vec<usize>,
        std::ops::Range<usize>,
    );

    /// Random object graphs: a mix of single-referrer trees (most heap
    /// objects), shared objects, cycles (of single referrers too),
    /// self-loops, unreachable parts, several roots sharing targets
    /// (duplicates included) or pointing at nothing, edges cut into CSR
    /// pieces with a gap of ids without edges.
    fn random_case(rnd: &mut impl FnMut(u64) -> u64, max_n: u64) -> Case {
        let n = 1 + rnd(max_n) as usize;
        let mut adj: Vec<Vec<u32>> = vec![Vec::new(); n];
        // Single-referrer trees: each node after the first few gets one
        // parent among the earlier ones (or a later one: cycles).
        for v in 1..n {
            if rnd(4) != 0 {
                let p = rnd(n as u64) as usize;
                adj[p].push(v as u32);
            }
        }
        // Extra edges: shared objects, back edges, self-loops.
        let extra = rnd(n as u64 / 2 + 2);
        for _ in 0..extra {
            let a = rnd(n as u64) as usize;
            let b = if rnd(8) == 0 {
                a
            } else {
                rnd(n as u64) as usize
            };
            adj[a].push(b as u32);
        }
        // The graph's lists are sorted and unique.
        for l in adj.iter_mut() {
            l.sort_unstable();
            l.dedup();
        }
        let gap = if rnd(3) == 0 {
            let a = rnd(n as u64) as usize;
            let b = (a + rnd(4) as usize).min(n);
            for l in &mut adj[a..b] {
                l.clear();
            }
            a..b
        } else {
            0..0
        };
        let sizes: Vec<u64> = (0..n).map(|_| 8 << rnd(6)).collect();
        let k = rnd(5) as usize;
        let roots: Vec<Vec<u32>> = (0..k)
            .map(|_| {
                let m = rnd(4);
                (0..m).map(|_| rnd(n as u64) as u32).collect()
            })
            .collect();
        let cuts: Vec<usize> = (0..rnd(3)).map(|_| rnd(n as u64) as usize).collect();
        let mut cuts = cuts;
        cuts.sort_unstable();
        (adj, sizes, roots, cuts, gap)
    }

    fn reduced(
        adj: &[Vec<u32>],
        sizes: &[u64],
        roots: &[Vec<u32>],
        cuts: &[usize],
        gap: std::ops::Range<usize>,
        keep: usize,
    ) -> Dominance {
        let owned = pieces(adj, cuts, gap);
        let slices = slices(&owned);
        // Runs of equal sizes, as a heap's spans give them.
        let mut ranges: Vec<(u32, u32, u64)> = Vec::new();
        for (v, &s) in sizes.iter().enumerate() {
            match ranges.last_mut() {
                Some((_, count, size)) if *size == s => *count += 1,
                _ => ranges.push((v as u32, 1, s)),
            }
        }
        let root_lists: Vec<&[u32]> = roots.iter().map(Vec::as_slice).collect();
        retention_of(adj.len(), &slices, ranges.into_iter(), &root_lists, keep).unwrap()
    }

    #[test]
    fn reduced_retention_matches_the_definition() {
        let mut rnd = crate::testrng::below(0x2545_f491_4f6c_dd1d);
        for round in 0..1500 {
            let (adj, sizes, roots, cuts, gap) = random_case(&mut rnd, 30);
            let keep = rnd(6) as usize;
            let want = reference(&adj, &sizes, &roots, keep, naive);
            let got = reduced(&adj, &sizes, &roots, &cuts, gap.clone(), keep);
            assert_eq!(
                got, want,
                "round {round}: {adj:?} roots {roots:?} cuts {cuts:?} gap {gap:?}"
            );
        }
    }

    #[test]
    fn reduced_retention_matches_full_lengauer_tarjan() {
        let mut rnd = crate::testrng::below(0x9e37_79b9_7f4a_7c15);
        for round in 0..200 {
            let (adj, sizes, roots, cuts, gap) = random_case(&mut rnd, 3000);
            let keep = rnd(50) as usize;
            let want = reference(&adj, &sizes, &roots, keep, idoms);
            let got = reduced(&adj, &sizes, &roots, &cuts, gap, keep);
            assert_eq!(got, want, "round {round}");
        }
    }

    #[test]
    fn reduced_retention_of_chains_and_cycles() {
        // Root 0 → 0 → 1 → 2 (a chain of single referrers); root 1 → 3 ⇄ 4
        // and 4 → 2: 2 has two referrers, one below each root, so it is
        // at the top level; 5 ⇄ 6 is a cycle of single referrers nothing
        // reaches; 7 is alone; 8's one referrer is itself.
        let adj = vec![
            vec![1],
            vec![2],
            vec![],
            vec![4],
            vec![3, 2],
            vec![6],
            vec![5],
            vec![],
            vec![8],
        ];
        let sizes = vec![16, 32, 64, 8, 8, 1000, 1000, 500, 7];
        let roots = vec![vec![0], vec![3]];
        let got = reduced(&adj, &sizes, &roots, &[4], 0..0, 10);
        assert_eq!(got, reference(&adj, &sizes, &roots, 10, naive));
        assert_eq!(got.root_bytes, vec![48, 16]);
        assert_eq!(got.root_objects, vec![2, 2]);
        assert_eq!(
            got.objects,
            vec![TopObject {
                id: 2,
                bytes: 64,
                objects: 1
            }]
        );
        assert_eq!((got.unreached_bytes, got.unreached_objects), (2507, 4));
        assert_eq!((got.reachable_bytes, got.reachable_objects), (128, 5));
    }
}
