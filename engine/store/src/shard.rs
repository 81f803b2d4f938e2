//! A durable shard: the engine behind a journal and snapshots.
//!
//! Per command: `decide` → `evolve` → the events are appended to the journal (as one or
//! more parts, see [`codec`]) → the answer is released once the records meet the durability
//! setting. A record enters the journal only once applying it succeeded. Restore is the newest snapshot whose state reproduces its recorded digest, plus
//! `evolve` over every whole command journaled after it.
//!
//! This module does I/O and starts a snapshot thread; the domain never depends on it.

use crate::codec;
use crate::layout::{journal_dir, skipped_positions, snapshot_dir};
use croupier_domain::ids::Timestamp;
use croupier_domain::state::{Capacity, State};
use croupier_domain::{Command, Engine, Event, Reject, Reply};
use croupier_journal::{Durability, DurableWatch, Journal, JournalConfig, JournalError, JournalReader, TailCut};
use croupier_snapshots::{SnapshotError, SnapshotHeader, SnapshotInfo, SnapshotStore};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
    #[error("snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("journal record {seq} does not decode: {reason}")]
    Decode { seq: u64, reason: String },
    #[error("snapshot {path} is at position {snapshot} but the journal ends at {journal}: records are missing")]
    SnapshotAhead { path: PathBuf, snapshot: u64, journal: u64 },
    #[error("the shard stopped after an earlier failure; restart it to restore")]
    Poisoned,
    /// Applying a decided command failed (a bug: `decide` bounds everything `evolve` does).
    /// The command was not journaled, so a restart restores the state before it.
    #[error("applying the command after journal position {after} failed: {reason}; it was not journaled and nobody was told it happened; restart the shard to restore")]
    ApplyFailed { after: u64, reason: String },
    /// A journal record that restore cannot apply (written by a version with a bug, or edited).
    #[error("journal record {seq} of shard {shard} cannot be applied: {reason}; `croupier journal skip --shard {shard} --position {seq}` sets it aside (see ARCHITECTURE.md, failure model)")]
    Unappliable { shard: u32, seq: u64, reason: String },
    #[error("the shard thread panicked: {0}")]
    Panicked(String),
    #[error(transparent)]
    Layout(#[from] crate::layout::LayoutError),
    #[error("snapshot thread failed: {0}")]
    SnapshotThread(String),
    #[error("cannot start shard thread {shard}: {reason}")]
    Spawn { shard: u32, reason: String },
    #[error("the data folder was made for another shard count: {0}")]
    Topology(String),
}

#[derive(Clone, Debug)]
pub struct ShardConfig {
    pub data_dir: PathBuf,
    pub shard: u32,
    pub durability: Durability,
    pub segment_bytes: u64,
    /// `fsync`: how long the journal holds a group back to gather more commits; zero (the
    /// default) syncs as soon as the previous sync ends (see `JournalConfig::fsync_interval`).
    pub fsync_interval: Duration,
    /// Start a snapshot after this many journal records since the last one; `None`: only on
    /// request and at a clean shutdown.
    pub snapshot_every_records: Option<u64>,
    /// Snapshots kept per shard; older ones are pruned after each write.
    pub keep_snapshots: usize,
    pub capacity: Capacity,
}

impl ShardConfig {
    pub fn new(data_dir: impl Into<PathBuf>, shard: u32) -> Self {
        ShardConfig {
            data_dir: data_dir.into(),
            shard,
            durability: Durability::Fsync,
            segment_bytes: 64 << 20,
            fsync_interval: Duration::ZERO,
            snapshot_every_records: Some(1_000_000),
            keep_snapshots: 3,
            capacity: Capacity::default(),
        }
    }

    pub fn journal_dir(&self) -> PathBuf {
        journal_dir(&self.data_dir, self.shard)
    }

    fn journal_config(&self) -> JournalConfig {
        let mut j = JournalConfig::new(self.journal_dir());
        j.durability = self.durability;
        j.segment_bytes = self.segment_bytes;
        j.fsync_interval = self.fsync_interval;
        j
    }
}

