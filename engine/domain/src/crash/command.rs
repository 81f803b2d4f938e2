//! What callers ask of the crash game.

use super::fair::GameHash;
use super::Salt;
use crate::ids::{Code, ExtId, UserId};
use crate::money::Money;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrashCommand {
    /// A channel with its published chain commitment (every shard). Idempotent with the same
    /// content. The chain's secret stays with the edge, which reveals one game per term.
    CreateChannel(Box<CreateChannel>),
    /// No new term starts while paused; the current one runs to its end (every shard).
    SetPaused { channel: ExtId, paused: bool },
    /// Opens the channel's next term in `PreStart` (timer, or an operator); every shard.
    /// `number` is the term's number in the channel (1 for the first): a repeat is a replay.
    OpenTerm { channel: ExtId, number: u64 },
    /// Bets close (`Starting`): the timer at the end of `PreStart`, or an operator starting
    /// the term early.
    CloseBets { channel: ExtId, number: u64 },
    /// `Flying`: the edge reveals the next game of the chain; it must hash to the last one.
    TakeOff { channel: ExtId, number: u64, hash: GameHash },
    /// The multiplier reached the crash point: every bet still open is settled and the term
    /// closes. Refused before the crash time: nobody can end a flight early.
    Crash { channel: ExtId, number: u64 },
    /// An operator's emergency stop: the term is cancelled, every open bet refunded, the
    /// channel paused.
    EmergencyStop { channel: ExtId, number: u64 },
    /// A bet on the channel's term in `PreStart`. Idempotent by (player, `order_no`).
    PlaceBet(PlaceCrashBet),
    /// The player takes back their bet before bets close (refunded).
    CancelBet { user: UserId, order_no: ExtId },
    /// The player cashes out at the multiplier of the intake time.
    Cashout { user: UserId, order_no: ExtId },
}

impl CrashCommand {
    /// The player whose shard runs this command; `None`: every shard.
    pub fn player(&self) -> Option<UserId> {
        match self {
            CrashCommand::PlaceBet(b) => Some(b.user),
            CrashCommand::CancelBet { user, .. } | CrashCommand::Cashout { user, .. } => Some(*user),
            CrashCommand::CreateChannel(_)
            | CrashCommand::SetPaused { .. }
            | CrashCommand::OpenTerm { .. }
            | CrashCommand::CloseBets { .. }
            | CrashCommand::TakeOff { .. }
            | CrashCommand::Crash { .. }
            | CrashCommand::EmergencyStop { .. } => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateChannel {
    pub channel: ExtId,
    pub config: ChannelConfig,
    /// Game 0's hash of the chain (published).
    pub terminating_hash: GameHash,
    pub salt: Salt,
    /// Games on the chain.
    pub length: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelConfig {
    /// Bets open (seed 001: 8 s).
    pub pre_start_ms: u64,
    /// Bets closed before take-off (seed 001: 2 s).
    pub starting_ms: u64,
    /// From a term's end to the next term's opening.
    pub pause_ms: u64,
    /// Per accepted currency.
    pub limits: Vec<CrashLimits>,
}

impl ChannelConfig {
    /// Seed 001's durations (8 s, 2 s) and 3 s between terms.
    pub fn seed_001(limits: Vec<CrashLimits>) -> ChannelConfig {
        ChannelConfig { pre_start_ms: 8_000, starting_ms: 2_000, pause_ms: 3_000, limits }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashLimits {
    pub currency: Code,
    pub min_stake: Money,
    pub max_stake: Money,
    /// Most one bet may win beyond its stake: a target beyond it is refused, a bet without a
    /// target leaves the flight when it reaches it.
    pub max_profit_per_bet: Money,
    /// Most the players of one term may win beyond their stakes together (published): when
    /// the bets still flying would pass it, they are all cashed out.
    pub max_profit_per_term: Money,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceCrashBet {
    pub channel: ExtId,
    pub order_no: ExtId,
    pub user: UserId,
    pub currency: Code,
    pub stake: Money,
    /// Auto cashout target in hundredths (at least 101).
    pub auto_cashout: Option<u64>,
}
