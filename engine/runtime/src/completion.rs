//! Per-caller completions: a slot the caller owns and reuses, so that a command submitted and
//! answered through it allocates nothing in steady state.

use croupier_domain::{CrashReply, Reply};
use croupier_store::Answer;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A reusable answer slot. Create one per caller (or per command in flight), then
/// [`crate::Runtime::submit`] through it and [`CompletionSlot::wait`] for the answer.
/// One command at a time: submitting through a slot whose answer is still pending panics.
pub type Completion = Arc<CompletionSlot>;

#[derive(Debug, Default)]
pub struct CompletionSlot {
    state: Mutex<SlotState>,
    ready: Condvar,
    /// `state.pending`, readable without the lock: a producer polling many slots
    /// ([`CompletionSlot::try_wait`]) looks here first and takes the lock only once answered.
    pending: AtomicU32,
}

#[derive(Debug, Default)]
struct SlotState {
    /// Shards that still owe an answer (one for a routed command, every shard for a broadcast).
    pending: u32,
    /// The answer so far, and the shard it came from (for deterministic aggregation).
    answer: Option<(u32, Answer)>,
    /// An async caller waiting in [`CompletionSlot::answer`]; woken with the last answer.
    waker: Option<Waker>,
    /// A thread blocks in [`CompletionSlot::wait`]: only then is the condvar notified, since
    /// a notification costs a system call even with nobody waiting.
    sleeper: bool,
}

impl CompletionSlot {
    pub fn new() -> Completion {
        Arc::new(CompletionSlot::default())
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until every shard the command went to has answered, and takes the answer. The
    /// slot is then free for the next command. Panics if nothing was submitted through it.
    pub fn wait(&self) -> Answer {
        let mut s = self.lock();
        while s.pending > 0 {
            s.sleeper = true;
            s = self.ready.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
        s.sleeper = false;
        s.answer.take().expect("wait on a completion slot with nothing submitted").1
    }

    /// Waits without blocking a thread: for async callers (the gateway). The slot is free
    /// again once the future has returned the answer. Like [`Self::wait`], it takes the
    /// answer, so await it once per submitted command.
    pub fn answer(self: &Arc<Self>) -> AnswerFuture {
        AnswerFuture { slot: self.clone() }
    }

    /// The answer if it is complete, without blocking; `None` while pending or once taken.
    pub fn try_wait(&self) -> Option<Answer> {
        if self.pending.load(Ordering::Acquire) > 0 {
            return None;
        }
        let mut s = self.lock();
        if s.pending > 0 {
            return None;
        }
        s.answer.take().map(|(_, a)| a)
    }

    /// Blocks until the answer is complete or `timeout` passes, without taking it; true if it
    /// is complete. For a producer polling many slots: instead of spinning when none is ready
    /// (which starves the shard and journal threads of the cores it spins on), it sleeps on
    /// its oldest.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        if self.pending.load(Ordering::Acquire) == 0 {
            return true;
        }
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        while s.pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                s.sleeper = false;
                return false;
            }
            s.sleeper = true;
            s = self.ready.wait_timeout(s, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        s.sleeper = false;
        true
    }

    /// Whether a command submitted through this slot is still unanswered.
    pub fn is_pending(&self) -> bool {
        self.lock().pending > 0
    }

    /// Marks the slot as owed `shards` answers. Panics if the slot is still in use.
    pub(crate) fn arm(&self, shards: u32) {
        let mut s = self.lock();
        assert!(s.pending == 0 && s.answer.is_none(), "completion slot reused before its answer was taken");
        s.pending = shards;
        self.pending.store(shards, Ordering::Release);
    }

    /// Undoes [`Self::arm`] for a command that was refused before any shard accepted it.
    pub(crate) fn disarm(&self) {
        self.lock().pending = 0;
        self.pending.store(0, Ordering::Release);
    }

    /// Answers at once, without a shard (e.g. `NOT_ROUTABLE`).
    pub(crate) fn answer_now(&self, answer: Answer) {
        self.arm(1);
        self.complete(0, answer);
    }

