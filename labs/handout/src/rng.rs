//! A small seeded random generator, so that a run can be replayed exactly.
//!
//! The C course seeded `rand()` with the clock, so every run drew different
//! keys and made different choices, and a failure seen once could not be
//! reproduced. Here every random choice a lab makes (which key, read or
//! write, which two servers, hit or miss) comes from one [`Rng`] built from
//! a 64-bit seed: run a program twice with `--seed S` and it makes the same
//! choices in the same order. Without `--seed`, programs take
//! [`seed_from_clock`] and should print the seed they used, so that an
//! interesting run can still be replayed.
//!
//! The generator is xoshiro256\*\* by David Blackman and Sebastiano Vigna
//! (<https://prng.di.unimi.it/>), with its 256-bit state filled from the seed
//! by SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom
//! number generators", OOPSLA 2014), as its authors recommend. It is fast,
//! small and statistically strong, but predictable: never use it for keys,
//! tokens or anything an attacker must not guess. For that, ask the operating
//! system (`getrandom(2)`).

use std::time::{SystemTime, UNIX_EPOCH};

/// A seeded pseudo-random generator (xoshiro256\*\*; see the module docs).
///
/// Cloning it gives a second generator that produces the same numbers from
/// that point on.
#[derive(Clone, Debug)]
pub struct Rng {
    /// The four 64-bit words of xoshiro256\*\* state; never all zero.
    state: [u64; 4],
}

impl Rng {
    /// A generator whose whole sequence is fixed by `seed`.
    ///
    /// Every seed is fine, 0 included: SplitMix64 spreads it over the 256
    /// bits of state and never yields four zero words in a row (xoshiro's
    /// one forbidden state).
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        Rng {
            state: [
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
            ],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A number drawn uniformly from `0..n`.
    ///
    /// The C labs wrote `random() % n`, which favours small results whenever
    /// `n` does not divide the generator's range. This uses Daniel Lemire's
    /// method ("Fast random integer generation in an interval", ACM TOMACS,
    /// 2019): take the high 64 bits of `x * n`, and draw again in the rare
    /// case where `x` falls in the few values that would bias the result.
    ///
    /// # Panics
    ///
    /// If `n` is 0: the range `0..0` is empty.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Rng::below: the range 0..0 is empty");
        let mut product = u128::from(self.next_u64()) * u128::from(n);
        let mut low = product as u64; // the low 64 bits, truncated on purpose
        if low < n {
            // 2^64 mod n: how many values of x would bias the result.
            let threshold = n.wrapping_neg() % n;
            while low < threshold {
                product = u128::from(self.next_u64()) * u128::from(n);
                low = product as u64;
            }
        }
        (product >> 64) as u64
    }

    /// A number drawn uniformly from `[0, 1)`, a multiple of 2⁻⁵³.
    ///
    /// Uses the top 53 bits of [`Rng::next_u64`], as many as an `f64`
    /// mantissa holds, so every result is exact.
    pub fn next_f64(&mut self) -> f64 {
        const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
        (self.next_u64() >> 11) as f64 * SCALE
    }

    /// `true` with probability `p`: lab 3's coin flip for hit or miss.
    ///
    /// `p <= 0` is never true and `p >= 1` always is (a NaN `p` is never
    /// true). Every call draws exactly one number whatever `p` is, so
    /// changing a probability does not shift the rest of a seeded run.
    pub fn chance(&mut self, p: f64) -> bool {
        // next_f64 is in [0, 1): below 0 never, below 1 always.
        self.next_f64() < p
    }
}

/// A skewed choice among `n` items, as real caches see it: item `r`
/// (counting from 0) is drawn with probability proportional to
/// `1 / (r + 1)^s`.
///
/// A few items are asked for very often and most rarely, which is what
/// makes a small cache worth having. Web and key-value workloads are often
/// modelled this way (Breslau et al., "Web caching and Zipf-like
/// distributions", INFOCOM 1999); `s` near 1 is typical, `s = 0` is
/// uniform.
///
/// # Format
///
/// The weights `w[r] = 1 / (r + 1)^s` are summed in order of `r` into a
/// running total `c[r] = w[0] + ... + w[r]` (in `f64`). A draw takes one
/// `u = rng.next_f64() * c[n - 1]` and returns the smallest `r` with
/// `u < c[r]`.
#[derive(Debug, Clone)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// A choice among `n` items with exponent `s`.
    ///
    /// # Panics
    ///
    /// If `n` is 0, or `s` is negative or not finite.
    pub fn new(n: u64, s: f64) -> Zipf {
        assert!(n > 0, "Zipf::new: need at least one item");
        assert!(s.is_finite() && s >= 0.0, "Zipf::new: bad exponent {s}");
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|r| {
                total += 1.0 / ((r + 1) as f64).powf(s);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    /// Draws one item, from 0 to `n - 1`, with one number of `rng`.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let total = self.cumulative[self.cumulative.len() - 1];
        let u = rng.next_f64() * total;
        // The first running total above u; u < total, so there is one.
        let r = self.cumulative.partition_point(|&c| c <= u);
        r.min(self.cumulative.len() - 1) as u64
    }
}

