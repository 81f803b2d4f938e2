//! The durable scenarios: `bets` (PlaceBet through a [`DurableShard`], journal and snapshots
//! included) and `fsync` (the raw cost of one 4 KiB `fdatasync` on the data folder's disk,
//! the floor under `fsync` durability).
//!
//! `bets` — setup (not timed, but journaled: it goes through the shard in batches): the test
//! currency and game, `accounts` funded players (users `1..=accounts`) and one round open for
//! the longest window the engine allows. Measured: `ops` `PlaceBet`s handed to
//! [`DurableShard::execute_batch`] in batches of `batch`, drawn as in `engine-bets` (uniform
//! user, selection and stake, seeded). Latency is per command, from the start of its batch
//! (building the commands included) until its answer may be released:
//!
//! - `process`: when `execute_batch` returns (the records are in the mapped pages);
//! - `fsync`: when the shard thread sees the durable watermark cover the batch's position.
//!   The shard does not wait: it executes the next batches while up to [`MAX_IN_FLIGHT`]
//!   earlier ones wait for the flusher, checks the watermark after each batch, and blocks on
//!   it only when that many are in flight. A batch's release is therefore noticed at most one
//!   batch execution late, as it would be by a shard that releases answers between batches.
//!
//! Every command of a batch is recorded at its batch's latency. Throughput counts the wall
//! time until the last batch is released. The bench applies the shard's default snapshot
//! policy itself (a snapshot every [`ShardConfig::snapshot_every_records`] journal records,
//! the same interval) so that it can time each snapshot's stall; the stall delays the answers
//! of the batch that triggered it, as it would in the shard. The data folder is kept (no
//! snapshot at exit, so a restore replays the journal after the last scheduled snapshot): it
//! is what `croupier restore` and `croupier journal verify` are then run on.

use crate::setup::{self, MAX_DRAWN_STAKE, T0, WINDOW_MS};
use crate::{measure, Error, LatencySampling, Observer, Phase, Report, Scenario};
use croupier_domain::command::Settings;
use croupier_domain::ids::{Code, ExtId, Timestamp, UserId};
use croupier_domain::rng::SplitMix64;
use croupier_domain::state::Capacity;
use croupier_domain::testkit::{self, CURRENCY, GAME};
use croupier_domain::{Command, Money, Reply};
use croupier_journal::{Durability, DurableWatch};
use croupier_store::{journal_dir, Answer, DurableShard, ShardConfig, ShardError};
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Batches waiting for the flusher, at most, before the shard blocks on the watermark. More
/// raises throughput but queues answers behind the disk: measured here, 4 batches of 256 gave
/// the lowest ack p99 at about 750,000 bets/s, 64 gave 1.1 M/s with a p99 of 28 ms.
pub const MAX_IN_FLIGHT: usize = 4;
/// Setup commands are sent through the shard this many at a time.
const SETUP_BATCH: usize = 4_096;
/// Size of each write of the fsync probe.
pub const FSYNC_WRITE_BYTES: usize = 4_096;
/// Name of the file the fsync probe writes in the data folder (removed afterwards).
const FSYNC_PROBE_FILE: &str = "fsync-probe.tmp";

/// The `bets` scenario: sizes and where the data goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurableBetsConfig {
    /// The data folder; created if missing, kept after the run.
    pub data_dir: PathBuf,
    pub durability: Durability,
    /// Funded players.
    pub accounts: u64,
    /// Bets placed in the measured loop.
    pub ops: u64,
    /// Commands per `execute_batch`.
    pub batch: usize,
    pub seed: u64,
    /// Add to a folder that already holds a journal (ids are made distinct by the starting
    /// position); without it such a folder is refused.
    pub append: bool,
}

impl DurableBetsConfig {
    pub const DEFAULT_ACCOUNTS: u64 = 100_000;
    pub const DEFAULT_OPS: u64 = 2_000_000;
    pub const DEFAULT_BATCH: usize = 256;

    /// The default sizes for a data folder and durability.
    pub fn new(data_dir: impl Into<PathBuf>, durability: Durability) -> Self {
        DurableBetsConfig {
            data_dir: data_dir.into(),
            durability,
            accounts: Self::DEFAULT_ACCOUNTS,
            ops: Self::DEFAULT_OPS,
            batch: Self::DEFAULT_BATCH,
            seed: 1,
            append: false,
        }
    }
}

