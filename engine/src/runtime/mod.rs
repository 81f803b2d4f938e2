//! The sharded runtime: N shard threads, each owning a [`DurableShard`] (its state and
//! journal), each fed by a bounded multi-producer ring.
//!
//! - **Intake.** [`Runtime::submit`] stamps the command with the [`Clock`] once, routes it
//!   ([`router`]) and pushes it into its shard's ring (every shard's, for a broadcast). The
//!   caller's [`Completion`] travels with it as an `Arc` clone: no allocation per command.
//! - **Shard thread.** Drains up to `batch_max` requests, runs them with
//!   [`DurableShard::execute_batch`] as one group commit, waits until the batch is durable
//!   (at once in `process` mode, after the group fsync in `fsync` mode) and only then completes
//!   the callers. An idle shard spins briefly, then parks; a producer unparks it after a push.
//!   Parking has a timeout as a safety net, so an idle shard wakes a few times a second and
//!   never spins unboundedly.
//! - **Backpressure.** A full ring refuses the command with [`Busy`], whose `retry_after_ms`
//!   is the ring depth times the shard's recent time per command (an exponentially weighted
//!   average over batches), at least 1 ms, at most 1 s; 1 ms until the shard has run a batch.
//!   An accepted command is never dropped: shutdown drains every ring before closing.
//! - **Broadcasts** are all-or-nothing at intake: if any ring is full the command is refused
//!   before it is pushed anywhere. Should a ring fill up in the tiny window between that check
//!   and the push (a race with other producers), the broadcast waits, with a sleeping backoff,
//!   for that shard to make room rather than be half accepted.
//! - **A shard failure** (a journal error poisons a [`DurableShard`]) answers the batch in
//!   flight and everything after it on that shard with [`Reject::ShardUnavailable`]: the
//!   outcome of those commands is known only after a restart. [`Runtime::shutdown`] returns
//!   the error.
//!
//! Not yet here (issue 5): messages between shards, hence no bookmaker bets or red packets
//! ([`Reject::NotRoutable`]), and no coordinator: a round broadcast is simply run by every
//! shard. The number of shards must stay the same across restarts of one data folder: users
//! are routed by a hash modulo the count.

mod completion;
pub mod router;

pub use completion::{AnswerFuture, Completion, CompletionSlot};
pub use router::{route, shard_of, Route};

use crate::durable::{Answer, DurableShard, RestoreReport, ShardConfig, ShardError};
use crate::ids::Timestamp;
use crate::state::{Capacity, State};
use crate::{Command, Reject};
use crossbeam_queue::ArrayQueue;
use croupier_journal::Durability;
use croupier_snapshots::SnapshotInfo;
use std::path::PathBuf;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where intake time comes from. The domain never reads a clock; the runtime stamps each
/// command once, when it is submitted.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// Milliseconds since the Unix epoch from the system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Timestamp(ms)
    }
}

/// A clock that says what it is told: for tests and simulations.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        ManualClock(AtomicU64::new(at.0))
    }

    pub fn set(&self, at: Timestamp) {
        self.0.store(at.0, Ordering::Release);
    }

    pub fn advance_ms(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::Acquire))
    }
}

#[derive(Clone)]
pub struct RuntimeConfig {
    /// Shard `i` keeps its journal in `<data_dir>/shard-<i>/journal`; snapshots share
    /// `<data_dir>/snapshots`.
    pub data_dir: PathBuf,
    /// Number of shard threads. Must not change across restarts of one data folder.
    pub shards: usize,
    pub durability: Durability,
    /// Requests each shard's ring holds before intake answers `BUSY`.
    pub ring_capacity: usize,
    /// Most requests one shard runs as one group commit.
    pub batch_max: usize,
    pub clock: Arc<dyn Clock>,
    /// Shard threads open and restore, then wait for [`Runtime::resume`] before draining their
    /// rings: for tests of backpressure, and for a server that must not serve before it is
    /// ready.
    pub start_paused: bool,
    pub segment_bytes: u64,
    pub fsync_interval: Duration,
    pub snapshot_every_records: Option<u64>,
    pub keep_snapshots: usize,
    /// Capacity hints per shard.
    pub capacity: Capacity,
}

