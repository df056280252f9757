//! Which words of heap objects and of the data/bss segments hold pointers,
//! as the Go garbage collector knows them — so the object graph follows
//! the edges the GC follows and nothing else (a `uintptr`, an integer or
//! the stale tail of a size-class slot never pins an object).
//!
//! Owns: reading the runtime's pointer bitmaps out of the process image:
//! - small objects without a malloc header (Go 1.22+, ≤ 512 bytes): the
//!   span's heap bits, one bit per word in the span's last `size/64` bytes
//!   (`runtime.(*mspan).heapBits`);
//! - objects with a malloc header or a large span (Go 1.22+): the type in
//!   the header / `mspan.largeType`, its `GCData` mask tiled over the object
//!   (`typePointersOfUnchecked`), including masks built on demand (1.24+,
//!   `TFlagGCMaskOnDemand`: `GCData` points to the slot holding the mask);
//! - globals: `firstmoduledata.gcdatamask`/`gcbssmask` (bit per word of
//!   `[data, edata)` / `[bss, ebss)`), built by the runtime at start-up.
//!
//! Everything the runtime cannot describe precisely here (Go 1.21's arena
//! bitmap, GC programs, a mask never built, unreadable metadata) is scanned
//! conservatively and counted, never dropped. Where each bitmap is (the
//! scheme, offsets, `firstmoduledata`) is resolved by the Go-runtime layer
//! ([`GcLayout`]); this module reads the bits. Must not touch: the heap
//! walk (mapscope-goruntime) or graph construction ([`crate::graph`]).

use std::collections::HashMap;

use mapscope_elfcore::ProcessMemory;
use mapscope_goruntime::heap::{Heap, Span};
use mapscope_goruntime::layout::gc::{
    ArenaBitmapLayout, GcLayout, HeapBits, ModuleDataLayout, TypeMaskFields, KIND_GC_PROG,
    TFLAG_GC_MASK_ON_DEMAND,
};
use mapscope_goruntime::GoProcess;

/// Largest object whose type mask is read (bytes of mask = size / 64).
const MAX_MASK_BYTES: u64 = 1 << 24;

/// The pointer mask of one runtime type.
#[derive(Debug, Clone)]
pub struct TypeMask {
    /// `Size_`: the tiling period.
    pub size: u64,
    /// `PtrBytes`: the prefix of each element that may hold pointers.
    pub ptr_bytes: u64,
    /// One bit per word of `[0, ptr_bytes)`.
    pub bits: Vec<u8>,
}

impl TypeMask {
    fn bit(&self, word: u64) -> bool {
        usize::try_from(word / 8)
            .ok()
            .and_then(|i| self.bits.get(i))
            .is_some_and(|b| b >> (word % 8) & 1 != 0)
    }
}

/// How one object's words are to be scanned.
pub enum ObjectScan<'a> {
    /// Pointer-free (noscan span).
    None,
    /// Exactly these words (addresses) may hold pointers.
    Bits {
        /// Address of the first word the bits describe.
        base: u64,
        /// Number of words.
        words: u64,
        /// One bit per word, little-endian bit order.
        bits: &'a [u8],
    },
    /// Tiled type mask from `base` to `limit`.
    Typed {
        base: u64,
        limit: u64,
        mask: &'a TypeMask,
    },
    /// No precise information: every word.
    Conservative,
}

/// Pointer-bitmap knowledge for one process image.
#[derive(Default)]
pub struct PointerMaps {
    /// Small spans carry heap bits (Go 1.22+ malloc-header era).
    heap_bits_in_span: bool,
    /// Largest object size with in-span heap bits (`minSizeForMallocHeader`).
    header_min: u64,
    /// Go 1.26+ Green Tea GC: bytes of `spanInlineMarkBits` just before the
    /// heap bits of spans of objects of at least 16 bytes (0 when absent).
    inline_mark_bytes: u64,
    /// Go 1.21: the arena's one-bit-per-word heap bitmap.
    arena_bitmap: Option<ArenaBitmap>,
    /// Masks by type-descriptor address; `None` when not precise.
    masks: HashMap<u64, Option<TypeMask>>,
    /// Pointer words (addresses) of the data and bss segments, when the
    /// runtime's masks could be read.
    global_words: Option<Vec<u64>>,
    /// What could not be made precise.
    pub warnings: Vec<String>,
}

