//! Durable, checked snapshot files of opaque bytes.
//!
//! A shard periodically persists its whole state so that a restart does not have to replay the
//! journal from the beginning: restore takes the newest *valid* snapshot and replays only the
//! journal records after its [`SnapshotHeader::position`]. This crate knows nothing about what the
//! state is; a payload is opaque bytes (the engine uses bincode). What it guarantees is that a
//! snapshot is either complete and verified or not used at all:
//!
//! * Writes go to a temp file in the same directory, which is fsynced, renamed to its final name
//!   and then the directory is fsynced. A crash leaves either the old set of snapshots or the new
//!   one, plus possibly a temp file that [`SnapshotStore::prune`] removes later.
//! * Every file carries a header checksum and a payload checksum, so a torn, truncated or
//!   bit-rotted snapshot is detected on load and [`SnapshotStore::load_newest_valid`] falls back
//!   to an older one (the journal still holds everything after it).
//!
//! # File format
//!
//! A file is a fixed 72-byte header followed by the payload. All integers are little-endian.
//!
//! | offset | size | field                                                            |
//! |-------:|-----:|------------------------------------------------------------------|
//! |      0 |    8 | magic, [`MAGIC`] = `b"CRPSNAP1"`                                 |
//! |      8 |    4 | format version `u32`, [`FORMAT_VERSION`] = 5                     |
//! |     12 |    4 | shard `u32`                                                      |
//! |     16 |    8 | journal position `u64` (seq of the last journal record included) |
//! |     24 |   32 | state digest `[u8; 32]`                                          |
//! |     56 |    8 | payload length `u64`                                             |
//! |     64 |    4 | payload crc32c `u32` (over the payload bytes only)               |
//! |     68 |    4 | header crc32c `u32` (over header bytes `0..68`)                  |
//! |     72 |    n | payload                                                          |
//!
//! The file size must be exactly `72 + payload length`; anything shorter is reported as
//! truncated and anything longer as trailing data.
//!
//! # File names
//!
//! Final files are named `shard-<shard:04>-<position:020>.snap` (for example
//! `shard-0003-00000000000000001234.snap`), so a directory listing sorts by position and the
//! name alone tells which shard and position a file claims; the header must agree with the name.
//! Temp files are named `.shard-<shard:04>-<position:020>.snap.tmp-<pid>-<n>` and are never
//! listed or loaded. Any other file in the directory is ignored.
//!
//! Writing a snapshot with the same shard and position as an existing one atomically replaces it.
//! One process owns a snapshot directory; temp files of writes in flight in this process are
//! protected from [`SnapshotStore::prune`], those of other processes are not.

#![warn(missing_docs)]

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Magic bytes at offset 0 of every snapshot file; the trailing `1` is part of the tag, the
/// format version proper is the separate [`FORMAT_VERSION`] field.
pub const MAGIC: [u8; 8] = *b"CRPSNAP1";

/// The only format version this build writes and reads. 2: the payload the engine stores
/// changed layout (callers' ids per player); the header is as in 1. A version 1 file is
/// refused by version, so restore skips it and replays the journal instead of decoding an
/// old state's bytes as a new one. 3: the state gained the crash game's channels, terms and
/// bets (issue 14); a version 2 file is refused the same way. 4: instant bets gained
/// blackjack's table and players their open blackjack game (issue 15); version 3 is refused.
/// 5: red packets gained their recipients (issue 20); version 4 is refused.
pub const FORMAT_VERSION: u32 = 5;

/// Size of the fixed header that precedes the payload.
pub const HEADER_LEN: usize = 72;

const OFF_VERSION: usize = 8;
const OFF_SHARD: usize = 12;
const OFF_POSITION: usize = 16;
const OFF_DIGEST: usize = 24;
const OFF_PAYLOAD_LEN: usize = 56;
const OFF_PAYLOAD_CRC: usize = 64;
const OFF_HEADER_CRC: usize = 68;

const NAME_PREFIX: &str = "shard-";
const NAME_SUFFIX: &str = ".snap";
const TEMP_MARKER: &str = ".snap.tmp-";

/// Buffer size for streaming writes: large enough that a serializer issuing many tiny writes
/// does not turn into many syscalls.
const WRITE_BUFFER: usize = 256 * 1024;

