//! The engine's state and [`evolve`], the only function that changes it.
//!
//! Layout: every entity lives in a `Vec` in creation order (its dense id is its index); hash
//! maps from callers' ids to dense ids are derived indexes, skipped by serde and rebuilt by
//! [`State::rebuild_indexes`]. The digest and snapshots encode only the vectors, so two states
//! built by the same history, or one restored from a snapshot, encode to the same bytes.

use crate::command::{DrawResult, GameDef, PacketKind, Settings, Topology, Transfer};
use crate::event::{BetAccepted, Event, RedPacketSent};
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
    /// user → index in `grabs`, compared against `grabs`.
    #[serde(skip)]
    pub(crate) grab_by_user: DenseIndex,
}

impl RedPacket {
    pub fn grabbed(&self) -> u32 {
        self.grabs.len() as u32
    }

    /// The amount `user` grabbed, if they did.
    #[inline]
    pub fn grab_of(&self, user: UserId) -> Option<(u32, Money)> {
        let share = self.grab_by_user.get(hash_user(user), |i| self.grabs[i as usize].0 == user)?;
        Some((share, self.grabs[share as usize].1))
    }

    fn index_grab(&mut self, share: u32) {
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
    fn transit_mut(&mut self, currency: CurrencyId) -> &mut Money {
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

    #[serde(skip)]
    pub(crate) idx: Indexes,
}

/// Stands for every player in [`State::partner_refunded`]: a bookmaker refund journaled before
/// callers' ids were per player (`Event::PartnerRefundRemembered`) names no player, so it still
/// keeps its bet id from all of them.
pub const ANY_PLAYER: UserId = UserId(u64::MAX);

/// Lookups from callers' ids to dense ids. Derived from the vectors; never serialized.
#[derive(Clone, Debug, Default)]
pub(crate) struct Indexes {
    /// (user, currency) → account, compared against `accounts`.
    pub account_by_user: DenseIndex,
    pub game_by_id: FxHashMap<ExtId, GameNo>,
    pub round_by_id: FxHashMap<ExtId, RoundNo>,
    /// (player, round bet order number) → bet, compared against `bets` and `accounts`.
    pub bet_by_order: DenseIndex,
    /// (player, bookmaker bet id) → bet, compared against `bets` and `accounts`.
    pub bet_by_partner_id: DenseIndex,
    /// (sender, packet id) → packet.
    pub packet_by_id: FxHashMap<(UserId, ExtId), PacketNo>,
    /// (player, cashier transfer id) → index in `transfers`.
    pub transfer_by_id: FxHashMap<(UserId, ExtId), u32>,
    /// Stake per (round, account), for the per-player round limit.
    pub round_stake: RoundStakes,
    /// Each player's bets, newest first, for listing them without a scan.
    pub bets_of_user: UserBets,
}

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
                Some(idx.last[idx.owner[account.index()] as usize])
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
    pub fn packet_by_id(&self, sender: UserId, id: &ExtId) -> Option<PacketNo> {
        self.idx.packet_by_id.get(&(sender, *id)).copied()
    }
    /// `user`'s deposit or withdrawal with the cashier's transfer id `id`.
    pub fn transfer(&self, user: UserId, id: &ExtId) -> Option<&TransferRecord> {
        self.idx.transfer_by_id.get(&(user, *id)).map(|&i| &self.transfers[i as usize])
    }
    /// Whether `user` had bookmaker bet `bet` refunded before it was seen.
    pub fn partner_refunded(&self, user: UserId, bet: &ExtId) -> bool {
        self.partner_refunded.contains_key(&(user, *bet)) || self.partner_refunded.contains_key(&(ANY_PLAYER, *bet))
    }
    /// The bet `user`'s bookmaker recalculation `transaction` applied to.
    pub fn partner_transaction(&self, user: UserId, transaction: &ExtId) -> Option<BetId> {
        self.partner_transactions.get(&(user, *transaction)).copied()
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

    /// Per currency, the sum over every account (players' available and held, `external`,
    /// `house`, red-packet pools). Double entry makes each sum zero, always.
    pub fn currency_sums(&self) -> Vec<i128> {
        let mut sums: Vec<i128> = self.currencies.iter().map(|c| c.external.0 as i128 + c.house.0 as i128).collect();
        for a in &self.accounts {
            sums[a.currency.index()] += a.available.0 as i128 + a.held.0 as i128;
        }
        for p in &self.packets {
            let cur = self.accounts[p.sender.index()].currency;
            sums[cur.index()] += p.remaining.0 as i128;
        }
        for l in &self.links {
            for (cur, t) in l.transit.iter().enumerate() {
                sums[cur] += t.0 as i128;
            }
        }
        sums
    }

    /// Checks every invariant that a broken engine would violate; used by tests and by
    /// `journal verify`. Returns the first violation found.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (i, s) in self.currency_sums().iter().enumerate() {
            if *s != 0 {
                return Err(format!("currency {i} sums to {s}, not zero"));
            }
        }
        let mut held = vec![0i64; self.accounts.len()];
        for b in &self.bets {
            if b.state == BetState::Open {
                held[b.account.index()] += b.stake.0;
            }
        }
        self.check_exposure()?;
        for (i, a) in self.accounts.iter().enumerate() {
            if a.available.is_negative() && !a.in_debt {
                return Err(format!("account {i} has {} available without being in debt", a.available));
            }
            if a.held.0 != held[i] {
                return Err(format!("account {i} holds {} but its open bets stake {}", a.held, held[i]));
            }
        }
        for (peer, l) in self.links.iter().enumerate() {
            let expected = l.sent.saturating_sub(l.acked);
            if l.acked > l.sent || l.unacked.len() as u64 != expected {
                return Err(format!("link to shard {peer} has {} unacked of {expected}", l.unacked.len()));
            }
            if l.unacked.iter().zip(l.acked + 1..).any(|(t, seq)| t.seq != seq || t.to != peer as u32) {
                return Err(format!("link to shard {peer} holds transfers out of order"));
            }
        }
        for (i, p) in self.packets.iter().enumerate() {
            let grabbed: i64 = p.grabs.iter().map(|g| g.1 .0).sum();
            let refunded = if p.status == PacketStatus::Expired { p.total.0 - grabbed } else { 0 };
            if grabbed + p.remaining.0 + refunded != p.total.0 || p.remaining.is_negative() {
                return Err(format!("packet {i} does not add up to its total"));
            }
            if p.grabs.iter().any(|g| g.1 .0 < 1) {
                return Err(format!("packet {i} has a share below one minor unit"));
            }
        }
        Ok(())
    }

