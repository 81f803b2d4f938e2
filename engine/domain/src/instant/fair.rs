//! The provably fair stream every instant game draws from: Stake's published algorithm, so a
//! public Stake verifier reproduces every outcome from the same seeds.
//!
//! Bytes are `HMAC_SHA256(key = server seed text, message = "client_seed:nonce:round")` for
//! `round` = 0, 1, 2, … (the byte cursor divided by 32). Four bytes make one number in
//! [0, 1): `Σ byte_i / 256^(i+1)`, which is exactly the big-endian `u32` of the four bytes
//! over 2^32. We keep that `u32` ([`Unit`]) and never make a float: `floor(f × n)`, which is
//! all any game does with a number, is `(u × n) >> 32`, bit for bit what the verifiers'
//! double arithmetic gives (the product has at most 32 + 16 significant bits, exact in a
//! double).
//!
//! The server seed is 32 bytes drawn from the operating system's CSPRNG at the edge. Its
//! public form, and the HMAC key (as Stake keys with the seed string a player pastes), is
//! its 64 lowercase hex characters; its commitment is `sha256` of that text.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A server seed. Its `Debug` hides it: a seed in a log before it is revealed would let a
/// reader predict every bet made with it. So does every human-readable encoding (JSON: the
/// SQL `events` rows, the event stream, the API): there it is written as its hash, and only
/// the binary encoding of the journal and snapshots, which the engine needs to replay the
/// bets, holds the seed itself. A revealed seed is shown by the API from the state, on purpose.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ServerSeed(pub [u8; 32]);

impl Serialize for ServerSeed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&format!("sha256:{}", self.hash()))
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for ServerSeed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            return Err(serde::de::Error::custom("a server seed is never read from a human-readable encoding"));
        }
        <[u8; 32]>::deserialize(d).map(ServerSeed)
    }
}

impl fmt::Debug for ServerSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSeed(hidden)")
    }
}

impl ServerSeed {
    /// The seed's public text (64 lowercase hex characters): the HMAC key and what a player
    /// pastes into a verifier once it is revealed.
    pub fn text(&self) -> [u8; 64] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = HEX[(b >> 4) as usize];
            out[2 * i + 1] = HEX[(b & 15) as usize];
        }
        out
    }

    /// The text as a `String` (for reveals and the CLI).
    pub fn to_hex(&self) -> String {
        String::from_utf8(self.text().to_vec()).expect("hex is ASCII")
    }

    /// Parses 64 hex characters (either case).
    pub fn from_hex(s: &str) -> Option<ServerSeed> {
        let b = s.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(ServerSeed(out))
    }

    /// The commitment shown while the seed is in use: `sha256(text)`.
    pub fn hash(&self) -> SeedHash {
        SeedHash(Sha256::digest(self.text()).into())
    }
}

/// `sha256` of a server seed's text: what a player sees before the seed is revealed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeedHash(pub [u8; 32]);

impl fmt::Display for SeedHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SeedHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeedHash({self})")
    }
}

/// A number in [0, 1) as Stake makes it from four bytes: the value is `self.0 / 2^32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unit(pub u32);

impl Unit {
    /// `floor(f × n)`, exact: always below `n` (for `n > 0`).
    #[inline]
    pub fn scale(self, n: u32) -> u32 {
        ((self.0 as u64 * n as u64) >> 32) as u32
    }

    /// `f ≥ 1/2`.
    #[inline]
    pub fn at_least_half(self) -> bool {
        self.0 >= 1 << 31
    }
}

/// The byte stream of one bet: `(server seed, client seed, nonce)`, read from the start.
pub struct Stream<'a> {
    keyed: Hmac<Sha256>,
    client_seed: &'a [u8],
    nonce: u64,
    round: u64,
    block: [u8; 32],
    cursor: usize,
}

