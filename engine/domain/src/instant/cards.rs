//! Cards (Stake's): each card is `floor(f × 52)` in Stake's deck order, ranks 2..A each in
//! the suits diamonds, hearts, spades, clubs; drawn with replacement (an endless shoe).

use super::fair::Stream;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card(pub u8);

const RANKS: [&str; 13] = ["2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K", "A"];
const SUITS: [&str; 4] = ["diamond", "heart", "spade", "club"];

impl Card {
    pub fn next(s: &mut Stream<'_>) -> Card {
        Card(s.next_unit().scale(52) as u8)
    }

    /// 0 for a two … 12 for an ace.
    pub fn rank(self) -> u8 {
        self.0 / 4
    }

    pub fn suit(self) -> &'static str {
        SUITS[(self.0 % 4) as usize]
    }

    /// Blackjack points: 2..10 by face, 10 for a court card, 11 for an ace (counted as 1
    /// when 11 would bust).
    pub fn points(self) -> u8 {
        match self.rank() {
            r @ 0..=8 => r + 2,
            9..=11 => 10,
            _ => 11,
        }
    }

    pub fn is_ace(self) -> bool {
        self.rank() == 12
    }
}

impl fmt::Display for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", RANKS[self.rank() as usize], self.suit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deck_is_in_stakes_order() {
        assert_eq!(Card(0).to_string(), "2-diamond");
        assert_eq!(Card(3).to_string(), "2-club");
        assert_eq!(Card(35).to_string(), "10-club");
        assert_eq!(Card(51).to_string(), "A-club");
        assert_eq!((Card(0).points(), Card(36).points(), Card(48).points()), (2, 10, 11));
    }
}