    /// Exposure is what open bets and packets may still return, and every bound `decide`
    /// keeps holds (see `decide::bounds`).
    fn check_exposure(&self) -> Result<(), String> {
        let mut account = vec![0i128; self.accounts.len()];
        let mut currency = vec![(0i128, 0i128); self.currencies.len()];
        for b in self.bets.iter().filter(|b| b.state == BetState::Open) {
            account[b.account.index()] += b.max_return().0 as i128;
            let c = &mut currency[self.accounts[b.account.index()].currency.index()];
            c.0 += b.max_return().0 as i128;
            c.1 += b.stake.0 as i128;
        }
        for p in &self.packets {
            account[p.sender.index()] += p.remaining.0 as i128;
        }
        let ledger = crate::decide::MAX_LEDGER.0 as i128;
        for (i, a) in self.accounts.iter().enumerate() {
            if a.exposure.0 as i128 != account[i] {
                return Err(format!(
                    "account {i} has exposure {} but its open bets and packets {}",
                    a.exposure, account[i]
                ));
            }
            if a.available.0 as i128 + a.exposure.0 as i128 > ledger || (a.available.0 as i128) < -ledger {
                return Err(format!("account {i} is beyond the ledger bound"));
            }
        }
        for (i, c) in self.currencies.iter().enumerate() {
            if (c.exposure.0 as i128, c.stakes.0 as i128) != currency[i] {
                return Err(format!(
                    "currency {i} records exposure {} and stakes {}, not {:?}",
                    c.exposure, c.stakes, currency[i]
                ));
            }
            let house = c.house.0 as i128;
            if house - currency[i].0 < -ledger
                || house + currency[i].1 > ledger
                || (c.external.0 as i128).abs() > ledger
            {
                return Err(format!("currency {i} is beyond the ledger bound"));
            }
        }
        for (peer, l) in self.links.iter().enumerate() {
            if l.transit.iter().any(|t| (t.0 as i128).abs() > ledger) {
                return Err(format!("transit with shard {peer} is beyond the ledger bound"));
            }
        }
        Ok(())
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
            idx: Indexes::default(),
        }
    }

    /// The canonical encoding: what the digest hashes and what a snapshot stores.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        bincode::serialize(self).expect("state serializes")
    }

    /// Rebuilds the derived lookups after deserialization (snapshot restore).
    pub fn rebuild_indexes(&mut self) {
        let mut idx = Indexes {
            account_by_user: DenseIndex::with_capacity(self.accounts.len()),
            bet_by_order: DenseIndex::with_capacity(self.bets.len()),
            ..Indexes::default()
        };
        idx.round_stake.latest = (0..self.accounts.len()).map(|_| (NO_ROUND, Money::ZERO)).collect();
        for (i, a) in self.accounts.iter().enumerate() {
            idx.bets_of_user.open_account(owner_of(&idx, &self.accounts, self.currencies.len(), a.user));
            index_account(&mut idx, &self.accounts, i as u32, a);
        }
        for (i, g) in self.games.iter().enumerate() {
            idx.game_by_id.insert(g.def.game, GameNo(i as u32));
        }
        for (i, r) in self.rounds.iter().enumerate() {
            idx.round_by_id.insert(r.id, RoundNo(i as u32));
        }
        for (i, b) in self.bets.iter().enumerate() {
            let id = BetId(i as u32);
            index_bet(&mut idx, &self.bets, &self.accounts, id, b);
            idx.bets_of_user.add(b.account, id);
            match b.round {
                Some(round) if self.rounds[round.index()].status == RoundStatus::Betting => {
                    idx.round_stake.add(round, b.account, b.stake)
                }
                _ => {}
            }
        }
        for (i, p) in self.packets.iter_mut().enumerate() {
            idx.packet_by_id.insert((self.accounts[p.sender.index()].user, p.id), PacketNo(i as u32));
            p.grab_by_user = DenseIndex::with_capacity(p.grabs.len());
            for k in 0..p.grabs.len() {
                p.index_grab(k as u32);
            }
        }
        for (i, t) in self.transfers.iter().enumerate() {
            idx.transfer_by_id.insert((self.accounts[t.account.index()].user, t.id), i as u32);
        }
        self.idx = idx;
    }
}

