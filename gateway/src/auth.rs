//! Operator signatures and player tokens.
//!
//! # Operator requests
//!
//! Every operator request carries two headers:
//!
//! - `X-Croupier-Timestamp: <unix milliseconds>`, ASCII digits only (at most 19), and
//! - `X-Croupier-Signature: hex(HMAC-SHA256(operator key, CANONICAL))`, where `CANONICAL` is
//!   the four parts below joined by a single `\n` (0x0A), with no trailing newline:
//!
//!   ```text
//!   METHOD          the request method in upper case, e.g. POST
//!   PATH_AND_QUERY  the request target exactly as sent, e.g. /api/deposit (with ?query if any)
//!   TIMESTAMP       the X-Croupier-Timestamp header value, byte for byte
//!   BODY            the raw request body bytes (empty for none)
//!   ```
//!
//! The signature binds the request to its endpoint (a body signed for one path is refused at
//! every other) and to a moment: a timestamp further than the configured window (default
//! ±5 minutes) from the server's clock is refused with `STALE_TIMESTAMP`, so a captured
//! request cannot be replayed later. Inside the window an exact replay to the same endpoint
//! is possible; every operator command carries its own idempotency id (transfer, round, bet),
//! so a replay changes nothing. The check runs before the body is parsed and compares macs in
//! constant time (`verify_slice`).
//!
//! # Player tokens
//!
//! `v2.<user>.<issued_ms>.<expiry_ms>.<hex mac>`, the mac being HMAC-SHA256 of everything
//! before the last dot, keyed with the *token key* `HMAC-SHA256(operator key, "croupier player
//! token key v2")`. The separate key means an operator signature can never serve as a token mac
//! nor the reverse. Tokens are stateless to check (no lookup besides the per-user revocation
//! time kept by [`crate::revocations`]); `v1` tokens (signed with the operator key itself) are
//! refused.

use crate::error::ApiError;
use axum::http::{HeaderMap, HeaderValue};
use croupier_domain::UserId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Write;
use std::path::{Path, PathBuf};

type HmacSha256 = Hmac<Sha256>;

pub const SIGNATURE_HEADER: &str = "x-croupier-signature";
pub const TIMESTAMP_HEADER: &str = "x-croupier-timestamp";
/// The label the token key is derived with; a new label makes every earlier token invalid.
pub const TOKEN_KEY_LABEL: &[u8] = b"croupier player token key v2";
/// The label the lucky-packet seed key is derived with. Changing it (or the operator key)
/// changes every seed, so a lucky packet repeated after the change is refused
/// `IDEMPOTENCY_CONFLICT` instead of replayed.
pub const LUCKY_SEED_KEY_LABEL: &[u8] = b"croupier lucky packet seed key v1";
/// The default accepted distance between a request's timestamp and the server clock.
pub const DEFAULT_SIGNATURE_WINDOW_MS: u64 = 300_000;
/// u64::MAX has 20 digits; 19 keep every accepted timestamp parseable and leave no two
/// spellings of one number (leading zeros aside, which the mac covers byte for byte).
const MAX_TIMESTAMP_DIGITS: usize = 19;

#[derive(Clone)]
pub struct Auth {
    /// The keyed HMAC states, prepared once: each check clones one instead of hashing the
    /// key's pads again.
    operator: HmacSha256,
    token: HmacSha256,
    /// Keys the split seed of lucky red packets ([`Auth::lucky_seed`]).
    lucky: HmacSha256,
    window_ms: u64,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth { keys: <hidden> }")
    }
}

/// A player whose token checked out (signature and expiry; revocation is checked by the
/// caller against [`crate::revocations::Revocations`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Player {
    pub user: UserId,
    pub issued_ms: u64,
    pub expires_ms: u64,
}

/// What an operator request is signed over, besides its body.
#[derive(Clone, Copy, Debug)]
pub struct RequestLine<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
}

fn keyed(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes a key of any length")
}

