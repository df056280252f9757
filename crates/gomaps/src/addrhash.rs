//! A fast hasher for sets and maps keyed by addresses (`u64`) read from a
//! core: the decoders' cycle checks and the walk's "seen" sets insert one
//! address per entry node, table or map — millions on a large core, where
//! std's SipHash cost more than the lookups it serves.
//!
//! One folded 64×64→128-bit multiply per word (as foldhash and ahash do),
//! seeded once per process from std's random keys, so a core cannot be
//! crafted against a hash known in advance.
//!
//! Owns only hashing; must not be used for anything that needs a stable
//! hash across runs (the seed changes every run).

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// An odd constant with well-spread bits (the fractional part of π).
const MULTIPLIER: u64 = 0x243f_6a88_85a3_08d3;

/// A `HashSet<u64>` with [`AddrHashBuilder`].
pub(crate) type AddrSet = HashSet<u64, AddrHashBuilder>;

fn process_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| RandomState::new().hash_one(0x6d61_7073_636f_7065_u64))
}

#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Builds [`AddrHasher`]s with the process's seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AddrHashBuilder {
    seed: u64,
}

impl Default for AddrHashBuilder {
    fn default() -> Self {
        AddrHashBuilder {
            seed: process_seed(),
        }
    }
}

impl BuildHasher for AddrHashBuilder {
    type Hasher = AddrHasher;

    #[inline]
    fn build_hasher(&self) -> AddrHasher {
        AddrHasher { state: self.seed }
    }
}

/// Hashes words by folded multiplication; made for `u64` keys.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AddrHasher {
    state: u64,
}

impl Hasher for AddrHasher {
    #[inline]
    fn write_u64(&mut self, word: u64) {
        self.state = folded_multiply(self.state ^ word, MULTIPLIER);
    }

    #[inline]
    fn write_u32(&mut self, word: u32) {
        self.write_u64(u64::from(word));
    }

    #[inline]
    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            if let Some(dst) = word.get_mut(..chunk.len()) {
                dst.copy_from_slice(chunk);
            }
            self.write_u64(u64::from_le_bytes(word));
        }
        // The length, so that a prefix of zeros is not a collision.
        self.write_u64(bytes.len() as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_aligned_addresses() {
        let mut set = AddrSet::default();
        for i in 0..10_000u64 {
            assert!(set.insert(0x00c0_0000_0000 + i * 8));
        }
        assert!(!set.insert(0x00c0_0000_0000));
        assert_eq!(set.len(), 10_000);
    }

    #[test]
    fn aligned_addresses_spread_over_low_and_high_bits() {
        let b = AddrHashBuilder::default();
        let mut low = HashSet::new();
        let mut high = HashSet::new();
        for i in 0..1024u64 {
            let h = b.hash_one(0x00c0_0000_0000 + i * 64);
            low.insert(h & 1023);
            high.insert(h >> 57);
        }
        // Near-uniform: most buckets of 1024 and all 128 tags are used.
        assert!(low.len() > 550, "{}", low.len());
        assert_eq!(high.len(), 128);
    }
}
