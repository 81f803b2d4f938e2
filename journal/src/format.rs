//! On-disk format: segment header, record frames, checksums and the hash chain.
//!
//! Segment file layout (all integers little-endian):
//!
//! ```text
//! header (72 bytes):
//!   0..8    magic "CROUPJNL"
//!   8..12   format version (1)
//!   12..16  header length (72): records start here
//!   16..24  segment index (0, 1, 2, ... without gaps)
//!   24..32  sequence number of the first record in this segment
//!   32..64  hash-chain value carried in from the previous segment (zeros for segment 0)
//!   64..68  crc32c of bytes 0..64
//!   68..72  reserved, zero
//! frames, each 8-byte aligned:
//!   0..4    len word: payload length in bits 0..31; bit 31 set = SEAL frame
//!   4..8    crc32c over (len word, seq, payload)
//!   8..16   seq: data frames carry their own sequence number; a seal carries the sequence of
//!           the last record it closes
//!   16..    payload, then zero padding up to the next multiple of 8
//! ```
//!
//! A seal's payload is the 32-byte chain value
//! `sha256(previous chain || every byte from the end of the previous seal (or the header) up to
//! this seal)`. Hashing whole byte ranges once per batch keeps `append` free of sha256.
//! An all-zero frame header marks the end of the written area: the file is preallocated with
//! zeros and a valid frame always has a non-zero sequence number.

use crate::error::Corruption;
use sha2::{Digest, Sha256};

/// Magic bytes at the start of every segment.
pub(crate) const MAGIC: [u8; 8] = *b"CROUPJNL";
/// Current format version.
pub(crate) const VERSION: u32 = 1;
/// Size of the segment header; the first frame starts here.
pub const HEADER_LEN: usize = 72;
/// Size of a frame header (len, crc, seq).
pub(crate) const FRAME_HEADER: usize = 16;
/// Bit in the len word that marks a seal frame.
pub(crate) const SEAL_FLAG: u32 = 1 << 31;
/// Length of a hash-chain value.
pub const CHAIN_LEN: usize = 32;
/// Total size of a seal frame (header + chain value, already aligned).
pub(crate) const SEAL_FRAME_LEN: usize = FRAME_HEADER + CHAIN_LEN;
/// Largest payload the 31-bit length field can describe.
pub(crate) const MAX_LEN_FIELD: usize = (SEAL_FLAG - 1) as usize;

/// A hash-chain value.
pub type ChainValue = [u8; CHAIN_LEN];

/// Rounds `n` up to the frame alignment of 8 bytes.
#[inline]
pub(crate) const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Bytes a frame with a payload of `payload_len` occupies, padding included.
#[inline]
pub(crate) const fn frame_len(payload_len: usize) -> usize {
    align8(FRAME_HEADER + payload_len)
}

/// The decoded segment header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentHeader {
    pub index: u64,
    pub first_seq: u64,
    pub prev_chain: ChainValue,
}

impl SegmentHeader {
    /// Serializes the header, checksum included.
    pub(crate) fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&MAGIC);
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.index.to_le_bytes());
        b[24..32].copy_from_slice(&self.first_seq.to_le_bytes());
        b[32..64].copy_from_slice(&self.prev_chain);
        let crc = crc32c::crc32c(&b[0..64]);
        b[64..68].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Parses and checks a header; the error carries the offset of the offending field.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, (u64, Corruption)> {
        if bytes.len() < HEADER_LEN {
            return Err((0, Corruption::BadSegmentFile(format!("only {} bytes", bytes.len()))));
        }
        if bytes[0..8] != MAGIC {
            return Err((0, Corruption::BadMagic));
        }
        let version = read_u32(bytes, 8);
        if version != VERSION {
            return Err((8, Corruption::UnsupportedVersion(version)));
        }
        if read_u32(bytes, 64) != crc32c::crc32c(&bytes[0..64]) {
            return Err((64, Corruption::HeaderChecksum));
        }
        let header_len = read_u32(bytes, 12) as usize;
        if header_len != HEADER_LEN {
            return Err((12, Corruption::BadSegmentFile(format!("header length {header_len}"))));
        }
        let mut prev_chain = [0u8; CHAIN_LEN];
        prev_chain.copy_from_slice(&bytes[32..64]);
        Ok(SegmentHeader { index: read_u64(bytes, 16), first_seq: read_u64(bytes, 24), prev_chain })
    }
}

/// Offsets of header fields, used to point errors at the exact bytes.
pub(crate) mod header_field {
    pub const INDEX: u64 = 16;
    pub const FIRST_SEQ: u64 = 24;
    pub const PREV_CHAIN: u64 = 32;
}

#[inline]
pub(crate) fn read_u32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(a)
}

#[inline]
pub(crate) fn read_u64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// What kind of frame this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Data,
    Seal,
}

/// A frame whose checksum matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub kind: FrameKind,
    pub seq: u64,
    /// Offset of the payload in the buffer that was parsed.
    pub payload_start: usize,
    pub payload_len: usize,
    /// Bytes the whole frame occupies, padding included.
    pub total: usize,
}

impl Frame {
    pub(crate) fn payload<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.payload_start..self.payload_start + self.payload_len]
    }
}

/// Outcome of looking at the bytes at one offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// A valid frame.
    Frame(Frame),
    /// Unwritten space: the frame header is all zeros, or fewer than a header's bytes remain.
    End,
    /// The frame claims more bytes than the buffer holds (a live reader may read more).
    Truncated { needed: usize },
    /// Something is there but it is not a valid frame.
    Bad(Corruption),
}