impl RuntimeConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        let shard = ShardConfig::new(&data_dir, 0);
        RuntimeConfig {
            data_dir,
            shards: std::thread::available_parallelism().map_or(1, |n| n.get()),
            durability: shard.durability,
            ring_capacity: 65_536,
            batch_max: 256,
            clock: Arc::new(SystemClock),
            start_paused: false,
            segment_bytes: shard.segment_bytes,
            fsync_interval: shard.fsync_interval,
            snapshot_every_records: shard.snapshot_every_records,
            keep_snapshots: shard.keep_snapshots,
            capacity: shard.capacity,
        }
    }

    fn shard_config(&self, shard: usize) -> ShardConfig {
        let mut cfg = ShardConfig::new(&self.data_dir, shard as u32);
        cfg.durability = self.durability;
        cfg.segment_bytes = self.segment_bytes;
        cfg.fsync_interval = self.fsync_interval;
        cfg.snapshot_every_records = self.snapshot_every_records;
        cfg.keep_snapshots = self.keep_snapshots;
        cfg.capacity = self.capacity;
        cfg
    }
}

/// A full ring: the command was not accepted; try again after `retry_after_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("busy: retry after {retry_after_ms} ms")]
pub struct Busy {
    pub retry_after_ms: u64,
}

impl From<Busy> for Reject {
    fn from(b: Busy) -> Reject {
        Reject::Busy { retry_after_ms: b.retry_after_ms }
    }
}

/// What a shard's thread did when it stopped.
#[derive(Clone, Debug)]
pub struct ShardStopped {
    pub shard: u32,
    /// Journal position of the last record applied.
    pub position: u64,
    /// The snapshot written at shutdown, if one was asked for and the state had moved.
    pub snapshot: Option<SnapshotInfo>,
}

type Inspect = Box<dyn FnOnce(&State) + Send>;

enum Job {
    Command { now: Timestamp, cmd: Command, slot: Completion },
    Inspect(Inspect),
}

/// What a shard thread and the producers share.
struct Lane {
    ring: ArrayQueue<Job>,
    /// Set while the thread parks (or is about to): a producer that pushes then unparks it.
    sleeping: AtomicBool,
    /// Recent time per command in nanoseconds (EWMA); 0 until a batch has run.
    ns_per_command: AtomicU64,
}

/// Settings every shard thread reads.
struct Control {
    paused: AtomicBool,
    stop: AtomicBool,
    snapshot_on_stop: AtomicBool,
}

struct ShardHandle {
    lane: Arc<Lane>,
    thread: JoinHandle<Result<ShardStopped, ShardError>>,
}

pub struct Runtime {
    shards: Vec<ShardHandle>,
    control: Arc<Control>,
    clock: Arc<dyn Clock>,
}

/// How long an idle shard parks before it looks again on its own.
const PARK: Duration = Duration::from_millis(50);
/// Empty polls before an idle shard parks.
const SPINS: u32 = 64;
const MAX_RETRY_AFTER_MS: u64 = 1_000;

