//! Every allocated heap object by type: the rows of [`Heap::types`] (the
//! types the runtime records — malloc headers of small objects over 512
//! bytes, `largeType` of large spans — merged by name) plus the objects
//! the heap carries no type for, in two rows: pointer-free (`noscan`
//! spans: Go stores no type for them) and with pointers (small scannable
//! objects of 512 bytes or less, whose type Go 1.22+ keeps only as heap
//! bits; before Go 1.22 every object). The rows sum to
//! [`Heap::in_use_bytes`] and [`Heap::object_count`] exactly.
//!
//! Owns: the full histogram. Must not touch: reading the type words (the
//! walk's `read_types` in `mod.rs` does, once) or type names
//! (`types.rs`).

use std::collections::HashMap;

use super::Heap;

/// Row of the objects without a recorded type in pointer-free spans.
pub const UNTYPED_POINTER_FREE: &str = "(no type: pointer-free)";
/// Row of the scannable objects without a recorded type (small objects).
pub const UNTYPED_WITH_POINTERS: &str = "(no type: with pointers)";

/// One row of [`Heap::type_histogram`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeRow {
    /// The runtime's type name (`*ir.Name`, `noalg.map.group[string]int`),
    /// `(type 0x…)` when its descriptor is unreadable, or one of the
    /// untyped rows.
    pub name: String,
    /// Whether the heap records this type (false for the untyped rows).
    pub typed: bool,
    pub objects: u64,
    pub bytes: u64,
}

impl Heap {
    /// Every allocated object by type, largest bytes first (see the
    /// module doc); the rows sum to the heap in use.
    pub fn type_histogram(&self) -> Vec<TypeRow> {
        let mut by_name: HashMap<String, (u64, u64)> = HashMap::new();
        let (mut typed_objects, mut typed_bytes) = (0u64, 0u64);
        for t in self.types() {
            let name = t
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("(type {:#x})", t.type_address));
            let e = by_name.entry(name).or_default();
            e.0 += t.objects;
            e.1 += t.bytes;
            typed_objects += t.objects;
            typed_bytes += t.bytes;
        }
        // Pointer-free spans carry no type (the walk drops a large one's
        // stale `largeType`).
        let (mut free_objects, mut free_bytes) = (0u64, 0u64);
        for s in self.spans() {
            if s.noscan {
                free_objects += s.allocated as u64;
                free_bytes += s.in_use_bytes();
            }
        }
        let mut rows: Vec<TypeRow> = by_name
            .into_iter()
            .map(|(name, (objects, bytes))| TypeRow {
                name,
                typed: true,
                objects,
                bytes,
            })
            .collect();
        let untyped = [
            (UNTYPED_POINTER_FREE, free_objects, free_bytes),
            (
                UNTYPED_WITH_POINTERS,
                self.object_count()
                    .saturating_sub(typed_objects)
                    .saturating_sub(free_objects),
                self.in_use_bytes()
                    .saturating_sub(typed_bytes)
                    .saturating_sub(free_bytes),
            ),
        ];
        for (name, objects, bytes) in untyped {
            if objects > 0 || bytes > 0 {
                rows.push(TypeRow {
                    name: name.to_string(),
                    typed: false,
                    objects,
                    bytes,
                });
            }
        }
        rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
        rows
    }
}
