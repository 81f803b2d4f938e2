//! Operator signatures and player tokens, both HMAC-SHA256 with the operator key.
//!
//! - Operator requests carry `X-Croupier-Signature: hex(HMAC-SHA256(key, body))`.
//! - A player token is `v1.<user>.<expiry_ms>.<hex mac>`, the mac being HMAC-SHA256 of
//!   `v1.<user>.<expiry_ms>` with the same key: stateless, so any gateway holding the key
//!   checks it without a lookup; it expires and cannot be revoked before.

use crate::error::ApiError;
use axum::http::HeaderMap;
use croupier_engine::UserId;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Write;
use std::path::{Path, PathBuf};

type HmacSha256 = Hmac<Sha256>;

pub const SIGNATURE_HEADER: &str = "x-croupier-signature";

#[derive(Clone)]
pub struct Auth {
    /// The keyed HMAC state, prepared once: each check clones it instead of hashing the key's
    /// pads again.
    keyed: HmacSha256,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth { key: <hidden> }")
    }
}

/// A player whose token checked out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Player {
    pub user: UserId,
    pub expires_ms: u64,
}

impl Auth {
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        let key = key.into();
        Auth { keyed: HmacSha256::new_from_slice(&key).expect("HMAC takes a key of any length") }
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    /// hex(HMAC-SHA256(key, body)).
    pub fn sign(&self, body: &[u8]) -> String {
        let mut m = self.mac();
        m.update(body);
        hex::encode(m.finalize().into_bytes())
    }

    /// Checks an operator request's signature (constant time).
    pub fn check_operator(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
        let Some(sig) = headers.get(SIGNATURE_HEADER) else {
            return Err(ApiError::unauthorized("UNAUTHORIZED", "missing X-Croupier-Signature header"));
        };
        let bad = || ApiError::unauthorized("BAD_SIGNATURE", "X-Croupier-Signature is not hex(HMAC-SHA256(key, body))");
        let sig = sig.to_str().map_err(|_| bad())?;
        let sig = hex::decode(sig.trim()).map_err(|_| bad())?;
        let mut m = self.mac();
        m.update(body);
        m.verify_slice(&sig).map_err(|_| bad())
    }

    /// A token for `user` valid until `expires_ms` (Unix milliseconds).
    pub fn issue(&self, user: UserId, expires_ms: u64) -> String {
        let claim = format!("v1.{}.{}", user.0, expires_ms);
        let mut m = self.mac();
        m.update(claim.as_bytes());
        format!("{claim}.{}", hex::encode(m.finalize().into_bytes()))
    }

    /// Checks a token at `now_ms`.
    pub fn verify(&self, token: &str, now_ms: u64) -> Result<Player, ApiError> {
        let bad = || ApiError::unauthorized("UNAUTHORIZED", "invalid session token");
        let (claim, mac) = token.rsplit_once('.').ok_or_else(bad)?;
        let mut parts = claim.split('.');
        let (Some("v1"), Some(user), Some(exp), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let mac = hex::decode(mac).map_err(|_| bad())?;
        let mut m = self.mac();
        m.update(claim.as_bytes());
        m.verify_slice(&mac).map_err(|_| bad())?;
        let user: u64 = user.parse().map_err(|_| bad())?;
        let expires_ms: u64 = exp.parse().map_err(|_| bad())?;
        if expires_ms <= now_ms {
            return Err(ApiError::unauthorized("TOKEN_EXPIRED", "session token has expired; open a new session"));
        }
        Ok(Player { user: UserId(user), expires_ms })
    }

    /// The player of a request's `Authorization: Bearer <token>` header.
    pub fn player(&self, headers: &HeaderMap, now_ms: u64) -> Result<Player, ApiError> {
        let missing = || ApiError::unauthorized("UNAUTHORIZED", "missing Authorization: Bearer <token> header");
        let value = headers.get(axum::http::header::AUTHORIZATION).ok_or_else(missing)?;
        let value = value.to_str().map_err(|_| missing())?;
        let token = value.strip_prefix("Bearer ").ok_or_else(missing)?;
        self.verify(token.trim(), now_ms)
    }
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

    #[test]
    fn tokens_check_expiry_and_tampering() {
        let a = Auth::new(b"k".to_vec());
        let t = a.issue(UserId(42), 1_000);
        assert_eq!(a.verify(&t, 999).unwrap().user, UserId(42));
        assert_eq!(a.verify(&t, 1_000).unwrap_err().code, "TOKEN_EXPIRED");
        let forged = t.replacen("v1.42.", "v1.43.", 1);
        assert_eq!(a.verify(&forged, 0).unwrap_err().code, "UNAUTHORIZED");
        assert_eq!(Auth::new(b"other".to_vec()).verify(&t, 0).unwrap_err().code, "UNAUTHORIZED");
        for junk in ["", "v1", "v1.1.2", "v1.x.2.00", "v2.1.2.ab"] {
            assert!(a.verify(junk, 0).is_err(), "{junk}");
        }
    }

    #[test]
    fn signatures_cover_the_body() {
        let a = Auth::new(b"secret".to_vec());
        let mut h = HeaderMap::new();
        h.insert(SIGNATURE_HEADER, a.sign(b"{}").parse().unwrap());
        assert!(a.check_operator(&h, b"{}").is_ok());
        assert_eq!(a.check_operator(&h, b"{ }").unwrap_err().code, "BAD_SIGNATURE");
        assert_eq!(a.check_operator(&HeaderMap::new(), b"{}").unwrap_err().code, "UNAUTHORIZED");
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