/// Where Go 1.21 keeps heap bits: `heapArena.bitmap`, one bit per word of
/// the arena, reached through `mheap_.arenas[l1][l2]`.
#[derive(Clone, Copy)]
struct ArenaBitmap(ArenaBitmapLayout);

impl ArenaBitmap {
    /// The heap bits of `[object, object+size)` when the object lies in
    /// one arena.
    fn scan<'m>(&self, mem: &'m ProcessMemory, object: u64, size: u64) -> Option<ObjectScan<'m>> {
        let l = &self.0;
        if l.arena_bytes == 0 || l.l2_bits >= 64 {
            return None;
        }
        let ai = object.wrapping_add(l.base_offset) / l.arena_bytes;
        let l1 = if l.l1_bits == 0 { 0 } else { ai >> l.l2_bits };
        let l2 = ai & ((1u64 << l.l2_bits) - 1);
        let l2map = mem
            .read_u64(l.arenas.checked_add(l1.checked_mul(8)?)?)
            .ok()?;
        let arena = mem
            .read_u64(l2map.checked_add(l2.checked_mul(8)?)?)
            .ok()
            .filter(|&a| a != 0)?;
        let start = ai.checked_mul(l.arena_bytes)?.wrapping_sub(l.base_offset);
        let first = object.checked_sub(start)? / 8;
        let words = size / 8;
        if first.checked_add(words)? > l.arena_bytes / 8 {
            return None;
        }
        let from = first / 8;
        let to = (first + words).div_ceil(8);
        let bits = mem
            .bytes(
                arena.checked_add(l.bitmap_offset)?.checked_add(from)?,
                usize::try_from(to - from).ok()?,
            )
            .ok()?;
        Some(ObjectScan::Bits {
            base: start.checked_add(from * 64)?,
            words: (to - from) * 8,
            bits,
        })
    }
}

impl PointerMaps {
    /// Reads what the runtime records; cheap (one pass over header words).
    pub fn load(process: &GoProcess, heap: &Heap) -> PointerMaps {
        let mut maps = PointerMaps::default();
        let Some(gc) = GcLayout::resolve(process) else {
            maps.warnings
                .push("no DWARF: heap objects and globals scanned conservatively".into());
            return maps;
        };
        match gc.heap_bits {
            HeapBits::InSpan { header_min } => {
                maps.heap_bits_in_span = true;
                maps.header_min = header_min;
            }
            HeapBits::ArenaBitmap(layout) => maps.arena_bitmap = Some(ArenaBitmap(layout)),
            HeapBits::Unknown => maps.warnings.push(
                "no malloc headers and no heapArena.bitmap: heap objects scanned conservatively"
                    .into(),
            ),
        }
        maps.inline_mark_bytes = gc.inline_mark_bytes;
        let fields = gc.type_mask;
        let on_demand = gc.mask_on_demand;
        let in_progress = gc.in_progress;
        if maps.heap_bits_in_span {
            if let Some(fields) = fields {
                let mem = process.memory();
                let mut wanted: Vec<u64> = Vec::new();
                for (i, s) in heap.spans().iter().enumerate() {
                    if s.noscan {
                        continue;
                    }
                    if s.size_class == 0 {
                        if s.large_type != 0 {
                            wanted.push(s.large_type);
                        }
                    } else if s.has_header {
                        for o in heap.span_objects(i) {
                            if let Ok(t) = mem.read_u64(o.address) {
                                if t != 0 {
                                    wanted.push(t);
                                }
                            }
                        }
                    }
                }
                wanted.sort_unstable();
                wanted.dedup();
                for t in wanted {
                    let m = read_mask(mem, fields, t, on_demand, in_progress);
                    maps.masks.insert(t, m);
                }
                let imprecise = maps.masks.values().filter(|m| m.is_none()).count();
                if imprecise > 0 {
                    maps.warnings.push(format!(
                        "{imprecise} heap object types without a readable pointer mask: their objects scanned conservatively"
                    ));
                }
            }
        }
        maps.global_words = gc
            .moduledata
            .and_then(|md| global_pointer_words(process.memory(), md));
        if maps.global_words.is_none() {
            maps.warnings
                .push("no runtime data/bss pointer masks: globals scanned conservatively".into());
        }
        maps
    }

