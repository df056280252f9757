//! Classic maps: `hmap` → bucket array (2^B buckets of 8 slots) with
//! overflow chains, plus the old array while an incremental evacuation
//! runs. Mirrors `runtime/map.go` of Go 1.21–1.23 (and 1.24/1.25
//! `noswissmap`):
//!
//! - tophash 0/1 empty (1 = emptyOne, left by a delete), 2–4 evacuated,
//!   ≥ 5 a live entry; an old bucket is evacuated when its first tophash is
//!   2–4;
//! - the old array has 2^(B-1) buckets, or 2^B for a same-size grow;
//! - arrays with B ≥ 4 are allocated with 2^(B-4) extra buckets at the end
//!   that later serve as overflow buckets (`nextOverflow`);
//! - maps without pointers keep their overflow buckets alive through
//!   `mapextra.overflow`/`oldoverflow` (`*[]*bmap`).

use crate::addrhash::AddrSet;

use mapscope_goruntime::dwarf::TypeId;

use crate::alloc::{AllocationLookup, ObjectSet, StorageKind};
use crate::error::MapError;
use crate::layout::{ClassicLayout, SlotLayout, MIN_TOPHASH, SLOTS, TOPHASH_EMPTY_ONE};
use crate::model::{
    ClassicHeader, ClassicStorage, Entry, Header, Implementation, MapInstance, MapKind, Storage,
};
use crate::{finish_objects, Ctx};

/// B beyond this cannot be a real map (2^40 buckets is 16 TiB of storage).
const MAX_B: u8 = 40;
/// `noverflow` is exact only below this B (it is sampled above).
const NOVERFLOW_EXACT_B: u8 = 16;

/// Requested bytes of a bucket array of 2^b buckets, with the overflow
/// buckets `makeBucketArray` preallocates for b ≥ 4.
fn array_request(bucket_size: u64, b: u8) -> u64 {
    let mut n = 1u64 << b;
    if b >= 4 {
        n += 1u64 << (b - 4);
    }
    n.saturating_mul(bucket_size)
}

struct Walk<'c, 'd, 'a, L: ?Sized> {
    ctx: &'c Ctx<'d, 'a>,
    heap: &'c L,
    bucket: SlotLayout,
    objects: ObjectSet,
    storage: ClassicStorage,
    entries: Vec<Entry>,
    warnings: Vec<String>,
    visited: AddrSet,
    overflow_budget: u64,
    overflow_seen: u64,
    /// Primary arrays (start, end): an overflow pointer into them is corrupt.
    arrays: Vec<(u64, u64)>,
}

