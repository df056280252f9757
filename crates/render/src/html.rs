//! The HTML renderer: one self-contained page (`--format html`) with the
//! document's tables and its treemaps drawn as inline SVG.
//!
//! Owns: the page (no network, no script: a Content-Security-Policy meta
//! tag forbids every load but inline styles and `data:` images), escaping
//! (every string is untrusted: root names come from cores), drawing
//! [`Treemap`]s from [`layout`]'s rectangles with `<title>` tooltips, and
//! expandable families (`<details>`, no script).
//!
//! Must not touch: what the numbers are (the document's cells are printed
//! as they are) or the layout's geometry (`treemap.rs`).

use crate::treemap::{layout, Node, NodeKind, Rect, Tile, Treemap};
use crate::{Align, Block, Cell, Document, Kind, Table, Text};
use std::fmt::Write as _;

/// The page's Content-Security-Policy: nothing loads, nothing runs.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// Size of a treemap's picture (SVG user units; it scales to the page).
pub const MAIN_SIZE: (f64, f64) = (1200.0, 640.0);
/// Size of a family's own picture.
pub const FAMILY_SIZE: (f64, f64) = (1200.0, 320.0);
/// Rectangles drawn per picture at most (largest first), so a heap of a
/// million maps still makes a page a browser opens.
pub const MAX_TILES: usize = 4000;
/// Families given their own picture at most (largest first).
pub const MAX_FAMILIES: usize = 100;