    /// Calls `f(value)` for every pointer-holding word of the object at
    /// `object` in `span`; returns `false` (and calls nothing) when there is
    /// no precise information — the caller then scans conservatively.
    pub fn scan_object(
        &self,
        mem: &ProcessMemory,
        span: &Span,
        object: u64,
        mut f: impl FnMut(u64),
    ) -> bool {
        let end = object.saturating_add(span.elem_size);
        let scan = self.object_scan(mem, object, span);
        if matches!(scan, ObjectScan::Conservative) {
            return false;
        }
        let bytes = mem.bytes(object, span.elem_size as usize).ok();
        for_each_pointer_word(&scan, object, end, |a| {
            let v = match bytes {
                Some(b) => word_in(b, a - object),
                None => mem.read_u64(a).ok(),
            };
            if let Some(v) = v {
                f(v);
            }
        })
    }

    /// What the objects of `span` share when scanned one after another
    /// ([`PointerMaps::scan_in_span`]): the span's bytes, its heap bits or
    /// large type, looked up once instead of once per object.
    pub fn span_scan<'m>(&'m self, mem: &'m ProcessMemory, span: &Span) -> SpanScan<'m> {
        let bytes = usize::try_from(span.end.saturating_sub(span.start))
            .ok()
            .and_then(|n| mem.bytes(span.start, n).ok());
        let kind = if span.noscan {
            SpanKind::None
        } else if !self.heap_bits_in_span {
            SpanKind::PerObject
        } else if span.size_class != 0 && !span.has_header && span.elem_size <= self.header_min {
            // As object_scan: the heap bits at the end of the span.
            let span_bytes = span.end.saturating_sub(span.start);
            let bitmap_bytes = span_bytes / 64;
            let inline = if span.elem_size >= 16 {
                self.inline_mark_bytes
            } else {
                0
            };
            span.end
                .checked_sub(bitmap_bytes)
                .and_then(|a| a.checked_sub(inline))
                .and_then(|at| mem.bytes(at, bitmap_bytes as usize).ok())
                .map_or(SpanKind::Conservative, SpanKind::Bits)
        } else if span.size_class == 0 {
            match self.masks.get(&span.large_type) {
                Some(Some(mask)) if span.large_type != 0 => SpanKind::Typed(mask),
                _ => SpanKind::Conservative,
            }
        } else if span.has_header {
            SpanKind::Header
        } else {
            SpanKind::Conservative
        };
        SpanScan {
            start: span.start,
            elem_size: span.elem_size,
            bytes,
            kind,
            last_type: None,
        }
    }