/// Temp files of writes currently in flight in this process, so that `prune` (possibly called
/// from another thread or another `SnapshotStore` on the same directory) never deletes a file
/// that is about to be renamed into place.
static IN_FLIGHT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Makes temp names unique within the process; the pid makes them unique across processes.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What went wrong with the snapshot directory or one snapshot file. Every variant names the
/// path it concerns, so the message alone is enough to find the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file passed every check here, but its owner could not use its payload (for
    /// example the decoded state does not reproduce the digest in the header).
    #[error("{path}: rejected: {reason}", path = path.display())]
    Rejected {
        /// The snapshot file.
        path: PathBuf,
        /// Why its owner refused it.
        reason: String,
    },
    /// An operating-system call failed; `op` says which step (open, read, fsync, rename, ...).
    #[error("{path}: {op}: {source}", path = path.display())]
    Io {
        /// File or directory the operation was on.
        path: PathBuf,
        /// The step that failed, for example `"fsync temp file"`.
        op: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The path given to [`SnapshotStore::open`] exists but is not a directory.
    #[error("{path}: not a directory", path = path.display())]
    NotADirectory {
        /// The offending path.
        path: PathBuf,
    },
    /// The file does not start with [`MAGIC`]; it is not a snapshot file at all.
    #[error("{path}: bad magic {found:02x?}, not a snapshot file", path = path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first eight bytes actually found.
        found: [u8; 8],
    },
    /// The file was written by a different format version. Checked before the header checksum,
    /// because another version may lay its header out differently.
    #[error(
        "{path}: unsupported snapshot format version {found} (this build reads version {supported})",
        path = path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Version stored in the file.
        found: u32,
        /// Version this build understands.
        supported: u32,
    },
    /// The header bytes do not match their checksum: the header is corrupt.
    #[error(
        "{path}: header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})",
        path = path.display()
    )]
    HeaderChecksum {
        /// The file.
        path: PathBuf,
        /// Checksum stored at offset 68.
        stored: u32,
        /// Checksum of bytes `0..68` as read.
        computed: u32,
    },
    /// The payload does not match the checksum in the header: the payload is corrupt.
    #[error(
        "{path}: payload checksum mismatch (header says {stored:#010x}, payload has {computed:#010x})",
        path = path.display()
    )]
    PayloadChecksum {
        /// The file.
        path: PathBuf,
        /// Checksum stored in the header.
        stored: u32,
        /// Checksum of the payload as read.
        computed: u32,
    },
    /// The file is shorter than its header (or than 72 bytes) says it must be.
    #[error(
        "{path}: truncated: file has {actual} bytes, expected {expected}",
        path = path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Size the file should have.
        expected: u64,
        /// Size it has.
        actual: u64,
    },
    /// The file is longer than its header says; something appended to it or the header's
    /// payload length is wrong, so it cannot be trusted.
    #[error(
        "{path}: trailing data: file has {actual} bytes, header says {expected}",
        path = path.display()
    )]
    TrailingBytes {
        /// The file.
        path: PathBuf,
        /// Size the header implies.
        expected: u64,
        /// Size it has.
        actual: u64,
    },
    /// The header's shard or position disagrees with the file name (a file copied or renamed by
    /// hand); restoring from it could replay the journal from the wrong place.
    #[error(
        "{path}: file name says shard {name_shard} position {name_position}, \
         header says shard {header_shard} position {header_position}",
        path = path.display()
    )]
    NameMismatch {
        /// The file.
        path: PathBuf,
        /// Shard from the file name.
        name_shard: u32,
        /// Position from the file name.
        name_position: u64,
        /// Shard from the header.
        header_shard: u32,
        /// Position from the header.
        header_position: u64,
    },
    /// A streaming write produced a different number of payload bytes than announced; the
    /// serializer and the caller disagree, so the snapshot is not committed.
    #[error(
        "{path}: payload length mismatch: announced {expected} bytes, written {actual}",
        path = path.display()
    )]
    LengthMismatch {
        /// The temp file (already removed).
        path: PathBuf,
        /// Length passed as the hint.
        expected: u64,
        /// Length actually written.
        actual: u64,
    },
}

/// The identity of a snapshot: which shard, up to where in its journal, and the state digest
/// the engine computed, so that a restore can verify it rebuilt the same state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnapshotHeader {
    /// Shard whose state this is.
    pub shard: u32,
    /// Seq of the last journal record included in the state; replay starts after it.
    pub position: u64,
    /// Digest of the state (opaque to this crate).
    pub digest: [u8; 32],
}

