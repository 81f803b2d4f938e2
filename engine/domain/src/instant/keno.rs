//! Keno (Stake's): 10 numbers drawn from 40 without replacement by index picking; the player
//! picks 1 to 10; the payout depends on the risk, the number of picks and the hits.
//! Tiles are 0..40 here and 1..=40 to players (as Stake shows them).

use super::fair::Stream;
use super::payout::{choose, Multiplier, Rtp};
use serde::{Deserialize, Serialize};

pub const TILES: u8 = 40;
pub const DRAWN: usize = 10;
pub const MAX_PICKS: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KenoRisk {
    Classic,
    Low,
    Medium,
    High,
}

impl KenoRisk {
    pub const ALL: [KenoRisk; 4] = [KenoRisk::Classic, KenoRisk::Low, KenoRisk::Medium, KenoRisk::High];

    pub fn name(self) -> &'static str {
        match self {
            KenoRisk::Classic => "classic",
            KenoRisk::Low => "low",
            KenoRisk::Medium => "medium",
            KenoRisk::High => "high",
        }
    }

    pub fn from_name(s: &str) -> Option<KenoRisk> {
        KenoRisk::ALL.into_iter().find(|r| r.name() == s)
    }
}

/// The ten tiles drawn, in draw order.
pub fn draw(s: &mut Stream<'_>) -> [u8; DRAWN] {
    let mut out = [0u8; DRAWN];
    s.pick_distinct(TILES, &mut out);
    out
}

/// A player's picks as a set of tiles (bit `t` for tile `t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Picks(pub u64);

impl Picks {
    /// 1 to 10 distinct tiles below 40.
    pub fn new(tiles: &[u8]) -> Option<Picks> {
        if tiles.is_empty() || tiles.len() > MAX_PICKS {
            return None;
        }
        let mut bits = 0u64;
        for &t in tiles {
            if t >= TILES || bits & (1 << t) != 0 {
                return None;
            }
            bits |= 1 << t;
        }
        Some(Picks(bits))
    }

    pub fn count(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Valid if it names 1 to 10 tiles below 40 (a decoded value is checked again).
    pub fn is_valid(self) -> bool {
        (1..=MAX_PICKS).contains(&self.count()) && self.0 >> TILES == 0
    }

    pub fn hits(self, drawn: &[u8; DRAWN]) -> usize {
        drawn.iter().filter(|&&t| self.0 & (1 << t) != 0).count()
    }

    pub fn tiles(self) -> impl Iterator<Item = u8> {
        (0..TILES).filter(move |t| self.0 & (1 << t) != 0)
    }
}

/// Per number of picks (1..=10), the multiplier for each number of hits (0..=picks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KenoTable {
    pub risk: KenoRisk,
    pub payouts: Vec<Vec<Multiplier>>,
}

impl KenoTable {
    pub fn multiplier(&self, picks: usize, hits: usize) -> Multiplier {
        self.payouts[picks - 1][hits]
    }

    /// Return to player with `picks` picks: Σ over hits of P(hits) × multiplier, P
    /// hypergeometric (10 of 40 drawn).
    pub fn rtp(&self, picks: usize) -> Rtp {
        let p = picks as u32;
        let num: u128 = (0..=p)
            .map(|h| choose(p, h) * choose(40 - p, 10 - h) * self.payouts[picks - 1][h as usize].0 as u128)
            .sum();
        Rtp::ratio(num, choose(40, 10) * Multiplier::SCALE as u128)
    }

