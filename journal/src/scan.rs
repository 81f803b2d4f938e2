//! Validation of segment contents, shared by recovery (`Journal::open`), `verify` and the reader.
//!
//! The central question is "torn tail or corruption?". A crash while appending leaves at most the
//! record being written (and its seal) incomplete, always after every complete record. So a bad
//! frame counts as a torn tail only if it is in the last segment and no later valid frame with a
//! larger sequence exists; anything else is corruption.

use crate::error::{Corruption, JournalError};
use crate::format::{
    chain_next, header_field, last_nonzero_end, parse_frame, ChainValue, FrameKind, Parsed, SegmentHeader, CHAIN_LEN,
    FRAME_HEADER, HEADER_LEN,
};
use std::path::{Path, PathBuf};

/// A problem at a byte offset of a segment whose path the caller knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CorruptAt {
    pub offset: u64,
    pub reason: Corruption,
}

impl CorruptAt {
    pub(crate) fn new(offset: usize, reason: Corruption) -> Self {
        CorruptAt { offset: offset as u64, reason }
    }

    pub(crate) fn in_segment(self, path: &Path) -> JournalError {
        JournalError::Corrupt { segment: path.to_path_buf(), offset: self.offset, reason: self.reason }
    }
}

impl From<(u64, Corruption)> for CorruptAt {
    fn from((offset, reason): (u64, Corruption)) -> Self {
        CorruptAt { offset, reason }
    }
}

/// A torn tail: `bytes` bytes starting at `offset` that recovery zeroes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Torn {
    pub offset: usize,
    pub bytes: usize,
}

/// What a full scan of one segment found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentScan {
    pub records: u64,
    pub seals: u64,
    /// Sequence of the last valid record; `first_seq - 1` if the segment holds none.
    pub last_seq: u64,
    /// Offset just past the last valid frame: where the next frame goes.
    pub end: usize,
    /// Offset just past the last seal (or the header): start of the unsealed batch.
    pub batch_start: usize,
    /// Chain value at the last seal (or the header's carried-in value).
    pub chain: ChainValue,
    /// Records after the last seal.
    pub unsealed: u64,
    /// Torn tail to cut (only ever set for the last segment).
    pub torn: Option<Torn>,
}

/// Scans and fully validates one segment: framing, checksums, dense sequence numbers, seals and
/// the hash chain. `is_last` allows a torn tail.
pub(crate) fn scan_segment(bytes: &[u8], header: &SegmentHeader, is_last: bool) -> Result<SegmentScan, CorruptAt> {
    let mut s = SegmentScan {
        records: 0,
        seals: 0,
        last_seq: header.first_seq.wrapping_sub(1),
        end: HEADER_LEN,
        batch_start: HEADER_LEN,
        chain: header.prev_chain,
        unsealed: 0,
        torn: None,
    };
    let bad = loop {
        match parse_frame(bytes, s.end) {
            Parsed::End => break None,
            Parsed::Bad(reason) => break Some(reason),
            Parsed::Truncated { .. } => break Some(Corruption::BadLength(crate::format::read_u32(bytes, s.end))),
            Parsed::Frame(f) => {
                match f.kind {
                    FrameKind::Data => accept_data(&mut s, f.seq)?,
                    FrameKind::Seal => accept_seal(&mut s, bytes, f.seq, f.payload(bytes))?,
                }
                s.end += f.total;
            }
        }
    };
    finish_segment(&mut s, bytes, bad, is_last)?;
    Ok(s)
}

fn accept_data(s: &mut SegmentScan, seq: u64) -> Result<(), CorruptAt> {
    let expected = s.last_seq.wrapping_add(1);
    if seq != expected {
        return Err(CorruptAt::new(s.end, Corruption::SeqGap { expected, found: seq }));
    }
    s.last_seq = seq;
    s.records += 1;
    s.unsealed += 1;
    Ok(())
}

fn accept_seal(s: &mut SegmentScan, bytes: &[u8], seq: u64, chain: &[u8]) -> Result<(), CorruptAt> {
    if seq != s.last_seq || s.unsealed == 0 {
        let reason = Corruption::SealMismatch { expected: s.last_seq, found: seq };
        return Err(CorruptAt::new(s.end, reason));
    }
    debug_assert_eq!(chain.len(), CHAIN_LEN);
    let computed = chain_next(&s.chain, &bytes[s.batch_start..s.end]);
    if computed[..] != chain[..] {
        return Err(CorruptAt::new(s.end, Corruption::ChainMismatch));
    }
    s.chain = computed;
    s.batch_start = s.end + crate::format::SEAL_FRAME_LEN;
    s.seals += 1;
    s.unsealed = 0;
    Ok(())
}

