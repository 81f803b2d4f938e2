//! The sharded runtime: N shard threads, each owning a [`DurableShard`] (its state and
//! journal), each fed by a bounded multi-producer ring.
//!
//! - **Intake.** [`Runtime::submit`] stamps the command with the [`Clock`] once, routes it
//!   ([`router`]) and pushes it into its shard's ring (every shard's, for a broadcast). The
//!   caller's [`Completion`] travels with it as an `Arc` clone: no allocation per command.
//! - **Shard thread.** Drains up to `batch_max` jobs, runs the commands with
//!   [`DurableShard::execute_batch`] as one group commit, waits until the batch is durable
//!   (at once in `process` mode, after the group fsync in `fsync` mode) and only then completes
//!   the callers and forwards what the batch sent to other shards. An idle shard spins
//!   briefly, then parks until a producer unparks it, its next timer is due, or a safety
//!   timeout passes: it never spins unboundedly.
//! - **Readers** ([`Runtime::inspect_then`]) run on the shard thread against the state as
//!   executed, and their results are held with the newest pending batch and delivered after
//!   its answers once it is durable: a read never waits for a sync nor stops the shard, and
//!   never shows what a power cut could take away. [`Runtime::transfer_applied`] is the
//!   completion of a transfer on its receiving shard (applied by a durable batch).
//! - **Between shards** ([`links`]): a red-packet share grabbed by a user of another shard
//!   leaves as a numbered transfer, journaled on both sides and applied exactly once; the
//!   receiver acknowledges, and a restarting shard says hello so that its peers re-send what
//!   it has not applied. Messages travel through the same rings as commands; a full ring
//!   delays them (they wait in the sender's per-peer queue, in order), never drops them.
//! - **Timers** ([`timers`]): a round's coordinator shard closes its betting window with a
//!   `GameStop` broadcast at `bet_stop`; a pool's shard expires its packet. Each fired command
//!   is stamped with the clock once, like any other intake.
//! - **Backpressure.** A full ring refuses the command with [`Busy`], whose `retry_after_ms`
//!   is the ring depth times the shard's recent time per command (an exponentially weighted
//!   average over batches), at least 1 ms, at most 1 s; 1 ms until the shard has run a batch.
//!   An accepted command is never dropped: shutdown drains every ring before closing.
//! - **Broadcasts** are all-or-nothing at intake: if any ring is full the command is refused
//!   before it is pushed anywhere. Should a ring fill up in the tiny window between that check
//!   and the push (a race with other producers), the broadcast waits, with a sleeping backoff,
//!   for that shard to make room rather than be half accepted.
//! - **Rounds.** Every shard keeps a copy of each round and settles its own bets; the caller's
//!   completion merges the shards' answers, so a draw is answered once every shard has settled
//!   and reported its count of settled bets.
//! - **A shard failure** (a journal error poisons a [`DurableShard`]) answers the batch in
//!   flight and everything after it on that shard with [`Reject::ShardUnavailable`]: the
//!   outcome of those commands is known only after a restart. [`Runtime::shutdown`] returns
//!   the error.
//! - **Topology.** Each shard journals its place (`SetTopology`) first; a data folder
//!   reopened with another shard count is refused, since users are routed by a hash modulo
//!   the count.

mod arrivals;
mod completion;
pub mod links;
pub mod router;
pub mod timers;

pub use arrivals::TransferApplied;
pub use completion::{AnswerFuture, Completion, CompletionSlot};
pub use links::{Message, Outbox};
pub use router::{route, shard_of, Route};
pub use timers::{round_coordinator, Timer, Timers};

use crossbeam_queue::ArrayQueue;
use croupier_domain::command::Topology;
use croupier_domain::ids::Timestamp;
use croupier_domain::state::{Capacity, State};
use croupier_domain::{Command, Reject, Reply};
use croupier_journal::{Durability, DurableWatch};
use croupier_snapshots::SnapshotInfo;
use croupier_store::{Answer, DurableShard, RestoreReport, ShardConfig, ShardError};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{fence, AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread::{JoinHandle, Thread};
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

/// One shard's view of its links, as [`Runtime::links`] reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkCounters {
    /// Per peer: transfers sent, acknowledged by the peer, and applied from the peer.
    pub sent: Vec<u64>,
    pub acked: Vec<u64>,
    pub applied: Vec<u64>,
}

/// A reader: `read` runs on the shard thread against the state as executed so far; its
/// result is delivered (`deliver`) once every batch that state includes is durable. Dropped
/// without delivery if the shard fails, so the caller's channel closes.
trait Reader: Send {
    fn read(&mut self, state: &State);
    fn deliver(self: Box<Self>);
}

struct ReadThen<F, R, T> {
    read: Option<F>,
    result: Option<R>,
    then: T,
}

