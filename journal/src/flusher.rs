//! Group commit: a background thread that msyncs the committed range of the active segment about
//! every `fsync_interval`, or sooner once `fsync_max_records` are pending, then advances the
//! durable watermark.
//!
//! The writer only touches the flusher's mutex in `commit` (once per batch) and on rollover, and
//! the flusher never performs I/O while holding it, so `append` never waits for a sync.

use crate::watch::DurableWatch;
use memmap2::MmapRaw;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the writer has committed in the active segment and how far it has been synced.
struct State {
    seg: Arc<MmapRaw>,
    seg_path: PathBuf,
    /// Offset up to which the active segment is known to be synced.
    synced_off: usize,
    /// Offset just past the last committed seal.
    committed_off: usize,
    committed_seq: u64,
    /// Highest sequence the flusher (or a rollover) has made durable.
    flushed_seq: u64,
    pending_records: usize,
    shutdown: bool,
}

struct Ctl {
    state: Mutex<State>,
    cv: Condvar,
    interval: Duration,
    max_records: usize,
    watch: DurableWatch,
}

impl Ctl {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One sync to perform, taken from the state under the lock and run without it.
struct Job {
    seg: Arc<MmapRaw>,
    path: PathBuf,
    from: usize,
    to: usize,
    seq: u64,
}

/// Handle on the flusher thread, owned by the `Journal`.
pub(crate) struct Flusher {
    ctl: Arc<Ctl>,
    handle: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the thread for the active segment `seg`, synced up to `synced_off`.
    pub(crate) fn start(
        seg: Arc<MmapRaw>,
        seg_path: PathBuf,
        synced_off: usize,
        durable_seq: u64,
        interval: Duration,
        max_records: usize,
        watch: DurableWatch,
    ) -> std::io::Result<Self> {
        let state = State {
            seg,
            seg_path,
            synced_off,
            committed_off: synced_off,
            committed_seq: durable_seq,
            flushed_seq: durable_seq,
            pending_records: 0,
            shutdown: false,
        };
        let ctl = Arc::new(Ctl { state: Mutex::new(state), cv: Condvar::new(), interval, max_records, watch });
        let thread_ctl = Arc::clone(&ctl);
        let handle = std::thread::Builder::new().name("journal-flusher".into()).spawn(move || run(&thread_ctl))?;
        Ok(Flusher { ctl, handle: Some(handle) })
    }

    /// Hands a committed batch to the flusher. Wakes it only when it is idle (so the first
    /// batch starts the interval clock) or the group is full.
    pub(crate) fn submit(&self, committed_off: usize, seq: u64, records: usize) {
        let wake = {
            let mut st = self.ctl.lock();
            debug_assert!(seq >= st.committed_seq && committed_off >= st.committed_off);
            let was_idle = st.committed_seq == st.flushed_seq;
            st.committed_off = committed_off;
            st.committed_seq = seq;
            st.pending_records += records;
            was_idle || st.pending_records >= self.ctl.max_records
        };
        if wake {
            self.ctl.cv.notify_one();
        }
    }

    /// Switches to a new active segment after the writer synced the old one itself.
    pub(crate) fn switch_segment(&self, seg: Arc<MmapRaw>, path: PathBuf, start: usize, synced_seq: u64) {
        let mut st = self.ctl.lock();
        st.seg = seg;
        st.seg_path = path;
        st.synced_off = start;
        st.committed_off = start;
        st.committed_seq = st.committed_seq.max(synced_seq);
        st.flushed_seq = st.flushed_seq.max(synced_seq);
        st.pending_records = 0;
    }

    /// Asks the thread to sync what is committed, stop, and waits for it.
    pub(crate) fn stop(&mut self) {
        self.ctl.lock().shutdown = true;
        self.ctl.cv.notify_one();
        if let Some(h) = self.handle.take() {
            // A panic in the flusher has already been turned into a poisoned watch; nothing
            // more to do with it here.
            let _ = h.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(ctl: &Ctl) {
    while let Some(job) = next_job(ctl) {
        let len = job.to - job.from;
        if let Err(e) = job.seg.flush_range(job.from, len) {
            ctl.watch.fail(format!("msync {}: {e}", job.path.display()));
            return;
        }
        let mut st = ctl.lock();
        if Arc::ptr_eq(&st.seg, &job.seg) {
            st.synced_off = st.synced_off.max(job.to);
        }
        st.flushed_seq = st.flushed_seq.max(job.seq);
        drop(st);
        ctl.watch.advance(job.seq);
    }
}

/// Waits for committed data, gathers a group for up to `interval` (or until `max_records`), and
/// returns the range to sync. `None` means shut down with nothing left to sync.
fn next_job(ctl: &Ctl) -> Option<Job> {
    let mut st = ctl.lock();
    while st.committed_seq <= st.flushed_seq {
        if st.shutdown {
            return None;
        }
        st = ctl.cv.wait(st).unwrap_or_else(PoisonError::into_inner);
    }
    let deadline = Instant::now() + ctl.interval;
    while !st.shutdown && st.pending_records < ctl.max_records {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        st = ctl.cv.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner).0;
    }
    st.pending_records = 0;
    let job = Job {
        seg: Arc::clone(&st.seg),
        path: st.seg_path.clone(),
        from: st.synced_off,
        to: st.committed_off,
        seq: st.committed_seq,
    };
    debug_assert!(job.from <= job.to);
    Some(job)
}
