//! What the per-operation engine scenarios (`engine-bets`, `engine-grab`) share: a workload
//! that makes its `n`-th command, run one at a time through `Engine::execute` or in batches
//! through `Engine::execute_batch`, the measured loop over it, and the report it ends with.

use crate::measure::{self, LoopStats};
use crate::{setup, verify_state, Error, LatencySampling, Observer, Report, Scenario};
use croupier_domain::ids::Timestamp;
use croupier_domain::{Command, Engine, Reject, Reply};
use std::time::{Duration, Instant};

/// An engine and the generator of the commands run on it.
pub trait Workload {
    /// The `n`-th command and the time it runs at. Allocates nothing.
    fn command(&mut self, n: u64) -> (Command, Timestamp);

    /// Whether an answer counts as accepted (a new bet, a new share).
    fn accepted(reply: &Result<Reply, Reject>) -> bool;

    /// The engine, and the buffer batches are built in.
    fn parts(&mut self) -> (&mut Engine, &mut Vec<(Timestamp, Command)>);

    /// Runs the `n`-th command; true if it was accepted.
    #[inline]
    fn run_one(&mut self, n: u64) -> bool {
        let (cmd, now) = self.command(n);
        Self::accepted(&self.parts().0.execute(&cmd, now))
    }

    /// Sizes the batch buffer, so that [`Workload::run_batch`] allocates nothing.
    fn reserve_batch(&mut self, len: usize) {
        self.parts().1.reserve(len);
    }

    /// Runs commands `start..start + len` through `Engine::execute_batch`; how many were
    /// accepted.
    #[inline]
    fn run_batch(&mut self, start: u64, len: usize) -> u64 {
        let mut batch = std::mem::take(self.parts().1);
        batch.clear();
        for n in start..start + len as u64 {
            let (cmd, now) = self.command(n);
            batch.push((now, cmd));
        }
        let (engine, buffer) = self.parts();
        let accepted = setup::count_batch(engine, &batch, Self::accepted);
        *buffer = batch;
        accepted
    }
}

/// [`Workload`] for a workload type with the fields `engine` and `batch` whose method
/// `$command(n)` makes the `n`-th command, accepted when it answers `$accepted`.
macro_rules! impl_workload {
    ($workload:ty, $command:ident, $accepted:pat) => {
        impl $crate::workload::Workload for $workload {
            #[inline]
            fn command(&mut self, n: u64) -> (Command, Timestamp) {
                self.$command(n)
            }

            #[inline]
            fn accepted(reply: &Result<Reply, croupier_domain::Reject>) -> bool {
                matches!(reply, Ok($accepted))
            }

            fn parts(&mut self) -> (&mut Engine, &mut Vec<(Timestamp, Command)>) {
                (&mut self.engine, &mut self.batch)
            }
        }
    };
}
pub(crate) use impl_workload;

/// A per-operation engine scenario: `prepare` (timed as the setup), the measured loop over
/// `ops` commands (one at a time when `batch <= 1`, else in batches of `batch`), the
/// scenario's own `check` of the workload after it, then the state's checks, digest and report.
pub(crate) fn run<W: Workload>(
    scenario: Scenario,
    (ops, batch): (u64, usize),
    obs: &mut dyn Observer,
    prepare: impl FnOnce(&mut dyn Observer) -> Result<W, Error>,
    check: impl FnOnce(&mut W, &LoopStats) -> Result<(), Error>,
) -> Result<Report, Error> {
    let setup_start = Instant::now();
    let mut w = prepare(obs)?;
    let setup = setup_start.elapsed();
    w.reserve_batch(batch);
    let measured = if batch <= 1 {
        (measure::measured_loop(ops, obs, |i| w.run_one(i)), LatencySampling::EveryNth(measure::SAMPLE_EVERY))
    } else {
        let stats = measure::measured_batches(ops, batch, obs, |start, len| w.run_batch(start, len));
        (stats, LatencySampling::Batched(batch as u64))
    };
    check(&mut w, &measured.0)?;
    finish(scenario, measured, setup, w.parts().0, obs)
}

/// The end of a per-operation engine scenario: its state's checks and digest, then its report.
fn finish(
    scenario: Scenario,
    (stats, sampling): (LoopStats, LatencySampling),
    setup: Duration,
    engine: &Engine,
    obs: &mut dyn Observer,
) -> Result<Report, Error> {
    let digest = verify_state(engine, obs)?;
    Ok(Report {
        scenario,
        ops: stats.ops,
        accepted: stats.accepted,
        rejected: stats.ops - stats.accepted,
        elapsed: stats.elapsed,
        latency_ns: stats.latency_ns,
        sampling,
        worst_batch: Some(stats.worst_batch),
        allocations: stats.allocations,
        settle: None,
        setup,
        accounts: engine.state().accounts().len() as u64,
        digest,
    })
}
