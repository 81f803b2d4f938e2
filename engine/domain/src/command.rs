//! What callers ask of the engine. A command is checked by [`crate::decide`] and, if
//! accepted, turns into events. Commands are never journaled; only their events are.

use crate::ids::{Code, ExtId, SelectionId, Timestamp, UserId};
use crate::money::{Money, Odds};
use crate::state::{Outcome, PlayerLimits};
pub use crate::topology::Topology;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Engine-wide settings (red-packet bounds). Journaled so that restore needs no outside input.
    Configure(Settings),
    /// A currency and its minor-unit exponent (`CNY`, 2). Idempotent with the same exponent.
    DefineCurrency { code: Code, exponent: u8 },
    /// A game with its selections, odds, betting window and limits. Redefining a game changes
    /// rounds started afterwards; accepted bets keep the odds they were accepted at.
    DefineGame(GameDef),

    /// Money in from the operator's cashier (the `external` account). Idempotent by `transfer`.
    Deposit { transfer: ExtId, user: UserId, currency: Code, amount: Money },
    /// Money out to the cashier. Idempotent by `transfer`.
    Withdraw { transfer: ExtId, user: UserId, currency: Code, amount: Money },
    /// Responsible-gaming limits set by the operator for one account.
    SetPlayerLimits { user: UserId, currency: Code, limits: PlayerLimits },
    /// Refuse every bet of the player until `until` (self-exclusion).
    SelfExclude { user: UserId, until: Timestamp },

    /// Seed 000 `game_start`: opens the betting window for `window_ms` (the game's default
    /// when `None`). Idempotent for the same round id and game.
    GameStart { round: ExtId, game: ExtId, window_ms: Option<u64> },
    /// Seed 000 `game_stop`: betting closes (status 3). Also sent by the timer at the window end.
    GameStop { round: ExtId },
    /// Seed 000 `new_card` (status 4).
    NewCard { round: ExtId },
    /// Seed 000 `game_draw` / `drawresult` (status 5): with a result, settles every bet.
    GameDraw { round: ExtId, result: Option<DrawResult> },
    /// Seed 000 `game_end` (status 6); the round must be settled.
    GameEnd { round: ExtId },
    /// Cancels a round: every bet is voided and refunded, settled ones are reversed.
    CancelRound { round: ExtId },
    /// A corrected draw: reverses each bet's earlier outcome and applies the new one.
    ResettleRound { round: ExtId, result: DrawResult },

    /// Seed 000 `bet`. Idempotent by `order_no`.
    PlaceBet(PlaceBet),

    /// Seed 004 `check_bet`: would this stake be accepted? Moves nothing.
    CheckBet { user: UserId, currency: Code, amount: Money },
    /// Seed 004 `block_funds`: holds the stake of a bookmaker bet. Idempotent by `bet`.
    BlockFunds { bet: ExtId, partner: Code, user: UserId, currency: Code, amount: Money },
    /// Seed 004 `update_bet_status`: won (with payout), lost or void. `user` is the bet's
    /// player (seed 004 `partner_player_id`): it routes the call to the player's shard, and a
    /// bet of another player is not found.
    UpdateBetStatus { bet: ExtId, user: UserId, status: PartnerBetStatus },
    /// Seed 004 `refund`: releases the hold. For an unknown bet it is answered OK and
    /// remembered, so that a late `BlockFunds` with that id is refused.
    Refund { bet: ExtId, user: UserId },
    /// Seed 004 `recalculate`: a settled bookmaker bet gets a new outcome. Idempotent by
    /// `transaction`.
    RecalculateBet { bet: ExtId, user: UserId, transaction: ExtId, status: PartnerBetStatus },

    /// Seed 002 send: the sender is debited into the packet's pool at once.
    SendRedPacket(SendRedPacket),
    /// Seed 002 grab: one share per user per packet, decided now by the packet's pool. The
    /// packet's link names its `sender`, whose shard holds the pool; the share is credited at
    /// once on that shard, or travels to the grabber's shard as a transfer. Idempotent by
    /// (packet, user).
    GrabRedPacket { packet: ExtId, sender: UserId, user: UserId },
    /// Timer: refunds what is left of an expired packet to its sender.
    ExpireRedPacket { packet: ExtId, sender: UserId },

    /// Runtime, first command of a shard's journal: which shard this is, of how many. A data
    /// folder keeps its shard count: a different one is refused (`TOPOLOGY_MISMATCH`).
    SetTopology(Topology),
    /// Runtime: a transfer from another shard arrives (a grabbed share for a user of this
    /// shard). Applied exactly once, in the sender's sequence order; a repeat is acknowledged
    /// and ignored, a gap is ignored until the sender re-sends what came before.
    ReceiveTransfer(Transfer),
    /// Runtime: shard `peer` has applied this shard's transfers to it up to `upto`; they need
    /// not be re-sent any more.
    AckTransfers { peer: u32, upto: u64 },

    /// The crash game (seed 001): channels, terms, bets and cashouts.
    Crash(crate::crash::CrashCommand),
    /// Instant games (seed 003): seeds, bets, reveals, cash outs (`crate::instant`).
    Instant(crate::instant::InstantCommand),
}

