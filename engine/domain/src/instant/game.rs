//! The instant games' commands, events, configuration and state (types only; `decide` and
//! `evolve` live in `decide/instant.rs` and `evolve/instant.rs`).

use super::blackjack::{Action, Table};
use super::cards::Card;
use super::dice::DiceCall;
use super::fair::{SeedHash, ServerSeed};
use super::keno::{KenoRisk, KenoTable, Picks};
use super::payout::Multiplier;
use super::plinko::{PlinkoRisk, PlinkoTable, MAX_ROWS, MIN_ROWS};
use crate::ids::{AccountNo, Code, ExtId, InlineStr, Timestamp, UserId};
use crate::money::Money;
use croupier_collections::Chunked;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A player's client seed: printable ASCII, at most 32 bytes (Stake's are 10 to 32).
pub type ClientSeed = InlineStr<32>;

/// An instant bet, in the order bets were placed on this shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstantNo(pub u32);

impl InstantNo {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a bet asks, per game.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GameParams {
    Dice(DiceCall),
    Keno { risk: KenoRisk, picks: Picks },
    Plinko { rows: u8, risk: PlinkoRisk },
    Mines { mines: u8 },
    Blackjack,
}

impl GameParams {
    pub fn name(&self) -> &'static str {
        match self {
            GameParams::Dice(_) => "dice",
            GameParams::Keno { .. } => "keno",
            GameParams::Plinko { .. } => "plinko",
            GameParams::Mines { .. } => "mines",
            GameParams::Blackjack => "blackjack",
        }
    }

