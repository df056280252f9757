//! The plain result model of decoding one map: [`MapInstance`] with its
//! header as read, what walking its storage found, the storage objects and
//! the live entries. Serializable; no formatting here.

use mapscope_goruntime::dwarf::TypeId;
use serde::Serialize;

use crate::alloc::StorageObject;

/// What kind of structure was decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum MapKind {
    /// A Go `map[K]V`.
    #[serde(rename = "map")]
    Map,
    /// A `sync.Map`.
    #[serde(rename = "sync.Map")]
    SyncMap,
}

/// Which implementation the storage uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Implementation {
    /// `hmap` + buckets.
    Classic,
    /// `internal/runtime/maps.Map` + tables + groups.
    Swiss,
    /// `sync.Map` as a read-only map plus a dirty map (≤ 1.23).
    ReadDirty,
    /// `sync.Map` as `internal/sync.HashTrieMap` (1.24+).
    HashTrie,
}

/// One live entry: where its key and value are (after following indirect
/// slots), typed by [`MapInstance::key_type`] / [`MapInstance::elem_type`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Address of a `K` value.
    pub key: u64,
    /// Address of a `V` value.
    pub elem: u64,
}

/// `runtime.hmap` as read from the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ClassicHeader {
    pub count: i64,
    pub flags: u8,
    #[serde(rename = "B")]
    pub b: u8,
    pub noverflow: u16,
    pub hash0: u32,
    pub buckets: u64,
    pub oldbuckets: u64,
    pub nevacuate: u64,
    /// Go 1.24/1.25 built with `noswissmap` only.
    pub clear_seq: Option<u64>,
    pub extra: u64,
}

/// What walking a classic map's buckets found (same meaning as truth.json's
/// `storage` of the sample program).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClassicStorage {
    pub bucket_size: u64,
    /// 2^B.
    pub buckets: u64,
    /// Overflow buckets chained from the current array.
    pub overflow_buckets: u64,
    /// 0 unless growing: 2^(B-1), or 2^B for a same-size grow.
    pub old_buckets: u64,
    pub old_overflow_buckets: u64,
    /// Old buckets whose first tophash says evacuated (2–4).
    pub evacuated_old_buckets: u64,
    /// tophash ≥ 5, in the current and old arrays.
    pub live_slots: u64,
    /// tophash 0 or 1.
    pub empty_slots: u64,
    /// tophash 1 (`emptyOne`): a slot emptied by a delete, reusable.
    pub deleted_marks: u64,
    /// tophash 2–4 (in old buckets): moved to the new array.
    pub evacuated_slots: u64,
    /// Slots whose tophash is not a valid value (1 < t < 5 outside old
    /// buckets): a sign of corruption.
    pub unexpected_slots: u64,
    pub indirect_keys: bool,
    pub indirect_elems: bool,
    /// Overflow chains cut because they looped or exceeded the bound.
    pub chains_cut: u64,
}

/// `internal/runtime/maps.Map` as read from the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SwissHeader {
    pub used: u64,
    pub seed: u64,
    pub dir_ptr: u64,
    pub dir_len: i64,
    pub global_depth: u8,
    pub global_shift: u8,
    pub writing: u8,
    /// Go 1.25+.
    pub tombstone_possible: Option<bool>,
    pub clear_seq: Option<u64>,
}

/// One distinct table of a Swiss map's directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SwissTable {
    pub address: u64,
    pub used: u16,
    pub capacity: u16,
    pub growth_left: u16,
    pub local_depth: u8,
    pub index: i64,
    /// `groups.data`.
    pub groups: u64,
    pub length_mask: u64,
    /// Control bytes counted in this table's groups.
    pub full: u64,
    pub deleted: u64,
    pub empty: u64,
}

/// What walking a Swiss map's directory, tables and groups found (same
/// meaning as truth.json's `storage`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SwissStorage {
    pub group_size: u64,
    /// dirLen == 0 and dirPtr != nil: a single group, no table.
    pub small: bool,
    /// Distinct tables (directory entries repeat when localDepth < globalDepth).
    pub tables: u64,
    pub groups: u64,
    /// Slots: Σ table.capacity, or 8 for a small map.
    pub capacity: u64,
    pub full: u64,
    pub deleted: u64,
    pub empty: u64,
    /// Control bytes that are neither full, empty nor deleted (corruption).
    pub invalid: u64,
    /// Σ table.growthLeft (0 for a small map).
    pub growth_left: u64,
    pub indirect_keys: bool,
    pub indirect_elems: bool,
    /// Go 1.27 `GOEXPERIMENT=mapsplitgroup`: keys and values in two arrays.
    pub split_group: bool,
    /// Every distinct table, in directory order.
    pub table_list: Vec<SwissTable>,
    /// Tables skipped because they were unreadable or absurd.
    pub tables_skipped: u64,
}