const STYLE: &str = "\
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1250px;padding:0 1em;color:#222}
h1{font-size:1.35em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:13px}
caption{text-align:left;font-weight:600;padding:.2em 0}
th,td{border-bottom:1px solid #ddd;padding:.2em .6em;text-align:left;vertical-align:top}
th.r,td.r{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
pre{background:#f6f6f6;padding:.6em;overflow:auto}
figure{margin:1em 0}figcaption{color:#555;font-size:13px}
svg.treemap{width:100%;height:auto;border:1px solid #ccc;background:#fafafa}
svg.treemap text{font-size:11px;fill:#111;pointer-events:none}
details{margin:.4em 0}summary{cursor:pointer}
";

/// Renders `doc` as one self-contained HTML page.
pub fn render_html(doc: &Document) -> String {
    let title = doc
        .blocks
        .iter()
        .find_map(|b| match b {
            Block::Heading(h) => Some(h.as_str()),
            _ => None,
        })
        .unwrap_or("mapscope report");
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // A constant with no `"` or `<`: written as it is, quotes readable.
    let _ = writeln!(
        out,
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<link rel=\"icon\" href=\"data:,\">\n");
    let _ = writeln!(out, "<title>{}</title>", escape(title));
    let _ = writeln!(out, "<style>\n{STYLE}</style>\n</head>\n<body>");
    let mut first_heading = true;
    let mut pictures = doc.treemaps.iter().peekable();
    for (i, block) in doc.blocks.iter().enumerate() {
        while let Some((_, t)) = pictures.next_if(|(at, _)| *at <= i) {
            treemap(&mut out, t);
        }
        match block {
            Block::Heading(h) => {
                let tag = if first_heading { "h1" } else { "h2" };
                first_heading = false;
                let _ = writeln!(out, "<{tag}>{}</{tag}>", text(h));
            }
            Block::Paragraph(p) => {
                let _ = writeln!(out, "<p>{}</p>", text(p));
            }
            Block::Preformatted(p) | Block::Exact(p) => {
                let _ = writeln!(out, "<pre>{}</pre>", escape(p));
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(out, "<li>{}</li>", text(i));
                }
                out.push_str("</ul>\n");
            }
            Block::Table(t) => table(&mut out, t),
        }
    }
    for (_, t) in pictures {
        treemap(&mut out, t);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn table(out: &mut String, t: &Table) {
    out.push_str("<table>\n");
    if let Some(title) = &t.title {
        let _ = writeln!(out, "<caption>{}</caption>", escape(title));
    }
    out.push_str("<thead><tr>");
    for c in &t.columns {
        let _ = write!(out, "<th{}>{}</th>", class(c.align), escape(&c.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let align = t.columns.get(i).map(|c| c.align).unwrap_or(Align::Left);
            let _ = write!(out, "<td{}>{}</td>", class(align), piece(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A piece of text: Go identifiers in `<code>`, exact bytes of a byte
/// count in its tooltip.
fn piece(c: &Cell) -> String {
    match c.kind() {
        Kind::Code if !c.is_empty() => format!("<code>{}</code>", escape(c)),
        Kind::Bytes if c.raw() != c.as_str() => {
            format!("<span title=\"{} B\">{}</span>", escape(c.raw()), escape(c))
        }
        _ => escape(c),
    }
}

fn text(t: &Text) -> String {
    t.spans().iter().map(piece).collect()
}

fn class(a: Align) -> &'static str {
    match a {
        Align::Left => "",
        Align::Right => " class=\"r\"",
    }
}

/// The main picture (families collapsed), then each family's own picture
/// in a `<details>`.
fn treemap(out: &mut String, t: &Treemap) {
    let _ = writeln!(out, "<h2>{}</h2>", escape(&t.title));
    out.push_str("<figure>\n");
    picture(out, &t.root, MAIN_SIZE, "heap");
    let _ = writeln!(out, "<figcaption>{}</figcaption>", escape(&t.caption));
    out.push_str("</figure>\n");
    // Expandable: the families drawn collapsed above, largest first.
    let mut families: Vec<&Node> = Vec::new();
    let mut stack: Vec<(&Node, usize)> = vec![(&t.root, 0)];
    while let Some((n, depth)) = stack.pop() {
        if n.kind == NodeKind::Family && !n.children.is_empty() {
            families.push(n);
            continue;
        }
        if depth < crate::treemap::MAX_DEPTH {
            stack.extend(n.children.iter().map(|c| (c, depth + 1)));
        }
    }
    families.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.label.cmp(&b.label)));
    for f in families.iter().take(MAX_FAMILIES) {
        let _ = writeln!(
            out,
            "<details class=\"family\"><summary>Family <b>{}</b>: {} members drawn, {}</summary>",
            escape(&f.label),
            f.children.len(),
            escape(&bytes_text(f.bytes))
        );
        out.push_str("<figure>\n");
        picture(out, f, FAMILY_SIZE, "family");
        let _ = writeln!(
            out,
            "<figcaption>{}: each member's rectangle is its retained bytes; the rest of the family's rectangle is its unlisted members and its own storage.</figcaption>",
            escape(&f.detail)
        );
        out.push_str("</figure>\n</details>\n");
    }
    if families.len() > MAX_FAMILIES {
        let _ = writeln!(
            out,
            "<p>{} smaller families are not drawn (--format json lists them).</p>",
            families.len() - MAX_FAMILIES
        );
    }
}

/// One SVG picture of `root` (families collapsed), at most [`MAX_TILES`]
/// rectangles. Every rectangle carries `data-bytes` and `data-label`; the
/// picture carries `data-total-bytes` (its root's bytes), so its scale is
/// viewBox area / total.
fn picture(out: &mut String, root: &Node, (w, h): (f64, f64), class: &str) {
    let bounds = Rect {
        x: 0.0,
        y: 0.0,
        w,
        h,
    };
    let is_root = |n: &Node| std::ptr::eq(n, root);
    let mut tiles = layout(root, bounds, &|n| is_root(n) || n.kind != NodeKind::Family);
    if tiles.len() > MAX_TILES {
        // Keep the largest (the root stays: it is the largest), in draw order.
        let mut by_size: Vec<usize> = (0..tiles.len()).collect();
        by_size.sort_by(|&a, &b| {
            let (ta, tb) = (&tiles[a], &tiles[b]);
            tb.node.bytes.cmp(&ta.node.bytes).then(a.cmp(&b))
        });
        let mut keep = vec![false; tiles.len()];
        for &i in by_size.iter().take(MAX_TILES) {
            keep[i] = true;
        }
        let mut i = 0;
        tiles.retain(|_| {
            let k = keep[i];
            i += 1;
            k
        });
    }
    let _ = writeln!(
        out,
        "<svg class=\"treemap {class}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\" data-total-bytes=\"{}\">",
        escape(&root.label),
        root.bytes
    );
    // A tile is a leaf of this picture when no drawn tile lies below it.
    let leaf: Vec<bool> = tiles
        .iter()
        .enumerate()
        .map(|(i, t)| tiles.get(i + 1).is_none_or(|n| n.depth <= t.depth))
        .collect();
    for (i, t) in tiles.iter().enumerate() {
        rect(out, t, root.bytes, i);
    }
    // The first level's outlines over their children, so each root's
    // extent shows.
    for t in tiles.iter().filter(|t| t.depth == 1) {
        let _ = writeln!(
            out,
            "<rect x=\"{:.3}\" y=\"{:.3}\" width=\"{:.3}\" height=\"{:.3}\" fill=\"none\" stroke=\"#fff\" stroke-width=\"2.5\" pointer-events=\"none\"/>",
            t.rect.x, t.rect.y, t.rect.w, t.rect.h
        );
    }
    // Labels: a leaf in its rectangle; a parent in the space its children
    // leave.
    for (t, &is_leaf) in tiles.iter().zip(&leaf) {
        if t.depth == 0 {
            if let Some(rest) = t.rest {
                let what = format!("(the rest of {})", t.node.label);
                label(out, &what, None, rest);
            }
        } else if is_leaf {
            label(out, &t.node.label, Some(t.node.bytes), t.rect);
        } else if let Some(rest) = t.rest {
            label(out, &t.node.label, Some(t.node.bytes), rest);
        }
    }
    out.push_str("</svg>\n");
}

fn rect(out: &mut String, t: &Tile, whole: u64, index: usize) {
    let n = t.node;
    let pct = if whole > 0 {
        n.bytes as f64 * 100.0 / whole as f64
    } else {
        0.0
    };
    let mut tip = n.label.clone();
    if !n.detail.is_empty() {
        tip.push('\n');
        tip.push_str(&n.detail);
    }
    let _ = write!(tip, "\n{} ({pct:.1}%)", bytes_text(n.bytes));
    if n.kind == NodeKind::Family {
        tip.push_str("\nits members: see the family's picture below");
    }
    let stroke = if t.depth <= 1 { "#fff" } else { "#ffffffb0" };
    let width = if t.depth <= 1 { 1.5 } else { 0.6 };
    let _ = writeln!(
        out,
        "<g><title>{}</title><rect x=\"{:.3}\" y=\"{:.3}\" width=\"{:.3}\" height=\"{:.3}\" fill=\"{}\" stroke=\"{stroke}\" stroke-width=\"{width}\" data-depth=\"{}\" data-bytes=\"{}\" data-label=\"{}\"/></g>",
        escape(&tip),
        t.rect.x,
        t.rect.y,
        t.rect.w,
        t.rect.h,
        fill(n.kind, index),
        t.depth,
        n.bytes,
        escape(&n.label)
    );
}

/// A label (and a byte count under it when there is room), clipped to
/// `r` (a nested `<svg>` clips), when there is room for it.
fn label(out: &mut String, text: &str, bytes: Option<u64>, r: Rect) {
    if r.w < 36.0 || r.h < 15.0 {
        return;
    }
    let _ = write!(
        out,
        "<svg x=\"{:.3}\" y=\"{:.3}\" width=\"{:.3}\" height=\"{:.3}\"><text x=\"3\" y=\"12\">{}</text>",
        r.x,
        r.y,
        r.w,
        r.h,
        escape(text)
    );
    if let Some(b) = bytes.filter(|_| r.h >= 28.0) {
        let _ = write!(
            out,
            "<text x=\"3\" y=\"25\">{}</text>",
            escape(&bytes_text(b))
        );
    }
    out.push_str("</svg>\n");
}

/// Fill colours: maps in a cycle of hues, the rest in greys.
fn fill(kind: NodeKind, index: usize) -> &'static str {
    const MAPS: [&str; 8] = [
        "#8ecae6", "#a8d5a2", "#f4b183", "#c9b3e6", "#f6d27a", "#9fd8cf", "#f2a7b8", "#b9c7e8",
    ];
    match kind {
        NodeKind::Whole => "#f0f0f0",
        NodeKind::Retainer => "#d6d6d6",
        NodeKind::Map | NodeKind::Member => {
            MAPS.get(index % MAPS.len()).copied().unwrap_or("#8ecae6")
        }
        NodeKind::Family => "#e8a33d",
        NodeKind::Rest => "#ececec",
    }
}

/// `597,552 B (583.55 KiB)`.
fn bytes_text(b: u64) -> String {
    let grouped = crate::units::thousands(b);
    if b >= 1024 {
        let human = crate::units::iec_bytes(i128::from(b));
        format!("{grouped} B ({human})")
    } else {
        format!("{grouped} B")
    }
}

/// Escapes text for HTML element content and quoted attribute values;
/// control characters (but tab and newline) become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Checks that every tag this renderer opens is closed, in order (void
/// elements and `/>` excepted), and that no `<` or `>` is left loose in
/// text: the well-formedness tests of the page rely on it. Returns the
/// first problem.
pub fn check_tags(html: &str) -> Result<(), String> {
    const VOID: [&str; 6] = ["meta", "link", "br", "hr", "img", "input"];
    let mut stack: Vec<&str> = Vec::new();
    let mut rest = html;
    let mut offset = 0usize;
    while let Some(open) = rest.find('<') {
        if rest.get(..open).is_some_and(|t| t.contains('>')) {
            return Err(format!("loose '>' before byte {}", offset + open));
        }
        let after = rest.get(open + 1..).unwrap_or("");
        let Some(close) = after.find('>') else {
            return Err(format!("unclosed '<' at byte {}", offset + open));
        };
        let inner = after.get(..close).unwrap_or("");
        if inner.contains('<') {
            return Err(format!("'<' inside a tag at byte {}", offset + open));
        }
        if let Some(name) = inner.strip_prefix('/') {
            let name = name.trim();
            match stack.pop() {
                Some(top) if top == name => {}
                other => {
                    return Err(format!(
                        "</{name}> at byte {} closes {other:?}",
                        offset + open
                    ))
                }
            }
        } else if !inner.starts_with('!') {
            let name = inner
                .split(|c: char| c.is_whitespace() || c == '/')
                .next()
                .unwrap_or("");
            if name.is_empty() {
                return Err(format!("empty tag at byte {}", offset + open));
            }
            let self_closed = inner.ends_with('/');
            if !self_closed && !VOID.contains(&name.to_ascii_lowercase().as_str()) {
                stack.push(name);
            }
        }
        let consumed = open + 1 + close + 1;
        offset += consumed;
        rest = rest.get(consumed..).unwrap_or("");
    }
    if rest.contains('>') {
        return Err("loose '>' at the end".into());
    }
    match stack.last() {
        Some(open) => Err(format!("<{open}> never closed")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::treemap::Node;

    fn doc() -> Document {
        let mut t = Table::new(Some("Top <maps>".to_string()))
            .left("map")
            .right("bytes");
        t.row(["main.\"a\"<script>alert(1)</script>", "10"]);
        let mut root = Node::new("heap", 1000, NodeKind::Whole);
        let mut r = Node::new("main.<r>", 600, NodeKind::Retainer).detail("global & co");
        r.children
            .push(Node::new("main.<r>.m'", 400, NodeKind::Map).detail("map[string]int"));
        let mut fam = Node::new("main.fam", 300, NodeKind::Family);
        fam.children
            .push(Node::new("main.fam[*] #1", 200, NodeKind::Member));
        fam.children
            .push(Node::new("main.fam[*] #2", 50, NodeKind::Member));
        root.children.push(r);
        root.children.push(fam);
        let mut d = Document::new();
        d.heading("Report <x>")
            .paragraph("p & q")
            .treemap(Treemap {
                title: "Heap".into(),
                caption: "cap".into(),
                root,
            })
            .table(t);
        d.paragraph(Text::new().plain("held by ").code("main.<x>"));
        d
    }

    #[test]
    fn page_is_self_contained_escaped_and_balanced() {
        let html = render_html(&doc());
        check_tags(&html).unwrap();
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("data-label=\"main.&lt;r&gt;.m&#39;\""));
        for bad in ["src=", "http://", "https://", "url("] {
            assert!(!html.contains(bad), "{bad} in page");
        }
        assert!(html.contains("Content-Security-Policy"));
        assert!(html.contains("<details class=\"family\">"));
        assert!(html.contains("held by <code>main.&lt;x&gt;</code>"));
        // The picture sits where it was added: after the paragraph.
        let (p, fig) = (
            html.find("p &amp; q").unwrap(),
            html.find("<figure").unwrap(),
        );
        assert!(p < fig && fig < html.find("<table").unwrap());
    }

    #[test]
    fn family_members_are_drawn_in_their_own_picture_only() {
        let html = render_html(&doc());
        let (main, families) = html.split_once("<details").unwrap();
        assert!(main.contains("data-label=\"main.fam\""));
        assert!(!main.contains("main.fam[*] #1"));
        assert!(families.contains("data-label=\"main.fam[*] #1\""));
    }

    #[test]
    fn tag_check_finds_unbalanced_pages() {
        assert!(check_tags("<p><b>x</p></b>").is_err());
        assert!(check_tags("<p>x").is_err());
        assert!(check_tags("<p>a > b</p>").is_err());
        assert!(check_tags("<!DOCTYPE html><p><br><rect/></p>").is_ok());
    }
}
