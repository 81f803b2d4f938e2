//! Seed 002's other way to receive, 摇 (shake): the pure rules of a shake campaign's draw
//! (issue 20, item 2). A campaign splits its funded total into prizes ([`PrizeTable`]: equal
//! prizes, or tiers of amounts); each shake wins with the published probability, in millionths
//! ([`PPM`]), while prizes are left, and takes one of the prizes left, each with the same
//! chance. The draw is a pure function of a seed that the edge draws from the operating
//! system's CSPRNG and puts in the shake's command, and of the shake's id: a replay of the
//! journal, or a repeat of the shake, draws the same. The campaign itself (funding, the
//! per-player cap, the window, the refund of what is left) is not built yet.

use crate::ids::ExtId;
use crate::money::Money;
use serde::{Deserialize, Serialize};

/// Probabilities are in millionths: 250_000 is one shake in four.
pub const PPM: u32 = 1_000_000;
/// Most prizes one campaign may hold, as for a red packet's shares.
pub const MAX_PRIZES: u64 = 10_000_000;
/// Most tiers of a split rule: a table walked on every winning shake stays short.
pub const MAX_TIERS: usize = 64;

/// `count` prizes of `amount` each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub amount: Money,
    pub count: u32,
}

/// How a campaign's total is split into prizes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Split {
    /// `prizes` equal prizes; the remainder goes one minor unit each to the first ones.
    Equal { prizes: u32 },
    /// The sponsor's own table, which must add up to the total exactly.
    Tiers(Vec<Tier>),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("a campaign needs between 1 and {MAX_PRIZES} prizes in at most {MAX_TIERS} tiers")]
    PrizeCount,
    #[error("every prize must be at least one minor unit")]
    PrizeTooSmall,
    #[error("the prizes add up to {prizes}, not to the total {total}")]
    DoesNotAddUp { prizes: i128, total: Money },
}

/// A campaign's prizes as tiers, largest amount first, none empty; they add up to the total.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrizeTable {
    tiers: Vec<Tier>,
}

impl PrizeTable {
    pub fn new(total: Money, split: &Split) -> Result<PrizeTable, SplitError> {
        let mut tiers = match split {
            Split::Equal { prizes: 0 } => return Err(SplitError::PrizeCount),
            Split::Equal { prizes } => {
                let n = i64::from(*prizes);
                let (base, extra) = (total.0 / n, total.0 % n);
                vec![
                    Tier { amount: Money(base + 1), count: extra as u32 },
                    Tier { amount: Money(base), count: (n - extra) as u32 },
                ]
            }
            Split::Tiers(t) if t.len() > MAX_TIERS => return Err(SplitError::PrizeCount),
            Split::Tiers(t) => t.clone(),
        };
        tiers.retain(|t| t.count > 0);
        tiers.sort_by_key(|t| std::cmp::Reverse(t.amount));
        let prizes: u64 = tiers.iter().map(|t| u64::from(t.count)).sum();
        if prizes == 0 || prizes > MAX_PRIZES {
            return Err(SplitError::PrizeCount);
        }
        if tiers.iter().any(|t| t.amount.0 < 1) {
            return Err(SplitError::PrizeTooSmall);
        }
        let sum: i128 = tiers.iter().map(|t| i128::from(t.amount.0) * i128::from(t.count)).sum();
        if sum != i128::from(total.0) {
            return Err(SplitError::DoesNotAddUp { prizes: sum, total });
        }
        Ok(PrizeTable { tiers })
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    pub fn prizes(&self) -> u64 {
        self.tiers.iter().map(|t| u64::from(t.count)).sum()
    }
}

/// A shake's draw: whether it wins (`PPM` draws, `win_ppm` of them winning) and, if it
/// does, which of the prizes left (tier by tier, each prize equally likely).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roll {
    /// Uniform in `0..PPM`: the shake wins when below the campaign's `win_ppm`.
    pub chance: u32,
    /// Uniform in `0..2^32`: scaled to the number of prizes left to pick one.
    pub pick: u32,
}

/// The draw of shake `shake` under the command's `seed`. The seed is secret and fresh for
/// each shake (the edge's CSPRNG), so the mix needs to spread it, not to hide it.
pub fn roll(seed: u64, shake: &ExtId) -> Roll {
    let r = crate::topology::mix(seed ^ crate::topology::mix(id_hash(shake)));
    Roll { chance: ((u64::from(r as u32) * u64::from(PPM)) >> 32) as u32, pick: (r >> 32) as u32 }
}

/// The tier of the prize won by `roll`, given how many prizes of each tier are left (in the
/// table's order), or `None` when the shake loses or nothing is left.
pub fn prize(roll: Roll, win_ppm: u32, left: &[u32]) -> Option<usize> {
    let total: u64 = left.iter().map(|n| u64::from(*n)).sum();
    if roll.chance >= win_ppm || total == 0 {
        return None;
    }
    let mut k = (u64::from(roll.pick) * total) >> 32;
    for (tier, n) in left.iter().enumerate() {
        if k < u64::from(*n) {
            return Some(tier);
        }
        k -= u64::from(*n);
    }
    unreachable!("k < total, the sum of left")
}

