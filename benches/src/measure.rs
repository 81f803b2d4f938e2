//! The measured loop: throughput over the whole loop, latency from sampled operations.
//!
//! Reading the clock costs about 20-25 ns, which would dominate an operation of ~150 ns if
//! every one were timed. So **every 64th operation is timed on its own** (two clock reads
//! around it) and recorded in the histogram; the other 63 run untimed. Percentiles are
//! therefore over 1/64 of the operations, chosen by position and not by speed, and each
//! sampled latency includes about one clock read of overhead. A single stall that no sample
//! hits would be missed by `max`, so the loop also reports the slowest stretch of 64
//! consecutive operations (the time between two sample starts), which covers every operation.
//!
//! In batch mode ([`measured_batches`], for `Engine::execute_batch`) the operations of a batch
//! overlap their memory accesses, so no single one can be timed alone: each batch is timed as
//! a whole and its duration divided by its length is recorded once per operation.

use crate::{Observer, Phase};
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// One operation in this many is timed individually.
pub const SAMPLE_EVERY: u64 = 64;
/// The observer hears about progress every this many operations.
pub const PROGRESS_EVERY: u64 = 65_536;

// Both are powers of two, so a progress point is always at the start of a sampled batch.
const _: () =
    assert!(SAMPLE_EVERY.is_power_of_two() && PROGRESS_EVERY.is_power_of_two() && PROGRESS_EVERY >= SAMPLE_EVERY);

/// A latency histogram in nanoseconds, 1 ns to 1 hour, three significant digits. Its size is
/// fixed up front, so recording never allocates.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

/// What a measured loop saw.
#[derive(Debug)]
pub struct LoopStats {
    pub ops: u64,
    pub accepted: u64,
    pub elapsed: Duration,
    /// Sampled per-operation latencies, in nanoseconds.
    pub latency_ns: Histogram<u64>,
    /// The slowest stretch of at most [`SAMPLE_EVERY`] consecutive operations.
    pub worst_batch: Duration,
    /// Heap allocations during the loop, not counting the observer's own progress reporting;
    /// `None` when the observer cannot count.
    pub allocations: Option<u64>,
}

/// Runs `op(i)` for `i` in `0..ops`; `op` answers whether the operation was accepted.
#[inline(never)]
pub fn measured_loop<F: FnMut(u64) -> bool>(ops: u64, obs: &mut dyn Observer, mut op: F) -> LoopStats {
    let mut m = Measuring::start(ops, obs);
    let mut batch_start: Option<Instant> = None;
    let mut i = 0u64;
    while i < ops {
        let t = Instant::now();
        if let Some(b) = batch_start {
            m.worst_batch = m.worst_batch.max(t.duration_since(b));
        }
        batch_start = Some(t);
        m.accepted += op(i) as u64;
        m.hist.saturating_record((t.elapsed().as_nanos() as u64).max(1));
        let end = (i + SAMPLE_EVERY).min(ops);
        for j in i + 1..end {
            m.accepted += op(j) as u64;
        }
        i = end;
        if i & (PROGRESS_EVERY - 1) == 0 && i < ops {
            m.report_progress(obs, i);
            // The stretch across a progress report is not the engine's time.
            batch_start = None;
        }
    }
    let end = Instant::now();
    if let Some(b) = batch_start {
        m.worst_batch = m.worst_batch.max(end.duration_since(b));
    }
    m.finish(obs, ops, end)
}

