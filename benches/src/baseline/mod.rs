//! The designs croupier is measured against, run side by side by `croupier bench compare`:
//!
//! | scenario | design | one operation |
//! |---|---|---|
//! | `pg-bets` ([`postgres`]) | bet acceptance as one PostgreSQL transaction per bet | `BEGIN`; `SELECT … FOR UPDATE` the balance; insert the order; update the balance; insert the ledger row; `COMMIT` |
//! | `redis-grab` ([`redis`]) | the red-packet grab as the usual Redis + Lua script over pre-split shares | one `EVALSHA` (or `pipeline` of them per round trip) |
//!
//! Both run `connections` clients on a tokio runtime in this process for `duration`, against
//! the real server named by a URL (never started or configured here), each on its own uniquely
//! named schema or keys, removed afterwards unless `keep`. Every operation is timed, from just
//! before it is sent until its answer (for a pipeline: the whole round trip, recorded for each
//! operation in it). After the loop the data is checked (money adds up; every share handed
//! out at most once) before the report is returned: a fast but wrong baseline is an error.
//!
//! These are not croupier code paths: nothing here may be used by the engine or the gateway.

pub mod postgres;
pub mod redis;

use crate::{measure, Observer, Phase};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a baseline could not be run. The binary wraps it with context; nothing here panics on a
/// server's answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid baseline setting: {0}")]
    InvalidConfig(String),
    #[error("cannot reach {service} at {url}: {message}")]
    Connect { service: &'static str, url: String, message: String },
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] sqlx::Error),
    #[error("Redis: {0}")]
    Redis(#[from] ::redis::RedisError),
    #[error("the baseline's data is wrong after the run: {0}")]
    Verification(String),
    #[error("cannot start the client runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// What a baseline measured.
#[derive(Debug)]
pub struct BaselineReport {
    /// `pg-bets` or `redis-grab`.
    pub scenario: &'static str,
    /// Operations answered in the measured loop (accepted + rejected).
    pub ops: u64,
    pub accepted: u64,
    /// Refused by the design's own rules (no funds; a second grab by the same user).
    pub rejected: u64,
    /// Wall time of the measured loop.
    pub elapsed: Duration,
    /// Every operation's latency, in nanoseconds.
    pub latency_ns: Histogram<u64>,
    pub connections: usize,
    /// Operations per round trip (Redis pipelining; 1 otherwise).
    pub pipeline: usize,
    /// Untimed: creating the schema or keys and funding.
    pub setup: Duration,
    /// The schema (PostgreSQL) or key prefix (Redis) the run used.
    pub namespace: String,
    /// Whether the schema or keys were left in place (`keep`).
    pub kept: bool,
    /// Server facts that decide what a commit costs (`server_version`, `synchronous_commit`,
    /// `fsync` / `redis_version`, `appendonly`, `appendfsync`), as the server reported them.
    pub server: Vec<(String, String)>,
    /// Scenario facts for the report (users, funds, shares, …).
    pub facts: Vec<(&'static str, Fact)>,
}

impl BaselineReport {
    /// The report of a run of `scenario` whose clients counted into `tally` over
    /// `elapsed` after `setup`, `(connections, pipeline)`, in `(namespace, kept)`; its server
    /// and scenario facts are the caller's to add.
    pub(crate) fn of_run(
        scenario: &'static str,
        tally: Tally,
        (elapsed, setup): (Duration, Duration),
        (connections, pipeline): (usize, usize),
        (namespace, kept): (&str, bool),
    ) -> Self {
        BaselineReport {
            scenario,
            ops: tally.accepted + tally.rejected,
            accepted: tally.accepted,
            rejected: tally.rejected,
            elapsed,
            latency_ns: tally.latency_ns,
            connections,
            pipeline,
            setup,
            namespace: namespace.to_string(),
            kept,
            server: Vec::new(),
            facts: Vec::new(),
        }
    }
}

/// A scenario fact, typed so that a report prints money as money.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fact {
    Count(u64),
    /// Minor units of the test currency (CNY, two decimals).
    Amount(croupier_domain::Money),
    Flag(bool),
}

/// A namespace no other run (or parallel test) uses: `croupier_bl_<tag>_<pid>_<nanos>`,
/// lower case, valid unquoted as a PostgreSQL identifier.
pub fn unique_namespace(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("croupier_bl_{tag}_{}_{}_{n}", std::process::id(), nanos % 1_000_000_000_000)
}

/// Namespaces given by a caller go into SQL and key names unquoted: letters, digits and `_`
/// only, starting with a letter, at most 50 bytes.
pub fn check_namespace(ns: &str) -> Result<(), Error> {
    let ok = !ns.is_empty()
        && ns.len() <= 50
        && ns.starts_with(|c: char| c.is_ascii_lowercase())
        && ns.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "namespace {ns:?}: use 1-50 lower-case letters, digits or '_', starting with a letter"
        )))
    }
}