/// A snapshot file on disk, as seen by [`SnapshotStore::list`] and returned by writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SnapshotInfo {
    /// Full path of the file.
    pub path: PathBuf,
    /// Shard (name and header agree).
    pub shard: u32,
    /// Journal position (name and header agree).
    pub position: u64,
    /// Total file size in bytes, header included.
    pub bytes: u64,
}

/// Result of [`SnapshotStore::load_newest_valid`].
#[derive(Debug)]
pub struct Loaded {
    /// Header of the snapshot that was loaded.
    pub header: SnapshotHeader,
    /// Its verified payload.
    pub payload: Vec<u8>,
    /// The file it came from.
    pub path: PathBuf,
    /// Newer snapshots that were tried first and rejected, newest first, with the reason.
    pub skipped: Vec<(PathBuf, SnapshotError)>,
}

/// Result of [`SnapshotStore::load_newest_accepted`].
#[derive(Debug)]
pub struct Accepted<T> {
    /// The decoded newest acceptable snapshot, its header and file.
    pub found: Option<(T, SnapshotHeader, PathBuf)>,
    /// Newer snapshots refused, newest first, with the reason.
    pub skipped: Vec<(PathBuf, SnapshotError)>,
}

/// Snapshot files of any number of shards in one directory.
///
/// The store holds no open files or caches, only the directory path: every call looks at the
/// directory afresh, so it is cheap to clone and safe to use from several threads.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
}

/// Header fields as stored, before they are checked against anything but the header checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawHeader {
    header: SnapshotHeader,
    payload_len: u64,
    payload_crc: u32,
}

impl RawHeader {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..OFF_VERSION].copy_from_slice(&MAGIC);
        b[OFF_VERSION..OFF_SHARD].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[OFF_SHARD..OFF_POSITION].copy_from_slice(&self.header.shard.to_le_bytes());
        b[OFF_POSITION..OFF_DIGEST].copy_from_slice(&self.header.position.to_le_bytes());
        b[OFF_DIGEST..OFF_PAYLOAD_LEN].copy_from_slice(&self.header.digest);
        b[OFF_PAYLOAD_LEN..OFF_PAYLOAD_CRC].copy_from_slice(&self.payload_len.to_le_bytes());
        b[OFF_PAYLOAD_CRC..OFF_HEADER_CRC].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32c::crc32c(&b[..OFF_HEADER_CRC]);
        b[OFF_HEADER_CRC..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Checks magic, then version, then the header checksum, in that order: the magic says
    /// whether this is a snapshot at all, and the version says how to read the rest.
    fn decode(path: &Path, b: &[u8; HEADER_LEN]) -> Result<Self, SnapshotError> {
        let magic: [u8; 8] = field(b, 0);
        if magic != MAGIC {
            return Err(SnapshotError::BadMagic { path: path.to_path_buf(), found: magic });
        }
        let version = u32::from_le_bytes(field(b, OFF_VERSION));
        if version != FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let stored = u32::from_le_bytes(field(b, OFF_HEADER_CRC));
        let computed = crc32c::crc32c(&b[..OFF_HEADER_CRC]);
        if stored != computed {
            return Err(SnapshotError::HeaderChecksum { path: path.to_path_buf(), stored, computed });
        }
        Ok(RawHeader {
            header: SnapshotHeader {
                shard: u32::from_le_bytes(field(b, OFF_SHARD)),
                position: u64::from_le_bytes(field(b, OFF_POSITION)),
                digest: field(b, OFF_DIGEST),
            },
            payload_len: u64::from_le_bytes(field(b, OFF_PAYLOAD_LEN)),
            payload_crc: u32::from_le_bytes(field(b, OFF_PAYLOAD_CRC)),
        })
    }

    fn file_len(&self) -> u64 {
        (HEADER_LEN as u64).saturating_add(self.payload_len)
    }
}

/// Copies `N` bytes at `off` out of the header; offsets are constants, so this cannot fail.
fn field<const N: usize>(b: &[u8; HEADER_LEN], off: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[off..off + N]);
    out
}

/// Final file name of a snapshot.
fn snapshot_name(shard: u32, position: u64) -> String {
    format!("{NAME_PREFIX}{shard:04}-{position:020}{NAME_SUFFIX}")
}

