//! The chain vault: each crash channel's secret hash chain, kept at
//! `<data>/crash-chains/<channel>.chain` ([`crate::layout::crash_chain_file`]).
//!
//! A channel's crash points are committed before its first term by publishing game 0's hash
//! (the *terminating hash*) and a salt; game `n - 1`'s hash is `sha256` of game `n`'s 32 raw
//! bytes, so whoever knows the top (game `length`'s hash) can reveal the games one by one and
//! nobody else can compute the next one. The top is the secret: drawn by the edge from the
//! OS CSPRNG and handed here, written once, never shown, never given to the domain. Term `k`
//! reveals game `k` ([`CrashChain::game`]); the domain checks it hashes to game `k - 1`.
//!
//! The file holds the top, not every hash: the chain is rebuilt from it on open (one
//! `sha256` per game, a checkpoint every 1,024 games, `fair::Chain`), and the terminating hash
//! written beside it must come out again, which catches a damaged file. It is written once:
//! to a temporary file created with mode `0600`, synced, hard-linked to its final name (which
//! fails if a chain is already there, so a channel's chain is never replaced) and the folder
//! synced, so a crash leaves either no chain or the whole one.

use crate::layout::{crash_chain_dir, crash_chain_file, crash_chain_temp, sync_dir, LayoutError};
use croupier_domain::crash::fair::{from_hex, to_hex, Chain, GameHash};
use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The first line of a chain file.
const MAGIC: &str = "croupier-crash-chain 1";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("crash channel id {0:?} cannot name a chain file: use letters, digits, '-' and '_'")]
    InvalidName(String),
    #[error("a chain has 1 to 10,000,000 games, not {0}")]
    InvalidLength(u64),
    #[error("a salt is 1 to 64 printable ASCII characters without spaces")]
    InvalidSalt,
    #[error("{0}: a chain for this channel already exists")]
    Exists(PathBuf),
    #[error("{path}: damaged chain file: {why}")]
    Damaged { path: PathBuf, why: String },
    #[error("the channel's hash chain is used up: all {length} games were played")]
    Exhausted { length: u64 },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl From<LayoutError> for VaultError {
    fn from(e: LayoutError) -> Self {
        match e {
            LayoutError::Io { path, source } => VaultError::Io { path, source },
            other => VaultError::Io { path: PathBuf::new(), source: std::io::Error::other(other.to_string()) },
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> VaultError + '_ {
    move |source| VaultError::Io { path: path.to_path_buf(), source }
}

/// A channel's chain, as the edge holds it. `Debug` never shows the top.
pub struct CrashChain {
    salt: String,
    chain: Chain,
}

impl fmt::Debug for CrashChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CrashChain")
            .field("length", &self.chain.length())
            .field("terminating_hash", &to_hex(&self.chain.terminating_hash()))
            .field("salt", &self.salt)
            .finish_non_exhaustive()
    }
}

fn check_salt(salt: &str) -> Result<(), VaultError> {
    if salt.is_empty() || salt.len() > 64 || !salt.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(VaultError::InvalidSalt);
    }
    Ok(())
}

