//! The durable watermark: the highest sequence that meets the configured durability, shared
//! between the writer, the flusher and any thread that must hold an answer until its records are
//! safe.

use crate::error::{JournalError, Result};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A cheap, clonable handle on the durable watermark.
///
/// Reading is one atomic load. Waiting parks on a condvar; advancing only touches the mutex when
/// somebody is actually waiting, so the writer's commit path stays lock-free in the common case.
#[derive(Clone, Debug)]
pub struct DurableWatch {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    durable: AtomicU64,
    waiters: AtomicUsize,
    failed: AtomicBool,
    state: Mutex<State>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct State {
    closed: bool,
    failure: Option<String>,
}

impl DurableWatch {
    pub(crate) fn new(initial: u64) -> Self {
        let w = DurableWatch { inner: Arc::default() };
        w.inner.durable.store(initial, Ordering::SeqCst);
        w
    }

    /// Highest sequence number that meets the journal's durability setting.
    pub fn durable_seq(&self) -> u64 {
        self.inner.durable.load(Ordering::Acquire)
    }

    /// Blocks until `seq` is durable. Fails if the journal is closed first or a sync failed.
    pub fn wait(&self, seq: u64) -> Result<()> {
        self.wait_until(seq, None).map(|_| ())
    }

    /// Like [`wait`](Self::wait) with a time limit; returns whether `seq` became durable.
    pub fn wait_timeout(&self, seq: u64, timeout: Duration) -> Result<bool> {
        self.wait_until(seq, Some(Instant::now() + timeout))
    }

    /// True once the journal that feeds this watch has been closed or dropped.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn wait_until(&self, seq: u64, deadline: Option<Instant>) -> Result<bool> {
        if self.durable_seq() >= seq {
            return Ok(true);
        }
        // Registering before checking under the lock pairs with `advance`: either it sees us
        // and notifies under the lock, or we see its new value.
        self.inner.waiters.fetch_add(1, Ordering::SeqCst);
        let out = self.wait_registered(seq, deadline);
        self.inner.waiters.fetch_sub(1, Ordering::SeqCst);
        out
    }

    fn wait_registered(&self, seq: u64, deadline: Option<Instant>) -> Result<bool> {
        let mut st = self.lock();
        loop {
            if self.inner.durable.load(Ordering::SeqCst) >= seq {
                return Ok(true);
            }
            if let Some(reason) = &st.failure {
                return Err(JournalError::FlushFailed { reason: reason.clone() });
            }
            if st.closed {
                return Err(JournalError::Closed { seq });
            }
            st = match deadline {
                None => self.inner.cv.wait(st).unwrap_or_else(PoisonError::into_inner),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    let (g, _) = self.inner.cv.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner);
                    g
                }
            };
        }
    }

    /// Raises the watermark to `seq` (never lowers it) and wakes waiters, if any.
    pub(crate) fn advance(&self, seq: u64) {
        let prev = self.inner.durable.fetch_max(seq, Ordering::SeqCst);
        if prev < seq && self.inner.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.lock();
            self.inner.cv.notify_all();
        }
    }

    /// Records a sync failure: waiters get an error and the writer refuses further commits.
    pub(crate) fn fail(&self, reason: String) {
        let mut st = self.lock();
        st.failure.get_or_insert(reason);
        self.inner.failed.store(true, Ordering::SeqCst);
        self.inner.cv.notify_all();
    }

    /// The failure recorded by [`fail`](Self::fail), checked cheaply.
    pub(crate) fn failure(&self) -> Option<String> {
        if !self.inner.failed.load(Ordering::Acquire) {
            return None;
        }
        self.lock().failure.clone()
    }

    /// Marks the journal closed and wakes every waiter.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.inner.cv.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_wakes_on_advance_and_close() {
        let w = DurableWatch::new(0);
        assert_eq!(w.wait_timeout(1, Duration::ZERO).ok(), Some(false));
        let w2 = w.clone();
        let t = std::thread::spawn(move || w2.wait(5));
        w.advance(3);
        w.advance(5);
        assert!(t.join().expect("thread").is_ok());
        let w3 = w.clone();
        let t = std::thread::spawn(move || w3.wait(9));
        w.close();
        assert!(matches!(t.join().expect("thread"), Err(JournalError::Closed { seq: 9 })));
        assert_eq!(w.durable_seq(), 5);
    }

    #[test]
    fn failure_is_reported() {
        let w = DurableWatch::new(0);
        w.fail("disk on fire".into());
        assert!(matches!(w.wait(1), Err(JournalError::FlushFailed { .. })));
        assert_eq!(w.failure().as_deref(), Some("disk on fire"));
    }
}
