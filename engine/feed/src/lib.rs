//! A shard's durable events as whole commands, for every reader of the journals (push,
//! projections, the CLI): the journal is followed with a [`TailReader`] (only sealed,
//! chain-checked records, and with [`ShardFeed::follow_durable`] only what the shard has made
//! durable), its parts are reassembled with the store codec's [`Assembler`], and commands an
//! operator set aside (the skip file) are passed over as restore passes over them. A reader
//! sees a command's events all at once, at the journal position of the command's last record.
//!
//! Every reader names what events number through one [`Directory`].
//!
//! Never writes: the journal is the outbox, and a reader only reads it from its own stored
//! position, so a stopped or slow reader costs the shards nothing.

mod directory;

pub use directory::{CurrencyName, Directory};

use croupier_domain::event::Event;
use croupier_journal::{DurableWatch, JournalError, TailReader};
use croupier_store::codec::{Assembled, Assembler};
use croupier_store::{journal_dir, skipped_positions};
use std::collections::BTreeSet;
use std::path::Path;

pub use croupier_store::layout::shards;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("shard {shard}: journal: {source}")]
    Journal { shard: u32, source: JournalError },
    #[error("shard {shard}: record {seq} does not decode: {reason}")]
    Decode { shard: u32, seq: u64, reason: String },
    #[error("shard {shard}: {reason}")]
    Skip { shard: u32, reason: String },
}

/// One shard's journal, read as whole commands.
pub struct ShardFeed {
    shard: u32,
    tail: TailReader,
    asm: Assembler,
    /// Position of the last whole command returned.
    position: u64,
    /// Commands an operator set aside (`croupier journal skip`): restore does not apply
    /// them, so no projection may show them. Read at open; the file changes only while
    /// `serve` is stopped.
    skipped: Result<BTreeSet<u64>, String>,
}

/// What one [`ShardFeed::read`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Read {
    pub commands: u64,
    pub events: u64,
    /// The journal held no further sealed record when the read stopped.
    pub caught_up: bool,
}

impl ShardFeed {
    /// Follows `shard`'s journal after position `after` (the last command already projected).
    pub fn open(data_dir: &Path, shard: u32, after: u64) -> Self {
        let journal = journal_dir(data_dir, shard);
        ShardFeed {
            shard,
            skipped: skipped_positions(&journal).map_err(|e| e.to_string()),
            tail: TailReader::open(journal, after + 1),
            asm: Assembler::default(),
            position: after,
        }
    }

    /// Reads only what `watch` says is durable: nothing a power cut could still take away,
    /// nor (in `fsync` mode) anything before its caller was answered.
    pub fn follow_durable(mut self, watch: DurableWatch) -> Self {
        self.tail = self.tail.follow_durable(watch);
        self
    }

    pub fn shard(&self) -> u32 {
        self.shard
    }

    /// Position of the last record read (parts of a command not yet whole included).
    pub fn last_seq(&self) -> u64 {
        self.tail.last_seq()
    }

    /// Position of the last whole command returned.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Calls `f(position, events)` for each whole command until at least `max_events` events
    /// were passed or the journal holds no more sealed records. A command is never split.
    pub fn read(&mut self, max_events: u64, mut f: impl FnMut(u64, &[Event])) -> Result<Read, FeedError> {
        let mut out = Read::default();
        let shard = self.shard;
        let skipped = match &self.skipped {
            Ok(s) => s,
            Err(reason) => return Err(FeedError::Skip { shard, reason: reason.clone() }),
        };
        while out.events < max_events {
            let rec = match self.tail.poll() {
                Ok(Some(r)) => r,
                Ok(None) => {
                    out.caught_up = true;
                    break;
                }
                Err(source) => return Err(FeedError::Journal { shard, source }),
            };
            let seq = rec.seq;
            match self.asm.push(seq, rec.payload) {
                Ok(Assembled::Partial) => {}
                Ok(Assembled::Command { .. }) if skipped.contains(&seq) => self.position = seq,
                Ok(Assembled::Command { events, .. }) => {
                    out.commands += 1;
                    out.events += events.len() as u64;
                    self.position = seq;
                    f(seq, events);
                }
                Err(e) => return Err(FeedError::Decode { shard, seq, reason: e.to_string() }),
            }
        }
        Ok(out)
    }
}
