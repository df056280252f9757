//! The entry addresses the decoder hands to a retained-bytes walk are
//! checked against facts the program recorded independently: a map of maps'
//! member at `member_key` is the recorded member address, and every
//! `sync.Map` key is one of the program's `tok_…` strings.

mod common;

use std::collections::HashSet;

use common::{check_incident, parse_addr, resolve_root, Incident};
use mapscope_gomaps::{MapDecoder, NoHeapIndex};
use mapscope_testsupport::sample;

fn shipped(name: &str) -> Incident {
    let s = sample(name);
    Incident::open(name, &s.core, &s.exe, s.truth())
}

/// A Go string header at `addr`: its bytes.
fn go_string(inc: &Incident, addr: u64) -> Vec<u8> {
    let ptr = inc.mem.read_u64(addr).unwrap();
    let len = inc.mem.read_u64(addr + 8).unwrap();
    assert!(len < 1 << 20, "string length {len} at {addr:#x}");
    let mut buf = vec![0u8; len as usize];
    inc.mem.read(ptr, &mut buf).unwrap();
    buf
}

fn family_members_at_their_keys(inc: &Incident) {
    let truth = inc.truth["maps"].as_array().unwrap();
    let family = truth.iter().find(|m| m["name"] == "tenantConfigs").unwrap();
    let (ty, var) = resolve_root(inc, "main.tenantConfigs").unwrap();
    let header = inc.mem.read_u64(var).unwrap();
    let decoder = MapDecoder::new(&inc.mem, &inc.dwarf);
    let parent = decoder.decode(ty, header, &NoHeapIndex).unwrap();
    assert_eq!(parent.entries.len() as u64, parent.len);
    let children = family["children"].as_array().unwrap();
    assert!(!children.is_empty());
    for child in children {
        let key = child["member_key"].as_str().unwrap().as_bytes();
        let entry = parent
            .entries
            .iter()
            .find(|e| go_string(inc, e.key) == key)
            .unwrap_or_else(|| {
                panic!(
                    "{}: key {:?} not among the entries",
                    inc.name, child["member_key"]
                )
            });
        // The value slot holds the member map's header pointer.
        let member = inc.mem.read_u64(entry.elem).unwrap();
        assert_eq!(
            member,
            parse_addr(&child["address"]),
            "{}: member {:?}",
            inc.name,
            child["member_key"]
        );
    }
}

fn sync_map_keys_are_tokens(inc: &Incident) {
    let checked = check_incident(inc);
    let sync = checked
        .iter()
        .find(|c| c.name == "tokenCache")
        .and_then(|c| c.instance.as_ref())
        .unwrap();
    assert_eq!(sync.entries.len() as u64, sync.len);
    let mut keys = HashSet::new();
    for e in &sync.entries {
        // interface {}: (type, data); data points at the string header.
        let data = inc.mem.read_u64(e.key + 8).unwrap();
        let key = go_string(inc, data);
        assert!(
            key.starts_with(b"tok_"),
            "{}: key {:?}",
            inc.name,
            String::from_utf8_lossy(&key)
        );
        keys.insert(key);
        // The value is an `any` holding a *main.Token (non-nil data word).
        assert_ne!(inc.mem.read_u64(e.elem + 8).unwrap(), 0);
    }
    assert_eq!(keys.len() as u64, sync.len, "{}: distinct keys", inc.name);
}

#[test]
fn go1_22_entries_are_where_the_program_put_them() {
    let inc = shipped("go1.22");
    family_members_at_their_keys(&inc);
    sync_map_keys_are_tokens(&inc);
}

#[test]
fn go1_26_entries_are_where_the_program_put_them() {
    let inc = shipped("go1.26");
    family_members_at_their_keys(&inc);
    sync_map_keys_are_tokens(&inc);
}

/// Indirect values (248-byte `main.Blob`): each entry's value address is a
/// cell of its own holding the blob the program wrote: `Header[1]` = 248
/// and `Owner` = "team-storage" (offset 232); keys start with
/// "blob/sha256/".
#[test]
fn indirect_values_are_followed() {
    for name in ["go1.22", "go1.26"] {
        let inc = shipped(name);
        let checked = check_incident(&inc);
        let blobs = checked
            .iter()
            .find(|c| c.name == "blobCache")
            .and_then(|c| c.instance.as_ref())
            .unwrap();
        let mut cells = HashSet::new();
        for e in &blobs.entries {
            assert!(cells.insert(e.elem), "{name}: value cell shared");
            assert!(
                go_string(&inc, e.key).starts_with(b"blob/sha256/"),
                "{name}: key"
            );
            assert_eq!(
                inc.mem.read_u64(e.elem + 8).unwrap(),
                248,
                "{name}: Blob.Header[1]"
            );
            assert_eq!(
                go_string(&inc, e.elem + 232),
                b"team-storage",
                "{name}: Blob.Owner"
            );
        }
        assert_eq!(cells.len() as u64, blobs.len);
    }
}
