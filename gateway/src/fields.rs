//! Request fields that callers send either as JSON strings or as JSON numbers, read from
//! their JSON text: seed 004's bookmakers send `"amount": 100`, `"payout": 200.5` and
//! `"partner_player_id": "67890"`.
//!
//! A number is never converted to a float on the way: [`Scalar`] keeps the number's text
//! exactly as written (through serde_json's `RawValue`), so `200.5` is the decimal string
//! `"200.5"` and goes through [`crate::amount::parse`] like any other amount; `1e2`, `-1` and
//! `0.1000000000000000000001` are refused there (422 `INVALID_AMOUNT`), never rounded.
//!
//! User ids ([`user_id`]) are digits up to [`MAX_USER_ID`] = `i64::MAX`: the SQL projection
//! stores them in signed 64-bit columns, so a larger one is refused here, at the edge (422
//! `INVALID_ID`), rather than stored as another number.

use crate::error::{quote, ApiError};
use croupier_domain::UserId;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// The largest user id accepted: the largest value of a SQL `BIGINT`.
pub const MAX_USER_ID: u64 = i64::MAX as u64;

/// A JSON string's content, or a JSON number's text exactly as written. Anything else
/// (`null` where not optional, `true`, an object, an array) is a type error (400
/// `INVALID_REQUEST`); the text itself is checked by whoever reads the field, with its own
/// 422 code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

impl Scalar {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Boxed, not borrowed: request types are `DeserializeOwned`. Bodies are at most
        // `max_body_bytes`, so the copy is bounded.
        let raw = Box::<RawValue>::deserialize(d)?;
        scalar_text(raw.get()).map(Scalar).ok_or_else(|| D::Error::custom("expected a string or a number"))
    }
}

/// The text of a raw JSON value that is a string (its content, unescaped) or a number (its
/// token, which serde_json has already checked is a valid JSON number).
fn scalar_text(raw: &str) -> Option<String> {
    match raw.as_bytes().first()? {
        b'"' => serde_json::from_str::<String>(raw).ok(),
        b'-' | b'0'..=b'9' => Some(raw.to_owned()),
        _ => None,
    }
}

/// A user id: ASCII digits (a JSON number, or a string of digits), at most [`MAX_USER_ID`].
/// Anything else is 422 `INVALID_ID` naming the field.
pub fn user_id(field: &str, text: &str) -> Result<UserId, ApiError> {
    let invalid = |why: &str| ApiError::unprocessable("INVALID_ID", format!("{field} {}: {why}", quote(text)));
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("a user id is an unsigned integer (digits only)"));
    }
    // Digits only, so the only failure left is size; checked, never wrapped or cast.
    match text.parse::<u64>() {
        Ok(n) if n <= MAX_USER_ID => Ok(UserId(n)),
        _ => Err(invalid("a user id is at most 9223372036854775807")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        v: Scalar,
        #[serde(default)]
        o: Option<Scalar>,
    }

    fn text(json: &str) -> Result<String, String> {
        serde_json::from_str::<Body>(json).map(|b| b.v.0).map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_keep_their_text_and_strings_their_content() {
        assert_eq!(text(r#"{"v": 100}"#).unwrap(), "100");
        assert_eq!(text(r#"{"v": 200.5}"#).unwrap(), "200.5");
        assert_eq!(text(r#"{"v":0.1000000000000000000001 }"#).unwrap(), "0.1000000000000000000001");
        assert_eq!(text(r#"{"v": 18446744073709551621}"#).unwrap(), "18446744073709551621");
        assert_eq!(text(r#"{"v": 1e2}"#).unwrap(), "1e2");
        assert_eq!(text(r#"{"v": "100.00"}"#).unwrap(), "100.00");
        assert_eq!(text(r#"{"v": "a\"b"}"#).unwrap(), "a\"b");
        for bad in [r#"{"v": true}"#, r#"{"v": null}"#, r#"{"v": {}}"#, r#"{"v": [1]}"#, r#"{"v": 1, "w": 2}"#] {
            assert!(text(bad).is_err(), "{bad}");
        }
        let b: Body = serde_json::from_str(r#"{"v": 1, "o": null}"#).unwrap();
        assert_eq!(b.o, None);
    }

    #[test]
    fn amounts_given_as_numbers_read_exactly_like_strings() {
        let amount = |json: &str| {
            let b: Body = serde_json::from_str(json).unwrap();
            crate::amount::parse(b.v.as_str(), 2).map_err(|e| e.code)
        };
        assert_eq!(amount(r#"{"v": 100}"#), Ok(croupier_domain::Money(10_000)));
        assert_eq!(amount(r#"{"v": 200.5}"#), Ok(croupier_domain::Money(20_050)));
        assert_eq!(amount(r#"{"v": 100}"#), amount(r#"{"v": "100.00"}"#));
        // What a float would round is refused instead.
        for bad in [r#"{"v": 0.1000000000000000000001}"#, r#"{"v": 1e2}"#, r#"{"v": -1}"#, r#"{"v": 0}"#] {
            assert_eq!(amount(bad), Err("INVALID_AMOUNT"), "{bad}");
        }
    }

    #[test]
    fn user_ids_are_digits_up_to_i64_max() {
        assert_eq!(user_id("user_id", "67890").unwrap(), UserId(67_890));
        assert_eq!(user_id("user_id", "9223372036854775807").unwrap(), UserId(i64::MAX as u64));
        // 2^63 + 5, and the u64 overflow: refused, not wrapped to a negative BIGINT.
        for bad in ["9223372036854775813", "18446744073709551615", "18446744073709551616", "", "-1", "1.5", "12a", " 1"]
        {
            let e = user_id("partner_player_id", bad).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (422, "INVALID_ID"), "{bad}");
            assert!(e.message.starts_with("partner_player_id"), "{}", e.message);
        }
    }
}