impl<F, R, T> Reader for ReadThen<F, R, T>
where
    F: FnOnce(&State) -> R + Send,
    R: Send,
    T: FnOnce(R) + Send,
{
    fn read(&mut self, state: &State) {
        if let Some(f) = self.read.take() {
            self.result = Some(f(state));
        }
    }

    fn deliver(self: Box<Self>) {
        let ReadThen { result, then, .. } = *self;
        if let Some(r) = result {
            then(r);
        }
    }
}

type Inspect = Box<dyn Reader>;

enum Job {
    /// `slot` is `None` for commands nobody waits for (timers, messages).
    Command {
        now: Timestamp,
        cmd: Command,
        slot: Option<Completion>,
    },
    Inspect(Inspect),
    Message(Message),
}

/// What a shard thread and the producers share.
struct Lane {
    ring: ArrayQueue<Job>,
    /// Set while the thread parks (or is about to): a producer that pushes then unparks it.
    sleeping: AtomicBool,
    /// Recent time per command in nanoseconds (EWMA); 0 until a batch has run.
    ns_per_command: AtomicU64,
    thread: OnceLock<Thread>,
    /// The shard's durable watermark, set once its journal is open (before `start` returns):
    /// readers that tail the journal (push, projections) publish nothing above it.
    durable: OnceLock<DurableWatch>,
    /// Why the shard stopped serving, once it has: intake then answers its callers
    /// `SHARD_UNAVAILABLE` at once, and health checks report it.
    failure: OnceLock<String>,
    /// How far this shard has durably applied each peer's transfers, and who waits for it.
    arrivals: arrivals::Arrivals,
}

/// Everything the runtime's handle and the shard threads share: every shard's lane (shards
/// push messages and timer broadcasts into each other's rings), the clock and the controls.
struct Mesh {
    lanes: Vec<Lane>,
    clock: Arc<dyn Clock>,
    paused: AtomicBool,
    stop: AtomicBool,
    snapshot_on_stop: AtomicBool,
}

pub struct Runtime {
    mesh: Arc<Mesh>,
    threads: Vec<JoinHandle<Result<ShardStopped, ShardError>>>,
}

/// How long an idle shard parks at most before it looks again on its own.
const PARK: Duration = Duration::from_millis(50);
/// Empty polls before an idle shard parks.
const SPINS: u32 = 64;
const MAX_RETRY_AFTER_MS: u64 = 1_000;

impl Mesh {
    #[inline]
    fn wake(&self, shard: usize) {
        let lane = &self.lanes[shard];
        // Pairs with the fence in `park_idle`: either the shard sees the pushed job, or we see
        // that it is going to sleep and unpark it.
        fence(Ordering::SeqCst);
        if lane.sleeping.load(Ordering::Relaxed) {
            if let Some(t) = lane.thread.get() {
                t.unpark();
            }
        }
    }

    fn busy(&self, shard: usize) -> Busy {
        let lane = &self.lanes[shard];
        let ns = lane.ns_per_command.load(Ordering::Relaxed);
        let retry_after_ms = if ns == 0 {
            1
        } else {
            (lane.ring.len() as u64).saturating_mul(ns).div_ceil(1_000_000).clamp(1, MAX_RETRY_AFTER_MS)
        };
        Busy { retry_after_ms }
    }

    fn unpark_all(&self) {
        for lane in &self.lanes {
            if let Some(t) = lane.thread.get() {
                t.unpark();
            }
        }
    }