impl Auth {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        let key = key.into();
        let derived = |label: &[u8]| {
            let mut derive = keyed(&key);
            derive.update(label);
            keyed(&derive.finalize().into_bytes())
        };
        let (token, lucky) = (derived(TOKEN_KEY_LABEL), derived(LUCKY_SEED_KEY_LABEL));
        Auth { operator: keyed(&key), token, lucky, window_ms: DEFAULT_SIGNATURE_WINDOW_MS }
    }

    /// The split seed of a lucky red packet: the first 8 bytes (little endian) of
    /// `HMAC-SHA256(lucky key, sender | shares | total | len currency | currency | len id | id)`
    /// (integers little endian, lengths as u32, so no two inputs share an encoding).
    ///
    /// The engine compares a repeated send with the first one including the seed, so the seed
    /// must be the same for a repeat, also after a restart: it is a function of the request
    /// and of a key derived from the operator key, which outlives restarts. Players do not know
    /// the key, so they cannot predict the split from what they send. (Ignoring the seed in
    /// the engine's comparison would also work, but would put a gateway concern in the
    /// journaled domain rules; this keeps the command fully determined by its inputs.)
    pub fn lucky_seed(&self, sender: UserId, packet_id: &str, currency: &str, total: i64, shares: u32) -> u64 {
        let mut m = self.lucky.clone();
        m.update(&sender.0.to_le_bytes());
        m.update(&shares.to_le_bytes());
        m.update(&total.to_le_bytes());
        for text in [currency, packet_id] {
            // Both are at most 39 bytes (checked ids and codes); the length keeps them apart.
            m.update(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_le_bytes());
            m.update(text.as_bytes());
        }
        let mac = m.finalize().into_bytes();
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&mac[..8]);
        u64::from_le_bytes(seed)
    }

    /// The accepted distance, either way, between a request's timestamp and the server clock.
    pub fn with_window(mut self, window_ms: u64) -> Self {
        self.window_ms = window_ms;
        self
    }

    fn operator_mac(&self, line: RequestLine<'_>, timestamp: &str, body: &[u8]) -> HmacSha256 {
        let mut m = self.operator.clone();
        for part in [line.method.as_bytes(), b"\n", line.path_and_query.as_bytes(), b"\n", timestamp.as_bytes(), b"\n"]
        {
            m.update(part);
        }
        m.update(body);
        m
    }

    /// hex(HMAC-SHA256(key, METHOD \n PATH_AND_QUERY \n TIMESTAMP \n BODY)), for
    /// `X-Croupier-Signature` with `X-Croupier-Timestamp: timestamp`.
    pub fn sign(&self, line: RequestLine<'_>, timestamp: &str, body: &[u8]) -> String {
        hex::encode(self.operator_mac(line, timestamp, body).finalize().into_bytes())
    }

    /// Checks an operator request's timestamp and signature (constant time) at `now_ms`.
    pub fn check_operator(
        &self,
        line: RequestLine<'_>,
        headers: &HeaderMap,
        body: &[u8],
        now_ms: u64,
    ) -> Result<(), ApiError> {
        let sig = headers
            .get(SIGNATURE_HEADER)
            .ok_or_else(|| ApiError::unauthorized("UNAUTHORIZED", "missing X-Croupier-Signature header"))?;
        let timestamp = timestamp(headers.get(TIMESTAMP_HEADER))?;
        let ts: u64 = timestamp.parse().map_err(|_| bad_timestamp())?;
        if ts.abs_diff(now_ms) > self.window_ms {
            return Err(ApiError::unauthorized(
                "STALE_TIMESTAMP",
                format!("X-Croupier-Timestamp is more than {} ms from the server clock ({now_ms})", self.window_ms),
            ));
        }
        let bad = || {
            ApiError::unauthorized(
                "BAD_SIGNATURE",
                "X-Croupier-Signature is not hex(HMAC-SHA256(key, METHOD\\nPATH\\nTIMESTAMP\\nBODY))",
            )
        };
        let sig = sig.to_str().map_err(|_| bad())?;
        let sig = hex::decode(sig.trim()).map_err(|_| bad())?;
        self.operator_mac(line, timestamp, body).verify_slice(&sig).map_err(|_| bad())
    }

    /// A token for `user` issued at `issued_ms`, valid until `expires_ms` (Unix milliseconds).
    pub fn issue(&self, user: UserId, issued_ms: u64, expires_ms: u64) -> String {
        let claim = format!("v2.{}.{issued_ms}.{expires_ms}", user.0);
        let mut m = self.token.clone();
        m.update(claim.as_bytes());
        format!("{claim}.{}", hex::encode(m.finalize().into_bytes()))
    }

    /// Checks a token's mac and expiry at `now_ms`.
    pub fn verify(&self, token: &str, now_ms: u64) -> Result<Player, ApiError> {
        let bad = || ApiError::unauthorized("UNAUTHORIZED", "invalid session token");
        let (claim, mac) = token.rsplit_once('.').ok_or_else(bad)?;
        let mut parts = claim.split('.');
        let (Some("v2"), Some(user), Some(issued), Some(exp), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let mac = hex::decode(mac).map_err(|_| bad())?;
        let mut m = self.token.clone();
        m.update(claim.as_bytes());
        m.verify_slice(&mac).map_err(|_| bad())?;
        // Sessions are only opened for ids up to `MAX_USER_ID`; a larger one is no token of ours.
        let user: u64 = user.parse().ok().filter(|u| *u <= crate::fields::MAX_USER_ID).ok_or_else(bad)?;
        let issued_ms: u64 = issued.parse().map_err(|_| bad())?;
        let expires_ms: u64 = exp.parse().map_err(|_| bad())?;
        if expires_ms <= now_ms {
            return Err(ApiError::unauthorized("TOKEN_EXPIRED", "session token has expired; open a new session"));
        }
        Ok(Player { user: UserId(user), issued_ms, expires_ms })
    }
}

