//! Group commit for `Fsync` durability: a background thread that writes each committed range
//! of a segment from the writer's memory to the segment's file, syncs it, and then advances the
//! durable watermark.
//!
//! **It follows the disk.** A sync starts as soon as the previous one has ended if anything was
//! committed meanwhile, and everything committed by then goes in it: under load the groups grow
//! to what arrives during one sync, and an idle journal syncs a lone commit at once. There is no
//! fixed cycle (an optional `fsync_interval` can still hold the first commit of a group back to
//! gather more, for disks where a sync costs far more than its bytes).
//!
//! **How a range is written** (measured in BENCHMARKS.md, "Journal sync methods"): with direct
//! I/O and `O_DSYNC` (`pwritev` of the whole blocks straight from the writer's memory plus a
//! zero-padded copy of the last, partial block): one system call per group, no page cache, so
//! no dirty-page throttling or writeback of other processes' data in front of ours, and a
//! partially written block never holds bytes the writer is still appending. Where direct I/O
//! is refused (a file system without it, a segment size that is not a multiple of a block),
//! `pwrite` of the exact range and `fdatasync`.
//!
//! **The writer never does I/O for `Fsync`.** It appends into anonymous memory; on rollover it
//! hands the segment it leaves to this thread (which finishes it first, in order) and goes on
//! at once in the next. A new segment's file keeps its temp name until its first sync has made
//! its header durable; it is renamed (and the directory synced) before any of its records
//! count as durable.
//!
//! The writer only touches the mutex in `commit` (once per batch) and on rollover, and wakes
//! the thread only if it is idle; the thread never holds the mutex during I/O.

use crate::segment::{self, DIRECT_ALIGN};
use crate::watch::DurableWatch;
use memmap2::MmapRaw;
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Segments the writer may have left that the flusher has not finished; a rollover past this
/// waits. Bounds the memory held (one segment's buffer each).
const MAX_CLOSED: usize = 2;

/// A segment as the flusher sees it: the writer's memory and the file it goes to.
pub(crate) struct Target {
    buf: Arc<MmapRaw>,
    /// Buffered descriptor: the fallback writes and the final rename's sync.
    file: File,
    /// `O_DIRECT | O_DSYNC` descriptor, if the file system accepts one.
    direct: Option<File>,
    path: PathBuf,
    /// The temp name the file has until its first sync (then renamed to `path`).
    tmp: Option<PathBuf>,
    dir: PathBuf,
}

impl Target {
    pub(crate) fn new(
        buf: Arc<MmapRaw>,
        file: File,
        path: PathBuf,
        tmp: Option<PathBuf>,
        dir: PathBuf,
    ) -> std::io::Result<Target> {
        let name = tmp.as_ref().unwrap_or(&path);
        let direct = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT | libc::O_DSYNC)
            .open(name)
            .ok()
            .filter(|_| (file.metadata().map_or(0, |m| m.len()) as usize).is_multiple_of(DIRECT_ALIGN));
        Ok(Target { buf, file, direct, path, tmp, dir })
    }

    fn display(&self) -> String {
        self.tmp.as_ref().unwrap_or(&self.path).display().to_string()
    }
}

/// What the writer has committed and left for the flusher.
struct State {
    active: Arc<Target>,
    /// Offset in `active` just past the last committed seal.
    committed_off: usize,
    committed_seq: u64,
    /// Highest sequence already taken into a sync (queued or done).
    taken_seq: u64,
    /// Segments the writer has left, oldest first: end offset and last sequence.
    closed: VecDeque<(Arc<Target>, usize, u64)>,
    pending_records: usize,
    /// Set by `stop`: write up to this offset of `active` (records appended but not committed
    /// included, as `Process` keeps them), sync, and end.
    stop_at: Option<usize>,
    /// The thread waits for work: only then does a commit notify it.
    idle: bool,
}

struct Ctl {
    state: Mutex<State>,
    /// The flusher waits here for work.
    work: Condvar,
    /// A rollover waits here for room in `closed`.
    room: Condvar,
    interval: Duration,
    max_records: usize,
    watch: DurableWatch,
    /// A simulated power loss, for the crash tests.
    #[cfg(test)]
    fault: Mutex<Option<tests::PowerLoss>>,
}

