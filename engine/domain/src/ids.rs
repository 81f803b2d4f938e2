//! Identifiers and time.
//!
//! Callers' ids (order numbers, round ids, transfer ids, packet ids) are short strings kept
//! inline ([`ExtId`]) so that accepting a bet allocates nothing. Numbers the engine assigns
//! (`AccountNo`, `RoundNo`, `BetId`, `PacketNo`) are dense, assigned in creation order, never
//! reused, and announced in the event that creates the thing: consumers of the event stream may
//! rely on them like database sequence ids.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Milliseconds since the Unix epoch, stamped once at intake by the runtime. The domain never
/// reads a clock: `now` is always an argument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const MS_PER_DAY: u64 = 86_400_000;

    pub fn millis(self) -> u64 {
        self.0
    }

    /// The UTC day number, used to reset daily player limits.
    pub fn day(self) -> u32 {
        (self.0 / Self::MS_PER_DAY) as u32
    }

    pub fn saturating_add_ms(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }
}

/// A player, as the operator identifies them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub u64);

macro_rules! dense_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            #[inline]
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

dense_id!(
    /// A configured currency, in the order currencies were defined.
    CurrencyId
);
dense_id!(
    /// A player's account in one currency (seed 002's `account_no`).
    AccountNo
);
dense_id!(
    /// A configured game.
    GameNo
);
dense_id!(
    /// A round, in the order rounds were started.
    RoundNo
);
dense_id!(
    /// A bet (round bet or bookmaker bet), in the order bets were accepted.
    BetId
);
dense_id!(
    /// A red packet, in the order packets were sent.
    PacketNo
);

/// A selection of a game: its index in the game's selection list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SelectionId(pub u16);

/// Why an inline string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id is empty")]
    Empty,
    #[error("id is {len} bytes long, at most {cap} are allowed")]
    TooLong { len: usize, cap: usize },
    #[error("id must be printable ASCII")]
    NotPrintableAscii,
}

/// A printable-ASCII string of at most `CAP` bytes, stored inline (no heap), compared and
/// hashed by its bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct InlineStr<const CAP: usize> {
    len: u8,
    bytes: [u8; CAP],
}

/// A caller's id: order number, round id, transfer id, packet id, bookmaker bet id. 40 bytes
/// hold a UUID with dashes (36) and typical operator order numbers.
pub type ExtId = InlineStr<39>;

/// A short code: currency (`CNY`), platform (`ag`, `bbin`).
pub type Code = InlineStr<15>;

impl<const CAP: usize> InlineStr<CAP> {
    pub fn new(s: &str) -> Result<Self, IdError> {
        const { assert!(CAP < 256, "length is stored in a u8") };
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(IdError::Empty);
        }
        if b.len() > CAP {
            return Err(IdError::TooLong { len: b.len(), cap: CAP });
        }
        if !b.iter().all(|c| c.is_ascii_graphic()) {
            return Err(IdError::NotPrintableAscii);
        }
        let mut bytes = [0u8; CAP];
        bytes[..b.len()].copy_from_slice(b);
        Ok(Self { len: b.len() as u8, bytes })
    }

    /// Formats `prefix` followed by a number, without allocating: used by benchmarks and
    /// simulations to make many distinct ids cheaply.
    pub fn numbered(prefix: &str, n: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = n;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        let total = prefix.len() + digits.len() - i;
        assert!(total <= CAP, "numbered id longer than {CAP} bytes");
        debug_assert!(prefix.bytes().all(|c| c.is_ascii_graphic()));
        let mut bytes = [0u8; CAP];
        bytes[..prefix.len()].copy_from_slice(prefix.as_bytes());
        bytes[prefix.len()..total].copy_from_slice(&digits[i..]);
        Self { len: total as u8, bytes }
    }

    pub fn as_str(&self) -> &str {
        let bytes = &self.bytes[..self.len as usize];
        // Every constructor admits printable ASCII only (`new`, `numbered`, and
        // deserialization through `new`); std's check takes its ASCII fast path (a few ns
        // for at most 40 bytes), and the domain stays free of `unsafe`.
        std::str::from_utf8(bytes).expect("ids hold printable ASCII only")
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// A 64-bit hash of the id, in one pass over the used bytes, eight at a time. Equal ids
    /// hash equal because unused bytes are always zero.
    #[inline]
    pub fn hash64(&self) -> u64 {
        let used = self.len as usize;
        let mut h = (self.len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut i = 0;
        while i < used {
            let mut word = [0u8; 8];
            let n = (CAP - i).min(8);
            word[..n].copy_from_slice(&self.bytes[i..i + n]);
            h = (h.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            i += 8;
        }
        croupier_collections::mix64(h)
    }
}

impl<const CAP: usize> std::hash::Hash for InlineStr<CAP> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash64());
    }
}

impl<const CAP: usize> fmt::Debug for InlineStr<CAP> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl<const CAP: usize> fmt::Display for InlineStr<CAP> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const CAP: usize> std::str::FromStr for InlineStr<CAP> {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::new(s)
    }
}

impl<const CAP: usize> Serialize for InlineStr<CAP> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de, const CAP: usize> Deserialize<'de> for InlineStr<CAP> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const C: usize>;
        impl<const C: usize> Visitor<'_> for V<C> {
            type Value = InlineStr<C>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a printable ASCII string of at most {C} bytes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                InlineStr::new(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V::<CAP>)
    }
}

/// The hash a player is found by in a packet's grab index.
#[inline]
pub fn hash_user(user: UserId) -> u64 {
    croupier_collections::mix64(user.0)
}

/// The hash a caller's id (order number, transfer id, bookmaker bet or transaction id, red
/// packet id) is found by: callers' ids are per player, so the player is part of the key.
#[inline]
pub fn hash_scoped(user: UserId, id: &ExtId) -> u64 {
    croupier_collections::mix64(id.hash64() ^ user.0.rotate_left(29))
}

/// The hash an account is found by: its player and currency.
#[inline]
pub fn hash_account_key(user: UserId, currency: CurrencyId) -> u64 {
    croupier_collections::mix64(user.0 ^ (currency.0 as u64).rotate_left(48))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_ids_check_their_input() {
        assert_eq!(ExtId::new("abc").unwrap().as_str(), "abc");
        assert_eq!(ExtId::new(""), Err(IdError::Empty));
        assert!(matches!(ExtId::new(&"x".repeat(40)), Err(IdError::TooLong { .. })));
        assert_eq!(ExtId::new("a b"), Err(IdError::NotPrintableAscii));
        assert_eq!(ExtId::new("订单"), Err(IdError::NotPrintableAscii));
        let uuid = "123e4567-e89b-12d3-a456-426614174000";
        assert_eq!(ExtId::new(uuid).unwrap().as_str(), uuid);
    }

    #[test]
    fn numbered_ids_match_formatting() {
        for n in [0u64, 7, 10, 12345, u64::MAX] {
            assert_eq!(ExtId::numbered("order-", n).as_str(), format!("order-{n}"));
        }
    }

    #[test]
    fn ids_round_trip_through_bincode_and_json() {
        let id = ExtId::new("round-42").unwrap();
        let bytes = bincode::serialize(&id).unwrap();
        assert_eq!(bincode::deserialize::<ExtId>(&bytes).unwrap(), id);
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"round-42\"");
    }

    #[test]
    fn day_numbers_split_at_utc_midnight() {
        assert_eq!(Timestamp(Timestamp::MS_PER_DAY - 1).day(), 0);
        assert_eq!(Timestamp(Timestamp::MS_PER_DAY).day(), 1);
    }
}
