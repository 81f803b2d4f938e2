//! The single writer: append into the mapped active segment, seal batches on commit, roll over to
//! a new segment when full, and recover on open.

use crate::ahead::{self, Ahead};
use crate::error::{JournalError, Result};
use crate::flusher::{Flusher, Target};
use crate::format::{
    chain_next, encode_frame, frame_len, ChainValue, FrameKind, SegmentHeader, CHAIN_LEN, FRAME_HEADER, HEADER_LEN,
    MAX_LEN_FIELD, SEAL_FRAME_LEN,
};
use crate::scan::{SegmentScan, Walk};
use crate::segment::{self, Make, WritableSegment};
use crate::watch::DurableWatch;
use memmap2::MmapRaw;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Name of the lock file that keeps a second writer out of the directory.
const LOCK_FILE: &str = "journal.lock";
/// How far ahead of the write position pages are made writable in one call (see
/// [`crate::ahead`]).
const PREFAULT_WINDOW: usize = 1 << 20;
/// Smallest segment size accepted: room for a header, a few records and a seal.
pub const MIN_SEGMENT_BYTES: u64 = 4096;

/// When a committed record counts as durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Durability {
    /// In the mapped pages: survives the process being killed, not a power loss.
    Process,
    /// Written and synced to storage by the group-commit flusher: survives a power loss.
    Fsync,
}

impl Durability {
    /// The name operators write (`--durability process|fsync`) and reports print.
    pub fn name(self) -> &'static str {
        match self {
            Durability::Process => "process",
            Durability::Fsync => "fsync",
        }
    }
}

/// Journal settings.
#[derive(Debug, Clone)]
pub struct JournalConfig {
    /// Directory holding the segment files; created if missing.
    pub dir: PathBuf,
    /// Size of each segment file (multiple of 8, at least [`MIN_SEGMENT_BYTES`]).
    pub segment_bytes: u64,
    /// Durability a commit must reach before `durable_seq` covers it.
    pub durability: Durability,
    /// In `Fsync` mode, how long the flusher holds the first commit of a group back to gather
    /// more. Zero (the default): a sync starts as soon as the previous one ends, with
    /// everything committed meanwhile, so groups follow the disk's speed.
    pub fsync_interval: Duration,
    /// In `Fsync` mode with an interval, sync at once when this many records are pending.
    pub fsync_max_records: usize,
}

impl JournalConfig {
    /// Defaults: 64 MiB segments, `Fsync`, no gathering interval (see `fsync_interval`).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        JournalConfig {
            dir: dir.into(),
            segment_bytes: 64 << 20,
            durability: Durability::Fsync,
            fsync_interval: Duration::ZERO,
            fsync_max_records: 1024,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(JournalError::InvalidConfig(m));
        if self.segment_bytes < MIN_SEGMENT_BYTES || !self.segment_bytes.is_multiple_of(8) {
            return bad(format!(
                "segment_bytes {} must be a multiple of 8 and at least {MIN_SEGMENT_BYTES}",
                self.segment_bytes
            ));
        }
        if usize::try_from(self.segment_bytes).is_err() {
            return bad(format!("segment_bytes {} does not fit in memory", self.segment_bytes));
        }
        if self.fsync_max_records == 0 {
            return bad("fsync_max_records must be at least 1".into());
        }
        Ok(())
    }

    /// Largest payload that fits an empty segment of this size with room left for its seal.
    fn max_payload(&self) -> usize {
        let room = self.segment_bytes as usize - HEADER_LEN - SEAL_FRAME_LEN - FRAME_HEADER;
        room.min(MAX_LEN_FIELD) & !7
    }
}

/// A torn tail that recovery cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TailCut {
    /// The segment file that held it.
    pub segment: PathBuf,
    /// Byte offset where the cut starts (just past the last good frame).
    pub offset: u64,
    /// Number of bytes zeroed.
    pub bytes: u64,
}

/// What `Journal::open` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Segment files found (0 for a new journal).
    pub segments: usize,
    /// First sequence still present (1 unless old segments were archived).
    pub first_seq: u64,
    /// Last good sequence number (0 if the journal is empty).
    pub last_seq: u64,
    /// Valid records after the last seal: the crash came between append and commit. They are
    /// kept and sealed by the next commit.
    pub unsealed_records: u64,
    /// The torn tail that was cut, if any.
    pub cut: Option<TailCut>,
    /// Half-created segment files removed.
    pub removed_temp_files: usize,
}

