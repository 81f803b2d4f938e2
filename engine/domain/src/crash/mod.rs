//! The crash game (seed 001): a channel runs terms back to back; each term's crash point is
//! committed before anyone bets (a bustabit-compatible hash chain, [`fair`]) and the multiplier
//! follows bustabit's curve ([`curve`]), computed without floats so every machine agrees.
//!
//! A term goes `PreStart` (bets open) → `Starting` (bets closed) → `Flying` (the edge reveals
//! the term's game hash, which must hash to the previous one; the crash point follows) →
//! `Crashed`/`Closed` (every bet settled, totals recorded) in one command at the crash, or
//! `Cancelled` by an emergency stop (every open bet refunded). While flying, a bet is done when
//! the multiplier reaches its auto target (or the per-bet profit limit), when the term's profit
//! cap fires, or when its player cashes out; each of these is a pure function of the bet, the
//! crash point and the time, so auto and cap cashouts need no event until the player asks or the
//! term crashes, and a replay gives the same payouts.
//!
//! Money moves like round bets: the stake is held on placement (`available → held`, the most
//! the bet can return added to the player's and the house's exposure), and a cashout, loss,
//! cancellation or refund releases it. Ledger lines: [`event::entries`].

pub mod command;
pub mod curve;
pub mod event;
pub mod fair;
pub mod reject;
pub mod testkit;

use crate::ids::{AccountNo, Code, CurrencyId, ExtId, InlineStr, Timestamp, UserId};
use crate::money::Money;
use croupier_collections::{Chunked, DenseIndex};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

pub use command::{ChannelConfig, CrashCommand, CrashLimits};
pub use event::CrashEvent;
use fair::GameHash;
pub use reject::CrashReject;

/// The salt a channel's crash points are keyed with, as text (bustabit uses a Bitcoin block
/// hash chosen after the chain was published, so the operator could not pick it).
pub type Salt = InlineStr<64>;

/// The lowest auto-cashout target: 1.01x.
pub const MIN_TARGET: u64 = 101;

