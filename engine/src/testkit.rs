//! Ready-made configuration for tests, simulations and `croupier bench`: one currency and a
//! baccarat-like game. Real deployments define their own with the same commands.

use crate::command::{Command, DrawResult, GameDef, GameLimits, SelectionDef, Settings};
use crate::ids::{Code, ExtId, SelectionId, Timestamp, UserId};
use crate::money::{Money, Odds};
use crate::state::Outcome;
use crate::{Engine, Reject, Reply};

pub const CURRENCY: &str = "CNY";
pub const GAME: &str = "baccarat";
pub const BANKER: SelectionId = SelectionId(0);
pub const PLAYER: SelectionId = SelectionId(1);
pub const TIE: SelectionId = SelectionId(2);

pub fn code(s: &str) -> Code {
    Code::new(s).expect("valid code")
}

pub fn id(s: &str) -> ExtId {
    ExtId::new(s).expect("valid id")
}

/// Banker 1.95, player 2.00, tie 8.00; stakes 1.00 to 10,000.00; 15 s window.
pub fn baccarat(limits: GameLimits) -> GameDef {
    let sel = |name: &str, odds: u32| SelectionDef { market: code("main"), name: code(name), odds: Odds(odds) };
    GameDef {
        game: id(GAME),
        betting_window_ms: 15_000,
        selections: vec![sel("banker", 19_500), sel("player", 20_000), sel("tie", 80_000)],
        limits: vec![limits],
    }
}

pub fn default_limits() -> GameLimits {
    GameLimits {
        currency: code(CURRENCY),
        min_stake: Money(100),
        max_stake: Money(1_000_000),
        max_stake_per_user_round: Money(5_000_000),
        max_liability_per_selection: Money(i64::MAX / 4),
    }
}

/// Commands that configure an empty engine with [`CURRENCY`] and [`baccarat`].
pub fn setup_commands(limits: GameLimits) -> Vec<Command> {
    vec![
        Command::Configure(Settings::default()),
        Command::DefineCurrency { code: code(CURRENCY), exponent: 2 },
        Command::DefineGame(baccarat(limits)),
    ]
}

/// Runs `cmd`, panicking with the reject: for setup steps that must succeed.
pub fn must(engine: &mut Engine, cmd: &Command, now: Timestamp) -> Reply {
    engine.execute(cmd, now).unwrap_or_else(|r: Reject| panic!("{cmd:?} refused: {r}"))
}

pub fn deposit(user: u64, amount: i64, n: u64) -> Command {
    Command::Deposit {
        transfer: ExtId::numbered("dep-", n),
        user: UserId(user),
        currency: code(CURRENCY),
        amount: Money(amount),
    }
}

/// A draw where `winner` wins and the other main selections lose; a tie pushes banker and player.
pub fn draw(winner: SelectionId) -> DrawResult {
    let outcomes = match winner {
        TIE => vec![Outcome::Push, Outcome::Push, Outcome::Won],
        w => (0..3).map(|i| if i == w.0 { Outcome::Won } else { Outcome::Lost }).collect(),
    };
    DrawResult { outcomes }
}
