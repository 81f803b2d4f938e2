//! Segmented append-only journal of opaque byte records in mmap'd files.
//!
//! The journal knows nothing about what it stores: records are byte payloads numbered densely
//! from 1. It exists so a shard can answer a caller only once the caller's records are safe,
//! and so that a restart, an audit or a projector can read them back exactly.
//!
//! - [`Journal`]: the single writer. `append` copies into the segment's memory (no allocation,
//!   no hashing, no system call); `commit` ends a batch with a seal carrying the sha256 hash
//!   chain. In [`Durability::Process`] mode that memory is the segment file mapped shared, so a
//!   commit is durable against a crash of the process at once. In [`Durability::Fsync`] mode it
//!   is anonymous memory, and a flusher thread writes each group of commits to the file with
//!   direct I/O and `O_DSYNC` (group commit that follows the disk: the next sync starts as soon
//!   as the previous one ends) and advances the [`DurableWatch`]. `open` recovers: a torn tail
//!   is cut and reported, anything else that is damaged is an error naming the segment file and
//!   byte offset.
//! - [`JournalReader`]: zero-copy replay from read-only mappings.
//! - [`TailReader`]: follows a live journal, returning only sealed, chain-checked records.
//! - [`verify`]: full audit of framing, checksums and the hash chain.
//!
//! The on-disk format is described in detail in the `format` module source; in short: `<first_seq:020>.seg` files, a 72-byte
//! header (magic, version, index, first seq, carried chain value, crc), then 8-byte aligned
//! frames `len:u32 | crc32c:u32 | seq:u64 | payload`, where a set top bit in `len` marks a seal.
#![deny(missing_docs)]
mod ahead;
mod error;
mod flusher;
mod format;
mod reader;
mod scan;
mod segment;
mod tail;
mod verify;
mod watch;
mod writer;

pub use error::{Corruption, JournalError, Result};
pub use format::{to_hex, ChainValue, CHAIN_LEN, HEADER_LEN};
pub use reader::{JournalReader, Record, Records};
pub use tail::TailReader;
pub use verify::{verify, VerifyReport};
pub use watch::DurableWatch;
pub use writer::{Durability, Journal, JournalConfig, OpenReport, TailCut, MIN_SEGMENT_BYTES};
