//! Treemaps: a neutral tree of labelled byte counts ([`Treemap`], [`Node`])
//! and its squarified layout ([`layout`]) — the numbers behind the HTML
//! report's picture, computed here so they are deterministic and testable.
//!
//! Owns: the tree model a command builds from its report, and the geometry
//! (every rectangle's area is its node's bytes times one scale for the
//! whole picture; a parent's bytes its children do not cover stay empty
//! space inside the parent).
//!
//! Must not touch: what the bytes mean or where they come from (the command
//! builds the tree from its report), drawing (`html.rs`).

/// A picture of bytes: a titled tree whose root is the whole.
#[derive(Clone, Debug)]
pub struct Treemap {
    pub title: String,
    /// One line under the picture saying what it shows.
    pub caption: String,
    pub root: Node,
}

/// What a node is, for its colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// The whole picture.
    Whole,
    /// A root retaining objects (a global, a goroutine, a finalizer).
    Retainer,
    /// One map.
    Map,
    /// A family of maps (drawn as one rectangle; its members in their own
    /// picture, expandable).
    Family,
    /// A member of a family.
    Member,
    /// Bytes no single named thing holds (shared, unreachable, the rest).
    Rest,
}

/// One rectangle of the treemap. `children`' bytes should sum to at most
/// `bytes`; the layout scales down children that sum to more (and then
/// their areas are no longer proportional to the picture's scale).
#[derive(Clone, Debug)]
pub struct Node {
    pub label: String,
    /// A second line for the tooltip (type, counts).
    pub detail: String,
    pub bytes: u64,
    pub kind: NodeKind,
    pub children: Vec<Node>,
}

impl Node {
    pub fn new(label: impl Into<String>, bytes: u64, kind: NodeKind) -> Node {
        Node {
            label: label.into(),
            detail: String::new(),
            bytes,
            kind,
            children: Vec::new(),
        }
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Node {
        self.detail = detail.into();
        self
    }
    /// The sum of the children's bytes.
    pub fn children_bytes(&self) -> u64 {
        self.children
            .iter()
            .map(|c| c.bytes)
            .fold(0u64, u64::saturating_add)
    }
}

/// An axis-aligned rectangle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub fn area(&self) -> f64 {
        self.w * self.h
    }
}

/// One placed node: its rectangle, its depth (0: the root) and, when its
/// children are laid out and leave some of its bytes uncovered, the
/// rectangle of that rest (where the node's own label can go).
#[derive(Clone, Debug)]
pub struct Tile<'a> {
    pub node: &'a Node,
    pub rect: Rect,
    pub depth: usize,
    pub rest: Option<Rect>,
}

/// Deepest level laid out (trees are built from reports; this only bounds
/// the walk).
pub const MAX_DEPTH: usize = 16;

/// Lays `root` out in `bounds`: the root fills it, each node's children
/// are squarified inside their parent's rectangle, largest first, together
/// with the parent's uncovered bytes (left empty). Tiles come parent before
/// child (draw order); nodes of zero bytes get no tile; `descend` says
/// whether a node's children are laid out (a collapsed family: no).
pub fn layout<'a>(root: &'a Node, bounds: Rect, descend: &dyn Fn(&Node) -> bool) -> Vec<Tile<'a>> {
    let mut tiles = Vec::new();
    if root.bytes == 0 {
        return tiles;
    }
    let mut stack = vec![Tile {
        node: root,
        rect: bounds,
        depth: 0,
        rest: None,
    }];
    while let Some(mut tile) = stack.pop() {
        let node = tile.node;
        let (rect, depth) = (tile.rect, tile.depth);
        if node.children.is_empty() || depth >= MAX_DEPTH || !descend(node) {
            tiles.push(tile);
            continue;
        }
        // The children plus the parent's uncovered remainder (index None).
        let covered = node.children_bytes();
        let total = covered.max(node.bytes);
        let mut items: Vec<(Option<usize>, u64)> = node
            .children
            .iter()
            .enumerate()
            .filter(|(_, c)| c.bytes > 0)
            .map(|(i, c)| (Some(i), c.bytes))
            .collect();
        if total > covered {
            items.push((None, total - covered));
        }
        // Largest first; ties in tree order (deterministic).
        items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let scale = if total > 0 {
            rect.area() / total as f64
        } else {
            0.0
        };
        let areas: Vec<f64> = items.iter().map(|&(_, b)| b as f64 * scale).collect();
        let rects = squarify(&areas, rect);
        let mut placed: Vec<Tile<'a>> = Vec::new();
        for (&(idx, _), r) in items.iter().zip(rects) {
            match idx.and_then(|i| node.children.get(i)) {
                Some(child) => placed.push(Tile {
                    node: child,
                    rect: r,
                    depth: depth + 1,
                    rest: None,
                }),
                None => tile.rest = Some(r),
            }
        }
        tiles.push(tile);
        // Pop order = largest first, each subtree before the next sibling.
        stack.extend(placed.into_iter().rev());
    }
    tiles
}

