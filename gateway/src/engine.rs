//! The only module that touches the runtime. Commands are submitted through pooled
//! completions and awaited with `slot.answer().await`, reads run on the shard's thread via
//! `inspect_then`: nothing here blocks an async worker. A full ring is `BUSY` (503 with
//! `retry_after_ms`), never a wait.

use crate::error::ApiError;
use crossbeam_queue::ArrayQueue;
use croupier_domain::state::State;
use croupier_domain::{Command, Reply, UserId};
use croupier_runtime::{shard_of, Completion, Runtime};
use std::sync::Arc;
use std::time::Duration;

/// Completions kept for reuse: enough for every request in flight on a busy gateway.
const POOL: usize = 16_384;

pub struct EngineHandle {
    rt: Arc<Runtime>,
    pool: ArrayQueue<Completion>,
}

/// Gives a completion back to the pool once nothing can still answer through it. A request
/// dropped while its command is in flight (the client went away) drops the slot instead:
/// the shard still completes it, and it is freed with its last reference.
struct Pooled<'a> {
    slot: Completion,
    pool: &'a ArrayQueue<Completion>,
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if !self.slot.is_pending() {
            // An answer completed but never awaited must not reach the next caller.
            let _ = self.slot.try_wait();
            let _ = self.pool.push(self.slot.clone());
        }
    }
}

impl EngineHandle {
    pub fn new(rt: Arc<Runtime>) -> Self {
        EngineHandle { rt, pool: ArrayQueue::new(POOL) }
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.rt
    }

    pub fn shards(&self) -> usize {
        self.rt.shards()
    }

    pub fn shard_of(&self, user: UserId) -> usize {
        shard_of(user, self.rt.shards())
    }

    /// Submits `cmd` and awaits its answer (released by the shard once durable).
    pub async fn call(&self, cmd: Command) -> Result<Reply, ApiError> {
        let slot = Pooled { slot: self.pool.pop().unwrap_or_default(), pool: &self.pool };
        self.rt.submit(&slot.slot, cmd).map_err(|b| ApiError::busy(b.retry_after_ms))?;
        let answer = slot.slot.answer().await;
        drop(slot);
        answer.map_err(ApiError::from)
    }

    /// Runs `f` on shard `shard`'s thread between batches and returns its result. `f` must be
    /// quick: the shard runs nothing else meanwhile. The answer arrives once everything `f`
    /// saw is durable (the runtime delivers it with the batches it follows; the shard never
    /// waits for a sync on a reader's behalf), so a read never shows what a power cut could
    /// take away.
    pub async fn read<R: Send + 'static>(
        &self,
        shard: usize,
        f: impl FnOnce(&State) -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.rt
            .inspect_then(shard, f, move |r| {
                let _ = tx.send(r);
            })
            .map_err(|b| ApiError::busy(b.retry_after_ms))?;
        rx.await.map_err(|_| ApiError::unavailable("the shard stopped before answering"))
    }

    /// Waits (at most `within`) until shard `to` has applied transfer `seq` from shard `from`
    /// and that is durable; true if it has. A completion the runtime signals, not a poll.
    pub async fn transfer_applied(&self, from: usize, to: usize, seq: u64, within: Duration) -> bool {
        tokio::time::timeout(within, self.rt.transfer_applied(from as u32, to, seq)).await.is_ok()
    }
}