/// Parses `shard-<shard>-<position>.snap`, accepting only the exact form [`snapshot_name`]
/// produces, so that stray files such as `shard-1-2.snap` or `shard-0001-...snap.bak` are
/// ignored rather than misread.
fn parse_snapshot_name(name: &str) -> Option<(u32, u64)> {
    let rest = name.strip_prefix(NAME_PREFIX)?.strip_suffix(NAME_SUFFIX)?;
    let (shard, position) = rest.split_once('-')?;
    if !is_digits(shard) || !is_digits(position) {
        return None;
    }
    let shard: u32 = shard.parse().ok()?;
    let position: u64 = position.parse().ok()?;
    (snapshot_name(shard, position) == name).then_some((shard, position))
}

/// Parses a temp file name and returns the shard it belongs to.
fn parse_temp_name(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (final_part, _) = rest.split_once(TEMP_MARKER)?;
    parse_snapshot_name(&format!("{final_part}{NAME_SUFFIX}")).map(|(shard, _)| shard)
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

fn in_flight() -> MutexGuard<'static, Option<HashSet<PathBuf>>> {
    // A panic while holding this lock cannot leave the set inconsistent (single insert/remove).
    IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Owns a temp file while it is being written: registers it as in flight, and on drop
/// unregisters it and, unless it was renamed into place, deletes it, so a failed write leaves
/// nothing behind.
struct TempGuard {
    path: PathBuf,
    committed: bool,
}

impl TempGuard {
    fn new(path: PathBuf) -> Self {
        in_flight().get_or_insert_with(HashSet::new).insert(path.clone());
        TempGuard { path, committed: false }
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: if this fails the file is a leftover that prune will remove.
            let _ = fs::remove_file(&self.path);
        }
        if let Some(set) = in_flight().as_mut() {
            set.remove(&self.path);
        }
    }
}

/// Passes payload bytes through while computing their length and crc32c, so a streaming write
/// never needs the whole payload in memory.
struct PayloadWriter<W> {
    inner: W,
    crc: u32,
    len: u64,
}

impl<W: Write> Write for PayloadWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn io_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> SnapshotError + 'a {
    move |source| SnapshotError::Io { path: path.to_path_buf(), op, source }
}

/// Makes a rename or unlink in `dir` durable. Only meaningful (and only possible) on Unix;
/// elsewhere the rename itself is the best available guarantee.
fn sync_dir(dir: &Path) -> Result<(), SnapshotError> {
    #[cfg(unix)]
    {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir, "fsync directory"))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Opens `path` and reads and checks its header and file size, leaving the file positioned at
/// the start of the payload.
fn open_checked(path: &Path) -> Result<(File, RawHeader, u64), SnapshotError> {
    let mut file = File::open(path).map_err(io_err(path, "open"))?;
    let actual = file.metadata().map_err(io_err(path, "stat"))?.len();
    if actual < HEADER_LEN as u64 {
        return Err(SnapshotError::Truncated { path: path.to_path_buf(), expected: HEADER_LEN as u64, actual });
    }
    let mut buf = [0u8; HEADER_LEN];
    file.read_exact(&mut buf).map_err(io_err(path, "read header"))?;
    let raw = RawHeader::decode(path, &buf)?;
    let expected = raw.file_len();
    if actual < expected {
        return Err(SnapshotError::Truncated { path: path.to_path_buf(), expected, actual });
    }
    if actual > expected {
        return Err(SnapshotError::TrailingBytes { path: path.to_path_buf(), expected, actual });
    }
    Ok((file, raw, actual))
}

fn check_name(path: &Path, name: (u32, u64), header: &SnapshotHeader) -> Result<(), SnapshotError> {
    if name != (header.shard, header.position) {
        return Err(SnapshotError::NameMismatch {
            path: path.to_path_buf(),
            name_shard: name.0,
            name_position: name.1,
            header_shard: header.shard,
            header_position: header.position,
        });
    }
    Ok(())
}

/// A snapshot file found by name, not yet opened.
struct Entry {
    path: PathBuf,
    shard: u32,
    position: u64,
}