/// The active segment. `Process`: written through a shared mapping of its file. `Fsync`:
/// written into anonymous memory that the flusher writes to the file from (it only reads
/// committed bytes, which the writer never changes again).
struct Active {
    path: PathBuf,
    header: SegmentHeader,
    map: Arc<MmapRaw>,
    len: usize,
    /// Pages below this offset have been made writable ahead of time.
    prefaulted: usize,
    _file: File,
}

impl Active {
    fn new(path: PathBuf, header: SegmentHeader, map: MmapRaw, file: File) -> Self {
        let len = map.len();
        Active { path, header, map: Arc::new(map), len, prefaulted: 0, _file: file }
    }

    fn from_writable(w: WritableSegment) -> (Self, Option<PathBuf>) {
        (Active::new(w.path, w.header, w.map, w.file), w.tmp)
    }

    /// What the flusher needs to write this segment: its memory, its file, its name.
    fn target(&self, tmp: Option<PathBuf>, dir: &Path) -> std::io::Result<Target> {
        Target::new(Arc::clone(&self.map), self._file.try_clone()?, self.path.clone(), tmp, dir.to_path_buf())
    }

    /// Moves the first `end` bytes of a mapped segment into anonymous memory, for `Fsync`
    /// (recovery maps the last segment's file to scan and repair it).
    fn into_buffered(self, end: usize) -> Result<Self> {
        let buf = segment::anonymous(self.len, &self.path)?;
        // SAFETY: both mappings are `len` bytes long, `end <= len`, and neither is shared with
        // another thread yet.
        unsafe { std::ptr::copy_nonoverlapping(self.map.as_ptr(), buf.as_mut_ptr(), end) };
        Ok(Active::new(self.path, self.header, buf, self._file))
    }

    /// Whether the writer, about to need bytes up to `need`, should arrange more writable pages:
    /// when it has run past them, or is within a window of their end.
    #[inline]
    fn wants_prefault(&self, need: usize) -> bool {
        need > self.prefaulted || (self.prefaulted < self.len && need + PREFAULT_WINDOW > self.prefaulted)
    }

    /// Keeps a window of writable pages ahead of `need` (see [`crate::ahead`]). Only when the
    /// writer has overtaken the background thread does it populate a window itself, in one
    /// `madvise` call rather than one fault per page.
    #[cold]
    fn prefault(&mut self, need: usize, background: &Ahead) {
        if need > self.prefaulted {
            let end = (need + PREFAULT_WINDOW).min(self.len);
            ahead::populate(&self.map, need.saturating_sub(1), end);
            self.prefaulted = end.max(need);
        }
        let (start, end) = (self.prefaulted, (self.prefaulted + PREFAULT_WINDOW).min(self.len));
        // A request that cannot be queued is retried on a later append.
        if start < end && background.populate(&self.map, start, end) {
            self.prefaulted = end;
        }
    }

    /// Bytes already written.
    fn bytes(&self, start: usize, end: usize) -> &[u8] {
        assert!(start <= end && end <= self.len, "range inside the mapping");
        // SAFETY: in bounds (asserted); this process is the only writer (directory lock) and
        // `&self` excludes concurrent `bytes_mut`; the flusher thread only reads committed bytes.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(start), end - start) }
    }

    /// Space to write a frame into.
    fn bytes_mut(&mut self, start: usize, end: usize) -> &mut [u8] {
        assert!(start <= end && end <= self.len, "range inside the mapping");
        // SAFETY: as in `bytes`; `&mut self` makes this the only live reference into the map.
        unsafe { std::slice::from_raw_parts_mut(self.map.as_mut_ptr().add(start), end - start) }
    }

    fn flush(&self, start: usize, end: usize) -> Result<()> {
        self.map.flush_range(start, end - start).map_err(JournalError::io("msync", &self.path))
    }
}

/// The append-only journal writer. One per directory, owned by one thread.
pub struct Journal {
    cfg: JournalConfig,
    _lock: File,
    seg: Active,
    /// Where the next frame goes.
    pos: usize,
    /// Start of the bytes the next seal covers.
    batch_start: usize,
    /// Chain value at the last seal.
    chain: ChainValue,
    next_seq: u64,
    committed_seq: u64,
    batch_records: usize,
    max_payload: usize,
    watch: DurableWatch,
    flusher: Option<Flusher>,
    ahead: Ahead,
    /// Write offset past which the next segment's file is asked of `ahead` (half the segment);
    /// `usize::MAX` once asked.
    prepare_at: usize,
    closed: bool,
}

