//! The tests' pseudo-random numbers (xorshift64): reproducible graphs
//! from a seed, no dependency.

/// A generator of numbers below its argument (`0` for `0`), from `seed`
/// (non-zero).
pub(crate) fn below(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed;
    move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m.max(1)
    }
}