/// Applies one event. It cannot fail: `decide` checked everything. The asserts here guard
/// against a journal that does not belong to this state (a replay from the wrong position).
pub fn evolve(state: &mut State, event: &Event) {
    match event {
        Event::Configured(s) => state.settings = *s,
        Event::CurrencyDefined { currency, code, exponent } => {
            assert_eq!(currency.index(), state.currencies.len(), "currency ids are dense");
            state.currencies.push(CurrencyState {
                code: *code,
                exponent: *exponent,
                external: Money::ZERO,
                house: Money::ZERO,
                exposure: Money::ZERO,
                stakes: Money::ZERO,
            });
        }
        Event::GameDefined { game, def } => {
            let g = Game { def: (**def).clone() };
            if game.index() == state.games.len() {
                state.idx.game_by_id.insert(def.game, *game);
                state.games.push(g);
            } else {
                state.games[game.index()] = g;
            }
        }
        Event::AccountOpened { account, user, currency } => {
            assert_eq!(account.index(), state.accounts.len(), "account numbers are dense");
            state.accounts.push(Account {
                user: *user,
                currency: *currency,
                available: Money::ZERO,
                held: Money::ZERO,
                in_debt: false,
                limits: PlayerLimits::default(),
                day: 0,
                staked_today: Money::ZERO,
                returned_today: Money::ZERO,
                exposure: Money::ZERO,
            });
            let owner = owner_of(&state.idx, &state.accounts, state.currencies.len(), *user);
            state.idx.bets_of_user.open_account(owner);
            let a = &state.accounts[account.index()];
            index_account(&mut state.idx, &state.accounts, account.0, a);
            state.idx.round_stake.latest.push((NO_ROUND, Money::ZERO));
        }
        Event::Deposited { account, transfer, amount } => {
            let cur = credit(state, *account, *amount);
            state.currencies[cur.index()].external -= *amount;
            record_transfer(state, *transfer, TransferKind::Deposit, *account, *amount);
        }
        Event::Withdrawn { account, transfer, amount } => {
            let cur = credit(state, *account, Money(-amount.0));
            state.currencies[cur.index()].external += *amount;
            record_transfer(state, *transfer, TransferKind::Withdrawal, *account, *amount);
        }
        Event::LimitsSet { account, limits } => state.accounts[account.index()].limits = *limits,
        Event::SelfExcluded { user, until } => {
            state.excluded_until.insert(*user, *until);
        }
        Event::RoundOpened { round, id, game, bet_start, bet_stop } => {
            assert_eq!(round.index(), state.rounds.len(), "round numbers are dense");
            let selections = state.games[game.index()].def.selections.len();
            state.rounds.push(Round {
                id: *id,
                game: *game,
                status: RoundStatus::Betting,
                bet_start: *bet_start,
                bet_stop: *bet_stop,
                stopped_at: None,
                drawn_at: None,
                ended_at: None,
                result: None,
                bets: Chunked::new(),
                liability: vec![Money::ZERO; selections],
            });
            state.idx.round_by_id.insert(*id, *round);
        }
        Event::RoundStatusChanged { round, status, at } => {
            let r = &mut state.rounds[round.index()];
            r.status = *status;
            if *status != RoundStatus::Betting {
                state.idx.round_stake.close(*round);
            }
            match status {
                RoundStatus::Stopped => r.stopped_at = Some(*at),
                RoundStatus::Ended | RoundStatus::Cancelled => r.ended_at = Some(*at),
                _ => {}
            }
        }
        Event::RoundDrawn { round, result, corrected, at } => {
            let r = &mut state.rounds[round.index()];
            if !corrected {
                r.status = RoundStatus::Drawn;
                r.drawn_at = Some(*at);
            }
            r.result = Some(result.clone());
        }
        Event::BetAccepted(b) => evolve_bet_accepted(state, b),
        Event::BetSettled { bet, account, stake, outcome, payout, at } => {
            let b = &mut state.bets[bet.index()];
            assert_eq!(b.state, BetState::Open, "only open bets settle");
            debug_assert_eq!((b.account, b.stake), (*account, *stake));
            b.state = BetState::Settled { outcome: *outcome, payout: *payout };
            let max_return = b.max_return();
            let a = &mut state.accounts[account.index()];
            a.held -= *stake;
            a.exposure -= max_return;
            let c = &mut state.currencies[a.currency.index()];
            c.exposure -= max_return;
            c.stakes -= *stake;
            c.house += *stake;
            c.house -= *payout;
            credit(state, *account, *payout);
            count_returned(state, *account, *payout, *at);
        }
        Event::BetResettled { bet, account, from, from_payout, to, to_payout, at } => {
            let b = &mut state.bets[bet.index()];
            assert_eq!(b.state, BetState::Settled { outcome: *from, payout: *from_payout });
            b.state = BetState::Settled { outcome: *to, payout: *to_payout };
            let delta = Money(to_payout.0 - from_payout.0);
            let cur = credit(state, *account, delta);
            state.currencies[cur.index()].house -= delta;
            count_returned(state, *account, delta, *at);
        }
        Event::PartnerRefundRemembered { bet } => {
            // Journaled before ids were per player: it names no player, so it keeps the id
            // from every player, as it did then.
            state.partner_refunded.insert((ANY_PLAYER, *bet), ());
        }
        Event::PartnerRefundRememberedFor { bet, user } => {
            state.partner_refunded.insert((*user, *bet), ());
        }
        Event::PartnerTransactionRecorded { transaction, bet } => {
            let user = state.accounts[state.bets[bet.index()].account.index()].user;
            state.partner_transactions.insert((user, *transaction), *bet);
        }
        Event::RedPacketSent(p) => evolve_packet_sent(state, p),
        Event::RedPacketGrabbed { packet, account, user, share, amount } => {
            // `account: None`: the share leaves in the `TransferSent` that follows.
            let p = &mut state.packets[packet.index()];
            assert_eq!(*share, p.grabbed(), "shares are grabbed in order");
            p.remaining -= *amount;
            let sender = p.sender;
            p.grabs.push((*user, *amount));
            p.index_grab(*share);
            if p.grabbed() == p.shares {
                assert_eq!(p.remaining, Money::ZERO, "the last share takes the rest");
                p.status = PacketStatus::Exhausted;
            }
            state.accounts[sender.index()].exposure -= *amount;
            if let Some(account) = account {
                credit(state, *account, *amount);
            }
        }
        Event::RedPacketExpired { packet, account, refund } => {
            let p = &mut state.packets[packet.index()];
            assert_eq!(p.remaining, *refund, "expiry refunds exactly the rest");
            p.remaining = Money::ZERO;
            p.status = PacketStatus::Expired;
            state.accounts[account.index()].exposure -= *refund;
            credit(state, *account, *refund);
        }
        Event::TopologySet(t) => {
            assert!(state.topology.is_none() && t.is_valid(), "topology is set once");
            state.topology = Some(*t);
            state.links = vec![Link::default(); t.shards as usize];
        }
        Event::TransferSent { transfer: t, currency, .. } => {
            let link = &mut state.links[t.to as usize];
            assert_eq!(t.seq, link.sent + 1, "transfers to a shard are numbered without gaps");
            link.sent = t.seq;
            link.unacked.push_back(*t);
            *link.transit_mut(*currency) += t.amount;
        }
        Event::TransferReceived { transfer: t, account } => {
            let cur = credit(state, *account, t.amount);
            let link = &mut state.links[t.from as usize];
            assert_eq!(t.seq, link.applied + 1, "transfers from a shard are applied in order, once");
            link.applied = t.seq;
            *link.transit_mut(cur) -= t.amount;
        }
        Event::TransfersAcked { peer, upto } => {
            let link = &mut state.links[*peer as usize];
            assert!(*upto > link.acked && *upto <= link.sent, "an acknowledgement moves forward within what was sent");
            while link.unacked.front().is_some_and(|t| t.seq <= *upto) {
                link.unacked.pop_front();
            }
            link.acked = *upto;
        }
    }
}

