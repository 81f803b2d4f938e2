//! Player-session revocation: per user, the time before which every token issued is refused.
//!
//! `POST /api/sessions/revoke` sets a user's `not_before_ms` to one past the current
//! millisecond, so a token issued in the same millisecond as the revocation is refused too
//! (tokens are checked as `issued_ms >= not_before_ms`). `/api/sessions` issues new tokens at
//! `max(now, not_before_ms)`, so a session opened after the revocation answered always works.
//!
//! Durability: each revocation is appended to `<data>/revoked-sessions` as a line
//! `<user> <not_before_ms>\n` and fsynced before it is answered; the file is read back at
//! start (a later line for a user wins only if it is later in time). A torn last line (no
//! newline: the process died mid-append, the revocation was never answered) is cut off; any
//! other malformed line refuses the start, because forgetting a revocation reopens sessions.
//!
//! Bounds: the in-memory map holds one entry (16 bytes plus hash-map overhead) per user ever
//! revoked, never more, however often a user is revoked; the file grows by one line (about
//! 30 bytes) per revocation call. Entries are never pruned: a token's expiry is chosen at
//! issue time by a configuration that may change between restarts, so no age proves every
//! earlier token of a user has expired.

use crate::auth::Player;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use tokio::sync::watch;

pub const FILE_NAME: &str = "revoked-sessions";

pub struct Revocations {
    path: PathBuf,
    /// Read on every player request; written only after the file has the revocation.
    not_before: RwLock<HashMap<u64, u64>>,
    /// The append handle; its lock also orders concurrent revocations in the file.
    file: Mutex<File>,
    /// Bumped after every revocation, so open WebSocket sessions re-check their token.
    changed: watch::Sender<u64>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Revocations {
    /// Opens (creating if needed) `<data_dir>/revoked-sessions` and loads it.
    pub fn open(data_dir: &Path) -> io::Result<Revocations> {
        let path = data_dir.join(FILE_NAME);
        let file = open_append(&path)?;
        let mut text = String::new();
        File::open(&path)?.read_to_string(&mut text)?;
        let whole = text.rfind('\n').map_or(0, |i| i + 1);
        if whole < text.len() {
            // A torn tail: cut it so the next append starts on a line of its own.
            file.set_len(whole as u64)?;
            file.sync_all()?;
        }
        let not_before = parse(&text[..whole])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
        let (changed, _) = watch::channel(0);
        Ok(Revocations { path, not_before: RwLock::new(not_before), file: Mutex::new(file), changed })
    }

    /// The time from which `user`'s tokens are accepted (0: never revoked).
    pub fn not_before(&self, user: u64) -> u64 {
        self.not_before.read().unwrap_or_else(|e| e.into_inner()).get(&user).copied().unwrap_or(0)
    }

    /// Whether `player`'s token was issued after its user's last revocation.
    pub fn allows(&self, player: &Player) -> bool {
        player.issued_ms >= self.not_before(player.user.0)
    }

    /// Revokes every token of `user` issued at or before `now_ms`; durable when it returns.
    /// Blocks on an fsync: call it off the async workers. Returns the new `not_before_ms`.
    pub fn revoke(&self, user: u64, now_ms: u64) -> io::Result<u64> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // Never moves back, even if the clock does.
        let not_before = now_ms.saturating_add(1).max(self.not_before(user));
        file.write_all(format!("{user} {not_before}\n").as_bytes())?;
        file.sync_data()?;
        self.not_before.write().unwrap_or_else(|e| e.into_inner()).insert(user, not_before);
        drop(file);
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        Ok(not_before)
    }

    /// Changes whenever a revocation is made.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// How many users have a revocation.
    pub fn len(&self) -> usize {
        self.not_before.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Opens the file for appending, creating it (0600, directory entry synced) if needed.
fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let existed = path.exists();
    let file = OpenOptions::new().append(true).create(true).mode(0o600).open(path)?;
    if !existed {
        // The file's name must survive a crash too, or a later fsynced line is lost with it.
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
    }
    Ok(file)
}

fn parse(text: &str) -> Result<HashMap<u64, u64>, String> {
    let mut map = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let bad = || format!("line {} is not `<user> <not_before_ms>`: {line:?}", i + 1);
        let (user, at) = line.split_once(' ').ok_or_else(bad)?;
        let user: u64 = user.parse().map_err(|_| bad())?;
        let at: u64 = at.parse().map_err(|_| bad())?;
        let e = map.entry(user).or_insert(at);
        *e = (*e).max(at);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::UserId;

    fn player(user: u64, issued_ms: u64) -> Player {
        Player { user: UserId(user), issued_ms, expires_ms: u64::MAX }
    }

    #[test]
    fn a_revocation_refuses_tokens_up_to_its_millisecond_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let r = Revocations::open(dir.path()).unwrap();
        assert!(r.allows(&player(7, 0)));
        assert_eq!(r.revoke(7, 1_000).unwrap(), 1_001);
        assert!(!r.allows(&player(7, 1_000)), "same millisecond as the revocation");
        assert!(r.allows(&player(7, 1_001)));
        assert!(r.allows(&player(8, 0)), "other users untouched");
        assert_eq!(r.revoke(7, 500).unwrap(), 1_001, "a clock going back never un-revokes");
        drop(r);
        let r = Revocations::open(dir.path()).unwrap();
        assert_eq!((r.not_before(7), r.len()), (1_001, 1));
    }

    #[test]
    fn a_torn_tail_is_cut_and_damage_before_it_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "1 10\n2 2").unwrap();
        let r = Revocations::open(dir.path()).unwrap();
        assert_eq!((r.not_before(1), r.not_before(2)), (10, 0));
        r.revoke(3, 30).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "1 10\n3 31\n");
        drop(r);
        std::fs::write(&path, "1 10\nx y\n3 31\n").unwrap();
        assert_eq!(Revocations::open(dir.path()).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
