//! Which words of a stack frame hold live pointers at the frame's pc: the
//! compiler's stack maps, read the way the Go runtime's own stack scan
//! does (`runtime/stkframe.go` `getStackMap`, `runtime/mgcmark.go`
//! `scanframeworker`).
//!
//! Per frame: `PCDATA_StackMapIndex` at the call site selects a bit vector
//! in `FUNCDATA_LocalsPointerMaps` (one bit per word of the `nbit` words
//! just below `varp`) and in `FUNCDATA_ArgsPointerMaps` (words from
//! `argp`); `FUNCDATA_StackObjects` lists the address-taken stack objects
//! (`stackObjectRecord{off, size, ptrBytes, gcdataoff}`, `off` from `varp`
//! when negative, from `argp` otherwise; the mask at
//! `moduledata.rodata + gcdataoff`). The layouts are the same from Go 1.21
//! to 1.27, except that before 1.24 a negative `ptrBytes` means a GC
//! program (then the object is scanned conservatively).
//!
//! Owns: decoding these tables for one frame. Does not know goroutines or
//! cores: callers pass the frame's addresses (link addresses for pcs).
//!
//! Untrusted input: every count and bit length is bounded and every table
//! must lie in the executable's file bytes; an inconsistent table yields a
//! [`StackMapError`] (the caller then scans the frame conservatively),
//! never a panic.

use super::func::Func;
use super::funcid::FuncId;
use super::{
    Pclntab, FUNCDATA_ARGS_POINTER_MAPS, FUNCDATA_LOCALS_POINTER_MAPS, FUNCDATA_STACK_OBJECTS,
    PCDATA_STACK_MAP_INDEX,
};

/// Bound on the number of bitmaps in one stack map.
const MAX_MAPS: i32 = 1 << 16;
/// Bound on bits (words) per bitmap: a 64 MiB frame.
const MAX_BITS: i32 = 1 << 23;
/// Bound on stack objects per function.
const MAX_OBJECTS: u64 = 1 << 14;
/// `abi.ArgsSizeUnknown`.
const ARGS_SIZE_UNKNOWN: i32 = -0x8000_0000;
/// Size of `runtime.stackObjectRecord`.
const OBJECT_RECORD_SIZE: u64 = 16;

/// Why a frame has no precise pointer map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackMapError {
    #[error("{function}: no {what} stack map")]
    Missing {
        function: String,
        what: &'static str,
    },
    #[error("{function}: stack map index {index} outside {count} maps")]
    BadIndex {
        function: String,
        index: i32,
        count: i32,
    },
    #[error("{function}: {what} stack map at {address:#x} is malformed")]
    Malformed {
        function: String,
        what: &'static str,
        address: u64,
    },
    #[error("{function}: argument size unknown (reflect stub)")]
    UnknownArgs { function: String },
    #[error("no funcdata base (go:func.*): stack maps unreadable")]
    NoFuncdata,
}

/// A stack object (address-taken local) of a frame, placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackObject {
    /// Address of the object on the stack.
    pub address: u64,
    pub size: u64,
    /// Addresses of the words that hold pointers; `None` when the object's
    /// layout is a GC program (scan `[address, address+ptr_bytes)`
    /// conservatively).
    pub pointer_words: Option<Vec<u64>>,
    /// Bytes that may hold pointers (a prefix of the object).
    pub ptr_bytes: u64,
}

/// The live pointer slots of one frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FramePointers {
    /// Addresses of live pointer words among locals and arguments.
    pub words: Vec<u64>,
    /// Stack objects allocated in the frame (live only if a live pointer
    /// on the stack points into them, as the GC decides).
    pub objects: Vec<StackObject>,
}

/// The frame geometry a stack-map lookup needs (link addresses for pcs).
#[derive(Debug, Clone, Copy)]
pub struct FrameGeometry {
    /// The pc to look the map up at: a return address (the runtime's
    /// `continpc`); the map index is taken at `pc - 1`, the call.
    pub continpc: u64,
    pub sp: u64,
    pub varp: u64,
    pub argp: u64,
    /// Words the locals region must exceed to have a map (`sys.MinFrameSize`
    /// on amd64 is 0; `sys.StackAlign` = 16 on arm64).
    pub min_locals: u64,
}

