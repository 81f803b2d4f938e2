//! Following a live journal written by another thread or process.
//!
//! The tail reader uses `pread` into its own buffer rather than a mapping, so the writer's
//! concurrent stores never alias a Rust reference. It only returns records covered by a seal
//! whose chain value it has recomputed, so a record that is still being copied, or a batch not
//! yet committed, is never returned: it simply shows up on a later poll.

use crate::error::{Corruption, JournalError, Result};
use crate::format::{
    chain_next, header_field, last_nonzero_end, parse_frame, ChainValue, FrameKind, Parsed, SegmentHeader,
    FRAME_HEADER, HEADER_LEN,
};
use crate::reader::Record;
use crate::scan::{find_later_frame, CorruptAt};
use crate::segment::{self, segment_file_name};
use crate::watch::DurableWatch;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const INITIAL_CHUNK: usize = 64 << 10;

struct TailSegment {
    path: PathBuf,
    file: File,
    header: SegmentHeader,
    len: usize,
}

/// A record ready to be returned: sequence and payload range in `buf`.
type Ready = (u64, usize, usize);

/// How a walk over freshly read bytes stopped.
enum Stop {
    /// Unwritten space, or a frame that extends past the bytes read.
    End { truncated: bool },
    /// A frame that is not (yet) valid, at this offset in the buffer.
    Bad { off: usize, reason: Corruption },
}

/// Follows a journal directory, returning each committed record exactly once, in order.
pub struct TailReader {
    dir: PathBuf,
    from: u64,
    seg: Option<TailSegment>,
    /// Offset in the segment just past the last consumed seal.
    pos: usize,
    chain: ChainValue,
    /// Sequence of the next record at `pos`.
    next_seq: u64,
    buf: Vec<u8>,
    ready: Vec<Ready>,
    ready_idx: usize,
    chunk: usize,
    limit: Option<DurableWatch>,
    last_returned: u64,
}

impl TailReader {
    /// Follows `dir` starting at sequence `from_seq` (0 or 1 = from the beginning). The
    /// directory and its segments may not exist yet.
    pub fn open(dir: impl Into<PathBuf>, from_seq: u64) -> Self {
        TailReader {
            dir: dir.into(),
            from: from_seq.max(1),
            seg: None,
            pos: HEADER_LEN,
            chain: [0; 32],
            next_seq: 1,
            buf: Vec::new(),
            ready: Vec::new(),
            ready_idx: 0,
            chunk: INITIAL_CHUNK,
            limit: None,
            last_returned: from_seq.max(1) - 1,
        }
    }

    /// Also holds back records above the writer's durable watermark (same process only), so a
    /// consumer never acts on a record that a power loss could still take away.
    pub fn follow_durable(mut self, watch: DurableWatch) -> Self {
        self.limit = Some(watch);
        self
    }