    /// Pushes `cmd` to every shard, stamped `now`, all or nothing (see the module docs).
    fn broadcast(&self, now: Timestamp, cmd: Command, slot: Option<&Completion>) -> Result<(), Busy> {
        if let Some(full) = self.lanes.iter().position(|l| l.ring.is_full()) {
            return Err(self.busy(full));
        }
        let n = self.lanes.len();
        if let Some(slot) = slot {
            slot.arm(n as u32);
        }
        let mut cmd = Some(cmd);
        for i in 0..n {
            let c = if i + 1 == n { cmd.take().expect("last shard") } else { cmd.clone().expect("kept") };
            let mut job = Job::Command { now, cmd: c, slot: slot.cloned() };
            let mut backoff = Duration::from_micros(20);
            loop {
                match self.lanes[i].ring.push(job) {
                    Ok(()) => break,
                    Err(back) if i == 0 => {
                        drop(back);
                        if let Some(slot) = slot {
                            slot.disarm();
                        }
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
}

impl Runtime {
    /// Opens and restores every shard (in parallel, one thread each) and starts serving.
    /// Returns the shards' restore reports in shard order.
    pub fn start(cfg: RuntimeConfig) -> Result<(Runtime, Vec<RestoreReport>), ShardError> {
        assert!(cfg.shards > 0, "a runtime needs at least one shard");
        assert!(cfg.ring_capacity > 0 && cfg.batch_max > 0, "ring capacity and batch size must be positive");
        croupier_store::layout::claim_shard_count(&cfg.data_dir, cfg.shards)?;
        let mesh = Arc::new(Mesh {
            lanes: (0..cfg.shards)
                .map(|_| Lane {
                    ring: ArrayQueue::new(cfg.ring_capacity),
                    sleeping: AtomicBool::new(false),
                    ns_per_command: AtomicU64::new(0),
                    thread: OnceLock::new(),
                    durable: OnceLock::new(),
                    failure: OnceLock::new(),
                    arrivals: arrivals::Arrivals::new(cfg.shards),
                })
                .collect(),
            clock: cfg.clock.clone(),
            paused: AtomicBool::new(cfg.start_paused),
            stop: AtomicBool::new(false),
            snapshot_on_stop: AtomicBool::new(false),
        });
        let mut threads = Vec::with_capacity(cfg.shards);
        let mut opened = Vec::with_capacity(cfg.shards);
        let mut spawn_error = None;
        for i in 0..cfg.shards {
            let (tx, rx) = mpsc::sync_channel(1);
            let (shard_cfg, thread_mesh, batch_max) = (cfg.shard_config(i), mesh.clone(), cfg.batch_max);
            let topology = Topology { shard: i as u32, shards: cfg.shards as u32 };
            let spawned = std::thread::Builder::new()
                .name(format!("shard-{i}"))
                .spawn(move || open_and_run(shard_cfg, topology, &thread_mesh, batch_max, tx));
            match spawned {
                Ok(thread) => {
                    let _ = mesh.lanes[i].thread.set(thread.thread().clone());
                    threads.push(thread);
                    opened.push(rx);
                }
                Err(e) => {
                    spawn_error = Some(ShardError::Spawn { shard: i as u32, reason: e.to_string() });
                    break;
                }
            }
        }
        // Threads started before their handles were registered may have parked already.
        mesh.unpark_all();
        let mut reports = Vec::with_capacity(cfg.shards);
        let mut failed = spawn_error.is_some();
        for rx in opened {
            match rx.recv() {
                Ok(Ok(report)) => reports.push(report),
                _ => failed = true,
            }
        }
        let mut runtime = Runtime { mesh, threads };
        if failed {
            // Stop the shards that did open; report the first error in shard order.
            let results = runtime.stop_and_join(false);
            let first = results.into_iter().find_map(Result::err);
            return Err(spawn_error.or(first).unwrap_or(ShardError::Poisoned));
        }
        Ok((runtime, reports))
    }

    pub fn shards(&self) -> usize {
        self.mesh.lanes.len()
    }

    /// Where `cmd` goes in this runtime.
    pub fn route(&self, cmd: &Command) -> Route {
        route(cmd, self.shards())
    }

    /// Lets paused shard threads drain their rings (see [`RuntimeConfig::start_paused`]).
    pub fn resume(&self) {
        self.mesh.paused.store(false, Ordering::SeqCst);
        self.mesh.unpark_all();
    }

    /// Each shard's durable watermark, in shard order: a journal reader that follows it
    /// (`TailReader::follow_durable`) never sees a record a power loss could still take away,
    /// so push and projections are never ahead of what callers were told.
    pub fn durable_watches(&self) -> Vec<DurableWatch> {
        self.mesh
            .lanes
            .iter()
            .map(|l| l.durable.get().cloned().expect("every shard opened before start returned"))
            .collect()
    }

    /// Per shard, why it stopped serving (`None` while it serves): for health checks and
    /// metrics. A failed shard answers every command `SHARD_UNAVAILABLE` until the process
    /// restarts and restores it; the other shards go on.
    pub fn shard_failures(&self) -> Vec<Option<String>> {
        self.mesh.lanes.iter().map(|l| l.failure.get().cloned()).collect()
    }

    /// Commands waiting in each shard's ring: a gauge for metrics.
    pub fn ring_depths(&self) -> Vec<usize> {
        self.mesh.lanes.iter().map(|l| l.ring.len()).collect()
    }

    /// Stamps `cmd` with the clock, routes it and hands it to its shard (every shard, for a
    /// broadcast). The answer arrives in `slot`: take it with [`CompletionSlot::wait`] or
    /// [`CompletionSlot::answer`]. A command that cannot be routed (a runtime-internal one) is
    /// answered at once with [`Reject::NotRoutable`]. A full ring refuses the command with
    /// [`Busy`] and leaves the slot free.
    ///
    /// Panics if `slot` still holds a command that was not answered and taken.
    pub fn submit(&self, slot: &Completion, cmd: Command) -> Result<(), Busy> {
        match self.route(&cmd) {
            Route::NotRoutable => {
                slot.answer_now(Err(Reject::NotRoutable));
                Ok(())
            }
            Route::Shard(i) if self.mesh.lanes[i].failure.get().is_some() => {
                slot.answer_now(Err(Reject::ShardUnavailable));
                Ok(())
            }
            // A round lives on every shard: with one of them down, none may move it.
            Route::Broadcast if self.mesh.lanes.iter().any(|l| l.failure.get().is_some()) => {
                slot.answer_now(Err(Reject::ShardUnavailable));
                Ok(())
            }
            Route::Shard(i) => {
                let now = self.mesh.clock.now();
                slot.arm(1);
                let lane = &self.mesh.lanes[i];
                if let Err(job) = lane.ring.push(Job::Command { now, cmd, slot: Some(slot.clone()) }) {
                    drop(job);
                    slot.disarm();
                    return Err(self.mesh.busy(i));
                }
                self.mesh.wake(i);
                Ok(())
            }
            Route::Broadcast => self.mesh.broadcast(self.mesh.clock.now(), cmd, Some(slot)),
        }
    }

    /// Submits `cmd` through a fresh slot and waits for its answer; a full ring answers
    /// [`Reject::Busy`]. Allocates a slot per call: for tests, tools and rare commands.
    pub fn call(&self, cmd: Command) -> Answer {
        let slot = CompletionSlot::new();
        self.submit(&slot, cmd)?;
        slot.wait()
    }

    /// Runs `f` on shard `shard`'s thread, between batches, and returns its result: to read
    /// a shard's state (digests, invariants, balances) without stopping it. Returns once what
    /// `f` saw is durable (see [`Self::inspect_then`]), so do not call it while the runtime is
    /// paused, nor from async code.
    pub fn inspect<R: Send + 'static>(
        &self,
        shard: usize,
        f: impl FnOnce(&State) -> R + Send + 'static,
    ) -> Result<R, Reject> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.inspect_then(shard, f, move |r| {
            let _ = tx.send(r);
        })?;
        // A failed shard drops the reader undelivered: its state is not to be trusted.
        rx.recv().map_err(|_| Reject::ShardUnavailable)
    }

    /// A read that never stalls the shard: `read` runs on shard `shard`'s thread between
    /// batches, after every command queued before it, against the state as executed so far;
    /// `then` gets its result once every batch that state includes is durable — released in
    /// order with those batches' answers, so a caller never learns anything a power cut could
    /// take away, nor anything before the callers of the commands that made it. The shard
    /// neither waits for a sync nor stops executing meanwhile. `read` must be quick (the shard
    /// runs nothing else meanwhile); `then` runs on the shard thread too and must only hand
    /// the result over (a channel). A full ring refuses with [`Busy`]; a failed shard drops
    /// both without delivering (the caller's channel closes).
    pub fn inspect_then<R: Send + 'static>(
        &self,
        shard: usize,
        read: impl FnOnce(&State) -> R + Send + 'static,
        then: impl FnOnce(R) + Send + 'static,
    ) -> Result<(), Busy> {
        let job = Box::new(ReadThen { read: Some(read), result: None, then });
        if self.mesh.lanes[shard].ring.push(Job::Inspect(job)).is_err() {
            return Err(self.mesh.busy(shard));
        }
        self.mesh.wake(shard);
        Ok(())
    }

    /// Resolves once shard `to` has applied transfer `seq` from shard `from` and the batch
    /// that applied it is durable: the completion of a red-packet share (or any transfer)
    /// travelling between shards, awaited instead of polled. Transfers of a link are applied
    /// in sequence order, so this is "`to` durably applied `from`'s transfers up to `seq`".
    /// Never resolves for a transfer that is not applied (a failed or stopped shard, a
    /// deferred transfer): wrap it in a timeout. See [`Self::wait_transfer_applied`] for
    /// threads.
    pub fn transfer_applied(&self, from: u32, to: usize, seq: u64) -> TransferApplied {
        TransferApplied::new(self.mesh.clone(), from, to, seq)
    }

    /// [`Self::transfer_applied`] for a thread: blocks until it resolves or `timeout` passes;
    /// true if it resolved.
    pub fn wait_transfer_applied(&self, from: u32, to: usize, seq: u64, timeout: Duration) -> bool {
        self.transfer_applied(from, to, seq).wait_timeout(timeout)
    }

    /// Every shard's link counters, read between batches.
    pub fn links(&self) -> Result<Vec<LinkCounters>, Reject> {
        (0..self.shards())
            .map(|i| {
                self.inspect(i, |s| LinkCounters {
                    sent: s.links().iter().map(|l| l.sent).collect(),
                    acked: s.links().iter().map(|l| l.acked).collect(),
                    applied: s.links().iter().map(|l| l.applied).collect(),
                })
            })
            .collect()
    }

    /// Waits until every transfer sent between shards has been applied and acknowledged, or
    /// `timeout` passes; true if they all were. For tests, benches and a clean stop.
    pub fn wait_transfers_settled(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(links) = self.links() {
                let settled = links.iter().enumerate().all(|(a, la)| {
                    links
                        .iter()
                        .enumerate()
                        .all(|(b, lb)| a == b || (la.sent[b] == lb.applied[a] && la.acked[b] == la.sent[b]))
                });
                if settled {
                    return true;
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Stops accepting (it takes the runtime), drains every ring so that every accepted
    /// command is answered, closes each shard (with a last snapshot when `snapshot`) and joins
    /// the threads. Returns what each shard did, or the first shard's error. Transfers still
    /// on their way stay in their senders' journals and are re-sent at the next start.
    pub fn shutdown(mut self, snapshot: bool) -> Result<Vec<ShardStopped>, ShardError> {
        self.stop_and_join(snapshot).into_iter().collect()
    }

    fn stop_and_join(&mut self, snapshot: bool) -> Vec<Result<ShardStopped, ShardError>> {
        self.mesh.snapshot_on_stop.store(snapshot, Ordering::SeqCst);
        self.mesh.stop.store(true, Ordering::SeqCst);
        self.mesh.paused.store(false, Ordering::SeqCst);
        self.mesh.unpark_all();
        self.threads
            .drain(..)
            .map(|t| match t.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    }
}

impl Drop for Runtime {
    /// A runtime dropped without [`Runtime::shutdown`] still drains and closes its shards (no
    /// snapshot); errors are lost, so prefer `shutdown`.
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            let _ = self.stop_and_join(false);
        }
    }
}

/// The file in a data folder that records its shard count (owned by the store's layout).
pub use croupier_store::layout::SHARD_COUNT_FILE;

/// A shard thread: open and restore, claim its place in the topology, report, then serve.
fn open_and_run(
    cfg: ShardConfig,
    topology: Topology,
    mesh: &Mesh,
    batch_max: usize,
    opened: mpsc::SyncSender<Result<RestoreReport, String>>,
) -> Result<ShardStopped, ShardError> {
    let (mut shard, report) = match DurableShard::open(cfg).and_then(|(mut shard, report)| {
        claim_topology(&mut shard, topology)?;
        Ok((shard, report))
    }) {
        Ok(opened) => opened,
        Err(e) => {
            let _ = opened.send(Err(e.to_string()));
            return Err(e);
        }
    };
    let _ = mesh.lanes[topology.shard as usize].durable.set(shard.durable_watch());
    // What the restored journal applied: callers awaiting those transfers are done.
    mesh.lanes[topology.shard as usize].arrivals.publish(shard.state().links().iter().map(|l| l.applied));
    let _ = opened.send(Ok(report));
    let stopped = ShardLoop::new(topology.shard, &mut shard, mesh, batch_max).run();
    let position = shard.position();
    match stopped {
        Ok(()) => {
            let snapshot = shard.close(mesh.snapshot_on_stop.load(Ordering::Acquire))?;
            Ok(ShardStopped { shard: topology.shard, position, snapshot })
        }
        Err(e) => Err(e),
    }
}

fn claim_topology(shard: &mut DurableShard, topology: Topology) -> Result<(), ShardError> {
    let now = Timestamp(0);
    match shard.execute(&Command::SetTopology(topology), now)? {
        Ok(_) => Ok(()),
        Err(Reject::TopologyMismatch { shard: s, shards }) => Err(ShardError::Topology(format!(
            "its shard {} was made as shard {s} of {shards}, but the runtime starts {} shards",
            topology.shard, topology.shards
        ))),
        Err(other) => Err(ShardError::Topology(other.to_string())),
    }
}

/// Messages waiting for room in a peer's ring, per peer, in the order they were sent.
struct Outgoing {
    queues: Vec<VecDeque<Message>>,
}

impl Outgoing {
    fn push(&mut self, peer: u32, msg: Message) {
        self.queues[peer as usize].push_back(msg);
    }

    /// Pushes what fits into each peer's ring; the rest waits for the next try.
    fn flush(&mut self, mesh: &Mesh) {
        for (peer, q) in self.queues.iter_mut().enumerate() {
            let mut pushed = false;
            while let Some(msg) = q.pop_front() {
                if let Err(Job::Message(back)) = mesh.lanes[peer].ring.push(Job::Message(msg)) {
                    q.push_front(back);
                    break;
                }
                pushed = true;
            }
            if pushed {
                mesh.wake(peer);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty)
    }
}

/// Buffers one shard thread reuses for every batch.
struct Batch {
    commands: Vec<(Timestamp, Command)>,
    slots: Vec<Option<Completion>>,
    answers: Vec<Answer>,
}

/// A batch executed and committed whose answers (and cross-shard messages) wait for the
/// journal to make it durable (`fsync` mode), while the shard goes on with the next batches.
struct Pending {
    position: u64,
    slots: Vec<Option<Completion>>,
    answers: Vec<Answer>,
    /// Per peer, the link counters after this batch: what may be told once it is durable.
    sent: Vec<u64>,
    applied: Vec<u64>,
    /// Readers that ran against the state after this batch: delivered with it.
    readers: Vec<Inspect>,
}

/// Hands each caller its answer (slots of internal commands are `None`), emptying both.
fn complete_all(shard: u32, slots: &mut Vec<Option<Completion>>, answers: &mut Vec<Answer>) {
    debug_assert_eq!(slots.len(), answers.len());
    for (slot, answer) in slots.drain(..).zip(answers.drain(..)) {
        if let Some(slot) = slot {
            slot.complete(shard, answer);
        }
    }
}

/// Batches waiting for their sync at most; then the shard waits for the oldest. Bounds the
/// answers held back and the memory they hold.
const MAX_PENDING: usize = 64;
/// How long an idle shard with batches pending waits for the sync before polling its ring.
const PENDING_POLL: Duration = Duration::from_micros(200);

struct ShardLoop<'a> {
    index: u32,
    shard: &'a mut DurableShard,
    mesh: &'a Mesh,
    lane: &'a Lane,
    batch_max: usize,
    batch: Batch,
    outbox: Outbox,
    outgoing: Outgoing,
    timers: Timers,
    failure: Option<ShardError>,
    watch: DurableWatch,
    /// Oldest first; positions increase.
    pending: VecDeque<Pending>,
    /// Buffers of released batches, reused so that steady state allocates nothing.
    spare: Vec<Pending>,
}

impl<'a> ShardLoop<'a> {
    fn new(index: u32, shard: &'a mut DurableShard, mesh: &'a Mesh, batch_max: usize) -> Self {
        let shards = mesh.lanes.len();
        let outbox = Outbox::new(shard.state()).expect("the topology was claimed before serving");
        let timers = Timers::from_state(shard.state(), index as usize, shards);
        let watch = shard.durable_watch();
        ShardLoop {
            index,
            lane: &mesh.lanes[index as usize],
            batch: Batch {
                commands: Vec::with_capacity(batch_max),
                slots: Vec::with_capacity(batch_max),
                answers: Vec::with_capacity(batch_max),
            },
            outgoing: Outgoing { queues: (0..shards).map(|_| VecDeque::new()).collect() },
            shard,
            mesh,
            batch_max,
            outbox,
            timers,
            failure: None,
            watch,
            pending: VecDeque::with_capacity(MAX_PENDING),
            spare: Vec::new(),
        }
    }

    /// Serves until shutdown. A panic anywhere in the loop is contained: the shard fails
    /// (its callers, now and later, are answered `SHARD_UNAVAILABLE`; nothing is journaled
    /// after it) and goes on draining its ring until shutdown, so no caller ever hangs and the
    /// other shards go on.
    fn run(mut self) -> Result<(), ShardError> {
        let outgoing = &mut self.outgoing;
        self.outbox.on_start(self.shard.state(), &mut |peer, msg| outgoing.push(peer, msg));
        self.outgoing.flush(self.mesh);
        while let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.serve())) {
            self.fail(ShardError::Panicked(croupier_store::panic_message(&*panic)));
        }
        self.failure.take().map_or(Ok(()), Err)
    }

    fn serve(&mut self) {
        let mut idle_polls = 0u32;
        loop {
            let (paused, stop) = (self.mesh.paused.load(Ordering::Acquire), self.mesh.stop.load(Ordering::Acquire));
            if paused && !stop {
                self.release(None);
                std::thread::park_timeout(if self.pending.is_empty() { PARK } else { PENDING_POLL });
                continue;
            }
            // Reading the clock costs ~25 ns: not on every idle spin, only once per batch or
            // every 32 empty polls (timers need millisecond, not microsecond, precision).
            if idle_polls.is_multiple_of(32) {
                self.fire_timers();
            }
            self.drain();
            if !self.batch.commands.is_empty() {
                self.run_batch();
                idle_polls = 0;
                continue;
            }
            if !self.pending.is_empty() {
                // Idle but answers wait for a sync: wait for it briefly, then look at the ring.
                if let Some(front) = self.pending.front().map(|p| p.position) {
                    let _ = self.watch.wait_timeout(front, PENDING_POLL);
                }
                self.release(None);
                idle_polls = 0;
                continue;
            }
            if !self.outgoing.is_empty() {
                self.outgoing.flush(self.mesh);
            }
            if stop {
                // Nobody can submit any more (shutdown owns the runtime): an empty ring is
                // final. Messages still queued for peers are in the journal's outbox.
                if self.lane.ring.is_empty() {
                    break;
                }
                continue;
            }
            if idle_polls < SPINS {
                idle_polls += 1;
                std::hint::spin_loop();
                continue;
            }
            self.park_idle();
            idle_polls = 0;
        }
    }

    /// The shard stops serving: the failure is recorded where intake and health checks see
    /// it, and every caller waiting on this shard is answered now.
    fn fail(&mut self, e: ShardError) {
        eprintln!("croupier: shard {} failed: {e}", self.index);
        let _ = self.lane.failure.set(e.to_string());
        if self.failure.is_none() {
            self.failure = Some(e);
        }
        self.refuse_batch();
        self.fail_pending();
    }

    /// Answers the drained batch `SHARD_UNAVAILABLE` without running it.
    fn refuse_batch(&mut self) {
        self.batch.commands.clear();
        self.batch.answers.clear();
        for slot in self.batch.slots.drain(..).flatten() {
            slot.complete(self.index, Err(Reject::ShardUnavailable));
        }
    }

    /// Moves jobs from the ring into the batch, up to `batch_max` commands.
    fn drain(&mut self) {
        while self.batch.commands.len() < self.batch_max {
            match self.lane.ring.pop() {
                Some(Job::Command { now, cmd, slot }) => {
                    self.batch.commands.push((now, cmd));
                    self.batch.slots.push(slot);
                }
                Some(Job::Message(msg)) => self.receive(msg),
                Some(Job::Inspect(mut reader)) => {
                    // After every command queued before it; no sync is waited for here.
                    self.run_batch();
                    if self.failure.is_some() {
                        // A failed shard's state is not to be trusted: dropped unread.
                        continue;
                    }
                    reader.read(self.shard.state());
                    match self.pending.back_mut() {
                        // The state includes batches not yet durable: deliver with the newest.
                        Some(p) => p.readers.push(reader),
                        // Every executed batch is durable.
                        None => reader.deliver(),
                    }
                }
                None => break,
            }
        }
    }

    fn receive(&mut self, msg: Message) {
        if self.failure.is_some() {
            // Peers keep what they sent until it is acknowledged and re-send it after our
            // restart's hello: nothing is lost by not reading it now.
            return;
        }
        let outgoing = &mut self.outgoing;
        if let Some(cmd) = self.outbox.receive(self.shard.state(), msg, &mut |p, m| outgoing.push(p, m)) {
            self.batch.commands.push((self.mesh.clock.now(), cmd));
            self.batch.slots.push(None);
        }
    }

    fn fire_timers(&mut self) {
        if self.failure.is_some() {
            return;
        }
        let Some(at) = self.timers.next_at() else { return };
        let now = self.mesh.clock.now();
        if now < at {
            return;
        }
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::CloseBetting { round } => {
                    if self.mesh.broadcast(now, Command::GameStop { round }, None).is_err() {
                        // Every ring is busy: try again shortly rather than wait here.
                        self.timers.add(now.saturating_add_ms(1), Timer::CloseBetting { round });
                        break;
                    }
                }
                Timer::ExpirePacket { packet, sender } => {
                    self.batch.commands.push((now, Command::ExpireRedPacket { packet, sender }));
                    self.batch.slots.push(None);
                }
            }
        }
    }