impl Journal {
    /// Opens (creating if needed) the journal in `cfg.dir`, validating every segment and cutting
    /// a torn tail of the last one.
    pub fn open(cfg: JournalConfig) -> Result<(Journal, OpenReport)> {
        cfg.validate()?;
        std::fs::create_dir_all(&cfg.dir).map_err(JournalError::io("create dir", &cfg.dir))?;
        let lock = lock_dir(&cfg.dir)?;
        let removed_temp_files = segment::remove_temp_files(&cfg.dir)?;
        let files = segment::list_segments(&cfg.dir)?;
        let make = match cfg.durability {
            Durability::Process => Make::Mapped,
            // Zero-filled at once: a new journal's first segment then syncs as fast as the next.
            Durability::Fsync => Make::Buffered { zero_fill: true },
        };
        let (seg, tmp, scan, walk) = if files.is_empty() {
            let header = SegmentHeader { index: 0, first_seq: 1, prev_chain: [0; CHAIN_LEN] };
            let (seg, tmp) =
                Active::from_writable(segment::create_segment(&cfg.dir, &header, cfg.segment_bytes, make)?);
            (seg, tmp, empty_scan(&header), Walk { first_seq: 1, ..Walk::default() })
        } else {
            let (seg, scan, walk) = recover(&files)?;
            let seg = if make == Make::Mapped { seg } else { seg.into_buffered(scan.end)? };
            (seg, None, scan, walk)
        };
        let cut =
            scan.torn.map(|t| TailCut { segment: seg.path.clone(), offset: t.offset as u64, bytes: t.bytes as u64 });
        let report = OpenReport {
            segments: files.len(),
            first_seq: walk.first_seq,
            last_seq: scan.last_seq,
            unsealed_records: scan.unsealed,
            cut,
            removed_temp_files,
        };
        let journal = Journal::assemble(cfg, lock, seg, tmp, &scan)?;
        Ok((journal, report))
    }

    fn assemble(
        cfg: JournalConfig,
        lock: File,
        seg: Active,
        tmp: Option<PathBuf>,
        scan: &SegmentScan,
    ) -> Result<Journal> {
        // Everything up to the last seal survived the previous run, so it counts as durable now.
        let durable = scan.last_seq - scan.unsealed;
        let watch = DurableWatch::new(durable);
        let flusher = match cfg.durability {
            Durability::Process => None,
            Durability::Fsync => {
                // A new segment's header is only in memory: written with the first sync.
                let on_disk = if tmp.is_some() { 0 } else { scan.end };
                let target = seg.target(tmp, &cfg.dir).map_err(JournalError::io("open", &seg.path))?;
                let f =
                    Flusher::start(target, on_disk, durable, cfg.fsync_interval, cfg.fsync_max_records, watch.clone())
                        .map_err(JournalError::io("spawn flusher", &cfg.dir))?;
                Some(f)
            }
        };
        let ahead = Ahead::start("journal-ahead".into()).map_err(JournalError::io("spawn journal-ahead", &cfg.dir))?;
        Ok(Journal {
            ahead,
            prepare_at: seg.len / 2,
            max_payload: cfg.max_payload(),
            cfg,
            _lock: lock,
            seg,
            pos: scan.end,
            batch_start: scan.batch_start,
            chain: scan.chain,
            next_seq: scan.last_seq + 1,
            committed_seq: durable,
            batch_records: scan.unsealed as usize,
            watch,
            flusher,
            closed: false,
        })
    }

    /// Appends one record and returns its sequence number. Copies the payload straight into the
    /// mapped segment; no allocation, no hashing (the chain is computed per batch in `commit`).
    /// The record is not committed until [`commit`](Self::commit).
    #[inline]
    pub fn append(&mut self, payload: &[u8]) -> Result<u64> {
        if payload.len() > self.max_payload {
            return Err(JournalError::RecordTooLarge { len: payload.len(), max: self.max_payload });
        }
        let total = frame_len(payload.len());
        // Always leave room for the seal that will close this segment.
        if self.pos + total + SEAL_FRAME_LEN > self.seg.len {
            self.roll()?;
        }
        let seq = self.next_seq;
        let pos = self.pos;
        if pos + total > self.prepare_at || self.seg.wants_prefault(pos + total) {
            self.prepare_ahead(pos + total);
        }
        encode_frame(self.seg.bytes_mut(pos, pos + total), FrameKind::Data, seq, payload);
        self.pos += total;
        self.next_seq += 1;
        self.batch_records += 1;
        debug_assert!(self.pos + SEAL_FRAME_LEN <= self.seg.len);
        Ok(seq)
    }