/// Squarified treemap (Bruls, Huizing, van Wijk 2000): places `areas`
/// (sorted largest first, summing to `bounds`' area) in `bounds`, row by
/// row along the shorter side, adding to a row while that does not worsen
/// its worst aspect ratio. Returns one rectangle per area, in order.
pub fn squarify(areas: &[f64], bounds: Rect) -> Vec<Rect> {
    let mut out = Vec::with_capacity(areas.len());
    let mut free = bounds;
    let mut i = 0;
    while i < areas.len() {
        let short = free.w.min(free.h);
        if short.is_nan() || short <= 0.0 {
            // No room left (rounding): the rest are empty at the corner.
            out.extend(areas.iter().skip(i).map(|_| Rect {
                x: free.x,
                y: free.y,
                w: 0.0,
                h: 0.0,
            }));
            break;
        }
        let mut end = i + 1;
        let mut best = worst(areas.get(i..end).unwrap_or(&[]), short);
        while end < areas.len() {
            let w = worst(areas.get(i..end + 1).unwrap_or(&[]), short);
            if w > best {
                break;
            }
            best = w;
            end += 1;
        }
        let row = areas.get(i..end).unwrap_or(&[]);
        let sum: f64 = row.iter().sum();
        if free.w >= free.h {
            // A column at the left, as tall as the free rectangle.
            let cw = if free.h > 0.0 { sum / free.h } else { 0.0 };
            let mut y = free.y;
            for a in row {
                let h = if cw > 0.0 { a / cw } else { 0.0 };
                out.push(Rect {
                    x: free.x,
                    y,
                    w: cw,
                    h,
                });
                y += h;
            }
            free.x += cw;
            free.w = (free.w - cw).max(0.0);
        } else {
            // A row at the top, as wide as the free rectangle.
            let rh = if free.w > 0.0 { sum / free.w } else { 0.0 };
            let mut x = free.x;
            for a in row {
                let w = if rh > 0.0 { a / rh } else { 0.0 };
                out.push(Rect {
                    x,
                    y: free.y,
                    w,
                    h: rh,
                });
                x += w;
            }
            free.y += rh;
            free.h = (free.h - rh).max(0.0);
        }
        i = end;
    }
    out
}