    /// Runs the batch as one group commit and schedules what it opened. Its callers are
    /// completed, and what it sent to other shards forwarded, once it is durable: at once in
    /// `process` mode; in `fsync` mode it joins the pending batches and the shard goes on.
    fn run_batch(&mut self) {
        if self.batch.commands.is_empty() {
            return;
        }
        let started = Instant::now();
        self.batch.answers.clear();
        let outcome = match self.failure {
            Some(_) => Err(None),
            None => self.shard.execute_batch(&self.batch.commands, &mut self.batch.answers).map_err(Some),
        };
        match outcome {
            Ok(position) => {
                let batch = &mut self.batch;
                debug_assert_eq!(batch.answers.len(), batch.slots.len());
                schedule(&mut self.timers, self.shard.state(), self.index, self.mesh.lanes.len(), batch);
                if self.pending.is_empty() && self.watch.durable_seq() >= position {
                    complete_all(self.index, &mut batch.slots, &mut batch.answers);
                    let outgoing = &mut self.outgoing;
                    self.outbox.after_batch(self.shard.state(), &mut |p, m| outgoing.push(p, m));
                    self.publish_applied();
                    self.outgoing.flush(self.mesh);
                } else {
                    self.hold(position);
                    let wait = (self.pending.len() >= MAX_PENDING).then(|| self.pending[0].position);
                    self.release(wait);
                }
            }
            Err(Some(e)) => return self.fail(e),
            Err(None) => return self.refuse_batch(),
        }
        let n = self.batch.commands.len() as u64;
        self.batch.commands.clear();
        let per_command = (started.elapsed().as_nanos() as u64 / n).max(1);
        let old = self.lane.ns_per_command.load(Ordering::Relaxed);
        let new = if old == 0 { per_command } else { (old * 7 + per_command) / 8 };
        self.lane.ns_per_command.store(new.max(1), Ordering::Relaxed);
    }

