//! Reading a data folder's journals as whole commands: every shard's journal is followed with a
//! [`TailReader`] (only sealed, chain-checked records) and its parts are reassembled with the
//! engine codec's [`Assembler`], so a projector sees a command's events all at once, at the
//! journal position of the command's last record.

use crate::ProjectError;
use croupier_engine::durable::codec::{Assembled, Assembler};
use croupier_engine::durable::{journal_dir, skipped_positions};
use croupier_engine::event::Event;
use croupier_engine::runtime::SHARD_COUNT_FILE;
use croupier_journal::TailReader;
use std::collections::BTreeSet;
use std::path::Path;

/// The shards of a data folder: the count recorded in `<data>/shards`, else the `shard-*`
/// folders present.
pub fn shard_ids(data_dir: &Path) -> Result<Vec<u32>, ProjectError> {
    if let Ok(text) = std::fs::read_to_string(data_dir.join(SHARD_COUNT_FILE)) {
        let n: u32 = text.trim().parse().map_err(|_| {
            ProjectError::Data(format!("{} does not hold a shard count", data_dir.join(SHARD_COUNT_FILE).display()))
        })?;
        return Ok((0..n).collect());
    }
    let entries = std::fs::read_dir(data_dir)
        .map_err(|e| ProjectError::Data(format!("cannot read {}: {e}", data_dir.display())))?;
    let mut out: Vec<u32> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("shard-")?.parse().ok())
        .collect();
    out.sort_unstable();
    if out.is_empty() {
        return Err(ProjectError::Data(format!("{} holds no shard journals", data_dir.display())));
    }
    Ok(out)
}

/// One shard's journal, read as whole commands.
pub struct ShardSource {
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

/// What one [`ShardSource::read`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Read {
    pub commands: u64,
    pub events: u64,
    /// The journal held no further sealed record when the read stopped.
    pub caught_up: bool,
}

impl ShardSource {
    /// Follows `shard`'s journal after position `after` (the last command already projected).
    pub fn open(data_dir: &Path, shard: u32, after: u64) -> Self {
        let journal = journal_dir(data_dir, shard);
        ShardSource {
            shard,
            skipped: skipped_positions(&journal).map_err(|e| e.to_string()),
            tail: TailReader::open(journal, after + 1),
            asm: Assembler::default(),
            position: after,
        }
    }

    pub fn shard(&self) -> u32 {
        self.shard
    }

    /// Position of the last whole command returned.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Calls `f(position, events)` for each whole command until at least `max_events` events
    /// were passed or the journal holds no more sealed records. A command is never split.
    pub fn read(&mut self, max_events: u64, mut f: impl FnMut(u64, &[Event])) -> Result<Read, ProjectError> {
        let mut out = Read::default();
        let shard = self.shard;
        let skipped = match &self.skipped {
            Ok(s) => s,
            Err(reason) => return Err(ProjectError::Decode { shard, seq: 0, reason: reason.clone() }),
        };
        while out.events < max_events {
            let rec = match self.tail.poll() {
                Ok(Some(r)) => r,
                Ok(None) => {
                    out.caught_up = true;
                    break;
                }
                Err(source) => return Err(ProjectError::Journal { shard, source }),
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
                Err(e) => return Err(ProjectError::Decode { shard, seq, reason: e.to_string() }),
            }
        }
        Ok(out)
    }
}
