//! Decimal strings ("10.50") ↔ [`Money`] minor units, at the API's edge. Never a float.

use crate::error::{quote, ApiError};
use croupier_domain::{Money, MAX_BALANCE};
use rust_decimal::Decimal;
use std::str::FromStr;

/// Parses `s` as an amount of a currency with `exponent` decimal places. Refuses (422
/// `INVALID_AMOUNT`) anything that is not a plain decimal, has more decimal places than the
/// currency, is not positive, or exceeds the largest balance.
pub fn parse(s: &str, exponent: u8) -> Result<Money, ApiError> {
    let bad = |why: &str| ApiError::unprocessable("INVALID_AMOUNT", format!("amount {}: {why}", quote(s)));
    if s.is_empty() || s.len() > 40 || !s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad("must be a decimal string such as \"10.50\""));
    }
    let d = Decimal::from_str(s).map_err(|_| bad("not a decimal number"))?;
    let m = Money::from_decimal(d, exponent).ok_or_else(|| bad(&format!("at most {exponent} decimal places")))?;
    if !m.is_positive() {
        return Err(bad("must be positive"));
    }
    if m > MAX_BALANCE {
        return Err(bad("too large"));
    }
    Ok(m)
}

/// Formats minor units as a decimal string with exactly `exponent` decimal places.
pub fn format(m: Money, exponent: u8) -> String {
    let d = m.to_decimal(exponent);
    format!("{d:.prec$}", prec = exponent as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_round_trip_and_bad_ones_are_refused() {
        assert_eq!(parse("10.50", 2).unwrap(), Money(1050));
        assert_eq!(parse("10", 2).unwrap(), Money(1000));
        assert_eq!(parse("0.01", 2).unwrap(), Money(1));
        assert_eq!(format(Money(1050), 2), "10.50");
        assert_eq!(format(Money(-5), 2), "-0.05");
        assert_eq!(format(Money(7), 0), "7");
        for bad in ["", "0", "0.00", "1.001", "-1", "1e5", "abc", "1.2.3", " 1", "99999999999999999999999999"] {
            let e = parse(bad, 2).unwrap_err();
            assert_eq!(e.code, "INVALID_AMOUNT", "{bad}");
            assert_eq!(e.status.as_u16(), 422);
        }
    }
}
