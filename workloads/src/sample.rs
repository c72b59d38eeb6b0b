//! Choosing which functions of a trace to replay.
//!
//! Every sampler sees each function's invocation count inside the replayed window and returns
//! which functions to keep. Functions are ranked by count with ties broken by function id, and
//! random choices use the seed handed in, so a sample is reproducible.
//!
//! - `all`: every function.
//! - `top`: the `n` most invoked functions, the usual way to keep a trace's load while
//!   shrinking its catalog.
//! - `band`: functions whose popularity quantile lies in `[from, to]` (0 is the least invoked
//!   function, 1 the most), optionally `n` of them at random; DSLab selects apps by popularity
//!   quantile this way (Aleksandrov et al., DSLab FaaS).
//! - `representative`: FaasCache's representative sample (Fuerst and Sharma, ASPLOS'21): the
//!   functions with at least one invocation are split into four quartiles of invocation count and
//!   `n / 4` are drawn at random from each, so rare and popular functions are equally present.
//! - `rare`: the `n` least invoked functions that are invoked at all (FaasCache's "rare" trace).
//! - `random`: `n` functions invoked at least once, uniformly at random (FaasCache's "random").

use rand::SeedableRng;
use rand::seq::index;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// A sampler and its parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Sample {
    #[default]
    All,
    Top {
        n: usize,
    },
    Band {
        from: f64,
        to: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        n: Option<usize>,
    },
    Representative {
        n: usize,
    },
    Rare {
        n: usize,
    },
    Random {
        n: usize,
    },
}

impl Sample {
    pub fn validate(&self) -> Result<(), String> {
        let positive = |n: usize, kind: &str| {
            if n == 0 {
                Err(format!("sample {kind}: n must be at least 1, got 0"))
            } else {
                Ok(())
            }
        };
        match *self {
            Sample::All => Ok(()),
            Sample::Top { n } => positive(n, "top"),
            Sample::Rare { n } => positive(n, "rare"),
            Sample::Random { n } => positive(n, "random"),
            Sample::Representative { n } => positive(n, "representative"),
            Sample::Band { from, to, n } => {
                if !(0.0..=1.0).contains(&from) || !(0.0..=1.0).contains(&to) || from > to {
                    return Err(format!(
                        "sample band: need 0 <= from <= to <= 1, got from {from} and to {to}"
                    ));
                }
                n.map_or(Ok(()), |n| positive(n, "band"))
            }
        }
    }

    /// A short description for reports, e.g. `top n=100`.
    pub fn label(&self) -> String {
        match *self {
            Sample::All => "all".into(),
            Sample::Top { n } => format!("top n={n}"),
            Sample::Band { from, to, n: None } => format!("band {from}-{to}"),
            Sample::Band {
                from,
                to,
                n: Some(n),
            } => format!("band {from}-{to} n={n}"),
            Sample::Representative { n } => format!("representative n={n}"),
            Sample::Rare { n } => format!("rare n={n}"),
            Sample::Random { n } => format!("random n={n}"),
        }
    }

    /// Which functions to keep, given each function's invocation count.
    pub fn select(&self, counts: &[u64], seed: u64) -> Vec<bool> {
        let mut keep = vec![false; counts.len()];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        // Invoked functions from the least to the most invoked, ties by id.
        let ranked = || {
            let mut r: Vec<usize> = (0..counts.len()).filter(|&f| counts[f] > 0).collect();
            r.sort_by_key(|&f| (counts[f], f));
            r
        };
        let mut take_random = |pool: &[usize], n: usize, keep: &mut Vec<bool>| {
            if n >= pool.len() {
                pool.iter().for_each(|&f| keep[f] = true);
            } else {
                for i in index::sample(&mut rng, pool.len(), n) {
                    keep[pool[i]] = true;
                }
            }
        };
        match *self {
            Sample::All => keep.fill(true),
            Sample::Top { n } => ranked().iter().rev().take(n).for_each(|&f| keep[f] = true),
            Sample::Rare { n } => ranked().iter().take(n).for_each(|&f| keep[f] = true),
            Sample::Random { n } => take_random(&ranked(), n, &mut keep),
            Sample::Band { from, to, n } => {
                let r = ranked();
                let band = quantile_band(&r, from, to);
                match n {
                    None => band.iter().for_each(|&f| keep[f] = true),
                    Some(n) => take_random(band, n, &mut keep),
                }
            }
            Sample::Representative { n } => {
                let r = ranked();
                // Quartile q holds ranks [q len / 4, (q + 1) len / 4); the remainder of n / 4 goes
                // to the most popular quartiles first.
                for q in 0..4 {
                    let quartile = &r[q * r.len() / 4..(q + 1) * r.len() / 4];
                    let share = n / 4 + usize::from(3 - q < n % 4);
                    take_random(quartile, share, &mut keep);
                }
            }
        }
        keep
    }
}

