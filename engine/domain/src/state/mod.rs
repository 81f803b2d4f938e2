//! The engine's state: entities, accessors and derived indexes. [`crate::evolve`] is the only
//! function that changes it.
//!
//! Layout: every entity lives in a `Vec` in creation order (its dense id is its index); hash
//! maps from callers' ids to dense ids are derived indexes, skipped by serde and rebuilt by
//! [`State::rebuild_indexes`]. The digest and snapshots encode only the vectors, so two states
//! built by the same history, or one restored from a snapshot, encode to the same bytes.

use crate::command::{DrawResult, GameDef, PacketKind, Settings, Topology, Transfer};
use crate::event::Event;
use crate::ids::{hash_account_key, hash_scoped, hash_user};
use crate::ids::{
    AccountNo, BetId, Code, CurrencyId, ExtId, GameNo, PacketNo, RoundNo, SelectionId, Timestamp, UserId,
};
use crate::money::{Money, Odds};
use croupier_collections::Chunked;
use croupier_collections::DenseIndex;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Round status; the numbers 3-6 are seed 000's `game_status` codes, 1 and 7 are ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoundStatus {
    Betting,
    Stopped,
    Dealing,
    Drawn,
    Ended,
    Cancelled,
}

impl RoundStatus {
    /// The external `game_status` code.
    pub fn code(self) -> u8 {
        match self {
            RoundStatus::Betting => 1,
            RoundStatus::Stopped => 3,
            RoundStatus::Dealing => 4,
            RoundStatus::Drawn => 5,
            RoundStatus::Ended => 6,
            RoundStatus::Cancelled => 7,
        }
    }
}

/// What happened to a selection, and so to each bet on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Won,
    Lost,
    /// Cancelled or refunded: the stake comes back.
    Void,
    /// A tie that returns the stake (e.g. banker/player bets on a baccarat tie).
    Push,
}

