//! Swiss maps (`internal/runtime/maps`, Go 1.24+): a `Map` header whose
//! `dirPtr` is either one group (small map, `dirLen == 0`) or a directory of
//! `dirLen` table pointers, where a table of local depth d appears
//! 2^(globalDepth − d) times in a row. A table owns `lengthMask + 1` groups
//! of 8 slots behind an 8-byte control word: 0x80 empty, 0xFE deleted
//! (tombstone), 0x00–0x7F full. Growth replaces or splits a table at once,
//! so a Swiss map is never "growing".

use crate::addrhash::AddrSet;

use mapscope_goruntime::dwarf::TypeId;

use crate::alloc::{AllocationLookup, ObjectSet, StorageKind};
use crate::error::MapError;
use crate::layout::{FieldSpec, SlotLayout, SwissLayout, CTRL_DELETED, CTRL_EMPTY, SLOTS};
use crate::model::{
    Entry, Header, Implementation, MapInstance, MapKind, Storage, SwissHeader, SwissStorage,
    SwissTable,
};
use crate::{finish_objects, Ctx};

/// A directory longer than this is not a real map (2^24 tables of up to
/// 1024 slots each).
const MAX_DIR_LEN: u64 = 1 << 24;
/// A table's capacity is a uint16: at most 8192 groups.
const MAX_TABLE_GROUPS: u64 = 1 << 13;

/// The top bit of each byte of a control word (clear: a full slot).
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
/// The low seven bits of each byte.
const LOW_BITS: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// How many of the 8 bytes of `word` equal `byte` (no carry crosses a
/// byte: exact).
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (u64::from(byte) * 0x0101_0101_0101_0101);
    // Top bit of each byte set iff the byte of x is nonzero.
    let nonzero = ((x & LOW_BITS) + LOW_BITS) | x;
    u64::from((!nonzero & HIGH_BITS).count_ones())
}

#[derive(Default)]
struct Counts {
    full: u64,
    deleted: u64,
    empty: u64,
    invalid: u64,
}

struct Walk<'c, 'd, 'a, L: ?Sized> {
    ctx: &'c Ctx<'d, 'a>,
    heap: &'c L,
    group: SlotLayout,
    objects: ObjectSet,
    entries: Vec<Entry>,
    warnings: Vec<String>,
}

impl<L: AllocationLookup + ?Sized> Walk<'_, '_, '_, L> {
    fn warn(&mut self, message: String) {
        if self.warnings.len() < 32 {
            self.warnings.push(message);
        }
    }

    /// Counts control bytes of `n` groups at `data` (already checked
    /// readable) and records full slots.
    fn scan_groups(&mut self, data: u64, n: u64) -> Counts {
        let mut counts = Counts::default();
        let g = self.group;
        // Without indirect cells or entries to record, full slots need no
        // visit: count the control bytes a word at a time.
        let visit_full = g.indirect_key || g.indirect_elem || self.ctx.options.collect_entries;
        for i in 0..n {
            let group = data + i * g.size;
            let bytes = match self.ctx.reader.bytes(group, g.size as usize) {
                Ok(b) => b,
                Err(e) => {
                    self.warn(format!("group at {group:#x} unreadable: {e}"));
                    continue;
                }
            };
            let ctrl = FieldSpec {
                offset: g.control_offset,
                size: 8,
            }
            .get(&bytes)
            .unwrap_or(0);
            if !visit_full {
                let full = u64::from((!ctrl & HIGH_BITS).count_ones());
                let deleted = bytes_equal(ctrl, CTRL_DELETED);
                let empty = bytes_equal(ctrl, CTRL_EMPTY);
                counts.full += full;
                counts.deleted += deleted;
                counts.empty += empty;
                counts.invalid += SLOTS - full - deleted - empty;
                continue;
            }
            for j in 0..SLOTS {
                let c = (ctrl >> (8 * j)) as u8;
                if c & 0x80 == 0 {
                    counts.full += 1;
                    self.full_slot(group, &bytes, j);
                } else if c == CTRL_DELETED {
                    counts.deleted += 1;
                } else if c == CTRL_EMPTY {
                    counts.empty += 1;
                } else {
                    counts.invalid += 1;
                }
            }
        }
        counts
    }

    fn full_slot(&mut self, group: u64, bytes: &[u8], j: u64) {
        let g = self.group;
        let key_off = g.keys_offset + j * g.key_stride;
        let elem_off = g.elems_offset + j * g.elem_stride;
        let mut key = group.wrapping_add(key_off);
        let mut elem = group.wrapping_add(elem_off);
        let word = |off: u64| {
            FieldSpec {
                offset: off,
                size: 8,
            }
            .get(bytes)
            .unwrap_or(0)
        };
        if g.indirect_key {
            key = word(key_off);
            self.ctx.add_object(
                &mut self.objects,
                self.heap,
                StorageKind::IndirectKey,
                key,
                g.key_size,
                g.key_pointerful,
            );
        }
        if g.indirect_elem {
            elem = word(elem_off);
            self.ctx.add_object(
                &mut self.objects,
                self.heap,
                StorageKind::IndirectElem,
                elem,
                g.elem_size,
                g.elem_pointerful,
            );
        }
        if self.ctx.options.collect_entries {
            self.entries.push(Entry { key, elem });
        }
    }
}