    /// Whether the bet stays open after it is placed (plinko until the animation ends, mines
    /// until cash out or a mine, blackjack until the hand is played out).
    pub fn stays_open(&self) -> bool {
        matches!(self, GameParams::Plinko { .. } | GameParams::Mines { .. } | GameParams::Blackjack)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstantCommand {
    /// Edges, payout tables and per-currency limits (every shard).
    Configure(Box<InstantConfig>),
    /// Commits a new server seed (drawn from the OS CSPRNG at the edge) and client seed for
    /// the player, revealing the one in use, if any, and restarting the nonce at 0.
    RotateSeed { user: UserId, server_seed: ServerSeed, client_seed: ClientSeed },
    /// A bet: dice and keno are decided, settled and journaled at once; plinko's outcome is
    /// fixed now and credited on `Settle` (or by the sweeper); mines starts a game.
    /// Idempotent by (user, `id`).
    Bet(InstantBet),
    /// Mines: reveals tile 0..25 of the player's open game `id`.
    Reveal { user: UserId, id: ExtId, tile: u8 },
    /// Mines: cashes out the open game `id` (at least one gem revealed).
    CashOut { user: UserId, id: ExtId },
    /// Plinko: the client's animation of bet `id` ended; credits it. Idempotent.
    Settle { user: UserId, id: ExtId },
    /// The sweeper: settles plinko bet `id` left pending `plinko_settle_ms`, or cashes out the
    /// mines game `id` untouched for `mines_idle_ms` (seed 003's auto cash out).
    Sweep { user: UserId, id: ExtId },
    /// Blackjack: `action` on the open game `id`. `step` (the number of actions the caller
    /// saw before it) makes a retry exactly-once: a step already played with the same action
    /// gets the first answer, with another action `IDEMPOTENCY_CONFLICT`; without a step the
    /// action applies to the game as it is.
    Act { user: UserId, id: ExtId, step: Option<u8>, action: Action },
    /// The operator: refunds every stake of the unfinished bet `id` (mines, plinko pending,
    /// blackjack) and closes it. A repeat gets the first answer.
    Refund { user: UserId, id: ExtId },
}

impl InstantCommand {
    /// The player the command is about, `None` for configuration (every shard).
    pub fn user(&self) -> Option<UserId> {
        match self {
            InstantCommand::Configure(_) => None,
            InstantCommand::RotateSeed { user, .. }
            | InstantCommand::Reveal { user, .. }
            | InstantCommand::CashOut { user, .. }
            | InstantCommand::Settle { user, .. }
            | InstantCommand::Sweep { user, .. }
            | InstantCommand::Act { user, .. }
            | InstantCommand::Refund { user, .. } => Some(*user),
            InstantCommand::Bet(b) => Some(b.user),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantBet {
    pub id: ExtId,
    pub user: UserId,
    pub currency: Code,
    pub stake: Money,
    pub game: GameParams,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstantEvent {
    Configured(Box<InstantConfig>),
    /// A new seed pair for `user`; the previous one, if any, is revealed by this event. The
    /// event holds the secret: projections and push must show only its hash until revealed.
    SeedCommitted {
        user: UserId,
        server_seed: ServerSeed,
        client_seed: ClientSeed,
    },
    /// A bet with its nonce and outcome. One-shot games are settled in the same event
    /// (`settled`): stake player → house, payout house → player; others hold the stake.
    Placed(Placed),
    /// Mines: a gem at `tile`.
    Revealed {
        bet: InstantNo,
        tile: u8,
        at: Timestamp,
    },
    /// An open bet ends: the held stake goes to the house and `payout` comes back.
    Settled {
        bet: InstantNo,
        account: AccountNo,
        stake: Money,
        payout: Money,
        at: Timestamp,
        why: SettleReason,
    },
    /// Blackjack: `action` played with the cards it drew (`drawn`, in order), `extra` more
    /// stake held (double, split, insurance) and the bet's exposure now.
    Acted {
        bet: InstantNo,
        account: AccountNo,
        action: Action,
        drawn: [Option<Card>; 2],
        extra: Money,
        exposure: Money,
        at: Timestamp,
    },
    /// Blackjack: the game is over; every dealer card (the hole card and the draws). A
    /// `Settled` follows.
    DealerRevealed {
        bet: InstantNo,
        cards: Vec<Card>,
    },
    /// The operator refunded the open bet: its whole stake goes back from held.
    Refunded {
        bet: InstantNo,
        account: AccountNo,
        stake: Money,
        at: Timestamp,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placed {
    pub bet: InstantNo,
    pub account: AccountNo,
    pub id: ExtId,
    pub game: GameParams,
    pub stake: Money,
    pub nonce: u64,
    pub outcome: InstantOutcome,
    /// The multiplier earned: final for dice, keno and plinko; 0 for a mines start.
    pub multiplier: Multiplier,
    /// What the bet pays: the payout of a one-shot or plinko bet; for mines the most it can.
    pub payout: Money,
    pub settled: bool,
    pub at: Timestamp,
}

/// What the stream decided at the bet, as much as may be shown at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstantOutcome {
    /// The roll in hundredths.
    Dice { roll: u16 },
    /// The ten tiles drawn, as a set.
    Keno { drawn: u64, hits: u8 },
    /// Bit `i` set when the ball went right at row `i`.
    Plinko { rights: u16 },
    /// Nothing yet: the mines stay hidden until the game ends.
    Mines,
    /// The deal as the player sees it: the dealer's up card and the player's two cards.
    Blackjack { up: Card, player: [Card; 2] },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SettleReason {
    /// Dice and keno: decided and paid with the bet.
    AtBet,
    /// Plinko: the client confirmed the animation.
    Confirmed,
    /// Mines: the player cashed out.
    CashedOut,
    /// Mines: the player hit a mine at this tile.
    Mine { tile: u8 },
    /// The sweeper: plinko pending too long, or mines idle too long.
    Swept,
    /// Blackjack: the hand was played out.
    Finished,
    /// The operator refunded the stake (`InstantEvent::Refunded`).
    Refunded,
}

/// Per currency: stakes and the most one bet may win.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantLimits {
    pub currency: Code,
    pub min_stake: Money,
    pub max_stake: Money,
    /// A payout is capped here (mines' multipliers grow past five million).
    pub max_win: Money,
}

/// The operator's configuration of the instant games.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantConfig {
    /// Basis points (100 = 1 %).
    pub dice_edge_bp: u16,
    pub mines_edge_bp: u16,
    pub keno: Vec<KenoTable>,
    pub plinko: Vec<PlinkoTable>,
    pub limits: Vec<InstantLimits>,
    /// Seed 003: a plinko bet not confirmed within 20 s is settled by the sweeper.
    pub plinko_settle_ms: u64,
    /// Seed 003: a mines game idle for 5 minutes is cashed out by the sweeper.
    pub mines_idle_ms: u64,
}

impl InstantConfig {
    /// Stake's tables and edges, no currency accepted yet.
    pub fn stake_defaults() -> InstantConfig {
        InstantConfig {
            dice_edge_bp: 100,
            mines_edge_bp: 100,
            keno: KenoRisk::ALL.into_iter().map(KenoTable::stake).collect(),
            plinko: (MIN_ROWS..=MAX_ROWS)
                .flat_map(|rows| PlinkoRisk::ALL.into_iter().map(move |risk| PlinkoTable::stake(rows, risk)))
                .collect(),
            limits: Vec::new(),
            plinko_settle_ms: 20_000,
            mines_idle_ms: 300_000,
        }
    }

    pub fn validate(&self) -> Result<(), &'static str> {
        if self.dice_edge_bp >= 10_000 || self.mines_edge_bp >= 10_000 {
            return Err("an edge is below 100 %");
        }
        for risk in KenoRisk::ALL {
            let mut tables = self.keno.iter().filter(|t| t.risk == risk);
            let table = tables.next().ok_or("one keno table per risk")?;
            if tables.next().is_some() {
                return Err("one keno table per risk");
            }
            table.validate()?;
        }
        if self.keno.len() != KenoRisk::ALL.len() {
            return Err("one keno table per risk");
        }
        for rows in MIN_ROWS..=MAX_ROWS {
            for risk in PlinkoRisk::ALL {
                let n = self.plinko.iter().filter(|t| t.rows == rows && t.risk == risk).count();
                if n != 1 {
                    return Err("one plinko table per rows and risk");
                }
            }
        }
        for t in &self.plinko {
            t.validate()?;
        }
        for (i, l) in self.limits.iter().enumerate() {
            if !l.min_stake.is_positive() || l.min_stake > l.max_stake || !l.max_win.is_positive() {
                return Err("limits need 0 < min stake ≤ max stake and a positive max win");
            }
            if l.max_stake > crate::MAX_BALANCE || l.max_win > crate::MAX_BALANCE {
                return Err("limits are at most the largest balance");
            }
            if self.limits[..i].iter().any(|o| o.currency == l.currency) {
                return Err("one limit per currency");
            }
        }
        Ok(())
    }

    pub fn keno_table(&self, risk: KenoRisk) -> &KenoTable {
        self.keno.iter().find(|t| t.risk == risk).expect("validated: one table per risk")
    }

    pub fn plinko_table(&self, rows: u8, risk: PlinkoRisk) -> &PlinkoTable {
        self.plinko.iter().find(|t| t.rows == rows && t.risk == risk).expect("validated: one table per rows and risk")
    }

    pub fn limits(&self, currency: &Code) -> Option<&InstantLimits> {
        self.limits.iter().find(|l| l.currency == *currency)
    }
}

/// A seed pair of a player: the server seed (secret until the next pair is committed) and
/// the client seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedPair {
    pub server_seed: ServerSeed,
    pub client_seed: ClientSeed,
}

/// A player's seeds: every pair they had, the last one in use, and the next nonce.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Player {
    pub pairs: Vec<SeedPair>,
    /// The nonce the next bet uses with the current pair.
    pub nonce: u64,
    /// The player's open mines game, if any (one at a time).
    pub open_mines: Option<InstantNo>,
    /// The player's open blackjack game, if any (one at a time).
    pub open_blackjack: Option<InstantNo>,
}

impl Player {
    pub fn current(&self) -> &SeedPair {
        self.pairs.last().expect("a player exists from their first pair")
    }

    /// The hash of the seed in use (all a player may see of it).
    pub fn current_hash(&self) -> SeedHash {
        self.current().server_seed.hash()
    }

    /// The pair `seed_no` if it has been revealed (replaced by a later pair).
    pub fn revealed(&self, seed_no: u32) -> Option<&SeedPair> {
        let i = seed_no as usize;
        (i + 1 < self.pairs.len()).then(|| &self.pairs[i])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Open,
    Settled { payout: Money, at: Timestamp, why: SettleReason },
}

/// One instant bet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantBetRecord {
    pub id: ExtId,
    pub account: AccountNo,
    pub game: GameParams,
    pub stake: Money,
    /// Which of the player's seed pairs, and the nonce with it.
    pub seed_no: u32,
    pub nonce: u64,
    pub outcome: InstantOutcome,
    pub multiplier: Multiplier,
    /// While open: the most it can return (its exposure); once settled, what it paid.
    pub payout: Money,
    pub placed_at: Timestamp,
    /// Mines: the gems revealed (bit per tile).
    pub revealed: u32,
    /// Mines: when the player last acted (the idle sweep counts from here).
    pub last_action: Timestamp,
    pub state: Phase,
    /// Blackjack: the game as the player may see it (boxed: other games pay one pointer).
    pub table: Option<Box<Table>>,
}

impl InstantBetRecord {
    pub fn is_open(&self) -> bool {
        self.state == Phase::Open
    }
}

/// The instant games' part of a shard's state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Instant {
    pub(crate) config: Option<InstantConfig>,
    pub(crate) players: BTreeMap<UserId, Player>,
    pub(crate) bets: Chunked<InstantBetRecord>,
    #[serde(skip)]
    pub(crate) idx: InstantIndexes,
}

/// Derived lookups, rebuilt on restore.
#[derive(Clone, Debug, Default)]
pub(crate) struct InstantIndexes {
    /// (player, caller's id) → bet.
    pub by_id: FxHashMap<(UserId, ExtId), InstantNo>,
    /// Each player's bets, oldest first.
    pub of_user: FxHashMap<UserId, Vec<InstantNo>>,
    /// The open bets (plinko waiting, mines in play), for the sweeper.
    pub open: std::collections::BTreeSet<InstantNo>,
}

impl Instant {
    pub fn config(&self) -> Option<&InstantConfig> {
        self.config.as_ref()
    }
    pub fn player(&self, user: UserId) -> Option<&Player> {
        self.players.get(&user)
    }
    pub fn players(&self) -> impl Iterator<Item = (&UserId, &Player)> {
        self.players.iter()
    }
    pub fn bets(&self) -> &Chunked<InstantBetRecord> {
        &self.bets
    }
    pub fn bet(&self, no: InstantNo) -> &InstantBetRecord {
        &self.bets[no.index()]
    }
    pub fn bet_by_id(&self, user: UserId, id: &ExtId) -> Option<InstantNo> {
        self.idx.by_id.get(&(user, *id)).copied()
    }
    /// The open bets with the moment the sweeper may settle each (plinko: `plinko_settle_ms`
    /// after the drop; mines: `mines_idle_ms` after the last action).
    pub fn open_bets(&self) -> impl Iterator<Item = (InstantNo, Timestamp)> + '_ {
        self.idx.open.iter().map(|&no| (no, self.sweep_due(no)))
    }

    /// When the sweeper may settle open bet `no`.
    pub fn sweep_due(&self, no: InstantNo) -> Timestamp {
        let b = self.bet(no);
        let c = self.config.as_ref().expect("a bet was placed, so the games are configured");
        match b.game {
            GameParams::Plinko { .. } => b.placed_at.saturating_add_ms(c.plinko_settle_ms),
            // A blackjack hand waits for its player (or the operator's refund), as on Stake.
            GameParams::Blackjack => Timestamp(u64::MAX),
            _ => b.last_action.saturating_add_ms(c.mines_idle_ms),
        }
    }

    /// `user`'s bets, newest first.
    pub fn bets_of_user(&self, user: UserId) -> impl Iterator<Item = InstantNo> + '_ {
        self.idx.of_user.get(&user).into_iter().flat_map(|v| v.iter().rev().copied())
    }

