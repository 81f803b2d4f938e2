//! croupier's benchmark scenarios: the workloads behind `croupier bench`, kept in a library
//! so that the shard runtime (and criterion, in `benches/engine.rs`) can reuse them.
//!
//! Each scenario drives a pure [`Engine`] on the calling thread, with no journal and no I/O:
//!
//! | scenario | setup (not timed) | measured | ops |
//! |---|---|---|---|
//! | [`Scenario::EngineBets`] | funded accounts, one open round | `PlaceBet` from random users | bets placed |
//! | [`Scenario::EngineSettle`] | one round holding many open bets, stopped | one `GameDraw` with a result | bets settled |
//! | [`Scenario::EngineGrab`] | one lucky red packet, a few funded accounts | one grab per distinct user | grabs |
//! | [`Scenario::EngineDice`] | funded accounts with seed pairs, instant games configured | dice bets from random users (HMAC, settlement) | bets |
//!
//! [`durable`] adds the scenarios that touch a disk: `bets` ([`Scenario::DurableBets`]:
//! `PlaceBet` through a `DurableShard`, journal and snapshots included, in a data folder that
//! is kept) and `fsync` (the raw latency of a 4 KiB `fdatasync` on that folder's disk).
//!
//! [`sharded`] runs `bets`, `settle`, `grab` and `mixed` on the sharded runtime, and [`crash`]
//! one term of the crash game on it (placement, manual cashouts, the crash), on a manual clock.
//!
//! Throughput is operations divided by the wall time of the measured loop (setup, checks and
//! digest excluded). Latency: see [`measure`] (every 64th operation is timed on its own).
//! `engine-bets` and `engine-grab` can also hand their commands to `Engine::execute_batch`
//! in batches (`batch > 1`), as a shard does with what it drains from its ring; each batch is
//! then timed whole.
//! After the loop the state's invariants are checked and its digest is computed, untimed.
//! An [`Observer`] hears about phases and progress and may count heap allocations, which is
//! how `croupier bench` proves that accepting a bet allocates nothing in the steady state.

pub mod alloc_count;
pub mod baseline;
pub mod bets;
pub mod crash;
pub mod dice;
pub mod durable;
pub mod grab;
pub mod measure;
pub mod settle;
mod setup;
pub mod sharded;
pub mod workload;

pub use bets::{BetsConfig, BetsWorkload};
pub use dice::{DiceConfig, DiceWorkload};
pub use durable::{DurableBetsConfig, DurableBetsReport, FsyncReport};
pub use grab::{GrabConfig, GrabWorkload};
pub use settle::{SettleConfig, SettleWorkload};
pub use workload::Workload;

use croupier_domain::{Engine, Reject};
use hdrhistogram::Histogram;
use std::fmt;
use std::time::Duration;

/// The benchmark scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    EngineBets,
    EngineSettle,
    EngineGrab,
    /// `PlaceBet` through a durable shard (journal, snapshots): [`durable::run_bets`].
    DurableBets,
    /// The scenarios on the sharded runtime ([`sharded`]).
    Bets,
    Settle,
    Grab,
    Mixed,
    /// Dice bets (seed 003) in process: [`dice::run`].
    EngineDice,
    /// One crash term on the sharded runtime: placement, manual cashouts, the crash ([`crash`]).
    Crash,
}

impl Scenario {
    pub const ALL: [Scenario; 10] = [
        Scenario::EngineBets,
        Scenario::EngineSettle,
        Scenario::EngineGrab,
        Scenario::DurableBets,
        Scenario::Bets,
        Scenario::Settle,
        Scenario::Grab,
        Scenario::Mixed,
        Scenario::EngineDice,
        Scenario::Crash,
    ];

    /// The stable name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::EngineBets => "engine-bets",
            Scenario::EngineSettle => "engine-settle",
            Scenario::EngineGrab => "engine-grab",
            Scenario::DurableBets => "shard-bets",
            Scenario::Bets => "bets",
            Scenario::Settle => "settle",
            Scenario::Grab => "grab",
            Scenario::Mixed => "mixed",
            Scenario::EngineDice => "engine-dice",
            Scenario::Crash => "crash",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario with its sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Config {
    Bets(BetsConfig),
    Settle(SettleConfig),
    Grab(GrabConfig),
    Dice(DiceConfig),
}

impl Config {
    pub fn scenario(&self) -> Scenario {
        match self {
            Config::Bets(_) => Scenario::EngineBets,
            Config::Settle(_) => Scenario::EngineSettle,
            Config::Grab(_) => Scenario::EngineGrab,
            Config::Dice(_) => Scenario::EngineDice,
        }
    }
}

/// The steps of a run, announced to the [`Observer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Building the state the measurement starts from (not timed).
    Setup,
    /// The measured loop.
    Measure,
    /// Invariant checks, scenario checks and the state digest (not timed).
    Verify,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Setup => "setup",
            Phase::Measure => "measure",
            Phase::Verify => "verify",
        })
    }
}

