//! [`evolve`], the only function that changes a [`State`]: one event at a time, one module
//! per area, mirroring `decide/`.
//!
//! It cannot fail: `decide` checked every bound (see `decide::bounds`), so each sum here stays
//! within the ledger's range. The asserts guard against a journal that does not belong to
//! this state (a replay from the wrong position), never against a caller's input.

mod accounts;
mod bets;
mod crash;
mod instant;
mod partner;
mod red_packets;
mod rounds;
mod transfers;

use crate::event::Event;
use crate::ids::{AccountNo, CurrencyId, Timestamp};
use crate::money::Money;
use crate::state::State;

/// Applies one event. The match names every variant, so a new event is a compile error here
/// until some area learns to apply it.
pub fn evolve(state: &mut State, event: &Event) {
    match event {
        Event::Configured(s) => state.settings = *s,
        Event::CurrencyDefined { currency, code, exponent } => {
            accounts::currency_defined(state, *currency, *code, *exponent)
        }
        Event::GameDefined { game, def } => rounds::game_defined(state, *game, def),
        Event::AccountOpened { account, user, currency } => accounts::account_opened(state, *account, *user, *currency),
        Event::Deposited { account, transfer, amount } => accounts::deposited(state, *account, *transfer, *amount),
        Event::Withdrawn { account, transfer, amount } => accounts::withdrawn(state, *account, *transfer, *amount),
        Event::LimitsSet { account, limits } => state.accounts[account.index()].limits = *limits,
        Event::SelfExcluded { user, until } => {
            state.excluded_until.insert(*user, *until);
        }
        Event::RoundOpened { round, id, game, bet_start, bet_stop } => {
            rounds::round_opened(state, *round, *id, *game, *bet_start, *bet_stop)
        }
        Event::RoundStatusChanged { round, status, at } => rounds::status_changed(state, *round, *status, *at),
        Event::RoundDrawn { round, result, corrected, at } => rounds::drawn(state, *round, result, *corrected, *at),
        Event::BetAccepted(b) => bets::accepted(state, b),
        Event::BetSettled { bet, account, stake, outcome, payout, at } => {
            bets::settled(state, *bet, *account, *stake, *outcome, *payout, *at)
        }
        Event::BetResettled { bet, account, from, from_payout, to, to_payout, at } => {
            bets::resettled(state, *bet, *account, (*from, *from_payout), (*to, *to_payout), *at)
        }
        Event::PartnerRefundRemembered { bet } => partner::refund_remembered_by_anyone(state, *bet),
        Event::PartnerRefundRememberedFor { bet, user } => partner::refund_remembered(state, *bet, *user),
        Event::PartnerTransactionRecorded { transaction, bet } => {
            partner::transaction_recorded(state, *transaction, *bet)
        }
        Event::RedPacketSent(p) => red_packets::sent(state, p),
        Event::RedPacketGrabbed { packet, account, user, share, amount } => {
            red_packets::grabbed(state, *packet, *account, *user, *share, *amount)
        }
        Event::RedPacketExpired { packet, account, refund } => red_packets::expired(state, *packet, *account, *refund),
        Event::TopologySet(t) => transfers::topology_set(state, t),
        Event::TransferSent { transfer, currency, .. } => transfers::sent(state, transfer, *currency),
        Event::TransferReceived { transfer, account } => transfers::received(state, transfer, *account),
        Event::TransfersAcked { peer, upto } => transfers::acked(state, *peer, *upto),
        Event::Crash(e) => crash::evolve(state, e),
        Event::Instant(e) => instant::apply(state, e),
        Event::RedPacketRecipients { packet, recipients } => red_packets::recipients_named(state, *packet, recipients),
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

/// Counts money returned to a player today, for the daily loss limit.
fn count_returned(state: &mut State, account: AccountNo, amount: Money, at: Timestamp) {
    let a = &mut state.accounts[account.index()];
    roll_day(a, at);
    // A limit counter, not a ledger balance: saturating keeps `evolve` total whatever the
    // day brought (a resettlement may take it below zero).
    a.returned_today = Money(a.returned_today.0.saturating_add(amount.0));
}

/// Counts a stake into the player's day, for the daily stake and loss limits.
fn count_staked(a: &mut crate::state::Account, stake: Money, at: Timestamp) {
    roll_day(a, at);
    // A limit counter, not a ledger balance: saturating keeps `evolve` total.
    a.staked_today = Money(a.staked_today.0.saturating_add(stake.0));
}

/// A new day starts the player's daily counters from zero.
fn roll_day(a: &mut crate::state::Account, at: Timestamp) {
    let day = at.day();
    if day != a.day {
        a.day = day;
        a.staked_today = Money::ZERO;
        a.returned_today = Money::ZERO;
    }
}