/// What a `bets` run measured, beyond the common [`Report`].
#[derive(Debug)]
pub struct DurableBetsReport {
    pub report: Report,
    pub durability: Durability,
    pub data_dir: PathBuf,
    /// The round the bets went to (for `croupier replay --round`).
    pub round: ExtId,
    /// Journal position when the shard was opened (0 for a new folder).
    pub start_position: u64,
    /// Journal position at the end: the state digest is the live state's there.
    pub position: u64,
    /// Snapshots started during the measured loop, and the longest time one stalled the shard.
    pub snapshots: u64,
    pub max_snapshot_stall: Option<Duration>,
}

/// `true` if the data folder already holds shard 0's journal segments.
pub fn holds_journal(data_dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(journal_dir(data_dir, 0)) else { return false };
    entries.filter_map(|e| e.ok()).any(|e| e.path().extension().is_some_and(|x| x == "seg"))
}

fn shard_error(what: &str) -> impl FnOnce(ShardError) -> Error + '_ {
    move |e| Error::Data(format!("{what}: {e}"))
}

fn journal_error(what: &str) -> impl FnOnce(croupier_journal::JournalError) -> Error + '_ {
    move |e| Error::Data(format!("{what}: {e}"))
}

/// The bets of the measured loop: as in `engine-bets`, with ids made distinct per run.
struct BetSource {
    users: u64,
    rng: SplitMix64,
    round: ExtId,
    order_prefix: String,
    currency: Code,
    platform: Code,
    t0: Timestamp,
}

impl BetSource {
    #[inline]
    fn bet(&mut self, n: u64) -> (Timestamp, Command) {
        let order_no = ExtId::numbered(&self.order_prefix, n);
        let cmd = setup::random_bet(&mut self.rng, self.users, order_no, self.round, self.currency, self.platform);
        (Timestamp(self.t0.0 + (n >> 10)), cmd)
    }
}

/// Sends setup commands through the shard; every one must be accepted.
fn run_setup(
    shard: &mut DurableShard,
    commands: &[(Timestamp, Command)],
    obs: &mut dyn Observer,
) -> Result<u64, Error> {
    let mut answers: Vec<Answer> = Vec::with_capacity(SETUP_BATCH);
    let mut position = shard.position();
    let mut done = 0u64;
    for chunk in commands.chunks(SETUP_BATCH) {
        answers.clear();
        position = shard.execute_batch(chunk, &mut answers).map_err(shard_error("journaling the setup"))?;
        for ((_, cmd), answer) in chunk.iter().zip(&answers) {
            if let Err(reject) = answer {
                return Err(Error::Setup { step: format!("{cmd:?}"), reject: reject.clone() });
            }
        }
        done += chunk.len() as u64;
        obs.progress(done);
    }
    Ok(position)
}

/// Batches executed whose answers wait for the flusher.
struct InFlight {
    start: Instant,
    position: u64,
    len: u64,
}

/// Records the latency of every in-flight batch the watermark now covers.
fn release(in_flight: &mut VecDeque<InFlight>, watch: &DurableWatch, hist: &mut Histogram<u64>) {
    let durable = watch.durable_seq();
    if in_flight.front().is_none_or(|b| b.position > durable) {
        return;
    }
    let now = Instant::now();
    while let Some(b) = in_flight.front() {
        if b.position > durable {
            break;
        }
        hist.saturating_record_n((now.duration_since(b.start).as_nanos() as u64).max(1), b.len);
        in_flight.pop_front();
    }
}