/// Adds `amount` (negative to debit) to an account's available balance, keeping the in-debt
/// flag true to the balance. Returns the account's currency for the counter-entry.
#[inline]
fn credit(state: &mut State, account: AccountNo, amount: Money) -> CurrencyId {
    let a = &mut state.accounts[account.index()];
    a.available += amount;
    if a.available.is_negative() {
        // Only resettlement may take a balance below zero; decide refuses every other debit.
        a.in_debt = true;
    } else if a.in_debt {
        a.in_debt = false;
    }
    a.currency
}

fn count_returned(state: &mut State, account: AccountNo, amount: Money, at: Timestamp) {
    let a = &mut state.accounts[account.index()];
    let day = at.day();
    if day != a.day {
        a.day = day;
        a.staked_today = Money::ZERO;
        a.returned_today = Money::ZERO;
    }
    // A limit counter, not a ledger balance: saturating keeps `evolve` total whatever the
    // day brought (a resettlement may take it below zero).
    a.returned_today = Money(a.returned_today.0.saturating_add(amount.0));
}

fn record_transfer(state: &mut State, id: ExtId, kind: TransferKind, account: AccountNo, amount: Money) {
    let user = state.accounts[account.index()].user;
    state.idx.transfer_by_id.insert((user, id), state.transfers.len() as u32);
    state.transfers.push(TransferRecord { id, kind, account, amount });
}

