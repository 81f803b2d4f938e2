//! The money bounds that make `evolve` total.
//!
//! `evolve` cannot refuse an event, so every sum it computes must fit an `i64` whatever the
//! history. `decide` checks, before it pushes anything, that the balances a command leaves
//! stay within [`MAX_LEDGER`] (2^61, a quarter of `i64::MAX`), counting what may still come
//! back without `decide` seeing it again:
//!
//! - a player: `available + exposure <= cap` and `available >= -MAX_LEDGER`, where exposure
//!   is the most the open bets can return plus what is left in the player's open red packets
//!   (settlements and packet refunds are then sums that were checked when the bet or packet
//!   was accepted);
//! - a currency's house: `house - exposure >= -MAX_LEDGER` (every open bet could win) and
//!   `house + stakes <= MAX_LEDGER` (every open bet could lose);
//! - `external` and each transit account: magnitude at most `MAX_LEDGER`.
//!
//! Each check reads one account and one currency: nothing here allocates or loops.
//! Intermediate values in `evolve` (a balance plus one amount before the next line takes it
//! back) stay below `2 × MAX_LEDGER + MAX_BALANCE`, far from `i64::MAX`.

use crate::money::Money;
use crate::reject::Reject;
use crate::state::{Account, CurrencyState};

/// Most any ledger balance may hold, in magnitude, with what may still come back to it.
pub const MAX_LEDGER: Money = Money(1 << 61);

const LEDGER: i128 = MAX_LEDGER.0 as i128;

/// A player account (`None`: opened by this command, empty) after its `available` moves by
/// `d_available` and its exposure by `d_exposure`: at most `cap` with everything that may
/// still come back, and no deeper in debt than the bound.
#[inline]
pub(super) fn player(a: Option<&Account>, d_available: i128, d_exposure: i128, cap: Money) -> Result<(), Reject> {
    let (available, exposure) = a.map_or((0, 0), |a| (a.available.0 as i128, a.exposure.0 as i128));
    let available = available + d_available;
    let top = available + exposure + d_exposure;
    if top > cap.0 as i128 || available < -LEDGER {
        return Err(Reject::BalanceOverflow);
    }
    Ok(())
}

/// A currency's house after it moves by `d_house` and its open bets' exposure and stakes by
/// `d_exposure` and `d_stakes`: within the bound whether every open bet wins or loses.
#[inline]
pub(super) fn house(c: &CurrencyState, d_house: i128, d_exposure: i128, d_stakes: i128) -> Result<(), Reject> {
    let house = c.house.0 as i128 + d_house;
    let exposure = c.exposure.0 as i128 + d_exposure;
    let stakes = c.stakes.0 as i128 + d_stakes;
    if house - exposure < -LEDGER || house + stakes > LEDGER {
        return Err(Reject::BalanceOverflow);
    }
    Ok(())
}

/// A system balance (`external`, a transit account) after it moves by `delta`.
#[inline]
pub(super) fn system(balance: Money, delta: i128) -> Result<(), Reject> {
    if (balance.0 as i128 + delta).abs() > LEDGER {
        return Err(Reject::BalanceOverflow);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intermediate_sums_in_evolve_fit_an_i64() {
        // The worst `evolve` computes: a balance at the bound plus its exposure at the bound
        // plus one more amount of at most the bound.
        assert!((3 * LEDGER) < i64::MAX as i128);
    }
}
