//! The heap as a treemap for `analyze --format html`: the Go heap in use
//! split by what retains it (`retainers`: the dominator tree's top level,
//! roots and objects several roots reach; plus the smaller retainers and
//! what no root reaches), each retainer split by the maps it holds, each
//! family's members in its own picture.
//!
//! Owns: which report numbers go into which rectangle. Every rectangle is a
//! number the report already prints (retained bytes of a root or a map);
//! a node is dropped rather than shrunk when its children would sum to
//! more than it (the layout keeps areas proportional only then).
//!
//! Must not touch: geometry or drawing ([`crate::treemap`],
//! [`crate::html`]).

use crate::treemap::{Node, NodeKind, Treemap};
use mapscope_incident::analyze::MapReport;
use mapscope_incident::Report;

/// Maps considered for the picture (largest first); the rest stay in their
/// root's rectangle unnamed.
const MAX_MAPS: usize = 2000;
/// Family members drawn per family.
const MAX_MEMBERS: usize = 500;

/// The report's heap as a treemap (see the module docs).
pub fn heap_treemap(report: &Report) -> Treemap {
    let heap = report.heap_in_use_bytes;
    let rest = &report.retainers_rest;
    let mut retainers: Vec<Node> = report
        .retainers
        .iter()
        .map(|r| {
            let mut detail = r.root_kind.clone();
            if !r.type_name.is_empty() {
                detail.push(' ');
                detail.push_str(&r.type_name);
            }
            detail.push_str(&format!(
                " · retains {} objects nothing else keeps alive",
                r.objects
            ));
            Node::new(r.root.clone(), r.retained_bytes, NodeKind::Retainer).detail(detail)
        })
        .collect();
    let mut shared =
        Node::new("(smaller retainers)", rest.other_bytes, NodeKind::Rest).detail(format!(
            "{} objects held by {} retainers past the listed ones",
            rest.other_objects, rest.other_retainers
        ));
    let mut unreached = Node::new(
        "(unreachable: garbage awaiting the next GC)",
        rest.unreached_bytes,
        NodeKind::Rest,
    )
    .detail(format!(
        "{} objects no root reaches",
        rest.unreached_objects
    ));
    let mut dropped = 0usize;
    for m in report.maps.iter().take(MAX_MAPS) {
        let node = map_node(m);
        if node.bytes == 0 {
            continue;
        }
        let parent = if m.root_kind == "unknown" {
            &mut unreached
        } else {
            match best_retainer(&retainers, &m.root) {
                Some(i) => match retainers.get_mut(i) {
                    Some(r) => r,
                    None => continue,
                },
                None => &mut shared,
            }
        };
        // A map inside one already drawn (a sync.Map's inner maps) is in
        // its rectangle already.
        if parent.children.iter().any(|c| continues(&c.label, &m.root)) {
            continue;
        }
        if parent.children_bytes().saturating_add(node.bytes) > parent.bytes {
            dropped += 1;
            continue;
        }
        parent.children.push(node);
    }
    let mut root = Node::new("Go heap in use", heap, NodeKind::Whole).detail("the heap walk");
    let listed: u64 = retainers
        .iter()
        .map(|r| r.bytes)
        .fold(0u64, u64::saturating_add);
    let other_roots = heap
        .saturating_sub(listed)
        .saturating_sub(rest.other_bytes)
        .saturating_sub(rest.unreached_bytes);
    let other = Node::new("(other roots)", other_roots, NodeKind::Rest)
        .detail("roots past the listed retainers");
    for n in retainers.into_iter().chain([shared, unreached, other]) {
        if n.bytes > 0 && root.children_bytes().saturating_add(n.bytes) <= heap {
            root.children.push(n);
        }
    }
    let mut caption = format!(
        "The Go heap in use ({}) by the root retaining it, and inside each root the maps it holds; every rectangle's area is its retained bytes. Grey space inside a root is its objects that are not maps. Hover for details; families (orange) open below.",
        crate::units::iec_bytes(i128::from(heap))
    );
    if dropped > 0 {
        caption.push_str(&format!(
            " {dropped} maps whose retained bytes do not fit inside their root's are not drawn."
        ));
    }
    Treemap {
        title: "Where the heap goes".to_string(),
        caption,
        root,
    }
}