/// Money for a user of shard `to`, sent by shard `from` as its `seq`-th transfer to `to`
/// (from 1, per pair of shards). It is the payload of the message between shards and of the
/// `TransferSent`/`TransferReceived` events on either side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub from: u32,
    pub to: u32,
    pub seq: u64,
    pub user: UserId,
    /// By code: dense currency numbers are per shard.
    pub currency: Code,
    pub amount: Money,
    pub source: TransferSource,
}

/// Why money travels between shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferSource {
    /// Share `share` (from 0) of red packet `packet`, grabbed by the transfer's user.
    PacketShare { packet: ExtId, share: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Most shares one red packet may be split into.
    pub max_packet_shares: u32,
    /// How long a red packet can be grabbed when its sender gives no expiry (seed 002: 24 h).
    pub default_packet_ttl_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { max_packet_shares: 1_000_000, default_packet_ttl_ms: 24 * 3_600_000 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameDef {
    pub game: ExtId,
    /// Seed 000: 15 s.
    pub betting_window_ms: u64,
    pub selections: Vec<SelectionDef>,
    /// Stake limits per accepted currency; a bet in another currency is refused.
    pub limits: Vec<GameLimits>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectionDef {
    /// The market this selection belongs to (`main`, `pair`).
    pub market: Code,
    /// The selection's name (`banker`, `player`, `tie`).
    pub name: Code,
    pub odds: Odds,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameLimits {
    pub currency: Code,
    pub min_stake: Money,
    pub max_stake: Money,
    /// Most one player may stake on one round, over all selections.
    pub max_stake_per_user_round: Money,
    /// Most the house may lose on one selection of one round, beyond the stakes it holds.
    pub max_liability_per_selection: Money,
}

/// Per selection of the game (same order as its definition), what happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrawResult {
    pub outcomes: Vec<Outcome>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceBet {
    pub order_no: ExtId,
    pub user: UserId,
    pub round: ExtId,
    pub selection: SelectionId,
    pub stake: Money,
    pub currency: Code,
    pub platform: Code,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartnerBetStatus {
    Won { payout: Money },
    Lost,
    Void,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PacketKind {
    /// Equal shares; the remainder goes one minor unit each to the first shares.
    Normal,
    /// Random shares by the double-mean method, drawn from `seed` (an input, so replays agree).
    Lucky { seed: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRedPacket {
    pub packet: ExtId,
    pub sender: UserId,
    pub currency: Code,
    pub total: Money,
    pub shares: u32,
    pub kind: PacketKind,
    /// How long it can be grabbed; the configured default when `None`.
    pub ttl_ms: Option<u64>,
    /// Seed 002 "选择红包接收人": only these users may grab (one, or a list of at most
    /// [`MAX_PACKET_RECIPIENTS`]); empty, anyone with the link. Order and repeats do not matter.
    pub recipients: Vec<UserId>,
}

/// Most recipients one red packet may name: the list lives in the packet and in its event.
pub const MAX_PACKET_RECIPIENTS: usize = 1_000;