/// Runs the `bets` scenario.
pub fn run_bets(cfg: &DurableBetsConfig, obs: &mut dyn Observer) -> Result<DurableBetsReport, Error> {
    setup::check_count("ops", cfg.ops, 1)?;
    setup::check_count("accounts", cfg.accounts, 1)?;
    if cfg.batch == 0 {
        return Err(Error::InvalidConfig("batch must be at least 1".into()));
    }
    if holds_journal(&cfg.data_dir) && !cfg.append {
        return Err(Error::Data(format!(
            "{} already holds a journal ({}); pass --append to add this run to it, or use an empty folder",
            cfg.data_dir.display(),
            journal_dir(&cfg.data_dir, 0).display()
        )));
    }
    let setup_start = Instant::now();
    let mut shard_cfg = ShardConfig::new(&cfg.data_dir, 0);
    let snapshot_every = shard_cfg.snapshot_every_records;
    shard_cfg.durability = cfg.durability;
    // The bench applies the same policy itself, to time the stalls (see the module docs).
    shard_cfg.snapshot_every_records = None;
    shard_cfg.capacity =
        Capacity { accounts: cfg.accounts as usize + 1, bets: usize::try_from(cfg.ops).unwrap_or(usize::MAX) };
    let (mut shard, restored) =
        DurableShard::open(shard_cfg).map_err(shard_error(&format!("opening {}", cfg.data_dir.display())))?;
    let start_position = shard.position();
    let mut last_snapshot = restored.snapshot.as_ref().map_or(0, |s| s.1);

    // Ids carry the starting position, so that an appended run never collides with an earlier one.
    let tag = start_position;
    let t0 = shard.state().latest_timestamp().map_or(T0, |t| t.max(T0));
    let round = ExtId::new(&format!("bench-round-{tag}")).expect("a short printable id");
    let mut commands: Vec<(Timestamp, Command)> = Vec::with_capacity(cfg.accounts as usize + 4);
    if shard.state().game_by_id(&testkit::id(GAME)).is_none() {
        for cmd in testkit::setup_commands(setup::limits()) {
            let cmd = match cmd {
                Command::Configure(_) => Command::Configure(Settings::default()),
                other => other,
            };
            commands.push((t0, cmd));
        }
    }
    let per_user = cfg.ops.div_ceil(cfg.accounts).saturating_mul(4).max(10_000);
    let funds = (per_user as i64)
        .saturating_mul(MAX_DRAWN_STAKE)
        .min(setup::deposit_cap(cfg.accounts))
        .min(croupier_domain::MAX_BALANCE.0);
    let dep_prefix = format!("b{tag}-dep-");
    let currency = testkit::code(CURRENCY);
    for u in 1..=cfg.accounts {
        let cmd = Command::Deposit {
            transfer: ExtId::numbered(&dep_prefix, u),
            user: UserId(u),
            currency,
            amount: Money(funds),
        };
        commands.push((t0, cmd));
    }
    commands.push((t0, Command::GameStart { round, game: testkit::id(GAME), window_ms: Some(WINDOW_MS) }));
    obs.phase(Phase::Setup, commands.len() as u64);
    let setup_position = run_setup(&mut shard, &commands, obs)?;
    drop(commands);
    let watch = shard.durable_watch();
    watch.wait(setup_position).map_err(journal_error("waiting for the setup to be durable"))?;
    let setup = setup_start.elapsed();

    let mut source = BetSource {
        users: cfg.accounts,
        rng: SplitMix64::new(cfg.seed),
        round,
        order_prefix: format!("b{tag}-o"),
        currency,
        platform: testkit::code("bench"),
        t0,
    };
    let batch_len = cfg.batch;
    let mut batch: Vec<(Timestamp, Command)> = Vec::with_capacity(batch_len);
    let mut answers: Vec<Answer> = Vec::with_capacity(batch_len);
    let mut in_flight: VecDeque<InFlight> = VecDeque::with_capacity(MAX_IN_FLIGHT + 1);
    let mut hist = measure::latency_histogram();
    let (mut accepted, mut worst_batch, mut snapshots, mut max_stall) = (0u64, Duration::ZERO, 0u64, None);
    let mut progress_allocs = 0u64;
    let mut position = setup_position;

    obs.phase(Phase::Measure, cfg.ops);
    let allocs_before = obs.allocations();
    let start = Instant::now();
    let mut i = 0u64;
    while i < cfg.ops {
        let len = (cfg.ops - i).min(batch_len as u64);
        let t = Instant::now();
        batch.clear();
        for n in i..i + len {
            batch.push(source.bet(n));
        }
        answers.clear();
        position = shard.execute_batch(&batch, &mut answers).map_err(shard_error("placing bets"))?;
        accepted += answers.iter().filter(|a| matches!(a, Ok(Reply::Bet { replayed: false, .. }))).count() as u64;
        // Like the shard's own schedule: a snapshot still being written is not waited for.
        let due = snapshot_every.is_some_and(|every| position - last_snapshot >= every);
        if due && !shard.snapshot_in_flight() {
            let s = Instant::now();
            shard.start_snapshot().map_err(shard_error("starting a snapshot"))?;
            let stall = s.elapsed();
            max_stall = Some(max_stall.map_or(stall, |m: Duration| m.max(stall)));
            snapshots += 1;
            last_snapshot = position;
        }
        worst_batch = worst_batch.max(t.elapsed());
        match cfg.durability {
            Durability::Process => hist.saturating_record_n((t.elapsed().as_nanos() as u64).max(1), len),
            Durability::Fsync => {
                in_flight.push_back(InFlight { start: t, position, len });
                release(&mut in_flight, &watch, &mut hist);
                if in_flight.len() >= MAX_IN_FLIGHT {
                    let oldest = in_flight.front().map_or(0, |b| b.position);
                    watch.wait(oldest).map_err(journal_error("waiting for the flusher"))?;
                    release(&mut in_flight, &watch, &mut hist);
                }
            }
        }
        let before = i;
        i += len;
        if i / measure::PROGRESS_EVERY != before / measure::PROGRESS_EVERY && i < cfg.ops {
            let a0 = obs.allocations();
            obs.progress(i);
            if let (Some(a0), Some(a1)) = (a0, obs.allocations()) {
                progress_allocs += a1 - a0;
            }
        }
    }
    while let Some(oldest) = in_flight.front().map(|b| b.position) {
        watch.wait(oldest).map_err(journal_error("waiting for the flusher"))?;
        release(&mut in_flight, &watch, &mut hist);
    }
    let end = Instant::now();
    let allocs_after = obs.allocations();
    obs.progress(cfg.ops);

    obs.phase(Phase::Verify, 0);
    shard.finish_snapshot().map_err(shard_error("writing the last snapshot"))?;
    let state = shard.state();
    state.check_invariants().map_err(Error::Verification)?;
    let digest = state.digest();
    let accounts = state.accounts().len() as u64;
    if position != shard.position() {
        return Err(Error::Verification(format!(
            "execute_batch returned {position}, the shard is at {}",
            shard.position()
        )));
    }
    shard.close(false).map_err(shard_error("closing the shard"))?;
    Ok(DurableBetsReport {
        report: Report {
            scenario: Scenario::DurableBets,
            ops: cfg.ops,
            accepted,
            rejected: cfg.ops - accepted,
            elapsed: end.duration_since(start),
            latency_ns: hist,
            sampling: LatencySampling::Released(batch_len as u64),
            worst_batch: Some(worst_batch),
            allocations: allocs_before.zip(allocs_after).map(|(a, b)| b - a - progress_allocs),
            settle: None,
            setup,
            accounts,
            digest,
        },
        durability: cfg.durability,
        data_dir: cfg.data_dir.clone(),
        round,
        start_position,
        position,
        snapshots,
        max_snapshot_stall: max_stall,
    })
}