/// The worst aspect ratio of a row of `areas` laid along a side `short`.
fn worst(areas: &[f64], short: f64) -> f64 {
    let sum: f64 = areas.iter().sum();
    let max = areas.iter().cloned().fold(0.0, f64::max);
    let min = areas.iter().cloned().fold(f64::INFINITY, f64::min);
    if sum <= 0.0 || min <= 0.0 {
        return f64::INFINITY;
    }
    let s2 = short * short;
    let sum2 = sum * sum;
    (s2 * max / sum2).max(sum2 / (s2 * min))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Node {
        let mut root = Node::new("heap", 1000, NodeKind::Whole);
        let mut a = Node::new("a", 500, NodeKind::Retainer);
        a.children.push(Node::new("a.m", 300, NodeKind::Map));
        a.children.push(Node::new("a.n", 100, NodeKind::Map));
        root.children.push(a);
        root.children.push(Node::new("b", 250, NodeKind::Retainer));
        root.children.push(Node::new("c", 120, NodeKind::Retainer));
        root.children.push(Node::new("d", 7, NodeKind::Retainer));
        root.children.push(Node::new("zero", 0, NodeKind::Retainer));
        root
    }

    const BOUNDS: Rect = Rect {
        x: 0.0,
        y: 0.0,
        w: 1200.0,
        h: 700.0,
    };

    #[test]
    fn every_area_is_its_bytes_times_one_scale() {
        let root = tree();
        let tiles = layout(&root, BOUNDS, &|_| true);
        let scale = BOUNDS.area() / 1000.0;
        assert_eq!(tiles.len(), 7, "zero-byte nodes get no tile");
        for t in &tiles {
            let want = t.node.bytes as f64 * scale;
            assert!(
                (t.rect.area() - want).abs() < 1e-6 * BOUNDS.area(),
                "{}: area {} want {want}",
                t.node.label,
                t.rect.area()
            );
        }
    }

    #[test]
    fn children_lie_inside_their_parent_and_do_not_overlap() {
        let root = tree();
        let tiles = layout(&root, BOUNDS, &|_| true);
        let inside = |c: &Rect, p: &Rect| {
            let e = 1e-9;
            c.x >= p.x - e
                && c.y >= p.y - e
                && c.x + c.w <= p.x + p.w + 1e-6
                && c.y + c.h <= p.y + p.h + 1e-6
        };
        let a = tiles.iter().find(|t| t.node.label == "a").unwrap();
        for t in tiles.iter().filter(|t| t.node.label.starts_with("a.")) {
            assert!(inside(&t.rect, &a.rect), "{t:?} outside {a:?}");
            assert_eq!(t.depth, 2);
        }
        let depth1: Vec<_> = tiles.iter().filter(|t| t.depth == 1).collect();
        for (i, p) in depth1.iter().enumerate() {
            assert!(inside(&p.rect, &BOUNDS));
            for q in depth1.iter().skip(i + 1) {
                let ox = (p.rect.x + p.rect.w).min(q.rect.x + q.rect.w) - p.rect.x.max(q.rect.x);
                let oy = (p.rect.y + p.rect.h).min(q.rect.y + q.rect.h) - p.rect.y.max(q.rect.y);
                assert!(ox <= 1e-6 || oy <= 1e-6, "{p:?} overlaps {q:?}");
            }
        }
    }

    #[test]
    fn squarified_rows_keep_rectangles_near_square() {
        // Six equal areas in a 3:2 box tile as six squares.
        let r = squarify(
            &[1.0; 6],
            Rect {
                x: 0.0,
                y: 0.0,
                w: 3.0,
                h: 2.0,
            },
        );
        for x in &r {
            assert!(
                (x.w - 1.0).abs() < 1e-9 && (x.h - 1.0).abs() < 1e-9,
                "{r:?}"
            );
        }
    }

    #[test]
    fn collapsed_nodes_and_degenerate_input() {
        let root = tree();
        let tiles = layout(&root, BOUNDS, &|n| n.kind == NodeKind::Whole);
        assert!(tiles.iter().all(|t| t.depth <= 1));
        assert!(layout(&Node::new("empty", 0, NodeKind::Whole), BOUNDS, &|_| true).is_empty());
        let flat = Rect {
            x: 0.0,
            y: 0.0,
            w: 10.0,
            h: 0.0,
        };
        let tiles = layout(&root, flat, &|_| true);
        assert!(tiles.iter().all(|t| t.rect.area() == 0.0));
    }
}