    /// Moves the executed batch's callers and answers into a pending entry.
    fn hold(&mut self, position: u64) {
        let mut p = self.spare.pop().unwrap_or_else(|| Pending {
            position: 0,
            slots: Vec::with_capacity(self.batch_max),
            answers: Vec::with_capacity(self.batch_max),
            sent: Vec::new(),
            applied: Vec::new(),
            readers: Vec::new(),
        });
        debug_assert!(p.slots.is_empty() && p.answers.is_empty() && p.readers.is_empty());
        // Equal when a batch journaled nothing (only replays and rejects).
        debug_assert!(self.pending.back().is_none_or(|b| b.position <= position));
        p.position = position;
        std::mem::swap(&mut p.slots, &mut self.batch.slots);
        std::mem::swap(&mut p.answers, &mut self.batch.answers);
        Outbox::mark(self.shard.state(), &mut p.sent, &mut p.applied);
        self.pending.push_back(p);
    }

    /// Completes every pending batch the journal made durable, oldest first, after waiting
    /// until `wait_for` is durable if given.
    fn release(&mut self, wait_for: Option<u64>) {
        if let Some(position) = wait_for {
            if let Err(e) = self.watch.wait(position) {
                self.fail(ShardError::from(e));
                return;
            }
        }
        let durable = self.watch.durable_seq();
        let mut told = false;
        while self.pending.front().is_some_and(|p| p.position <= durable) {
            let Some(mut p) = self.pending.pop_front() else { break };
            complete_all(self.index, &mut p.slots, &mut p.answers);
            let outgoing = &mut self.outgoing;
            self.outbox.after_durable(self.shard.state(), &p.sent, &p.applied, &mut |peer, m| outgoing.push(peer, m));
            self.lane.arrivals.publish(p.applied.iter().copied());
            for reader in p.readers.drain(..) {
                reader.deliver();
            }
            self.spare.push(p);
            told = true;
        }
        if told {
            self.outgoing.flush(self.mesh);
        }
    }