/// Decides what the bytes after the last valid frame mean.
fn finish_segment(s: &mut SegmentScan, bytes: &[u8], bad: Option<Corruption>, is_last: bool) -> Result<(), CorruptAt> {
    if is_last {
        s.torn = check_tail(bytes, s.end, s.last_seq, bad)?;
        return Ok(());
    }
    if let Some(reason) = bad {
        return Err(CorruptAt::new(s.end, reason));
    }
    if last_nonzero_end(&bytes[s.end..]).is_some() {
        let reason = Corruption::UnsealedSegment("unexpected bytes after the last frame".into());
        return Err(CorruptAt::new(s.end, reason));
    }
    if s.unsealed != 0 {
        let reason = Corruption::UnsealedSegment(format!("{} records after the last seal", s.unsealed));
        return Err(CorruptAt::new(s.batch_start, reason));
    }
    Ok(())
}

/// Classifies the bytes from `end` (just past the last valid frame) to the end of the last
/// segment: all zeros is a clean end; non-zero bytes with no later valid frame of a larger
/// sequence are a torn tail; a later valid frame means the damage is real corruption.
pub(crate) fn check_tail(
    bytes: &[u8],
    end: usize,
    last_seq: u64,
    bad: Option<Corruption>,
) -> Result<Option<Torn>, CorruptAt> {
    let Some(rel_nz) = last_nonzero_end(&bytes[end..]) else {
        debug_assert!(bad.is_none(), "a bad frame has non-zero bytes");
        return Ok(None);
    };
    let nz_end = end + rel_nz;
    if let Some(next_valid) = find_later_frame(bytes, end, nz_end, last_seq) {
        let damage = bad.unwrap_or(Corruption::ZeroedFrameHeader);
        let reason = Corruption::DamagedBeforeValid { damage: Box::new(damage), next_valid };
        return Err(CorruptAt::new(end, reason));
    }
    Ok(Some(Torn { offset: end, bytes: nz_end - end }))
}

/// Looks for any valid frame after `end` (exclusive) starting before `nz_end` whose sequence is
/// larger than `last_seq`. A cheap plausibility bound on the sequence keeps the search linear
/// even over arbitrary garbage.
pub(crate) fn find_later_frame(bytes: &[u8], end: usize, nz_end: usize, last_seq: u64) -> Option<u64> {
    let max_seq = last_seq.saturating_add((bytes.len() / FRAME_HEADER) as u64 + 1);
    let mut off = end + 8;
    while off < nz_end && off + FRAME_HEADER <= bytes.len() {
        let seq = crate::format::read_u64(bytes, off + 8);
        if seq > last_seq && seq <= max_seq {
            if let Parsed::Frame(_) = parse_frame(bytes, off) {
                return Some(off as u64);
            }
        }
        off += 8;
    }
    None
}

/// Checks how a segment links to its predecessor: file name, index, first sequence and carried
/// chain value. This is what detects a removed, reordered or replaced segment.
pub(crate) fn check_link(
    name_seq: u64,
    header: &SegmentHeader,
    prev: Option<(&SegmentHeader, &SegmentScan)>,
) -> Result<(), CorruptAt> {
    let field = |off: u64, reason: Corruption| Err(CorruptAt { offset: off, reason });
    if header.first_seq != name_seq {
        let msg = format!("file name says first sequence {name_seq}, header says {}", header.first_seq);
        return field(header_field::FIRST_SEQ, Corruption::BadSegmentFile(msg));
    }
    let Some((ph, ps)) = prev else {
        if header.index == 0 && (header.first_seq != 1 || header.prev_chain != [0u8; CHAIN_LEN]) {
            let msg = "segment 0 must start at sequence 1 with a zero chain".to_string();
            return field(header_field::FIRST_SEQ, Corruption::SegmentLink(msg));
        }
        return Ok(());
    };
    if header.index != ph.index + 1 {
        let msg = format!("segment index {} follows {}: a segment is missing or out of order", header.index, ph.index);
        return field(header_field::INDEX, Corruption::SegmentLink(msg));
    }
    if header.first_seq != ps.last_seq + 1 {
        let msg = format!("first sequence {} does not follow {}", header.first_seq, ps.last_seq);
        return field(header_field::FIRST_SEQ, Corruption::SegmentLink(msg));
    }
    if header.prev_chain != ps.chain {
        let msg = "carried chain value differs from the previous segment's last seal".to_string();
        return field(header_field::PREV_CHAIN, Corruption::SegmentLink(msg));
    }
    Ok(())
}

