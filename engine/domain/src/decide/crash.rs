//! The crash game's decisions: channels, the term lifecycle, bets and cashouts (see
//! [`crate::crash`] for the rules).

use super::{check_open_bet, check_stake, existing_account, Reply, MAX_BALANCE};
use crate::crash::command::{CreateChannel, PlaceCrashBet};
use crate::crash::event::CrashBetPlaced;
use crate::crash::fair::{chains_to, crash_point, GameHash, MAX_CRASH_POINT};
use crate::crash::{
    curve, payout, CashoutKind, ChannelNo, CrashBet, CrashBetNo, CrashBetState, CrashCommand, CrashEvent, CrashReject,
    Flight, Term, TermNo, TermStatus, MIN_TARGET,
};
use crate::event::Event;
use crate::ids::{ExtId, Timestamp, UserId};
use crate::money::Money;
use crate::reject::Reject;
use crate::state::State;

/// A phase longer than a day is a configuration mistake.
const MAX_PHASE_MS: u64 = 86_400_000;
/// Most games one channel's chain may have (a chain is revealed one game per term).
const MAX_CHAIN: u64 = 1 << 32;
/// Most currencies one channel accepts.
const MAX_LIMITS: usize = 64;

/// The answer to an accepted crash command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashReply {
    Done,
    Term {
        term: TermNo,
        number: u64,
        status: TermStatus,
        replayed: bool,
    },
    Bet {
        bet: CrashBetNo,
        state: CrashBetState,
        replayed: bool,
    },
    /// The crash or an emergency stop: how many bets it settled.
    Settled {
        term: TermNo,
        bets: u32,
        replayed: bool,
    },
}

pub(super) fn decide(s: &State, c: &CrashCommand, now: Timestamp, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    let reply = match c {
        CrashCommand::PlaceBet(b) => place_bet(s, b, now, out)?,
        CrashCommand::Cashout { user, order_no } => cashout(s, *user, order_no, now, out)?,
        CrashCommand::CancelBet { user, order_no } => cancel_bet(s, *user, order_no, now, out)?,
        CrashCommand::CreateChannel(def) => create_channel(s, def, out)?,
        CrashCommand::SetPaused { channel, paused } => set_paused(s, channel, *paused, out)?,
        CrashCommand::OpenTerm { channel, number } => open_term(s, channel, *number, now, out)?,
        CrashCommand::CloseBets { channel, number } => close_bets(s, channel, *number, now, out)?,
        CrashCommand::TakeOff { channel, number, hash } => take_off(s, channel, *number, hash, now, out)?,
        CrashCommand::Crash { channel, number } => crash(s, channel, *number, now, out)?,
        CrashCommand::EmergencyStop { channel, number } => emergency_stop(s, channel, *number, now, out)?,
    };
    Ok(Reply::Crash(reply))
}

fn push(out: &mut Vec<Event>, e: CrashEvent) {
    out.push(Event::Crash(e));
}

fn channel_no(s: &State, id: &ExtId) -> Result<ChannelNo, CrashReject> {
    s.crash().channel_by_id(id).ok_or(CrashReject::ChannelNotFound)
}

/// The channel's term numbered `number`: only its newest term can be moved on.
fn term_of<'s>(s: &'s State, channel: &ExtId, number: u64) -> Result<(TermNo, &'s Term), CrashReject> {
    let ch = s.crash().channel(channel_no(s, channel)?);
    match ch.current {
        Some(t) if ch.terms == number => Ok((t, s.crash().term(t))),
        _ => Err(CrashReject::TermNotFound),
    }
}

fn term_reply(term: TermNo, t: &Term, replayed: bool) -> CrashReply {
    CrashReply::Term { term, number: t.number, status: t.status, replayed }
}

fn transition(from: TermStatus, to: TermStatus) -> Reject {
    CrashReject::InvalidTermTransition { from, to }.into()
}

// ---- channels ----

