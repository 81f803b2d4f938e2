//! The scenarios on the sharded [`Runtime`]: `bets`, `settle`, `grab` and `mixed`, with
//! `shards` shard threads (each with its journal, in `process` or `fsync` durability) fed by
//! `producers` threads, in one process.
//!
//! A producer keeps `window` commands in flight, each through its own reusable completion:
//! it submits, and polls its slots for answers. Latency is from just before `submit` (intake)
//! until the producer sees the answer, so it includes the ring, the batch, the journal, the
//! durability wait, and the producer's own polling delay. Every command is timed. A `BUSY`
//! answer is retried after a yield and counted in `busy`; it is not an operation.
//!
//! | scenario | setup (not timed) | measured | ops |
//! |---|---|---|---|
//! | `bets` | funded accounts, one open round | `PlaceBet` from random users | bets answered |
//! | `settle` | one round holding `bets` open bets spread over every shard, stopped | one `GameDraw`, broadcast: every shard settles its own bets | bets settled |
//! | `grab` | one lucky packet of `grabs` shares | one grab per distinct user, users on every shard | grabs |
//! | `mixed` | funded accounts, 16 packets | bets, deposits, withdrawals and grabs from producers while a croupier thread runs rounds (start, stop, draw, end) | commands answered |
//!
//! After the loop: every transfer between shards must settle (grab, mixed; the time it took is
//! reported), every shard's invariants must hold, and for `grab` every grabber's balance must
//! equal the share the pool gave them (exactly once). The digest is sha256 over the shards'
//! digests in shard order.

use crate::setup::{
    self, MAX_DRAWN_STAKE, MEAN_SHARE, PACKET_SENDER as SENDER, STAKE_STEP, STAKE_STEPS, STRIDE, WINDOW_MS,
};
use crate::{measure, Error, LatencySampling, Observer, Phase, Report, Scenario};
use croupier_domain::command::Settings;
use croupier_domain::ids::{Code, ExtId, SelectionId, UserId};
use croupier_domain::rng::SplitMix64;
use croupier_domain::state::Capacity;
use croupier_domain::testkit::{self, GAME};
use croupier_domain::{Command, Money, Reject, Reply, State};
use croupier_journal::Durability;
use croupier_runtime::{Completion, CompletionSlot, ManualClock, Runtime, RuntimeConfig, ShardStopped};
use hdrhistogram::Histogram;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The runtime scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardedScenario {
    Bets,
    Settle,
    Grab,
    Mixed,
    /// One term of the crash game: placement, manual cashouts, the crash ([`crate::crash`]).
    Crash,
}

