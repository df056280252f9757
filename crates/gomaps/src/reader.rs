//! Reads for the decoders: zero-copy slices of the core, with the last
//! contiguous piece cached so walking a bucket or group array costs no
//! lookup per bucket. Every read is bounds-checked by [`ProcessMemory`].

use std::borrow::Cow;
use std::cell::Cell;

use mapscope_elfcore::{ProcessMemory, ReadError};

/// Upper bound of one structure read (a bucket or group with 8 inline
/// 128-byte keys and values is ~2 KiB; struct headers are tiny).
pub(crate) const MAX_STRUCT_READ: usize = 64 * 1024;

pub(crate) struct Reader<'a> {
    mem: &'a ProcessMemory,
    /// (start address, bytes readable from it in one slice).
    cache: Cell<(u64, &'a [u8])>,
}

impl<'a> Reader<'a> {
    pub fn new(mem: &'a ProcessMemory) -> Reader<'a> {
        Reader {
            mem,
            cache: Cell::new((0, &[])),
        }
    }

    /// `len` bytes at `addr`: borrowed from the core when they lie in one
    /// piece, copied otherwise.
    pub fn bytes(&self, addr: u64, len: usize) -> Result<Cow<'a, [u8]>, ReadError> {
        if len > MAX_STRUCT_READ {
            return Err(ReadError::Overflow {
                addr,
                len: len as u64,
            });
        }
        let (start, slice) = self.cache.get();
        if let Some(off) = addr
            .checked_sub(start)
            .and_then(|o| usize::try_from(o).ok())
        {
            if let Some(s) = off.checked_add(len).and_then(|end| slice.get(off..end)) {
                return Ok(Cow::Borrowed(s));
            }
        }
        match self.mem.piece_at(addr) {
            Ok((start, piece)) => {
                // The whole piece: a later address before this one but in
                // the same piece needs no search either.
                self.cache.set((start, piece));
                let from = usize::try_from(addr - start).unwrap_or(usize::MAX);
                if let Some(s) = from.checked_add(len).and_then(|end| piece.get(from..end)) {
                    return Ok(Cow::Borrowed(s));
                }
                let mut buf = vec![0u8; len];
                self.mem.read(addr, &mut buf)?;
                Ok(Cow::Owned(buf))
            }
            Err(e) => Err(e),
        }
    }

    pub fn u64(&self, addr: u64) -> Result<u64, ReadError> {
        let b = self.bytes(addr, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b.get(..8).ok_or(ReadError::Absent { addr })?);
        Ok(u64::from_le_bytes(a))
    }

    pub fn u8(&self, addr: u64) -> Result<u8, ReadError> {
        let b = self.bytes(addr, 1)?;
        b.first().copied().ok_or(ReadError::Absent { addr })
    }

    /// Whether `[addr, addr+len)` is readable in full.
    pub fn readable(&self, addr: u64, len: u64) -> bool {
        // Inside the cached piece (readable bytes): no search.
        let (start, slice) = self.cache.get();
        let piece = slice.len() as u64;
        if let Some(off) = addr.checked_sub(start) {
            if off < piece && off.checked_add(len).is_some_and(|end| end <= piece) {
                return true;
            }
        }
        self.mem.is_readable(addr, len)
    }
}
