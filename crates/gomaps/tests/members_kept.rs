//! `discover_with(DiscoverOptions { members_kept })` keeps only the
//! members a report lists and counts the rest: on the shipped samples
//! (`main.smallMaps`, a family of 2000 maps) every map's numbers —
//! `len`, entries, storage, retained bytes, owned objects, member count —
//! equal the full discovery's, and the kept members are the full list's
//! first (largest storage first), with their own numbers. The full
//! discovery's members are checked against truth.json elsewhere
//! (truth.rs, inline_families.rs).

use mapscope_gomaps::discover::{discover, discover_with, DiscoverOptions, FoundKind};
use mapscope_goruntime::GoProcess;
use mapscope_testsupport::sample;

fn check(name: &str) {
    let s = sample(name);
    let process = GoProcess::open(&s.core, Some(&s.exe)).expect("open core");
    let all = discover(&process).expect("discover");
    let kept = 10;
    let some = discover_with(&process, &DiscoverOptions { members_kept: kept }).expect("discover");
    assert_eq!(all.maps.len(), some.maps.len(), "{name}: maps");
    let mut cut = 0;
    for (a, b) in all.maps.iter().zip(&some.maps) {
        let what = format!("{name}: {}", a.root);
        assert_eq!(a.root, b.root, "{what}");
        assert_eq!(a.address, b.address, "{what}");
        assert_eq!(a.len, b.len, "{what}: len");
        assert_eq!(a.entries(), b.entries(), "{what}: entries");
        assert_eq!(a.storage_bytes, b.storage_bytes, "{what}: storage");
        assert_eq!(a.retained_bytes, b.retained_bytes, "{what}: retained");
        assert_eq!(a.owned, b.owned, "{what}: owned objects");
        assert_eq!(a.member_count(), b.member_count(), "{what}: members");
        assert_eq!(a.omitted_members, 0, "{what}: full discovery omits none");
        if a.kind == FoundKind::Family && a.children.len() > kept {
            cut += 1;
            assert_eq!(b.children.len(), kept, "{what}: kept members");
            assert_eq!(
                b.omitted_members,
                (a.children.len() - kept) as u64,
                "{what}: omitted"
            );
            let (listed, omitted) = b.listed_children(100);
            assert_eq!(omitted, a.listed_children(kept).1, "{what}: listed");
            assert_eq!(listed.len(), kept);
        } else {
            assert_eq!(a.children.len(), b.children.len(), "{what}: members");
        }
        for (x, y) in a.children.iter().zip(&b.children) {
            assert_eq!(x.address, y.address, "{what}: member order");
            assert_eq!(x.len, y.len, "{what}: member len");
            assert_eq!(x.storage_bytes, y.storage_bytes, "{what}: member storage");
            assert_eq!(
                x.retained_bytes, y.retained_bytes,
                "{what}: member retained"
            );
        }
    }
    assert!(cut > 0, "{name}: no family larger than {kept} members");
}

#[test]
fn go1_22_members_beyond_the_listed_are_counted() {
    check("go1.22");
}

#[test]
fn go1_26_members_beyond_the_listed_are_counted() {
    check("go1.26");
}
