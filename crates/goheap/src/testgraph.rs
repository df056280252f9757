//! The tests' graphs in the graph's own CSR form, as the build leaves
//! them: pieces of consecutive ids, with ids no piece covers.

use crate::graph::EdgeSlices;

/// CSR pieces of `adj`, cut at `cuts` (ascending ids); the ids in
/// `gap` (a range) belong to no piece: their successors are left out.
pub(crate) fn pieces(
    adj: &[Vec<u32>],
    cuts: &[usize],
    gap: std::ops::Range<usize>,
) -> Vec<(u32, Vec<u32>, Vec<u32>)> {
    let mut bounds = vec![0];
    bounds.extend(cuts.iter().copied().filter(|&c| c > 0 && c < adj.len()));
    bounds.push(adj.len());
    bounds.dedup();
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let (a, b) = (w[0], w[1]);
        // Split off the gap.
        for (lo, hi) in [(a, b.min(gap.start).max(a)), (gap.end.max(a), b)] {
            if lo >= hi {
                continue;
            }
            let mut offsets = vec![0u32];
            let mut edges = Vec::new();
            for list in &adj[lo..hi] {
                edges.extend_from_slice(list);
                offsets.push(edges.len() as u32);
            }
            out.push((lo as u32, offsets, edges));
        }
    }
    out
}

/// The pieces of [`pieces`] borrowed as the graph lends them.
pub(crate) fn slices(owned: &[(u32, Vec<u32>, Vec<u32>)]) -> Vec<EdgeSlices<'_>> {
    owned
        .iter()
        .map(|(first, offsets, edges)| EdgeSlices {
            first: *first,
            offsets,
            edges,
        })
        .collect()
}
