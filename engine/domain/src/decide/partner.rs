//! The bookmaker interface of seed 004 on the same ledger: check, block funds (hold), update
//! status (settle), refund and recalculate. Terminal states absorb repeats.

use super::{bounds, check_open_bet, check_stake, currency, existing_account, positive, Reply, MAX_LEDGER};
use crate::command::PartnerBetStatus;
use crate::event::{BetAccepted, Event};
use crate::ids::{BetId, Code, ExtId, SelectionId, Timestamp, UserId};
use crate::money::{Money, Odds};
use crate::reject::Reject;
use crate::state::{Bet, BetState, Outcome, State};

pub(super) fn check_bet(s: &State, user: UserId, code: &Code, amount: Money, now: Timestamp) -> Result<Reply, Reject> {
    positive(amount)?;
    let cur = currency(s, code)?;
    let account = existing_account(s, user, cur)?;
    check_stake(s, account, amount, now)?;
    Ok(Reply::BetApproved)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn block_funds(
    s: &State,
    bet: ExtId,
    partner: Code,
    user: UserId,
    code: &Code,
    amount: Money,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    positive(amount)?;
    let cur = currency(s, code)?;
    if let Some(id) = s.bet_by_partner_id(user, &bet) {
        let b = s.bet(id);
        let a = s.account(b.account);
        return if a.user == user && a.currency == cur && b.stake == amount && b.platform == partner {
            Ok(Reply::Bet { bet: id, state: b.state, replayed: true })
        } else {
            Err(Reject::IdempotencyConflict)
        };
    }
    if s.partner_refunded(user, &bet) {
        return Err(Reject::BetRefunded);
    }
    let account = existing_account(s, user, cur)?;
    check_stake(s, account, amount, now)?;
    // A hold may come back whole (void, refund); a win is checked when it is reported.
    check_open_bet(s, account, amount, amount)?;
    let id = BetId(s.bets().len() as u32);
    out.push(Event::BetAccepted(BetAccepted {
        bet: id,
        account,
        round: None,
        selection: SelectionId(0),
        stake: amount,
        // The bookmaker prices the bet; the payout arrives with the status update.
        odds: Odds(0),
        order_no: bet,
        platform: partner,
        at: now,
    }));
    Ok(Reply::Bet { bet: id, state: BetState::Open, replayed: false })
}

/// The outcome and the amount returned to the player for a bookmaker status.
fn settlement(status: PartnerBetStatus, stake: Money) -> Result<(Outcome, Money), Reject> {
    match status {
        PartnerBetStatus::Won { payout } => {
            if payout.is_negative() || payout > super::MAX_BALANCE {
                return Err(Reject::InvalidAmount);
            }
            Ok((Outcome::Won, payout))
        }
        PartnerBetStatus::Lost => Ok((Outcome::Lost, Money::ZERO)),
        PartnerBetStatus::Void => Ok((Outcome::Void, stake)),
    }
}

/// Settling an open hold with `payout`: the bookmaker names the amount, so unlike a round
/// bet's it was not bounded at acceptance (the hold counted only its stake as exposure).
fn check_settle(s: &State, b: &Bet, payout: Money) -> Result<(), Reject> {
    let a = s.account(b.account);
    let (stake, payout) = (b.stake.0 as i128, payout.0 as i128);
    bounds::player(Some(a), payout, -stake, MAX_LEDGER)?;
    bounds::house(&s.currencies()[a.currency.index()], stake - payout, -stake, -stake)
}

/// A corrected payout moves `delta` between the player and the house.
fn check_resettle(s: &State, b: &Bet, delta: i128) -> Result<(), Reject> {
    let a = s.account(b.account);
    bounds::player(Some(a), delta, 0, MAX_LEDGER)?;
    bounds::house(&s.currencies()[a.currency.index()], -delta, 0, 0)
}

/// The bookmaker bet `bet` of `user`: bet ids are per player, so another player's bet is not
/// found and a partner cannot touch one player's bet by naming another.
fn find(s: &State, bet: &ExtId, user: UserId) -> Result<BetId, Reject> {
    s.bet_by_partner_id(user, bet).ok_or(Reject::BetNotFound)
}

pub(super) fn update_status(
    s: &State,
    bet: &ExtId,
    user: UserId,
    status: PartnerBetStatus,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    let id = find(s, bet, user)?;
    let b = s.bet(id);
    let (outcome, payout) = settlement(status, b.stake)?;
    match b.state {
        BetState::Open => {
            check_settle(s, b, payout)?;
            out.push(Event::BetSettled { bet: id, account: b.account, stake: b.stake, outcome, payout, at: now });
            Ok(Reply::Bet { bet: id, state: BetState::Settled { outcome, payout }, replayed: false })
        }
        BetState::Settled { outcome: o, payout: p } if o == outcome && p == payout => {
            Ok(Reply::Bet { bet: id, state: b.state, replayed: true })
        }
        // A void bet is terminal: a second void or refund gets the first outcome.
        BetState::Settled { outcome: Outcome::Void, .. } if outcome == Outcome::Void => {
            Ok(Reply::Bet { bet: id, state: b.state, replayed: true })
        }
        BetState::Settled { .. } => Err(Reject::BetSettled),
    }
}

pub(super) fn refund(
    s: &State,
    bet: ExtId,
    user: UserId,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    let Some(id) = s.bet_by_partner_id(user, &bet) else {
        // Refund before the bet: remember it so the player's late block is refused (seed 004:
        // the refund must win the race, or money is held for a bet the bookmaker cancelled).
        if s.partner_refunded(user, &bet) {
            return Ok(Reply::Done);
        }
        out.push(Event::PartnerRefundRememberedFor { bet, user });
        return Ok(Reply::Done);
    };
    let b = s.bet(id);
    match b.state {
        BetState::Open => update_status(s, &bet, user, PartnerBetStatus::Void, now, out),
        BetState::Settled { outcome: Outcome::Void, .. } => Ok(Reply::Bet { bet: id, state: b.state, replayed: true }),
        BetState::Settled { .. } => Err(Reject::BetSettled),
    }
}

pub(super) fn recalculate(
    s: &State,
    bet: &ExtId,
    user: UserId,
    transaction: ExtId,
    status: PartnerBetStatus,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    let id = find(s, bet, user)?;
    let b = s.bet(id);
    if let Some(seen) = s.partner_transaction(user, &transaction) {
        return if seen == id {
            Ok(Reply::Bet { bet: id, state: b.state, replayed: true })
        } else {
            Err(Reject::IdempotencyConflict)
        };
    }
    let BetState::Settled { outcome: from, payout: from_payout } = b.state else {
        return Err(Reject::BetNotSettled);
    };
    let (to, to_payout) = settlement(status, b.stake)?;
    if (from, from_payout) != (to, to_payout) {
        check_resettle(s, b, to_payout.0 as i128 - from_payout.0 as i128)?;
        out.push(Event::BetResettled { bet: id, account: b.account, from, from_payout, to, to_payout, at: now });
    }
    out.push(Event::PartnerTransactionRecorded { transaction, bet: id });
    Ok(Reply::Bet { bet: id, state: BetState::Settled { outcome: to, payout: to_payout }, replayed: false })
}