impl SnapshotStore {
    /// Opens (creating if missing) the snapshot directory `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, SnapshotError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_err(&dir, "create directory"))?;
        let meta = fs::metadata(&dir).map_err(io_err(&dir, "stat directory"))?;
        if !meta.is_dir() {
            return Err(SnapshotError::NotADirectory { path: dir });
        }
        Ok(SnapshotStore { dir })
    }

    /// The directory this store manages.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path the snapshot of `shard` at `position` has (whether or not it exists).
    pub fn path_for(&self, shard: u32, position: u64) -> PathBuf {
        self.dir.join(snapshot_name(shard, position))
    }

    /// Durably writes a snapshot whose payload is already in memory. See [`Self::write_with`].
    pub fn write(&self, header: &SnapshotHeader, payload: &[u8]) -> Result<SnapshotInfo, SnapshotError> {
        self.write_with(header, Some(payload.len() as u64), |w| w.write_all(payload))
    }

    /// Durably writes a snapshot whose payload `fill` streams into the given writer, so a large
    /// state can be serialized straight to disk without an intermediate buffer. The writer is
    /// buffered; `fill` need not buffer or flush.
    ///
    /// If `expected_len` is given and `fill` writes a different number of bytes, nothing is
    /// committed and [`SnapshotError::LengthMismatch`] is returned.
    ///
    /// The payload goes to a temp file behind a placeholder header; once `fill` is done the real
    /// header (with length and crc computed on the way) is written at offset 0, the file is
    /// fsynced, renamed to its final name, and the directory is fsynced. On any error the temp
    /// file is removed and no existing snapshot is touched.
    pub fn write_with<F>(
        &self,
        header: &SnapshotHeader,
        expected_len: Option<u64>,
        fill: F,
    ) -> Result<SnapshotInfo, SnapshotError>
    where
        F: FnOnce(&mut dyn Write) -> io::Result<()>,
    {
        let final_name = snapshot_name(header.shard, header.position);
        let final_path = self.dir.join(&final_name);
        let temp_path = self.dir.join(format!(
            ".{}{}{}-{}",
            final_name.strip_suffix(NAME_SUFFIX).unwrap_or(final_name.as_str()),
            TEMP_MARKER,
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let tp = temp_path.as_path();
        let mut guard = TempGuard::new(temp_path.clone());

        let file = OpenOptions::new().write(true).create_new(true).open(tp).map_err(io_err(tp, "create temp file"))?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        out.write_all(&[0u8; HEADER_LEN]).map_err(io_err(tp, "write placeholder header"))?;
        let mut payload = PayloadWriter { inner: &mut out, crc: 0, len: 0 };
        fill(&mut payload).map_err(io_err(tp, "write payload"))?;
        let (payload_crc, payload_len) = (payload.crc, payload.len);
        if let Some(expected) = expected_len {
            if expected != payload_len {
                return Err(SnapshotError::LengthMismatch { path: temp_path.clone(), expected, actual: payload_len });
            }
        }
        let mut file = out.into_inner().map_err(|e| io_err(tp, "flush payload")(e.into_error()))?;

        let raw = RawHeader { header: *header, payload_len, payload_crc };
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&raw.encode()))
            .map_err(io_err(tp, "write header"))?;
        file.sync_all().map_err(io_err(tp, "fsync temp file"))?;
        drop(file);

        fs::rename(tp, &final_path).map_err(io_err(tp, "rename into place"))?;
        guard.committed = true;
        drop(guard);
        sync_dir(&self.dir)?;

        Ok(SnapshotInfo { path: final_path, shard: header.shard, position: header.position, bytes: raw.file_len() })
    }

    /// Snapshot files found by name (temp and foreign files ignored), sorted by
    /// (shard, position), optionally restricted to one shard.
    fn scan(&self, shard: Option<u32>) -> Result<Vec<Entry>, SnapshotError> {
        let mut out = Vec::new();
        let rd = fs::read_dir(&self.dir).map_err(io_err(&self.dir, "read directory"))?;
        for ent in rd {
            let ent = ent.map_err(io_err(&self.dir, "read directory"))?;
            let Some((s, position)) = ent.file_name().to_str().and_then(parse_snapshot_name) else {
                continue;
            };
            if shard.is_some_and(|want| want != s) {
                continue;
            }
            out.push(Entry { path: ent.path(), shard: s, position });
        }
        out.sort_by_key(|e| (e.shard, e.position));
        Ok(out)
    }

    /// Lists snapshot files sorted by (shard, position), all shards or just one.
    ///
    /// Each file's header is read and checked (magic, version, header checksum, size, agreement
    /// with the name) but payloads are not read, so listing stays cheap however big the states
    /// are. A file that fails these checks makes the whole listing fail with an error naming it,
    /// because a listing that silently omits files would mislead an operator; use
    /// [`Self::load_newest_valid`] to restore in the presence of bad files.
    pub fn list(&self, shard: Option<u32>) -> Result<Vec<SnapshotInfo>, SnapshotError> {
        self.scan(shard)?
            .into_iter()
            .map(|e| {
                let (_, raw, bytes) = open_checked(&e.path)?;
                check_name(&e.path, (e.shard, e.position), &raw.header)?;
                Ok(SnapshotInfo { path: e.path, shard: e.shard, position: e.position, bytes })
            })
            .collect()
    }

    /// Reads and fully verifies one snapshot file: magic, version, header checksum, file size
    /// against the payload length, and payload checksum. The file name is not interpreted, so
    /// any path may be given.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<(SnapshotHeader, Vec<u8>), SnapshotError> {
        let path = path.as_ref();
        let (mut file, raw, _) = open_checked(path)?;
        // The size check in open_checked bounds the allocation by the real file size.
        let len = usize::try_from(raw.payload_len).map_err(|_| {
            io_err(path, "allocate payload")(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "payload larger than the address space",
            ))
        })?;
        let mut payload = vec![0u8; len];
        file.read_exact(&mut payload).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                // The file shrank between the size check and the read.
                SnapshotError::Truncated {
                    path: path.to_path_buf(),
                    expected: raw.file_len(),
                    actual: file.metadata().map_or(0, |m| m.len()),
                }
            } else {
                io_err(path, "read payload")(e)
            }
        })?;
        let computed = crc32c::crc32c(&payload);
        if computed != raw.payload_crc {
            return Err(SnapshotError::PayloadChecksum { path: path.to_path_buf(), stored: raw.payload_crc, computed });
        }
        Ok((raw.header, payload))
    }

    /// Loads `entry` and checks that its header agrees with its name.
    fn load_entry(&self, e: &Entry) -> Result<(SnapshotHeader, Vec<u8>), SnapshotError> {
        let (header, payload) = self.load(&e.path)?;
        check_name(&e.path, (e.shard, e.position), &header)?;
        Ok((header, payload))
    }

    /// Loads the newest snapshot of `shard` that passes every check, trying newest first.
    ///
    /// Rejected newer files, including ones that could not be read at all, are reported in
    /// [`Loaded::skipped`] rather than failing the restore: the journal still holds everything
    /// after the older snapshot. Returns `Ok(None)` if the shard has no valid snapshot (the
    /// caller then replays from the start of the journal); only a failure to read the directory
    /// itself is an error.
    pub fn load_newest_valid(&self, shard: u32) -> Result<Option<Loaded>, SnapshotError> {
        let Accepted { found, skipped } = self.load_newest_accepted(shard, |_, payload| Ok(payload))?;
        Ok(found.map(|(payload, header, path)| Loaded { header, payload, path, skipped }))
    }

    /// Like [`Self::load_newest_valid`], but the caller decodes each candidate's payload and may
    /// refuse it (`Err(reason)`), in which case the next older snapshot is tried. Everything
    /// refused is reported, also when nothing was accepted.
    pub fn load_newest_accepted<T>(
        &self,
        shard: u32,
        mut decode: impl FnMut(&SnapshotHeader, Vec<u8>) -> Result<T, String>,
    ) -> Result<Accepted<T>, SnapshotError> {
        let mut skipped = Vec::new();
        for e in self.scan(Some(shard))?.into_iter().rev() {
            match self.load_entry(&e) {
                Ok((header, payload)) => match decode(&header, payload) {
                    Ok(value) => return Ok(Accepted { found: Some((value, header, e.path)), skipped }),
                    Err(reason) => skipped.push((e.path.clone(), SnapshotError::Rejected { path: e.path, reason })),
                },
                Err(err) => skipped.push((e.path, err)),
            }
        }
        Ok(Accepted { found: None, skipped })
    }

    /// Removes all but the newest `keep` snapshots of `shard`, plus leftover temp files of that
    /// shard from interrupted writes (not those of writes in flight in this process). Returns
    /// the removed paths.
    ///
    /// The newest *valid* snapshot is always kept, even with `keep == 0` or when newer files are
    /// corrupt, so pruning can never leave a shard without a restore point. Finding it reads and
    /// verifies snapshots newest first until one passes, which normally means one file.
    pub fn prune(&self, shard: u32, keep: usize) -> Result<Vec<PathBuf>, SnapshotError> {
        let entries = self.scan(Some(shard))?;
        let newest_valid = entries.iter().rev().find(|e| self.load_entry(e).is_ok()).map(|e| e.path.clone());
        let first_kept = entries.len().saturating_sub(keep);

        let mut victims: Vec<PathBuf> =
            entries.into_iter().take(first_kept).map(|e| e.path).filter(|p| Some(p) != newest_valid.as_ref()).collect();

        let rd = fs::read_dir(&self.dir).map_err(io_err(&self.dir, "read directory"))?;
        let mut temps = Vec::new();
        for ent in rd {
            let ent = ent.map_err(io_err(&self.dir, "read directory"))?;
            if ent.file_name().to_str().and_then(parse_temp_name) == Some(shard) {
                temps.push(ent.path());
            }
        }
        {
            let flying = in_flight();
            temps.retain(|p| !flying.as_ref().is_some_and(|set| set.contains(p)));
        }
        temps.sort();
        victims.extend(temps);

        let mut removed = Vec::with_capacity(victims.len());
        for path in victims {
            match fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                // Someone else removed it first; the outcome is what we wanted.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&path, "remove")(e)),
            }
        }
        if !removed.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawHeader {
        RawHeader {
            header: SnapshotHeader { shard: 7, position: 0x0102_0304_0506_0708, digest: [0xAB; 32] },
            payload_len: 1234,
            payload_crc: 0xDEAD_BEEF,
        }
    }

    #[test]
    fn header_round_trips_at_documented_offsets() {
        let r = raw();
        let b = r.encode();
        assert_eq!(&b[0..8], b"CRPSNAP1");
        assert_eq!(b[8..12], 5u32.to_le_bytes());
        assert_eq!(b[12..16], 7u32.to_le_bytes());
        assert_eq!(b[16..24], 0x0102_0304_0506_0708u64.to_le_bytes());
        assert_eq!(b[24..56], [0xAB; 32]);
        assert_eq!(b[56..64], 1234u64.to_le_bytes());
        assert_eq!(b[64..68], 0xDEAD_BEEFu32.to_le_bytes());
        assert_eq!(b[68..72], crc32c::crc32c(&b[..68]).to_le_bytes());
        assert_eq!(RawHeader::decode(Path::new("x"), &b).unwrap(), r);
    }

    #[test]
    fn every_header_bit_flip_is_detected() {
        let b = raw().encode();
        for bit in 0..HEADER_LEN * 8 {
            let mut c = b;
            c[bit / 8] ^= 1 << (bit % 8);
            let err = RawHeader::decode(Path::new("x"), &c).unwrap_err();
            let expected_kind = match bit / 8 {
                0..8 => matches!(err, SnapshotError::BadMagic { .. }),
                8..12 => matches!(err, SnapshotError::UnsupportedVersion { .. }),
                _ => matches!(err, SnapshotError::HeaderChecksum { .. }),
            };
            assert!(expected_kind, "bit {bit}: {err}");
        }
    }

    #[test]
    fn names_round_trip_and_strays_are_ignored() {
        assert_eq!(snapshot_name(3, 1234), "shard-0003-00000000000000001234.snap");
        assert_eq!(parse_snapshot_name("shard-0003-00000000000000001234.snap"), Some((3, 1234)));
        let big = snapshot_name(u32::MAX, u64::MAX);
        assert_eq!(parse_snapshot_name(&big), Some((u32::MAX, u64::MAX)));
        for stray in [
            "shard-3-1234.snap",
            "shard-0003-1234.snap",
            "shard-0003-00000000000000001234.snap.bak",
            "shard-+003-00000000000000001234.snap",
            "shard-0003-00000000000000001234",
            ".shard-0003-00000000000000001234.snap.tmp-1-0",
            "notes.txt",
        ] {
            assert_eq!(parse_snapshot_name(stray), None, "{stray}");
        }
        assert_eq!(parse_temp_name(".shard-0003-00000000000000001234.snap.tmp-99-5"), Some(3));
        assert_eq!(parse_temp_name("shard-0003-00000000000000001234.snap"), None);
    }

    #[test]
    fn payload_writer_crc_matches_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut w = PayloadWriter { inner: Vec::new(), crc: 0, len: 0 };
        for chunk in data.chunks(37) {
            w.write_all(chunk).unwrap();
        }
        assert_eq!(w.len, data.len() as u64);
        assert_eq!(w.crc, crc32c::crc32c(&data));
        assert_eq!(w.inner, data);
    }
}