    pub fn validate(&self) -> Result<(), &'static str> {
        if self.payouts.len() != MAX_PICKS || self.payouts.iter().enumerate().any(|(i, row)| row.len() != i + 2) {
            return Err("a keno table has 10 rows, row p with p + 1 multipliers");
        }
        if (1..=MAX_PICKS).any(|p| self.rtp(p).0 > 1_000_000) {
            return Err("a keno table returns more than the stake on average");
        }
        Ok(())
    }

    /// Stake's tables, in hundredths (each returns 98.6 % to 99.1 %).
    pub fn stake(risk: KenoRisk) -> KenoTable {
        let rows: &[&[u64]] = match risk {
            KenoRisk::Classic => &[
                &[0, 396],
                &[0, 190, 450],
                &[0, 100, 310, 1040],
                &[0, 80, 180, 500, 2250],
                &[0, 25, 140, 410, 1650, 3600],
                &[0, 0, 100, 368, 700, 1650, 4000],
                &[0, 0, 47, 300, 450, 1400, 3100, 6000],
                &[0, 0, 0, 220, 400, 1300, 2200, 5500, 7000],
                &[0, 0, 0, 155, 300, 800, 1500, 4400, 6000, 8500],
                &[0, 0, 0, 140, 225, 450, 800, 1700, 5000, 8000, 10000],
            ],
            KenoRisk::Low => &[
                &[70, 185],
                &[0, 200, 380],
                &[0, 110, 138, 2600],
                &[0, 0, 220, 790, 9000],
                &[0, 0, 150, 420, 1300, 30000],
                &[0, 0, 110, 200, 620, 10000, 70000],
                &[0, 0, 110, 160, 350, 1500, 22500, 70000],
                &[0, 0, 110, 150, 200, 550, 3900, 10000, 80000],
                &[0, 0, 110, 130, 170, 250, 750, 5000, 25000, 100000],
                &[0, 0, 110, 120, 130, 180, 350, 1300, 5000, 25000, 100000],
            ],
            KenoRisk::Medium => &[
                &[40, 275],
                &[0, 180, 510],
                &[0, 0, 280, 5000],
                &[0, 0, 170, 1000, 10000],
                &[0, 0, 140, 400, 1400, 39000],
                &[0, 0, 0, 300, 900, 18000, 71000],
                &[0, 0, 0, 200, 700, 3000, 40000, 80000],
                &[0, 0, 0, 200, 400, 1100, 6700, 40000, 90000],
                &[0, 0, 0, 200, 250, 500, 1500, 10000, 50000, 100000],
                &[0, 0, 0, 160, 200, 400, 700, 2600, 10000, 50000, 100000],
            ],
            KenoRisk::High => &[
                &[0, 396],
                &[0, 0, 1710],
                &[0, 0, 0, 8150],
                &[0, 0, 0, 1000, 25900],
                &[0, 0, 0, 450, 4800, 45000],
                &[0, 0, 0, 0, 1100, 35000, 71000],
                &[0, 0, 0, 0, 700, 9000, 40000, 80000],
                &[0, 0, 0, 0, 500, 2000, 27000, 60000, 90000],
                &[0, 0, 0, 0, 400, 1100, 5600, 50000, 80000, 100000],
                &[0, 0, 0, 0, 350, 800, 1300, 6300, 50000, 80000, 100000],
            ],
        };
        let payouts = rows.iter().map(|row| row.iter().map(|&h| Multiplier::hundredths(h)).collect()).collect();
        KenoTable { risk, payouts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_are_checked() {
        assert_eq!(Picks::new(&[0, 39]).map(Picks::count), Some(2));
        assert_eq!(Picks::new(&[]), None);
        assert_eq!(Picks::new(&[40]), None);
        assert_eq!(Picks::new(&[3, 3]), None);
        assert_eq!(Picks::new(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), None);
        assert!(!Picks(1 << 45).is_valid());
        assert_eq!(Picks::new(&[1, 5, 9]).unwrap().hits(&[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]), 2);
    }

    #[test]
    fn stakes_tables_return_about_99_percent() {
        for risk in KenoRisk::ALL {
            let t = KenoTable::stake(risk);
            t.validate().unwrap();
            for p in 1..=MAX_PICKS {
                let rtp = t.rtp(p).0;
                assert!((986_000..=991_000).contains(&rtp), "{risk:?} {p} picks: {rtp}");
            }
        }
        assert_eq!(KenoTable::stake(KenoRisk::Classic).rtp(1).to_string(), "99.0000%");
    }

    #[test]
    fn a_table_paying_more_than_it_takes_is_refused() {
        let mut t = KenoTable::stake(KenoRisk::Low);
        t.payouts[0][1] = Multiplier::hundredths(500);
        assert!(t.validate().is_err());
        t.payouts.pop();
        assert!(t.validate().is_err());
    }
}