    /// One shard's answer. For a broadcast the answers are merged: a reject wins over success,
    /// and among equals the lowest shard's answer is kept, except that settled-bet counts
    /// ([`Reply::RoundSettled`], a crash term's [`CrashReply::Settled`]) are summed over every
    /// shard.
    pub(crate) fn complete(&self, shard: u32, answer: Answer) {
        let mut s = self.lock();
        debug_assert!(s.pending > 0, "answer for a slot that expects none");
        s.answer = Some(match s.answer.take() {
            None => (shard, answer),
            Some(prev) => merge(prev, (shard, answer)),
        });
        s.pending -= 1;
        self.pending.store(s.pending, Ordering::Release);
        if s.pending == 0 {
            let waker = s.waker.take();
            let sleeper = s.sleeper;
            drop(s);
            if sleeper {
                self.ready.notify_all();
            }
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// The answer of a submitted command, as a future (see [`CompletionSlot::answer`]).
pub struct AnswerFuture {
    slot: Completion,
}

impl Future for AnswerFuture {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        let mut s = self.slot.lock();
        if s.pending == 0 {
            let answer = s.answer.take().expect("await on a completion slot with nothing submitted").1;
            return Poll::Ready(answer);
        }
        match &mut s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

fn merge(a: (u32, Answer), b: (u32, Answer)) -> (u32, Answer) {
    let ((first_shard, first), (second_shard, second)) = if a.0 <= b.0 { (a, b) } else { (b, a) };
    match (first, second) {
        (Err(r), _) => (first_shard, Err(r)),
        (Ok(_), Err(r)) => (second_shard, Err(r)),
        (Ok(x), Ok(y)) => (first_shard, Ok(merge_replies(x, y))),
    }
}

fn merge_replies(first: Reply, second: Reply) -> Reply {
    match (first, second) {
        (Reply::RoundSettled { round, bets: a, replayed: ra }, Reply::RoundSettled { bets: b, replayed: rb, .. }) => {
            Reply::RoundSettled { round, bets: a.saturating_add(b), replayed: ra && rb }
        }
        // A crash or an emergency stop: each shard settled its own bets of the term.
        (
            Reply::Crash(CrashReply::Settled { term, bets: a, replayed: ra }),
            Reply::Crash(CrashReply::Settled { bets: b, replayed: rb, .. }),
        ) => Reply::Crash(CrashReply::Settled { term, bets: a.saturating_add(b), replayed: ra && rb }),
        (first, _) => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use croupier_domain::crash::TermNo;
    use croupier_domain::ids::RoundNo;
    use croupier_domain::Reject;

    #[test]
    fn broadcast_answers_merge_deterministically() {
        let slot = CompletionSlot::new();
        slot.arm(3);
        let settled = |bets| Ok(Reply::RoundSettled { round: RoundNo(0), bets, replayed: false });
        slot.complete(2, settled(5));
        assert!(slot.try_wait().is_none());
        slot.complete(0, settled(7));
        slot.complete(1, settled(1));
        assert_eq!(slot.wait(), settled(13));
        assert!(slot.try_wait().is_none());

        let crashed = |bets| Ok(Reply::Crash(CrashReply::Settled { term: TermNo(4), bets, replayed: false }));
        slot.arm(2);
        slot.complete(1, crashed(500));
        slot.complete(0, crashed(499));
        assert_eq!(slot.wait(), crashed(999));

        slot.arm(3);
        slot.complete(2, Err(Reject::RoundClosed));
        slot.complete(0, settled(1));
        slot.complete(1, Err(Reject::RoundNotFound));
        assert_eq!(slot.wait(), Err(Reject::RoundNotFound));
    }

    #[test]
    fn an_async_caller_is_woken_by_the_last_answer() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::task::Wake;
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        let slot = CompletionSlot::new();
        slot.arm(2);
        let mut fut = slot.answer();
        assert!(Pin::new(&mut fut).poll(&mut cx).is_pending());
        slot.complete(1, Err(Reject::RoundClosed));
        assert_eq!(woken.0.load(Ordering::SeqCst), 0, "one shard still owes an answer");
        slot.complete(0, Err(Reject::RoundNotFound));
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert_eq!(Pin::new(&mut fut).poll(&mut cx), Poll::Ready(Err(Reject::RoundNotFound)));
        assert!(!slot.is_pending());
    }
}