#[inline]
fn evolve_bet_accepted(state: &mut State, e: &BetAccepted) {
    assert_eq!(e.bet.index(), state.bets.len(), "bet ids are dense");
    let won = max_return(e.round.is_some(), e.stake, e.odds);
    let a = &mut state.accounts[e.account.index()];
    debug_assert!(a.available >= e.stake, "decide checked the funds");
    a.available -= e.stake;
    a.held += e.stake;
    a.exposure += won;
    let day = e.at.day();
    if day != a.day {
        a.day = day;
        a.staked_today = Money::ZERO;
        a.returned_today = Money::ZERO;
    }
    a.staked_today = Money(a.staked_today.0.saturating_add(e.stake.0));
    let c = &mut state.currencies[a.currency.index()];
    c.exposure += won;
    c.stakes += e.stake;
    if let Some(round) = e.round {
        let r = &mut state.rounds[round.index()];
        r.bets.push(e.bet);
        // The same payout as the exposure above, without computing it twice.
        r.liability[e.selection.0 as usize] += Money(won.0 - e.stake.0);
        state.idx.round_stake.add(round, e.account, e.stake);
    }
    state.bets.push(Bet {
        order_no: e.order_no,
        platform: e.platform,
        account: e.account,
        round: e.round,
        selection: e.selection,
        stake: e.stake,
        odds: e.odds,
        placed_at: e.at,
        state: BetState::Open,
    });
    index_bet(&mut state.idx, &state.bets, &state.accounts, e.bet, &state.bets[e.bet.index()]);
    state.idx.bets_of_user.add(e.account, e.bet);
}