/// The functions of `ranked` (least to most invoked) whose quantile `rank / (len - 1)` lies in
/// `[from, to]`.
fn quantile_band(ranked: &[usize], from: f64, to: f64) -> &[usize] {
    let n = ranked.len();
    if n == 0 {
        return ranked;
    }
    if n == 1 {
        return ranked;
    }
    let last = (n - 1) as f64;
    let lo = (from * last).ceil() as usize;
    let hi = ((to * last).floor() as usize).min(n - 1);
    if lo > hi {
        &ranked[0..0]
    } else {
        &ranked[lo..=hi]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(keep: &[bool]) -> Vec<usize> {
        (0..keep.len()).filter(|&f| keep[f]).collect()
    }

    // Function f has count COUNTS[f]; 0 is never invoked.
    const COUNTS: [u64; 9] = [5, 0, 100, 1, 7, 7, 50, 2, 1000];

    #[test]
    fn top_takes_the_most_invoked() {
        assert_eq!(kept(&Sample::Top { n: 3 }.select(&COUNTS, 1)), [2, 6, 8]);
        // Ties go to the higher id, which ranks above the lower.
        assert_eq!(
            kept(&Sample::Top { n: 5 }.select(&COUNTS, 1)),
            [2, 4, 5, 6, 8]
        );
        assert_eq!(kept(&Sample::Top { n: 100 }.select(&COUNTS, 1)).len(), 8);
    }

    #[test]
    fn rare_takes_the_least_invoked_that_are_invoked() {
        assert_eq!(kept(&Sample::Rare { n: 3 }.select(&COUNTS, 1)), [0, 3, 7]);
    }

    #[test]
    fn all_keeps_even_uninvoked_functions() {
        assert_eq!(kept(&Sample::All.select(&COUNTS, 1)).len(), 9);
    }

    #[test]
    fn band_selects_by_popularity_quantile() {
        // Ranked: 3(1) 7(2) 0(5) 4(7) 5(7) 6(50) 2(100) 8(1000); quantiles k/7.
        let top_quarter = Sample::Band {
            from: 0.75,
            to: 1.0,
            n: None,
        };
        // ceil(0.75 * 7) = 6 → ranks 6, 7: functions 2 and 8.
        assert_eq!(kept(&top_quarter.select(&COUNTS, 1)), [2, 8]);
        let bottom_half = Sample::Band {
            from: 0.0,
            to: 0.5,
            n: None,
        };
        // floor(0.5 * 7) = 3 → ranks 0..=3: functions 3, 7, 0, 4.
        assert_eq!(kept(&bottom_half.select(&COUNTS, 1)), [0, 3, 4, 7]);
        let some = Sample::Band {
            from: 0.0,
            to: 0.5,
            n: Some(2),
        };
        let k = kept(&some.select(&COUNTS, 9));
        assert_eq!(k.len(), 2);
        assert!(k.iter().all(|f| [0, 3, 4, 7].contains(f)));
    }

    #[test]
    fn representative_draws_equally_from_quartiles() {
        // 400 functions with counts 1..=400: quartile q holds counts 100q+1 ..= 100q+100.
        let counts: Vec<u64> = (1..=400).collect();
        let keep = Sample::Representative { n: 40 }.select(&counts, 7);
        let mut per_quartile = [0; 4];
        for f in kept(&keep) {
            per_quartile[f / 100] += 1;
        }
        assert_eq!(per_quartile, [10, 10, 10, 10]);
        // A remainder goes to the most popular quartiles.
        let keep = Sample::Representative { n: 6 }.select(&counts, 7);
        let mut per_quartile = [0; 4];
        for f in kept(&keep) {
            per_quartile[f / 100] += 1;
        }
        assert_eq!(per_quartile, [1, 1, 2, 2]);
    }

    #[test]
    fn random_is_seeded_and_skips_uninvoked() {
        let a = Sample::Random { n: 4 }.select(&COUNTS, 3);
        let b = Sample::Random { n: 4 }.select(&COUNTS, 3);
        assert_eq!(a, b);
        assert_eq!(kept(&a).len(), 4);
        assert!(!a[1]);
        let draws: std::collections::HashSet<Vec<bool>> = (0..20)
            .map(|s| Sample::Random { n: 4 }.select(&COUNTS, s))
            .collect();
        assert!(draws.len() > 5, "different seeds give different samples");
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(
            Sample::Top { n: 0 }
                .validate()
                .unwrap_err()
                .contains("n must be")
        );
        let bad = Sample::Band {
            from: 0.8,
            to: 0.2,
            n: None,
        };
        assert!(bad.validate().unwrap_err().contains("from 0.8"));
    }
}