/// What the fsync probe measured.
#[derive(Debug)]
pub struct FsyncReport {
    pub data_dir: PathBuf,
    /// Timed write + `fdatasync` pairs.
    pub ops: u64,
    pub elapsed: Duration,
    /// Latency of each write + `fdatasync`, in nanoseconds.
    pub latency_ns: Histogram<u64>,
}

impl FsyncReport {
    pub const DEFAULT_OPS: u64 = 2_000;
}

/// The `fsync` scenario: `ops` times, write 4 KiB at offset 0 of a file in `data_dir` and
/// `fdatasync` it (`File::sync_data`), each pair timed. One untimed pair first allocates the
/// block. The file is removed afterwards.
pub fn run_fsync(data_dir: &Path, ops: u64, obs: &mut dyn Observer) -> Result<FsyncReport, Error> {
    use std::os::unix::fs::FileExt;
    setup::check_count("ops", ops, 1)?;
    let io = |what: &str, path: &Path| {
        let what = what.to_string();
        let path = path.to_path_buf();
        move |e: std::io::Error| Error::Data(format!("{what} {}: {e}", path.display()))
    };
    std::fs::create_dir_all(data_dir).map_err(io("creating", data_dir))?;
    let path = data_dir.join(FSYNC_PROBE_FILE);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .map_err(io("creating", &path))?;
    let mut buf = vec![0u8; FSYNC_WRITE_BYTES];
    let write_sync = |buf: &[u8]| -> std::io::Result<()> {
        file.write_all_at(buf, 0)?;
        file.sync_data()
    };
    obs.phase(Phase::Setup, 0);
    write_sync(&buf).map_err(io("writing", &path))?;
    let mut hist = measure::latency_histogram();
    obs.phase(Phase::Measure, ops);
    let start = Instant::now();
    for i in 0..ops {
        // Different bytes each time, so no layer can skip an unchanged block.
        buf[..8].copy_from_slice(&i.to_le_bytes());
        let t = Instant::now();
        write_sync(&buf).map_err(io("writing", &path))?;
        hist.saturating_record((t.elapsed().as_nanos() as u64).max(1));
        if (i + 1) % 64 == 0 {
            obs.progress(i + 1);
        }
    }
    let elapsed = start.elapsed();
    obs.progress(ops);
    drop(file);
    std::fs::remove_file(&path).map_err(io("removing", &path))?;
    Ok(FsyncReport { data_dir: data_dir.to_path_buf(), ops, elapsed, latency_ns: hist })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Measured;
    use crate::Quiet;
    use croupier_domain::State;
    use croupier_store::RestoreReport;

    fn small(dir: &Path, durability: Durability) -> DurableBetsConfig {
        DurableBetsConfig { accounts: 200, ops: 3_000, batch: 64, ..DurableBetsConfig::new(dir, durability) }
    }

    #[test]
    fn the_journal_reproduces_the_live_state() {
        for durability in [Durability::Process, Durability::Fsync] {
            let dir = tempfile::tempdir().unwrap();
            let cfg = small(dir.path(), durability);
            let r = run_bets(&cfg, &mut Quiet).unwrap();
            assert_eq!((r.report.accepted, r.report.rejected), (3_000, 0));
            assert_eq!(r.report.latency_ns.len(), 3_000);
            assert_eq!(r.report.accounts, 200);
            assert_eq!(r.start_position, 0);
            // Setup: 3 commands, 200 deposits, 1 round; then one record per bet.
            assert_eq!(r.position, 3 + 200 + 1 + 3_000);
            assert_eq!(r.round.as_str(), "bench-round-0");
            let mut state = State::new();
            let mut replay = RestoreReport::default();
            croupier_store::replay_into(&mut state, &journal_dir(dir.path(), 0), 0, &mut replay, |_, _| {}).unwrap();
            assert_eq!(replay.applied_position, r.position);
            assert_eq!(state.digest(), r.report.digest, "{durability:?}");

            // A second run into the same folder is refused, unless appended.
            assert!(matches!(run_bets(&cfg, &mut Quiet), Err(Error::Data(m)) if m.contains("--append")));
            let more = run_bets(&DurableBetsConfig { append: true, ..cfg.clone() }, &mut Quiet).unwrap();
            assert_eq!(more.start_position, r.position);
            assert_eq!(more.report.accepted, 3_000);
            assert_ne!(more.round, r.round);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_digest_in_both_modes() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let ra = run_bets(&small(a.path(), Durability::Process), &mut Quiet).unwrap();
        let rb = run_bets(&small(b.path(), Durability::Fsync), &mut Quiet).unwrap();
        assert_eq!(ra.report.digest, rb.report.digest);
    }

    #[test]
    fn fsync_probe_times_every_write_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let r = run_fsync(dir.path(), 20, &mut Quiet).unwrap();
        assert_eq!(r.latency_ns.len(), 20);
        assert!(r.latency_us(0.5) > 0.0);
        assert!(!dir.path().join(FSYNC_PROBE_FILE).exists());
    }
}