/// A seed for when none is given: the clock's nanoseconds since the Unix
/// epoch mixed with the process id, so that two programs started in the same
/// instant still get different seeds.
///
/// Print the seed you use, so that the run can be replayed with `--seed`.
pub fn seed_from_clock() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64) // the low 64 bits are the ones that vary
        .unwrap_or(0); // a clock set before 1970: the pid alone still varies
    let mut mix = nanos ^ u64::from(std::process::id()).rotate_left(32);
    splitmix64(&mut mix)
}

/// One step of SplitMix64: advances `state` and returns a well-mixed word.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_published_sequence() {
        // The sequence for seed 1234567 that accompanies the reference
        // implementation (also on Rosetta Code), re-checked with Python.
        let mut state = 1_234_567;
        let expected = [
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ];
        for want in expected {
            assert_eq!(splitmix64(&mut state), want);
        }
    }

    #[test]
    fn xoshiro_vectors() {
        // Computed by an independent Python 3 transcription of Vigna's C
        // reference (xoshiro256starstar.c), state filled by SplitMix64.
        let cases: [(u64, [u64; 3]); 2] = [(0, XOSHIRO_SEED_0), (1, XOSHIRO_SEED_1)];
        for (seed, expected) in cases {
            let mut rng = Rng::new(seed);
            let got = [rng.next_u64(), rng.next_u64(), rng.next_u64()];
            assert_eq!(got, expected, "seed {seed}");
        }
    }

    const XOSHIRO_SEED_0: [u64; 3] = [
        11_091_344_671_253_066_420,
        13_793_997_310_169_335_082,
        1_900_383_378_846_508_768,
    ];
    const XOSHIRO_SEED_1: [u64; 3] = [
        12_966_619_160_104_079_557,
        9_600_361_134_598_540_522,
        10_590_380_919_521_690_900,
    ];

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let mut c = a.clone();
        for _ in 0..100 {
            assert_eq!(a.below(1000), c.below(1000));
        }
    }

    #[test]
    fn different_seeds_differ() {
        let first: Vec<u64> = (0..16).map(|seed| Rng::new(seed).next_u64()).collect();
        let mut unique = first.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), first.len(), "{first:?}");
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::new(7);
        for n in [1, 2, 3, 7, 1000, 100_000, 1 << 40, u64::MAX - 1, u64::MAX] {
            for _ in 0..1000 {
                let x = rng.below(n);
                assert!(x < n, "below({n}) gave {x}");
            }
        }
        assert_eq!(rng.below(1), 0);
    }

    #[test]
    fn below_hits_every_value_about_equally() {
        let mut rng = Rng::new(3);
        let mut counts = [0u32; 10];
        for _ in 0..100_000 {
            counts[rng.below(10) as usize] += 1;
        }
        // Expect 10 000 each; a fair generator stays well within ±5 %.
        for (value, &count) in counts.iter().enumerate() {
            assert!((9_500..10_500).contains(&count), "{value}: {count}");
        }
    }

    #[test]
    #[should_panic(expected = "empty")]
    fn below_zero_panics() {
        Rng::new(0).below(0);
    }

    #[test]
    fn next_f64_is_in_the_unit_interval() {
        let mut rng = Rng::new(11);
        let mut sum = 0.0;
        for _ in 0..10_000 {
            let x = rng.next_f64();
            assert!((0.0..1.0).contains(&x), "{x}");
            sum += x;
        }
        let mean = sum / 10_000.0;
        assert!((0.48..0.52).contains(&mean), "mean {mean}");
    }

    #[test]
    fn chance_extremes_and_middle() {
        let mut rng = Rng::new(5);
        for _ in 0..1000 {
            assert!(!rng.chance(0.0));
            assert!(!rng.chance(-1.0));
            assert!(!rng.chance(f64::NAN));
            assert!(rng.chance(1.0));
            assert!(rng.chance(2.0));
        }
        let heads = (0..10_000).filter(|_| rng.chance(0.5)).count();
        assert!((4_800..5_200).contains(&heads), "{heads} heads");
    }

    #[test]
    fn chance_draws_once_whatever_p() {
        let mut a = Rng::new(9);
        let mut b = Rng::new(9);
        a.chance(0.0);
        b.chance(0.7);
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn zipf_favours_the_first_items() {
        let zipf = Zipf::new(100, 1.0);
        let mut rng = Rng::new(1);
        let mut counts = [0u32; 100];
        for _ in 0..100_000 {
            counts[zipf.sample(&mut rng) as usize] += 1;
        }
        // P(0) = 1 / H(100) = 0.193; P(1) half of it.
        assert!((18_500..20_100).contains(&counts[0]), "{}", counts[0]);
        assert!((9_000..10_300).contains(&counts[1]), "{}", counts[1]);
        assert!(counts[99] > 0 && counts[99] < 400, "{}", counts[99]);
        let uniform = Zipf::new(4, 0.0);
        let mut seen = [0u32; 4];
        for _ in 0..4_000 {
            seen[uniform.sample(&mut rng) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (900..1100).contains(&c)), "{seen:?}");
        assert_eq!(Zipf::new(1, 1.0).sample(&mut rng), 0);
    }

    #[test]
    fn seeds_from_the_clock_vary() {
        // The clock moves between calls; try many times rather than depend
        // on the clock's resolution.
        let first = seed_from_clock();
        let varies = (0..1000).any(|_| seed_from_clock() != first);
        assert!(varies, "seed_from_clock returned {first} every time");
    }
}