/// A map's rectangle: its retained bytes (its storage when no retained
/// size); a family with its members (those that fit).
fn map_node(m: &MapReport) -> Node {
    let bytes = m.retained_bytes.unwrap_or(m.storage_bytes);
    let label = if m.root.is_empty() {
        format!("(map at {})", m.address)
    } else {
        m.root.clone()
    };
    let family = m.kind == "map-family";
    let detail = if family {
        format!(
            "{} · family of {} members ({} listed) · storage {} bytes",
            m.type_name,
            (m.children.len() as u64).saturating_add(m.children_omitted),
            m.children.len(),
            m.storage_bytes
        )
    } else {
        format!(
            "{} · {} · len {} · capacity {} · storage {} bytes",
            m.type_name, m.kind, m.len, m.capacity, m.storage_bytes
        )
    };
    let kind = if family {
        NodeKind::Family
    } else {
        NodeKind::Map
    };
    let mut node = Node::new(label, bytes, kind).detail(detail);
    if family {
        for c in m.children.iter().take(MAX_MEMBERS) {
            let b = c.retained_bytes.unwrap_or(c.storage_bytes);
            if b == 0 || node.children_bytes().saturating_add(b) > bytes {
                continue;
            }
            let mut member = map_node(c);
            member.kind = NodeKind::Member;
            member.children.clear();
            // Members share the family's root (`m[*]`): the address tells
            // them apart.
            member.detail = format!("{} · {}", member.label, member.detail);
            member.label = c.address.clone();
            node.children.push(member);
        }
    }
    node
}

/// The retainer whose root holds `map_root`, the longest such.
fn best_retainer(retainers: &[Node], map_root: &str) -> Option<usize> {
    retainers
        .iter()
        .enumerate()
        .filter(|(_, r)| holds(&r.label, map_root))
        .max_by_key(|(_, r)| r.label.len())
        .map(|(i, _)| i)
}

/// Whether the thing named `outer` holds the one named `inner`: the same
/// name, or `inner` continues `outer`'s path (`main.registry` holds
/// `main.registry.endpoints`, `m[*]`, `m (sync.Map) → …`), or both are the
/// same goroutine (`goroutine 9 main.worker` holds `goroutine 9
/// main.worker.m` and any other local of goroutine 9).
fn holds(outer: &str, inner: &str) -> bool {
    if let (Some(a), Some(b)) = (goroutine_id(outer), goroutine_id(inner)) {
        return a == b;
    }
    continues(outer, inner)
}

/// Whether `inner` is `outer` or a path continuing it.
fn continues(outer: &str, inner: &str) -> bool {
    if outer.is_empty() {
        return false;
    }
    match inner.strip_prefix(outer) {
        Some("") => true,
        Some(rest) => rest.starts_with(['.', '[', ' ']),
        None => false,
    }
}

/// `goroutine 9 …` → `9`.
fn goroutine_id(root: &str) -> Option<&str> {
    let rest = root.strip_prefix("goroutine ")?;
    let id = rest.split(' ').next()?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::{continues, holds};

    #[test]
    fn roots_hold_the_paths_that_continue_them() {
        assert!(holds("main.registry", "main.registry.endpoints"));
        assert!(holds("main.registry", "main.registry"));
        assert!(holds("main.smallMaps", "main.smallMaps[*]"));
        assert!(holds(
            "encoding/json.fieldCache",
            "encoding/json.fieldCache (sync.Map) → 160-byte object → map"
        ));
        assert!(!holds("main.registry", "main.registryIndex"));
        assert!(holds(
            "goroutine 9 main.stackOnlyWorker",
            "goroutine 9 main.stackOnlyWorker.m"
        ));
        assert!(!holds("goroutine 9 main.a", "goroutine 19 main.a.m"));
        assert!(!holds("", "main.x"));
        // Two locals of one goroutine: neither is inside the other.
        assert!(!continues("goroutine 9 main.w.m", "goroutine 9 main.w.n"));
    }
}
