//! The per-root view of the GC's roots ([`roots::RootSet::named`]) checked
//! against the sample program's truth.json: every map truth says a global
//! holds is a target of the named root of that global, whose DWARF type is
//! the map's type; the map only a goroutine's frame holds is a target of
//! that goroutine's root (named with its id and function, as truth records
//! them); the `noiseBuffer` slice's array is a target of `main.noiseBuffer`.

use mapscope_gomaps::discover::RootKind;
use mapscope_gomaps::graph::ObjectGraph;
use mapscope_gomaps::pointers::PointerMaps;
use mapscope_gomaps::roots;
use mapscope_goruntime::GoProcess;
use mapscope_testsupport::sample;
use serde_json::Value;

fn parse_addr(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0)
}

#[test]
fn named_roots_match_truth() {
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let truth = s.truth();
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
        let heap = process.heap().expect("heap");
        let pointers = PointerMaps::load(&process, heap);
        let graph = ObjectGraph::build_with(&process, heap, &pointers);
        let gs = process.goroutines().expect("goroutines");
        let set = roots::collect(&process, &graph, &pointers, Some(&gs));
        // The union of the named roots is the root set.
        let mut union: Vec<u32> = (0..set.named.len())
            .flat_map(|i| set.targets_of(i).iter().copied())
            .collect();
        union.sort_unstable();
        union.dedup();
        assert_eq!(union, set.ids, "{name}");
        let find = |root: &str| set.named.iter().position(|r| r.name == root);
        let mut checked = 0;
        for t in mapscope_testsupport::truth_entries(&truth) {
            let root = t["root"].as_str().unwrap_or("");
            let kind = t["root_kind"].as_str().unwrap_or("");
            let ty = t["type"].as_str().unwrap_or("");
            let addr = parse_addr(&t["address"]);
            match kind {
                "global" if !root.contains('[') && root.matches('.').count() == 1 => {
                    let i = find(root).unwrap_or_else(|| panic!("{name}: no root {root}"));
                    let r = &set.named[i];
                    assert_eq!(r.kind, RootKind::Global, "{name} {root}");
                    assert_eq!(r.type_name, ty, "{name} {root}");
                    // A map or slice global holds a pointer to the
                    // header / array; a sync.Map value is the global itself.
                    if ty != "sync.Map" {
                        let id = graph.id_of_address(addr).expect("truth address in heap");
                        assert!(set.targets_of(i).contains(&id), "{name} {root}");
                    }
                    checked += 1;
                }
                "goroutine" => {
                    let gid = t["goroutine"].as_u64().expect("goroutine id");
                    let func = t["function"].as_str().unwrap_or("");
                    let want = format!("goroutine {gid} {func}");
                    let i = find(&want).unwrap_or_else(|| panic!("{name}: no root {want}"));
                    assert_eq!(set.named[i].kind, RootKind::Goroutine);
                    let id = graph.id_of_address(addr).expect("truth address in heap");
                    assert!(set.targets_of(i).contains(&id), "{name} {want}");
                    checked += 1;
                }
                _ => {}
            }
        }
        assert!(checked >= 6, "{name}: only {checked} roots checked");
    }
}

/// Per-root retained bytes (the dominator tree through `discover`,
/// [`mapscope_gomaps::dominators`]): a global that holds one structure
/// retains what the live program measured for it (truth.json's
/// `HeapAlloc` delta, within 5%), `main.noiseBuffer` exactly its 2 MiB
/// array; the goroutine that alone holds `stackOnly` retains at least
/// that map; every root's bytes, the top-level objects' and the unreached
/// rest sum to the heap in use exactly (objects too); per root, the bytes
/// equal those of the objects only that root reaches (a multi-source
/// labelling walk, `ObjectGraph::root_labels`).
#[test]
fn root_retention_matches_truth() {
    for name in ["go1.22", "go1.26"] {
        let s = sample(name);
        let truth = s.truth();
        let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open");
        let heap = process.heap().expect("heap");
        let d = mapscope_gomaps::discover::discover(&process).expect("discover");
        let r = &d.dominance;
        assert_eq!(r.root_bytes.len(), d.roots.named.len());
        let roots: u64 = r.root_bytes.iter().sum();
        assert_eq!(roots + r.top_object_bytes, r.reachable_bytes, "{name}");
        let total: u64 = r.reachable_bytes + r.unreached_bytes;
        assert_eq!(total, heap.in_use_bytes(), "{name}");
        let objects: u64 = r.reachable_objects + r.unreached_objects;
        assert_eq!(objects, heap.object_count(), "{name}");
        // Unreached: the objects the shortest-path walk does not reach
        // either (an independent walk).
        assert_eq!(
            r.unreached_bytes, d.garbage.heap_unreachable.bytes,
            "{name}"
        );
        // Top-level objects are named, largest first.
        assert!(d
            .object_retainers
            .windows(2)
            .all(|w| w[0].retained_bytes >= w[1].retained_bytes));
        let noise = d
            .roots
            .named
            .iter()
            .position(|x| x.name == "main.noiseBuffer")
            .expect("main.noiseBuffer root");
        assert_eq!(r.root_bytes[noise], 2_097_152, "{name}");
        // A second algorithm on the same graph: the one-root labels of a
        // multi-source walk (`root_labels`). An object only root i
        // reaches is exactly one root i's virtual node dominates; the
        // ones several roots reach are the top-level objects' sets.
        let labels = d.graph.root_labels(&d.roots.target_lists());
        let mut by_root = vec![0u64; d.roots.named.len()];
        let mut shared = 0u64;
        for (id, &l) in labels.iter().enumerate() {
            let size = d.graph.object(id as u32).map_or(0, |o| o.size);
            match by_root.get_mut(l as usize) {
                Some(b) => *b += size,
                None if l == mapscope_gomaps::graph::ROOT_SHARED => shared += size,
                None => {}
            }
        }
        assert_eq!(by_root, r.root_bytes, "{name}");
        assert_eq!(shared, r.top_object_bytes, "{name}");
        let r_bytes = &r.root_bytes;
        let find = |root: &str| d.roots.named.iter().position(|x| x.name == root);
        let mut checked = 0;
        for t in mapscope_testsupport::truth_entries(&truth) {
            let root = t["root"].as_str().unwrap_or("");
            let want = t["retained_bytes"].as_u64().unwrap_or(0) as f64;
            match t["root_kind"].as_str().unwrap_or("") {
                // main.registry holds more than its endpoints map.
                "global" if root.matches('.').count() == 1 => {
                    let i = find(root).unwrap_or_else(|| panic!("{name}: no root {root}"));
                    let ratio = r_bytes[i] as f64 / want.max(1.0);
                    assert!(
                        (0.95..=1.05).contains(&ratio),
                        "{name} {root}: retained {} vs truth {want} ({ratio:.4})",
                        r_bytes[i]
                    );
                    checked += 1;
                }
                "goroutine" => {
                    let gid = t["goroutine"].as_u64().expect("goroutine id");
                    let func = t["function"].as_str().unwrap_or("");
                    let i = find(&format!("goroutine {gid} {func}")).expect("goroutine root");
                    assert!(
                        r_bytes[i] as f64 >= 0.95 * want,
                        "{name} {root}: {} < {want}",
                        r_bytes[i]
                    );
                    checked += 1;
                }
                _ => {}
            }
        }
        assert!(checked >= 8, "{name}: only {checked} roots checked");
    }
}
