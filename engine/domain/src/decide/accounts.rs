//! Configuration, deposits, withdrawals and responsible-gaming limits.

use super::{account_to_credit, bounds, currency, existing_account, positive, Reply};
use crate::command::Settings;
use crate::event::Event;
use crate::ids::{Code, CurrencyId, ExtId, Timestamp, UserId};
use crate::money::Money;
use crate::reject::Reject;
use crate::state::{PlayerLimits, State, TransferKind};

/// Largest currency exponent accepted: 10^18 still fits an i64 minor unit.
const MAX_EXPONENT: u8 = 18;

pub(super) fn configure(_s: &State, settings: &Settings, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    if settings.max_packet_shares == 0 {
        return Err(Reject::InvalidSettings("max_packet_shares must be at least 1"));
    }
    if settings.default_packet_ttl_ms == 0 {
        return Err(Reject::InvalidSettings("default_packet_ttl_ms must be positive"));
    }
    out.push(Event::Configured(*settings));
    Ok(Reply::Done)
}

pub(super) fn define_currency(s: &State, code: Code, exponent: u8, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    if exponent > MAX_EXPONENT {
        return Err(Reject::InvalidSettings("currency exponent must be at most 18"));
    }
    if let Some(id) = s.currency_by_code(&code) {
        return if s.currencies()[id.index()].exponent == exponent {
            Ok(Reply::Done)
        } else {
            Err(Reject::CurrencyConflict)
        };
    }
    let currency = CurrencyId(s.currencies().len() as u32);
    out.push(Event::CurrencyDefined { currency, code, exponent });
    Ok(Reply::Done)
}

/// If `user` used `transfer` before: the first answer when the content matches, a conflict
/// otherwise. Transfer ids are per player: another player's transfer of that id is not found.
fn replay_transfer(
    s: &State,
    transfer: &ExtId,
    kind: TransferKind,
    user: UserId,
    cur: CurrencyId,
    amount: Money,
) -> Option<Result<Reply, Reject>> {
    let t = s.transfer(user, transfer)?;
    let a = s.account(t.account);
    Some(if t.kind == kind && a.user == user && a.currency == cur && t.amount == amount {
        Ok(Reply::Transfer { account: t.account, replayed: true })
    } else {
        Err(Reject::IdempotencyConflict)
    })
}

pub(super) fn deposit(
    s: &State,
    transfer: ExtId,
    user: UserId,
    code: &Code,
    amount: Money,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    positive(amount)?;
    let cur = currency(s, code)?;
    if let Some(r) = replay_transfer(s, &transfer, TransferKind::Deposit, user, cur, amount) {
        return r;
    }
    bounds::system(s.currencies()[cur.index()].external, -(amount.0 as i128))?;
    let account = account_to_credit(s, user, cur, amount, out)?;
    out.push(Event::Deposited { account, transfer, amount });
    Ok(Reply::Transfer { account, replayed: false })
}

pub(super) fn withdraw(
    s: &State,
    transfer: ExtId,
    user: UserId,
    code: &Code,
    amount: Money,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    positive(amount)?;
    let cur = currency(s, code)?;
    if let Some(r) = replay_transfer(s, &transfer, TransferKind::Withdrawal, user, cur, amount) {
        return r;
    }
    let account = existing_account(s, user, cur)?;
    let a = s.account(account);
    if a.in_debt {
        return Err(Reject::AccountInDebt);
    }
    if a.available < amount {
        return Err(Reject::InsufficientFunds { available: a.available });
    }
    bounds::system(s.currencies()[cur.index()].external, amount.0 as i128)?;
    out.push(Event::Withdrawn { account, transfer, amount });
    Ok(Reply::Transfer { account, replayed: false })
}

pub(super) fn set_limits(
    s: &State,
    user: UserId,
    code: &Code,
    limits: PlayerLimits,
    out: &mut Vec<Event>,
) -> Result<Reply, Reject> {
    let cur = currency(s, code)?;
    for limit in [limits.daily_stake, limits.daily_loss].into_iter().flatten() {
        if limit.is_negative() {
            return Err(Reject::InvalidAmount);
        }
    }
    let account = existing_account(s, user, cur)?;
    out.push(Event::LimitsSet { account, limits });
    Ok(Reply::Done)
}

pub(super) fn self_exclude(_s: &State, user: UserId, until: Timestamp, out: &mut Vec<Event>) -> Result<Reply, Reject> {
    out.push(Event::SelfExcluded { user, until });
    Ok(Reply::Done)
}