/// [`Bet::max_return`] from a bet's parts, for `evolve` of the event that accepts it.
#[inline]
fn max_return(round_bet: bool, stake: Money, odds: Odds) -> Money {
    if round_bet {
        crate::money::payout(stake, odds).expect("decide checked the payout at acceptance")
    } else {
        stake
    }
}

fn index_account(idx: &mut Indexes, accounts: &Chunked<Account>, no: u32, a: &Account) {
    let rehash = |i: u32| hash_account_key(accounts[i as usize].user, accounts[i as usize].currency);
    idx.account_by_user.insert(hash_account_key(a.user, a.currency), no, rehash);
}

/// The account that holds `user`'s list of bets: the user's first account on this shard,
/// `None` (the account about to open will) if the user has none yet. Called before the new
/// account is indexed; one lookup per currency, only when an account opens.
fn owner_of(idx: &Indexes, accounts: &Chunked<Account>, currencies: usize, user: UserId) -> Option<u32> {
    (0..currencies as u32).find_map(|c| {
        let found = idx.account_by_user.get(hash_account_key(user, CurrencyId(c)), |i| {
            let a = &accounts[i as usize];
            a.user == user && a.currency == CurrencyId(c)
        })?;
        Some(idx.bets_of_user.owner[found as usize])
    })
}

/// "No bet" in [`UserBets`].
const NO_BET: u32 = u32::MAX;

/// Each player's bets as a list linked through the bets, newest first: per bet the player's
/// previous bet (4 bytes, in chunks that never copy on growth), per account the player's
/// newest bet. All of a player's accounts (one per currency) share one list, kept at the
/// player's first account (`owner`), so a page of bets across currencies is a walk down one
/// list and a cursor is a bet id. Derived from `accounts` and `bets` in order, like the other
/// indexes: not in the canonical encoding (the digest does not see it), rebuilt on restore.
#[derive(Clone, Debug, Default)]
pub(crate) struct UserBets {
    /// Per account: the account holding its player's list.
    owner: Chunked<u32>,
    /// Per account, meaningful at owners: the player's newest bet, or `NO_BET`.
    last: Chunked<u32>,
    /// Per bet: the same player's bet before it, or `NO_BET`.
    prev: Chunked<u32>,
}

impl UserBets {
    fn reserve(&mut self, cap: Capacity) {
        self.owner.reserve(cap.accounts);
        self.last.reserve(cap.accounts);
        self.prev.reserve(cap.bets);
    }

    /// The next account opens; `owner` is its player's first account, if it has one.
    fn open_account(&mut self, owner: Option<u32>) {
        let no = self.owner.len() as u32;
        self.owner.push(owner.unwrap_or(no));
        self.last.push(NO_BET);
    }

