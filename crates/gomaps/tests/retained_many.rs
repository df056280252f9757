//! The batched retained-size pass (`ObjectGraph::retained_many`, two graph
//! walks for every structure) against the one-structure-at-a-time walk
//! (`ObjectGraph::retained`, the definition), on the shipped samples: same
//! bytes for every map, family and measured family member, and the same
//! object sets for `retained_objects_many`.

use mapscope_gomaps::discover::{discover, Structure};
use mapscope_goruntime::GoProcess;
use mapscope_testsupport::sample;

fn check(name: &str) {
    let s = sample(name);
    let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open core");
    let d = discover(&process).expect("discover");
    let graph = &d.graph;
    let roots = &d.root_ids;
    assert!(
        graph.len() > 1000,
        "{name}: graph of {} objects",
        graph.len()
    );

    let mut structures = Vec::new();
    let mut expected = Vec::new();
    for m in &d.maps {
        let family = structures.len();
        structures.push(Structure {
            owned: &m.owned,
            parent: None,
        });
        expected.push((m.root.clone(), graph.retained(roots, &m.owned)));
        for c in m.children.iter().take(8) {
            structures.push(Structure {
                owned: &c.owned,
                parent: Some(family),
            });
            expected.push((c.root.clone(), graph.retained(roots, &c.owned)));
        }
    }
    let many = graph.retained_many(roots, &structures);
    for (i, (root, want)) in expected.iter().enumerate() {
        assert_eq!(many.bytes(i), *want, "{name}: {root} (structure {i})");
    }
    // discover() itself reports the batched numbers.
    let mut i = 0;
    for m in &d.maps {
        assert_eq!(m.retained_bytes, Some(expected[i].1), "{name}: {}", m.root);
        i += 1 + m.children.len().min(8);
    }

    let owned: Vec<&[u64]> = d.maps.iter().map(|m| m.owned.as_slice()).collect();
    let lists = graph.retained_objects_many(roots, &owned);
    for (m, got) in d.maps.iter().zip(&lists) {
        let mut want = graph.retained_objects(roots, &m.owned);
        want.extend(m.owned.iter().filter_map(|&a| {
            let heap = process.heap().ok()?;
            heap.object_at(a).map(|o| o.address)
        }));
        want.sort_unstable();
        want.dedup();
        assert_eq!(got, &want, "{name}: objects of {}", m.root);
    }
}

#[test]
fn go1_26_batched_equals_one_by_one() {
    check("go1.26");
}

#[test]
fn go1_22_batched_equals_one_by_one() {
    check("go1.22");
}