/// Runs `batch(start, len)` over `0..ops` in batches of `len` (the last may be shorter);
/// `batch` answers how many of its operations were accepted. Each batch is timed whole.
#[inline(never)]
pub fn measured_batches<F: FnMut(u64, usize) -> u64>(
    ops: u64,
    batch_len: usize,
    obs: &mut dyn Observer,
    mut batch: F,
) -> LoopStats {
    assert!(batch_len > 0, "batches hold at least one operation");
    let mut m = Measuring::start(ops, obs);
    let mut i = 0u64;
    while i < ops {
        let len = (ops - i).min(batch_len as u64);
        let t = Instant::now();
        m.accepted += batch(i, len as usize);
        let d = t.elapsed();
        m.worst_batch = m.worst_batch.max(d);
        m.hist.saturating_record_n(((d.as_nanos() as u64) / len).max(1), len);
        let before = i;
        i += len;
        if i / PROGRESS_EVERY != before / PROGRESS_EVERY && i < ops {
            m.report_progress(obs, i);
        }
    }
    let end = Instant::now();
    m.finish(obs, ops, end)
}

/// A measured loop under way, either kind.
struct Measuring {
    hist: Histogram<u64>,
    accepted: u64,
    worst_batch: Duration,
    /// Allocations made by the observer's own progress reporting.
    progress_allocs: u64,
    allocs_before: Option<u64>,
    start: Instant,
}

impl Measuring {
    fn start(ops: u64, obs: &mut dyn Observer) -> Self {
        let hist = latency_histogram();
        obs.phase(Phase::Measure, ops);
        let allocs_before = obs.allocations();
        Measuring {
            hist,
            accepted: 0,
            worst_batch: Duration::ZERO,
            progress_allocs: 0,
            allocs_before,
            start: Instant::now(),
        }
    }

    /// Tells the observer that `done` operations ran, not counting what the telling allocates.
    fn report_progress(&mut self, obs: &mut dyn Observer, done: u64) {
        let a0 = obs.allocations();
        obs.progress(done);
        if let (Some(a0), Some(a1)) = (a0, obs.allocations()) {
            self.progress_allocs += a1 - a0;
        }
    }

    /// The loop's statistics, its `ops` done at `end`.
    fn finish(self, obs: &mut dyn Observer, ops: u64, end: Instant) -> LoopStats {
        let allocs_after = obs.allocations();
        obs.progress(ops);
        LoopStats {
            ops,
            accepted: self.accepted,
            elapsed: end.duration_since(self.start),
            latency_ns: self.hist,
            worst_batch: self.worst_batch,
            allocations: self.allocs_before.zip(allocs_after).map(|(a, b)| b - a - self.progress_allocs),
        }
    }
}

/// Operations per second; zero for an empty interval.
pub fn rate(ops: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        ops as f64 / seconds
    } else {
        0.0
    }
}

/// A nanosecond histogram's value at `quantile` (0.5, 0.99, ...), in microseconds.
pub fn quantile_us(latency_ns: &Histogram<u64>, quantile: f64) -> f64 {
    latency_ns.value_at_quantile(quantile) as f64 / 1_000.0
}

/// A nanosecond histogram's largest value, in microseconds.
pub fn max_us(latency_ns: &Histogram<u64>) -> f64 {
    latency_ns.max() as f64 / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Quiet;

    #[test]
    fn every_op_runs_once_and_every_64th_is_sampled() {
        let mut seen = Vec::new();
        let stats = measured_loop(1000, &mut Quiet, |i| {
            seen.push(i);
            i % 3 != 0
        });
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert_eq!(stats.ops, 1000);
        assert_eq!(stats.accepted, (0..1000).filter(|i| i % 3 != 0).count() as u64);
        assert_eq!(stats.latency_ns.len(), 1000_u64.div_ceil(SAMPLE_EVERY));
        assert!(stats.allocations.is_none());
    }

    #[test]
    fn batches_cover_every_op_and_record_one_latency_per_op() {
        let mut seen = Vec::new();
        let stats = measured_batches(1000, 64, &mut Quiet, |start, len| {
            assert!(len == 64 || (start == 960 && len == 40));
            seen.extend(start..start + len as u64);
            len as u64 - 1
        });
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert_eq!(stats.accepted, 1000 - 16);
        assert_eq!(stats.latency_ns.len(), 1000);
    }
}
