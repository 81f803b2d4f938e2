//! Typed errors. Corruption always names the segment file and byte offset so an operator can
//! look at the exact bytes; I/O errors name the file and the operation that failed.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An operating-system call failed.
    #[error("{op} {path}: {source}", path = .path.display())]
    Io {
        /// What we were doing (e.g. "open", "msync").
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The on-disk data is damaged, tampered with or incomplete in a way that is not a torn tail.
    #[error("corrupt journal segment {segment} at byte offset {offset}: {reason}", segment = .segment.display())]
    Corrupt {
        /// The segment file holding the first problem.
        segment: PathBuf,
        /// Byte offset inside that file of the first problem.
        offset: u64,
        /// What is wrong there.
        reason: Corruption,
    },

    /// A payload does not fit into a segment (or exceeds the 31-bit length field).
    #[error("record of {len} bytes is larger than the maximum of {max} bytes")]
    RecordTooLarge {
        /// Payload length asked for.
        len: usize,
        /// Largest payload this journal accepts.
        max: usize,
    },

    /// `wait_durable` was asked for a sequence number that has not been committed yet, which
    /// would otherwise block forever.
    #[error("sequence {seq} is not committed (last committed is {committed})")]
    NotCommitted {
        /// The sequence asked for.
        seq: u64,
        /// The highest committed sequence.
        committed: u64,
    },

    /// Records before `first` are no longer in the directory (archived or never written).
    #[error("sequence {seq} is not available: the journal starts at {first}")]
    SeqUnavailable {
        /// The sequence asked for.
        seq: u64,
        /// The first sequence present.
        first: u64,
    },

    /// Another `Journal` holds the directory lock.
    #[error("journal directory {dir} is locked by another writer", dir = .dir.display())]
    Locked {
        /// The journal directory.
        dir: PathBuf,
    },

    /// A background sync failed. After a failed fsync the kernel may have dropped dirty pages,
    /// so the journal refuses further work rather than pretending the data is durable.
    #[error("journal flush failed, journal is poisoned: {reason}")]
    FlushFailed {
        /// Text of the underlying error.
        reason: String,
    },

    /// The journal was closed while a waiter was waiting for durability.
    #[error("journal closed before sequence {seq} became durable")]
    Closed {
        /// The sequence that was awaited.
        seq: u64,
    },

    /// The configuration cannot work.
    #[error("invalid journal configuration: {0}")]
    InvalidConfig(String),
}

/// Why a region of a segment is considered corrupt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Corruption {
    /// The segment header does not start with the journal magic.
    #[error("bad segment magic")]
    BadMagic,
    /// The segment was written by an unknown format version.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u32),
    /// The header checksum does not match.
    #[error("segment header checksum mismatch")]
    HeaderChecksum,
    /// The file is too short to hold a header or is not what its name says.
    #[error("bad segment file: {0}")]
    BadSegmentFile(String),
    /// A record frame's checksum does not match its contents.
    #[error("record checksum mismatch")]
    RecordChecksum,
    /// A record's length field is impossible (too large for the segment, or a malformed seal).
    #[error("bad record length {0}")]
    BadLength(u32),
    /// Sequence numbers are not dense.
    #[error("expected sequence {expected}, found {found}")]
    SeqGap {
        /// The sequence that should come next.
        expected: u64,
        /// The sequence found.
        found: u64,
    },
    /// A seal does not name the last record before it, or seals nothing.
    #[error("seal for sequence {found} does not close the batch ending at {expected}")]
    SealMismatch {
        /// Sequence of the last record before the seal.
        expected: u64,
        /// Sequence written in the seal.
        found: u64,
    },
    /// The hash chain recomputed over the sealed records differs from the seal.
    #[error("hash chain mismatch")]
    ChainMismatch,
    /// A frame header is all zeros although data follows it.
    #[error("zeroed frame header")]
    ZeroedFrameHeader,
    /// A valid frame follows a damaged one, so the damage is not a torn tail.
    #[error("{damage}, yet a valid frame follows at offset {next_valid}: not a torn tail")]
    DamagedBeforeValid {
        /// What is wrong at the reported offset.
        damage: Box<Corruption>,
        /// Offset of the first valid frame after the damage.
        next_valid: u64,
    },
    /// A closed (non-last) segment ends with records no seal covers, or has garbage after its end.
    #[error("closed segment is not properly sealed: {0}")]
    UnsealedSegment(String),
    /// Consecutive segments do not link: a segment is missing, reordered or replaced.
    #[error("segment chain broken: {0}")]
    SegmentLink(String),
}

impl JournalError {
    /// Builds an [`JournalError::Io`] error; used with `map_err`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| JournalError::Io { op, path, source }
    }
}

/// Result alias for this crate.
pub type Result<T, E = JournalError> = std::result::Result<T, E>;
