//! Seeded randomness: one root seed, named independent sub-streams.
//!
//! Every stream is a ChaCha8 generator keyed by the run's seed; the stream name selects the
//! ChaCha stream number, so draws from one stream never shift another: changing the workload
//! leaves the network's latencies as they were. This is the only place in the project that
//! builds a generator.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

/// The root of a run's randomness. Cheap to copy; holds only the seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRng {
    seed: u64,
}

impl SeedRng {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The sub-stream called `name`. The same (seed, name) always gives the same draws.
    pub fn stream(&self, name: &str) -> RngStream {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(stream_number(name));
        RngStream {
            rng,
            buffer: [0; BUFFER_WORDS * 8],
            next: BUFFER_WORDS,
        }
    }
}

/// FNV-1a over the name: a fixed, portable map from stream names to ChaCha stream numbers.
fn stream_number(name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// How many draws a stream takes from its generator at once.
const BUFFER_WORDS: usize = 32;

/// One named stream of random draws.
///
/// Draws come from a buffer filled [`BUFFER_WORDS`] at a time from the generator's byte stream,
/// which yields exactly the values successive `next_u64` calls on the generator would (both
/// read its 32-bit output words in order, two per draw, low word first), with the refill out of
/// the hot path. The buffer keeps the bytes as generated; a draw reads its eight bytes as one
/// little-endian word. [`RngStream::generator`] hands back the generator at the stream's logical
/// position.
#[derive(Clone, Debug)]
pub struct RngStream {
    rng: ChaCha8Rng,
    buffer: [u8; BUFFER_WORDS * 8],
    /// The next unused draw in `buffer`; `BUFFER_WORDS` when it is empty.
    next: usize,
}

impl RngStream {
    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        if self.next < BUFFER_WORDS {
            let at = self.next * 8;
            self.next += 1;
            u64::from_le_bytes(self.buffer[at..at + 8].try_into().expect("8 bytes"))
        } else {
            self.refill()
        }
    }

    /// Fills the buffer from the generator and returns its first draw.
    #[cold]
    #[inline(never)]
    fn refill(&mut self) -> u64 {
        self.rng.fill_bytes(&mut self.buffer);
        self.next = 1;
        u64::from_le_bytes(self.buffer[..8].try_into().expect("8 bytes"))
    }

    /// Uniform in `0..bound` (Lemire's multiply-shift with rejection, so no modulo bias; the
    /// division that computes the rejection threshold runs only in the rare ambiguous case).
    #[inline(always)]
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "RngStream::below needs a positive bound");
        let mut product = u128::from(self.next_u64()) * u128::from(bound);
        if (product as u64) < bound {
            let threshold = bound.wrapping_neg() % bound;
            while (product as u64) < threshold {
                product = u128::from(self.next_u64()) * u128::from(bound);
            }
        }
        (product >> 64) as u64
    }

    /// Uniform in `low..=high`.
    #[inline(always)]
    pub fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "empty range {low}..={high}");
        if low == 0 && high == u64::MAX {
            return self.next_u64();
        }
        low + self.below(high - low + 1)
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn unit_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `probability` (clamped to `[0, 1]`). Draws nothing when the
    /// probability is 0 or 1, so a fault-free configuration spends no randomness on faults.
    #[inline]
    pub fn chance(&mut self, probability: f64) -> bool {
        if probability <= 0.0 {
            return false;
        }
        if probability >= 1.0 {
            return true;
        }
        self.unit_f64() < probability
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        assert!(!items.is_empty(), "RngStream::pick on an empty slice");
        &items[self.below(items.len() as u64) as usize]
    }

    /// Fisher-Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// The underlying generator, for code that takes a `rand_core::Rng`, at the stream's
    /// position: buffered draws not yet taken are given back first (a stream used only through
    /// its generator never buffers).
    pub fn generator(&mut self) -> &mut ChaCha8Rng {
        if self.next < BUFFER_WORDS {
            let unused_words = 2 * (BUFFER_WORDS - self.next) as u128;
            let position = self.rng.get_word_pos() - unused_words;
            self.rng.set_word_pos(position);
            self.next = BUFFER_WORDS;
        }
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_name_give_same_draws() {
        let mut a = SeedRng::new(7).stream("network");
        let mut b = SeedRng::new(7).stream("network");
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn streams_differ_by_name_and_seed() {
        let first = |seed, name| SeedRng::new(seed).stream(name).next_u64();
        assert_ne!(first(7, "network"), first(7, "disk"));
        assert_ne!(first(7, "network"), first(8, "network"));
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = SeedRng::new(1).stream("t");
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let value = rng.below(7);
            assert!(value < 7);
            seen[value as usize] = true;
        }
        assert!(
            seen.iter().all(|&s| s),
            "every value of 0..7 drawn: {seen:?}"
        );
    }

    #[test]
    fn buffered_draws_are_the_generators_own_and_mix_with_direct_use() {
        let mut stream = SeedRng::new(11).stream("network");
        let mut reference = ChaCha8Rng::seed_from_u64(11);
        reference.set_stream(stream_number("network"));
        for round in 0..200u32 {
            // Draws through the buffer, then the generator directly, in varying amounts.
            for _ in 0..(round * 7 % 45) {
                assert_eq!(stream.next_u64(), reference.next_u64());
            }
            for _ in 0..(round % 3) {
                assert_eq!(stream.generator().next_u32(), reference.next_u32());
            }
            if round % 5 == 0 {
                assert_eq!(stream.generator().next_u64(), reference.next_u64());
            }
        }
    }

    #[test]
    fn chance_extremes_draw_nothing() {
        let mut a = SeedRng::new(3).stream("t");
        let mut b = SeedRng::new(3).stream("t");
        assert!(!a.chance(0.0));
        assert!(a.chance(1.0));
        assert_eq!(a.next_u64(), b.next_u64());
    }
}