impl<L: AllocationLookup + ?Sized> Walk<'_, '_, '_, L> {
    fn warn(&mut self, message: String) {
        // Keep reports short on a badly damaged map.
        if self.warnings.len() < 32 {
            self.warnings.push(message);
        }
    }

    /// Counts the slots of one bucket; `Err` when it cannot be read.
    fn scan_bucket(&mut self, b: u64, old: bool) -> Result<(), ()> {
        let size = self.bucket.size as usize;
        let bytes = match self.ctx.reader.bytes(b, size) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.warn(format!("bucket at {b:#x} unreadable: {e}"));
                return Err(());
            }
        };
        let control = self.bucket.control_offset as usize;
        for j in 0..SLOTS {
            let Some(&th) = bytes.get(control + j as usize) else {
                break;
            };
            if th >= MIN_TOPHASH {
                self.storage.live_slots += 1;
                self.live_slot(b, &bytes, j);
            } else if th <= TOPHASH_EMPTY_ONE {
                self.storage.empty_slots += 1;
                if th == TOPHASH_EMPTY_ONE {
                    self.storage.deleted_marks += 1;
                }
            } else if old {
                self.storage.evacuated_slots += 1;
            } else {
                self.storage.unexpected_slots += 1;
            }
        }
        Ok(())
    }

    fn live_slot(&mut self, b: u64, bytes: &[u8], j: u64) {
        let l = self.bucket;
        let key_off = l.keys_offset + j * l.key_stride;
        let elem_off = l.elems_offset + j * l.elem_stride;
        let mut key = b.wrapping_add(key_off);
        let mut elem = b.wrapping_add(elem_off);
        if l.indirect_key {
            key = read_word(bytes, key_off);
            self.ctx.add_object(
                &mut self.objects,
                self.heap,
                StorageKind::IndirectKey,
                key,
                l.key_size,
                l.key_pointerful,
            );
        }
        if l.indirect_elem {
            elem = read_word(bytes, elem_off);
            self.ctx.add_object(
                &mut self.objects,
                self.heap,
                StorageKind::IndirectElem,
                elem,
                l.elem_size,
                l.elem_pointerful,
            );
        }
        if self.ctx.options.collect_entries {
            self.entries.push(Entry { key, elem });
        }
    }

    /// Walks bucket `first` and its overflow chain.
    fn walk_chain(&mut self, first: u64, old: bool) {
        let mut b = first;
        loop {
            if self.scan_bucket(b, old).is_err() {
                return;
            }
            let Some(off) = self.bucket.overflow_offset else {
                return;
            };
            let next = match self.ctx.reader.u64(b.wrapping_add(off)) {
                Ok(n) => n,
                Err(e) => {
                    self.warn(format!("overflow pointer of bucket {b:#x} unreadable: {e}"));
                    return;
                }
            };
            if next == 0 {
                return;
            }
            if self.arrays.iter().any(|&(s, e)| next >= s && next < e) {
                self.storage.chains_cut += 1;
                self.warn(format!(
                    "overflow pointer {next:#x} of bucket {b:#x} points back into a primary bucket array: chain cut"
                ));
                return;
            }
            if !self.visited.insert(next) {
                self.storage.chains_cut += 1;
                self.warn(format!(
                    "overflow chain from bucket {first:#x} reaches {next:#x} twice (cycle): chain cut"
                ));
                return;
            }
            if self.overflow_seen >= self.overflow_budget {
                self.storage.chains_cut += 1;
                self.warn(format!(
                    "more than {} overflow buckets (more than the map could hold): chain from {first:#x} cut",
                    self.overflow_budget
                ));
                return;
            }
            self.overflow_seen += 1;
            if old {
                self.storage.old_overflow_buckets += 1;
            } else {
                self.storage.overflow_buckets += 1;
            }
            let (size, pointerful) = (self.bucket.size, self.bucket.pointerful);
            self.ctx.add_object(
                &mut self.objects,
                self.heap,
                StorageKind::OverflowBucket,
                next,
                size,
                pointerful,
            );
            b = next;
        }
    }

    /// `mapextra.overflow`/`oldoverflow`: a `*[]*bmap`.
    fn overflow_list(&mut self, slice_header: u64) {
        if slice_header == 0 {
            return;
        }
        let ps = 8u64;
        self.ctx.add_object(
            &mut self.objects,
            self.heap,
            StorageKind::OverflowList,
            slice_header,
            3 * ps,
            true,
        );
        let words = (
            self.ctx.reader.u64(slice_header),
            self.ctx.reader.u64(slice_header.wrapping_add(2 * ps)),
        );
        match words {
            (Ok(array), Ok(cap)) if array != 0 => {
                let bytes = cap
                    .checked_mul(ps)
                    .filter(|&b| self.ctx.reader.readable(array, b));
                match bytes {
                    Some(bytes) => {
                        self.ctx.add_object(&mut self.objects, self.heap, StorageKind::OverflowList, array, bytes, true);
                    }
                    None => self.warn(format!(
                        "overflow list at {slice_header:#x}: backing array {array:#x} of cap {cap} not in the core"
                    )),
                }
            }
            (Ok(_), Ok(_)) => {}
            _ => self.warn(format!("overflow list at {slice_header:#x} unreadable")),
        }
    }
}

