//! What every projector shares, whatever its sink (SQL, JetStream): the state a running task
//! shares with its handle (lag, report, errors, the stop flag), the handle itself, starting
//! the task, opening each shard's feed and journal end at the stored positions, and the lag.

use crate::lag::{EndTracker, ShardLag};
use crate::ProjectError;
use croupier_feed::ShardFeed;
use croupier_store::journal_dir;
use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What a projector's task shares with its handle; `R` is the sink's report.
pub(crate) struct Shared<R> {
    lag: Mutex<Vec<ShardLag>>,
    report: Mutex<R>,
    errors: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl<R: Default> Default for Shared<R> {
    fn default() -> Self {
        Shared {
            lag: Mutex::default(),
            report: Mutex::default(),
            errors: Mutex::default(),
            stop: AtomicBool::new(false),
        }
    }
}

/// A lock that a panic elsewhere does not poison for the readers of progress.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<R: Clone> Shared<R> {
    /// Whether the handle asked the task to stop after its batch.
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    pub(crate) fn set_report(&self, report: &R) {
        *lock(&self.report) = report.clone();
    }

    /// Publishes the lag of every shard: `ends[i]` is the journal of the shard at
    /// `projected[i]` = (shard, position stored by the sink).
    pub(crate) fn update_lag(
        &self,
        ends: &mut [EndTracker],
        projected: impl IntoIterator<Item = (u32, u64)>,
    ) -> Result<(), ProjectError> {
        let mut lag = Vec::with_capacity(ends.len());
        for (end, (shard, position)) in ends.iter_mut().zip(projected) {
            let journal_position = end.refresh().map_err(|source| ProjectError::Journal { shard, source })?;
            let (records_behind, seconds_behind) = end.lag(position);
            lag.push(ShardLag {
                shard,
                journal_position,
                projected_position: position,
                records_behind,
                events_behind: None,
                seconds_behind,
            });
        }
        *lock(&self.lag) = lag;
        Ok(())
    }
}

/// A running projector (a tokio task); `R` is its report ([`crate::ProjectReport`],
/// [`crate::StreamReport`]).
pub struct Handle<R> {
    shared: Arc<Shared<R>>,
    task: tokio::task::JoinHandle<Result<R, ProjectError>>,
}

impl<R: Clone + Send + 'static> Handle<R> {
    /// Starts `run` on the current tokio runtime; the error it ends with is kept for
    /// [`Handle::errors`].
    pub(crate) fn spawn<F, Fut>(run: F) -> Self
    where
        R: Default,
        F: FnOnce(Arc<Shared<R>>) -> Fut,
        Fut: Future<Output = Result<R, ProjectError>> + Send + 'static,
    {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let running = run(shared.clone());
        let task = tokio::spawn(async move {
            let out = running.await;
            if let Err(e) = &out {
                lock(&s.errors).push(e.to_string());
            }
            out
        });
        Handle { shared, task }
    }

    /// Reads [`lag`](Self::lag) from elsewhere (a metrics endpoint) while this handle keeps
    /// the task; the closure stays valid after the task ends.
    pub fn lag_source(&self) -> impl Fn() -> Vec<ShardLag> + Send + Sync + 'static {
        let shared = self.shared.clone();
        move || lock(&shared.lag).clone()
    }

    /// Lag per shard as of the last batch (records and seconds behind).
    pub fn lag(&self) -> Vec<ShardLag> {
        lock(&self.shared.lag).clone()
    }

    /// Progress so far.
    pub fn report(&self) -> R {
        lock(&self.shared.report).clone()
    }

    /// Errors met (the task ends on the first one; restart it to resume).
    pub fn errors(&self) -> Vec<String> {
        lock(&self.shared.errors).clone()
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Finishes the batch in progress (written and its positions stored), then stops.
    pub async fn stop(self) -> Result<R, ProjectError> {
        self.shared.stop.store(true, Ordering::Release);
        self.task.await.map_err(|e| ProjectError::Stopped(e.to_string()))?
    }

    /// Drops the task wherever it is, as a crash would: an open SQL transaction is rolled
    /// back; messages may be published whose position is not stored.
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Every shard's feed and journal end, opened after its stored position (`after`).
pub(crate) fn open_sources(
    data_dir: &Path,
    positions: impl IntoIterator<Item = (u32, u64)>,
) -> (Vec<ShardFeed>, Vec<EndTracker>) {
    positions
        .into_iter()
        .map(|(shard, after)| {
            (ShardFeed::open(data_dir, shard, after), EndTracker::open(&journal_dir(data_dir, shard), after))
        })
        .unzip()
}