impl ShardedScenario {
    pub fn scenario(self) -> Scenario {
        match self {
            ShardedScenario::Bets => Scenario::Bets,
            ShardedScenario::Settle => Scenario::Settle,
            ShardedScenario::Grab => Scenario::Grab,
            ShardedScenario::Mixed => Scenario::Mixed,
            ShardedScenario::Crash => Scenario::Crash,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardedConfig {
    pub scenario: ShardedScenario,
    pub shards: usize,
    pub producers: usize,
    /// Commands each producer keeps in flight.
    pub window: usize,
    /// bets, mixed: commands in the measured loop. settle: bets in the round. grab: grabs.
    pub ops: u64,
    /// Funded accounts (bets, settle, mixed).
    pub accounts: u64,
    pub seed: u64,
    pub durability: Durability,
    /// Where the journals go; a temporary folder (removed afterwards) when `None`.
    pub data_dir: Option<PathBuf>,
    /// Most commands a shard runs as one group commit.
    pub batch_max: usize,
    /// crash: manual cashouts in `Flying` (at most half of `ops`, the bets without a target).
    pub cashouts: u64,
}

impl ShardedConfig {
    pub fn new(scenario: ShardedScenario) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (ops, accounts) = match scenario {
            ShardedScenario::Bets => (4_000_000, 1_000_000),
            ShardedScenario::Settle => (1_000_000, 1_000_000),
            ShardedScenario::Grab => (1_000_000, 0),
            ShardedScenario::Mixed => (2_000_000, 100_000),
            ShardedScenario::Crash => (1_000_000, 1_000_000),
        };
        ShardedConfig {
            scenario,
            // The crash term is specified on 2 shards (issue 14); the others fill the cores.
            shards: if scenario == ShardedScenario::Crash { 2 } else { cores },
            producers: cores,
            window: 256,
            ops,
            accounts,
            seed: 1,
            durability: Durability::Process,
            data_dir: None,
            batch_max: 256,
            cashouts: if scenario == ShardedScenario::Crash { ops / 10 } else { 0 },
        }
    }
}

/// What a runtime scenario measured, beyond the common [`Report`].
#[derive(Debug)]
pub struct ShardedReport {
    pub report: Report,
    pub shards: usize,
    pub producers: usize,
    pub window: usize,
    pub durability: Durability,
    /// Submissions refused with `BUSY` and retried.
    pub busy: u64,
    /// Each shard's journal position at the end.
    pub positions: Vec<u64>,
    /// grab, mixed: time from the end of the measured loop until every transfer between
    /// shards was applied and acknowledged.
    pub transfers_settled: Option<Duration>,
    /// Transfers sent between shards during the run.
    pub transfers: u64,
    /// mixed: rounds played by the croupier thread.
    pub rounds: u64,
    /// crash: its three phases.
    pub crash: Option<crate::crash::CrashPhases>,
}

/// A producer's tally.
pub(crate) struct Tally {
    pub(crate) latency_ns: Histogram<u64>,
    pub(crate) accepted: u64,
    pub(crate) rejected: u64,
    pub(crate) busy: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally { latency_ns: measure::latency_histogram(), accepted: 0, rejected: 0, busy: 0 }
    }

    pub(crate) fn merge(&mut self, other: Tally) {
        self.latency_ns.add(other.latency_ns).expect("same histogram bounds");
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.busy += other.busy;
    }
}

/// How long a producer with nothing answered yields the CPU before it sleeps on a slot.
/// A shard answers a small window in a few microseconds in `process` durability, far less
/// than a futex wake-up (50 µs and more on a VM), so sleeping at once capped one producer with
/// 16 in flight at a fifth of what the shard does; a sync in `fsync` takes 0.15 ms and more,
/// so past this the producer sleeps and leaves the cores to the shard and journal threads.
const IDLE_SPIN: Duration = Duration::from_micros(50);
/// Longest such sleep: a submission refused as busy is retried after it.
const IDLE_WAIT: Duration = Duration::from_millis(1);

/// Sends commands `next(i)` for `i` in `range` (stepping by `step`) through `window` slots,
/// timing each from submit to answer. `done` counts answered commands for the progress bar.
fn drive(
    rt: &Runtime,
    window: usize,
    ops: impl Iterator<Item = u64>,
    mut next: impl FnMut(u64) -> Command,
    done: &AtomicU64,
) -> Tally {
    let slots: Vec<Completion> = (0..window.max(1)).map(|_| CompletionSlot::new()).collect();
    let mut sent_at: Vec<Option<Instant>> = vec![None; slots.len()];
    let mut tally = Tally::new();
    let mut ops = ops.peekable();
    let mut in_flight = 0usize;
    let mut idle_since: Option<Instant> = None;
    loop {
        let mut progressed = false;
        for (slot, sent) in slots.iter().zip(sent_at.iter_mut()) {
            if let Some(at) = *sent {
                let Some(answer) = slot.try_wait() else { continue };
                let _ = tally.latency_ns.record(at.elapsed().as_nanos().max(1) as u64);
                if answer.is_ok() {
                    tally.accepted += 1;
                } else {
                    tally.rejected += 1;
                }
                *sent = None;
                in_flight -= 1;
                done.fetch_add(1, Ordering::Relaxed);
                progressed = true;
            }
            let Some(&i) = ops.peek() else { continue };
            let at = Instant::now();
            match rt.submit(slot, next(i)) {
                Ok(()) => {
                    ops.next();
                    *sent = Some(at);
                    in_flight += 1;
                    progressed = true;
                }
                Err(_) => tally.busy += 1,
            }
        }
        if in_flight == 0 && ops.peek().is_none() {
            return tally;
        }
        if progressed {
            idle_since = None;
        } else if idle_since.get_or_insert_with(Instant::now).elapsed() < IDLE_SPIN {
            // Two cores run producers and shards alike: give the shards the CPU.
            std::thread::yield_now();
        } else {
            // Still nothing: sleep on the oldest command in flight rather than spin. A
            // spinning producer takes the cores the shard and journal threads need, and on a
            // loaded machine turned a sync's wait into seconds.
            let oldest = sent_at.iter().enumerate().filter_map(|(i, s)| s.map(|at| (at, i))).min();
            if let Some((_, i)) = oldest {
                slots[i].wait_ready(IDLE_WAIT);
            }
        }
    }
}

/// Runs `producers` producers over `0..ops` (producer `p` takes every `p`-th), reporting
/// progress to `obs` from this thread, and merges their tallies.
fn drive_all(
    rt: &Runtime,
    cfg: &ShardedConfig,
    ops: u64,
    obs: &mut dyn Observer,
    next: impl Fn(u64) -> Command + Sync,
) -> (Tally, Duration) {
    let producers = cfg.producers.max(1) as u64;
    let lanes = (0..producers).map(|p| (p..ops).step_by(producers as usize)).collect();
    drive_lanes(rt, cfg.window, lanes, obs, next)
}

/// Runs one producer per lane, each sending the commands `next(i)` for the `i` of its lane in
/// order, reporting progress to `obs` from this thread, and merges their tallies.
pub(crate) fn drive_lanes<L: IntoIterator<Item = u64> + Send>(
    rt: &Runtime,
    window: usize,
    lanes: Vec<L>,
    obs: &mut dyn Observer,
    next: impl Fn(u64) -> Command + Sync,
) -> (Tally, Duration) {
    let done = AtomicU64::new(0);
    let started = Instant::now();
    let tallies = std::thread::scope(|s| {
        let handles: Vec<_> = lanes
            .into_iter()
            .map(|lane| {
                let (done, next) = (&done, &next);
                s.spawn(move || {
                    let tally = drive(rt, window, lane.into_iter(), next, done);
                    (tally, Instant::now())
                })
            })
            .collect();
        while !handles.iter().all(|h| h.is_finished()) {
            obs.progress(done.load(Ordering::Relaxed));
            std::thread::sleep(Duration::from_millis(100));
        }
        handles.into_iter().map(|h| h.join().expect("producer thread")).collect::<Vec<_>>()
    });
    // Until the last producer saw its last answer: not when this thread, which sleeps 100 ms
    // between progress reports, noticed (that rounded every loop up to 100 ms).
    let end = tallies.iter().map(|(_, end)| *end).max().unwrap_or(started);
    let mut tally = Tally::new();
    for (t, _) in tallies {
        tally.merge(t);
    }
    (tally, end.duration_since(started))
}

fn refused(step: impl Into<String>) -> impl FnOnce(Reject) -> Error {
    let step = step.into();
    move |reject| Error::Setup { step, reject }
}

pub(crate) fn call(rt: &Runtime, cmd: Command, step: &str) -> Result<Reply, Error> {
    rt.call(cmd).map_err(refused(step))
}

/// Configures the runtime: the currency, the game, `settings`.
fn configure_with(rt: &Runtime, settings: Settings) -> Result<(), Error> {
    for cmd in testkit::setup_commands(setup::limits()) {
        let cmd = match cmd {
            Command::Configure(_) => Command::Configure(settings),
            other => other,
        };
        call(rt, cmd.clone(), &format!("{cmd:?}"))?;
    }
    Ok(())
}

/// Configures the runtime with the default settings.
pub(crate) fn configure_settings(rt: &Runtime) -> Result<(), Error> {
    configure_with(rt, Settings::default())
}

/// Configures the runtime (currency, game, red-packet bounds) and funds `accounts` users.
fn configure(rt: &Runtime, cfg: &ShardedConfig, settings: Settings, obs: &mut dyn Observer) -> Result<(), Error> {
    configure_with(rt, settings)?;
    let amount = setup::deposit_cap(cfg.accounts + 1).min(1_000_000_000);
    obs.phase(Phase::Setup, cfg.accounts);
    let (tally, _) = drive_all(rt, cfg, cfg.accounts, obs, |i| testkit::deposit(i + 1, amount, i + 1));
    if tally.rejected > 0 {
        return Err(Error::Verification(format!("{} of the funding deposits were refused", tally.rejected)));
    }
    Ok(())
}

fn runtime_config(cfg: &ShardedConfig, dir: &std::path::Path) -> RuntimeConfig {
    let mut rc = RuntimeConfig::new(dir);
    rc.shards = cfg.shards.max(1);
    rc.durability = cfg.durability;
    rc.batch_max = cfg.batch_max;
    rc.ring_capacity = (cfg.producers.max(1) * cfg.window.max(1) * 2).max(4_096);
    let per_shard = |n: u64| (n as usize / rc.shards) * 5 / 4 + 1_024;
    // Crash bets are not round bets: the crash game sizes its own tables as they grow.
    let round_bets = if cfg.scenario == ShardedScenario::Crash { 0 } else { per_shard(cfg.ops) };
    rc.capacity = Capacity { accounts: per_shard(cfg.accounts.max(cfg.ops)), bets: round_bets };
    // Snapshots are measured by `croupier bench shard-bets`; here they would only add noise.
    rc.snapshot_every_records = None;
    rc
}

/// Runs one runtime scenario.
pub fn run(cfg: &ShardedConfig, obs: &mut dyn Observer) -> Result<ShardedReport, Error> {
    setup::check_count("ops", cfg.ops, 1)?;
    if cfg.shards == 0 || cfg.producers == 0 || cfg.window == 0 {
        return Err(Error::InvalidConfig("shards, producers and window must be at least 1".into()));
    }
    let temp;
    let dir = match &cfg.data_dir {
        Some(d) => d.clone(),
        None => {
            temp = tempdir()?;
            temp.path().to_path_buf()
        }
    };
    if std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::Data(format!("{} is not empty: give an empty or new --data-dir", dir.display())));
    }
    let setup_started = Instant::now();
    let mut rc = runtime_config(cfg, &dir);
    // The crash term's time is the bench's input: its commands are stamped by a clock it sets.
    let clock = Arc::new(ManualClock::new(crate::crash::T0));
    if cfg.scenario == ShardedScenario::Crash {
        rc.clock = clock.clone();
    }
    let (rt, _) = Runtime::start(rc).map_err(|e| Error::Data(format!("starting: {e}")))?;
    let outcome = match cfg.scenario {
        ShardedScenario::Bets => run_bets(&rt, cfg, obs, setup_started),
        ShardedScenario::Settle => run_settle(&rt, cfg, obs, setup_started),
        ShardedScenario::Grab => run_grab(&rt, cfg, obs, setup_started),
        ShardedScenario::Mixed => run_mixed(&rt, cfg, obs, setup_started),
        ShardedScenario::Crash => crate::crash::run(&rt, cfg, obs, setup_started, &clock),
    };
    let (mut report, mut extra) = match outcome {
        Ok(r) => r,
        Err(e) => {
            let _ = rt.shutdown(false);
            return Err(e);
        }
    };
    obs.phase(Phase::Verify, 0);
    if !rt.wait_transfers_settled(Duration::from_secs(60)) {
        return Err(Error::Verification("transfers between shards did not settle within 60 s".into()));
    }
    let transfers_settled = extra.wait_transfers.then(|| extra.loop_end.elapsed());
    let views = shard_views(&rt)?;
    if let Some(check) = extra.check.take() {
        check(&rt)?;
    }
    let stopped: Vec<ShardStopped> = rt.shutdown(false).map_err(|e| Error::Data(format!("stopping: {e}")))?;
    let mut hash = Sha256::new();
    for v in &views {
        hash.update(v.digest);
    }
    report.digest = hash.finalize().into();
    report.accounts = views.iter().map(|v| v.accounts).sum();
    Ok(ShardedReport {
        report,
        shards: cfg.shards,
        producers: cfg.producers,
        window: cfg.window,
        durability: cfg.durability,
        busy: extra.busy,
        positions: stopped.iter().map(|s| s.position).collect(),
        transfers_settled,
        transfers: views.iter().map(|v| v.sent).sum(),
        rounds: extra.rounds,
        crash: extra.crash,
    })
}