fn bad_timestamp() -> ApiError {
    ApiError::unauthorized("UNAUTHORIZED", "X-Croupier-Timestamp must be Unix milliseconds (ASCII digits)")
}

/// The timestamp header's text, which is signed byte for byte: digits only, so that what
/// the mac covers and the number the window checks are the same thing.
fn timestamp(value: Option<&HeaderValue>) -> Result<&str, ApiError> {
    let value = value.ok_or_else(|| ApiError::unauthorized("UNAUTHORIZED", "missing X-Croupier-Timestamp header"))?;
    let text = value.to_str().map_err(|_| bad_timestamp())?;
    if text.is_empty() || text.len() > MAX_TIMESTAMP_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_timestamp());
    }
    Ok(text)
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = || ApiError::unauthorized("UNAUTHORIZED", "missing Authorization: Bearer <token> header");
    let value = headers.get(axum::http::header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    Ok(value.strip_prefix("Bearer ").ok_or_else(missing)?.trim())
}
/// Where the operator key comes from, for the start-up message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

/// The operator key: `from_env` if given (CROUPIER_OPERATOR_KEY), else `<data>/operator.key`,
/// generated (32 random bytes, hex) with mode 0600 on first start.
pub fn load_or_create_key(from_env: Option<&str>, data_dir: &Path) -> std::io::Result<(Vec<u8>, KeySource)> {
    if let Some(k) = from_env.filter(|k| !k.is_empty()) {
        return Ok((k.as_bytes().to_vec(), KeySource::Environment));
    }
    let path = data_dir.join("operator.key");
    match std::fs::read_to_string(&path) {
        Ok(k) => return Ok((k.trim().as_bytes().to_vec(), KeySource::File(path))),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    std::fs::create_dir_all(data_dir)?;
    let mut raw = [0u8; 32];
    std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut raw))?;
    let key = hex::encode(raw);
    let mut f = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?
    };
    f.write_all(key.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    Ok((key.into_bytes(), KeySource::Generated(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST_DEPOSIT: RequestLine<'static> = RequestLine { method: "POST", path_and_query: "/api/deposit" };

    #[test]
    fn tokens_check_expiry_and_tampering() {
        let a = Auth::new(b"k".to_vec());
        let t = a.issue(UserId(42), 10, 1_000);
        assert_eq!(a.verify(&t, 999).unwrap(), Player { user: UserId(42), issued_ms: 10, expires_ms: 1_000 });
        assert_eq!(a.verify(&t, 1_000).unwrap_err().code, "TOKEN_EXPIRED");
        let forged = t.replacen("v2.42.", "v2.43.", 1);
        assert_eq!(a.verify(&forged, 0).unwrap_err().code, "UNAUTHORIZED");
        assert_eq!(Auth::new(b"other".to_vec()).verify(&t, 0).unwrap_err().code, "UNAUTHORIZED");
        for junk in ["", "v2", "v2.1.2.3", "v2.x.2.3.00", "v1.1.2.ab", "v2.1.2.3.4.ab"] {
            assert!(a.verify(junk, 0).is_err(), "{junk}");
        }
    }

    #[test]
    fn token_macs_and_operator_signatures_use_different_keys() {
        let a = Auth::new(b"k".to_vec());
        let claim = "v2.1.0.99999";
        let mut raw = keyed(b"k");
        raw.update(claim.as_bytes());
        let with_operator_key = format!("{claim}.{}", hex::encode(raw.finalize().into_bytes()));
        assert_eq!(a.verify(&with_operator_key, 0).unwrap_err().code, "UNAUTHORIZED");
        assert!(a.verify(&a.issue(UserId(1), 0, 99_999), 0).is_ok());
    }

    fn signed(a: &Auth, line: RequestLine<'_>, ts: &str, body: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
        h.insert(SIGNATURE_HEADER, a.sign(line, ts, body).parse().unwrap());
        h
    }

    #[test]
    fn signatures_cover_method_path_timestamp_and_body() {
        let a = Auth::new(b"secret".to_vec());
        let h = signed(&a, POST_DEPOSIT, "1000000", b"{}");
        assert!(a.check_operator(POST_DEPOSIT, &h, b"{}", 1_000_000).is_ok());
        let code = |line, h: &HeaderMap, body: &[u8]| a.check_operator(line, h, body, 1_000_000).unwrap_err().code;
        assert_eq!(code(POST_DEPOSIT, &h, b"{ }"), "BAD_SIGNATURE");
        assert_eq!(code(RequestLine { method: "PUT", ..POST_DEPOSIT }, &h, b"{}"), "BAD_SIGNATURE");
        assert_eq!(code(RequestLine { path_and_query: "/api/withdraw", ..POST_DEPOSIT }, &h, b"{}"), "BAD_SIGNATURE");
        let mut moved = h.clone();
        moved.insert(TIMESTAMP_HEADER, "1000001".parse().unwrap());
        assert_eq!(code(POST_DEPOSIT, &moved, b"{}"), "BAD_SIGNATURE");
        assert_eq!(code(POST_DEPOSIT, &HeaderMap::new(), b"{}"), "UNAUTHORIZED");
        for ts in ["", "12a", "-5", "+5", "99999999999999999999"] {
            let mut h = h.clone();
            h.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
            assert_eq!(code(POST_DEPOSIT, &h, b"{}"), "UNAUTHORIZED", "{ts:?}");
        }
        let mut no_ts = h.clone();
        no_ts.remove(TIMESTAMP_HEADER);
        assert_eq!(code(POST_DEPOSIT, &no_ts, b"{}"), "UNAUTHORIZED");
    }

    #[test]
    fn timestamps_outside_the_window_are_stale() {
        let a = Auth::new(b"secret".to_vec()).with_window(1_000);
        for (ts, ok) in [("9000", true), ("11000", true), ("8999", false), ("11001", false)] {
            let h = signed(&a, POST_DEPOSIT, ts, b"{}");
            let r = a.check_operator(POST_DEPOSIT, &h, b"{}", 10_000);
            assert_eq!(r.map_err(|e| e.code), if ok { Ok(()) } else { Err("STALE_TIMESTAMP") }, "{ts}");
        }
    }

    #[test]
    fn lucky_seeds_are_stable_per_request_and_keyed() {
        let a = Auth::new(b"k".to_vec());
        let seed = a.lucky_seed(UserId(7), "p1", "CNY", 8888, 60);
        // The same inputs under the same key (as after a restart): the same seed.
        assert_eq!(Auth::new(b"k".to_vec()).lucky_seed(UserId(7), "p1", "CNY", 8888, 60), seed);
        let others = [
            Auth::new(b"other".to_vec()).lucky_seed(UserId(7), "p1", "CNY", 8888, 60),
            a.lucky_seed(UserId(8), "p1", "CNY", 8888, 60),
            a.lucky_seed(UserId(7), "p2", "CNY", 8888, 60),
            a.lucky_seed(UserId(7), "p1", "USD", 8888, 60),
            a.lucky_seed(UserId(7), "p1", "CNY", 8889, 60),
            a.lucky_seed(UserId(7), "p1", "CNY", 8888, 61),
            // Moving a byte between the currency and the id changes the encoding.
            a.lucky_seed(UserId(7), "Yp1", "CN", 8888, 60),
        ];
        for (i, o) in others.iter().enumerate() {
            assert_ne!(*o, seed, "variant {i}");
        }
    }

    #[test]
    fn a_generated_key_is_private_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (k1, src) = load_or_create_key(None, dir.path()).unwrap();
        let path = dir.path().join("operator.key");
        assert_eq!(src, KeySource::Generated(path.clone()));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let (k2, src) = load_or_create_key(None, dir.path()).unwrap();
        assert_eq!((k1, src), (k2, KeySource::File(path)));
        assert_eq!(load_or_create_key(Some("env"), dir.path()).unwrap().1, KeySource::Environment);
    }
}
