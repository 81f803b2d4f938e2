//! Round bets (seed 000 `bet`): the hot path. Everything here is a lookup and a comparison;
//! nothing allocates.

use super::{check_open_bet, check_stake, existing_account, Reply};
use crate::command::PlaceBet;
use crate::event::{BetAccepted, Event};
use crate::ids::{BetId, Timestamp};
use crate::money::{liability, payout, Money};
use crate::reject::Reject;
use crate::state::{RoundStatus, State};

#[inline]
pub(super) fn place_bet(s: &State, b: &PlaceBet, now: Timestamp, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    // Idempotency comes first: a retry after the window closed must still get its answer.
    if let Some(bet) = s.bet_by_order(b.user, &b.order_no) {
        return replay(s, bet, b);
    }
    if !b.stake.is_positive() {
        return Err(Reject::InvalidAmount);
    }
    let round_no = s.round_by_id(&b.round).ok_or(Reject::RoundNotFound)?;
    let round = s.round(round_no);
    if round.status != RoundStatus::Betting || now < round.bet_start || now >= round.bet_stop {
        return Err(Reject::RoundClosed);
    }
    let game = &s.games()[round.game.index()].def;
    let selection = game.selections.get(b.selection.0 as usize).ok_or(Reject::UnknownSelection)?;
    let cur = s.currency_by_code(&b.currency).ok_or(Reject::UnknownCurrency)?;
    let limits = game.limits.iter().find(|l| l.currency == b.currency).ok_or(Reject::CurrencyNotAccepted)?;
    if b.stake < limits.min_stake {
        return Err(Reject::StakeTooLow { min: limits.min_stake });
    }
    if b.stake > limits.max_stake {
        return Err(Reject::StakeTooHigh { max: limits.max_stake });
    }
    let account = existing_account(s, b.user, cur)?;
    let staked = s.round_stake(round_no, account);
    let round_left = Money(limits.max_stake_per_user_round.0 - staked.0);
    if b.stake > round_left {
        return Err(Reject::RoundStakeLimit { remaining: round_left.max(Money::ZERO) });
    }
    let added = liability(b.stake, selection.odds).ok_or(Reject::LiabilityLimit)?;
    let won = payout(b.stake, selection.odds).filter(|p| *p <= super::MAX_BALANCE).ok_or(Reject::LiabilityLimit)?;
    let current = round.liability[b.selection.0 as usize];
    if current.0.saturating_add(added.0) > limits.max_liability_per_selection.0 {
        return Err(Reject::LiabilityLimit);
    }
    check_stake(s, account, b.stake, now)?;
    check_open_bet(s, account, b.stake, won)?;
    let bet = BetId(s.bets().len() as u32);
    out.push(Event::BetAccepted(BetAccepted {
        bet,
        account,
        round: Some(round_no),
        selection: b.selection,
        stake: b.stake,
        odds: selection.odds,
        order_no: b.order_no,
        platform: b.platform,
        at: now,
    }));
    Ok(Reply::Bet { bet, state: crate::state::BetState::Open, replayed: false })
}

/// The first answer if the repeat has the same content; a conflict if the player used the
/// order number for another bet. Order numbers are per player: another player's bet with the
/// same number is never found here, on any shard count.
fn replay(s: &State, bet: BetId, b: &PlaceBet) -> Result<Reply, Reject> {
    let first = s.bet(bet);
    let a = s.account(first.account);
    let same = a.user == b.user
        && s.currencies()[a.currency.index()].code == b.currency
        && first.round.map(|r| s.round(r).id) == Some(b.round)
        && first.selection == b.selection
        && first.stake == b.stake
        && first.platform == b.platform;
    if same {
        Ok(Reply::Bet { bet, state: first.state, replayed: true })
    } else {
        Err(Reject::IdempotencyConflict)
    }
}
