//! Dice (Stake's): roll `floor(f × 10001) / 100`, from 0.00 to 100.00, over or under a
//! target. Payout `(100 − edge) / chance`; the default edge is 1 %.

use super::fair::Stream;
use super::payout::{Multiplier, Rtp};
use serde::{Deserialize, Serialize};

/// Every roll is one of 0.00 ..= 100.00, in hundredths.
pub const ROLLS: u32 = 10_001;
/// Chance bounds in hundredths of a percent (seed 003: 0.01 % to 98 %).
pub const MIN_CHANCE: u16 = 1;
pub const MAX_CHANCE: u16 = 9_800;

/// A roll in hundredths (`9308` is 93.08).
pub fn roll(s: &mut Stream<'_>) -> u16 {
    s.next_unit().scale(ROLLS) as u16
}

/// The player's call: over or under `target` (hundredths).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiceCall {
    pub target: u16,
    pub over: bool,
}

impl DiceCall {
    /// The chance of winning in hundredths of a percent, if within bounds.
    pub fn chance(self) -> Option<u16> {
        let chance = if self.over { 10_000u16.checked_sub(self.target)? } else { self.target };
        (MIN_CHANCE..=MAX_CHANCE).contains(&chance).then_some(chance)
    }

    pub fn wins(self, roll: u16) -> bool {
        if self.over {
            roll > self.target
        } else {
            roll < self.target
        }
    }
}

/// `(100 − edge) / chance`, rounded down to the multiplier's precision; `edge` in basis points.
pub fn multiplier(chance: u16, edge_bp: u16) -> Multiplier {
    debug_assert!(chance >= MIN_CHANCE && edge_bp < 10_000);
    Multiplier((10_000 - edge_bp as u64) * Multiplier::SCALE / chance as u64)
}

/// The return of a call: `chance` of the 10,001 rolls win (over `t` wins on `t+1 ..= 10000`,
/// under `t` on `0 ..= t−1`), each paying the multiplier.
pub fn rtp(chance: u16, edge_bp: u16) -> Rtp {
    Rtp::ratio(chance as u128 * multiplier(chance, edge_bp).0 as u128, ROLLS as u128 * Multiplier::SCALE as u128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_bound_the_chance() {
        assert_eq!(DiceCall { target: 5_000, over: true }.chance(), Some(5_000));
        assert_eq!(DiceCall { target: 200, over: true }.chance(), Some(9_800));
        assert_eq!(DiceCall { target: 199, over: true }.chance(), None);
        assert_eq!(DiceCall { target: 10_001, over: true }.chance(), None);
        assert_eq!(DiceCall { target: 0, over: false }.chance(), None);
        assert_eq!(DiceCall { target: 1, over: false }.chance(), Some(1));
        assert!(DiceCall { target: 5_000, over: true }.wins(5_001));
        assert!(!DiceCall { target: 5_000, over: true }.wins(5_000));
        assert!(DiceCall { target: 5_000, over: false }.wins(4_999));
        assert!(!DiceCall { target: 5_000, over: false }.wins(5_000));
    }

    #[test]
    fn multipliers_follow_the_edge() {
        assert_eq!(multiplier(4_950, 100), Multiplier(20_000)); // 49.5 % pays 2×
        assert_eq!(multiplier(1, 100), Multiplier(99_000_000)); // 0.01 % pays 9900×
        assert_eq!(multiplier(9_800, 100), Multiplier(10_102));
        // Each winning roll is one of 10,001: the return is just under 99 %.
        assert_eq!(rtp(4_950, 100).to_string(), "98.9901%");
    }

    #[test]
    fn the_return_never_reaches_the_stake_at_a_positive_edge() {
        for chance in MIN_CHANCE..=MAX_CHANCE {
            assert!(rtp(chance, 100).0 < 990_000, "chance {chance}");
        }
    }
}