fn read_word(bytes: &[u8], off: u64) -> u64 {
    let start = off as usize;
    bytes
        .get(start..start + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

pub(crate) fn decode<L: AllocationLookup + ?Sized>(
    ctx: &Ctx<'_, '_>,
    l: &ClassicLayout,
    addr: u64,
    heap: &L,
) -> Result<MapInstance, MapError> {
    let raw = ctx.header(addr, l.header_size, "the hmap header")?;
    let header = ClassicHeader {
        count: l.count.get_or_zero(&raw) as i64,
        flags: l.flags.get_or_zero(&raw) as u8,
        b: l.b.get_or_zero(&raw) as u8,
        noverflow: l.noverflow.get_or_zero(&raw) as u16,
        hash0: l.hash0.get_or_zero(&raw) as u32,
        buckets: l.buckets.get_or_zero(&raw),
        oldbuckets: l.oldbuckets.get_or_zero(&raw),
        nevacuate: l.nevacuate.get_or_zero(&raw),
        clear_seq: l.clear_seq.map(|f| f.get_or_zero(&raw)),
        extra: l.extra.get_or_zero(&raw),
    };
    drop(raw);
    if header.count < 0 {
        return Err(MapError::Corrupt {
            addr,
            what: format!("count {} is negative", header.count),
        });
    }
    if header.b > MAX_B {
        return Err(MapError::Corrupt {
            addr,
            what: format!("B = {} (2^B buckets cannot exist)", header.b),
        });
    }
    let bucket = l.bucket;
    let nbuckets = 1u64 << header.b;
    let count = header.count as u64;
    let mut walk = Walk {
        ctx,
        heap,
        bucket,
        objects: ObjectSet::default(),
        storage: ClassicStorage {
            bucket_size: bucket.size,
            buckets: nbuckets,
            indirect_keys: bucket.indirect_key,
            indirect_elems: bucket.indirect_elem,
            ..ClassicStorage::default()
        },
        entries: Vec::new(),
        warnings: Vec::new(),
        visited: AddrSet::default(),
        // A real map has at most about 2^B overflow buckets per array
        // before a same-size grow; allow old + new, generously.
        overflow_budget: nbuckets
            .saturating_mul(4)
            .saturating_add(count / SLOTS)
            .saturating_add(1024),
        overflow_seen: 0,
        arrays: Vec::new(),
    };
    if bucket.computed {
        walk.warn(
            "DWARF has no bucket type for this map: bucket layout computed from key/value types"
                .into(),
        );
    }
    if header.flags as u64 & ctx.decoder.hash_writing != 0 {
        walk.warn("hashWriting flag set: the map was being written when the core was taken".into());
    }
    ctx.add_object(
        &mut walk.objects,
        heap,
        StorageKind::Header,
        addr,
        l.header_size,
        true,
    );

    let array_bytes = nbuckets
        .checked_mul(bucket.size)
        .ok_or_else(|| MapError::Corrupt {
            addr,
            what: format!("B = {}: bucket array size overflows", header.b),
        })?;
    if header.buckets == 0 {
        walk.storage.buckets = 0;
        if count > 0 {
            walk.warn(format!("count {count} but no bucket array"));
        }
    } else {
        if !ctx.reader.readable(header.buckets, array_bytes) {
            return Err(MapError::Corrupt {
                addr,
                what: format!(
                    "bucket array of 2^{} × {} bytes at {:#x} is not in the core",
                    header.b, bucket.size, header.buckets
                ),
            });
        }
        walk.arrays
            .push((header.buckets, header.buckets + array_bytes));
    }
    let same_size = header.flags as u64 & l.same_size_grow != 0;
    let old_b = if same_size {
        Some(header.b)
    } else {
        header.b.checked_sub(1)
    };
    let mut old_ok = false;
    if header.oldbuckets != 0 {
        match old_b {
            Some(ob) => {
                let old_n = 1u64 << ob;
                let old_bytes = old_n.saturating_mul(bucket.size);
                if ctx.reader.readable(header.oldbuckets, old_bytes) {
                    walk.arrays
                        .push((header.oldbuckets, header.oldbuckets + old_bytes));
                    walk.storage.old_buckets = old_n;
                    old_ok = true;
                } else {
                    walk.warn(format!(
                        "old bucket array of {old_n} buckets at {:#x} is not in the core: entries not yet evacuated are not counted",
                        header.oldbuckets
                    ));
                }
            }
            None => {
                walk.warn("oldbuckets set with B = 0 and no same-size grow flag: ignored".into())
            }
        }
    }

    if header.buckets != 0 {
        ctx.add_object(
            &mut walk.objects,
            heap,
            StorageKind::Buckets,
            header.buckets,
            array_request(bucket.size, header.b),
            bucket.pointerful,
        );
        for i in 0..nbuckets {
            walk.walk_chain(header.buckets + i * bucket.size, false);
        }
    }
    if old_ok {
        let ob = old_b.unwrap_or(0);
        ctx.add_object(
            &mut walk.objects,
            heap,
            StorageKind::OldBuckets,
            header.oldbuckets,
            array_request(bucket.size, ob),
            bucket.pointerful,
        );
        let mut not_evacuated_below = 0u64;
        for i in 0..walk.storage.old_buckets {
            let b = header.oldbuckets + i * bucket.size;
            let first = ctx
                .reader
                .u8(b.wrapping_add(bucket.control_offset))
                .unwrap_or(0);
            let evacuated = (2..MIN_TOPHASH).contains(&first);
            if evacuated {
                walk.storage.evacuated_old_buckets += 1;
            } else if i < header.nevacuate {
                not_evacuated_below += 1;
            }
            walk.walk_chain(b, true);
        }
        if not_evacuated_below > 0 {
            walk.warn(format!(
                "{not_evacuated_below} old buckets below nevacuate {} are not marked evacuated",
                header.nevacuate
            ));
        }
    }

    if header.extra != 0 {
        ctx.add_object(
            &mut walk.objects,
            heap,
            StorageKind::MapExtra,
            header.extra,
            l.extra_size,
            true,
        );
        match ctx.reader.bytes(header.extra, l.extra_size as usize) {
            Ok(extra) => {
                let overflow = l.extra_overflow.get_or_zero(&extra);
                let oldoverflow = l.extra_oldoverflow.get_or_zero(&extra);
                drop(extra);
                walk.overflow_list(overflow);
                walk.overflow_list(oldoverflow);
            }
            Err(e) => walk.warn(format!("mapextra at {:#x} unreadable: {e}", header.extra)),
        }
    }

    let storage = walk.storage;
    if storage.live_slots != count {
        walk.warn(format!(
            "len {count} (hmap.count) but {} live slots counted in the buckets",
            storage.live_slots
        ));
    }
    if header.b < NOVERFLOW_EXACT_B
        && u64::from(header.noverflow) != storage.overflow_buckets
        && storage.chains_cut == 0
    {
        walk.warn(format!(
            "noverflow {} but {} overflow buckets chained from the current array",
            header.noverflow, storage.overflow_buckets
        ));
    }
    if storage.unexpected_slots > 0 {
        walk.warn(format!(
            "{} slots of the current array have an evacuation tophash (2–4)",
            storage.unexpected_slots
        ));
    }
    let (objects, storage_bytes, estimated_objects) = finish_objects(walk.objects);
    let capacity = SLOTS * storage.buckets;
    Ok(MapInstance {
        kind: MapKind::Map,
        implementation: Implementation::Classic,
        type_name: String::new(),
        map_type: TypeId::UNKNOWN,
        key_type: TypeId::UNKNOWN,
        elem_type: TypeId::UNKNOWN,
        address: addr,
        len: count,
        live_entries: storage.live_slots,
        capacity,
        overflow_slots: SLOTS * storage.overflow_buckets,
        tombstones: 0,
        growing: header.oldbuckets != 0,
        same_size_grow: header.oldbuckets != 0 && same_size,
        load_factor: if capacity == 0 {
            0.0
        } else {
            count as f64 / capacity as f64
        },
        storage_bytes,
        estimated_objects,
        header: Header::Classic(header),
        storage: Storage::Classic(storage),
        objects,
        entries: walk.entries,
        inner: Vec::new(),
        warnings: walk.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::array_request;

    #[test]
    fn preallocated_overflow_buckets() {
        assert_eq!(array_request(144, 0), 144);
        assert_eq!(array_request(144, 3), 8 * 144);
        assert_eq!(array_request(144, 4), 17 * 144);
        assert_eq!(array_request(144, 11), (2048 + 128) * 144);
    }
}