fn tempdir() -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix("croupier-bench-")
        .tempdir()
        .map_err(|e| Error::Data(format!("cannot create a temporary data folder: {e}")))
}

pub(crate) type Check = Box<dyn FnOnce(&Runtime) -> Result<(), Error>>;

/// What a scenario hands back to [`run`] besides its report.
pub(crate) struct Extra {
    pub(crate) busy: u64,
    pub(crate) rounds: u64,
    pub(crate) wait_transfers: bool,
    pub(crate) loop_end: Instant,
    pub(crate) check: Option<Check>,
    pub(crate) crash: Option<crate::crash::CrashPhases>,
}

struct ShardView {
    digest: [u8; 32],
    accounts: u64,
    sent: u64,
}

fn shard_views(rt: &Runtime) -> Result<Vec<ShardView>, Error> {
    (0..rt.shards())
        .map(|i| {
            let view = rt
                .inspect(i, |s: &State| {
                    s.check_invariants().map(|()| ShardView {
                        digest: s.digest(),
                        accounts: s.accounts().len() as u64,
                        sent: s.links().iter().map(|l| l.sent).sum(),
                    })
                })
                .map_err(|_| Error::Data(format!("shard {i} stayed busy")))?;
            view.map_err(|e| Error::Verification(format!("shard {i}: {e}")))
        })
        .collect()
}

