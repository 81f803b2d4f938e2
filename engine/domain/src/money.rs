//! Money, odds and the one payout rule.
//!
//! Amounts are integers of a currency's minor unit. Decimals appear only at the edges
//! ([`Money::from_decimal`], [`Money::to_decimal`], [`Odds::from_decimal`]) so that no float
//! ever touches a balance.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in a currency's minor unit (cents, fen, kopecks). Signed: system accounts
/// (`external`, `house`) and resettled player accounts can be negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    pub const ZERO: Money = Money(0);

    #[inline]
    pub fn minor(self) -> i64 {
        self.0
    }

    #[inline]
    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    #[inline]
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    #[inline]
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    #[inline]
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// Converts a decimal amount such as `10.50` to minor units of a currency with `exponent`
    /// decimal places. Refuses (returns `None`) amounts with more decimal places than the
    /// currency has, rather than rounding someone's money away, and amounts beyond i64.
    pub fn from_decimal(amount: Decimal, exponent: u8) -> Option<Money> {
        let scaled = amount.checked_mul(Decimal::from(10i64.checked_pow(exponent as u32)?))?;
        if !scaled.fract().is_zero() {
            return None;
        }
        scaled.to_i64().map(Money)
    }

    /// The decimal value of this amount in a currency with `exponent` decimal places.
    pub fn to_decimal(self, exponent: u8) -> Decimal {
        Decimal::new(self.0, exponent as u32)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::ops::AddAssign for Money {
    fn add_assign(&mut self, rhs: Money) {
        // An overflow here would corrupt a balance: fail loudly rather than wrap.
        self.0 = self.0.checked_add(rhs.0).expect("money overflow");
    }
}

impl std::ops::SubAssign for Money {
    fn sub_assign(&mut self, rhs: Money) {
        self.0 = self.0.checked_sub(rhs.0).expect("money overflow");
    }
}

/// Decimal odds in fixed point with [`Odds::SCALE`] parts per unit (`1.95` is `19_500`).
/// Four decimal places cover every odds format operators quote; more are refused at the edge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Odds(pub u32);

impl Odds {
    pub const SCALE: u32 = 10_000;
    /// Odds of 1.0: the stake comes back and nothing more.
    pub const EVENS_STAKE_BACK: Odds = Odds(Self::SCALE);

    /// Exact conversion from decimal odds; `None` if below 1.0, above 100,000 or finer than
    /// four decimal places.
    pub fn from_decimal(odds: Decimal) -> Option<Odds> {
        if odds < Decimal::ONE || odds > Decimal::from(100_000) {
            return None;
        }
        let scaled = odds.checked_mul(Decimal::from(Self::SCALE))?;
        if !scaled.fract().is_zero() {
            return None;
        }
        scaled.to_u32().map(Odds)
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0 as i64, 4).normalize()
    }
}

/// The payout rule, written once: a won bet pays `floor(stake × odds)` in minor units.
/// Rounding down means the house never pays a fraction of a minor unit it does not have.
/// Returns `None` on overflow of i64 (refused at acceptance, so settlement never sees it).
#[inline]
pub fn payout(stake: Money, odds: Odds) -> Option<Money> {
    debug_assert!(stake.0 >= 0, "stakes are positive");
    // Almost every product fits a u64, and a u64 division by the constant scale compiles to
    // a multiply and a shift; the i128 path (a library division) is only for the rest.
    if let Some(product) = u64::try_from(stake.0).ok().and_then(|s| s.checked_mul(odds.0 as u64)) {
        return i64::try_from(product / Odds::SCALE as u64).ok().map(Money);
    }
    let wide = (stake.0 as i128) * (odds.0 as i128) / (Odds::SCALE as i128);
    i64::try_from(wide).ok().map(Money)
}

/// What the house stands to lose on a won bet beyond the stake it already holds.
#[inline]
pub fn liability(stake: Money, odds: Odds) -> Option<Money> {
    payout(stake, odds).and_then(|p| p.checked_sub(stake))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn decimal_amounts_convert_exactly_or_not_at_all() {
        assert_eq!(Money::from_decimal(dec("10.50"), 2), Some(Money(1050)));
        assert_eq!(Money::from_decimal(dec("10.5"), 2), Some(Money(1050)));
        assert_eq!(Money::from_decimal(dec("7"), 0), Some(Money(7)));
        assert_eq!(Money::from_decimal(dec("0.001"), 2), None);
        assert_eq!(Money::from_decimal(dec("-3.25"), 2), Some(Money(-325)));
        assert_eq!(Money::from_decimal(dec("99999999999999999999"), 2), None);
        assert_eq!(Money(1050).to_decimal(2).to_string(), "10.50");
    }

    #[test]
    fn odds_convert_exactly() {
        assert_eq!(Odds::from_decimal(dec("1.95")), Some(Odds(19_500)));
        assert_eq!(Odds::from_decimal(dec("2")), Some(Odds(20_000)));
        assert_eq!(Odds::from_decimal(dec("1.00001")), None);
        assert_eq!(Odds::from_decimal(dec("0.5")), None);
        assert_eq!(Odds(19_500).to_decimal().to_string(), "1.95");
    }

    #[test]
    fn payout_rounds_down_to_the_minor_unit() {
        assert_eq!(payout(Money(333), Odds(19_500)), Some(Money(649))); // 649.35
        assert_eq!(payout(Money(100), Odds(20_000)), Some(Money(200)));
        assert_eq!(payout(Money(1), Odds(19_999)), Some(Money(1))); // 1.9999
        assert_eq!(liability(Money(100), Odds(19_500)), Some(Money(95)));
        assert_eq!(payout(Money(i64::MAX), Odds(20_000)), None);
        // Both paths (a product within u64 and one beyond it) give floor(stake × odds).
        assert_eq!(payout(Money(i64::MAX), Odds(10_000)), Some(Money(i64::MAX)));
        assert_eq!(payout(Money(1 << 62), Odds(20_000)), None);
        assert_eq!(payout(Money(1 << 62), Odds(15_000)), Some(Money(3 << 61)));
        assert_eq!(
            payout(Money(1 << 40), Odds(u32::MAX)),
            Some(Money(((1u128 << 40) * u32::MAX as u128 / 10_000) as i64))
        );
    }
}
