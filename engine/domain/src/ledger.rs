//! The double-entry ledger implied by the events.
//!
//! The engine does not store ledger lines: every money-moving event defines its lines
//! ([`entries`]), and [`LedgerBook`] folds them into balances with "balance after" on each line,
//! as the projectors write them to `wallet_ledger`. Tests fold every random history and check
//! that the book's balances equal the engine's.

use crate::event::Event;
use crate::ids::{AccountNo, BetId, CurrencyId, ExtId, PacketNo};
use crate::money::Money;
use crate::state::Outcome;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// A ledger account. A player's account has two: what they can spend and what is held for
/// their open bets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LedgerAccount {
    Player(AccountNo),
    Held(AccountNo),
    External(CurrencyId),
    House(CurrencyId),
    Pool(PacketNo),
    /// Money on its way between this shard and shard `shard`: credited when this shard sends,
    /// debited when it receives. Summed over all shards, the transit accounts hold exactly the
    /// transfers sent and not yet applied.
    Transit {
        shard: u32,
        currency: CurrencyId,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    Deposit,
    Withdrawal,
    BetHold,
    BetStake,
    BetPayout,
    BetRefund,
    Resettlement,
    PacketSend,
    PacketGrab,
    PacketRefund,
    /// A grabbed share leaving for, or arriving from, another shard.
    TransferOut,
    TransferIn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reference {
    Transfer(ExtId),
    Bet(BetId),
    Packet(PacketNo),
    /// A transfer between shards: (sending shard, its sequence to the receiver).
    ShardTransfer {
        from: u32,
        seq: u64,
    },
    /// A crash bet (numbered apart from round bets).
    CrashBet(crate::crash::CrashBetNo),
    /// An instant bet (seed 003), numbered apart from round and bookmaker bets.
    Instant(crate::instant::InstantNo),
}

/// `amount` (always positive) moves from `from` to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub from: LedgerAccount,
    pub to: LedgerAccount,
    pub amount: Money,
    pub reason: Reason,
    pub reference: Reference,
}

/// Calls `emit` with each ledger line of `event`. `currency_of` names a player account's
/// currency (needed for the `external` and `house` sides).
pub fn entries(event: &Event, currency_of: impl Fn(AccountNo) -> CurrencyId, mut emit: impl FnMut(Entry)) {
    use LedgerAccount::*;
    let mut line = |from, to, amount: Money, reason, reference| {
        if amount.is_positive() {
            emit(Entry { from, to, amount, reason, reference });
        }
    };
    match event {
        Event::Deposited { account, transfer, amount } => line(
            External(currency_of(*account)),
            Player(*account),
            *amount,
            Reason::Deposit,
            Reference::Transfer(*transfer),
        ),
        Event::Withdrawn { account, transfer, amount } => line(
            Player(*account),
            External(currency_of(*account)),
            *amount,
            Reason::Withdrawal,
            Reference::Transfer(*transfer),
        ),
        Event::BetAccepted(b) => {
            line(Player(b.account), Held(b.account), b.stake, Reason::BetHold, Reference::Bet(b.bet))
        }
        Event::BetSettled { bet, account, stake, outcome, payout, .. } => {
            let house = House(currency_of(*account));
            let r = Reference::Bet(*bet);
            match outcome {
                Outcome::Void | Outcome::Push => line(Held(*account), Player(*account), *stake, Reason::BetRefund, r),
                Outcome::Won | Outcome::Lost => {
                    line(Held(*account), house, *stake, Reason::BetStake, r);
                    line(house, Player(*account), *payout, Reason::BetPayout, r);
                }
            }
        }
        Event::BetResettled { bet, account, from_payout, to_payout, .. } => {
            let house = House(currency_of(*account));
            let delta = to_payout.0 - from_payout.0;
            let r = Reference::Bet(*bet);
            if delta > 0 {
                line(house, Player(*account), Money(delta), Reason::Resettlement, r);
            } else {
                line(Player(*account), house, Money(-delta), Reason::Resettlement, r);
            }
        }
        Event::RedPacketSent(p) => {
            line(Player(p.account), Pool(p.packet), p.total, Reason::PacketSend, Reference::Packet(p.packet))
        }
        Event::RedPacketGrabbed { packet, account: Some(account), amount, .. } => {
            line(Pool(*packet), Player(*account), *amount, Reason::PacketGrab, Reference::Packet(*packet))
        }
        Event::TransferSent { transfer: t, pool, currency } => line(
            Pool(*pool),
            Transit { shard: t.to, currency: *currency },
            t.amount,
            Reason::TransferOut,
            Reference::ShardTransfer { from: t.from, seq: t.seq },
        ),
        Event::TransferReceived { transfer: t, account } => line(
            Transit { shard: t.from, currency: currency_of(*account) },
            Player(*account),
            t.amount,
            Reason::TransferIn,
            Reference::ShardTransfer { from: t.from, seq: t.seq },
        ),
        Event::RedPacketExpired { packet, account, refund } => {
            line(Pool(*packet), Player(*account), *refund, Reason::PacketRefund, Reference::Packet(*packet))
        }
        Event::Crash(e) => {
            crate::crash::event::entries(e, currency_of, |x| line(x.from, x.to, x.amount, x.reason, x.reference))
        }
        Event::Instant(e) => crate::instant::ledger::entries(e, currency_of, line),
        Event::Configured(_)
        | Event::CurrencyDefined { .. }
        | Event::GameDefined { .. }
        | Event::AccountOpened { .. }
        | Event::LimitsSet { .. }
        | Event::SelfExcluded { .. }
        | Event::RoundOpened { .. }
        | Event::RoundStatusChanged { .. }
        | Event::RoundDrawn { .. }
        | Event::PartnerRefundRemembered { .. }
        | Event::PartnerRefundRememberedFor { .. }
        | Event::PartnerTransactionRecorded { .. }
        | Event::RedPacketGrabbed { account: None, .. }
        | Event::TopologySet(_)
        | Event::TransfersAcked { .. }
        | Event::RedPacketRecipients { .. } => {}
    }
}

/// A ledger line with both sides' balances after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub entry: Entry,
    pub from_after: Money,
    pub to_after: Money,
}

/// Folds events into ledger balances, knowing only the events (as a projector does).
#[derive(Clone, Debug, Default)]
pub struct LedgerBook {
    account_currency: Vec<CurrencyId>,
    balances: FxHashMap<LedgerAccount, Money>,
}

impl LedgerBook {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn apply(&mut self, event: &Event, mut emit: impl FnMut(Line)) {
        if let Event::AccountOpened { account, currency, .. } = event {
            assert_eq!(account.index(), self.account_currency.len(), "account numbers are dense");
            self.account_currency.push(*currency);
        }
        let currencies = &self.account_currency;
        let balances = &mut self.balances;
        entries(
            event,
            |a| currencies[a.index()],
            |entry| {
                let from = balances.entry(entry.from).or_default();
                *from -= entry.amount;
                let from_after = *from;
                let to = balances.entry(entry.to).or_default();
                *to += entry.amount;
                emit(Line { entry, from_after, to_after: *to });
            },
        );
    }

    pub fn balance(&self, account: LedgerAccount) -> Money {
        self.balances.get(&account).copied().unwrap_or_default()
    }

    pub fn currency_of(&self, account: AccountNo) -> CurrencyId {
        self.account_currency[account.index()]
    }
}