pub(crate) fn report(scenario: Scenario, ops: u64, tally: Tally, elapsed: Duration, setup: Duration) -> Report {
    Report {
        scenario,
        ops,
        accepted: tally.accepted,
        rejected: tally.rejected,
        elapsed,
        latency_ns: tally.latency_ns,
        sampling: LatencySampling::EveryCommand,
        worst_batch: None,
        allocations: None,
        settle: None,
        setup,
        accounts: 0,
        digest: [0; 32],
    }
}

fn bet(rng_seed: u64, i: u64, users: u64, round: ExtId) -> Command {
    let mut rng = SplitMix64::new(rng_seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    setup::random_bet(&mut rng, users, ExtId::numbered("bet-", i), round, setup::currency(), testkit::code("ag"))
}

fn open_round(rt: &Runtime, round: ExtId) -> Result<(), Error> {
    let start = Command::GameStart { round, game: testkit::id(GAME), window_ms: Some(WINDOW_MS) };
    call(rt, start, "open the round").map(|_| ())
}

/// The default settings, funded players and the round `bench-round` open (the setup, which
/// ended at the `Instant` returned), then, in `phase`, `cfg.ops` bets on that round from the
/// producers: their tally and time.
fn bets_on_a_round(
    rt: &Runtime,
    cfg: &ShardedConfig,
    obs: &mut dyn Observer,
    phase: Phase,
) -> Result<(ExtId, Instant, Tally, Duration), Error> {
    configure(rt, cfg, Settings::default(), obs)?;
    let round = testkit::id("bench-round");
    open_round(rt, round)?;
    let ready = Instant::now();
    obs.phase(phase, cfg.ops);
    let (tally, elapsed) = drive_all(rt, cfg, cfg.ops, obs, |i| bet(cfg.seed, i, cfg.accounts.max(1), round));
    Ok((round, ready, tally, elapsed))
}

fn run_bets(
    rt: &Runtime,
    cfg: &ShardedConfig,
    obs: &mut dyn Observer,
    setup_started: Instant,
) -> Result<(Report, Extra), Error> {
    let (_, ready, tally, elapsed) = bets_on_a_round(rt, cfg, obs, Phase::Measure)?;
    let setup = ready.duration_since(setup_started);
    let extra = Extra {
        busy: tally.busy,
        rounds: 0,
        wait_transfers: false,
        loop_end: Instant::now(),
        check: None,
        crash: None,
    };
    if tally.rejected > 0 {
        return Err(Error::Verification(format!("{} bets were refused", tally.rejected)));
    }
    Ok((report(Scenario::Bets, cfg.ops, tally, elapsed, setup), extra))
}

fn run_settle(
    rt: &Runtime,
    cfg: &ShardedConfig,
    obs: &mut dyn Observer,
    setup_started: Instant,
) -> Result<(Report, Extra), Error> {
    let (round, _, placed, _) = bets_on_a_round(rt, cfg, obs, Phase::Setup)?;
    if placed.rejected > 0 {
        return Err(Error::Verification(format!("{} of the round's bets were refused", placed.rejected)));
    }
    call(rt, Command::GameStop { round }, "stop the round")?;
    let setup = setup_started.elapsed();
    obs.phase(Phase::Measure, 1);
    let draw = Command::GameDraw { round, result: Some(testkit::draw(SelectionId(0))) };
    let started = Instant::now();
    let answer = rt.call(draw);
    let elapsed = started.elapsed();
    let settled = match answer {
        Ok(Reply::RoundSettled { bets, .. }) => bets as u64,
        other => return Err(Error::Verification(format!("the draw answered {other:?}"))),
    };
    if settled != cfg.ops {
        return Err(Error::Verification(format!("the draw settled {settled} bets of {}", cfg.ops)));
    }
    let mut tally = Tally::new();
    let _ = tally.latency_ns.record(elapsed.as_nanos().max(1) as u64);
    tally.accepted = settled;
    let mut r = report(Scenario::Settle, settled, tally, elapsed, setup);
    r.sampling = LatencySampling::Single;
    r.settle = Some(elapsed);
    Ok((r, Extra { busy: 0, rounds: 1, wait_transfers: false, loop_end: Instant::now(), check: None, crash: None }))
}

fn run_grab(
    rt: &Runtime,
    cfg: &ShardedConfig,
    obs: &mut dyn Observer,
    setup_started: Instant,
) -> Result<(Report, Extra), Error> {
    let grabs = cfg.ops;
    let settings = setup::packet_settings(grabs as u32);
    configure(rt, &ShardedConfig { accounts: 0, ..cfg.clone() }, settings, obs)?;
    let total = Money(grabs as i64 * MEAN_SHARE);
    call(rt, testkit::deposit(SENDER.0, total.0, 0), "fund the sender")?;
    let packet = testkit::id("bench-packet");
    let send = setup::lucky_packet(packet, SENDER, total, grabs as u32, cfg.seed);
    call(rt, send, "send the packet")?;
    let setup = setup_started.elapsed();
    obs.phase(Phase::Measure, grabs);
    let grabber = move |i: u64| UserId(1 + (i.wrapping_mul(STRIDE) + cfg.seed) % grabs);
    let (tally, elapsed) =
        drive_all(rt, cfg, grabs, obs, |i| Command::GrabRedPacket { packet, sender: SENDER, user: grabber(i) });
    if tally.accepted != grabs {
        return Err(Error::Verification(format!("{} of {grabs} grabs got a share", tally.accepted)));
    }
    let check: Check = Box::new(move |rt| check_grab_credits(rt, packet, grabs));
    let extra = Extra {
        busy: tally.busy,
        rounds: 0,
        wait_transfers: true,
        loop_end: Instant::now(),
        check: Some(check),
        crash: None,
    };
    Ok((report(Scenario::Grab, grabs, tally, elapsed, setup), extra))
}

/// Every grabber's balance equals the share the pool recorded for them: credited exactly once,
/// wherever they live.
fn check_grab_credits(rt: &Runtime, packet: ExtId, grabs: u64) -> Result<(), Error> {
    let pool_shard = croupier_runtime::shard_of(SENDER, rt.shards());
    let shares: Vec<(UserId, Money)> = rt
        .inspect(pool_shard, move |s: &State| {
            s.packet_by_id(SENDER, &packet).map(|p| s.packet(p).grabs.clone()).unwrap_or_default()
        })
        .map_err(|_| Error::Data("the pool's shard stayed busy".into()))?;
    if shares.len() as u64 != grabs {
        return Err(Error::Verification(format!("the pool recorded {} grabs of {grabs}", shares.len())));
    }
    let mut balances: HashMap<UserId, Money> = HashMap::with_capacity(shares.len());
    for i in 0..rt.shards() {
        let found: Vec<(UserId, Money)> = rt
            .inspect(i, move |s: &State| {
                s.accounts().iter().filter(|a| a.user != SENDER).map(|a| (a.user, a.balance())).collect()
            })
            .map_err(|_| Error::Data(format!("shard {i} stayed busy")))?;
        balances.extend(found);
    }
    for (user, share) in &shares {
        if balances.get(user) != Some(share) {
            return Err(Error::Verification(format!(
                "user {} got {:?} for a share of {share}",
                user.0,
                balances.get(user)
            )));
        }
    }
    if balances.len() != shares.len() {
        return Err(Error::Verification(format!("{} accounts for {} shares", balances.len(), shares.len())));
    }
    Ok(())
}

/// Packets in the mixed scenario, each with enough shares for the whole run.
const MIXED_PACKETS: u64 = 16;

fn run_mixed(
    rt: &Runtime,
    cfg: &ShardedConfig,
    obs: &mut dyn Observer,
    setup_started: Instant,
) -> Result<(Report, Extra), Error> {
    let accounts = cfg.accounts.max(MIXED_PACKETS);
    let cfg = &ShardedConfig { accounts, ..cfg.clone() };
    let shares = (cfg.ops / MIXED_PACKETS + 1).min(u32::MAX as u64 / 2) as u32;
    let settings = setup::packet_settings(shares);
    configure(rt, cfg, settings, obs)?;
    for k in 0..MIXED_PACKETS {
        let sender = UserId(1 + k);
        call(rt, testkit::deposit(sender.0, shares as i64 * 2, u64::MAX - k), "fund a packet")?;
        let packet = ExtId::numbered("mixed-packet-", k);
        let send = setup::lucky_packet(packet, sender, Money(shares as i64 * 2), shares, cfg.seed + k);
        call(rt, send, "send a packet")?;
    }
    let round_no = AtomicU64::new(0);
    open_round(rt, ExtId::numbered("mixed-round-", 0))?;
    let setup = setup_started.elapsed();
    let stop = AtomicBool::new(false);
    obs.phase(Phase::Measure, cfg.ops);
    let (tally, elapsed, rounds) = std::thread::scope(|s| {
        let croupier = s.spawn(|| play_rounds(rt, &round_no, &stop));
        let (tally, elapsed) = drive_all(rt, cfg, cfg.ops, obs, |i| mixed_command(cfg, i, &round_no));
        stop.store(true, Ordering::Release);
        (tally, elapsed, croupier.join().expect("croupier thread"))
    });
    let rounds = rounds?;
    let extra =
        Extra { busy: tally.busy, rounds, wait_transfers: true, loop_end: Instant::now(), check: None, crash: None };
    Ok((report(Scenario::Mixed, cfg.ops, tally, elapsed, setup), extra))
}

/// The croupier: plays rounds (the open one is stopped, drawn and ended, the next opened)
/// every 20 ms until told to stop; returns how many it played.
fn play_rounds(rt: &Runtime, round_no: &AtomicU64, stop: &AtomicBool) -> Result<u64, Error> {
    let mut played = 0u64;
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(20));
        let n = round_no.load(Ordering::Acquire);
        let round = ExtId::numbered("mixed-round-", n);
        let winner = SelectionId((n % 3) as u16);
        for cmd in [
            Command::GameStop { round },
            Command::GameDraw { round, result: Some(testkit::draw(winner)) },
            Command::GameEnd { round },
        ] {
            call_retrying(rt, cmd)?;
        }
        let next = ExtId::numbered("mixed-round-", n + 1);
        call_retrying(rt, Command::GameStart { round: next, game: testkit::id(GAME), window_ms: Some(WINDOW_MS) })?;
        round_no.store(n + 1, Ordering::Release);
        played += 1;
    }
    Ok(played)
}