    pub(crate) fn rebuild_indexes(&mut self, user_of: impl Fn(AccountNo) -> UserId) {
        let mut idx = InstantIndexes::default();
        for (i, b) in self.bets.iter().enumerate() {
            let user = user_of(b.account);
            idx.by_id.insert((user, b.id), InstantNo(i as u32));
            idx.of_user.entry(user).or_default().push(InstantNo(i as u32));
            if b.is_open() {
                idx.open.insert(InstantNo(i as u32));
            }
        }
        self.idx = idx;
    }

    pub(crate) fn snapshot_copy(&self) -> Instant {
        Instant {
            config: self.config.clone(),
            players: self.players.clone(),
            bets: self.bets.clone(),
            idx: InstantIndexes::default(),
        }
    }
}

impl InstantEvent {
    /// When it happened, if the event carries a time (configuration and seeds do not).
    pub fn at(&self) -> Option<Timestamp> {
        match self {
            InstantEvent::Placed(p) => Some(p.at),
            InstantEvent::Revealed { at, .. }
            | InstantEvent::Settled { at, .. }
            | InstantEvent::Acted { at, .. }
            | InstantEvent::Refunded { at, .. } => Some(*at),
            InstantEvent::Configured(_) | InstantEvent::SeedCommitted { .. } | InstantEvent::DealerRevealed { .. } => {
                None
            }
        }
    }