pub(crate) fn decode<L: AllocationLookup + ?Sized>(
    ctx: &Ctx<'_, '_>,
    l: &SwissLayout,
    addr: u64,
    heap: &L,
) -> Result<MapInstance, MapError> {
    let raw = ctx.header(addr, l.header_size, "the maps.Map header")?;
    let header = SwissHeader {
        used: l.used.get_or_zero(&raw),
        seed: l.seed.get_or_zero(&raw),
        dir_ptr: l.dir_ptr.get_or_zero(&raw),
        dir_len: l.dir_len.get_or_zero(&raw) as i64,
        global_depth: l.global_depth.get_or_zero(&raw) as u8,
        global_shift: l.global_shift.get_or_zero(&raw) as u8,
        writing: l.writing.get_or_zero(&raw) as u8,
        tombstone_possible: l.tombstone_possible.map(|f| f.get_or_zero(&raw) != 0),
        clear_seq: l.clear_seq.map(|f| f.get_or_zero(&raw)),
    };
    drop(raw);
    let g = l.group;
    let mut walk = Walk {
        ctx,
        heap,
        group: g,
        objects: ObjectSet::default(),
        entries: Vec::new(),
        warnings: Vec::new(),
    };
    let mut storage = SwissStorage {
        group_size: g.size,
        indirect_keys: g.indirect_key,
        indirect_elems: g.indirect_elem,
        split_group: g.split,
        ..SwissStorage::default()
    };
    if g.computed {
        walk.warn(
            "DWARF has no group type for this map: group layout computed from key/value types"
                .into(),
        );
    }
    if header.writing != 0 {
        walk.warn("writing flag set: the map was being written when the core was taken".into());
    }
    ctx.add_object(
        &mut walk.objects,
        heap,
        StorageKind::Header,
        addr,
        l.header_size,
        true,
    );

    if header.dir_len < 0 {
        return Err(MapError::Corrupt {
            addr,
            what: format!("dirLen {} is negative", header.dir_len),
        });
    }
    let dir_len = header.dir_len as u64;
    if dir_len == 0 {
        if header.dir_ptr != 0 {
            // Small map: dirPtr is one group.
            if !ctx.reader.readable(header.dir_ptr, g.size) {
                return Err(MapError::Corrupt {
                    addr,
                    what: format!(
                        "small-map group at {:#x} is not in the core",
                        header.dir_ptr
                    ),
                });
            }
            if header.used > SLOTS {
                walk.warn(format!("small map with used = {} > 8 slots", header.used));
            }
            ctx.add_object(
                &mut walk.objects,
                heap,
                StorageKind::Groups,
                header.dir_ptr,
                g.size,
                g.pointerful,
            );
            let c = walk.scan_groups(header.dir_ptr, 1);
            storage.small = true;
            storage.groups = 1;
            storage.capacity = SLOTS;
            storage.full = c.full;
            storage.deleted = c.deleted;
            storage.empty = c.empty;
            storage.invalid = c.invalid;
        } else if header.used != 0 {
            walk.warn(format!("used {} but no storage (dirPtr nil)", header.used));
        }
    } else {
        if dir_len > MAX_DIR_LEN {
            return Err(MapError::Corrupt {
                addr,
                what: format!("dirLen {dir_len} is absurd"),
            });
        }
        if header.dir_ptr == 0 {
            return Err(MapError::Corrupt {
                addr,
                what: format!("dirLen {dir_len} but dirPtr is nil"),
            });
        }
        let dir_bytes = dir_len * 8;
        if !ctx.reader.readable(header.dir_ptr, dir_bytes) {
            return Err(MapError::Corrupt {
                addr,
                what: format!(
                    "directory of {dir_len} tables at {:#x} is not in the core",
                    header.dir_ptr
                ),
            });
        }
        if u32::from(header.global_depth) >= 64 || dir_len != 1u64 << header.global_depth {
            walk.warn(format!(
                "dirLen {dir_len} is not 2^globalDepth (globalDepth {})",
                header.global_depth
            ));
        }
        ctx.add_object(
            &mut walk.objects,
            heap,
            StorageKind::Directory,
            header.dir_ptr,
            dir_bytes,
            true,
        );
        let mut seen = AddrSet::default();
        for i in 0..dir_len {
            let table = match ctx.reader.u64(header.dir_ptr + i * 8) {
                Ok(t) => t,
                Err(e) => {
                    walk.warn(format!("directory entry {i} unreadable: {e}"));
                    continue;
                }
            };
            if table == 0 {
                walk.warn(format!("directory entry {i} is nil"));
                continue;
            }
            if !seen.insert(table) {
                continue;
            }
            decode_table(&mut walk, l, &mut storage, &header, table, i);
        }
    }

    if storage.full != header.used {
        walk.warn(format!(
            "len {} (Map.used) but {} full slots counted in the groups",
            header.used, storage.full
        ));
    }
    if storage.invalid > 0 {
        walk.warn(format!(
            "{} control bytes are neither full, empty nor deleted",
            storage.invalid
        ));
    }
    let (objects, storage_bytes, estimated_objects) = finish_objects(walk.objects);
    let capacity = storage.capacity;
    Ok(MapInstance {
        kind: MapKind::Map,
        implementation: Implementation::Swiss,
        type_name: String::new(),
        map_type: TypeId::UNKNOWN,
        key_type: TypeId::UNKNOWN,
        elem_type: TypeId::UNKNOWN,
        address: addr,
        len: header.used,
        live_entries: storage.full,
        capacity,
        overflow_slots: 0,
        tombstones: storage.deleted,
        growing: false,
        same_size_grow: false,
        load_factor: if capacity == 0 {
            0.0
        } else {
            header.used as f64 / capacity as f64
        },
        storage_bytes,
        estimated_objects,
        header: Header::Swiss(header),
        storage: Storage::Swiss(storage),
        objects,
        entries: walk.entries,
        inner: Vec::new(),
        warnings: walk.warnings,
    })
}

