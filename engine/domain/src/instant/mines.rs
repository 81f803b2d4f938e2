//! Mines (Stake's): a 5×5 board, 1 to 24 mines placed by index picking from the 25 tiles;
//! each gem revealed raises the multiplier to `(1 − edge) × C(25, k) / C(25 − m, k)` after
//! `k` gems (the fair odds of surviving `k` picks, less the edge).

use super::fair::Stream;
use super::payout::{choose, Multiplier, Rtp};

pub const TILES: u8 = 25;
pub const MIN_MINES: u8 = 1;
pub const MAX_MINES: u8 = 24;

/// The mines as a set of tiles (bit `t` for tile `t`, tiles 0..25 row by row).
pub fn place(s: &mut Stream<'_>, mines: u8) -> u32 {
    debug_assert!((MIN_MINES..=MAX_MINES).contains(&mines));
    let mut picked = [0u8; MAX_MINES as usize];
    let picked = &mut picked[..mines as usize];
    s.pick_distinct(TILES, picked);
    picked.iter().fold(0u32, |set, &t| set | 1 << t)
}

/// The multiplier after `gems` safe tiles with `mines` mines; `edge_bp` in basis points.
pub fn multiplier(mines: u8, gems: u8, edge_bp: u16) -> Multiplier {
    debug_assert!(gems <= TILES - mines);
    let fair_num = choose(TILES as u32, gems as u32);
    let fair_den = choose((TILES - mines) as u32, gems as u32);
    Multiplier(((10_000 - edge_bp as u128) * fair_num / fair_den) as u64)
}

/// The return of cashing out after `gems` gems: P(surviving) × multiplier.
pub fn rtp(mines: u8, gems: u8, edge_bp: u16) -> Rtp {
    let survive_num = choose((TILES - mines) as u32, gems as u32);
    let survive_den = choose(TILES as u32, gems as u32);
    Rtp::ratio(survive_num * multiplier(mines, gems, edge_bp).0 as u128, survive_den * Multiplier::SCALE as u128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipliers_are_stakes() {
        // Stake shows 1.03× for the first gem with one mine and 24.75× with 24.
        assert_eq!(multiplier(1, 1, 100), Multiplier(10_312));
        assert_eq!(multiplier(24, 1, 100), Multiplier(247_500));
        assert_eq!(multiplier(3, 2, 100), Multiplier(12_857)); // 1.29×
        assert_eq!(multiplier(13, 12, 100).to_string(), "5148297");
    }

    #[test]
    fn every_cash_out_returns_just_under_the_edge() {
        for m in MIN_MINES..=MAX_MINES {
            for k in 1..=TILES - m {
                let r = rtp(m, k, 100).0;
                assert!((989_000..=990_000).contains(&r), "{m} mines, {k} gems: {r}");
            }
        }
    }
}