fn call_retrying(rt: &Runtime, cmd: Command) -> Result<Reply, Error> {
    loop {
        match rt.call(cmd.clone()) {
            Err(Reject::Busy { retry_after_ms }) => std::thread::sleep(Duration::from_millis(retry_after_ms)),
            other => return other.map_err(refused(format!("{cmd:?}"))),
        }
    }
}

/// Command `i` of the mixed stream: 70 % bets on the current round, 12 % grabs, 10 % deposits,
/// 8 % withdrawals.
fn mixed_command(cfg: &ShardedConfig, i: u64, round_no: &AtomicU64) -> Command {
    let mut rng = SplitMix64::new(cfg.seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let pick = rng.below(100);
    let user = UserId(1 + rng.below(cfg.accounts));
    let currency: Code = setup::currency();
    match pick {
        0..=69 => {
            let round = ExtId::numbered("mixed-round-", round_no.load(Ordering::Acquire));
            bet(cfg.seed, i, cfg.accounts, round)
        }
        70..=81 => {
            let k = rng.below(MIXED_PACKETS);
            // Users above the funded ones grab too: they open an account with their share.
            let grabber = UserId(1 + rng.below(cfg.accounts * 2));
            Command::GrabRedPacket { packet: ExtId::numbered("mixed-packet-", k), sender: UserId(1 + k), user: grabber }
        }
        82..=91 => Command::Deposit {
            transfer: ExtId::numbered("mixed-dep-", i),
            user,
            currency,
            amount: Money(STAKE_STEP * (1 + rng.below(STAKE_STEPS) as i64)),
        },
        _ => Command::Withdraw {
            transfer: ExtId::numbered("mixed-wd-", i),
            user,
            currency,
            amount: Money(1 + rng.below(MAX_DRAWN_STAKE as u64) as i64),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Quiet;

    fn small(scenario: ShardedScenario) -> ShardedConfig {
        ShardedConfig { shards: 3, producers: 2, window: 8, ops: 3_000, accounts: 500, ..ShardedConfig::new(scenario) }
    }

    #[test]
    fn every_runtime_scenario_runs_and_verifies() {
        for scenario in [ShardedScenario::Bets, ShardedScenario::Settle, ShardedScenario::Grab, ShardedScenario::Mixed]
        {
            let r = run(&small(scenario), &mut Quiet).unwrap_or_else(|e| panic!("{scenario:?}: {e}"));
            assert_eq!(r.report.ops, 3_000, "{scenario:?}");
            assert_eq!(r.positions.len(), 3);
            assert!(r.positions.iter().all(|p| *p > 0), "every shard journaled: {:?}", r.positions);
            match scenario {
                ShardedScenario::Bets | ShardedScenario::Grab => assert_eq!(r.report.accepted, 3_000),
                ShardedScenario::Settle => assert!(r.report.settle.is_some()),
                ShardedScenario::Mixed => assert!(r.report.accepted + r.report.rejected == 3_000 && r.rounds >= 1),
                ShardedScenario::Crash => unreachable!("benches/tests/crash.rs runs the crash term"),
            }
            if scenario == ShardedScenario::Grab {
                assert!(r.transfers > 1_000, "most grabbers live on other shards: {}", r.transfers);
            }
        }
    }

    #[test]
    fn a_folder_that_holds_data_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x"), b"x").unwrap();
        let cfg = ShardedConfig { data_dir: Some(dir.path().to_path_buf()), ..small(ShardedScenario::Bets) };
        assert!(matches!(run(&cfg, &mut Quiet), Err(Error::Data(_))));
    }
}