/// Running totals over a directory walk.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub segments: usize,
    pub records: u64,
    pub seals: u64,
    pub first_seq: u64,
    /// The most recently visited segment.
    pub last: Option<Visited>,
}

/// A segment that passed validation.
#[derive(Debug, Clone)]
pub(crate) struct Visited {
    pub path: PathBuf,
    pub header: SegmentHeader,
    pub scan: SegmentScan,
}

impl Walk {
    /// Validates the next segment in order and adds it to the totals.
    pub(crate) fn visit(
        &mut self,
        name_seq: u64,
        path: &Path,
        bytes: &[u8],
        is_last: bool,
    ) -> Result<&Visited, JournalError> {
        let header = SegmentHeader::decode(bytes).map_err(|e| CorruptAt::from(e).in_segment(path))?;
        let prev = self.last.as_ref().map(|v| (&v.header, &v.scan));
        check_link(name_seq, &header, prev).map_err(|e| e.in_segment(path))?;
        let scan = scan_segment(bytes, &header, is_last).map_err(|e| e.in_segment(path))?;
        if self.segments == 0 {
            self.first_seq = header.first_seq;
        }
        self.segments += 1;
        self.records += scan.records;
        self.seals += scan.seals;
        Ok(self.last.insert(Visited { path: path.to_path_buf(), header, scan }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{encode_frame, frame_len, SEAL_FRAME_LEN};

    /// Builds a segment of `size` bytes with `n` records of 20 bytes and one seal after all.
    fn build(size: usize, n: u64, seal: bool) -> (Vec<u8>, SegmentHeader, Vec<usize>) {
        let header = SegmentHeader { index: 0, first_seq: 1, prev_chain: [0; 32] };
        let mut b = vec![0u8; size];
        b[..HEADER_LEN].copy_from_slice(&header.encode());
        let mut pos = HEADER_LEN;
        let mut offs = Vec::new();
        for seq in 1..=n {
            let p = [seq as u8; 20];
            let len = frame_len(p.len());
            encode_frame(&mut b[pos..pos + len], FrameKind::Data, seq, &p);
            offs.push(pos);
            pos += len;
        }
        if seal {
            let chain = chain_next(&header.prev_chain, &b[HEADER_LEN..pos]);
            encode_frame(&mut b[pos..pos + SEAL_FRAME_LEN], FrameKind::Seal, n, &chain);
            offs.push(pos);
        }
        (b, header, offs)
    }

    #[test]
    fn clean_segment() {
        let (b, h, _) = build(4096, 5, true);
        let s = scan_segment(&b, &h, false).expect("valid");
        assert_eq!((s.records, s.seals, s.last_seq, s.unsealed, s.torn), (5, 1, 5, 0, None));
    }

    #[test]
    fn torn_last_record_is_cut_but_middle_damage_is_corruption() {
        let (mut b, h, offs) = build(4096, 5, false);
        b[offs[4] + 17] ^= 0xff;
        let s = scan_segment(&b, &h, true).expect("torn tail");
        assert_eq!(s.last_seq, 4);
        assert_eq!(s.torn.map(|t| t.offset), Some(offs[4]));
        let (mut b, h, offs) = build(4096, 5, false);
        b[offs[2] + 17] ^= 0xff;
        let e = scan_segment(&b, &h, true).expect_err("corrupt");
        assert_eq!(e.offset, offs[2] as u64);
    }

    #[test]
    fn unsealed_closed_segment_is_corrupt() {
        let (b, h, _) = build(4096, 3, false);
        let e = scan_segment(&b, &h, false).expect_err("unsealed");
        assert!(matches!(e.reason, Corruption::UnsealedSegment(_)));
    }

    #[test]
    fn chain_mismatch_names_seal() {
        let (mut b, h, offs) = build(4096, 3, true);
        // Rewrite record 2 with a different payload but a valid checksum: only the chain sees it.
        let len = frame_len(20);
        b[offs[1]..offs[1] + len].fill(0);
        encode_frame(&mut b[offs[1]..offs[1] + len], FrameKind::Data, 2, &[0xAA; 20]);
        let e = scan_segment(&b, &h, true).expect_err("chain");
        assert_eq!(e, CorruptAt::new(offs[3], Corruption::ChainMismatch));
    }
}
