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
//! Algorithm: Lengauer–Tarjan with path compression ("simple" version,
//! O(m log n)) over a depth-first numbering, everything iterative (no
//! recursion: graphs have millions of nodes), in `u32` arrays indexed by
//! preorder number. Buckets are processed once, when every node numbered
//! above their semidominator is linked, and chained through the `idom`
//! array itself. The walk looks each node's successor list up once (its
//! stack holds what is left of it) and counts the in-degrees; the
//! predecessor lists are then placed in one sequential pass over the
//! nodes in id order (no atomics).
//!
//! Memory, for n graph nodes (objects, plus one per root and the
//! super-root), N of them reachable, M edges between those and a walk
//! of depth D: the node → preorder map and the in-degree counts (8 n
//! bytes), parents (4 N) and the walk's stack (16 D); the counts cut to
//! N list offsets, the predecessor lists (4 M); `semi`, `label`, `idom`
//! and bucket heads (16 N), the parents reused as the forest's
//! ancestors: peak ≈ max(8 n + 20 N, 4 n + 24 N + 4 M) bytes; then 12 N
//! bytes of retained sizes.
//!
//! Owns: the dominator algorithm and the retained sizes it gives.
//! Must not touch: what the roots are or how they are named
//! ([`crate::roots`]), naming objects or paths (mapscope-gomaps' `unrooted`),
//! the graph's construction ([`crate::graph`]).

use mapscope_goruntime::timing::Phase;

use crate::graph::{prefetch, ObjectGraph};

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
/// largest top-level objects.
pub fn retention(
    graph: &ObjectGraph,
    roots: &[&[u32]],
    keep: usize,
) -> Result<Dominance, DominatorError> {
    let n = graph.len();
    let k = roots.len();
    let too_large = DominatorError::TooLarge {
        nodes: (n + k + 1) as u64,
        edges: 0,
    };
    let total = n
        .checked_add(k)
        .and_then(|t| t.checked_add(1))
        .filter(|&t| t < NONE as usize)
        .ok_or(too_large)?;
    let sup = (n + k) as u32;
    let root_nodes: Vec<u32> = (n as u32..sup).collect();
    let succ = |v: u32| -> &[u32] {
        let v = v as usize;
        if v < n {
            graph.succ(v as u32)
        } else if v < n + k {
            roots.get(v - n).copied().unwrap_or(&[])
        } else {
            &root_nodes
        }
    };
    let tree = lengauer_tarjan(total, sup, succ)?;
    let big_n = tree.idom.len();
    let mut bytes: Vec<u64> = vec![0; big_n];
    let mut objects: Vec<u32> = vec![0; big_n];
    let mut out = Dominance::default();
    for (first, count, size) in graph.id_ranges() {
        let ids = first as usize..(first as usize).saturating_add(count as usize);
        for &p in tree.num.get(ids).unwrap_or(&[]) {
            match (bytes.get_mut(p as usize), objects.get_mut(p as usize)) {
                (Some(b), Some(o)) => {
                    *b += size;
                    *o += 1;
                }
                _ => {
                    out.unreached_bytes += size;
                    out.unreached_objects += 1;
                }
            }
        }
    }
    // Children after their dominator in preorder: sum from the end.
    for w in (1..big_n).rev() {
        let d = tree.idom[w] as usize;
        let (b, o) = (bytes[w], objects[w]);
        bytes[d] += b;
        objects[d] += o;
    }
    out.reachable_bytes = bytes.first().copied().unwrap_or(0);
    out.reachable_objects = objects.first().copied().unwrap_or(0) as u64;
    let at = |node: usize| -> Option<usize> {
        let p = *tree.num.get(node)? as usize;
        (p < big_n).then_some(p)
    };
    for i in 0..k {
        let p = at(n + i);
        out.root_bytes.push(p.map_or(0, |p| bytes[p]));
        out.root_objects.push(p.map_or(0, |p| objects[p] as u64));
    }
    let mut top: Vec<TopObject> = Vec::new();
    for (id, &p) in tree.num.iter().take(n).enumerate() {
        if p != NONE && tree.idom.get(p as usize) == Some(&0) {
            let t = TopObject {
                id: id as u32,
                bytes: bytes[p as usize],
                objects: objects[p as usize] as u64,
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
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
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
}