impl Ctl {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Job {
    target: Arc<Target>,
    to: usize,
    seq: u64,
    last: bool,
}

/// Handle to the group-commit thread. Stopping it (or dropping it) syncs what is committed.
pub(crate) struct Flusher {
    ctl: Arc<Ctl>,
    handle: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the thread for the active segment `seg`, whose file holds every byte below
    /// `synced_off` already.
    pub(crate) fn start(
        seg: Target,
        synced_off: usize,
        durable_seq: u64,
        interval: Duration,
        max_records: usize,
        watch: DurableWatch,
    ) -> std::io::Result<Self> {
        let active = Arc::new(seg);
        let state = State {
            active: Arc::clone(&active),
            committed_off: synced_off,
            committed_seq: durable_seq,
            taken_seq: durable_seq,
            closed: VecDeque::with_capacity(MAX_CLOSED),
            pending_records: 0,
            stop_at: None,
            idle: false,
        };
        let ctl = Arc::new(Ctl {
            state: Mutex::new(state),
            work: Condvar::new(),
            room: Condvar::new(),
            interval,
            max_records,
            watch,
            #[cfg(test)]
            fault: Mutex::new(None),
        });
        let thread_ctl = Arc::clone(&ctl);
        let handle = std::thread::Builder::new()
            .name("journal-flusher".into())
            .spawn(move || run(&thread_ctl, active, synced_off))?;
        Ok(Flusher { ctl, handle: Some(handle) })
    }

    /// Hands a committed batch to the flusher, waking it only if it is idle (a busy one takes
    /// the batch into its next sync when the current one ends).
    pub(crate) fn submit(&self, committed_off: usize, seq: u64, records: usize) {
        let wake = {
            let mut st = self.ctl.lock();
            debug_assert!(seq >= st.committed_seq && committed_off >= st.committed_off);
            st.committed_off = committed_off;
            st.committed_seq = seq;
            st.pending_records += records;
            st.idle
        };
        if wake {
            self.ctl.work.notify_one();
        }
    }

    /// The writer left the active segment at `end` (its last seal, sequence `seq`) for `next`.
    /// The flusher finishes the old one before it starts on the new one. Waits only if
    /// [`MAX_CLOSED`] segments are still unfinished.
    pub(crate) fn switch_segment(&self, end: usize, seq: u64, next: Target) {
        let mut st = self.ctl.lock();
        while st.closed.len() >= MAX_CLOSED && self.ctl.watch.failure().is_none() {
            st = self.ctl.room.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        let old = std::mem::replace(&mut st.active, Arc::new(next));
        st.closed.push_back((old, end, seq));
        st.committed_off = crate::format::HEADER_LEN;
        st.committed_seq = seq;
        let wake = st.idle;
        drop(st);
        if wake {
            self.ctl.work.notify_one();
        }
    }

    /// Asks the thread to write and sync everything up to `written_off` of the active
    /// segment, stop, and waits for it.
    pub(crate) fn stop(&mut self, written_off: usize) {
        {
            let mut st = self.ctl.lock();
            let at = written_off.max(st.committed_off);
            st.stop_at.get_or_insert(at);
        }
        self.ctl.work.notify_one();
        if let Some(h) = self.handle.take() {
            // A failure in the flusher has already been turned into a poisoned watch.
            let _ = h.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        if self.handle.is_some() {
            let at = self.ctl.lock().committed_off;
            self.stop(at);
        }
    }
}

/// Where the thread is in the segment it writes.
struct Cursor {
    target: Arc<Target>,
    synced_off: usize,
    named: bool,
}

fn run(ctl: &Ctl, first: Arc<Target>, synced_off: usize) {
    let named = first.tmp.is_none();
    let mut cur = Cursor { target: first, synced_off, named };
    let mut block = Block::new();
    while let Some(job) = next_job(ctl) {
        if !Arc::ptr_eq(&cur.target, &job.target) {
            let named = job.target.tmp.is_none();
            cur = Cursor { target: Arc::clone(&job.target), synced_off: 0, named };
        }
        #[cfg(test)]
        if tests::power_fails(ctl, &cur, &job) {
            return;
        }
        if let Err(e) = sync_job(&mut cur, &job, &mut block) {
            ctl.watch.fail(e);
            ctl.room.notify_all();
            return;
        }
        if job.last {
            ctl.room.notify_all();
        }
        ctl.watch.advance(job.seq);
    }
}

/// Writes and syncs the job's range, and gives a new segment its final name once its header
/// is durable.
fn sync_job(cur: &mut Cursor, job: &Job, block: &mut Block) -> Result<(), String> {
    let t = &cur.target;
    if job.to > cur.synced_off {
        write_range(t, cur.synced_off, job.to, block).map_err(|e| format!("write+sync {}: {e}", t.display()))?;
        cur.synced_off = job.to;
    }
    if !cur.named {
        if let Some(tmp) = &t.tmp {
            std::fs::rename(tmp, &t.path).map_err(|e| format!("rename {}: {e}", tmp.display()))?;
            segment::sync_dir(&t.dir).map_err(|e| e.to_string())?;
        }
        cur.named = true;
    }
    Ok(())
}

/// Waits for work and takes the next job: a segment the writer left (oldest first), else what
/// is committed in the active one (after gathering for `interval`, if set), else the final
/// write at shutdown. `None`: stopped with nothing left.
fn next_job(ctl: &Ctl) -> Option<Job> {
    let mut st = ctl.lock();
    loop {
        if let Some((target, to, seq)) = st.closed.pop_front() {
            return Some(Job { target, to, seq, last: true });
        }
        if st.committed_seq > st.taken_seq {
            if !ctl.interval.is_zero() && st.stop_at.is_none() {
                st = gather(ctl, st);
                if !st.closed.is_empty() {
                    continue;
                }
            }
            st.taken_seq = st.committed_seq;
            st.pending_records = 0;
            return Some(Job {
                target: Arc::clone(&st.active),
                to: st.committed_off,
                seq: st.committed_seq,
                last: false,
            });
        }
        if let Some(to) = st.stop_at {
            if to == usize::MAX {
                return None;
            }
            st.stop_at = Some(usize::MAX);
            let to = to.max(st.committed_off);
            return Some(Job { target: Arc::clone(&st.active), to, seq: st.committed_seq, last: false });
        }
        st.idle = true;
        st = ctl.work.wait(st).unwrap_or_else(PoisonError::into_inner);
        st.idle = false;
    }
}

/// Holds a group open for up to `interval` after its first commit, or until `max_records`.
fn gather<'a>(ctl: &'a Ctl, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    let deadline = Instant::now() + ctl.interval;
    while st.stop_at.is_none() && st.closed.is_empty() && st.pending_records < ctl.max_records {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        st.idle = true;
        st = ctl.work.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner).0;
        st.idle = false;
    }
    st
}

/// A block-aligned scratch block for the partial last block of a direct write.
struct Block(*mut u8);

impl Block {
    const LAYOUT: std::alloc::Layout = match std::alloc::Layout::from_size_align(DIRECT_ALIGN, DIRECT_ALIGN) {
        Ok(l) => l,
        Err(_) => panic!("valid layout"),
    };