    /// [`PointerMaps::scan_object`] for an object of the span `scan` was
    /// made for: appends the values of its pointer words to `out` (in word
    /// order; nil ones, most of them, left out) and says whether that was
    /// precise; when not, nothing is appended and the caller scans
    /// conservatively.
    pub fn scan_in_span<'m>(
        &'m self,
        mem: &'m ProcessMemory,
        span: &Span,
        scan: &mut SpanScan<'m>,
        object: u64,
        out: &mut Vec<u64>,
    ) -> bool {
        let elem_size = scan.elem_size;
        let end = object.saturating_add(elem_size);
        // The object's bytes: a slice of the span's when they lie inside.
        let from_span = object
            .checked_sub(scan.start)
            .and_then(|o| usize::try_from(o).ok())
            .zip(usize::try_from(elem_size).ok())
            .and_then(|(o, n)| scan.bytes?.get(o..o.checked_add(n)?));
        let bytes = match from_span {
            Some(b) => Some(b),
            None => mem.bytes(object, elem_size as usize).ok(),
        };
        let mut push = |a: u64| {
            let v = match bytes {
                Some(b) => word_in(b, a - object),
                None => mem.read_u64(a).ok(),
            };
            if let Some(v) = v.filter(|&v| v != 0) {
                out.push(v);
            }
        };
        match scan.kind {
            SpanKind::None => true,
            SpanKind::Conservative => false,
            SpanKind::PerObject => {
                let s = self.object_scan(mem, object, span);
                for_each_pointer_word(&s, object, end, push)
            }
            SpanKind::Bits(bitmap) => {
                let first = object.saturating_sub(scan.start) / 8;
                let words = elem_size / 8;
                let from = (first / 8) as usize;
                let to = ((first + words).div_ceil(8)) as usize;
                let Some(bits) = bitmap.get(from..to) else {
                    return false;
                };
                let base = scan.start.saturating_add((first / 8) * 64);
                'bytes: for (i, &byte) in bits.iter().enumerate() {
                    let mut x = byte;
                    while x != 0 {
                        let w = i as u64 * 8 + x.trailing_zeros() as u64;
                        x &= x - 1;
                        let Some(a) = base.checked_add(w * 8) else {
                            break 'bytes;
                        };
                        if a >= object && a < end {
                            push(a);
                        }
                    }
                }
                true
            }
            SpanKind::Typed(mask) => {
                tiled_pointer_words(mask, object, object, end, &mut push);
                true
            }
            SpanKind::Header => {
                let typ = match bytes.and_then(|b| word_in(b, 0)) {
                    Some(t) => t,
                    None => match mem.read_u64(object) {
                        Ok(t) => t,
                        Err(_) => return false,
                    },
                };
                if typ == 0 {
                    return false;
                }
                let mask = match scan.last_type {
                    Some((t, m)) if t == typ => m,
                    _ => {
                        let m = self.masks.get(&typ).and_then(|m| m.as_ref());
                        scan.last_type = Some((typ, m));
                        m
                    }
                };
                let Some(mask) = mask else {
                    return false;
                };
                tiled_pointer_words(mask, object.wrapping_add(8), object, end, &mut push);
                true
            }
        }
    }

    /// How to scan the object at `object` of `span`.
    pub fn object_scan<'s>(
        &'s self,
        mem: &'s ProcessMemory,
        object: u64,
        span: &Span,
    ) -> ObjectScan<'s> {
        if span.noscan {
            return ObjectScan::None;
        }
        if !self.heap_bits_in_span {
            return self
                .arena_bitmap
                .and_then(|a| a.scan(mem, object, span.elem_size))
                .unwrap_or(ObjectScan::Conservative);
        }
        if span.size_class != 0 && !span.has_header && span.elem_size <= self.header_min {
            // Bits at the end of the span, one per word of the span.
            let span_bytes = span.end.saturating_sub(span.start);
            let bitmap_bytes = span_bytes / 64;
            // spanHeapBitsRange: Green Tea's inline mark bits sit between
            // the objects and the heap bits.
            let inline = if span.elem_size >= 16 {
                self.inline_mark_bytes
            } else {
                0
            };
            let Some(bitmap_at) = span
                .end
                .checked_sub(bitmap_bytes)
                .and_then(|a| a.checked_sub(inline))
            else {
                return ObjectScan::Conservative;
            };
            let Ok(bitmap) = mem.bytes(bitmap_at, bitmap_bytes as usize) else {
                return ObjectScan::Conservative;
            };
            let first = object.saturating_sub(span.start) / 8;
            let words = span.elem_size / 8;
            // Bits of this object: a byte-aligned window is enough for
            // the caller, which indexes from `first % 8`.
            let from = (first / 8) as usize;
            let to = ((first + words).div_ceil(8)) as usize;
            let Some(bits) = bitmap.get(from..to) else {
                return ObjectScan::Conservative;
            };
            return ObjectScan::Bits {
                base: span.start.saturating_add((first / 8) * 64),
                words: (to - from) as u64 * 8,
                bits,
            };
        }
        let (typ, base) = if span.size_class == 0 {
            (span.large_type, object)
        } else if span.has_header {
            let Ok(t) = mem.read_u64(object) else {
                return ObjectScan::Conservative;
            };
            (t, object + 8)
        } else {
            return ObjectScan::Conservative;
        };
        if typ == 0 {
            // A large span whose type is not yet recorded: nothing to scan
            // the runtime would see either; stay safe.
            return ObjectScan::Conservative;
        }
        match self.masks.get(&typ) {
            Some(Some(mask)) => ObjectScan::Typed {
                base,
                limit: object.saturating_add(span.elem_size),
                mask,
            },
            _ => ObjectScan::Conservative,
        }
    }

    /// Pointer words of data+bss per the runtime's masks; `None` when they
    /// could not be read (then scan the globals conservatively).
    pub fn global_words(&self) -> Option<&[u64]> {
        self.global_words.as_deref()
    }
}

