//! Games and the round lifecycle of seed 000: start (betting), stop (3), new card (4), draw
//! (5, settles), end (6); plus cancel and corrected draws (resettlement).

use super::Reply;
use crate::command::{DrawResult, GameDef};
use crate::event::Event;
use crate::ids::{AccountNo, ExtId, GameNo, RoundNo, Timestamp};
use crate::money::payout;
use crate::reject::Reject;
use crate::state::{BetState, Outcome, Round, RoundStatus, State};

/// A betting window longer than a day is a configuration mistake, not a game.
const MAX_WINDOW_MS: u64 = 86_400_000;

pub(super) fn define_game(s: &State, def: &GameDef, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    if def.selections.is_empty() || def.selections.len() > u16::MAX as usize {
        return Err(Reject::InvalidGame("a game needs between 1 and 65535 selections"));
    }
    if def.betting_window_ms == 0 || def.betting_window_ms > MAX_WINDOW_MS {
        return Err(Reject::InvalidGame("betting window must be between 1 ms and 24 h"));
    }
    if def.selections.iter().any(|sel| sel.odds.0 < crate::money::Odds::SCALE) {
        return Err(Reject::InvalidGame("odds must be at least 1.0"));
    }
    for l in &def.limits {
        if s.currency_by_code(&l.currency).is_none() {
            return Err(Reject::UnknownCurrency);
        }
        let ordered = l.min_stake.is_positive() && l.min_stake <= l.max_stake;
        if !ordered || l.max_stake_per_user_round.is_negative() || l.max_liability_per_selection.is_negative() {
            return Err(Reject::InvalidGame("limits need 0 < min_stake <= max_stake and non-negative caps"));
        }
    }
    let game = s.game_by_id(&def.game).unwrap_or(GameNo(s.games().len() as u32));
    if s.games().get(game.index()).is_some_and(|g| g.def == *def) {
        return Ok(Reply::Done);
    }
    out.push(Event::GameDefined { game, def: Box::new(def.clone()) });
    Ok(Reply::Done)
}

fn find<'s>(s: &'s State, round: &ExtId) -> Result<(RoundNo, &'s Round), Reject> {
    let no = s.round_by_id(round).ok_or(Reject::RoundNotFound)?;
    Ok((no, s.round(no)))
}

pub(super) fn game_start(
    s: &State,
    round: &ExtId,
    game: &ExtId,
    window_ms: Option<u64>,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    let game_no = s.game_by_id(game).ok_or(Reject::UnknownGame)?;
    if let Some(no) = s.round_by_id(round) {
        let r = s.round(no);
        return if r.game == game_no {
            Ok(Reply::RoundOpened { round: no, bet_start: r.bet_start, bet_stop: r.bet_stop, replayed: true })
        } else {
            Err(Reject::IdempotencyConflict)
        };
    }
    let window = window_ms.unwrap_or(s.games()[game_no.index()].def.betting_window_ms);
    if window == 0 || window > MAX_WINDOW_MS {
        return Err(Reject::InvalidSettings("betting window must be between 1 ms and 24 h"));
    }
    let no = RoundNo(s.rounds().len() as u32);
    let bet_stop = now.saturating_add_ms(window);
    out.push(Event::RoundOpened { round: no, id: *round, game: game_no, bet_start: now, bet_stop });
    Ok(Reply::RoundOpened { round: no, bet_start: now, bet_stop, replayed: false })
}

/// A plain status step: `to` from one of `from`; asking for the status the round already
/// has is a replay (the timer and the operator may both stop a round).
fn step(
    s: &State,
    round: &ExtId,
    from: &[RoundStatus],
    to: RoundStatus,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    let (no, r) = find(s, round)?;
    if r.status == to {
        return Ok(Reply::RoundStatus { round: no, status: to, replayed: true });
    }
    if !from.contains(&r.status) {
        return Err(Reject::InvalidRoundTransition { from: r.status, to });
    }
    out.push(Event::RoundStatusChanged { round: no, status: to, at: now });
    Ok(Reply::RoundStatus { round: no, status: to, replayed: false })
}

pub(super) fn game_stop(s: &State, round: &ExtId, now: Timestamp, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    step(s, round, &[RoundStatus::Betting], RoundStatus::Stopped, now, out)
}

pub(super) fn new_card(s: &State, round: &ExtId, now: Timestamp, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    step(s, round, &[RoundStatus::Stopped], RoundStatus::Dealing, now, out)
}

pub(super) fn game_end(s: &State, round: &ExtId, now: Timestamp, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    let (_, r) = find(s, round)?;
    if r.status == RoundStatus::Drawn && !r.is_settled() {
        // Ending a round whose bets were never settled would strand their holds.
        return Err(Reject::InvalidRoundTransition { from: r.status, to: RoundStatus::Ended });
    }
    step(s, round, &[RoundStatus::Drawn], RoundStatus::Ended, now, out)
}

fn check_result(s: &State, no: RoundNo, result: &DrawResult) -> Result<(), Reject> {
    if result.outcomes.len() != s.selection_count(no) {
        return Err(Reject::InvalidDrawResult("one outcome per selection of the game, in its order"));
    }
    Ok(())
}