impl<'a> Stream<'a> {
    /// A stream keyed by any seed text (the CLI verifies Stake's own seeds too).
    pub fn new(server_seed_text: &[u8], client_seed: &'a [u8], nonce: u64) -> Stream<'a> {
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(server_seed_text).expect("HMAC takes a key of any length");
        Stream { keyed, client_seed, nonce, round: 0, block: [0; 32], cursor: 32 }
    }

    /// The stream of one of croupier's bets.
    pub fn of(seed: &ServerSeed, client_seed: &'a [u8], nonce: u64) -> Stream<'a> {
        Stream::new(&seed.text(), client_seed, nonce)
    }

    /// The next byte (Stake's `byteGenerator`).
    #[inline]
    pub fn next_byte(&mut self) -> u8 {
        if self.cursor == 32 {
            self.refill();
        }
        let b = self.block[self.cursor];
        self.cursor += 1;
        b
    }

    /// The next number (Stake's `generateFloats`, one at a time).
    #[inline]
    pub fn next_unit(&mut self) -> Unit {
        if self.cursor == 32 {
            self.refill();
        }
        // Four bytes never straddle a block: blocks are 32 bytes and we read by fours.
        debug_assert!(self.cursor.is_multiple_of(4));
        let b = &self.block[self.cursor..self.cursor + 4];
        self.cursor += 4;
        Unit(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Moves to the `n`-th number of the stream (from 0), as if `n` had been read: blackjack
    /// draws card `n` of a game without reading the ones before it again.
    pub fn seek_unit(&mut self, n: u64) {
        // Eight numbers per block of 32 bytes.
        self.round = n / 8;
        self.cursor = 32;
        let within = (n % 8) as usize;
        if within != 0 {
            self.refill();
            self.cursor = within * 4;
        }
    }

    fn refill(&mut self) {
        let mut mac = self.keyed.clone();
        mac.update(self.client_seed);
        mac.update(b":");
        mac.update(decimal(self.nonce, &mut [0u8; 20]));
        mac.update(b":");
        mac.update(decimal(self.round, &mut [0u8; 20]));
        self.block = mac.finalize().into_bytes().into();
        self.round += 1;
        self.cursor = 0;
    }

    /// Picks `out.len()` distinct items from `0..total` by Stake's index picking: the i-th
    /// number chooses position `floor(f × (total − i))` among the items not yet chosen.
    /// `total` is at most 64 (keno 40, mines 25).
    pub fn pick_distinct(&mut self, total: u8, out: &mut [u8]) {
        assert!(total as usize <= 64 && out.len() <= total as usize, "at most 64 items, at most all of them");
        let mut left = [0u8; 64];
        for (i, slot) in left.iter_mut().enumerate().take(total as usize) {
            *slot = i as u8;
        }
        let mut remaining = total as usize;
        for chosen in out.iter_mut() {
            let at = self.next_unit().scale(remaining as u32) as usize;
            *chosen = left[at];
            left.copy_within(at + 1..remaining, at);
            remaining -= 1;
        }
    }
}

/// `n` in decimal, as JavaScript's template strings write it.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_exactly() {
        assert_eq!(Unit(0).scale(10_001), 0);
        assert_eq!(Unit(u32::MAX).scale(10_001), 10_000);
        assert_eq!(Unit(1 << 31).scale(52), 26);
        assert!(Unit(1 << 31).at_least_half());
        assert!(!Unit((1 << 31) - 1).at_least_half());
    }

    #[test]
    fn seeds_round_trip_through_hex_and_debug_hides_them() {
        let seed = ServerSeed([0xab; 32]);
        assert_eq!(ServerSeed::from_hex(&seed.to_hex()), Some(seed));
        assert_eq!(ServerSeed::from_hex(&seed.to_hex().to_uppercase()), Some(seed));
        assert_eq!(ServerSeed::from_hex("ab"), None);
        assert_eq!(ServerSeed::from_hex(&"zz".repeat(32)), None);
        assert!(!format!("{seed:?}").contains("ab"));
    }

    #[test]
    fn only_the_binary_encoding_holds_the_seed() {
        let seed = ServerSeed([7; 32]);
        let json = serde_json::to_string(&seed).unwrap();
        assert_eq!(json, format!("\"sha256:{}\"", seed.hash()));
        assert!(!json.contains(&seed.to_hex()));
        assert!(serde_json::from_str::<ServerSeed>(&json).is_err());
        let bytes = bincode::serialize(&seed).unwrap();
        assert_eq!(bincode::deserialize::<ServerSeed>(&bytes).unwrap(), seed);
    }

    #[test]
    fn nonces_are_written_in_decimal() {
        assert_eq!(decimal(0, &mut [0; 20]), b"0");
        assert_eq!(decimal(u64::MAX, &mut [0; 20]), b"18446744073709551615");
    }

    #[test]
    fn seeking_lands_where_reading_does() {
        let mut read = Stream::new(b"k", b"c", 3);
        let units: Vec<Unit> = (0..20).map(|_| read.next_unit()).collect();
        for n in [0u64, 1, 7, 8, 9, 16, 19] {
            let mut s = Stream::new(b"k", b"c", 3);
            s.next_unit();
            s.seek_unit(n);
            assert_eq!(s.next_unit(), units[n as usize], "number {n}");
        }
    }

    #[test]
    fn picks_are_distinct_and_in_range() {
        let mut s = Stream::new(b"k", b"c", 1);
        let mut out = [0u8; 40];
        s.pick_distinct(40, &mut out);
        let mut sorted = out;
        sorted.sort_unstable();
        assert_eq!(sorted.to_vec(), (0..40).collect::<Vec<u8>>());
    }
}