/// Calls `f(address_of_word)` for every word `scan` says may hold a pointer,
/// limited to `[lo, hi)`.
pub fn for_each_pointer_word(
    scan: &ObjectScan<'_>,
    lo: u64,
    hi: u64,
    mut f: impl FnMut(u64),
) -> bool {
    match scan {
        ObjectScan::None => true,
        ObjectScan::Conservative => false,
        ObjectScan::Bits { base, words, bits } => {
            for w in 0..*words {
                let Some(byte) = bits.get((w / 8) as usize) else {
                    break;
                };
                if byte >> (w % 8) & 1 != 0 {
                    let Some(a) = base.checked_add(w * 8) else {
                        break;
                    };
                    if a >= lo && a < hi {
                        f(a);
                    }
                }
            }
            true
        }
        ObjectScan::Typed { base, limit, mask } => {
            if mask.size == 0 || mask.ptr_bytes == 0 {
                return true;
            }
            let mut elem = *base;
            let limit = (*limit).min(hi);
            while elem < limit {
                let mut off = 0u64;
                while off < mask.ptr_bytes {
                    let Some(a) = elem.checked_add(off).filter(|&a| a < limit) else {
                        break;
                    };
                    if mask.bit(off / 8) && a >= lo {
                        f(a);
                    }
                    off += 8;
                }
                let Some(next) = elem.checked_add(mask.size) else {
                    break;
                };
                elem = next;
            }
            true
        }
    }
}

/// The words of a [`ObjectScan::Typed`] scan (`mask` tiled from `base`,
/// limited to `[lo, hi)`), as [`for_each_pointer_word`] finds them, set
/// bits only.
#[inline]
fn tiled_pointer_words(mask: &TypeMask, base: u64, lo: u64, hi: u64, f: &mut impl FnMut(u64)) {
    if mask.size == 0 || mask.ptr_bytes == 0 {
        return;
    }
    let mut elem = base;
    while elem < hi {
        'bytes: for (i, &byte) in mask.bits.iter().enumerate() {
            let mut x = byte;
            while x != 0 {
                let off = (i as u64 * 8 + x.trailing_zeros() as u64) * 8;
                x &= x - 1;
                if off >= mask.ptr_bytes {
                    break 'bytes;
                }
                match elem.checked_add(off).filter(|&a| a < hi) {
                    Some(a) => {
                        if a >= lo {
                            f(a)
                        }
                    }
                    None => break 'bytes,
                }
            }
        }
        let Some(next) = elem.checked_add(mask.size) else {
            break;
        };
        elem = next;
    }
}

/// Span-level facts shared by the objects of one span
/// ([`PointerMaps::span_scan`]).
pub struct SpanScan<'m> {
    start: u64,
    elem_size: u64,
    /// The span's bytes, when they are in one piece of the image.
    bytes: Option<&'m [u8]>,
    kind: SpanKind<'m>,
    /// The last header type seen and its mask.
    last_type: Option<(u64, Option<&'m TypeMask>)>,
}

