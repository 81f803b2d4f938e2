//! Completions of transfers between shards: a caller awaits "shard `to` has durably applied
//! transfer `seq` from shard `from`" (e.g. a red-packet share credited on the grabber's
//! shard) instead of polling the receiver's state.
//!
//! Per receiving shard, one watermark per peer: the highest sequence applied by a batch that
//! is durable (transfers of a link are applied exactly in sequence order, so a watermark
//! completes every transfer at or below it). The shard thread publishes it when it releases
//! a batch, beside the acknowledgements it may then send; waiters register a waker under a
//! lock and are woken once their sequence is covered.

use crate::Mesh;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

struct Waiter {
    id: u64,
    from: u32,
    seq: u64,
    waker: Waker,
}

/// One receiving shard's watermarks and waiters.
pub(crate) struct Arrivals {
    /// Per peer: the highest sequence from it applied durably here.
    applied: Vec<AtomicU64>,
    waiters: Mutex<Vec<Waiter>>,
    next_id: AtomicU64,
}

impl Arrivals {
    pub(crate) fn new(shards: usize) -> Arrivals {
        Arrivals {
            applied: (0..shards).map(|_| AtomicU64::new(0)).collect(),
            waiters: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Waiter>> {
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn applied(&self, from: u32) -> u64 {
        self.applied.get(from as usize).map_or(0, |a| a.load(Ordering::Acquire))
    }

    /// The shard thread: per peer, what batches now durable have applied. Wakes the waiters
    /// it completes; takes the lock only if a watermark moved.
    pub(crate) fn publish(&self, applied: impl IntoIterator<Item = u64>) {
        let mut moved = false;
        for (slot, value) in self.applied.iter().zip(applied) {
            if value > slot.load(Ordering::Relaxed) {
                slot.store(value, Ordering::Release);
                moved = true;
            }
        }
        if moved {
            // Stored before the lock: a waiter either registered before (seen here) or
            // checks after we unlock (and sees the new watermark).
            self.lock().retain(|w| {
                let done = self.applied(w.from) >= w.seq;
                if done {
                    w.waker.wake_by_ref();
                }
                !done
            });
        }
    }
}

/// The completion of one transfer between shards (see [`crate::Runtime::transfer_applied`]).
pub struct TransferApplied {
    mesh: Arc<Mesh>,
    from: u32,
    to: usize,
    seq: u64,
    /// Set while registered with the receiver's waiters.
    id: Option<u64>,
}

impl TransferApplied {
    pub(crate) fn new(mesh: Arc<Mesh>, from: u32, to: usize, seq: u64) -> TransferApplied {
        TransferApplied { mesh, from, to, seq, id: None }
    }

    fn arrivals(&self) -> &Arrivals {
        &self.mesh.lanes[self.to].arrivals
    }

    /// Whether the transfer is applied durably, without waiting.
    pub fn is_done(&self) -> bool {
        self.arrivals().applied(self.from) >= self.seq
    }

    /// Blocks the thread until done or `timeout` passes; true if done.
    pub fn wait_timeout(mut self, timeout: Duration) -> bool {
        struct Unpark(Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let deadline = Instant::now() + timeout;
        loop {
            if Pin::new(&mut self).poll(&mut cx).is_ready() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::park_timeout(deadline - now);
        }
    }
}

impl Future for TransferApplied {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_done() {
            return Poll::Ready(());
        }
        let this = &mut *self;
        let arrivals = &this.mesh.lanes[this.to].arrivals;
        let mut waiters = arrivals.lock();
        if arrivals.applied(this.from) >= this.seq {
            if let Some(id) = this.id.take() {
                waiters.retain(|w| w.id != id);
            }
            return Poll::Ready(());
        }
        match this.id.and_then(|id| waiters.iter_mut().find(|w| w.id == id)) {
            Some(w) if w.waker.will_wake(cx.waker()) => {}
            Some(w) => w.waker = cx.waker().clone(),
            None => {
                let id = arrivals.next_id.fetch_add(1, Ordering::Relaxed);
                waiters.push(Waiter { id, from: this.from, seq: this.seq, waker: cx.waker().clone() });
                this.id = Some(id);
            }
        }
        Poll::Pending
    }
}

impl Drop for TransferApplied {
    /// A caller that stops waiting (a timeout) leaves no waiter behind.
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.arrivals().lock().retain(|w| w.id != id);
        }
    }
}