/// Checksum of a frame: covers the len word, the sequence number and the payload.
#[inline]
pub(crate) fn frame_crc(len_word: u32, seq: u64, payload: &[u8]) -> u32 {
    let mut head = [0u8; 12];
    head[0..4].copy_from_slice(&len_word.to_le_bytes());
    head[4..12].copy_from_slice(&seq.to_le_bytes());
    crc32c::crc32c_append(crc32c::crc32c(&head), payload)
}

/// Parses the frame at `off` in `buf`.
pub(crate) fn parse_frame(buf: &[u8], off: usize) -> Parsed {
    debug_assert_eq!(off % 8, 0, "frames are 8-byte aligned");
    if off + FRAME_HEADER > buf.len() {
        return Parsed::End;
    }
    let head = &buf[off..off + FRAME_HEADER];
    if head.iter().all(|&b| b == 0) {
        return Parsed::End;
    }
    let len_word = read_u32(head, 0);
    let kind = if len_word & SEAL_FLAG != 0 { FrameKind::Seal } else { FrameKind::Data };
    let payload_len = (len_word & !SEAL_FLAG) as usize;
    if kind == FrameKind::Seal && payload_len != CHAIN_LEN {
        return Parsed::Bad(Corruption::BadLength(len_word));
    }
    let total = frame_len(payload_len);
    if off + total > buf.len() {
        return Parsed::Truncated { needed: off + total };
    }
    let seq = read_u64(head, 8);
    let payload_start = off + FRAME_HEADER;
    let payload = &buf[payload_start..payload_start + payload_len];
    if frame_crc(len_word, seq, payload) != read_u32(head, 4) {
        return Parsed::Bad(Corruption::RecordChecksum);
    }
    Parsed::Frame(Frame { kind, seq, payload_start, payload_len, total })
}

/// Writes a complete frame into `dst`, which must be exactly `frame_len(payload.len())` bytes of
/// zeroed space. Payload first, header last, so the header only describes bytes already copied.
#[inline]
pub(crate) fn encode_frame(dst: &mut [u8], kind: FrameKind, seq: u64, payload: &[u8]) {
    debug_assert_eq!(dst.len(), frame_len(payload.len()));
    debug_assert!(payload.len() <= MAX_LEN_FIELD);
    debug_assert!(dst[FRAME_HEADER + payload.len()..].iter().all(|&b| b == 0), "padding is zero");
    let len_word = match kind {
        FrameKind::Data => payload.len() as u32,
        FrameKind::Seal => payload.len() as u32 | SEAL_FLAG,
    };
    dst[FRAME_HEADER..FRAME_HEADER + payload.len()].copy_from_slice(payload);
    let crc = frame_crc(len_word, seq, payload);
    dst[8..16].copy_from_slice(&seq.to_le_bytes());
    dst[4..8].copy_from_slice(&crc.to_le_bytes());
    dst[0..4].copy_from_slice(&len_word.to_le_bytes());
}

/// Next chain value: `sha256(prev || sealed_bytes)`.
pub(crate) fn chain_next(prev: &ChainValue, sealed_bytes: &[u8]) -> ChainValue {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(sealed_bytes);
    h.finalize().into()
}

/// Index one past the last non-zero byte of `buf`, if any byte is non-zero.
///
/// Scans from the end in 4 KiB blocks so a mostly empty 64 MiB segment is checked quickly.
pub(crate) fn last_nonzero_end(buf: &[u8]) -> Option<usize> {
    const BLOCK: usize = 4096;
    let mut end = buf.len();
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        let block = &buf[start..end];
        if block.iter().fold(0u8, |acc, &b| acc | b) != 0 {
            return block.iter().rposition(|&b| b != 0).map(|i| start + i + 1);
        }
        end = start;
    }
    None
}

/// Renders a chain value as lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_checksum() {
        let h = SegmentHeader { index: 7, first_seq: 1234, prev_chain: [9u8; 32] };
        let mut b = h.encode();
        assert_eq!(SegmentHeader::decode(&b), Ok(h));
        b[20] ^= 1;
        assert_eq!(SegmentHeader::decode(&b), Err((64, Corruption::HeaderChecksum)));
    }

    #[test]
    fn frame_round_trip_and_detection() {
        let payload = b"hello journal";
        let mut buf = vec![0u8; frame_len(payload.len()) + 16];
        let n = frame_len(payload.len());
        encode_frame(&mut buf[..n], FrameKind::Data, 42, payload);
        let Parsed::Frame(f) = parse_frame(&buf, 0) else { panic!("frame expected") };
        assert_eq!((f.kind, f.seq, f.payload(&buf), f.total), (FrameKind::Data, 42, &payload[..], n));
        assert_eq!(parse_frame(&buf, n), Parsed::End);
        for bit in 0..(FRAME_HEADER + payload.len()) * 8 {
            let mut c = buf.clone();
            c[bit / 8] ^= 1 << (bit % 8);
            assert!(!matches!(parse_frame(&c, 0), Parsed::Frame(_)), "bit {bit} undetected");
        }
    }

    #[test]
    fn seal_frame_and_truncation() {
        let mut buf = vec![0u8; SEAL_FRAME_LEN];
        encode_frame(&mut buf, FrameKind::Seal, 5, &[1u8; CHAIN_LEN]);
        assert!(matches!(parse_frame(&buf, 0), Parsed::Frame(Frame { kind: FrameKind::Seal, seq: 5, .. })));
        assert!(matches!(parse_frame(&buf[..40], 0), Parsed::Truncated { needed: 48 }));
    }

    #[test]
    fn last_nonzero() {
        let mut b = vec![0u8; 10_000];
        assert_eq!(last_nonzero_end(&b), None);
        b[5000] = 1;
        assert_eq!(last_nonzero_end(&b), Some(5001));
        b[9999] = 1;
        assert_eq!(last_nonzero_end(&b), Some(10_000));
    }
}