/// A decoded `runtime.stackmap`: `n` bitmaps of `nbit` bits.
struct StackMap<'a> {
    n: i32,
    nbit: i32,
    data: &'a [u8],
}

impl<'a> StackMap<'a> {
    fn bitmap(&self, index: i32) -> Option<&'a [u8]> {
        if index < 0 || index >= self.n {
            return None;
        }
        let per = usize::try_from(self.nbit).ok()?.div_ceil(8);
        let from = per.checked_mul(usize::try_from(index).ok()?)?;
        self.data.get(from..from.checked_add(per)?)
    }
}

impl Pclntab<'_> {
    fn stack_map(
        &self,
        func: &Func<'_>,
        index: u8,
        what: &'static str,
    ) -> StackMapResult<Option<StackMap<'_>>> {
        let Some(address) = func.funcdata_address(index) else {
            if func.funcdata_offset(index).is_some() {
                return Err(StackMapError::NoFuncdata);
            }
            return Ok(None);
        };
        let malformed = || StackMapError::Malformed {
            function: func.name().to_string(),
            what,
            address,
        };
        let image = self.image();
        let n = image.read_u32(address).ok_or_else(malformed)? as i32;
        let nbit = image
            .read_u32(address.checked_add(4).ok_or_else(malformed)?)
            .ok_or_else(malformed)? as i32;
        if !(0..=MAX_MAPS).contains(&n) || !(0..=MAX_BITS).contains(&nbit) {
            return Err(malformed());
        }
        let per = (nbit as u64).div_ceil(8);
        let len = per * n as u64;
        let data = image.bytes_at(address + 8, len).ok_or_else(malformed)?;
        Ok(Some(StackMap { n, nbit, data }))
    }

    /// The bitmap (and its bit count) of stack map `funcdata` ("locals" or
    /// "args") at `index`; `None` when the map has no bits. A missing map
    /// or an index outside it is an error, as in the runtime.
    fn live_bitmap(
        &self,
        func: &Func<'_>,
        funcdata: u8,
        what: &'static str,
        index: i32,
    ) -> Result<Option<(&[u8], u64)>, StackMapError> {
        let map = self
            .stack_map(func, funcdata, what)?
            .filter(|m| m.n > 0)
            .ok_or_else(|| StackMapError::Missing {
                function: func.name().to_string(),
                what,
            })?;
        if map.nbit <= 0 {
            return Ok(None);
        }
        let bits = map.bitmap(index).ok_or_else(|| StackMapError::BadIndex {
            function: func.name().to_string(),
            index,
            count: map.n,
        })?;
        Ok(Some((bits, map.nbit as u64)))
    }

    /// The live pointer words and stack objects of a frame of `func` (see
    /// the module doc); an error means "scan this frame conservatively".
    pub fn frame_pointers(
        &self,
        func: &Func<'_>,
        frame: &FrameGeometry,
    ) -> Result<FramePointers, StackMapError> {
        let name = || func.name().to_string();
        let mut out = FramePointers::default();
        if frame.continpc == 0 {
            // A dead frame: nothing live.
            return Ok(out);
        }
        let mut index = -1i32;
        if frame.continpc != func.entry {
            index = func
                .pcdata_value(PCDATA_STACK_MAP_INDEX, frame.continpc - 1)
                .unwrap_or(-1);
        }
        if index == -1 {
            // The prologue: the entry map, as the runtime assumes.
            index = 0;
        }

        // Locals.
        let size = frame.varp.saturating_sub(frame.sp);
        if size > frame.min_locals {
            if let Some((bits, nbit)) =
                self.live_bitmap(func, FUNCDATA_LOCALS_POINTER_MAPS, "locals", index)?
            {
                let base =
                    frame
                        .varp
                        .checked_sub(nbit * 8)
                        .ok_or_else(|| StackMapError::Malformed {
                            function: name(),
                            what: "locals",
                            address: frame.varp,
                        })?;
                push_set_bits(bits, nbit, base, &mut out.words);
            }
        }

        // Arguments.
        let args = func.args_size();
        if args == ARGS_SIZE_UNKNOWN {
            return Err(StackMapError::UnknownArgs { function: name() });
        }
        if args > 0 && args / 8 > 0 {
            if let Some((bits, nbit)) =
                self.live_bitmap(func, FUNCDATA_ARGS_POINTER_MAPS, "args", index)?
            {
                push_set_bits(bits, nbit, frame.argp, &mut out.words);
            }
        }

        // Stack objects.
        if let Some(address) = func.funcdata_address(FUNCDATA_STACK_OBJECTS) {
            out.objects = self.stack_objects(func, address, frame)?;
        }
        Ok(out)
    }

    fn stack_objects(
        &self,
        func: &Func<'_>,
        address: u64,
        frame: &FrameGeometry,
    ) -> Result<Vec<StackObject>, StackMapError> {
        let malformed = || StackMapError::Malformed {
            function: func.name().to_string(),
            what: "stack objects",
            address,
        };
        let image = self.image();
        let n = image.read_u64(address).ok_or_else(malformed)?;
        if n > MAX_OBJECTS {
            return Err(malformed());
        }
        let records = address
            .checked_add(8)
            .and_then(|a| image.bytes_at(a, n * OBJECT_RECORD_SIZE))
            .ok_or_else(malformed)?;
        let rodata = self.moduledata().map(|m| m.rodata).filter(|&r| r != 0);
        let mut out = Vec::with_capacity(n as usize);
        for r in records.chunks_exact(OBJECT_RECORD_SIZE as usize) {
            let field = |i: usize| image.u32_in(r, i * 4).unwrap_or(0);
            let off = field(0) as i32;
            let size = field(1) as i32;
            let ptr = field(2) as i32;
            let gcdataoff = field(3);
            if size < 0 {
                return Err(malformed());
            }
            let base = if off >= 0 { frame.argp } else { frame.varp };
            let Some(obj) = base.checked_add_signed(i64::from(off)) else {
                return Err(malformed());
            };
            if obj < frame.sp {
                // Not allocated in the frame yet.
                continue;
            }
            let size = size as u64;
            // Before Go 1.24 a negative value means a GC program.
            let ptr_bytes = u64::from(ptr.unsigned_abs()).min(size);
            let pointer_words = match (ptr >= 0, rodata) {
                (true, Some(rodata)) => {
                    let words = ptr_bytes / 8;
                    rodata
                        .checked_add(u64::from(gcdataoff))
                        .and_then(|m| image.bytes_at(m, words.div_ceil(8)))
                        .map(|bits| {
                            let mut v = Vec::new();
                            push_set_bits(bits, words, obj, &mut v);
                            v
                        })
                }
                _ => None,
            };
            out.push(StackObject {
                address: obj,
                size,
                pointer_words,
                ptr_bytes,
            });
        }
        Ok(out)
    }
}