#[derive(Clone, Copy)]
enum SpanKind<'m> {
    /// Pointer-free.
    None,
    /// The span's heap bits (one per word of the span).
    Bits(&'m [u8]),
    /// A large object of a known type.
    Typed(&'m TypeMask),
    /// The type is in each object's malloc header.
    Header,
    /// No precise information.
    Conservative,
    /// Go 1.21's arena bitmap: looked up per object.
    PerObject,
}

fn word_in(bytes: &[u8], offset: u64) -> Option<u64> {
    let o = usize::try_from(offset).ok()?;
    let w = bytes.get(o..o.checked_add(8)?)?;
    Some(u64::from_le_bytes(w.try_into().ok()?))
}

fn read_mask(
    mem: &ProcessMemory,
    f: TypeMaskFields,
    typ: u64,
    on_demand: bool,
    in_progress: u64,
) -> Option<TypeMask> {
    let word = |off: u64| mem.read_u64(typ.checked_add(off)?).ok();
    let byte = |off: u64| mem.read_u8(typ.checked_add(off)?).ok();
    let size = word(f.size)?;
    let ptr_bytes = word(f.ptr_bytes)?;
    let tflag = byte(f.tflag)?;
    let kind = byte(f.kind)?;
    let mut gcdata = word(f.gcdata)?;
    if size == 0 || ptr_bytes > size || ptr_bytes % 8 != 0 || ptr_bytes / 64 > MAX_MASK_BYTES {
        return None;
    }
    if ptr_bytes == 0 {
        return Some(TypeMask {
            size,
            ptr_bytes,
            bits: Vec::new(),
        });
    }
    if !on_demand && kind & KIND_GC_PROG != 0 {
        return None;
    }
    if on_demand && tflag & TFLAG_GC_MASK_ON_DEMAND != 0 {
        gcdata = mem.read_u64(gcdata).ok()?;
        if gcdata == 0 || gcdata == in_progress {
            return None;
        }
    }
    let n = ptr_bytes.div_ceil(64) as usize;
    let bits = mem.bytes(gcdata, n).ok()?.to_vec();
    Some(TypeMask {
        size,
        ptr_bytes,
        bits,
    })
}

/// `firstmoduledata.gcdatamask`/`gcbssmask` → addresses of pointer words.
fn global_pointer_words(mem: &ProcessMemory, md: ModuleDataLayout) -> Option<Vec<u64>> {
    let at = |off: u64| md.address.wrapping_add(off);
    let mut out = Vec::new();
    for seg in [md.data, md.bss] {
        let lo = mem.read_u64(at(seg.start)).ok()?;
        let hi = mem.read_u64(at(seg.end)).ok()?;
        let n = mem.read_u32(at(seg.mask_bits)).ok()? as u64;
        let data = mem.read_u64(at(seg.mask_data)).ok()?;
        let words = hi.checked_sub(lo)? / 8;
        // The mask covers the segment (rounded); more bits than words is
        // corruption.
        if n < words || n > words + 64 {
            return None;
        }
        let bits = mem.bytes(data, words.div_ceil(8) as usize).ok()?;
        for w in 0..words {
            let b = bits.get((w / 8) as usize)?;
            if b >> (w % 8) & 1 != 0 {
                out.push(lo + w * 8);
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(scan: &ObjectScan<'_>, lo: u64, hi: u64) -> (bool, Vec<u64>) {
        let mut v = Vec::new();
        let precise = for_each_pointer_word(scan, lo, hi, |a| v.push(a));
        (precise, v)
    }

    /// A `[3]struct{p *T; n int}` behind a malloc header: the mask tiles
    /// every 16 bytes, stops at the object's end.
    #[test]
    fn type_masks_tile_to_the_limit() {
        let mask = TypeMask {
            size: 16,
            ptr_bytes: 8,
            bits: vec![0b1],
        };
        let scan = ObjectScan::Typed {
            base: 0x1008,
            limit: 0x1040,
            mask: &mask,
        };
        assert_eq!(
            collect(&scan, 0x1000, 0x1040),
            (true, vec![0x1008, 0x1018, 0x1028, 0x1038])
        );
        // A limit inside an element cuts it.
        let scan = ObjectScan::Typed {
            base: 0x1008,
            limit: 0x1020,
            mask: &mask,
        };
        assert_eq!(collect(&scan, 0, u64::MAX).1, vec![0x1008, 0x1018]);
    }

    #[test]
    fn span_bits_and_edges() {
        let bits = [0b0000_0101u8, 0x80];
        let scan = ObjectScan::Bits {
            base: 0x2000,
            words: 16,
            bits: &bits,
        };
        assert_eq!(
            collect(&scan, 0x2000, 0x2080),
            (true, vec![0x2000, 0x2010, 0x2078])
        );
        // Window limits apply; addresses never overflow.
        assert_eq!(collect(&scan, 0x2008, 0x2078).1, vec![0x2010]);
        let scan = ObjectScan::Bits {
            base: u64::MAX - 8,
            words: 16,
            bits: &[0xff, 0xff],
        };
        assert_eq!(collect(&scan, 0, u64::MAX).1, vec![u64::MAX - 8]);
        assert!(!collect(&ObjectScan::Conservative, 0, 8).0);
        let degenerate = TypeMask {
            size: 0,
            ptr_bytes: 0,
            bits: Vec::new(),
        };
        let scan = ObjectScan::Typed {
            base: 0,
            limit: u64::MAX,
            mask: &degenerate,
        };
        assert_eq!(collect(&scan, 0, u64::MAX), (true, vec![]));
    }
}