/// `sync.Map` before Go 1.24 (and 1.24/1.25 with `nosynchashtriemap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ReadDirtyHeader {
    /// `*readOnly`.
    pub read: u64,
    /// `readOnly.m` (map header address).
    pub read_map: u64,
    /// `len(readOnly.m)` from its header.
    pub read_len: u64,
    pub amended: bool,
    /// The dirty map's header address.
    pub dirty: u64,
    pub dirty_len: u64,
    pub misses: i64,
    /// Entries counted in the read map whose value is nil or expunged.
    pub read_dead_entries: u64,
    /// Entries counted in the dirty map whose value is nil or expunged.
    pub dirty_dead_entries: u64,
}

/// `sync.Map` as `internal/sync.HashTrieMap[any, any]` (Go 1.24+).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HashTrieHeader {
    pub inited: u32,
    /// `*indirect` root node.
    pub root: u64,
    pub indirect_nodes: u64,
    /// Entry nodes including overflow chains: the number of keys.
    pub entry_nodes: u64,
    /// Depth of the deepest indirect node (root = 1).
    pub max_depth: u64,
}

/// The header as read, per implementation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "impl", rename_all = "kebab-case")]
pub enum Header {
    Classic(ClassicHeader),
    Swiss(SwissHeader),
    ReadDirty(ReadDirtyHeader),
    HashTrie(HashTrieHeader),
}

/// What walking the storage found, per implementation (`sync.Map` has its
/// counts in the header and its inner maps in [`MapInstance::inner`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "impl", rename_all = "kebab-case")]
pub enum Storage {
    Classic(ClassicStorage),
    Swiss(SwissStorage),
    None,
}

/// One decoded map (or `sync.Map`).
#[derive(Clone, Debug, Serialize)]
pub struct MapInstance {
    pub kind: MapKind,
    pub implementation: Implementation,
    /// Go syntax: `map[int64]*main.Session`, `sync.Map`, or the named type.
    pub type_name: String,
    /// The DWARF type the map was decoded with.
    #[serde(skip)]
    pub map_type: TypeId,
    /// Type of the values at [`Entry::key`].
    #[serde(skip)]
    pub key_type: TypeId,
    /// Type of the values at [`Entry::elem`].
    #[serde(skip)]
    pub elem_type: TypeId,
    /// The map header (`*hmap`/`*maps.Map`), or the `sync.Map` value.
    pub address: u64,
    /// `len` as the header records it (`count`/`used`); for `sync.Map`, the
    /// live entries counted (it has no count field).
    pub len: u64,
    /// Entries counted from tophash / control bytes / trie entries.
    pub live_entries: u64,
    /// Slots of the primary table: classic 8 × 2^B, Swiss Σ table capacity
    /// (8 for a small map); `sync.Map`: its inner maps' sum, or entry nodes.
    pub capacity: u64,
    /// Classic: 8 × overflow buckets chained from the current array (slots
    /// beyond `capacity`). 0 otherwise.
    pub overflow_slots: u64,
    /// Swiss deleted control bytes; 0 for classic maps (see
    /// [`ClassicStorage::deleted_marks`]).
    pub tombstones: u64,
    /// Classic: an evacuation is in progress (`oldbuckets != nil`).
    pub growing: bool,
    /// Classic: the grow is a same-size grow (too many overflow buckets).
    pub same_size_grow: bool,
    /// `len / capacity` (slot occupancy, 0 when capacity is 0). Classic maps
    /// grow at 6.5/8 = 0.8125 (1.21: 0.75), Swiss tables at 7/8.
    pub load_factor: f64,
    /// Σ allocated sizes of [`MapInstance::objects`].
    pub storage_bytes: u64,
    /// How many objects' sizes were estimated from size classes because the
    /// allocation lookup did not know them.
    pub estimated_objects: u64,
    pub header: Header,
    pub storage: Storage,
    /// Every allocation that makes up the map's storage, deduplicated.
    pub objects: Vec<StorageObject>,
    /// Live entries (empty when entry collection was switched off).
    #[serde(skip)]
    pub entries: Vec<Entry>,
    /// `sync.Map` read-dirty: the read map and the dirty map, decoded.
    pub inner: Vec<MapInstance>,
    /// Everything that looked wrong, one line each, with addresses
    /// (a `len` that disagrees with the counted entries is here).
    pub warnings: Vec<String>,
}

impl MapInstance {
    /// Whether the header's `len` equals the entries counted.
    pub fn len_consistent(&self) -> bool {
        self.len == self.live_entries
    }
}