/// The text of a panic's payload, for errors and logs.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// What a restore found and did.
#[derive(Clone, Debug, Default)]
pub struct RestoreReport {
    pub shard: u32,
    /// The snapshot restored from and its journal position.
    pub snapshot: Option<(PathBuf, u64)>,
    /// Newer snapshots refused, with the reason.
    pub skipped_snapshots: Vec<(PathBuf, String)>,
    pub records_replayed: u64,
    pub events_replayed: u64,
    pub commands_replayed: u64,
    /// Commands whose parts stopped short (never acknowledged): (first position, parts).
    pub aborted_commands: Vec<(u64, u32)>,
    /// Commands an operator set aside with `croupier journal skip` (positions of their last
    /// records): read, not applied.
    pub skipped_commands: Vec<u64>,
    /// Journal position of the last record read (parts of an aborted command included).
    pub position: u64,
    /// Journal position of the last record of the last whole command applied: the state is
    /// exactly the state the live shard had there.
    pub applied_position: u64,
    pub digest: [u8; 32],
    /// A torn tail the journal cut on open.
    pub cut: Option<TailCut>,
    /// Time to load and check the snapshot, and to replay the journal after it.
    pub snapshot_seconds: f64,
    pub replay_seconds: f64,
}

/// Restores a state from a snapshot store and a journal directory, without opening the
/// journal for writing: used by `open`, and by audits of a copied data folder. A record that
/// does not decode or cannot be applied is an error naming the shard and position, never a
/// panic; commands in the skip file are read and not applied.
pub fn replay_into(
    state: &mut State,
    journal: &Path,
    after: u64,
    report: &mut RestoreReport,
    mut on_command: impl FnMut(u64, &[Event]),
) -> Result<(), ShardError> {
    if !journal.exists() {
        return Ok(());
    }
    let reader = JournalReader::open(journal)?;
    let skipped = skipped_positions(journal)?;
    let mut assembler = codec::Assembler::default();
    // Whole commands are gathered into a window and applied with look-ahead prefetching, as
    // the live path does, so that replay overlaps its cache misses too.
    let mut window = ReplayWindow::default();
    for record in reader.iter_from(after + 1) {
        let record = record?;
        let assembled = assembler
            .push(record.seq, record.payload)
            .map_err(|e| ShardError::Decode { seq: record.seq, reason: e.to_string() })?;
        report.records_replayed += 1;
        report.position = record.seq;
        if let codec::Assembled::Command { events, aborted } = assembled {
            report.aborted_commands.extend(aborted);
            if skipped.contains(&record.seq) {
                report.skipped_commands.push(record.seq);
                continue;
            }
            window.events.extend_from_slice(events);
            window.ends.push((window.events.len(), record.seq));
            if window.events.len() >= ReplayWindow::EVENTS {
                window.apply(state, report, &mut on_command)?;
            }
        }
    }
    window.apply(state, report, &mut on_command)?;
    report.aborted_commands.extend(assembler.unfinished());
    Ok(())
}

/// Commands decoded but not yet applied during a replay.
#[derive(Default)]
struct ReplayWindow {
    events: Vec<Event>,
    /// Per command: the end of its events in `events`, and the position of its last record.
    ends: Vec<(usize, u64)>,
}

impl ReplayWindow {
    const EVENTS: usize = 1024;
    const AHEAD: usize = 8;

    fn apply(
        &mut self,
        state: &mut State,
        report: &mut RestoreReport,
        on_command: &mut impl FnMut(u64, &[Event]),
    ) -> Result<(), ShardError> {
        let mut start = 0;
        for &(end, seq) in &self.ends {
            let events = &self.events;
            let applied = catch_unwind(AssertUnwindSafe(|| {
                for i in start..end {
                    if let Some(ahead) = events.get(i + Self::AHEAD) {
                        state.prefetch_event(ahead);
                    }
                    croupier_domain::evolve(state, &events[i]);
                }
            }));
            if let Err(panic) = applied {
                return Err(ShardError::Unappliable { shard: report.shard, seq, reason: panic_message(&*panic) });
            }
            report.events_replayed += (end - start) as u64;
            report.commands_replayed += 1;
            report.applied_position = seq;
            on_command(seq, &self.events[start..end]);
            start = end;
        }
        self.events.clear();
        self.ends.clear();
        Ok(())
    }
}

