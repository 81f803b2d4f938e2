//! Seed 004's bookmaker flows: what must be remembered beyond the bets themselves.

use crate::ids::{BetId, ExtId, UserId};
use crate::state::{State, ANY_PLAYER};

/// Journaled before ids were per player: it names no player, so it keeps the id from every
/// player, as it did then.
pub(super) fn refund_remembered_by_anyone(state: &mut State, bet: ExtId) {
    state.partner_refunded.insert((ANY_PLAYER, bet), ());
}

pub(super) fn refund_remembered(state: &mut State, bet: ExtId, user: UserId) {
    state.partner_refunded.insert((user, bet), ());
}

pub(super) fn transaction_recorded(state: &mut State, transaction: ExtId, bet: BetId) {
    let user = state.accounts[state.bets[bet.index()].account.index()].user;
    state.partner_transactions.insert((user, transaction), bet);
}
