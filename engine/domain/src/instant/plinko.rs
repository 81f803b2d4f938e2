//! Plinko (Stake's): one number per row, the ball goes right when it is at least one half;
//! the slot is the number of rights (0 ..= rows). 8 to 16 rows, three risk tables each.

use super::fair::Stream;
use super::payout::{choose, Multiplier, Rtp};
use serde::{Deserialize, Serialize};

pub const MIN_ROWS: u8 = 8;
pub const MAX_ROWS: u8 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PlinkoRisk {
    Low,
    Medium,
    High,
}

impl PlinkoRisk {
    pub const ALL: [PlinkoRisk; 3] = [PlinkoRisk::Low, PlinkoRisk::Medium, PlinkoRisk::High];

    pub fn name(self) -> &'static str {
        match self {
            PlinkoRisk::Low => "low",
            PlinkoRisk::Medium => "medium",
            PlinkoRisk::High => "high",
        }
    }

    pub fn from_name(s: &str) -> Option<PlinkoRisk> {
        PlinkoRisk::ALL.into_iter().find(|r| r.name() == s)
    }
}

/// A ball's path: bit `i` set when it went right at row `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Path {
    pub rows: u8,
    pub rights: u16,
}

impl Path {
    /// The slot it lands in: how many times it went right.
    pub fn slot(self) -> u8 {
        self.rights.count_ones() as u8
    }

    /// `L`/`R` per row, as verifiers print it.
    pub fn directions(self) -> String {
        (0..self.rows).map(|i| if self.rights & (1 << i) != 0 { 'R' } else { 'L' }).collect()
    }
}

pub fn drop_ball(s: &mut Stream<'_>, rows: u8) -> Path {
    debug_assert!((MIN_ROWS..=MAX_ROWS).contains(&rows));
    let rights = (0..rows).fold(0u16, |acc, i| if s.next_unit().at_least_half() { acc | 1 << i } else { acc });
    Path { rows, rights }
}

/// The multiplier of each slot for one number of rows and one risk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlinkoTable {
    pub rows: u8,
    pub risk: PlinkoRisk,
    pub slots: Vec<Multiplier>,
}

impl PlinkoTable {
    /// Σ over slots of P(slot) × multiplier, P binomial(rows, ½).
    pub fn rtp(&self) -> Rtp {
        let n = self.rows as u32;
        let num: u128 = self.slots.iter().enumerate().map(|(k, m)| choose(n, k as u32) * m.0 as u128).sum();
        Rtp::ratio(num, (1u128 << n) * Multiplier::SCALE as u128)
    }

    pub fn validate(&self) -> Result<(), &'static str> {
        if !(MIN_ROWS..=MAX_ROWS).contains(&self.rows) || self.slots.len() != self.rows as usize + 1 {
            return Err("a plinko table has 8 to 16 rows and one multiplier per slot (rows + 1)");
        }
        if self.rtp().0 > 1_000_000 {
            return Err("a plinko table returns more than the stake on average");
        }
        Ok(())
    }

    /// Stake's table (symmetric; written from the centre slot outwards, in hundredths).
    pub fn stake(rows: u8, risk: PlinkoRisk) -> PlinkoTable {
        use PlinkoRisk::*;
        let half: &[u64] = match (rows, risk) {
            (8, Low) => &[50, 100, 110, 210, 560],
            (8, Medium) => &[40, 70, 130, 300, 1300],
            (8, High) => &[20, 30, 150, 400, 2900],
            (9, Low) => &[70, 100, 160, 200, 560],
            (9, Medium) => &[50, 90, 170, 400, 1800],
            (9, High) => &[20, 60, 200, 700, 4300],
            (10, Low) => &[50, 100, 110, 140, 300, 890],
            (10, Medium) => &[40, 60, 140, 200, 500, 2200],
            (10, High) => &[20, 30, 90, 300, 1000, 7600],
            (11, Low) => &[70, 100, 130, 190, 300, 840],
            (11, Medium) => &[50, 70, 180, 300, 600, 2400],
            (11, High) => &[20, 40, 140, 520, 1400, 12000],
            (12, Low) => &[50, 100, 110, 140, 160, 300, 1000],
            (12, Medium) => &[30, 60, 110, 200, 400, 1100, 3300],
            (12, High) => &[20, 20, 70, 200, 810, 2400, 17000],
            (13, Low) => &[70, 90, 120, 190, 300, 400, 810],
            (13, Medium) => &[40, 70, 130, 300, 600, 1300, 4300],
            (13, High) => &[20, 20, 100, 400, 1100, 3700, 26000],
            (14, Low) => &[50, 100, 110, 130, 140, 190, 400, 710],
            (14, Medium) => &[20, 50, 100, 190, 400, 700, 1500, 5800],
            (14, High) => &[20, 20, 30, 190, 500, 1800, 5600, 42000],
            (15, Low) => &[70, 100, 110, 150, 200, 300, 800, 1500],
            (15, Medium) => &[30, 50, 130, 300, 500, 1100, 1800, 8800],
            (15, High) => &[20, 20, 50, 300, 800, 2700, 8300, 62000],
            (16, Low) => &[50, 100, 110, 120, 140, 140, 200, 900, 1600],
            (16, Medium) => &[30, 50, 100, 150, 300, 500, 1000, 4100, 11000],
            (16, High) => &[20, 20, 20, 200, 400, 900, 2700, 13000, 100000],
            _ => panic!("plinko has 8 to 16 rows"),
        };
        // Slot k is |k − rows/2| from the centre; an odd row count has two centre slots.
        let slots = (0..=rows as i32)
            .map(|k| {
                let from_centre =
                    if rows.is_multiple_of(2) { (k - rows as i32 / 2).abs() } else { (2 * k - rows as i32).abs() / 2 };
                Multiplier::hundredths(half[from_centre as usize])
            })
            .collect();
        PlinkoTable { rows, risk, slots }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stakes_tables_are_whole_and_return_about_99_percent() {
        for rows in MIN_ROWS..=MAX_ROWS {
            for risk in PlinkoRisk::ALL {
                let t = PlinkoTable::stake(rows, risk);
                t.validate().unwrap();
                assert_eq!(t.slots.first(), t.slots.last());
                let rtp = t.rtp().0;
                assert!((985_000..=995_000).contains(&rtp), "{rows} {risk:?}: {rtp}");
            }
        }
        let t = PlinkoTable::stake(9, PlinkoRisk::Low);
        let names: Vec<String> = t.slots.iter().map(|m| m.to_string()).collect();
        assert_eq!(names, ["5.6", "2", "1.6", "1", "0.7", "0.7", "1", "1.6", "2", "5.6"]);
    }

    #[test]
    fn paths_count_their_rights() {
        let p = Path { rows: 8, rights: 0b1011_0011 };
        assert_eq!(p.slot(), 5);
        assert_eq!(p.directions(), "RRLLRRLR");
    }
}