fn restore(cfg: &ShardConfig, store: &SnapshotStore, journal_last: u64) -> Result<(State, RestoreReport), ShardError> {
    let mut report = RestoreReport { shard: cfg.shard, ..Default::default() };
    let started = Instant::now();
    let found = store.load_newest_accepted(cfg.shard, |header, payload| {
        let state = State::from_canonical_bytes(&payload).map_err(|e| format!("state does not decode: {e}"))?;
        if state.digest() != header.digest {
            return Err("decoded state does not reproduce the header's digest".to_string());
        }
        Ok(state)
    })?;
    report.skipped_snapshots = found.skipped.into_iter().map(|(p, e)| (p, e.to_string())).collect();
    let (mut state, after) = match found.found {
        Some((state, header, path)) => {
            if header.position > journal_last {
                return Err(ShardError::SnapshotAhead { path, snapshot: header.position, journal: journal_last });
            }
            report.snapshot = Some((path, header.position));
            (state, header.position)
        }
        None => (State::with_capacity(cfg.capacity), 0),
    };
    report.position = after;
    report.applied_position = after;
    report.snapshot_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    // Every record after the snapshot may be a bet: size the indexes once for them, up to a
    // bound, so that a journal never snapshotted does not reserve gigabytes it may not need.
    const MAX_RESERVE: u64 = 4 << 20;
    let coming = (journal_last - after).min(MAX_RESERVE) as usize;
    state.reserve(Capacity { bets: coming, accounts: 0 });
    replay_into(&mut state, &cfg.journal_dir(), after, &mut report, |_, _| {})?;
    report.replay_seconds = started.elapsed().as_secs_f64();
    report.digest = state.digest();
    Ok((state, report))
}

pub struct DurableShard {
    cfg: ShardConfig,
    engine: Engine,
    journal: Journal,
    store: SnapshotStore,
    buf: Vec<u8>,
    /// Journal position of the last record applied.
    position: u64,
    snapshot_position: u64,
    writer: Option<JoinHandle<Result<SnapshotInfo, ShardError>>>,
    poisoned: bool,
    /// Tests: the next `evolve` panics, as a bug in it would.
    #[cfg(test)]
    fault_in_evolve: bool,
    /// Tests: the next `decide` panics.
    #[cfg(test)]
    fault_in_decide: bool,
}

/// The result of one command on a durable shard: the engine's answer, or a reject.
pub type Answer = Result<Reply, Reject>;

impl DurableShard {
    /// Opens (creating if needed) and restores the shard.
    pub fn open(cfg: ShardConfig) -> Result<(DurableShard, RestoreReport), ShardError> {
        let (journal, opened) = Journal::open(cfg.journal_config())?;
        let store = SnapshotStore::open(snapshot_dir(&cfg.data_dir))?;
        let (state, mut report) = restore(&cfg, &store, journal.last_seq())?;
        report.cut = opened.cut;
        debug_assert_eq!(report.position, journal.last_seq(), "every record was read");
        let shard = DurableShard {
            position: journal.last_seq(),
            snapshot_position: report.snapshot.as_ref().map_or(0, |s| s.1),
            engine: Engine::new(state),
            journal,
            store,
            buf: Vec::with_capacity(4096),
            writer: None,
            poisoned: false,
            #[cfg(test)]
            fault_in_evolve: false,
            #[cfg(test)]
            fault_in_decide: false,
            cfg,
        };
        Ok((shard, report))
    }

    pub fn state(&self) -> &State {
        self.engine.state()
    }

    /// Journal position of the last record applied.
    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn config(&self) -> &ShardConfig {
        &self.cfg
    }

    pub fn durable_watch(&self) -> DurableWatch {
        self.journal.durable_watch()
    }

    /// One command, answered once durable. For throughput use [`Self::execute_batch`].
    pub fn execute(&mut self, cmd: &Command, now: Timestamp) -> Result<Answer, ShardError> {
        let answer = self.apply(cmd, now)?;
        let seq = self.journal.commit()?;
        self.journal.wait_durable(seq)?;
        self.after_commit()?;
        Ok(answer)
    }

