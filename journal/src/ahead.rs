//! Work done ahead of the writer on a background thread: making the pages after the write
//! position writable, and preparing the next segment file (zero-filled for `Fsync`, see
//! [`crate::segment::Make`]).
//!
//! The first write to a page of a fresh segment costs a fault that zeroes the page (about a
//! fifth of a shard thread's time under load when done inline), and creating a 64 MiB segment
//! (create, `fallocate`, map) took ~14 ms on the writer's rollover. The writer instead asks
//! this thread for both while it still has room to write into. `madvise(MADV_POPULATE_WRITE)`
//! never changes contents, so racing the writer is harmless. Nothing here is needed for
//! correctness: a request that cannot be queued (the thread is behind) is dropped, and the
//! writer faults pages in or creates the segment itself, slower but equally correct.

use crate::segment::{self, Make, PreparedSegment};
use memmap2::MmapRaw;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Requests waiting at most: the writer never blocks on this thread.
const QUEUE: usize = 4;
/// Pages of a prepared segment made writable before the writer gets it.
const FIRST_WINDOW: usize = 1 << 20;

enum Request {
    /// Make `[start, end)` of `map` writable. The `Arc` keeps the mapping alive even if the
    /// writer rolls to the next segment meanwhile.
    Populate { map: Arc<MmapRaw>, start: usize, end: usize },
    /// Create `<tag>.seg.tmp` of `size` bytes in `dir`, made as `make` says.
    Prepare { dir: PathBuf, tag: String, size: u64, make: Make },
}

/// Handle to the background thread.
pub(crate) struct Ahead {
    tx: Option<SyncSender<Request>>,
    ready: Receiver<PreparedSegment>,
    thread: Option<JoinHandle<()>>,
}

impl Ahead {
    pub(crate) fn start(name: String) -> std::io::Result<Ahead> {
        let (tx, rx) = sync_channel(QUEUE);
        // One prepared segment at a time: the writer asks for the next only after taking one.
        let (ready_tx, ready) = sync_channel(1);
        let thread = std::thread::Builder::new().name(name).spawn(move || serve(rx, ready_tx))?;
        Ok(Ahead { tx: Some(tx), ready, thread: Some(thread) })
    }

    /// Queues `[start, end)` of `map`; false if it could not be queued (then nobody will
    /// prefault it and the writer faults pages in itself).
    pub(crate) fn populate(&self, map: &Arc<MmapRaw>, start: usize, end: usize) -> bool {
        debug_assert!(start <= end && end <= map.len());
        self.send(Request::Populate { map: Arc::clone(map), start, end })
    }

    /// Queues the creation of the next segment's file; false if it could not be queued.
    pub(crate) fn prepare(&self, dir: PathBuf, tag: String, size: u64, make: Make) -> bool {
        self.send(Request::Prepare { dir, tag, size, make })
    }

    /// The prepared segment, if one is ready.
    pub(crate) fn take_prepared(&self) -> Option<PreparedSegment> {
        self.ready.try_recv().ok()
    }

    fn send(&self, r: Request) -> bool {
        match self.tx.as_ref().map(|tx| tx.try_send(r)) {
            Some(Ok(())) => true,
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => false,
        }
    }

    /// Ends the thread after the requests already queued, and deletes a prepared segment that
    /// was never used. Bounded: at most [`QUEUE`] requests are waiting.
    pub(crate) fn stop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        while let Some(p) = self.take_prepared() {
            p.discard();
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(rx: Receiver<Request>, ready: SyncSender<PreparedSegment>) {
    while let Ok(r) = rx.recv() {
        match r {
            Request::Populate { map, start, end } => populate(&map, start, end),
            Request::Prepare { dir, tag, size, make } => {
                // A failure here (disk full, say) is not reported: the writer's own attempt at
                // rollover will meet it and report it where it can be handled.
                if let Ok(p) = segment::prepare_segment(&dir, &tag, size, make) {
                    populate(p.map(), 0, FIRST_WINDOW.min(p.len()));
                    if let Err(e) = ready.try_send(p) {
                        let (TrySendError::Full(p) | TrySendError::Disconnected(p)) = e;
                        p.discard();
                    }
                }
            }
        }
    }
}

/// Best effort: kernels before 5.14 reject the advice, and then pages fault on first write.
pub(crate) fn populate(map: &MmapRaw, start: usize, end: usize) {
    let page = 4096;
    let start = start & !(page - 1);
    let end = end.min(map.len());
    if start >= end {
        return;
    }
    // SAFETY: the range lies inside the mapping (clamped above) and the advice only populates
    // page tables; it never changes the bytes the writer owns.
    let rc = unsafe { libc::madvise(map.as_mut_ptr().add(start).cast(), end - start, libc::MADV_POPULATE_WRITE) };
    debug_assert!(rc == 0 || rc == -1);
}
