//! [`decide`]: checks a command against the state and says what happened, as events.
//!
//! One module per area of the domain; each function here reads the state and pushes events,
//! never changes the state. On a reject nothing is pushed (the dispatcher truncates `out`).

mod accounts;
mod bets;
mod crash;
pub use crash::CrashReply;
mod bounds;
mod instant;
mod partner;
mod red_packets;
mod transfers;

pub use bounds::MAX_LEDGER;
pub use instant::{InstantReply, Rotated};
pub use red_packets::share_amount;
mod rounds;

use crate::command::Command;
use crate::event::Event;
use crate::ids::{AccountNo, BetId, Code, CurrencyId, PacketNo, RoundNo, Timestamp, UserId};
use crate::money::Money;
use crate::reject::Reject;
use crate::state::{BetState, RoundStatus, State};

/// Most a player may hold, with what open bets and packets may return, after money that
/// comes from outside the betting (a deposit, a grabbed share), in minor units (10^17). Far
/// below [`MAX_LEDGER`], the hard bound every balance keeps (`decide::bounds`).
pub const MAX_BALANCE: Money = Money(100_000_000_000_000_000);

// Every command's answer and every event is moved through the rings, the batch buffers and
// the completion slots by value: the largest variant sets the size of all of them. A 120-byte
// seed rotation answer once made every bet's answer that large; box rare, large payloads.
const _: () = assert!(std::mem::size_of::<Reply>() <= 40, "box the large reply variant");
const _: () = assert!(std::mem::size_of::<Event>() <= 128, "box the large event variant");

/// The answer to an accepted command. `replayed` marks a repeat of an idempotent command: the
/// first answer again, with no events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Done,
    Transfer {
        account: AccountNo,
        replayed: bool,
    },
    RoundOpened {
        round: RoundNo,
        bet_start: Timestamp,
        bet_stop: Timestamp,
        replayed: bool,
    },
    RoundStatus {
        round: RoundNo,
        status: RoundStatus,
        replayed: bool,
    },
    /// A draw, cancel or corrected draw, with how many bets changed.
    RoundSettled {
        round: RoundNo,
        bets: u32,
        replayed: bool,
    },
    Bet {
        bet: BetId,
        state: BetState,
        replayed: bool,
    },
    /// A transfer from another shard: applied now, or already applied (`replayed`), or
    /// `deferred` because one before it has not arrived (it will be re-sent).
    TransferReceived {
        applied: bool,
        deferred: bool,
    },
    /// `check_bet`: the stake would be accepted.
    BetApproved,
    PacketSent {
        packet: PacketNo,
        replayed: bool,
    },
    Grabbed {
        packet: PacketNo,
        share: u32,
        amount: Money,
        replayed: bool,
    },
    PacketExpired {
        packet: PacketNo,
        refund: Money,
        replayed: bool,
    },
    /// The crash game.
    Crash(CrashReply),
    /// Instant games.
    Instant(InstantReply),
}

/// Decides `cmd` at time `now`, appending its events to `out`.
///
/// Deviation from the design's `-> Result<Vec<Event>, Reject>`: the caller owns the event
/// buffer, so accepting a bet allocates nothing (the runtime clears and reuses one buffer).
/// On `Err`, `out` is as it was.
pub fn decide(state: &State, cmd: &Command, now: Timestamp, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    let mark = out.len();
    let result = dispatch(state, cmd, now, out);
    if result.is_err() {
        out.truncate(mark);
    }
    result
}