impl CrashChain {
    /// Builds the chain of `length` games whose last game's hash is `top` (the secret, drawn
    /// by the caller from the OS CSPRNG), and writes it durably for `channel`. Refuses to
    /// replace an existing chain ([`VaultError::Exists`]).
    pub fn create(data_dir: &Path, channel: &str, top: GameHash, length: u64, salt: &str) -> Result<Self, VaultError> {
        let (file, tmp) = match (crash_chain_file(data_dir, channel), crash_chain_temp(data_dir, channel)) {
            (Some(f), Some(t)) => (f, t),
            _ => return Err(VaultError::InvalidName(channel.to_string())),
        };
        if !(1..=Chain::MAX_LENGTH).contains(&length) {
            return Err(VaultError::InvalidLength(length));
        }
        check_salt(salt)?;
        if file.exists() {
            return Err(VaultError::Exists(file));
        }
        let chain = Chain::new(top, length);
        let dir = crash_chain_dir(data_dir);
        if !dir.exists() {
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            sync_dir(data_dir)?;
        }
        let text = format!(
            "{MAGIC}\nlength {length}\nsalt {salt}\ntop {}\nterminating {}\n",
            to_hex(&top),
            to_hex(&chain.terminating_hash())
        );
        // A temporary file left by an earlier crash is the same channel's unlinked attempt.
        let _ = std::fs::remove_file(&tmp);
        let mut f =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io(&tmp))?;
        // The umask can only take bits away from 0600; set it anyway, in case the file system
        // ignored the mode.
        f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io(&tmp))?;
        f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(io(&tmp))?;
        drop(f);
        // A link, not a rename: it fails if the name is taken, so two creations cannot both
        // win and a published chain is never replaced.
        let linked = std::fs::hard_link(&tmp, &file);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(VaultError::Exists(file)),
            Err(e) => return Err(io(&file)(e)),
        }
        sync_dir(&dir)?;
        Ok(CrashChain { salt: salt.to_string(), chain })
    }

    /// The chain kept for `channel`, if there is one; rebuilt from its top and checked
    /// against the terminating hash written beside it.
    pub fn open(data_dir: &Path, channel: &str) -> Result<Option<Self>, VaultError> {
        let file = crash_chain_file(data_dir, channel).ok_or_else(|| VaultError::InvalidName(channel.to_string()))?;
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&file)(e)),
        };
        let damaged = |why: &str| VaultError::Damaged { path: file.clone(), why: why.to_string() };
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(damaged("not a chain file (first line)"));
        }
        let mut field = |name: &str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(' '))
                .ok_or_else(|| damaged(&format!("no {name} line")))
        };
        let length: u64 = field("length")?.parse().map_err(|_| damaged("length"))?;
        let salt = field("salt")?.to_string();
        let top = from_hex(field("top")?).ok_or_else(|| damaged("top"))?;
        let terminating = from_hex(field("terminating")?).ok_or_else(|| damaged("terminating hash"))?;
        if !(1..=Chain::MAX_LENGTH).contains(&length) || check_salt(&salt).is_err() {
            return Err(damaged("length or salt out of range"));
        }
        let chain = Chain::new(top, length);
        if chain.terminating_hash() != terminating {
            return Err(damaged("the top does not hash down to the terminating hash written beside it"));
        }
        Ok(Some(CrashChain { salt, chain }))
    }

    /// Removes `channel`'s chain: only for a chain no channel was created with (the engine
    /// refused the channel it was drawn for), so a retry draws a fresh one.
    pub fn discard_unused(data_dir: &Path, channel: &str) -> Result<(), VaultError> {
        let file = crash_chain_file(data_dir, channel).ok_or_else(|| VaultError::InvalidName(channel.to_string()))?;
        match std::fs::remove_file(&file) {
            Ok(()) => sync_dir(&crash_chain_dir(data_dir)).map_err(Into::into),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&file)(e)),
        }
    }

    /// Games on the chain.
    pub fn length(&self) -> u64 {
        self.chain.length()
    }

    /// Game 0's hash: what is published before the first term.
    pub fn terminating_hash(&self) -> GameHash {
        self.chain.terminating_hash()
    }

    pub fn salt(&self) -> &str {
        &self.salt
    }

    /// Game `game`'s hash (`1..=length`): what term `game` reveals at take-off.
    pub fn game(&self, game: u64) -> Result<GameHash, VaultError> {
        if game == 0 || game > self.chain.length() {
            return Err(VaultError::Exhausted { length: self.chain.length() });
        }
        self.chain.game(game).ok_or(VaultError::Exhausted { length: self.chain.length() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::crash::fair::{chains_to, previous};

    fn top() -> GameHash {
        previous(b"a test top, not a secret........")
    }

    #[test]
    fn a_chain_is_written_private_and_links_every_game_to_the_one_before() {
        let dir = tempfile::tempdir().unwrap();
        let c = CrashChain::create(dir.path(), "moon-1", top(), 3000, "salt").unwrap();
        let file = crash_chain_file(dir.path(), "moon-1").unwrap();
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "only the owner may read the secret");
        assert!(!crash_chain_temp(dir.path(), "moon-1").unwrap().exists(), "no temporary file is left");
        assert_eq!(c.game(3000).unwrap(), top());
        let mut before = c.terminating_hash();
        for k in 1..=3000 {
            let h = c.game(k).unwrap();
            assert!(chains_to(&h, &before), "game {k} hashes to game {}", k - 1);
            before = h;
        }
        let again = CrashChain::open(dir.path(), "moon-1").unwrap().expect("kept");
        assert_eq!((again.terminating_hash(), again.salt(), again.length()), (c.terminating_hash(), "salt", 3000));
        assert_eq!(again.game(1777).unwrap(), c.game(1777).unwrap());
        assert!(!format!("{again:?}").contains(&to_hex(&top())), "Debug shows no secret");
        assert!(CrashChain::open(dir.path(), "other").unwrap().is_none());
    }

    #[test]
    fn a_chain_is_never_replaced_and_refuses_past_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let c = CrashChain::create(dir.path(), "c", top(), 2, "s").unwrap();
        assert!(matches!(CrashChain::create(dir.path(), "c", [1; 32], 2, "s"), Err(VaultError::Exists(_))));
        assert_eq!(CrashChain::open(dir.path(), "c").unwrap().unwrap().game(2).unwrap(), top());
        assert!(c.game(2).is_ok());
        assert!(matches!(c.game(3), Err(VaultError::Exhausted { length: 2 })));
        assert!(matches!(c.game(0), Err(VaultError::Exhausted { .. })));
    }

    #[test]
    fn bad_names_lengths_salts_and_damaged_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["../x", "a/b", ".hidden", "a.b", ""] {
            assert!(matches!(CrashChain::create(dir.path(), name, top(), 1, "s"), Err(VaultError::InvalidName(_))));
        }
        assert!(matches!(CrashChain::create(dir.path(), "c", top(), 0, "s"), Err(VaultError::InvalidLength(0))));
        assert!(matches!(
            CrashChain::create(dir.path(), "c", top(), Chain::MAX_LENGTH + 1, "s"),
            Err(VaultError::InvalidLength(_))
        ));
        assert!(matches!(CrashChain::create(dir.path(), "c", top(), 1, "a b"), Err(VaultError::InvalidSalt)));
        CrashChain::create(dir.path(), "c", top(), 5, "s").unwrap();
        let file = crash_chain_file(dir.path(), "c").unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        // Another top under the same terminating hash: caught on open.
        let forged = text.replace(&to_hex(&top()), &to_hex(&[9; 32]));
        std::fs::write(&file, forged).unwrap();
        assert!(matches!(CrashChain::open(dir.path(), "c"), Err(VaultError::Damaged { .. })));
    }
}