    /// A short stable name, for NATS subjects and logs.
    pub fn name(&self) -> &'static str {
        match self {
            InstantEvent::Configured(_) => "instant_configured",
            InstantEvent::SeedCommitted { .. } => "instant_seed_committed",
            InstantEvent::Placed(_) => "instant_placed",
            InstantEvent::Revealed { .. } => "instant_revealed",
            InstantEvent::Settled { .. } => "instant_settled",
            InstantEvent::Acted { .. } => "instant_acted",
            InstantEvent::DealerRevealed { .. } => "instant_dealer_revealed",
            InstantEvent::Refunded { .. } => "instant_refunded",
        }
    }
}

impl Instant {
    /// The instant games' own invariants: each player's nonces with a pair are exactly
    /// 0, 1, 2, … in bet order; at most one open mines game per player, the one recorded.
    pub(crate) fn check(&self, user_of: impl Fn(AccountNo) -> UserId) -> Result<(), String> {
        let mut next: BTreeMap<(UserId, u32), u64> = BTreeMap::new();
        let mut open_mines: BTreeMap<UserId, InstantNo> = BTreeMap::new();
        let mut open_blackjack: BTreeMap<UserId, InstantNo> = BTreeMap::new();
        for (i, b) in self.bets.iter().enumerate() {
            let user = user_of(b.account);
            let n = next.entry((user, b.seed_no)).or_default();
            if b.nonce != *n {
                return Err(format!("instant bet {i} has nonce {} where {} was next", b.nonce, n));
            }
            *n += 1;
            if b.is_open()
                && matches!(b.game, GameParams::Mines { .. })
                && open_mines.insert(user, InstantNo(i as u32)).is_some()
            {
                return Err(format!("player {} has two open mines games", user.0));
            }
            if b.is_open()
                && b.game == GameParams::Blackjack
                && open_blackjack.insert(user, InstantNo(i as u32)).is_some()
            {
                return Err(format!("player {} has two open blackjack games", user.0));
            }
            if (b.game == GameParams::Blackjack) != b.table.is_some() {
                return Err(format!("instant bet {i} has a blackjack table iff it is blackjack"));
            }
            if let Some(t) = &b.table {
                let refunded = matches!(b.state, Phase::Settled { why: SettleReason::Refunded, .. });
                let phase_ok = if b.is_open() { !t.over } else { t.over || refunded };
                if t.staked() != b.stake || !phase_ok {
                    return Err(format!("blackjack bet {i} stakes {} on its table, {} held", t.staked(), b.stake));
                }
            }
            if !b.is_open() && b.payout.0 < 0 {
                return Err(format!("instant bet {i} paid a negative amount"));
            }
        }
        for (user, p) in &self.players {
            let current = p.pairs.len() as u32 - 1;
            if next.get(&(*user, current)).copied().unwrap_or(0) != p.nonce {
                return Err(format!("player {} is at nonce {} of its bets' count", user.0, p.nonce));
            }
            if p.open_mines != open_mines.get(user).copied() {
                return Err(format!("player {} records another open mines game than its bets", user.0));
            }
            if p.open_blackjack != open_blackjack.get(user).copied() {
                return Err(format!("player {} records another open blackjack game than its bets", user.0));
            }
        }
        Ok(())
    }
}