fn dispatch(s: &State, cmd: &Command, now: Timestamp, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    match cmd {
        Command::PlaceBet(b) => bets::place_bet(s, b, now, out),
        Command::GrabRedPacket { packet, sender, user } => red_packets::grab(s, packet, *sender, *user, now, out),
        Command::Configure(settings) => accounts::configure(s, settings, out),
        Command::DefineCurrency { code, exponent } => accounts::define_currency(s, *code, *exponent, out),
        Command::DefineGame(def) => rounds::define_game(s, def, out),
        Command::Deposit { transfer, user, currency, amount } => {
            accounts::deposit(s, *transfer, *user, currency, *amount, out)
        }
        Command::Withdraw { transfer, user, currency, amount } => {
            accounts::withdraw(s, *transfer, *user, currency, *amount, out)
        }
        Command::SetPlayerLimits { user, currency, limits } => accounts::set_limits(s, *user, currency, *limits, out),
        Command::SelfExclude { user, until } => accounts::self_exclude(s, *user, *until, out),
        Command::GameStart { round, game, window_ms } => rounds::game_start(s, round, game, *window_ms, now, out),
        Command::GameStop { round } => rounds::game_stop(s, round, now, out),
        Command::NewCard { round } => rounds::new_card(s, round, now, out),
        Command::GameDraw { round, result } => rounds::game_draw(s, round, result.as_ref(), now, out),
        Command::GameEnd { round } => rounds::game_end(s, round, now, out),
        Command::CancelRound { round } => rounds::cancel(s, round, now, out),
        Command::ResettleRound { round, result } => rounds::resettle(s, round, result, now, out),
        Command::CheckBet { user, currency, amount } => partner::check_bet(s, *user, currency, *amount, now),
        Command::BlockFunds { bet, partner, user, currency, amount } => {
            partner::block_funds(s, *bet, *partner, *user, currency, *amount, now, out)
        }
        Command::UpdateBetStatus { bet, user, status } => partner::update_status(s, bet, *user, *status, now, out),
        Command::Refund { bet, user } => partner::refund(s, *bet, *user, now, out),
        Command::RecalculateBet { bet, user, transaction, status } => {
            partner::recalculate(s, bet, *user, *transaction, *status, now, out)
        }
        Command::SendRedPacket(p) => red_packets::send(s, p, now, out),
        Command::ExpireRedPacket { packet, sender } => red_packets::expire(s, packet, *sender, now, out),
        Command::SetTopology(t) => transfers::set_topology(s, t, out),
        Command::ReceiveTransfer(t) => transfers::receive(s, t, out),
        Command::AckTransfers { peer, upto } => transfers::ack(s, *peer, *upto, out),
        Command::Crash(c) => crash::decide(s, c, now, out),
        Command::Instant(c) => instant::decide(s, c, now, out),
    }
}

// ---- checks shared by several areas ----

fn currency(s: &State, code: &Code) -> Result<CurrencyId, Reject> {
    s.currency_by_code(code).ok_or(Reject::UnknownCurrency)
}

fn existing_account(s: &State, user: UserId, cur: CurrencyId) -> Result<AccountNo, Reject> {
    s.account_of(user, cur).ok_or(Reject::AccountNotFound)
}

fn positive(amount: Money) -> Result<(), Reject> {
    if amount.is_positive() && amount <= MAX_BALANCE {
        Ok(())
    } else {
        Err(Reject::InvalidAmount)
    }
}

/// Everything that stands between a player and a new stake of `stake`: exclusion, debt,
/// daily limits, funds. Shared by round bets and bookmaker holds so the rules cannot drift.
#[inline]
fn check_stake(s: &State, account: AccountNo, stake: Money, now: Timestamp) -> Result<(), Reject> {
    let a = s.account(account);
    if let Some(until) = s.excluded_until(a.user) {
        if now < until {
            return Err(Reject::SelfExcluded { until });
        }
    }
    if a.in_debt {
        return Err(Reject::AccountInDebt);
    }
    let (staked, returned) = a.today(now.day());
    // Saturating: the day's counters are limits, not balances, and may be at their bounds.
    if let Some(limit) = a.limits.daily_stake {
        let remaining = Money(limit.0.saturating_sub(staked.0));
        if stake > remaining {
            return Err(Reject::DailyStakeLimit { remaining: remaining.max(Money::ZERO) });
        }
    }
    if let Some(limit) = a.limits.daily_loss {
        // Open bets count as lost: the limit must hold whatever happens to them.
        let remaining = Money(limit.0.saturating_sub(staked.0.saturating_sub(returned.0)));
        if stake > remaining {
            return Err(Reject::DailyLossLimit { remaining: remaining.max(Money::ZERO) });
        }
    }
    if a.available < stake {
        return Err(Reject::InsufficientFunds { available: a.available });
    }
    Ok(())
}

/// Room for a new open bet of `stake` that may return up to `max_return`: the player's
/// balance if it wins, the house whether it wins or loses (see [`bounds`]).
#[inline]
fn check_open_bet(s: &State, account: AccountNo, stake: Money, max_return: Money) -> Result<(), Reject> {
    let a = s.account(account);
    bounds::player(Some(a), -(stake.0 as i128), max_return.0 as i128, MAX_LEDGER)?;
    bounds::house(&s.currencies()[a.currency.index()], 0, max_return.0 as i128, stake.0 as i128)
}

/// The account `user` will be credited `amount` in, after checking the balance, with what
/// may still come back to it, stays within [`MAX_BALANCE`]. A user with no account in this currency gets one in the same command (its
/// number is the next dense number; `evolve` asserts it); only then is anything pushed.
fn account_to_credit(
    s: &State,
    user: UserId,
    cur: CurrencyId,
    amount: Money,
    out: &mut Vec<Event>,
) -> Result<AccountNo, Reject> {
    let existing = s.account_of(user, cur);
    bounds::player(existing.map(|a| s.account(a)), amount.0 as i128, 0, MAX_BALANCE)?;
    Ok(existing.unwrap_or_else(|| {
        let account = AccountNo(s.accounts().len() as u32);
        out.push(Event::AccountOpened { account, user, currency: cur });
        account
    }))
}