impl Runtime {
    /// Opens and restores every shard (in parallel, one thread each) and starts serving.
    /// Returns the shards' restore reports in shard order.
    pub fn start(cfg: RuntimeConfig) -> Result<(Runtime, Vec<RestoreReport>), ShardError> {
        assert!(cfg.shards > 0, "a runtime needs at least one shard");
        assert!(cfg.ring_capacity > 0 && cfg.batch_max > 0, "ring capacity and batch size must be positive");
        let control = Arc::new(Control {
            paused: AtomicBool::new(cfg.start_paused),
            stop: AtomicBool::new(false),
            snapshot_on_stop: AtomicBool::new(false),
        });
        let mut shards = Vec::with_capacity(cfg.shards);
        let mut opened = Vec::with_capacity(cfg.shards);
        let mut spawn_error = None;
        for i in 0..cfg.shards {
            let lane = Arc::new(Lane {
                ring: ArrayQueue::new(cfg.ring_capacity),
                sleeping: AtomicBool::new(false),
                ns_per_command: AtomicU64::new(0),
            });
            let (tx, rx) = mpsc::sync_channel(1);
            let shard_cfg = cfg.shard_config(i);
            let (thread_lane, thread_control, batch_max) = (lane.clone(), control.clone(), cfg.batch_max);
            let spawned = std::thread::Builder::new().name(format!("shard-{i}")).spawn(move || {
                let (shard, report) = match DurableShard::open(shard_cfg) {
                    Ok(opened) => opened,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return Err(e);
                    }
                };
                let _ = tx.send(Ok(report));
                run_shard(i as u32, shard, &thread_lane, &thread_control, batch_max)
            });
            match spawned {
                Ok(thread) => {
                    shards.push(ShardHandle { lane, thread });
                    opened.push(rx);
                }
                Err(e) => {
                    spawn_error = Some(ShardError::SnapshotThread(format!("cannot start shard thread {i}: {e}")));
                    break;
                }
            }
        }
        let mut reports = Vec::with_capacity(cfg.shards);
        let mut failed = spawn_error.is_some();
        for rx in opened {
            match rx.recv() {
                Ok(Ok(report)) => reports.push(report),
                _ => failed = true,
            }
        }
        let mut runtime = Runtime { shards, control, clock: cfg.clock };
        if failed {
            // Stop the shards that did open; report the first error in shard order.
            let results = runtime.stop_and_join(false);
            let first = results.into_iter().find_map(Result::err);
            return Err(spawn_error.or(first).unwrap_or(ShardError::Poisoned));
        }
        Ok((runtime, reports))
    }

    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Where `cmd` goes in this runtime.
    pub fn route(&self, cmd: &Command) -> Route {
        route(cmd, self.shards.len())
    }

    /// Lets paused shard threads drain their rings (see [`RuntimeConfig::start_paused`]).
    pub fn resume(&self) {
        self.control.paused.store(false, Ordering::SeqCst);
        for s in &self.shards {
            s.thread.thread().unpark();
        }
    }

    /// Stamps `cmd` with the clock, routes it and hands it to its shard (every shard, for a
    /// broadcast). The answer arrives in `slot`: take it with [`CompletionSlot::wait`]. A
    /// command that cannot be routed is answered at once with [`Reject::NotRoutable`]. A full
    /// ring refuses the command with [`Busy`] and leaves the slot free.
    ///
    /// Panics if `slot` still holds a command that was not answered and taken.
    pub fn submit(&self, slot: &Completion, cmd: Command) -> Result<(), Busy> {
        match self.route(&cmd) {
            Route::NotRoutable => {
                slot.answer_now(Err(Reject::NotRoutable));
                Ok(())
            }
            Route::Shard(i) => {
                let now = self.clock.now();
                slot.arm(1);
                let lane = &self.shards[i].lane;
                if let Err(job) = lane.ring.push(Job::Command { now, cmd, slot: slot.clone() }) {
                    drop(job);
                    slot.disarm();
                    return Err(self.busy(i));
                }
                self.wake(i);
                Ok(())
            }
            Route::Broadcast => self.broadcast(slot, cmd),
        }
    }

    fn broadcast(&self, slot: &Completion, cmd: Command) -> Result<(), Busy> {
        if let Some(full) = self.shards.iter().position(|s| s.lane.ring.is_full()) {
            return Err(self.busy(full));
        }
        let now = self.clock.now();
        let n = self.shards.len();
        slot.arm(n as u32);
        let mut cmd = Some(cmd);
        for i in 0..n {
            let c = if i + 1 == n { cmd.take().expect("last shard") } else { cmd.clone().expect("kept") };
            let mut job = Job::Command { now, cmd: c, slot: slot.clone() };
            let mut backoff = Duration::from_micros(20);
            loop {
                match self.shards[i].lane.ring.push(job) {
                    Ok(()) => break,
                    Err(back) if i == 0 => {
                        drop(back);
                        slot.disarm();
                        return Err(self.busy(0));
                    }
                    Err(back) => {
                        // Earlier shards accepted it: it must reach this one too.
                        job = back;
                        self.wake(i);
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_millis(1));
                    }
                }
            }
            self.wake(i);
        }
        Ok(())
    }

    /// Submits `cmd` through a fresh slot and waits for its answer; a full ring answers
    /// [`Reject::Busy`]. Allocates a slot per call: for tests, tools and rare commands.
    pub fn call(&self, cmd: Command) -> Answer {
        let slot = CompletionSlot::new();
        self.submit(&slot, cmd)?;
        slot.wait()
    }

    /// Runs `f` on shard `shard`'s thread, between batches, and returns its result: to read
    /// a shard's state (digests, invariants, balances) without stopping it. Waits for the shard
    /// to reach it, so do not call it while the runtime is paused.
    pub fn inspect<R: Send + 'static>(
        &self,
        shard: usize,
        f: impl FnOnce(&State) -> R + Send + 'static,
    ) -> Result<R, Busy> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Inspect = Box::new(move |state| {
            let _ = tx.send(f(state));
        });
        if self.shards[shard].lane.ring.push(Job::Inspect(job)).is_err() {
            return Err(self.busy(shard));
        }
        self.wake(shard);
        Ok(rx.recv().expect("a shard thread runs every inspection it accepted"))
    }

    /// Runs `f` on shard `shard`'s thread between batches, without waiting for it: for async
    /// callers (the gateway), which send the result back through a channel of their own. `f`
    /// must be quick: the shard runs nothing else meanwhile. A full ring refuses with [`Busy`].
    pub fn inspect_then(&self, shard: usize, f: impl FnOnce(&State) + Send + 'static) -> Result<(), Busy> {
        if self.shards[shard].lane.ring.push(Job::Inspect(Box::new(f))).is_err() {
            return Err(self.busy(shard));
        }
        self.wake(shard);
        Ok(())
    }

    /// Stops accepting (it takes the runtime), drains every ring so that every accepted
    /// command is answered, closes each shard (with a last snapshot when `snapshot`) and joins
    /// the threads. Returns what each shard did, or the first shard's error.
    pub fn shutdown(mut self, snapshot: bool) -> Result<Vec<ShardStopped>, ShardError> {
        self.stop_and_join(snapshot).into_iter().collect()
    }

    fn stop_and_join(&mut self, snapshot: bool) -> Vec<Result<ShardStopped, ShardError>> {
        self.control.snapshot_on_stop.store(snapshot, Ordering::SeqCst);
        self.control.stop.store(true, Ordering::SeqCst);
        self.control.paused.store(false, Ordering::SeqCst);
        for s in &self.shards {
            s.thread.thread().unpark();
        }
        self.shards
            .drain(..)
            .map(|s| match s.thread.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    }

    #[inline]
    fn wake(&self, shard: usize) {
        let s = &self.shards[shard];
        // Pairs with the fence in `park_idle`: either the shard sees the pushed job, or we see
        // that it is going to sleep and unpark it.
        fence(Ordering::SeqCst);
        if s.lane.sleeping.load(Ordering::Relaxed) {
            s.thread.thread().unpark();
        }
    }

    fn busy(&self, shard: usize) -> Busy {
        let lane = &self.shards[shard].lane;
        let ns = lane.ns_per_command.load(Ordering::Relaxed);
        let retry_after_ms = if ns == 0 {
            1
        } else {
            (lane.ring.len() as u64).saturating_mul(ns).div_ceil(1_000_000).clamp(1, MAX_RETRY_AFTER_MS)
        };
        Busy { retry_after_ms }
    }
}