fn decode_table<L: AllocationLookup + ?Sized>(
    walk: &mut Walk<'_, '_, '_, L>,
    l: &SwissLayout,
    storage: &mut SwissStorage,
    header: &SwissHeader,
    table: u64,
    dir_index: u64,
) {
    let ctx = walk.ctx;
    let raw = match ctx.reader.bytes(table, l.table_size as usize) {
        Ok(r) => r,
        Err(e) => {
            storage.tables_skipped += 1;
            walk.warn(format!("table at {table:#x} unreadable: {e}"));
            return;
        }
    };
    let mut t = SwissTable {
        address: table,
        used: l.t_used.get_or_zero(&raw) as u16,
        capacity: l.t_capacity.get_or_zero(&raw) as u16,
        growth_left: l.t_growth_left.get_or_zero(&raw) as u16,
        local_depth: l.t_local_depth.get_or_zero(&raw) as u8,
        index: l.t_index.get_or_zero(&raw) as i64,
        groups: l.t_groups_data.get_or_zero(&raw),
        length_mask: l.t_length_mask.get_or_zero(&raw),
        full: 0,
        deleted: 0,
        empty: 0,
    };
    drop(raw);
    let ngroups = t.length_mask.wrapping_add(1);
    let group_bytes = ngroups.saturating_mul(walk.group.size);
    if ngroups == 0 || !ngroups.is_power_of_two() || ngroups > MAX_TABLE_GROUPS {
        storage.tables_skipped += 1;
        walk.warn(format!(
            "table at {table:#x}: lengthMask {} is absurd: skipped",
            t.length_mask
        ));
        return;
    }
    if t.groups == 0 || !ctx.reader.readable(t.groups, group_bytes) {
        storage.tables_skipped += 1;
        walk.warn(format!(
            "table at {table:#x}: {ngroups} groups at {:#x} are not in the core: skipped",
            t.groups
        ));
        return;
    }
    if u64::from(t.capacity) != ngroups * SLOTS {
        walk.warn(format!(
            "table at {table:#x}: capacity {} but {ngroups} groups",
            t.capacity
        ));
    }
    if t.local_depth > header.global_depth {
        walk.warn(format!(
            "table at {table:#x}: localDepth {} > globalDepth {}",
            t.local_depth, header.global_depth
        ));
    }
    if t.index >= 0 && t.index as u64 != dir_index {
        walk.warn(format!(
            "table at {table:#x}: index {} but first seen at directory entry {dir_index}",
            t.index
        ));
    }
    walk.ctx.add_object(
        &mut walk.objects,
        walk.heap,
        StorageKind::Table,
        table,
        l.table_size,
        true,
    );
    let (g_size, g_ptr) = (walk.group.size, walk.group.pointerful);
    walk.ctx.add_object(
        &mut walk.objects,
        walk.heap,
        StorageKind::Groups,
        t.groups,
        ngroups * g_size,
        g_ptr,
    );
    let c = walk.scan_groups(t.groups, ngroups);
    t.full = c.full;
    t.deleted = c.deleted;
    t.empty = c.empty;
    if c.full != u64::from(t.used) {
        walk.warn(format!(
            "table at {table:#x}: used {} but {} full slots counted",
            t.used, c.full
        ));
    }
    storage.tables += 1;
    storage.groups += ngroups;
    storage.capacity += u64::from(t.capacity);
    storage.full += c.full;
    storage.deleted += c.deleted;
    storage.empty += c.empty;
    storage.invalid += c.invalid;
    storage.growth_left += u64::from(t.growth_left);
    storage.table_list.push(t);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time counts equal the byte-by-byte classification.
    #[test]
    fn control_word_counts() {
        let specials = [0x00u8, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0xfd];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..20_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let word = if round % 2 == 0 {
                state
            } else {
                // Words made of the interesting bytes only.
                (0..8).fold(0u64, |w, j| {
                    let pick = (state >> (j * 4)) as usize % specials.len();
                    w | u64::from(specials[pick]) << (j * 8)
                })
            };
            let (mut full, mut deleted, mut empty) = (0, 0, 0);
            for j in 0..8 {
                let c = (word >> (8 * j)) as u8;
                if c & 0x80 == 0 {
                    full += 1;
                } else if c == CTRL_DELETED {
                    deleted += 1;
                } else if c == CTRL_EMPTY {
                    empty += 1;
                }
            }
            assert_eq!(
                u64::from((!word & HIGH_BITS).count_ones()),
                full,
                "{word:#x}"
            );
            assert_eq!(bytes_equal(word, CTRL_DELETED), deleted, "{word:#x}");
            assert_eq!(bytes_equal(word, CTRL_EMPTY), empty, "{word:#x}");
        }
    }
}
