//! Makes the pages ahead of the write position writable on a background thread.
//!
//! The first write to a page of a fresh segment costs a fault that zeroes the page (about a
//! fifth of a shard thread's time under load when done inline). The writer instead asks this
//! thread to `madvise(MADV_POPULATE_WRITE)` the next window while it still has a window of
//! prepared pages to write into. The advice never changes contents, so racing the writer is
//! harmless; a request that cannot be queued (the thread is behind) is dropped and the writer's
//! own first write faults the page in, which is slower but equally correct.

use memmap2::MmapRaw;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// Requests waiting at most: the writer never blocks on this thread.
const QUEUE: usize = 4;

/// One range of one segment's mapping to make writable. The `Arc` keeps the mapping alive even if
/// the writer rolls to the next segment meanwhile.
struct Request {
    map: Arc<MmapRaw>,
    start: usize,
    end: usize,
}

/// Handle to the background thread; dropping it ends the thread once the queue is drained.
pub(crate) struct Prefaulter {
    tx: SyncSender<Request>,
}

impl Prefaulter {
    pub(crate) fn start(name: String) -> std::io::Result<Prefaulter> {
        let (tx, rx) = sync_channel(QUEUE);
        std::thread::Builder::new().name(name).spawn(move || serve(rx))?;
        Ok(Prefaulter { tx })
    }

    /// Queues `[start, end)` of `map`; false if it could not be queued (then nobody will
    /// prefault it and the writer faults pages in itself).
    pub(crate) fn request(&self, map: &Arc<MmapRaw>, start: usize, end: usize) -> bool {
        debug_assert!(start <= end && end <= map.len());
        match self.tx.try_send(Request { map: Arc::clone(map), start, end }) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }
}

fn serve(rx: Receiver<Request>) {
    while let Ok(r) = rx.recv() {
        populate(&r.map, r.start, r.end);
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