    fn new() -> Block {
        // SAFETY: the layout has a non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(Self::LAYOUT) };
        if p.is_null() {
            std::alloc::handle_alloc_error(Self::LAYOUT);
        }
        Block(p)
    }

    fn fill(&mut self, from: &[u8]) -> &[u8] {
        assert!(from.len() <= DIRECT_ALIGN, "a partial block");
        // SAFETY: the allocation is DIRECT_ALIGN bytes, owned by this value, and `from` (the
        // writer's memory) does not overlap it.
        let b = unsafe { std::slice::from_raw_parts_mut(self.0, DIRECT_ALIGN) };
        b[..from.len()].copy_from_slice(from);
        b[from.len()..].fill(0);
        b
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.0, Self::LAYOUT) }
    }
}

/// Makes bytes `[from, to)` of the segment durable in its file.
///
/// Direct: the whole blocks from the one holding `from` are written straight from the
/// writer's memory (all below `to`, which the writer never changes again), the partial last
/// block from a copy padded with zeros (the writer may be appending past `to` in it: those
/// bytes must not reach the file half-written), in one `pwritev` that `O_DSYNC` makes durable
/// before it returns. Buffered fallback: `pwrite` of exactly `[from, to)`, then `fdatasync`.
fn write_range(t: &Target, from: usize, to: usize, block: &mut Block) -> io::Result<()> {
    debug_assert!(from <= to && to <= t.buf.len());
    let base = t.buf.as_ptr();
    // SAFETY: `[0, to)` is inside the buffer and committed: the writer only writes past the
    // committed offset (published to this thread under the mutex), and the buffer lives as
    // long as `t`.
    let committed = unsafe { std::slice::from_raw_parts(base, to) };
    if let Some(direct) = &t.direct {
        let start = from & !(DIRECT_ALIGN - 1);
        let whole_end = to & !(DIRECT_ALIGN - 1);
        let end = (to + DIRECT_ALIGN - 1) & !(DIRECT_ALIGN - 1);
        if end <= t.buf.len() {
            let head = &committed[start..whole_end.max(start)];
            let tail: &[u8] = if whole_end < to { block.fill(&committed[whole_end..to]) } else { &[] };
            return pwritev_all(direct, head, tail, start as u64);
        }
    }
    t.file.write_all_at(&committed[from..to], from as u64)?;
    t.file.sync_data()
}

