//! Multipliers, payouts and returns to player, in integers.
//!
//! A multiplier is fixed point with [`Multiplier::SCALE`] parts per unit, like [`crate::Odds`],
//! but may be below one (plinko's 0.2×) or far above any bookmaker's odds (mines with 13
//! mines and 12 gems pays over five million times): so a `u64`, not an `Odds`. A payout is
//! `floor(stake × multiplier)`, the engine's one payout rule, capped by the game's max win.

use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Multiplier(pub u64);

impl Multiplier {
    pub const SCALE: u64 = 10_000;
    pub const ZERO: Multiplier = Multiplier(0);
    pub const ONE: Multiplier = Multiplier(Self::SCALE);

    /// From hundredths (`196` is 1.96×), the precision every payout table here is written in.
    pub const fn hundredths(h: u64) -> Multiplier {
        Multiplier(h * 100)
    }
}

impl fmt::Display for Multiplier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / Self::SCALE;
        let frac = self.0 % Self::SCALE;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:04}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// `floor(stake × multiplier)`, at most `max_win` (and never more than an `i64` holds).
#[inline]
pub fn payout(stake: Money, m: Multiplier, max_win: Money) -> Money {
    debug_assert!(stake.0 >= 0 && max_win.0 >= 0);
    let wide = stake.0 as i128 * m.0 as i128 / Multiplier::SCALE as i128;
    Money(wide.min(max_win.0 as i128) as i64)
}

/// A return to player in millionths (990_000 is 99 %): exact to the millionth, rounded down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rtp(pub u64);

impl Rtp {
    /// `num / den` of a stake comes back on average; `num` and `den` exact.
    pub fn ratio(num: u128, den: u128) -> Rtp {
        Rtp((num * 1_000_000 / den) as u64)
    }
}

impl fmt::Display for Rtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:04}%", self.0 / 10_000, self.0 % 10_000)
    }
}

/// `n choose k`, exact for the sizes the games use (at most 40 choose 20).
pub fn choose(n: u32, k: u32) -> u128 {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    (0..k).fold(1u128, |acc, i| acc * (n - i) as u128 / (i + 1) as u128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payouts_round_down_and_respect_the_cap() {
        assert_eq!(payout(Money(333), Multiplier::hundredths(196), Money(i64::MAX)), Money(652)); // 652.68
        assert_eq!(payout(Money(100), Multiplier::ZERO, Money(i64::MAX)), Money(0));
        assert_eq!(payout(Money(100), Multiplier(52_000_000_000), Money(1_000)), Money(1_000));
        assert_eq!(payout(Money(i64::MAX), Multiplier(u64::MAX), Money(i64::MAX)), Money(i64::MAX));
    }

    #[test]
    fn multipliers_and_returns_print_as_decimals() {
        assert_eq!(Multiplier::hundredths(20).to_string(), "0.2");
        assert_eq!(Multiplier(10_312).to_string(), "1.0312");
        assert_eq!(Multiplier::hundredths(100_000).to_string(), "1000");
        assert_eq!(Rtp(990_000).to_string(), "99.0000%");
        assert_eq!(Rtp::ratio(1, 3).to_string(), "33.3333%");
    }

    #[test]
    fn binomials_are_exact() {
        assert_eq!(choose(40, 10), 847_660_528);
        assert_eq!(choose(25, 12), 5_200_300);
        assert_eq!(choose(5, 6), 0);
        assert_eq!(choose(16, 0), 1);
    }
}