impl Drop for Runtime {
    /// A runtime dropped without [`Runtime::shutdown`] still drains and closes its shards (no
    /// snapshot); errors are lost, so prefer `shutdown`.
    fn drop(&mut self) {
        if !self.shards.is_empty() {
            let _ = self.stop_and_join(false);
        }
    }
}

/// Buffers one shard thread reuses for every batch.
struct Batch {
    commands: Vec<(Timestamp, Command)>,
    slots: Vec<Completion>,
    answers: Vec<Answer>,
}

fn run_shard(
    index: u32,
    mut shard: DurableShard,
    lane: &Lane,
    control: &Control,
    batch_max: usize,
) -> Result<ShardStopped, ShardError> {
    let watch = shard.durable_watch();
    let mut batch = Batch {
        commands: Vec::with_capacity(batch_max),
        slots: Vec::with_capacity(batch_max),
        answers: Vec::with_capacity(batch_max),
    };
    let mut failure: Option<ShardError> = None;
    let mut idle_polls = 0u32;
    loop {
        if control.paused.load(Ordering::Acquire) && !control.stop.load(Ordering::Acquire) {
            std::thread::park_timeout(PARK);
            continue;
        }
        while batch.commands.len() < batch_max {
            match lane.ring.pop() {
                Some(Job::Command { now, cmd, slot }) => {
                    batch.commands.push((now, cmd));
                    batch.slots.push(slot);
                }
                Some(Job::Inspect(f)) => {
                    run_batch(index, &mut shard, &watch, lane, &mut batch, &mut failure);
                    f(shard.state());
                }
                None => break,
            }
        }
        if !batch.commands.is_empty() {
            run_batch(index, &mut shard, &watch, lane, &mut batch, &mut failure);
            idle_polls = 0;
            continue;
        }
        if control.stop.load(Ordering::Acquire) {
            // Nobody can submit any more (shutdown owns the runtime): an empty ring is final.
            if lane.ring.is_empty() {
                break;
            }
            continue;
        }
        if idle_polls < SPINS {
            idle_polls += 1;
            std::hint::spin_loop();
            continue;
        }
        park_idle(lane, control);
        idle_polls = 0;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let position = shard.position();
    let snapshot = shard.close(control.snapshot_on_stop.load(Ordering::Acquire))?;
    Ok(ShardStopped { shard: index, position, snapshot })
}

fn park_idle(lane: &Lane, control: &Control) {
    lane.sleeping.store(true, Ordering::Relaxed);
    fence(Ordering::SeqCst);
    if lane.ring.is_empty() && !control.stop.load(Ordering::Acquire) {
        std::thread::park_timeout(PARK);
    }
    lane.sleeping.store(false, Ordering::Relaxed);
}

/// Runs the drained commands as one group commit and completes their callers once the group
/// is durable.
fn run_batch(
    index: u32,
    shard: &mut DurableShard,
    watch: &croupier_journal::DurableWatch,
    lane: &Lane,
    batch: &mut Batch,
    failure: &mut Option<ShardError>,
) {
    if batch.commands.is_empty() {
        return;
    }
    let started = Instant::now();
    batch.answers.clear();
    let outcome = if failure.is_some() {
        Err(None)
    } else {
        shard
            .execute_batch(&batch.commands, &mut batch.answers)
            .and_then(|position| watch.wait(position).map_err(ShardError::from))
            .map_err(Some)
    };
    match outcome {
        Ok(()) => {
            debug_assert_eq!(batch.answers.len(), batch.slots.len());
            for (slot, answer) in batch.slots.drain(..).zip(batch.answers.drain(..)) {
                slot.complete(index, answer);
            }
        }
        Err(e) => {
            if let Some(e) = e {
                *failure = Some(e);
            }
            batch.answers.clear();
            for slot in batch.slots.drain(..) {
                slot.complete(index, Err(Reject::ShardUnavailable));
            }
        }
    }
    let n = batch.commands.len() as u64;
    batch.commands.clear();
    let per_command = (started.elapsed().as_nanos() as u64 / n).max(1);
    let old = lane.ns_per_command.load(Ordering::Relaxed);
    let new = if old == 0 { per_command } else { (old * 7 + per_command) / 8 };
    lane.ns_per_command.store(new.max(1), Ordering::Relaxed);
}
