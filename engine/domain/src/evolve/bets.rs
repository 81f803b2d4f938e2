//! Bets: acceptance (the hot path), settlement and resettlement.

use super::{count_returned, count_staked, credit};
use crate::event::BetAccepted;
use crate::ids::{AccountNo, BetId, Timestamp};
use crate::money::Money;
use crate::state::{index_bet, max_return, Bet, BetState, Outcome, State};

#[inline]
pub(super) fn accepted(state: &mut State, e: &BetAccepted) {
    assert_eq!(e.bet.index(), state.bets.len(), "bet ids are dense");
    let won = max_return(e.round.is_some(), e.stake, e.odds);
    let a = &mut state.accounts[e.account.index()];
    debug_assert!(a.available >= e.stake, "decide checked the funds");
    a.available -= e.stake;
    a.held += e.stake;
    a.exposure += won;
    count_staked(a, e.stake, e.at);
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
    state.idx.bets_of_user.add(&mut state.accounts, e.account, e.bet);
}

/// The stake leaves the player's hold for the house, the payout comes back from it.
pub(super) fn settled(
    state: &mut State,
    bet: BetId,
    account: AccountNo,
    stake: Money,
    outcome: Outcome,
    payout: Money,
    at: Timestamp,
) {
    let b = &mut state.bets[bet.index()];
    assert_eq!(b.state, BetState::Open, "only open bets settle");
    debug_assert_eq!((b.account, b.stake), (account, stake));
    b.state = BetState::Settled { outcome, payout };
    let max_return = b.max_return();
    let a = &mut state.accounts[account.index()];
    a.held -= stake;
    a.exposure -= max_return;
    let c = &mut state.currencies[a.currency.index()];
    c.exposure -= max_return;
    c.stakes -= stake;
    c.house += stake;
    c.house -= payout;
    credit(state, account, payout);
    count_returned(state, account, payout, at);
}

/// Only the difference between the two payouts moves; it may take the player into debt.
pub(super) fn resettled(
    state: &mut State,
    bet: BetId,
    account: AccountNo,
    from: (Outcome, Money),
    to: (Outcome, Money),
    at: Timestamp,
) {
    let b = &mut state.bets[bet.index()];
    assert_eq!(b.state, BetState::Settled { outcome: from.0, payout: from.1 });
    b.state = BetState::Settled { outcome: to.0, payout: to.1 };
    let delta = Money(to.1 .0 - from.1 .0);
    let cur = credit(state, account, delta);
    state.currencies[cur.index()].house -= delta;
    count_returned(state, account, delta, at);
}
