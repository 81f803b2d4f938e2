//! How far a projector is behind the journals: records not yet projected, and for how long.

use crate::db::Positions;
use crate::{Db, ProjectError};
use croupier_feed::shards as shard_ids;
use croupier_journal::TailReader;
use croupier_store::journal_dir;
use serde::Serialize;
use std::path::Path;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ShardLag {
    pub shard: u32,
    /// Last sealed record of the shard's journal.
    pub journal_position: u64,
    /// Last record projected.
    pub projected_position: u64,
    pub records_behind: u64,
    /// Events in the records behind: counted by `status` (which reads them), not by a live
    /// projector (`None`).
    pub events_behind: Option<u64>,
    /// How long the oldest record not projected has been waiting (0 when caught up).
    pub seconds_behind: f64,
}

/// The last sealed record of a journal directory (0 if it holds none): reads its last segment.
pub fn journal_end(dir: &Path) -> Result<u64, croupier_journal::JournalError> {
    let first = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.strip_suffix(".seg")?.parse::<u64>().ok())
            .max(),
        Err(_) => None,
    };
    let Some(first) = first else { return Ok(0) };
    let mut tail = TailReader::open(dir, first);
    while tail.poll()?.is_some() {}
    Ok(tail.last_seq())
}

/// Follows a journal's end incrementally (the live projector's lag), remembering when it first
/// saw each stretch of records so the age of the oldest unprojected one is known.
pub(crate) struct EndTracker {
    tail: TailReader,
    /// (last sequence seen, when), oldest first; trimmed as the projector passes them.
    seen: std::collections::VecDeque<(u64, std::time::Instant)>,
}

impl EndTracker {
    pub(crate) fn open(dir: &Path, after: u64) -> Self {
        EndTracker { tail: TailReader::open(dir, after + 1), seen: Default::default() }
    }

    /// Reads what was appended since the last call; returns the end.
    pub(crate) fn refresh(&mut self) -> Result<u64, croupier_journal::JournalError> {
        let before = self.tail.last_seq();
        while self.tail.poll()?.is_some() {}
        let end = self.tail.last_seq();
        if end > before {
            self.seen.push_back((end, std::time::Instant::now()));
        }
        Ok(end)
    }

    /// Records behind and seconds behind for a projector at `position`.
    pub(crate) fn lag(&mut self, position: u64) -> (u64, f64) {
        let end = self.tail.last_seq();
        while self.seen.front().is_some_and(|&(s, _)| s <= position) {
            self.seen.pop_front();
        }
        if end <= position {
            return (0, 0.0);
        }
        // The oldest stretch holding an unprojected record was first seen at its timestamp.
        let secs = self.seen.front().map_or(0.0, |&(_, t)| t.elapsed().as_secs_f64());
        (end - position, secs)
    }
}

/// Lag of the SQL projection at `sql_url` behind every shard of `data_dir` (offline: the age is
/// taken from the first unprojected record's event time, when its events carry one).
pub async fn status(data_dir: &Path, sql_url: &str) -> Result<Vec<ShardLag>, ProjectError> {
    let db = Db::connect(sql_url).await?;
    db.migrate().await?;
    let positions = db.positions().await?;
    db.close().await;
    lags_at(data_dir, &positions)
}

/// Lag of every shard of `data_dir` for projector `positions` (offline).
pub fn lags_at(data_dir: &Path, positions: &Positions) -> Result<Vec<ShardLag>, ProjectError> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let mut out = Vec::new();
    for shard in shard_ids(data_dir)? {
        let dir = journal_dir(data_dir, shard);
        let end = journal_end(&dir).map_err(|source| ProjectError::Journal { shard, source })?;
        let projected = positions.get(&shard).map_or(0, |p| p.0);
        let mut seconds = 0.0;
        let mut events_behind = 0;
        if end > projected {
            // Counts the events behind and finds the first event time among them.
            let mut src = croupier_feed::ShardFeed::open(data_dir, shard, projected);
            let mut first_at = None;
            events_behind = src
                .read(u64::MAX, |_, events| {
                    if first_at.is_none() {
                        first_at = events.iter().find_map(event_at);
                    }
                })?
                .events;
            if let Some(at) = first_at {
                seconds = ((now - at).max(0) as f64) / 1000.0;
            }
        }
        out.push(ShardLag {
            shard,
            journal_position: end,
            projected_position: projected,
            records_behind: end.saturating_sub(projected),
            events_behind: Some(events_behind),
            seconds_behind: seconds,
        });
    }
    Ok(out)
}

fn event_at(e: &croupier_domain::Event) -> Option<i64> {
    use croupier_domain::Event::*;
    match e {
        BetAccepted(b) => Some(b.at.0 as i64),
        BetSettled { at, .. } | BetResettled { at, .. } | RoundStatusChanged { at, .. } | RoundDrawn { at, .. } => {
            Some(at.0 as i64)
        }
        RoundOpened { bet_start, .. } => Some(bet_start.0 as i64),
        RedPacketSent(p) => Some(p.sent_at.0 as i64),
        Instant(e) => e.at().map(|t| t.0 as i64),
        // Events that carry no time of their own; named so a new event must choose.
        Configured(_)
        | CurrencyDefined { .. }
        | GameDefined { .. }
        | AccountOpened { .. }
        | Deposited { .. }
        | Withdrawn { .. }
        | LimitsSet { .. }
        | SelfExcluded { .. }
        | PartnerRefundRemembered { .. }
        | PartnerRefundRememberedFor { .. }
        | PartnerTransactionRecorded { .. }
        | RedPacketGrabbed { .. }
        | RedPacketExpired { .. }
        | TopologySet(_)
        | TransferSent { .. }
        | TransferReceived { .. }
        | TransfersAcked { .. }
        | RedPacketRecipients { .. } => None,
        Crash(c) => c.at().map(|t| t.0 as i64),
    }
}
