//! The batched retained-size pass (`ObjectGraph::retained_many`, two graph
//! walks for every structure, given the roots' reach or not) against the
//! one-structure-at-a-time walk (`ObjectGraph::retained`, the
//! definition), on the shipped samples: same
//! bytes for every map, family and measured family member, and the same
//! map for every heap object from `Discovery::map_retaining` (the join's
//! question) as from the one-by-one object sets.

use mapscope_gomaps::discover::{discover, Reached, Structure};
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
    // Structures measured alone walk the heap, or (given which objects
    // the roots reach) only their own reach: the same bytes.
    let reached = Reached::from_paths(&graph.shortest_paths(&[roots.as_slice()]));
    for given in [None, Some(&reached)] {
        let many = graph.retained_many(roots, &structures, given);
        for (i, (root, want)) in expected.iter().enumerate() {
            assert_eq!(many.bytes(i), *want, "{name}: {root} (structure {i})");
        }
    }
    // discover() itself reports the batched numbers.
    let mut i = 0;
    for m in &d.maps {
        assert_eq!(m.retained_bytes, Some(expected[i].1), "{name}: {}", m.root);
        i += 1 + m.children.len().min(8);
    }

    // Which map retains each heap object (what attribution asks for every
    // sampled object): the lowest-indexed map whose one-by-one set holds
    // it, and none for every other object of the heap.
    let heap = process.heap().expect("heap");
    let mut owner: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for (i, m) in d.maps.iter().enumerate() {
        let mut want = graph.retained_objects(roots, &m.owned);
        want.extend(
            m.owned
                .iter()
                .filter_map(|&a| heap.object_at(a).map(|o| o.address)),
        );
        for a in want {
            owner.entry(a).or_insert(i);
        }
    }
    assert!(
        owner.len() > 1000,
        "{name}: {} objects in maps",
        owner.len()
    );
    let mut checked = 0;
    for o in heap.objects() {
        let want = owner.get(&o.address).copied();
        let (got, _) = d.map_retaining(o.address);
        assert_eq!(got, want, "{name}: object {:#x}", o.address);
        checked += 1;
    }
    assert!(checked > owner.len(), "{name}: every heap object asked");
}

#[test]
fn go1_26_batched_equals_one_by_one() {
    check("go1.26");
}

#[test]
fn go1_22_batched_equals_one_by_one() {
    check("go1.22");
}