/// A stable hash of a shake's id (FNV-1a over its bytes, then mixed).
fn id_hash(id: &ExtId) -> u64 {
    id.as_str().bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shake(n: u64) -> ExtId {
        ExtId::numbered("shake-", n)
    }

    /// Shakes a campaign until every prize is paid: what each tier paid, and the sum.
    fn shake_out(table: &PrizeTable, win_ppm: u32, seed: u64) -> (Vec<u32>, i128, u64) {
        let mut left: Vec<u32> = table.tiers().iter().map(|t| t.count).collect();
        let (mut paid, mut sum, mut shakes) = (vec![0u32; left.len()], 0i128, 0u64);
        while left.iter().any(|n| *n > 0) {
            shakes += 1;
            let r = roll(seed.wrapping_add(shakes.wrapping_mul(0x9E37_79B9_7F4A_7C15)), &shake(shakes));
            if let Some(t) = prize(r, win_ppm, &left) {
                left[t] -= 1;
                paid[t] += 1;
                sum += i128::from(table.tiers()[t].amount.0);
            }
        }
        (paid, sum, shakes)
    }

    proptest! {
        /// Every prize is paid exactly once and the paid prizes sum to the funded total, for
        /// equal splits and the sponsor's tiers alike.
        #[test]
        fn a_campaign_shaken_out_pays_every_prize_once_and_sums_exactly(
            total in 1i64..5_000_000,
            prizes in 1u32..400,
            tiers in prop::collection::vec((1i64..10_000, 1u32..50), 1..6),
            equal in any::<bool>(),
            win_ppm in 50_000u32..=PPM,
            seed in any::<u64>(),
        ) {
            let (total, split) = if equal {
                (Money(total.max(i64::from(prizes))), Split::Equal { prizes })
            } else {
                let t: Vec<Tier> = tiers.iter().map(|(a, c)| Tier { amount: Money(*a), count: *c }).collect();
                (Money(t.iter().map(|t| t.amount.0 * i64::from(t.count)).sum()), Split::Tiers(t))
            };
            let table = PrizeTable::new(total, &split).unwrap();
            let (paid, sum, shakes) = shake_out(&table, win_ppm, seed);
            prop_assert_eq!(sum, i128::from(total.0));
            let counts: Vec<u32> = table.tiers().iter().map(|t| t.count).collect();
            prop_assert_eq!(paid, counts);
            prop_assert!(shakes >= table.prizes());
        }

        /// The same seed and shake id draw the same, whoever replays them.
        #[test]
        fn a_draw_is_a_pure_function_of_the_seed_and_the_shake_id(seed in any::<u64>(), n in any::<u64>()) {
            prop_assert_eq!(roll(seed, &shake(n)), roll(seed, &shake(n)));
            prop_assert!(roll(seed, &shake(n)).chance < PPM);
        }
    }

    #[test]
    fn shakes_win_at_the_published_rate_and_pick_prizes_evenly() {
        // 400,000 shakes at 25 %: the count is within 1 % of 100,000 (about 11 standard
        // deviations: a wrong scaling misses it, chance does not).
        let left = [1_000_000u32, 3_000_000];
        let (mut wins, mut first) = (0u32, 0u32);
        for n in 0..400_000u64 {
            if let Some(t) = prize(roll(0xC0FF_EE00 ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D), &shake(n)), PPM / 4, &left)
            {
                wins += 1;
                first += u32::from(t == 0);
            }
        }
        assert!((99_000..=101_000).contains(&wins), "{wins} wins");
        // A quarter of the prizes are in the first tier.
        assert!((24_000..=26_000).contains(&first), "{first} of {wins}");
        assert_eq!(prize(Roll { chance: 0, pick: u32::MAX }, 1, &[0, 0]), None, "nothing left, nothing won");
        assert_eq!(prize(Roll { chance: 1, pick: 0 }, 1, &[5]), None, "chance 1 of 0..1 loses");
    }

    #[test]
    fn split_rules_are_checked() {
        let equal = PrizeTable::new(Money(1_003), &Split::Equal { prizes: 4 }).unwrap();
        assert_eq!(equal.tiers(), &[Tier { amount: Money(251), count: 3 }, Tier { amount: Money(250), count: 1 }]);
        assert_eq!(PrizeTable::new(Money(3), &Split::Equal { prizes: 4 }), Err(SplitError::PrizeTooSmall));
        assert_eq!(PrizeTable::new(Money(3), &Split::Equal { prizes: 0 }), Err(SplitError::PrizeCount));
        let tiers = Split::Tiers(vec![Tier { amount: Money(100), count: 1 }, Tier { amount: Money(10), count: 5 }]);
        assert_eq!(PrizeTable::new(Money(150), &tiers).unwrap().prizes(), 6);
        assert_eq!(
            PrizeTable::new(Money(151), &tiers),
            Err(SplitError::DoesNotAddUp { prizes: 150, total: Money(151) })
        );
        let zero = Split::Tiers(vec![Tier { amount: Money(0), count: 5 }, Tier { amount: Money(10), count: 1 }]);
        assert_eq!(PrizeTable::new(Money(10), &zero), Err(SplitError::PrizeTooSmall));
        let huge = Split::Tiers(vec![Tier { amount: Money(1), count: u32::MAX }; 3]);
        assert_eq!(PrizeTable::new(Money(1), &huge), Err(SplitError::PrizeCount));
    }
}