/// The client runtime: one worker per core, like the load generator of any service here.
/// A run's `outcome`, after removing what it made (`cleanup`) unless it is to `keep` it; also
/// after a failure, whose error then stands. A clean-up that fails after a success fails the run.
async fn cleaned_up<T, E>(
    outcome: Result<T, Error>,
    keep: bool,
    cleanup: impl std::future::Future<Output = Result<(), E>>,
) -> Result<T, Error>
where
    Error: From<E>,
{
    if !keep {
        if let (Ok(_), Err(e)) = (&outcome, cleanup.await) {
            return Err(e.into());
        }
    }
    outcome
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(cores).enable_all().build()?)
}

/// Client `worker`'s generator. SplitMix64 streams seeded `s` and `s + k·γ` are the same
/// sequence shifted by `k`, so the clients start at mixed (far apart) points of the cycle.
pub(crate) fn client_rng(seed: u64, worker: usize) -> croupier_domain::rng::SplitMix64 {
    let start = croupier_domain::rng::SplitMix64::new(seed ^ (worker as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03))
        .next_u64();
    croupier_domain::rng::SplitMix64::new(start)
}

/// One client's tally.
pub(crate) struct Tally {
    pub latency_ns: Histogram<u64>,
    pub accepted: u64,
    pub rejected: u64,
}

impl Tally {
    pub fn new() -> Tally {
        Tally { latency_ns: measure::latency_histogram(), accepted: 0, rejected: 0 }
    }

    /// Records `n` operations that took `took` together (one round trip).
    pub fn record(&mut self, took: Duration, n: u64) {
        let _ = self.latency_ns.record_n(took.as_nanos().max(1) as u64, n);
    }

    fn merge(&mut self, other: Tally) {
        self.latency_ns.add(other.latency_ns).expect("same histogram bounds");
        self.accepted += other.accepted;
        self.rejected += other.rejected;
    }
}

/// What the clients share during the measured loop: when to stop, and how much is done.
pub(crate) struct Clock {
    stop: AtomicBool,
    done: AtomicU64,
}

impl Clock {
    pub fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    /// Ends the run early for everyone (a Redis packet ran out of shares).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn count(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

/// Runs the clients (already connected: connecting is setup) until `duration` passes or one of
/// them stops the clock, reporting progress to `obs` from this thread; returns their merged
/// tally and the loop's wall time. The first client error fails the run.
pub(crate) async fn drive<C, F, Fut>(
    clients: Vec<C>,
    duration: Duration,
    obs: &mut dyn Observer,
    run: F,
) -> Result<(Tally, Duration), Error>
where
    C: Send + 'static,
    F: Fn(C, Arc<Clock>) -> Fut,
    Fut: std::future::Future<Output = Result<Tally, Error>> + Send + 'static,
{
    let clock = Arc::new(Clock { stop: AtomicBool::new(false), done: AtomicU64::new(0) });
    obs.phase(Phase::Measure, 0);
    let started = Instant::now();
    let handles: Vec<_> = clients.into_iter().map(|c| tokio::spawn(run(c, clock.clone()))).collect();
    let deadline = started + duration;
    // A client ends before the clock only on an error (or an empty packet, which also stops
    // the clock): then nobody needs to run on.
    while clock.running() && Instant::now() < deadline && !handles.iter().any(|h| h.is_finished()) {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(Duration::from_millis(100))).await;
        obs.progress(clock.done.load(Ordering::Relaxed));
    }
    clock.stop();
    let mut tally = Tally::new();
    let mut first_error = None;
    for h in handles {
        match h.await {
            Ok(Ok(t)) => tally.merge(t),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(join) => {
                first_error.get_or_insert(Error::Verification(format!("a client task failed: {join}")));
            }
        }
    }
    let elapsed = started.elapsed();
    match first_error {
        Some(e) => Err(e),
        None => Ok((tally, elapsed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_unique_and_safe_identifiers() {
        let a = unique_namespace("pg");
        let b = unique_namespace("pg");
        assert_ne!(a, b);
        check_namespace(&a).unwrap();
        assert!(check_namespace("Robert'); DROP TABLE students;--").is_err());
        assert!(check_namespace("1abc").is_err());
        assert!(check_namespace("").is_err());
    }

    #[test]
    fn clients_draw_different_streams() {
        let draws = |w| {
            let mut r = client_rng(1, w);
            (0..64).map(|_| r.below(3_000)).collect::<Vec<_>>()
        };
        let (a, b) = (draws(0), draws(1));
        let common = a.iter().filter(|x| b.contains(x)).count();
        // Independent draws of 64 from 3000 share about 1.4 values; shifted streams share ~63.
        assert!(common < 16, "{common} values in common");
    }
}