pub(super) fn game_draw(
    s: &State,
    round: &ExtId,
    result: Option<&DrawResult>,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    let (no, r) = find(s, round)?;
    let Some(result) = result else {
        return step(s, round, &[RoundStatus::Stopped, RoundStatus::Dealing], RoundStatus::Drawn, now, out);
    };
    check_result(s, no, result)?;
    match (r.status, &r.result) {
        (RoundStatus::Stopped | RoundStatus::Dealing, _) | (RoundStatus::Drawn, None) => {}
        (RoundStatus::Drawn | RoundStatus::Ended, Some(first)) if first == result => {
            return Ok(Reply::RoundSettled { round: no, bets: 0, replayed: true });
        }
        (from, _) => return Err(Reject::InvalidRoundTransition { from, to: RoundStatus::Drawn }),
    }
    out.push(Event::RoundDrawn { round: no, result: result.clone(), corrected: false, at: now });
    let bets = settle_bets(s, r, |sel| result.outcomes[sel], now, out)?;
    Ok(Reply::RoundSettled { round: no, bets, replayed: false })
}

pub(super) fn resettle(
    s: &State,
    round: &ExtId,
    result: &DrawResult,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    let (no, r) = find(s, round)?;
    check_result(s, no, result)?;
    let settled = matches!(r.status, RoundStatus::Drawn | RoundStatus::Ended) && r.is_settled();
    if !settled {
        return Err(Reject::InvalidRoundTransition { from: r.status, to: RoundStatus::Drawn });
    }
    if r.result.as_ref() == Some(result) {
        return Ok(Reply::RoundSettled { round: no, bets: 0, replayed: true });
    }
    out.push(Event::RoundDrawn { round: no, result: result.clone(), corrected: true, at: now });
    let bets = settle_bets(s, r, |sel| result.outcomes[sel], now, out)?;
    Ok(Reply::RoundSettled { round: no, bets, replayed: false })
}

pub(super) fn cancel(s: &State, round: &ExtId, now: Timestamp, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    let (no, r) = find(s, round)?;
    if r.status == RoundStatus::Cancelled {
        return Ok(Reply::RoundSettled { round: no, bets: 0, replayed: true });
    }
    out.push(Event::RoundStatusChanged { round: no, status: RoundStatus::Cancelled, at: now });
    let bets = settle_bets(s, r, |_| Outcome::Void, now, out)?;
    Ok(Reply::RoundSettled { round: no, bets, replayed: false })
}

/// Emits, for every bet of the round, the event that brings it to the outcome its selection
/// now has: `BetSettled` for open bets, `BetResettled` for settled bets whose outcome
/// changes. Returns how many bets changed.
///
/// Open bets need no check: their returns were bounded when they were accepted (the
/// exposure, see `decide::bounds`). A corrected payout was not, so the corrections are
/// summed per account and checked before the caller sees any event.
fn settle_bets(
    s: &State,
    r: &Round,
    outcome_of: impl Fn(usize) -> Outcome,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<u32, Reject> {
    out.reserve(r.bets.len());
    let mut changed = 0u32;
    // Allocated only when a settled bet changes (corrections are rare operator actions).
    let mut corrections: Vec<(AccountNo, i128)> = Vec::new();
    for &bet in &r.bets {
        let b = s.bet(bet);
        let outcome = outcome_of(b.selection.0 as usize);
        let won = payout(b.stake, b.odds).expect("checked at acceptance");
        let returned = outcome.returned(b.stake, won);
        match b.state {
            BetState::Open => out.push(Event::BetSettled {
                bet,
                account: b.account,
                stake: b.stake,
                outcome,
                payout: returned,
                at: now,
            }),
            BetState::Settled { outcome: from, payout: from_payout } => {
                if from == outcome && from_payout == returned {
                    continue;
                }
                corrections.push((b.account, returned.0 as i128 - from_payout.0 as i128));
                out.push(Event::BetResettled {
                    bet,
                    account: b.account,
                    from,
                    from_payout,
                    to: outcome,
                    to_payout: returned,
                    at: now,
                });
            }
        }
        changed += 1;
    }
    check_corrections(s, &mut corrections)?;
    Ok(changed)
}

/// Every account's corrections together, and the house's, within the ledger bounds.
fn check_corrections(s: &State, corrections: &mut [(AccountNo, i128)]) -> Result<(), Reject> {
    if corrections.is_empty() {
        return Ok(());
    }
    corrections.sort_unstable_by_key(|c| c.0);
    let mut per_currency = vec![0i128; s.currencies().len()];
    for group in corrections.chunk_by(|a, b| a.0 == b.0) {
        let account = s.account(group[0].0);
        let delta: i128 = group.iter().map(|c| c.1).sum();
        super::bounds::player(Some(account), delta, 0, super::MAX_LEDGER)?;
        per_currency[account.currency.index()] += delta;
    }
    for (c, delta) in s.currencies().iter().zip(per_currency) {
        super::bounds::house(c, -delta, 0, 0)?;
    }
    Ok(())
}
