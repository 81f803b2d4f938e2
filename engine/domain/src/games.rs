//! The games croupier knows out of the box, as plain data an operator can start from: what
//! `croupier serve` defines in a new data folder, and what tests, simulations and benchmarks
//! play. A deployment defines its own with `Command::DefineGame`.

use crate::command::{GameDef, GameLimits, SelectionDef};
use crate::ids::{Code, ExtId};
use crate::money::{Money, Odds};

/// The id of [`baccarat`].
pub const BACCARAT: &str = "baccarat";
/// The currency of [`default_limits`].
pub const CNY: &str = "CNY";

fn code(s: &str) -> Code {
    Code::new(s).expect("a static code")
}

/// Banker 1.95, player 2.00, tie 8.00; stakes 1.00 to 10,000.00; 15 s window.
pub fn baccarat(limits: GameLimits) -> GameDef {
    let sel = |name: &str, odds: u32| SelectionDef { market: code("main"), name: code(name), odds: Odds(odds) };
    GameDef {
        game: ExtId::new(BACCARAT).expect("a static id"),
        betting_window_ms: 15_000,
        selections: vec![sel("banker", 19_500), sel("player", 20_000), sel("tie", 80_000)],
        limits: vec![limits],
    }
}

pub fn default_limits() -> GameLimits {
    GameLimits {
        currency: code(CNY),
        min_stake: Money(100),
        max_stake: Money(1_000_000),
        max_stake_per_user_round: Money(5_000_000),
        max_liability_per_selection: Money(i64::MAX / 4),
    }
}