type StackMapResult<T> = Result<T, StackMapError>;

/// Whether the runtime scans frames of this function conservatively
/// (`scanframeworker`: asyncPreempt and debugCallV2 frames hold a stopped
/// frame's registers; their callers are scanned conservatively too).
pub fn scans_conservatively(func_id: FuncId) -> bool {
    matches!(func_id, FuncId::AsyncPreempt | FuncId::DebugCallV2)
}

/// Appends `base + 8*i` for every set bit `i < nbit` of `bits`.
fn push_set_bits(bits: &[u8], nbit: u64, base: u64, out: &mut Vec<u64>) {
    for (i, &b) in bits.iter().enumerate() {
        if b == 0 {
            continue;
        }
        for bit in 0..8u64 {
            let w = i as u64 * 8 + bit;
            if w >= nbit {
                return;
            }
            if b >> bit & 1 != 0 {
                if let Some(a) = base.checked_add(w * 8) {
                    out.push(a);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_bits_are_bounded_by_nbit() {
        let mut v = Vec::new();
        push_set_bits(&[0b1000_0101, 0xff], 10, 0x1000, &mut v);
        assert_eq!(v, vec![0x1000, 0x1010, 0x1038, 0x1040, 0x1048]);
    }

    #[test]
    fn bitmap_index_is_checked() {
        let data = [1u8, 2, 3];
        let m = StackMap {
            n: 3,
            nbit: 5,
            data: &data,
        };
        assert_eq!(m.bitmap(2), Some(&[3u8][..]));
        assert_eq!(m.bitmap(3), None);
        assert_eq!(m.bitmap(-1), None);
        let short = StackMap {
            n: 4,
            nbit: 5,
            data: &data,
        };
        assert_eq!(short.bitmap(3), None);
    }
}