    /// Bet `bet` (the next one) was accepted on `account`.
    #[inline]
    fn add(&mut self, account: AccountNo, bet: BetId) {
        debug_assert_eq!(bet.index(), self.prev.len(), "bets are listed in order");
        let owner = self.owner[account.index()] as usize;
        let last = &mut self.last[owner];
        self.prev.push(*last);
        *last = bet.0;
    }
}

/// Round bets are found by (player, order number), bookmaker bets by (player, the
/// bookmaker's bet id); the two live in separate indexes so one operator's ids cannot collide
/// with the other's.
#[inline]
fn index_bet(idx: &mut Indexes, bets: &Chunked<Bet>, accounts: &Chunked<Account>, id: BetId, b: &Bet) {
    let rehash = |i: u32| bet_key(bets, accounts, i);
    let index = if b.round.is_some() { &mut idx.bet_by_order } else { &mut idx.bet_by_partner_id };
    index.insert(hash_scoped(accounts[b.account.index()].user, &b.order_no), id.0, rehash);
}

/// The hash bet `i` is indexed by: its player and its caller's id.
#[inline]
fn bet_key(bets: &Chunked<Bet>, accounts: &Chunked<Account>, i: u32) -> u64 {
    let b = &bets[i as usize];
    hash_scoped(accounts[b.account.index()].user, &b.order_no)
}