fn create_channel(s: &State, def: &CreateChannel, out: &mut Vec<Event>) -> Result<CrashReply, Reject> {
    if let Some(no) = s.crash().channel_by_id(&def.channel) {
        let ch = s.crash().channel(no);
        let same = ch.config == def.config
            && ch.terminating_hash == def.terminating_hash
            && ch.salt == def.salt
            && ch.length == def.length;
        return if same { Ok(CrashReply::Done) } else { Err(Reject::IdempotencyConflict) };
    }
    let invalid = |why| Err(CrashReject::InvalidChannel(why).into());
    let cfg = &def.config;
    if cfg.pre_start_ms == 0 || cfg.pre_start_ms > MAX_PHASE_MS || cfg.starting_ms > MAX_PHASE_MS {
        return invalid("pre-start must be 1 ms to 24 h, starting at most 24 h");
    }
    if cfg.pause_ms > MAX_PHASE_MS {
        return invalid("the pause between terms is at most 24 h");
    }
    if def.length == 0 || def.length > MAX_CHAIN {
        return invalid("a chain has 1 to 2^32 games");
    }
    if cfg.limits.is_empty() || cfg.limits.len() > MAX_LIMITS {
        return invalid("a channel accepts 1 to 64 currencies");
    }
    for (i, l) in cfg.limits.iter().enumerate() {
        if s.currency_by_code(&l.currency).is_none() {
            return Err(Reject::UnknownCurrency);
        }
        if cfg.limits[..i].iter().any(|o| o.currency == l.currency) {
            return invalid("a currency is listed twice");
        }
        let stakes = l.min_stake.is_positive() && l.min_stake <= l.max_stake && l.max_stake <= MAX_BALANCE;
        let profits = l.max_profit_per_bet.is_positive()
            && l.max_profit_per_bet <= MAX_BALANCE
            && !l.max_profit_per_term.is_negative()
            && l.max_profit_per_term <= MAX_BALANCE;
        if !stakes || !profits {
            return invalid(
                "limits need 0 < min_stake <= max_stake, 0 < profit per bet, 0 <= profit per term, all <= 10^17",
            );
        }
    }
    let channel = ChannelNo(s.crash().channels().len() as u32);
    push(out, CrashEvent::ChannelCreated { channel, def: Box::new(def.clone()) });
    Ok(CrashReply::Done)
}

fn set_paused(s: &State, channel: &ExtId, paused: bool, out: &mut Vec<Event>) -> Result<CrashReply, Reject> {
    let no = channel_no(s, channel)?;
    if s.crash().channel(no).paused != paused {
        push(out, CrashEvent::ChannelPaused { channel: no, paused });
    }
    Ok(CrashReply::Done)
}

// ---- the term lifecycle ----

