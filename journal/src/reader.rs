//! Replay: iterate records of a journal that is not being written (or only up to what was
//! written when the reader was opened), zero-copy from read-only mappings.

use crate::error::{Corruption, JournalError, Result};
use crate::format::{parse_frame, FrameKind, Parsed, SegmentHeader, HEADER_LEN};
use crate::scan::{check_tail, CorruptAt};
use crate::segment;
use memmap2::Mmap;
use std::path::{Path, PathBuf};

/// One record: its sequence number and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Sequence number (1-based, dense).
    pub seq: u64,
    /// The bytes given to `append`.
    pub payload: &'a [u8],
}

struct ReadSegment {
    path: PathBuf,
    header: SegmentHeader,
    map: Mmap,
}

/// Reads a journal directory. Checks framing, checksums and sequence density as it goes; the
/// hash chain is checked by [`verify`](crate::verify), not here, to keep replay fast.
///
/// Yields every valid record including ones after the last seal, which is exactly what
/// `Journal::open` keeps. A torn tail ends the iteration; damage followed by valid records is an
/// error.
pub struct JournalReader {
    dir: PathBuf,
    segs: Vec<ReadSegment>,
}

impl JournalReader {
    /// Maps every segment read-only and checks the headers and how they link.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        let mut segs: Vec<ReadSegment> = Vec::new();
        for f in segment::list_segments(&dir)? {
            let map = segment::map_read_only(&f.path)?;
            let header = SegmentHeader::decode(&map).map_err(|e| CorruptAt::from(e).in_segment(&f.path))?;
            check_header_order(f.name_seq, &header, segs.last().map(|s| &s.header))
                .map_err(|e| e.in_segment(&f.path))?;
            segs.push(ReadSegment { path: f.path, header, map });
        }
        Ok(JournalReader { dir, segs })
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of segment files.
    pub fn segments(&self) -> usize {
        self.segs.len()
    }

    /// First sequence present, if any segment exists.
    pub fn first_seq(&self) -> Option<u64> {
        self.segs.first().map(|s| s.header.first_seq)
    }

    /// Iterates from the first record present.
    pub fn iter(&self) -> Records<'_> {
        self.iter_from(self.first_seq().unwrap_or(1))
    }

    /// Iterates records with sequence `>= seq`. The first item is an error if `seq` is before
    /// the first record still present.
    pub fn iter_from(&self, seq: u64) -> Records<'_> {
        let seq = seq.max(1);
        let mut it =
            Records { reader: self, seg: 0, pos: HEADER_LEN, expect: 1, from: seq, done: false, pending: None };
        let Some(first) = self.first_seq() else {
            it.done = true;
            return it;
        };
        if seq < first {
            it.pending = Some(JournalError::SeqUnavailable { seq, first });
            return it;
        }
        it.seg = self.segs.partition_point(|s| s.header.first_seq <= seq) - 1;
        it.expect = self.segs[it.seg].header.first_seq;
        it
    }
}

/// Headers must be named after their first sequence and numbered without gaps.
fn check_header_order(name_seq: u64, h: &SegmentHeader, prev: Option<&SegmentHeader>) -> Result<(), CorruptAt> {
    use crate::format::header_field;
    if h.first_seq != name_seq {
        let msg = format!("file name says first sequence {name_seq}, header says {}", h.first_seq);
        return Err(CorruptAt { offset: header_field::FIRST_SEQ, reason: Corruption::BadSegmentFile(msg) });
    }
    match prev {
        Some(p) if h.index != p.index + 1 => {
            let msg = format!("segment index {} follows {}: a segment is missing or out of order", h.index, p.index);
            Err(CorruptAt { offset: header_field::INDEX, reason: Corruption::SegmentLink(msg) })
        }
        _ => Ok(()),
    }
}

/// Iterator over records; see [`JournalReader::iter_from`].
pub struct Records<'a> {
    reader: &'a JournalReader,
    seg: usize,
    pos: usize,
    expect: u64,
    from: u64,
    done: bool,
    pending: Option<JournalError>,
}

impl<'a> Records<'a> {
    fn fail(&mut self, e: CorruptAt) -> Option<Result<Record<'a>>> {
        self.done = true;
        Some(Err(e.in_segment(&self.reader.segs[self.seg].path)))
    }

    /// Moves to the next segment at the end of a closed one, checking that it continues the
    /// sequence. Returns false at the end of the journal.
    fn end_of_segment(&mut self, bad: Option<Corruption>) -> Result<bool, CorruptAt> {
        let segs = &self.reader.segs;
        let bytes: &[u8] = &segs[self.seg].map;
        if self.seg + 1 == segs.len() {
            check_tail(bytes, self.pos, self.expect - 1, bad)?;
            return Ok(false);
        }
        if let Some(reason) = bad {
            return Err(CorruptAt::new(self.pos, reason));
        }
        let next = &segs[self.seg + 1].header;
        if next.first_seq != self.expect {
            let msg = format!("next segment starts at {}, expected {}", next.first_seq, self.expect);
            return Err(CorruptAt::new(self.pos, Corruption::SegmentLink(msg)));
        }
        self.seg += 1;
        self.pos = HEADER_LEN;
        Ok(true)
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending.take() {
            self.done = true;
            return Some(Err(e));
        }
        while !self.done {
            let bytes: &'a [u8] = &self.reader.segs[self.seg].map;
            let bad = match parse_frame(bytes, self.pos) {
                Parsed::Frame(f) => {
                    let at = self.pos;
                    self.pos += f.total;
                    match f.kind {
                        FrameKind::Seal if f.seq + 1 == self.expect => continue,
                        FrameKind::Seal => {
                            let reason = Corruption::SealMismatch { expected: self.expect - 1, found: f.seq };
                            return self.fail(CorruptAt::new(at, reason));
                        }
                        FrameKind::Data if f.seq != self.expect => {
                            let reason = Corruption::SeqGap { expected: self.expect, found: f.seq };
                            return self.fail(CorruptAt::new(at, reason));
                        }
                        FrameKind::Data => {
                            self.expect += 1;
                            if f.seq >= self.from {
                                return Some(Ok(Record { seq: f.seq, payload: f.payload(bytes) }));
                            }
                            continue;
                        }
                    }
                }
                Parsed::End => None,
                Parsed::Truncated { .. } => Some(Corruption::BadLength(crate::format::read_u32(bytes, self.pos))),
                Parsed::Bad(reason) => Some(reason),
            };
            match self.end_of_segment(bad) {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(e) => return self.fail(e),
            }
        }
        None
    }
}