    /// Sequence of the last record returned (`from_seq - 1` before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_returned
    }

    /// Returns the next committed record, or `None` if there is none yet.
    pub fn poll(&mut self) -> Result<Option<Record<'_>>> {
        if self.ready_idx == self.ready.len() && !self.fill()? {
            return Ok(None);
        }
        let (seq, start, end) = self.ready[self.ready_idx];
        if self.limit.as_ref().is_some_and(|w| seq > w.durable_seq()) {
            return Ok(None);
        }
        debug_assert_eq!(seq, self.last_returned + 1, "records are returned densely");
        self.ready_idx += 1;
        self.last_returned = seq;
        Ok(Some(Record { seq, payload: &self.buf[start..end] }))
    }

    /// Loads the next committed records into `ready`. Returns false if there are none yet.
    fn fill(&mut self) -> Result<bool> {
        if self.seg.is_none() && !self.open_initial()? {
            return Ok(false);
        }
        loop {
            if self.read_committed()? {
                if self.ready_idx < self.ready.len() {
                    return Ok(true);
                }
                continue;
            }
            let Some(next) = self.next_segment_path() else { return Ok(false) };
            // The writer finishes a segment before it creates the next one, so one more read
            // now sees the segment's final contents.
            if self.read_committed()? {
                if self.ready_idx < self.ready.len() {
                    return Ok(true);
                }
                continue;
            }
            self.switch_to(&next)?;
        }
    }

    /// The next segment's file, if the writer has created it. An empty segment is never
    /// rolled, so there is none while the current one holds no record.
    fn next_segment_path(&self) -> Option<PathBuf> {
        let cur = self.seg.as_ref()?;
        if self.next_seq == cur.header.first_seq {
            return None;
        }
        let next = self.dir.join(segment_file_name(self.next_seq));
        next.exists().then_some(next)
    }

    fn open_initial(&mut self) -> Result<bool> {
        let files = match segment::list_segments(&self.dir) {
            Ok(f) => f,
            Err(JournalError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let Some(first) = files.first() else { return Ok(false) };
        if self.from < first.name_seq {
            return Err(JournalError::SeqUnavailable { seq: self.from, first: first.name_seq });
        }
        let idx = files.partition_point(|f| f.name_seq <= self.from) - 1;
        let seg = open_segment(&files[idx].path)?;
        if seg.header.first_seq != files[idx].name_seq {
            let msg =
                format!("file name says first sequence {}, header says {}", files[idx].name_seq, seg.header.first_seq);
            return Err(CorruptAt { offset: header_field::FIRST_SEQ, reason: Corruption::BadSegmentFile(msg) }
                .in_segment(&seg.path));
        }
        self.enter(seg);
        Ok(true)
    }

    fn enter(&mut self, seg: TailSegment) {
        self.chain = seg.header.prev_chain;
        self.next_seq = seg.header.first_seq;
        self.pos = HEADER_LEN;
        self.seg = Some(seg);
    }

    /// Moves to the next segment after checking that the current one ended cleanly and that
    /// the next one links to it.
    fn switch_to(&mut self, next: &Path) -> Result<()> {
        let cur = self.seg.as_ref().ok_or_else(|| JournalError::InvalidConfig("no segment".into()))?;
        if self.pos + FRAME_HEADER <= cur.len {
            let mut head = [0u8; FRAME_HEADER];
            cur.file.read_exact_at(&mut head, self.pos as u64).map_err(JournalError::io("read", &cur.path))?;
            if head.iter().any(|&b| b != 0) {
                let reason = Corruption::UnsealedSegment("closed segment holds frames after its last seal".into());
                return Err(CorruptAt::new(self.pos, reason).in_segment(&cur.path));
            }
        }
        let seg = open_segment(next)?;
        let link = |off: u64, msg: String| {
            Err(CorruptAt { offset: off, reason: Corruption::SegmentLink(msg) }.in_segment(next))
        };
        if seg.header.index != cur.header.index + 1 {
            return link(
                header_field::INDEX,
                format!("segment index {} follows {}", seg.header.index, cur.header.index),
            );
        }
        if seg.header.first_seq != self.next_seq {
            return link(
                header_field::FIRST_SEQ,
                format!("first sequence {} does not follow {}", seg.header.first_seq, self.next_seq - 1),
            );
        }
        if seg.header.prev_chain != self.chain {
            return link(
                header_field::PREV_CHAIN,
                "carried chain value differs from the previous segment's last seal".into(),
            );
        }
        self.enter(seg);
        Ok(())
    }

    /// Reads from `pos` and consumes every complete, sealed batch. Returns whether `pos`
    /// advanced.
    fn read_committed(&mut self) -> Result<bool> {
        self.ready.clear();
        self.ready_idx = 0;
        let Some(seg) = self.seg.as_ref() else { return Ok(false) };
        let avail = seg.len.saturating_sub(self.pos);
        if avail < FRAME_HEADER {
            return Ok(false);
        }
        let mut want = self.chunk.min(avail);
        let mut retried = false;
        loop {
            self.buf.resize(want, 0);
            seg.file.read_exact_at(&mut self.buf, self.pos as u64).map_err(JournalError::io("read", &seg.path))?;
            let walk = walk_batches(&self.buf, self.chain, self.next_seq, self.from, &mut self.ready)
                .map_err(|e| CorruptAt { offset: e.offset + self.pos as u64, ..e }.in_segment(&seg.path))?;
            match &walk.stop {
                Stop::End { truncated: true } if walk.consumed == 0 && want < avail => {
                    want = (want * 2).min(avail);
                    self.chunk = want;
                    continue;
                }
                Stop::Bad { off, reason } if damaged_before_valid(&self.buf, *off, walk.next_seq) => {
                    // Possibly a record still being copied when we read; a second read sees it
                    // complete. If it is still bad, it is corruption.
                    if !retried {
                        retried = true;
                        self.ready.clear();
                        continue;
                    }
                    let at = CorruptAt::new(self.pos + off, reason.clone());
                    return Err(at.in_segment(&seg.path));
                }
                _ => {}
            }
            self.pos += walk.consumed;
            self.chain = walk.chain;
            self.next_seq = walk.next_seq;
            return Ok(walk.consumed > 0);
        }
    }
}

/// Whether a valid frame with a larger sequence follows the bad frame at `off`.
fn damaged_before_valid(buf: &[u8], off: usize, next_seq: u64) -> bool {
    let Some(nz) = last_nonzero_end(&buf[off..]) else { return false };
    find_later_frame(buf, off, off + nz, next_seq - 1).is_some()
}

struct Walked {
    /// Bytes up to the end of the last valid seal.
    consumed: usize,
    chain: ChainValue,
    next_seq: u64,
    stop: Stop,
}

/// Walks frames in `buf`, moving records into `ready` only once a seal with the right chain value
/// covers them.
fn walk_batches(
    buf: &[u8],
    chain: ChainValue,
    next_seq: u64,
    from: u64,
    ready: &mut Vec<Ready>,
) -> Result<Walked, CorruptAt> {
    let mut w = Walked { consumed: 0, chain, next_seq, stop: Stop::End { truncated: false } };
    let (mut off, mut expect, mut committed_len) = (0usize, next_seq, ready.len());
    w.stop = loop {
        let f = match parse_frame(buf, off) {
            Parsed::Frame(f) => f,
            // The bytes read end before the next frame's header: more may follow in the
            // file, so this is a truncated read, not the end of the written data (else a
            // batch longer than the read whose frames happen to end at the buffer's end is
            // never consumed).
            Parsed::End if off + FRAME_HEADER > buf.len() => break Stop::End { truncated: true },
            Parsed::End => break Stop::End { truncated: false },
            Parsed::Truncated { .. } => break Stop::End { truncated: true },
            Parsed::Bad(reason) => break Stop::Bad { off, reason },
        };
        match f.kind {
            FrameKind::Data if f.seq != expect => {
                return Err(CorruptAt::new(off, Corruption::SeqGap { expected: expect, found: f.seq }));
            }
            FrameKind::Data => {
                if f.seq >= from {
                    ready.push((f.seq, f.payload_start, f.payload_start + f.payload_len));
                }
                expect += 1;
            }
            FrameKind::Seal => {
                if f.seq + 1 != expect || expect == w.next_seq {
                    let reason = Corruption::SealMismatch { expected: expect - 1, found: f.seq };
                    return Err(CorruptAt::new(off, reason));
                }
                let next = chain_next(&w.chain, &buf[w.consumed..off]);
                if next[..] != *f.payload(buf) {
                    return Err(CorruptAt::new(off, Corruption::ChainMismatch));
                }
                w.chain = next;
                w.next_seq = expect;
                w.consumed = off + f.total;
                committed_len = ready.len();
            }
        }
        off += f.total;
    };
    ready.truncate(committed_len);
    Ok(w)
}

fn open_segment(path: &Path) -> Result<TailSegment> {
    let file = File::open(path).map_err(JournalError::io("open", path))?;
    let len = segment::check_file_len(&file, path)? as usize;
    let mut head = [0u8; HEADER_LEN];
    file.read_exact_at(&mut head, 0).map_err(JournalError::io("read", path))?;
    let header = SegmentHeader::decode(&head).map_err(|e| CorruptAt::from(e).in_segment(path))?;
    Ok(TailSegment { path: path.to_path_buf(), file, header, len })
}