/// Hears what a run is doing. During the measured loop, `progress` is called every
/// [`measure::PROGRESS_EVERY`] operations, so it may be moderately expensive; allocations it
/// makes are not charged to the engine.
pub trait Observer {
    /// A phase begins; `total` is how many steps `progress` will count up to (0: unknown).
    fn phase(&mut self, _phase: Phase, _total: u64) {}
    /// `done` steps of the current phase are done.
    fn progress(&mut self, _done: u64) {}
    /// The number of heap allocations made by the process so far, if it counts them (a
    /// counting global allocator). Called only outside timed operations.
    fn allocations(&self) -> Option<u64> {
        None
    }
}

/// An observer that ignores everything and counts nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quiet;

impl Observer for Quiet {}

/// How the latency histogram was filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencySampling {
    /// Every n-th operation timed on its own.
    EveryNth(u64),
    /// Batches of n operations (`Engine::execute_batch`) timed whole; each operation is
    /// recorded at the batch's duration divided by n.
    Batched(u64),
    /// The one measured operation (a settlement) timed as a whole.
    Single,
    /// Batches of n commands through a durable shard; each command is recorded at the time
    /// from its batch's start until its answer may be released (see [`durable`]).
    Released(u64),
    /// Every command, from just before its submission to the runtime until its producer saw
    /// the answer (see [`sharded`]).
    EveryCommand,
}

/// What a run measured.
#[derive(Debug)]
pub struct Report {
    pub scenario: Scenario,
    /// Operations in the measured loop (bets placed, bets settled, grabs).
    pub ops: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Wall time of the measured loop.
    pub elapsed: Duration,
    /// Latency in nanoseconds.
    pub latency_ns: Histogram<u64>,
    pub sampling: LatencySampling,
    /// The slowest stretch of 64 consecutive operations (per-operation scenarios only).
    pub worst_batch: Option<Duration>,
    /// Heap allocations during the measured loop, if the observer counts them.
    pub allocations: Option<u64>,
    /// The duration of the settlement (engine-settle only).
    pub settle: Option<Duration>,
    /// Time to build the starting state.
    pub setup: Duration,
    /// Accounts in the state after the run.
    pub accounts: u64,
    /// sha256 of the state after the run.
    pub digest: [u8; 32],
}

/// What every report measured (engine, sharded, baseline, fsync): operations over the wall
/// time of the measured loop, and their latencies. The standard report keys come from here.
pub trait Measured {
    fn ops(&self) -> u64;
    fn elapsed(&self) -> Duration;
    /// Latency in nanoseconds.
    fn latency_ns(&self) -> &Histogram<u64>;

    fn seconds(&self) -> f64 {
        self.elapsed().as_secs_f64()
    }

    fn ops_per_sec(&self) -> f64 {
        measure::rate(self.ops(), self.seconds())
    }

    /// The latency at `quantile` (0.5, 0.99, ...), in microseconds.
    fn latency_us(&self, quantile: f64) -> f64 {
        measure::quantile_us(self.latency_ns(), quantile)
    }

    fn max_latency_us(&self) -> f64 {
        measure::max_us(self.latency_ns())
    }
}

/// [`Measured`] for a report with the fields `ops`, `elapsed` and `latency_ns`.
macro_rules! measured {
    ($($report:ty),*) => {$(
        impl $crate::Measured for $report {
            fn ops(&self) -> u64 {
                self.ops
            }

            fn elapsed(&self) -> std::time::Duration {
                self.elapsed
            }

            fn latency_ns(&self) -> &hdrhistogram::Histogram<u64> {
                &self.latency_ns
            }
        }
    )*};
}

measured!(Report, baseline::BaselineReport, durable::FsyncReport);

impl Report {
    pub fn allocations_per_op(&self) -> Option<f64> {
        self.allocations.map(|a| if self.ops == 0 { 0.0 } else { a as f64 / self.ops as f64 })
    }

    pub fn digest_hex(&self) -> String {
        self.digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Why a run could not be done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The sizes asked for cannot be run (zero, or beyond the engine's u32 numbering).
    InvalidConfig(String),
    /// A setup command was refused: the scenario is broken, not the measurement.
    Setup { step: String, reject: Reject },
    /// The state after the run is wrong.
    Verification(String),
    /// The data folder, journal or snapshots failed (durable scenarios).
    Data(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig(m) => write!(f, "invalid benchmark size: {m}"),
            Error::Setup { step, reject } => write!(f, "setup step {step} was refused: {reject}"),
            Error::Verification(m) => write!(f, "verification failed after the run: {m}"),
            Error::Data(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for Error {}

/// Runs one scenario: setup, the measured loop, then checks and digest.
pub fn run(config: &Config, obs: &mut dyn Observer) -> Result<Report, Error> {
    match config {
        Config::Bets(c) => bets::run(c, obs),
        Config::Settle(c) => settle::run(c, obs),
        Config::Grab(c) => grab::run(c, obs),
        Config::Dice(c) => dice::run(c, obs),
    }
}

/// The checks every scenario ends with: invariants, then the digest.
fn verify_state(engine: &Engine, obs: &mut dyn Observer) -> Result<[u8; 32], Error> {
    obs.phase(Phase::Verify, 0);
    engine.state().check_invariants().map_err(Error::Verification)?;
    Ok(engine.state().digest())
}