/// One `pwritev` of `a` then `b` at `off`; a short write (rare, e.g. a signal) is finished with
/// further calls, still block-aligned since direct I/O writes whole blocks.
fn pwritev_all(f: &File, a: &[u8], b: &[u8], off: u64) -> io::Result<()> {
    let (mut a, mut b, mut off) = (a, b, off);
    while !a.is_empty() || !b.is_empty() {
        let iov = [
            libc::iovec { iov_base: a.as_ptr() as *mut libc::c_void, iov_len: a.len() },
            libc::iovec { iov_base: b.as_ptr() as *mut libc::c_void, iov_len: b.len() },
        ];
        let (iov, cnt) = if a.is_empty() { (&iov[1..], 1) } else { (&iov[..], if b.is_empty() { 1 } else { 2 }) };
        let off_t = libc::off_t::try_from(off).map_err(|_| io::Error::other("offset does not fit off_t"))?;
        // SAFETY: the iovecs point into live slices of the stated lengths; the call only reads them.
        let n = unsafe { libc::pwritev(f.as_raw_fd(), iov.as_ptr(), cnt, off_t) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "pwritev wrote nothing"));
        }
        let mut n = n as usize;
        off += n as u64;
        let take = n.min(a.len());
        a = &a[take..];
        n -= take;
        b = &b[n.min(b.len())..];
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::{verify, Journal, JournalConfig};

    /// After `syncs` more syncs, the next one is cut by a power loss: only the first `landed`
    /// bytes of its range reach the file, nothing after it does.
    pub(crate) struct PowerLoss {
        pub syncs: u32,
        pub landed: usize,
    }

    impl Flusher {
        pub(crate) fn inject(&self, fault: PowerLoss) {
            *self.ctl.fault.lock().unwrap_or_else(PoisonError::into_inner) = Some(fault);
        }
    }

    /// Applies the fault plan before a job: true once the power is "off" (the journal is
    /// poisoned, so nothing more is written, as after a real loss nothing more would be).
    pub(super) fn power_fails(ctl: &Ctl, cur: &Cursor, job: &Job) -> bool {
        let mut f = ctl.fault.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(plan) = f.as_mut() else { return false };
        if plan.syncs > 0 {
            plan.syncs -= 1;
            return false;
        }
        let (from, to) = if Arc::ptr_eq(&cur.target, &job.target) { (cur.synced_off, job.to) } else { (0, job.to) };
        let end = to.min(from + plan.landed);
        if end > from {
            // SAFETY: as in `write_range`: committed bytes of a live buffer.
            let bytes = unsafe { std::slice::from_raw_parts(job.target.buf.as_ptr().add(from), end - from) };
            let _ = job.target.file.write_all_at(bytes, from as u64);
        }
        drop(f);
        ctl.watch.fail("simulated power loss".into());
        ctl.room.notify_all();
        true
    }

    fn payload(seq: u64) -> Vec<u8> {
        let len = (seq * 37 % 300) as usize;
        (0..len).map(|i| (seq as usize * 31 + i) as u8).collect()
    }

    fn next(rng: &mut u64) -> u64 {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    }

    /// A crash between a write and its sync (including one in the middle of a segment roll)
    /// loses only records nobody was told are durable: every record the watermark covered at
    /// the crash is there after recovery, intact, and the journal verifies.
    #[test]
    fn a_power_loss_mid_sync_loses_only_unacknowledged_records() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..40 {
            let tmp = tempfile::tempdir().expect("tempdir");
            let mut cfg = JournalConfig::new(tmp.path());
            cfg.segment_bytes = 16 << 10;
            let (mut j, _) = Journal::open(cfg.clone()).expect("open");
            let syncs = (next(&mut rng) % 40) as u32;
            let landed = (next(&mut rng) % 12_000) as usize;
            j.inject_power_loss(PowerLoss { syncs, landed });
            let watch = j.durable_watch();
            let mut seq = 0u64;
            'run: while seq < 3_000 {
                let batch = 1 + next(&mut rng) % 40;
                for _ in 0..batch {
                    seq += 1;
                    if j.append(&payload(seq)).is_err() {
                        break 'run;
                    }
                }
                let Ok(last) = j.commit() else { break };
                if next(&mut rng).is_multiple_of(3) && j.wait_durable(last).is_err() {
                    break;
                }
            }
            let acked = watch.durable_seq();
            drop(j);
            let (j, report) = Journal::open(cfg).unwrap_or_else(|e| panic!("round {round}: reopen: {e}"));
            assert!(
                report.last_seq >= acked,
                "round {round}: lost acknowledged records: {} < {acked}",
                report.last_seq
            );
            drop(j);
            let reader = crate::JournalReader::open(tmp.path()).expect("reader");
            let mut n = 0;
            for rec in reader.iter() {
                let rec = rec.expect("record");
                n += 1;
                assert_eq!(rec.seq, n);
                assert_eq!(rec.payload, &payload(rec.seq)[..], "round {round}: record {n}");
            }
            assert!(n >= acked, "round {round}");
            verify(tmp.path()).unwrap_or_else(|e| panic!("round {round}: verify: {e}"));
        }
    }
}
