//! The generator's random numbers: xoshiro256** seeded through SplitMix64.
//!
//! Written here rather than taken from a crate so that the byte stream for a seed is frozen
//! with this file: `rand`'s range sampling has changed between releases, and a benchmark
//! corpus must be the same file on every machine and every build. Only integer arithmetic
//! is used, so there is nothing platform-dependent.

/// A small, fast, deterministic generator (xoshiro256**, Blackman and Vigna).
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

/// SplitMix64, used to spread a seed over the 256-bit state.
fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator for `seed`; `stream` separates independent uses of the same seed (the
    /// tenant and the runs), so changing one does not shift the other.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut x = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let s = [
            splitmix(&mut x),
            splitmix(&mut x),
            splitmix(&mut x),
            splitmix(&mut x),
        ];
        Rng { s }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (multiply-shift; the bias is below 2^-40 for the ranges used here).
    /// `n == 0` returns 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p / 1_000_000`.
    #[inline]
    pub fn per_million(&mut self, p: u32) -> bool {
        self.below(1_000_000) < u64::from(p)
    }

    /// In `0..n`, skewed toward 0: the product of two uniforms, density `-ln x`. The first
    /// tenth of the items gets about a third of the picks, which is how run counts spread
    /// over flows (a few run every few minutes, most a few times a day).
    #[inline]
    pub fn skewed(&mut self, n: u64) -> u64 {
        let a = u128::from(self.next_u64() >> 32);
        let b = u128::from(self.next_u64() >> 32);
        (((a * b) * u128::from(n)) >> 64) as u64
    }

    /// An element of a non-empty slice.
    #[inline]
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// An index chosen with the given integer weights (not all zero).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut r = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            let w = u64::from(w);
            if r < w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_stream() {
        // The corpus for a seed must never change. These values come from an independent
        // implementation of SplitMix64 + xoshiro256** (a few lines of Python).
        let mut r = Rng::new(42, 0);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(
            first,
            [
                1546998764402558742,
                6990951692964543102,
                12544586762248559009
            ]
        );
        assert_ne!(Rng::new(42, 1).next_u64(), first[0]);
        assert_ne!(Rng::new(43, 0).next_u64(), first[0]);
    }

    #[test]
    fn below_and_weighted_stay_in_range() {
        let mut r = Rng::new(7, 0);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            assert!(r.below(10) < 10);
            assert!(r.skewed(10) < 10);
            let x = r.range(5, 6);
            assert!((5..=6).contains(&x));
            counts[r.weighted(&[1, 2, 0])] += 1;
        }
        assert_eq!(counts[2], 0);
        assert!(counts[1] > counts[0] * 3 / 2, "{counts:?}");
    }
}