impl Outcome {
    /// What a bet with this outcome returns to the player; `won_payout` is used when won.
    #[inline]
    pub fn returned(self, stake: Money, won_payout: Money) -> Money {
        match self {
            Outcome::Won => won_payout,
            Outcome::Lost => Money::ZERO,
            Outcome::Void | Outcome::Push => stake,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerLimits {
    /// Most the player may stake per UTC day.
    pub daily_stake: Option<Money>,
    /// Most the player may lose per UTC day (stakes minus returns), counting open bets as lost.
    pub daily_loss: Option<Money>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyState {
    pub code: Code,
    pub exponent: u8,
    /// The cashier's side of deposits and withdrawals: minus what players brought in net.
    pub external: Money,
    /// The house's side of stakes and winnings.
    pub house: Money,
    /// What the open bets in this currency would take from the house if every one won (round
    /// bets: `floor(stake × odds)`; bookmaker holds: the stake). `decide` keeps
    /// `house - exposure >= -MAX_LEDGER`, so settling them can never overflow the house.
    pub exposure: Money,
    /// The stakes of the open bets in this currency (the sum of every account's `held`);
    /// `decide` keeps `house + stakes <= MAX_LEDGER`.
    pub stakes: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub user: UserId,
    pub currency: CurrencyId,
    pub available: Money,
    pub held: Money,
    /// Set when a resettlement drove `available` below zero; cleared when it is back at or
    /// above zero. While set, the account takes no bets and no withdrawals.
    pub in_debt: bool,
    pub limits: PlayerLimits,
    /// UTC day of `staked_today` / `returned_today`.
    pub day: u32,
    pub staked_today: Money,
    pub returned_today: Money,
    /// What may still come back to `available` without `decide` seeing it again: the most
    /// every open bet can return and what is left in the player's open red packets. `decide`
    /// keeps `available + exposure <= MAX_LEDGER`, so settlements and packet refunds, which
    /// cannot be refused, can never overflow a balance.
    pub exposure: Money,
    /// The player's list of bets (a derived index, see [`BetsHead`]): not serialized, so
    /// neither the snapshot nor the digest sees it.
    #[serde(skip)]
    pub(crate) bets: BetsHead,
}

impl Account {
    pub fn balance(&self) -> Money {
        Money(self.available.0 + self.held.0)
    }

    /// The day's counters as of `day` (zero on a new day).
    pub fn today(&self, day: u32) -> (Money, Money) {
        if day == self.day {
            (self.staked_today, self.returned_today)
        } else {
            (Money::ZERO, Money::ZERO)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Game {
    pub def: GameDef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    pub id: ExtId,
    pub game: GameNo,
    pub status: RoundStatus,
    pub bet_start: Timestamp,
    pub bet_stop: Timestamp,
    pub stopped_at: Option<Timestamp>,
    pub drawn_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub result: Option<DrawResult>,
    /// Every bet accepted on this round, in acceptance order.
    pub bets: Chunked<BetId>,
    /// Per selection: what the house stands to lose beyond the stakes, summed over bets.
    pub liability: Vec<Money>,
}

impl Round {
    pub fn is_settled(&self) -> bool {
        self.result.is_some()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BetState {
    Open,
    Settled { outcome: Outcome, payout: Money },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bet {
    pub order_no: ExtId,
    pub platform: Code,
    pub account: AccountNo,
    /// `None` for a bookmaker (seed 004) bet.
    pub round: Option<RoundNo>,
    pub selection: SelectionId,
    pub stake: Money,
    pub odds: Odds,
    pub placed_at: Timestamp,
    pub state: BetState,
}

impl Bet {
    /// The most this bet can return to the player: `floor(stake × odds)` for a round bet
    /// (checked at acceptance), the stake for a bookmaker hold (its payout arrives with the
    /// status update, checked then).
    #[inline]
    pub fn max_return(&self) -> Money {
        max_return(self.round.is_some(), self.stake, self.odds)
    }

    /// Seed 000's `bill_status`: 1 open, 2 settled.
    pub fn bill_status(&self) -> u8 {
        match self.state {
            BetState::Open => 1,
            BetState::Settled { .. } => 2,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PacketStatus {
    Open,
    /// Every share was grabbed.
    Exhausted,
    /// Expired; what was left went back to the sender.
    Expired,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedPacket {
    pub id: ExtId,
    pub sender: AccountNo,
    pub total: Money,
    pub shares: u32,
    pub kind: PacketKind,
    pub sent_at: Timestamp,
    pub expires_at: Timestamp,
    /// Money still in the packet's pool.
    pub remaining: Money,
    pub status: PacketStatus,
    /// Grabs in order: who got which amount.
    pub grabs: Vec<(UserId, Money)>,
    /// Who may grab, sorted (seed 002 "选择红包接收人"); empty, anyone with the link.
    pub recipients: Vec<UserId>,
    /// user → index in `grabs`, compared against `grabs`.
    #[serde(skip)]
    pub(crate) grab_by_user: DenseIndex,
}

impl RedPacket {
    pub fn grabbed(&self) -> u32 {
        self.grabs.len() as u32
    }

    /// Whether `user` is allowed to grab (whether or not a share is left).
    #[inline]
    pub fn may_grab(&self, user: UserId) -> bool {
        self.recipients.is_empty() || self.recipients.binary_search(&user).is_ok()
    }

    /// The recipients who have not grabbed yet: who may still grab while shares are left.
    /// Empty for a packet open to anyone.
    pub fn waiting_recipients(&self) -> impl Iterator<Item = UserId> + '_ {
        self.recipients.iter().copied().filter(|u| self.grab_of(*u).is_none())
    }

    /// The amount `user` grabbed, if they did.
    #[inline]
    pub fn grab_of(&self, user: UserId) -> Option<(u32, Money)> {
        let share = self.grab_by_user.get(hash_user(user), |i| self.grabs[i as usize].0 == user)?;
        Some((share, self.grabs[share as usize].1))
    }

    pub(crate) fn index_grab(&mut self, share: u32) {
        let grabs = &self.grabs;
        self.grab_by_user.insert(hash_user(grabs[share as usize].0), share, |i| hash_user(grabs[i as usize].0));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferKind {
    Deposit,
    Withdrawal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRecord {
    pub id: ExtId,
    pub kind: TransferKind,
    pub account: AccountNo,
    pub amount: Money,
}

/// This shard's side of the link with one other shard (indexed by that shard's number).
/// Transfers are numbered from 1 per direction; the link remembers what it sent that the peer
/// has not acknowledged (re-sent after a restart) and how far it has applied the peer's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Sequence of the last transfer sent to the peer.
    pub sent: u64,
    /// Highest sequence the peer acknowledged as applied.
    pub acked: u64,
    /// Sent and not acknowledged, in sequence order: `acked + 1 ..= sent`.
    pub unacked: VecDeque<Transfer>,
    /// Highest sequence applied from the peer; the next one applied is exactly `applied + 1`.
    pub applied: u64,
    /// Per currency (this shard's numbers): sent to the peer minus received from it. Summed
    /// over both ends of every link, this is the money in flight.
    pub transit: Vec<Money>,
}

impl Link {
    pub(crate) fn transit_mut(&mut self, currency: CurrencyId) -> &mut Money {
        if self.transit.len() <= currency.index() {
            self.transit.resize(currency.index() + 1, Money::ZERO);
        }
        &mut self.transit[currency.index()]
    }

    /// Money in transit in `currency` on this end of the link.
    pub fn transit(&self, currency: CurrencyId) -> Money {
        self.transit.get(currency.index()).copied().unwrap_or_default()
    }
}

/// The whole state of one engine (one shard).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub(crate) settings: Settings,
    pub(crate) currencies: Vec<CurrencyState>,
    pub(crate) games: Vec<Game>,
    pub(crate) accounts: Chunked<Account>,
    pub(crate) rounds: Chunked<Round>,
    pub(crate) bets: Chunked<Bet>,
    pub(crate) packets: Chunked<RedPacket>,
    pub(crate) transfers: Chunked<TransferRecord>,
    pub(crate) excluded_until: BTreeMap<UserId, Timestamp>,
    /// Bookmaker bet ids refunded before they were seen, per player ([`ANY_PLAYER`] for
    /// refunds journaled before ids were per player).
    pub(crate) partner_refunded: BTreeMap<(UserId, ExtId), ()>,
    /// Bookmaker recalculations' transaction ids, per player.
    pub(crate) partner_transactions: BTreeMap<(UserId, ExtId), BetId>,
    /// This shard's place and its links to the other shards; `None` outside a runtime.
    pub(crate) topology: Option<Topology>,
    pub(crate) links: Vec<Link>,
    /// The crash game's channels, terms and bets (indexes of its own, rebuilt on restore).
    pub(crate) crash: crate::crash::CrashState,
    /// Instant games (seed 003): seed pairs, bets, configuration.
    pub(crate) instant: crate::instant::Instant,

    #[serde(skip)]
    pub(crate) idx: Indexes,
}

/// Stands for every player in [`State::partner_refunded`]: a bookmaker refund journaled before
/// callers' ids were per player (`Event::PartnerRefundRemembered`) names no player, so it still
/// keeps its bet id from all of them.
pub const ANY_PLAYER: UserId = UserId(u64::MAX);

impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        self.canonical_bytes() == other.canonical_bytes()
    }
}

/// Capacity hints so that a busy engine does not rehash in the middle of a festival.
#[derive(Clone, Copy, Debug, Default)]
pub struct Capacity {
    pub accounts: usize,
    pub bets: usize,
}

impl State {
    pub fn new() -> State {
        State::default()
    }

    pub fn with_capacity(cap: Capacity) -> State {
        let mut s = State::default();
        s.accounts.reserve(cap.accounts);
        s.idx.account_by_user = DenseIndex::with_capacity(cap.accounts);
        s.bets.reserve(cap.bets);
        s.idx.bet_by_order = DenseIndex::with_capacity(cap.bets);
        s.idx.round_stake.latest.reserve(cap.accounts);
        s.idx.bets_of_user.reserve(cap);
        s
    }

    // ---- read access ----

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn currencies(&self) -> &[CurrencyState] {
        &self.currencies
    }
    pub fn currency_by_code(&self, code: &Code) -> Option<CurrencyId> {
        self.currencies.iter().position(|c| c.code == *code).map(|i| CurrencyId(i as u32))
    }
    pub fn games(&self) -> &[Game] {
        &self.games
    }
    pub fn game_by_id(&self, id: &ExtId) -> Option<GameNo> {
        self.idx.game_by_id.get(id).copied()
    }
    pub fn accounts(&self) -> &Chunked<Account> {
        &self.accounts
    }
    pub fn account(&self, no: AccountNo) -> &Account {
        &self.accounts[no.index()]
    }
    #[inline]
    pub fn account_of(&self, user: UserId, currency: CurrencyId) -> Option<AccountNo> {
        let found = self.idx.account_by_user.get(hash_account_key(user, currency), |i| {
            let a = &self.accounts[i as usize];
            a.user == user && a.currency == currency
        });
        found.map(AccountNo)
    }
    pub fn rounds(&self) -> &Chunked<Round> {
        &self.rounds
    }
    pub fn round(&self, no: RoundNo) -> &Round {
        &self.rounds[no.index()]
    }
    pub fn round_by_id(&self, id: &ExtId) -> Option<RoundNo> {
        self.idx.round_by_id.get(id).copied()
    }
    pub fn bets(&self) -> &Chunked<Bet> {
        &self.bets
    }
    pub fn bet(&self, id: BetId) -> &Bet {
        &self.bets[id.index()]
    }
    /// `user`'s round bet with order number `order_no`. Callers' ids are per player: the
    /// same order number from another player is another bet.
    #[inline]
    pub fn bet_by_order(&self, user: UserId, order_no: &ExtId) -> Option<BetId> {
        let found = self.idx.bet_by_order.get(hash_scoped(user, order_no), |i| self.is_bet_of(i, user, order_no));
        found.map(BetId)
    }
    /// `user`'s bets on this shard (every currency, round and bookmaker bets alike), newest
    /// first, starting after `before` if given: O(1) per bet returned, through a derived index
    /// (see [`UserBets`]). A `before` that is not one of `user`'s bets lists nothing.
    pub fn bets_of_user(&self, user: UserId, before: Option<BetId>) -> impl Iterator<Item = BetId> + '_ {
        let idx = &self.idx.bets_of_user;
        let first = match before {
            None => self.currencies.iter().enumerate().find_map(|(c, _)| {
                let account = self.account_of(user, CurrencyId(c as u32))?;
                Some(UserBets::last(&self.accounts, account.index()))
            }),
            Some(b) => self
                .bets
                .get(b.index())
                .filter(|bet| self.accounts[bet.account.index()].user == user)
                .map(|_| idx.prev[b.index()]),
        };
        let mut next = first.unwrap_or(NO_BET);
        std::iter::from_fn(move || {
            if next == NO_BET {
                return None;
            }
            let id = BetId(next);
            next = idx.prev[next as usize];
            Some(id)
        })
    }
    /// `user`'s bookmaker bet with the bookmaker's id `bet`.
    pub fn bet_by_partner_id(&self, user: UserId, bet: &ExtId) -> Option<BetId> {
        let found = self.idx.bet_by_partner_id.get(hash_scoped(user, bet), |i| self.is_bet_of(i, user, bet));
        found.map(BetId)
    }
    #[inline]
    fn is_bet_of(&self, i: u32, user: UserId, id: &ExtId) -> bool {
        let b = &self.bets[i as usize];
        b.order_no == *id && self.accounts[b.account.index()].user == user
    }
    pub fn packets(&self) -> &Chunked<RedPacket> {
        &self.packets
    }
    pub fn packet(&self, no: PacketNo) -> &RedPacket {
        &self.packets[no.index()]
    }
    /// The red packet `sender` sent with id `id` (packet ids are per sender).
    #[inline]
    pub fn packet_by_id(&self, sender: UserId, id: &ExtId) -> Option<PacketNo> {
        self.idx.packet_by_id.get(&ScopedId(sender, id)).copied()
    }
    /// `user`'s deposit or withdrawal with the cashier's transfer id `id`.
    pub fn transfer(&self, user: UserId, id: &ExtId) -> Option<&TransferRecord> {
        self.idx.transfer_by_id.get(&ScopedId(user, id)).map(|&i| &self.transfers[i as usize])
    }
    /// Whether `user` had bookmaker bet `bet` refunded before it was seen.
    pub fn partner_refunded(&self, user: UserId, bet: &ExtId) -> bool {
        self.partner_refunded.contains_key(&(user, *bet)) || self.partner_refunded.contains_key(&(ANY_PLAYER, *bet))
    }
    /// The bet `user`'s bookmaker recalculation `transaction` applied to.
    pub fn partner_transaction(&self, user: UserId, transaction: &ExtId) -> Option<BetId> {
        self.partner_transactions.get(&(user, *transaction)).copied()
    }
    /// The instant games' state (seed pairs, bets, configuration).
    pub fn instant(&self) -> &crate::instant::Instant {
        &self.instant
    }

    pub fn topology(&self) -> Option<Topology> {
        self.topology
    }

    /// This shard's link with shard `peer` (empty when there is none).
    pub fn link(&self, peer: u32) -> Option<&Link> {
        self.links.get(peer as usize)
    }

    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// Whether `user` belongs on this shard (every user does outside a runtime).
    #[inline]
    pub fn owns(&self, user: UserId) -> bool {
        self.topology.is_none_or(|t| t.owns(user))
    }

    pub fn excluded_until(&self, user: UserId) -> Option<Timestamp> {
        self.excluded_until.get(&user).copied()
    }
    #[inline]
    pub fn round_stake(&self, round: RoundNo, account: AccountNo) -> Money {
        self.idx.round_stake.get(round, account)
    }

    /// Makes room for `bets` more bets and `accounts` more accounts, so that adding them
    /// (a replay, a festival) does not grow the indexes step by step.
    pub fn reserve(&mut self, cap: Capacity) {
        let bets = &self.bets;
        let accounts = &self.accounts;
        self.idx.bet_by_order.reserve(cap.bets, |i| bet_key(bets, accounts, i));
        let accounts = &self.accounts;
        self.idx
            .account_by_user
            .reserve(cap.accounts, |i| hash_account_key(accounts[i as usize].user, accounts[i as usize].currency));
        self.bets.reserve(cap.bets);
        self.accounts.reserve(cap.accounts);
        self.idx.bets_of_user.reserve(cap);
    }

    /// A copy for a snapshot: the data, sharing every chunk with the live state (so this takes
    /// microseconds however large the state is), without the derived indexes, which a restore
    /// rebuilds. Writes to the live state afterwards copy only the chunks they touch.
    pub fn snapshot_copy(&self) -> State {
        State {
            settings: self.settings,
            currencies: self.currencies.clone(),
            games: self.games.clone(),
            accounts: self.accounts.clone(),
            rounds: self.rounds.clone(),
            bets: self.bets.clone(),
            packets: self.packets.clone(),
            transfers: self.transfers.clone(),
            excluded_until: self.excluded_until.clone(),
            partner_refunded: self.partner_refunded.clone(),
            partner_transactions: self.partner_transactions.clone(),
            topology: self.topology,
            links: self.links.clone(),
            crash: self.crash.snapshot_copy(),
            instant: self.instant.snapshot_copy(),
            idx: Indexes::default(),
        }
    }

    /// The canonical encoding: what the digest hashes and what a snapshot stores.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        bincode::serialize(self).expect("state serializes")
    }
}

impl State {
    /// The latest moment the state has recorded (round transitions, bets, red packets), if
    /// any: a tool that continues a history sets its clock after it so that time never runs
    /// back.
    pub fn latest_timestamp(&self) -> Option<Timestamp> {
        let rounds = self.rounds.iter().flat_map(|r| [Some(r.bet_start), r.stopped_at, r.drawn_at, r.ended_at]);
        let bets = self.bets.iter().map(|b| Some(b.placed_at));
        let packets = self.packets.iter().map(|p| Some(p.sent_at));
        rounds.chain(bets).chain(packets).flatten().max()
    }
}

/// Accessors for a selection of a round's game.
impl State {
    pub fn selection_count(&self, round: RoundNo) -> usize {
        self.games[self.rounds[round.index()].game.index()].def.selections.len()
    }
}

/// [`Bet::max_return`] from a bet's parts, shared with `evolve` of the event that accepts it.
#[inline]
pub(crate) fn max_return(round_bet: bool, stake: Money, odds: Odds) -> Money {
    if round_bet {
        crate::money::payout(stake, odds).expect("decide checked the payout at acceptance")
    } else {
        stake
    }
}

mod indexes;
mod invariants;
mod prefetch;

pub use indexes::BetsHead;
pub(crate) use indexes::{bet_key, index_account, index_bet, owner_of, Indexes, ScopedId, UserBets, NO_BET, NO_ROUND};