    /// Tells transfer waiters what the state (durable as a whole) has applied.
    fn publish_applied(&self) {
        self.lane.arrivals.publish(self.shard.state().links().iter().map(|l| l.applied));
    }

    /// The journal failed: nothing pending will become durable.
    fn fail_pending(&mut self) {
        while let Some(mut p) = self.pending.pop_front() {
            p.answers.clear();
            // Their state will never be durable: dropped undelivered (their channels close).
            p.readers.clear();
            for slot in p.slots.drain(..).flatten() {
                slot.complete(self.index, Err(Reject::ShardUnavailable));
            }
            self.spare.push(p);
        }
    }

    fn park_idle(&self) {
        let timeout = match self.timers.next_at() {
            Some(at) => Duration::from_millis(at.0.saturating_sub(self.mesh.clock.now().0)).min(PARK),
            None => PARK,
        };
        self.lane.sleeping.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if self.lane.ring.is_empty() && !self.mesh.stop.load(Ordering::Acquire) && !timeout.is_zero() {
            std::thread::park_timeout(timeout);
        }
        self.lane.sleeping.store(false, Ordering::Relaxed);
    }
}

/// Timers for what the batch opened: a round this shard coordinates, a packet it holds.
fn schedule(timers: &mut Timers, state: &State, index: u32, shards: usize, batch: &Batch) {
    for ((_, cmd), answer) in batch.commands.iter().zip(&batch.answers) {
        match (cmd, answer) {
            (Command::GameStart { round, .. }, Ok(Reply::RoundOpened { bet_stop, replayed: false, .. }))
                if round_coordinator(round, shards) == index as usize =>
            {
                timers.add(*bet_stop, Timer::CloseBetting { round: *round });
            }
            (Command::SendRedPacket(p), Ok(Reply::PacketSent { packet, replayed: false })) => {
                let expires_at = state.packet(*packet).expires_at;
                timers.add(expires_at, Timer::ExpirePacket { packet: p.packet, sender: p.sender });
            }
            _ => {}
        }
    }
}
