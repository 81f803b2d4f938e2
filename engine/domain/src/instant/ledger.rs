//! The ledger lines of the instant games' events: the same accounts and reasons as round
//! bets (a one-shot bet is a hold and a settlement in one event; a blackjack double, split or
//! insurance is one more hold; an operator's refund gives the held stakes back).

use super::game::InstantEvent;
use crate::ids::{AccountNo, CurrencyId};
use crate::ledger::{LedgerAccount, Reason, Reference};
use crate::money::Money;

pub(crate) fn entries(
    event: &InstantEvent,
    currency_of: impl Fn(AccountNo) -> CurrencyId,
    mut line: impl FnMut(LedgerAccount, LedgerAccount, Money, Reason, Reference),
) {
    use LedgerAccount::*;
    match event {
        InstantEvent::Placed(p) => {
            let r = Reference::Instant(p.bet);
            if p.settled {
                let house = House(currency_of(p.account));
                line(Player(p.account), house, p.stake, Reason::BetStake, r);
                line(house, Player(p.account), p.payout, Reason::BetPayout, r);
            } else {
                line(Player(p.account), Held(p.account), p.stake, Reason::BetHold, r);
            }
        }
        InstantEvent::Settled { bet, account, stake, payout, .. } => {
            let house = House(currency_of(*account));
            let r = Reference::Instant(*bet);
            line(Held(*account), house, *stake, Reason::BetStake, r);
            line(house, Player(*account), *payout, Reason::BetPayout, r);
        }
        // Blackjack's double, split and insurance hold one more stake each.
        InstantEvent::Acted { bet, account, extra, .. } if extra.is_positive() => {
            line(Player(*account), Held(*account), *extra, Reason::BetHold, Reference::Instant(*bet));
        }
        InstantEvent::Refunded { bet, account, stake, .. } => {
            line(Held(*account), Player(*account), *stake, Reason::BetRefund, Reference::Instant(*bet));
        }
        InstantEvent::Configured(_)
        | InstantEvent::SeedCommitted { .. }
        | InstantEvent::Revealed { .. }
        | InstantEvent::Acted { .. }
        | InstantEvent::DealerRevealed { .. } => {}
    }
}