fn evolve_packet_sent(state: &mut State, e: &RedPacketSent) {
    assert_eq!(e.packet.index(), state.packets.len(), "packet numbers are dense");
    let a = &mut state.accounts[e.account.index()];
    a.available -= e.total;
    // The pool's money may come back at expiry: it stays in the sender's exposure until grabbed.
    a.exposure += e.total;
    debug_assert!(!a.available.is_negative(), "decide checked the funds");
    let sender = a.user;
    state.idx.packet_by_id.insert((sender, e.id), e.packet);
    state.packets.push(RedPacket {
        id: e.id,
        sender: e.account,
        total: e.total,
        shares: e.shares,
        kind: e.kind,
        sent_at: e.sent_at,
        expires_at: e.expires_at,
        remaining: e.total,
        status: PacketStatus::Open,
        // Every share will be grabbed in a festival: reserve them all (capped) up front.
        grabs: Vec::with_capacity(e.shares.min(1 << 20) as usize),
        grab_by_user: DenseIndex::with_capacity(e.shares.min(1 << 20) as usize),
    });
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

/// "No round yet" in [`RoundStakes::latest`].
const NO_ROUND: RoundNo = RoundNo(u32::MAX);

/// What each player has staked on each round still taking bets, for the per-round limit.
/// Almost every player bets on one round at a time, so each account has one slot for its
/// latest round (read beside the account, no hash lookup); stakes on other open rounds spill
/// into a map. Entries of a round that stops taking bets are dropped, so this stays bounded.
#[derive(Clone, Debug, Default)]
pub(crate) struct RoundStakes {
    /// Per account: the round it last bet on, and its stake there.
    pub latest: Chunked<(RoundNo, Money)>,
    earlier: FxHashMap<(RoundNo, AccountNo), Money>,
}

impl RoundStakes {
    #[inline]
    pub fn get(&self, round: RoundNo, account: AccountNo) -> Money {
        match self.latest[account.index()] {
            (r, stake) if r == round => stake,
            _ if self.earlier.is_empty() => Money::ZERO,
            _ => self.earlier.get(&(round, account)).copied().unwrap_or_default(),
        }
    }

    #[inline]
    pub fn add(&mut self, round: RoundNo, account: AccountNo, stake: Money) {
        let slot = &mut self.latest[account.index()];
        if slot.0 != round {
            if slot.0 != NO_ROUND && slot.1.is_positive() {
                self.earlier.insert((slot.0, account), slot.1);
            }
            let before = self.earlier.remove(&(round, account)).unwrap_or_default();
            *slot = (round, before);
        }
        slot.1 += stake;
    }

    /// The round takes no more bets: forget its stakes.
    pub fn close(&mut self, round: RoundNo) {
        if !self.earlier.is_empty() {
            self.earlier.retain(|(r, _), _| *r != round);
        }
        // Slots still naming the round are harmless: bets on a closed round are refused
        // before the limit is read, and the next bet elsewhere overwrites the slot.
    }
}

/// Prefetching: hints that let a batch of commands overlap their cache misses. They read
/// the state and change nothing, so a wrong guess costs only a wasted fetch.
impl State {
    /// Stage one, a few commands ahead: the index slots `decide` will probe.
    #[inline]
    pub fn prefetch_lookups(&self, cmd: &crate::Command) {
        match cmd {
            crate::Command::PlaceBet(b) => {
                self.idx.bet_by_order.prefetch(hash_scoped(b.user, &b.order_no));
                if let Some(cur) = self.currency_by_code(&b.currency) {
                    self.idx.account_by_user.prefetch(hash_account_key(b.user, cur));
                }
            }
            crate::Command::GrabRedPacket { packet, sender, user } => {
                if let Some(p) = self.packet_by_id(*sender, packet) {
                    let p = &self.packets[p.index()];
                    p.grab_by_user.prefetch(hash_user(*user));
                    let cur = self.accounts[p.sender.index()].currency;
                    self.idx.account_by_user.prefetch(hash_account_key(*user, cur));
                }
            }
            _ => {}
        }
    }

    /// The look-ahead of a batch: before running command `i`, fetch the index slots of the
    /// command [`crate::PREFETCH_LOOKUPS_AHEAD`] places later and the records of the one
    /// [`crate::PREFETCH_RECORDS_AHEAD`] places later. Shared by every batch path.
    #[inline]
    pub fn prefetch_ahead(&self, batch: &[(Timestamp, crate::Command)], i: usize) {
        if let Some((_, ahead)) = batch.get(i + crate::PREFETCH_LOOKUPS_AHEAD) {
            self.prefetch_lookups(ahead);
        }
        if let Some((_, ahead)) = batch.get(i + crate::PREFETCH_RECORDS_AHEAD) {
            self.prefetch_records(ahead);
        }
    }

    /// The account an event will change, fetched ahead while earlier events are applied.
    #[inline]
    pub fn prefetch_event(&self, event: &Event) {
        let account = match event {
            Event::BetSettled { account, .. } | Event::BetResettled { account, .. } => *account,
            Event::RedPacketGrabbed { account: Some(account), .. } => *account,
            Event::TransferReceived { account, .. } => *account,
            Event::Deposited { account, .. } | Event::Withdrawn { account, .. } => *account,
            Event::BetAccepted(b) => {
                let index = if b.round.is_some() { &self.idx.bet_by_order } else { &self.idx.bet_by_partner_id };
                if let Some(a) = self.accounts.get(b.account.index()) {
                    index.prefetch(hash_scoped(a.user, &b.order_no));
                }
                if let Some(stake) = self.idx.round_stake.latest.get(b.account.index()) {
                    croupier_collections::prefetch(stake);
                }
                b.account
            }
            _ => return,
        };
        if let Some(a) = self.accounts.get(account.index()) {
            croupier_collections::prefetch(a);
        }
    }

    /// Stage two, a command or two ahead, once the slots are cached: the records behind them.
    #[inline]
    pub fn prefetch_records(&self, cmd: &crate::Command) {
        let (user, cur) = match cmd {
            crate::Command::PlaceBet(b) => match self.currency_by_code(&b.currency) {
                Some(cur) => (b.user, cur),
                None => return,
            },
            crate::Command::GrabRedPacket { packet, sender, user } => match self.packet_by_id(*sender, packet) {
                Some(p) => (*user, self.accounts[self.packets[p.index()].sender.index()].currency),
                None => return,
            },
            _ => return,
        };
        // Unconfirmed on purpose: confirming would wait for the very record being fetched.
        if let Some(a) = self.idx.account_by_user.peek(hash_account_key(user, cur)) {
            if let Some(account) = self.accounts.get(a as usize) {
                croupier_collections::prefetch(account);
                croupier_collections::prefetch(&self.idx.round_stake.latest[a as usize]);
            }
        }
    }
}
