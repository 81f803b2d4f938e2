//! What happened in the crash game, and the ledger lines each event implies.

use super::command::CreateChannel;
use super::fair::GameHash;
use super::{CashoutKind, ChannelNo, CrashBetNo, Flight, TermNo, TermTotals};
use crate::ids::{AccountNo, CurrencyId, ExtId, Timestamp, UserId};
use crate::ledger::{Entry, LedgerAccount, Reason, Reference};
use crate::money::Money;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrashEvent {
    ChannelCreated {
        channel: ChannelNo,
        def: Box<CreateChannel>,
    },
    ChannelPaused {
        channel: ChannelNo,
        paused: bool,
    },
    TermOpened {
        term: TermNo,
        channel: ChannelNo,
        number: u64,
        at: Timestamp,
        starting_at: Timestamp,
    },
    TermStarting {
        term: TermNo,
        at: Timestamp,
    },
    /// Carries the game hash and crash point: the journal needs them to finish the flight
    /// after a restart. Projections must not show them before [`CrashEvent::TermCrashed`].
    TermFlying {
        term: TermNo,
        flight: Box<Flight>,
    },
    /// The stake moves from available to held.
    BetPlaced(CrashBetPlaced),
    /// Held → available (cancelled by the player, or refunded by an emergency stop).
    BetReturned {
        bet: CrashBetNo,
        account: AccountNo,
        stake: Money,
        cancelled: bool,
        at: Timestamp,
    },
    /// Held → house, then house → player `payout = floor(stake × multiplier)`.
    CashedOut {
        bet: CrashBetNo,
        account: AccountNo,
        stake: Money,
        multiplier: u64,
        payout: Money,
        kind: CashoutKind,
        at: Timestamp,
    },
    /// Held → house.
    BetLost {
        bet: CrashBetNo,
        account: AccountNo,
        stake: Money,
        at: Timestamp,
    },
    /// The game hash and crash point, public from now on; the settlement follows.
    TermCrashed {
        term: TermNo,
        at: Timestamp,
        game: u64,
        hash: GameHash,
        crash_point: u64,
    },
    /// Every bet of the term on this shard is settled; the totals per currency of the limits.
    TermClosed {
        term: TermNo,
        at: Timestamp,
        totals: Vec<TermTotals>,
    },
    /// Emergency stop; the refunds follow.
    TermCancelled {
        term: TermNo,
        at: Timestamp,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrashBetPlaced {
    pub bet: CrashBetNo,
    pub account: AccountNo,
    pub user: UserId,
    pub term: TermNo,
    pub order_no: ExtId,
    pub stake: Money,
    pub slot: u16,
    pub requested: Option<u64>,
    pub target: u64,
    pub at: Timestamp,
}

impl CrashEvent {
    /// A short stable name, used for NATS subjects and logs.
    pub fn name(&self) -> &'static str {
        match self {
            CrashEvent::ChannelCreated { .. } => "crash_channel_created",
            CrashEvent::ChannelPaused { .. } => "crash_channel_paused",
            CrashEvent::TermOpened { .. } => "crash_term_opened",
            CrashEvent::TermStarting { .. } => "crash_term_starting",
            CrashEvent::TermFlying { .. } => "crash_term_flying",
            CrashEvent::BetPlaced(_) => "crash_bet_placed",
            CrashEvent::BetReturned { .. } => "crash_bet_returned",
            CrashEvent::CashedOut { .. } => "crash_cashed_out",
            CrashEvent::BetLost { .. } => "crash_bet_lost",
            CrashEvent::TermCrashed { .. } => "crash_term_crashed",
            CrashEvent::TermClosed { .. } => "crash_term_closed",
            CrashEvent::TermCancelled { .. } => "crash_term_cancelled",
        }
    }

    /// The time the event carries, if any.
    pub fn at(&self) -> Option<Timestamp> {
        match self {
            CrashEvent::TermOpened { at, .. }
            | CrashEvent::TermStarting { at, .. }
            | CrashEvent::BetReturned { at, .. }
            | CrashEvent::CashedOut { at, .. }
            | CrashEvent::BetLost { at, .. }
            | CrashEvent::TermCrashed { at, .. }
            | CrashEvent::TermClosed { at, .. }
            | CrashEvent::TermCancelled { at, .. } => Some(*at),
            CrashEvent::BetPlaced(b) => Some(b.at),
            CrashEvent::TermFlying { flight, .. } => Some(flight.at),
            CrashEvent::ChannelCreated { .. } | CrashEvent::ChannelPaused { .. } => None,
        }
    }

    /// The account whose record the event changes, for prefetching.
    pub fn account(&self) -> Option<AccountNo> {
        match self {
            CrashEvent::BetPlaced(b) => Some(b.account),
            CrashEvent::BetReturned { account, .. }
            | CrashEvent::CashedOut { account, .. }
            | CrashEvent::BetLost { account, .. } => Some(*account),
            CrashEvent::ChannelCreated { .. }
            | CrashEvent::ChannelPaused { .. }
            | CrashEvent::TermOpened { .. }
            | CrashEvent::TermStarting { .. }
            | CrashEvent::TermFlying { .. }
            | CrashEvent::TermCrashed { .. }
            | CrashEvent::TermClosed { .. }
            | CrashEvent::TermCancelled { .. } => None,
        }
    }
}

/// The ledger lines of a crash event (see [`crate::ledger::entries`]).
pub(crate) fn entries(event: &CrashEvent, currency_of: impl Fn(AccountNo) -> CurrencyId, mut line: impl FnMut(Entry)) {
    use LedgerAccount::{Held, House, Player};
    let mut emit = |from, to, amount: Money, reason, bet: CrashBetNo| {
        if amount.is_positive() {
            line(Entry { from, to, amount, reason, reference: Reference::CrashBet(bet) });
        }
    };
    match event {
        CrashEvent::BetPlaced(b) => emit(Player(b.account), Held(b.account), b.stake, Reason::BetHold, b.bet),
        CrashEvent::BetReturned { bet, account, stake, .. } => {
            emit(Held(*account), Player(*account), *stake, Reason::BetRefund, *bet)
        }
        CrashEvent::CashedOut { bet, account, stake, payout, .. } => {
            let house = House(currency_of(*account));
            emit(Held(*account), house, *stake, Reason::BetStake, *bet);
            emit(house, Player(*account), *payout, Reason::BetPayout, *bet);
        }
        CrashEvent::BetLost { bet, account, stake, .. } => {
            emit(Held(*account), House(currency_of(*account)), *stake, Reason::BetStake, *bet)
        }
        CrashEvent::ChannelCreated { .. }
        | CrashEvent::ChannelPaused { .. }
        | CrashEvent::TermOpened { .. }
        | CrashEvent::TermStarting { .. }
        | CrashEvent::TermFlying { .. }
        | CrashEvent::TermCrashed { .. }
        | CrashEvent::TermClosed { .. }
        | CrashEvent::TermCancelled { .. } => {}
    }
}

/// The event as it may be published (SQL event table, the event stream, logs): a flight's
/// game hash, crash point, crash time and caps are secret until the term crashes, so
/// `TermFlying` is published with them zeroed; [`CrashEvent::TermCrashed`] reveals the hash
/// and crash point. Every other event is published as it is.
pub fn published(e: &crate::Event) -> std::borrow::Cow<'_, crate::Event> {
    use std::borrow::Cow;
    match e {
        crate::Event::Crash(CrashEvent::TermFlying { term, flight }) => {
            let hidden =
                Flight { hash: [0; 32], crash_point: 0, crash_after_ms: 0, caps: Vec::new(), ..(**flight).clone() };
            Cow::Owned(crate::Event::Crash(CrashEvent::TermFlying { term: *term, flight: Box::new(hidden) }))
        }
        _ => Cow::Borrowed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flight_is_published_without_its_secret() {
        let flight = Flight {
            at: Timestamp(5),
            game: 3,
            hash: [7; 32],
            crash_point: 250,
            crash_after_ms: 15_272,
            caps: vec![Some(120)],
        };
        let e = crate::Event::Crash(CrashEvent::TermFlying { term: TermNo(1), flight: Box::new(flight) });
        let json = serde_json::to_string(&*published(&e)).unwrap();
        assert!(
            !json.contains("250") && !json.contains("15272") && !json.contains("120") && !json.contains("7,7"),
            "{json}"
        );
        assert!(json.contains("\"game\":3"));
        let lost = crate::Event::Crash(CrashEvent::BetLost {
            bet: CrashBetNo(1),
            account: AccountNo(2),
            stake: Money(3),
            at: Timestamp(4),
        });
        assert_eq!(*published(&lost), lost);
    }
}