macro_rules! dense {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);
        impl $name {
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

dense!(
    /// A crash channel, in the order channels were created (the same on every shard).
    ChannelNo
);
dense!(
    /// A term of any channel, in the order terms were opened (the same on every shard: terms
    /// are broadcast).
    TermNo
);
dense!(
    /// A crash bet on this shard, in the order bets were placed.
    CrashBetNo
);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TermStatus {
    PreStart,
    Starting,
    Flying,
    /// Crashed and every bet settled: the crash and the close are one command.
    Closed,
    /// Emergency stop: every open bet refunded.
    Cancelled,
}

impl TermStatus {
    pub fn name(self) -> &'static str {
        match self {
            TermStatus::PreStart => "pre_start",
            TermStatus::Starting => "starting",
            TermStatus::Flying => "flying",
            TermStatus::Closed => "closed",
            TermStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_over(self) -> bool {
        matches!(self, TermStatus::Closed | TermStatus::Cancelled)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub id: ExtId,
    pub config: ChannelConfig,
    /// Game 0's hash, published before the first term.
    pub terminating_hash: GameHash,
    pub salt: Salt,
    /// Games on the chain; no term past the last one.
    pub length: u64,
    /// Games revealed so far: the next term that takes off reveals game `revealed + 1`.
    pub revealed: u64,
    /// The last revealed game's hash (the terminating hash before the first).
    pub last_hash: GameHash,
    pub paused: bool,
    /// The newest term, if any.
    pub current: Option<TermNo>,
    /// Terms opened so far (a term's number in its channel counts from 1).
    pub terms: u64,
}

/// What the term's flight was committed to at take-off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flight {
    pub at: Timestamp,
    /// The chain index of the revealed game.
    pub game: u64,
    /// Revealed to the domain at take-off; shown to nobody before the crash.
    pub hash: GameHash,
    pub crash_point: u64,
    /// When the multiplier reaches the crash point, in ms after take-off.
    pub crash_after_ms: u64,
    /// Per currency of the channel's limits (same order): the multiplier at which this
    /// shard's share of the term's profit cap cashes out every bet still flying, if it fires
    /// before the crash.
    pub caps: Vec<Option<u64>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Term {
    pub channel: ChannelNo,
    pub number: u64,
    pub status: TermStatus,
    pub opened_at: Timestamp,
    /// When bets close (planned at open, the moment it happened once it did).
    pub starting_at: Timestamp,
    pub flight: Option<Flight>,
    pub ended_at: Option<Timestamp>,
    /// This shard's bets on the term, in placement order.
    pub bets: Chunked<CrashBetNo>,
    /// Per currency of the channel's limits: this shard's totals, final once closed.
    pub totals: Vec<TermTotals>,
}

impl Term {
    /// When the term takes off: `starting_ms` after bets closed.
    pub fn takeoff_at(&self, config: &ChannelConfig) -> Timestamp {
        self.starting_at.saturating_add_ms(config.starting_ms)
    }

    /// The crash point, once the term has crashed (never before).
    pub fn revealed(&self) -> Option<&Flight> {
        if self.status == TermStatus::Closed || self.status == TermStatus::Cancelled {
            self.flight.as_ref()
        } else {
            None
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermTotals {
    pub bets: u64,
    pub stakes: Money,
    /// Cashouts paid (stakes of refunded and cancelled bets are not counted anywhere).
    pub payouts: Money,
}

impl TermTotals {
    /// The house's take: stakes minus payouts.
    pub fn rake(&self) -> Money {
        Money(self.stakes.0 - self.payouts.0)
    }
}

/// How a bet left the flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CashoutKind {
    /// The player asked; paid at the multiplier of the intake time.
    Manual,
    /// The bet's target (its own, or the per-bet profit limit's) was reached.
    Auto,
    /// The term's profit cap cashed out every bet still flying.
    Cap,
}

impl CashoutKind {
    pub fn name(self) -> &'static str {
        match self {
            CashoutKind::Manual => "manual",
            CashoutKind::Auto => "auto",
            CashoutKind::Cap => "cap",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrashBetState {
    Open,
    CashedOut {
        multiplier: u64,
        payout: Money,
        kind: CashoutKind,
        at: Timestamp,
    },
    Lost,
    /// Cancelled by its player before bets closed: the stake went back.
    Cancelled,
    /// The term was stopped: the stake went back.
    Refunded,
}

impl CrashBetState {
    pub fn name(self) -> &'static str {
        match self {
            CrashBetState::Open => "open",
            CrashBetState::CashedOut { .. } => "cashed_out",
            CrashBetState::Lost => "lost",
            CrashBetState::Cancelled => "cancelled",
            CrashBetState::Refunded => "refunded",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashBet {
    pub order_no: ExtId,
    pub user: UserId,
    pub account: AccountNo,
    pub term: TermNo,
    pub stake: Money,
    /// The bet's currency's place in the channel's limits (and the term's totals).
    pub slot: u16,
    /// The target the player asked for, if any.
    pub requested: Option<u64>,
    /// The multiplier the bet leaves the flight at unless cashed out before: the requested
    /// target, or the highest multiplier within the per-bet profit limit.
    pub target: u64,
    pub placed_at: Timestamp,
    pub state: CrashBetState,
}

impl CrashBet {
    /// The most this bet can return: `floor(stake × target)`.
    pub fn max_return(&self) -> Money {
        payout(self.stake, self.target)
    }
}

/// The one cashout rule: `floor(stake × multiplier)`, the multiplier in hundredths. Fits: a
/// target is accepted only when its payout is within the profit limit.
#[inline]
pub fn payout(stake: Money, hundredths: u64) -> Money {
    // A stake times a multiplier almost always fits 64 bits, where the division by 100 is a
    // multiplication; a 128-bit division is a library call (~40 ns, a crash settles a
    // million). Both are the floor of a non-negative quotient, so they agree.
    if let Some(p) = u64::try_from(stake.0).ok().and_then(|s| s.checked_mul(hundredths)) {
        return Money(i64::try_from(p / 100).expect("checked at placement"));
    }
    let p = stake.0 as i128 * hundredths as i128 / 100;
    Money(i64::try_from(p).expect("checked at placement"))
}

/// The crash game's part of a shard's state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CrashState {
    pub(crate) channels: Vec<Channel>,
    pub(crate) terms: Chunked<Term>,
    pub(crate) bets: Chunked<CrashBet>,
    #[serde(skip)]
    pub(crate) idx: CrashIndexes,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct CrashIndexes {
    pub channel_by_id: FxHashMap<ExtId, ChannelNo>,
    /// (player, order number) → bet, compared against `bets`.
    pub bet_by_order: DenseIndex,
}

impl CrashState {
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }
    pub fn channel(&self, no: ChannelNo) -> &Channel {
        &self.channels[no.index()]
    }
    pub fn channel_by_id(&self, id: &ExtId) -> Option<ChannelNo> {
        self.idx.channel_by_id.get(id).copied()
    }
    pub fn terms(&self) -> &Chunked<Term> {
        &self.terms
    }
    pub fn term(&self, no: TermNo) -> &Term {
        &self.terms[no.index()]
    }
    pub fn bets(&self) -> &Chunked<CrashBet> {
        &self.bets
    }
    pub fn bet(&self, no: CrashBetNo) -> &CrashBet {
        &self.bets[no.index()]
    }
    /// `user`'s crash bet with order number `order_no` (per player, like every caller's id).
    pub fn bet_by_order(&self, user: UserId, order_no: &ExtId) -> Option<CrashBetNo> {
        let found = self.idx.bet_by_order.get(crate::ids::hash_scoped(user, order_no), |i| {
            let b = &self.bets[i as usize];
            b.user == user && b.order_no == *order_no
        });
        found.map(CrashBetNo)
    }
    /// The limits of `currency` on `channel`, with their index (the order of `totals` and `caps`).
    pub fn limits(&self, channel: ChannelNo, currency: &Code) -> Option<(usize, &CrashLimits)> {
        self.channels[channel.index()].config.limits.iter().enumerate().find(|(_, l)| l.currency == *currency)
    }

    /// A copy for a snapshot, sharing the chunks, without the derived indexes.
    pub(crate) fn snapshot_copy(&self) -> CrashState {
        CrashState {
            channels: self.channels.clone(),
            terms: self.terms.clone(),
            bets: self.bets.clone(),
            idx: CrashIndexes::default(),
        }
    }

    pub(crate) fn index_bet(&mut self, no: CrashBetNo) {
        let bets = &self.bets;
        let key = |i: u32| crate::ids::hash_scoped(bets[i as usize].user, &bets[i as usize].order_no);
        self.idx.bet_by_order.insert(key(no.0), no.0, key);
    }

    pub(crate) fn rebuild_indexes(&mut self) {
        self.idx = CrashIndexes {
            channel_by_id: self.channels.iter().enumerate().map(|(i, c)| (c.id, ChannelNo(i as u32))).collect(),
            bet_by_order: DenseIndex::with_capacity(self.bets.len()),
        };
        for i in 0..self.bets.len() {
            self.index_bet(CrashBetNo(i as u32));
        }
    }

    /// Per account: the stakes held and the most the open crash bets can return; per currency
    /// (by id): the same sums. For `State::check_invariants`.
    pub(crate) fn open_sums(&self, accounts: usize, currency_of: impl Fn(AccountNo) -> CurrencyId) -> OpenSums {
        let mut sums = OpenSums { held: vec![0; accounts], exposure: vec![0; accounts], currency: Vec::new() };
        for b in self.bets.iter().filter(|b| b.state == CrashBetState::Open) {
            sums.held[b.account.index()] += b.stake.0 as i128;
            sums.exposure[b.account.index()] += b.max_return().0 as i128;
            let c = currency_of(b.account).index();
            if sums.currency.len() <= c {
                sums.currency.resize(c + 1, (0, 0));
            }
            sums.currency[c].0 += b.max_return().0 as i128;
            sums.currency[c].1 += b.stake.0 as i128;
        }
        sums
    }

    /// Checks the crash game's own invariants: bets belong to their terms, a term that is over
    /// has no open bet, and its totals are its bets'.
    pub(crate) fn check(&self) -> Result<(), String> {
        for (i, t) in self.terms.iter().enumerate() {
            let mut totals = vec![TermTotals::default(); t.totals.len()];
            for &b in &t.bets {
                let bet = &self.bets[b.index()];
                if bet.term != TermNo(i as u32) {
                    return Err(format!("crash bet {} is listed on term {i} but belongs to another", b.0));
                }
                if t.status.is_over() && bet.state == CrashBetState::Open {
                    return Err(format!("term {i} is over but crash bet {} is open", b.0));
                }
                let tot = &mut totals[bet.slot as usize];
                match bet.state {
                    CrashBetState::Cancelled | CrashBetState::Refunded => {}
                    CrashBetState::Open | CrashBetState::Lost => {
                        tot.bets += 1;
                        tot.stakes += bet.stake;
                    }
                    CrashBetState::CashedOut { multiplier, payout: paid, .. } => {
                        if paid != payout(bet.stake, multiplier) || multiplier > bet.target {
                            return Err(format!("crash bet {} was paid {paid} at {multiplier}", b.0));
                        }
                        if t.flight.as_ref().is_some_and(|f| multiplier > f.crash_point) {
                            return Err(format!("crash bet {} cashed out above the crash point", b.0));
                        }
                        tot.bets += 1;
                        tot.stakes += bet.stake;
                        tot.payouts += paid;
                    }
                }
            }
            if totals != t.totals {
                return Err(format!("term {i} records totals {:?}, its bets {totals:?}", t.totals));
            }
        }
        Ok(())
    }
}

/// What the open crash bets hold and may return, per account and per currency.
pub struct OpenSums {
    pub held: Vec<i128>,
    pub exposure: Vec<i128>,
    /// Per currency id: (exposure, stakes).
    pub currency: Vec<(i128, i128)>,
}

impl crate::state::State {
    /// The crash game's channels, terms and bets.
    pub fn crash(&self) -> &CrashState {
        &self.crash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn wide(stake: Money, hundredths: u64) -> i128 {
        stake.0 as i128 * hundredths as i128 / 100
    }

    #[test]
    fn payout_takes_the_64_bit_path_and_the_wide_one_alike() {
        // Past u64 (10^17 × 990 hundredths) the wide path is taken; both are the floor.
        for (stake, m) in
            [(1, 101), (99, 101), (100_000_000_000_000_000, 101), (1_000_000, fair::MAX_CRASH_POINT / 1_000)]
        {
            assert_eq!(payout(Money(stake), m).0 as i128, wide(Money(stake), m), "{stake} × {m}");
        }
        assert!(u64::try_from(100_000_000_000_000_000i64).unwrap().checked_mul(990).is_none());
        assert_eq!(payout(Money(100_000_000_000_000_000), 90).0, 90_000_000_000_000_000);
    }

    proptest! {
        #[test]
        /// Up to 9.2 · 10^13 × 10^6: both paths (the product passes u64 above 1.8 · 10^13 ×
        /// 10^6), every result within i64.
        fn payout_is_floor_of_stake_times_multiplier(stake in 1i64..92_233_720_368_547, m in 100u64..1_000_000) {
            prop_assert_eq!(payout(Money(stake), m).0 as i128, wide(Money(stake), m));
        }
    }
}
