//! Currencies, accounts, the cashier (deposits and withdrawals).

use super::credit;
use crate::ids::{AccountNo, Code, CurrencyId, ExtId, UserId};
use crate::money::Money;
use crate::state::{
    index_account, owner_of, Account, BetsHead, CurrencyState, PlayerLimits, State, TransferKind, TransferRecord,
    NO_BET, NO_ROUND,
};

pub(super) fn currency_defined(state: &mut State, currency: CurrencyId, code: Code, exponent: u8) {
    assert_eq!(currency.index(), state.currencies.len(), "currency ids are dense");
    state.currencies.push(CurrencyState {
        code,
        exponent,
        external: Money::ZERO,
        house: Money::ZERO,
        exposure: Money::ZERO,
        stakes: Money::ZERO,
    });
}

pub(super) fn account_opened(state: &mut State, account: AccountNo, user: UserId, currency: CurrencyId) {
    assert_eq!(account.index(), state.accounts.len(), "account numbers are dense");
    state.accounts.push(Account {
        user,
        currency,
        available: Money::ZERO,
        held: Money::ZERO,
        in_debt: false,
        limits: PlayerLimits::default(),
        day: 0,
        staked_today: Money::ZERO,
        returned_today: Money::ZERO,
        exposure: Money::ZERO,
        bets: BetsHead::default(),
    });
    let owner = owner_of(&state.idx, &state.accounts, state.currencies.len(), user, currency);
    state.accounts[account.index()].bets = BetsHead { owner: owner.unwrap_or(account.0), last: NO_BET };
    let a = &state.accounts[account.index()];
    index_account(&mut state.idx, &state.accounts, account.0, a);
    state.idx.round_stake.latest.push((NO_ROUND, Money::ZERO));
}

/// `external` → player.
pub(super) fn deposited(state: &mut State, account: AccountNo, transfer: ExtId, amount: Money) {
    let cur = credit(state, account, amount);
    state.currencies[cur.index()].external -= amount;
    record_transfer(state, transfer, TransferKind::Deposit, account, amount);
}

/// Player → `external`.
pub(super) fn withdrawn(state: &mut State, account: AccountNo, transfer: ExtId, amount: Money) {
    let cur = credit(state, account, Money(-amount.0));
    state.currencies[cur.index()].external += amount;
    record_transfer(state, transfer, TransferKind::Withdrawal, account, amount);
}

fn record_transfer(state: &mut State, id: ExtId, kind: TransferKind, account: AccountNo, amount: Money) {
    let user = state.accounts[account.index()].user;
    state.idx.transfer_by_id.insert((user, id), state.transfers.len() as u32);
    state.transfers.push(TransferRecord { id, kind, account, amount });
}