fn open_term(
    s: &State,
    channel: &ExtId,
    number: u64,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<CrashReply, Reject> {
    let no = channel_no(s, channel)?;
    let ch = s.crash().channel(no);
    if let Ok((term, t)) = term_of(s, channel, number) {
        return Ok(term_reply(term, t, true));
    }
    if number != ch.terms + 1 {
        return Err(CrashReject::TermNotFound.into());
    }
    if let Some(current) = ch.current {
        let t = s.crash().term(current);
        if !t.status.is_over() {
            return Err(transition(t.status, TermStatus::PreStart));
        }
    }
    if ch.paused {
        return Err(CrashReject::ChannelPaused.into());
    }
    if ch.revealed >= ch.length {
        return Err(CrashReject::ChainExhausted.into());
    }
    let term = TermNo(s.crash().terms().len() as u32);
    let starting_at = now.saturating_add_ms(ch.config.pre_start_ms);
    push(out, CrashEvent::TermOpened { term, channel: no, number, at: now, starting_at });
    Ok(CrashReply::Term { term, number, status: TermStatus::PreStart, replayed: false })
}

/// Bets close: at the end of `PreStart` (the timer), or earlier when an operator starts the
/// term early.
fn close_bets(
    s: &State,
    channel: &ExtId,
    number: u64,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<CrashReply, Reject> {
    let (term, t) = term_of(s, channel, number)?;
    match t.status {
        TermStatus::PreStart => {}
        TermStatus::Cancelled => return Err(transition(t.status, TermStatus::Starting)),
        _ => return Ok(term_reply(term, t, true)),
    }
    push(out, CrashEvent::TermStarting { term, at: now.min(t.starting_at) });
    Ok(CrashReply::Term { term, number, status: TermStatus::Starting, replayed: false })
}

fn take_off(
    s: &State,
    channel: &ExtId,
    number: u64,
    hash: &GameHash,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<CrashReply, Reject> {
    let (term, t) = term_of(s, channel, number)?;
    let ch = s.crash().channel(t.channel);
    match (t.status, &t.flight) {
        (TermStatus::Starting, _) => {}
        (_, Some(f)) if f.hash == *hash => return Ok(term_reply(term, t, true)),
        (_, Some(_)) => return Err(Reject::IdempotencyConflict),
        (from, None) => return Err(transition(from, TermStatus::Flying)),
    }
    let due = t.takeoff_at(&ch.config);
    if now < due {
        return Err(CrashReject::TermNotDue { wait_ms: due.0 - now.0 }.into());
    }
    if ch.revealed >= ch.length {
        return Err(CrashReject::ChainExhausted.into());
    }
    // The one place a crash point enters the engine: from a hash that must be the next game
    // of the published chain, so nobody, the operator included, can choose it.
    if !chains_to(hash, &ch.last_hash) {
        return Err(CrashReject::HashNotOnChain.into());
    }
    let point = crash_point(hash, ch.salt.as_bytes());
    let caps = (0..ch.config.limits.len()).map(|slot| cap_multiplier(s, t, slot, point)).collect();
    let flight = Flight {
        at: now,
        game: ch.revealed + 1,
        hash: *hash,
        crash_point: point,
        crash_after_ms: curve::elapsed_to_reach(point),
        caps,
    };
    push(out, CrashEvent::TermFlying { term, flight: Box::new(flight) });
    Ok(CrashReply::Term { term, number, status: TermStatus::Flying, replayed: false })
}

/// This shard's share of the term's profit cap in currency `slot` (the cap split evenly over
/// the shards, so the shards together never pass it), and the highest multiplier at which its
/// bets' profit stays within it, if that comes before the crash. The bets still flying are
/// cashed out there; manual cashouts are not counted (they only lower the profit), so the
/// bound holds whatever the players do.
fn cap_multiplier(s: &State, t: &Term, slot: usize, crash_point: u64) -> Option<u64> {
    let cap = s.crash().channel(t.channel).config.limits[slot].max_profit_per_term.0 as i128;
    let share = match s.topology() {
        Some(topo) => cap / topo.shards as i128 + i128::from((topo.shard as i128) < cap % topo.shards as i128),
        None => cap,
    };
    let bets: Vec<&CrashBet> = t
        .bets
        .iter()
        .map(|b| s.crash().bet(*b))
        .filter(|b| b.slot as usize == slot && b.state == CrashBetState::Open)
        .collect();
    let profit =
        |m: u64| -> i128 { bets.iter().map(|b| payout(b.stake, b.target.min(m)).0 as i128 - b.stake.0 as i128).sum() };
    if profit(crash_point) <= share {
        return None;
    }
    // profit(100) = 0 <= share < profit(crash_point): the answer is in [100, crash_point).
    let (mut lo, mut hi) = (100u64, crash_point - 1);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if profit(mid) <= share {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

/// Where and how an open bet leaves a flight that has reached `m`, if it has: at its target
/// (auto), or at the cap. `None`: still flying.
fn left_at(b: &CrashBet, f: &Flight, m: u64) -> Option<(u64, CashoutKind)> {
    let cap = f.caps[b.slot as usize];
    if b.target <= m && cap.is_none_or(|c| b.target <= c) {
        Some((b.target, CashoutKind::Auto))
    } else {
        cap.filter(|c| m > *c).map(|c| (c, CashoutKind::Cap))
    }
}

/// When a flight reached multiplier `m` (the cap fires when the multiplier passes it).
fn reached_at(f: &Flight, m: u64, kind: CashoutKind) -> Timestamp {
    let m = if kind == CashoutKind::Cap { m + 1 } else { m };
    f.at.saturating_add_ms(curve::elapsed_to_reach(m))
}

/// [`reached_at`] for the many bets a crash settles at once. Inverting the curve is a binary
/// search of about 20 evaluations of 120-bit products (~0.7 µs), and was a third of a
/// crash's settlement when a tenth of the bets were auto cashouts; players pick a few round
/// targets (1.50x, 2.00x), so a small direct-mapped memo of (multiplier, time) answers
/// almost all of them. It is the same pure function, so the events are unchanged.
struct ReachedAt<'f> {
    flight: &'f Flight,
    memo: [(u64, Timestamp); 64],
}

impl<'f> ReachedAt<'f> {
    fn new(flight: &'f Flight) -> Self {
        // No multiplier is u64::MAX (the highest crash point is far below), so no slot matches
        // before it is filled.
        ReachedAt { flight, memo: [(u64::MAX, Timestamp(0)); 64] }
    }

    fn get(&mut self, m: u64, kind: CashoutKind) -> Timestamp {
        let key = if kind == CashoutKind::Cap { m + 1 } else { m };
        let slot = &mut self.memo[(key % 64) as usize];
        if slot.0 != key {
            *slot = (key, reached_at(self.flight, m, kind));
        }
        slot.1
    }
}

/// The multiplier reached the crash point: every bet still open is settled (auto and cap
/// cashouts at their multiplier, the rest lost) and the term closes with its totals.
fn crash(s: &State, channel: &ExtId, number: u64, now: Timestamp, out: &mut Vec<Event>) -> Result<CrashReply, Reject> {
    let (term, t) = term_of(s, channel, number)?;
    let f = match (t.status, &t.flight) {
        (TermStatus::Flying, Some(f)) => f,
        (TermStatus::Closed, _) => return Ok(CrashReply::Settled { term, bets: 0, replayed: true }),
        (from, _) => return Err(transition(from, TermStatus::Closed)),
    };
    let due = f.at.saturating_add_ms(f.crash_after_ms);
    if now < due {
        return Err(CrashReject::TermNotDue { wait_ms: due.0 - now.0 }.into());
    }
    push(out, CrashEvent::TermCrashed { term, at: now, game: f.game, hash: f.hash, crash_point: f.crash_point });
    out.reserve(t.bets.len() + 1);
    let mut totals = t.totals.clone();
    let mut settled = 0u32;
    let mut reached = ReachedAt::new(f);
    for &bet in &t.bets {
        let b = s.crash().bet(bet);
        if b.state != CrashBetState::Open {
            continue;
        }
        settled += 1;
        match left_at(b, f, f.crash_point) {
            Some((multiplier, kind)) => {
                let paid = payout(b.stake, multiplier);
                totals[b.slot as usize].payouts += paid;
                push(
                    out,
                    CrashEvent::CashedOut {
                        bet,
                        account: b.account,
                        stake: b.stake,
                        multiplier,
                        payout: paid,
                        kind,
                        at: reached.get(multiplier, kind),
                    },
                );
            }
            None => push(out, CrashEvent::BetLost { bet, account: b.account, stake: b.stake, at: now }),
        }
    }
    push(out, CrashEvent::TermClosed { term, at: now, totals });
    Ok(CrashReply::Settled { term, bets: settled, replayed: false })
}

fn emergency_stop(
    s: &State,
    channel: &ExtId,
    number: u64,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<CrashReply, Reject> {
    let (term, t) = term_of(s, channel, number)?;
    match t.status {
        TermStatus::Cancelled => return Ok(CrashReply::Settled { term, bets: 0, replayed: true }),
        TermStatus::Closed => return Err(transition(t.status, TermStatus::Cancelled)),
        TermStatus::PreStart | TermStatus::Starting | TermStatus::Flying => {}
    }
    push(out, CrashEvent::TermCancelled { term, at: now });
    out.reserve(t.bets.len());
    let mut refunded = 0u32;
    for &bet in &t.bets {
        let b = s.crash().bet(bet);
        if b.state == CrashBetState::Open {
            refunded += 1;
            push(out, CrashEvent::BetReturned { bet, account: b.account, stake: b.stake, cancelled: false, at: now });
        }
    }
    Ok(CrashReply::Settled { term, bets: refunded, replayed: false })
}

// ---- bets ----

/// The target a bet leaves the flight at: the requested one, within the per-bet profit limit,
/// or (none requested) the highest multiplier whose payout stays within it.
fn target_of(stake: Money, requested: Option<u64>, max_profit: Money) -> Result<u64, CrashReject> {
    let limit = CrashReject::ProfitLimit { max: max_profit };
    let target = match requested {
        Some(a) if a < MIN_TARGET => return Err(CrashReject::TargetTooLow),
        Some(a) => {
            let profit = stake.0 as i128 * a.min(MAX_CRASH_POINT + 1) as i128 / 100 - stake.0 as i128;
            if a > MAX_CRASH_POINT || profit > max_profit.0 as i128 {
                return Err(limit);
            }
            a
        }
        None => {
            // floor(stake × m / 100) - stake <= P  <=>  m <= (100 (stake + P + 1) - 1) / stake.
            let m = (100 * (stake.0 as i128 + max_profit.0 as i128 + 1) - 1) / stake.0 as i128;
            m.min(MAX_CRASH_POINT as i128) as u64
        }
    };
    if target < MIN_TARGET {
        return Err(limit);
    }
    Ok(target)
}

fn place_bet(s: &State, b: &PlaceCrashBet, now: Timestamp, out: &mut Vec<Event>) -> Result<CrashReply, Reject> {
    // Idempotency first: a retry after bets closed must still get its answer.
    if let Some(bet) = s.crash().bet_by_order(b.user, &b.order_no) {
        return replay(s, bet, b);
    }
    if !b.stake.is_positive() {
        return Err(Reject::InvalidAmount);
    }
    let ch_no = channel_no(s, &b.channel)?;
    let ch = s.crash().channel(ch_no);
    let term = ch.current.ok_or(CrashReject::BettingClosed)?;
    let t = s.crash().term(term);
    if t.status != TermStatus::PreStart || now >= t.starting_at {
        return Err(CrashReject::BettingClosed.into());
    }
    let (slot, limits) = s.crash().limits(ch_no, &b.currency).ok_or(Reject::CurrencyNotAccepted)?;
    let cur = s.currency_by_code(&b.currency).ok_or(Reject::UnknownCurrency)?;
    if b.stake < limits.min_stake {
        return Err(Reject::StakeTooLow { min: limits.min_stake });
    }
    if b.stake > limits.max_stake {
        return Err(Reject::StakeTooHigh { max: limits.max_stake });
    }
    let target = target_of(b.stake, b.auto_cashout, limits.max_profit_per_bet)?;
    let account = existing_account(s, b.user, cur)?;
    check_stake(s, account, b.stake, now)?;
    check_open_bet(s, account, b.stake, payout(b.stake, target))?;
    let bet = CrashBetNo(s.crash().bets().len() as u32);
    push(
        out,
        CrashEvent::BetPlaced(CrashBetPlaced {
            bet,
            account,
            user: b.user,
            term,
            order_no: b.order_no,
            stake: b.stake,
            slot: slot as u16,
            requested: b.auto_cashout,
            target,
            at: now,
        }),
    );
    Ok(CrashReply::Bet { bet, state: CrashBetState::Open, replayed: false })
}

fn replay(s: &State, bet: CrashBetNo, b: &PlaceCrashBet) -> Result<CrashReply, Reject> {
    let first = s.crash().bet(bet);
    let t = s.crash().term(first.term);
    let ch = s.crash().channel(t.channel);
    let same = ch.id == b.channel
        && ch.config.limits[first.slot as usize].currency == b.currency
        && first.stake == b.stake
        && first.requested == b.auto_cashout;
    if same {
        Ok(CrashReply::Bet { bet, state: first.state, replayed: true })
    } else {
        Err(Reject::IdempotencyConflict)
    }
}

fn find_bet<'s>(s: &'s State, user: UserId, order_no: &ExtId) -> Result<(CrashBetNo, &'s CrashBet), Reject> {
    let bet = s.crash().bet_by_order(user, order_no).ok_or(Reject::BetNotFound)?;
    Ok((bet, s.crash().bet(bet)))
}

fn cancel_bet(
    s: &State,
    user: UserId,
    order_no: &ExtId,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<CrashReply, Reject> {
    let (bet, b) = find_bet(s, user, order_no)?;
    match b.state {
        CrashBetState::Open => {}
        CrashBetState::Cancelled => return Ok(CrashReply::Bet { bet, state: b.state, replayed: true }),
        _ => return Err(CrashReject::BetNotOpen.into()),
    }
    let t = s.crash().term(b.term);
    if t.status != TermStatus::PreStart || now >= t.starting_at {
        return Err(CrashReject::BettingClosed.into());
    }
    push(out, CrashEvent::BetReturned { bet, account: b.account, stake: b.stake, cancelled: true, at: now });
    Ok(CrashReply::Bet { bet, state: CrashBetState::Cancelled, replayed: false })
}

/// A cashout at the multiplier of the intake time `now`; if the bet already left the flight
/// (its target or the cap came first), it is paid where it left. At or past the crash time
/// (the first millisecond the multiplier reaches the crash point): too late, whatever the
/// client saw, so a manual cashout always wins below the crash point and the answer does not
/// depend on when the crash command runs.
fn cashout(
    s: &State,
    user: UserId,
    order_no: &ExtId,
    now: Timestamp,
    out: &mut Vec<Event>,
) -> Result<CrashReply, Reject> {
    let (bet, b) = find_bet(s, user, order_no)?;
    match b.state {
        CrashBetState::Open => {}
        CrashBetState::CashedOut { .. } => return Ok(CrashReply::Bet { bet, state: b.state, replayed: true }),
        CrashBetState::Lost => return Err(CrashReject::TooLate.into()),
        CrashBetState::Cancelled | CrashBetState::Refunded => return Err(CrashReject::BetNotOpen.into()),
    }
    let t = s.crash().term(b.term);
    let f = match (t.status, &t.flight) {
        (TermStatus::Flying, Some(f)) => f,
        _ => return Err(CrashReject::NotFlying.into()),
    };
    let elapsed = now.0.saturating_sub(f.at.0);
    // From the moment the multiplier reaches the crash point the term has crashed, whether or
    // not the crash command has run yet: only a bet that left before (its target, the cap)
    // is paid, as the settlement would pay it.
    let crashed = elapsed >= f.crash_after_ms;
    let m = if crashed { f.crash_point } else { curve::multiplier_at(elapsed) };
    let (multiplier, kind, at) = match left_at(b, f, m) {
        Some((multiplier, kind)) => (multiplier, kind, reached_at(f, multiplier, kind)),
        None if crashed => return Err(CrashReject::TooLate.into()),
        None => (m, CashoutKind::Manual, now),
    };
    let paid = payout(b.stake, multiplier);
    push(out, CrashEvent::CashedOut { bet, account: b.account, stake: b.stake, multiplier, payout: paid, kind, at });
    Ok(CrashReply::Bet { bet, state: CrashBetState::CashedOut { multiplier, payout: paid, kind, at }, replayed: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_answers_as_the_curve_does_even_when_slots_collide() {
        let flight = Flight {
            at: Timestamp(1_000),
            game: 1,
            hash: [0; 32],
            crash_point: 1_000_000,
            crash_after_ms: curve::elapsed_to_reach(1_000_000),
            caps: vec![None],
        };
        let mut memo = ReachedAt::new(&flight);
        // 101 and 165 share a slot, so do 150 and 214; a cap at m is reached at m + 1.
        for m in [101, 165, 101, 150, 214, 150, 149, 149, 200, 264, 100_000, 101] {
            for kind in [CashoutKind::Auto, CashoutKind::Cap, CashoutKind::Manual] {
                assert_eq!(memo.get(m, kind), reached_at(&flight, m, kind), "{m} {kind:?}");
            }
        }
    }
}
