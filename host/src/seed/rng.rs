//! A small deterministic random generator (SplitMix64). The demo data must be
//! identical for a given seed on every machine and every version of every
//! dependency, so the generator is ours rather than a crate's `StdRng`.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5a56_4152_4554_4149) // "ZAVARETAI"
    }

    /// An independent stream for one part of the data, so that changing how
    /// many numbers one part draws does not reshuffle the others.
    pub fn fork(&self, stream: u64) -> Self {
        let mut forked = Self(self.0 ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        forked.next_u64();
        forked
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [lo, hi] (inclusive).
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        let span = (hi - lo + 1) as u64;
        lo + (self.next_u64() % span) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.between(0, items.len() as i64 - 1) as usize]
    }

    /// Index drawn with probability proportional to `weights`.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut target = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if target < *w {
                return i;
            }
            target -= w;
        }
        weights.len() - 1
    }

    /// Poisson-distributed count with mean `lambda` (Knuth; fine for the
    /// small means used per day and store).
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda > 30.0 {
            // Normal approximation for large means.
            let (u1, u2) = (self.unit().max(1e-12), self.unit());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            return (lambda + z * lambda.sqrt()).round().max(0.0) as u32;
        }
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = 1.0;
        loop {
            p *= self.unit();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn draws_stay_in_range() {
        let mut r = Rng::new(1);
        for _ in 0..1000 {
            let x = r.between(3, 5);
            assert!((3..=5).contains(&x));
            assert!(r.unit() < 1.0);
        }
        let mean = (0..2000).map(|_| r.poisson(4.0) as f64).sum::<f64>() / 2000.0;
        assert!((3.5..4.5).contains(&mean), "{mean}");
    }
}