    /// Keeps writable pages ahead of `need` and, past half the segment, has the next segment's
    /// file created in the background so that rollover does not create it.
    #[cold]
    fn prepare_ahead(&mut self, need: usize) {
        if self.seg.wants_prefault(need) {
            self.seg.prefault(need, &self.ahead);
        }
        if need > self.prepare_at {
            let tag = format!("next-{:010}", self.seg.header.index + 1);
            if self.ahead.prepare(self.cfg.dir.clone(), tag, self.cfg.segment_bytes, self.make(true)) {
                self.prepare_at = usize::MAX;
            }
        }
    }

    /// Ends a batch: writes a seal over the records since the previous one and publishes the
    /// batch (durable at once in `Process` mode, handed to the flusher in `Fsync` mode).
    /// Returns the last sequence number. A commit with nothing appended is a no-op.
    pub fn commit(&mut self) -> Result<u64> {
        self.check_healthy()?;
        if self.batch_records > 0 {
            let records = self.batch_records;
            self.write_seal();
            self.publish(records);
        }
        Ok(self.next_seq - 1)
    }

    /// Highest sequence that meets the durability setting.
    pub fn durable_seq(&self) -> u64 {
        self.watch.durable_seq()
    }

    /// Blocks until `seq` is durable; immediate in `Process` mode once committed.
    pub fn wait_durable(&self, seq: u64) -> Result<()> {
        if seq > self.committed_seq {
            return Err(JournalError::NotCommitted { seq, committed: self.committed_seq });
        }
        self.watch.wait(seq)
    }

    /// A handle other threads can poll or wait on.
    pub fn durable_watch(&self) -> DurableWatch {
        self.watch.clone()
    }

    /// Sequence number of the last appended record (committed or not); 0 if none.
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Sequence number of the last committed (sealed) record.
    pub fn committed_seq(&self) -> u64 {
        self.committed_seq
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    /// Largest payload `append` accepts.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Makes what is committed durable now and waits for it. `Process`: msyncs everything
    /// written in the active segment, committed or not. `Fsync`: waits for the flusher, which
    /// syncs every commit as soon as it can anyway.
    pub fn sync(&mut self) -> Result<()> {
        self.check_healthy()?;
        if self.flusher.is_some() {
            return self.watch.wait(self.committed_seq);
        }
        if let Err(e) = self.seg.flush(0, self.pos) {
            self.watch.fail(e.to_string());
            return Err(e);
        }
        self.watch.advance(self.committed_seq);
        Ok(())
    }

    /// Arms a simulated power loss in the flusher (crash tests).
    #[cfg(test)]
    pub(crate) fn inject_power_loss(&self, fault: crate::flusher::tests::PowerLoss) {
        self.flusher.as_ref().expect("a flusher in Fsync mode").inject(fault);
    }

    /// How new segments are made in this journal's mode.
    fn make(&self, zero_fill: bool) -> Make {
        match self.cfg.durability {
            Durability::Process => Make::Mapped,
            Durability::Fsync => Make::Buffered { zero_fill },
        }
    }

    /// Stops the flusher after a final sync and reports any error; dropping does the same but
    /// can only ignore errors.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.closed, true) {
            return Ok(());
        }
        let out = if let Some(mut f) = self.flusher.take() {
            // Written and synced up to `pos`: records appended but not committed are kept, as
            // in `Process` mode, and sealed by the next commit after a restart.
            f.stop(self.pos);
            self.ahead.stop();
            self.check_healthy()
        } else {
            self.ahead.stop();
            let out = self.check_healthy().and_then(|()| self.seg.flush(0, self.pos));
            if out.is_ok() {
                self.watch.advance(self.committed_seq);
            }
            out
        };
        self.watch.close();
        out
    }

    fn check_healthy(&self) -> Result<()> {
        match self.watch.failure() {
            None => Ok(()),
            Some(reason) => Err(JournalError::FlushFailed { reason }),
        }
    }

    /// Writes the seal for the current batch. The seal frame always fits: `append` reserves it.
    fn write_seal(&mut self) {
        debug_assert!(self.batch_records > 0 && self.pos > self.batch_start);
        debug_assert!(self.pos + SEAL_FRAME_LEN <= self.seg.len);
        let chain = chain_next(&self.chain, self.seg.bytes(self.batch_start, self.pos));
        let (pos, seq) = (self.pos, self.next_seq - 1);
        let dst = self.seg.bytes_mut(pos, pos + SEAL_FRAME_LEN);
        encode_frame(dst, FrameKind::Seal, seq, &chain);
        self.chain = chain;
        self.pos += SEAL_FRAME_LEN;
        self.batch_start = self.pos;
        self.batch_records = 0;
        self.committed_seq = seq;
    }

    fn publish(&mut self, records: usize) {
        match &self.flusher {
            None => self.watch.advance(self.committed_seq),
            Some(f) => f.submit(self.pos, self.committed_seq, records),
        }
    }

    /// Closes the active segment with a seal and starts the next one, whose header carries the
    /// chain value. `Fsync`: the flusher finishes the old segment (in order, before anything of
    /// the new one counts as durable); the writer does no I/O here.
    #[cold]
    fn roll(&mut self) -> Result<()> {
        self.check_healthy()?;
        if self.batch_records > 0 {
            self.write_seal();
        }
        let header =
            SegmentHeader { index: self.seg.header.index + 1, first_seq: self.next_seq, prev_chain: self.chain };
        let new = match self.ahead.take_prepared() {
            Some(p) if p.len() as u64 == self.cfg.segment_bytes => segment::finish_segment(p, &header, &self.cfg.dir)?,
            other => {
                if let Some(p) = other {
                    p.discard();
                }
                // Not zero-filled here: that is 64 MiB of writes on the writer's thread.
                let make = self.make(false);
                segment::create_segment(&self.cfg.dir, &header, self.cfg.segment_bytes, make)?
            }
        };
        let (old_end, seq) = (self.pos, self.committed_seq);
        let (seg, tmp) = Active::from_writable(new);
        self.seg = seg;
        self.prepare_at = self.seg.len / 2;
        self.pos = HEADER_LEN;
        self.batch_start = HEADER_LEN;
        match &self.flusher {
            Some(f) => {
                let target = self.seg.target(tmp, &self.cfg.dir).map_err(JournalError::io("open", &self.seg.path))?;
                f.switch_segment(old_end, seq, target);
            }
            None => self.watch.advance(self.committed_seq),
        }
        Ok(())
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // Errors cannot be returned from drop; `close` reports them.
        let _ = self.shutdown();
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.cfg.dir)
            .field("segment", &self.seg.path)
            .field("pos", &self.pos)
            .field("last_seq", &self.last_seq())
            .field("committed_seq", &self.committed_seq)
            .field("durable_seq", &self.durable_seq())
            .finish()
    }
}