    /// Decides, journals and applies a batch, then commits it as one group. Answers are
    /// pushed to `answers`; they may be released once the returned position is durable
    /// ([`Self::durable_watch`]), at once in `process` mode.
    pub fn execute_batch(
        &mut self,
        batch: &[(Timestamp, Command)],
        answers: &mut Vec<Answer>,
    ) -> Result<u64, ShardError> {
        for i in 0..batch.len() {
            self.engine.state().prefetch_ahead(batch, i);
            let (now, cmd) = &batch[i];
            answers.push(self.apply(cmd, *now)?);
        }
        let seq = self.journal.commit()?;
        self.after_commit()?;
        Ok(seq)
    }

    /// decide → evolve → journal. A record enters the journal only once applying it
    /// succeeded, so no bug in `evolve` can write a record that every restore trips over
    /// again. A panic in `decide` (pure, it changed nothing) refuses that command with
    /// `INTERNAL_ERROR` and the shard goes on; a panic in `evolve` leaves the state
    /// half-changed and unjournaled, and a journal failure leaves state and journal in
    /// disagreement: both poison the shard, and only a restore may continue.
    fn apply(&mut self, cmd: &Command, now: Timestamp) -> Result<Answer, ShardError> {
        if self.poisoned {
            return Err(ShardError::Poisoned);
        }
        let engine = &mut self.engine;
        #[cfg(test)]
        let fault = std::mem::take(&mut self.fault_in_decide);
        let answer = match catch_unwind(AssertUnwindSafe(|| {
            #[cfg(test)]
            assert!(!fault, "injected fault in decide");
            engine.decide(cmd, now)
        })) {
            Ok(Ok(reply)) => reply,
            Ok(Err(reject)) => return Ok(Err(reject)),
            Err(_) => return Ok(Err(Reject::Internal)),
        };
        if self.engine.events().is_empty() {
            return Ok(Ok(answer));
        }
        let engine = &mut self.engine;
        #[cfg(test)]
        let fault = std::mem::take(&mut self.fault_in_evolve);
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| {
            #[cfg(test)]
            assert!(!fault, "injected fault in evolve");
            engine.apply_decided()
        })) {
            self.poisoned = true;
            return Err(ShardError::ApplyFailed { after: self.position, reason: panic_message(&*panic) });
        }
        let journal = &mut self.journal;
        let max = journal.max_payload();
        let mut last = self.position;
        let written = codec::encode(self.engine.events(), max, &mut self.buf, |part| {
            last = journal.append(part)?;
            Ok::<_, JournalError>(())
        });
        if let Err(e) = written {
            self.poisoned = true;
            return Err(e.into());
        }
        self.position = last;
        Ok(Ok(answer))
    }

    fn after_commit(&mut self) -> Result<(), ShardError> {
        let due = self.cfg.snapshot_every_records.is_some_and(|n| self.position - self.snapshot_position >= n);
        let idle = self.writer.as_ref().is_none_or(|w| w.is_finished());
        if due && idle {
            self.finish_snapshot()?;
            self.start_snapshot()?;
        }
        Ok(())
    }

    /// Starts writing a snapshot of the current state on a background thread and returns how
    /// long the shard was stalled (the copy). The file is written only once every record it
    /// covers is durable, so a snapshot is never ahead of the journal.
    pub fn start_snapshot(&mut self) -> Result<Duration, ShardError> {
        self.finish_snapshot()?;
        self.journal.commit()?;
        let started = Instant::now();
        let state = self.engine.state().snapshot_copy();
        let stall = started.elapsed();
        let (position, shard, keep) = (self.position, self.cfg.shard, self.cfg.keep_snapshots);
        let store = self.store.clone();
        let watch = self.journal.durable_watch();
        self.snapshot_position = position;
        let writer = std::thread::Builder::new()
            .name(format!("snapshot-{shard}"))
            .spawn(move || {
                watch.wait(position)?;
                let header = SnapshotHeader { shard, position, digest: state.digest() };
                let info = store
                    .write_with(&header, None, |w| bincode::serialize_into(w, &state).map_err(std::io::Error::other))?;
                store.prune(shard, keep)?;
                Ok(info)
            })
            .map_err(|e| ShardError::SnapshotThread(e.to_string()))?;
        self.writer = Some(writer);
        Ok(stall)
    }

    /// Whether a snapshot is still being written (starting another would wait for it).
    pub fn snapshot_in_flight(&self) -> bool {
        self.writer.as_ref().is_some_and(|w| !w.is_finished())
    }

    /// Waits for the snapshot in flight, if any, and returns what it wrote.
    pub fn finish_snapshot(&mut self) -> Result<Option<SnapshotInfo>, ShardError> {
        match self.writer.take() {
            None => Ok(None),
            Some(w) => w.join().map_err(|_| ShardError::SnapshotThread("panicked".into()))?.map(Some),
        }
    }

    /// Clean shutdown: a last snapshot (when asked), then the journal is synced and closed.
    pub fn close(mut self, snapshot: bool) -> Result<Option<SnapshotInfo>, ShardError> {
        self.journal.commit()?;
        let info = if snapshot && self.position > self.snapshot_position {
            self.start_snapshot()?;
            self.finish_snapshot()?
        } else {
            self.finish_snapshot()?
        };
        self.journal.close()?;
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::testkit::{default_limits, deposit, setup_commands, CURRENCY};

    fn config(dir: &Path) -> ShardConfig {
        let mut cfg = ShardConfig::new(dir, 0);
        cfg.durability = Durability::Process;
        cfg.segment_bytes = 64 * 1024;
        cfg.snapshot_every_records = None;
        cfg
    }

    fn balance(shard: &DurableShard, user: u64) -> Option<i64> {
        let s = shard.state();
        let cur = s.currency_by_code(&croupier_domain::testkit::code(CURRENCY))?;
        s.account_of(croupier_domain::UserId(user), cur).map(|a| s.account(a).balance().0)
    }

    /// A panic in `evolve` happens before the journal sees the command: the shard fails, and
    /// a restart restores exactly the state before that command, with nothing to trip over.
    #[test]
    fn a_panic_in_evolve_journals_nothing_and_poisons_the_shard() {
        let dir = tempfile::tempdir().unwrap();
        let (mut shard, _) = DurableShard::open(config(dir.path())).unwrap();
        for c in setup_commands(default_limits()).iter().chain([&deposit(1, 500, 1)]) {
            shard.execute(c, Timestamp(0)).unwrap().unwrap();
        }
        let (position, digest) = (shard.position(), shard.state().digest());
        shard.fault_in_evolve = true;
        let failed = shard.execute(&deposit(1, 7, 2), Timestamp(0));
        assert!(matches!(failed, Err(ShardError::ApplyFailed { after, .. }) if after == position), "{failed:?}");
        assert!(matches!(shard.execute(&deposit(1, 9, 3), Timestamp(0)), Err(ShardError::Poisoned)));
        drop(shard);
        let (shard, report) = DurableShard::open(config(dir.path())).unwrap();
        assert_eq!((report.position, shard.state().digest()), (position, digest));
        assert_eq!(balance(&shard, 1), Some(500));
        shard.close(false).unwrap();
    }

    /// `decide` is pure: a panic in it changed nothing, so the shard refuses that command
    /// and goes on.
    #[test]
    fn a_reject_for_a_bug_in_decide_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (mut shard, _) = DurableShard::open(config(dir.path())).unwrap();
        for c in setup_commands(default_limits()).iter().chain([&deposit(1, 500, 1)]) {
            shard.execute(c, Timestamp(0)).unwrap().unwrap();
        }
        let (position, digest) = (shard.position(), shard.state().digest());
        shard.fault_in_decide = true;
        let answer = shard.execute(&deposit(1, 7, 2), Timestamp(0)).unwrap();
        assert_eq!(answer.map_err(|r| r.code()), Err("INTERNAL_ERROR"));
        assert_eq!((shard.position(), shard.state().digest()), (position, digest));
        assert!(shard.execute(&deposit(1, 1, 3), Timestamp(0)).unwrap().is_ok(), "the shard goes on");
        assert_eq!(balance(&shard, 1), Some(501));
        shard.close(false).unwrap();
    }
}