/// Takes the directory lock so that two writers can never interleave frames.
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(JournalError::io("open", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(JournalError::Locked { dir: dir.to_path_buf() }),
        Err(TryLockError::Error(e)) => Err(JournalError::io("lock", &path)(e)),
    }
}

fn empty_scan(header: &SegmentHeader) -> SegmentScan {
    SegmentScan {
        records: 0,
        seals: 0,
        last_seq: header.first_seq - 1,
        end: HEADER_LEN,
        batch_start: HEADER_LEN,
        chain: header.prev_chain,
        unsealed: 0,
        torn: None,
    }
}

/// Validates all segments, maps the last one writable and zeroes its torn tail, if any.
fn recover(files: &[segment::SegmentFile]) -> Result<(Active, SegmentScan, Walk)> {
    let mut walk = Walk::default();
    let Some((last, closed)) = files.split_last() else {
        return Err(JournalError::InvalidConfig("no segments to recover".into()));
    };
    for f in closed {
        let map = segment::map_read_only(&f.path)?;
        walk.visit(f.name_seq, &f.path, &map, false)?;
    }
    let (file, map) = segment::open_writable(&last.path)?;
    // SAFETY: we hold the directory lock, so nobody writes this file while we scan it.
    let bytes = unsafe { std::slice::from_raw_parts(map.as_ptr(), map.len()) };
    let visited = walk.visit(last.name_seq, &last.path, bytes, true)?;
    let (scan, header) = (visited.scan.clone(), visited.header.clone());
    if let Some(t) = scan.torn {
        // SAFETY: in bounds (the scan found these bytes in the mapping); no other reference
        // into the mapping is live (`bytes` is not used past this point).
        unsafe { std::ptr::write_bytes(map.as_mut_ptr().add(t.offset), 0, t.bytes) };
        map.flush_range(t.offset, t.bytes).map_err(JournalError::io("msync", &last.path))?;
    }
    let seg = Active::new(last.path.clone(), header, map, file);
    Ok((seg, scan, walk))
}
