//! Torn tails are cut; everything else that is damaged is reported with file and offset.

use crate::common::*;
use croupier_journal::{verify, Corruption, Durability, Journal, JournalError, JournalReader};
use std::path::{Path, PathBuf};

/// Fixed-size records make offsets computable: 40-byte payload = 56-byte frame, seals are 48.
const FRAME: u64 = 56;
const SEAL: u64 = 48;
const HEADER: u64 = 72;
const BATCH: u64 = 10;

fn fixed(seq: u64) -> Vec<u8> {
    (0..40).map(|i| (seq as u8).wrapping_mul(7).wrapping_add(i) | 1).collect()
}

/// Offset of record `seq` in the first segment.
fn record_off(seq: u64) -> u64 {
    HEADER + (seq - 1) * FRAME + ((seq - 1) / BATCH) * SEAL
}

/// Offset of the seal closing batch `k` (1-based) in the first segment.
fn seal_off(k: u64) -> u64 {
    HEADER + k * BATCH * FRAME + (k - 1) * SEAL
}

fn write_fixed(dir: &Path, n: u64) {
    let mut j = open(dir);
    for seq in 1..=n {
        j.append(&fixed(seq)).expect("append");
        if seq.is_multiple_of(BATCH) {
            j.commit().expect("commit");
        }
    }
    j.commit().expect("commit");
}

fn expect_corrupt(r: Result<impl std::fmt::Debug, JournalError>, seg: &Path, off: u64) -> Corruption {
    match r {
        Err(JournalError::Corrupt { segment, offset, reason }) => {
            assert_eq!((segment.as_path(), offset), (seg, off), "reason: {reason}");
            reason
        }
        other => panic!("expected Corrupt at {}:{off}, got {other:?}", seg.display()),
    }
}

fn open_result(dir: &Path) -> Result<(), JournalError> {
    Journal::open(cfg(dir, Durability::Process)).map(|_| ())
}

#[test]
fn every_torn_length_of_the_last_record_is_cut() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let pristine = tmp.path().join("pristine");
    let n = 25u64;
    {
        let mut j = open(&pristine);
        for seq in 1..n {
            j.append(&fixed(seq)).expect("append");
        }
        j.commit().expect("commit");
        // The crash comes after the last append, before its seal.
        j.append(&[0xA5u8; 48]).expect("append last");
    }
    let seg_name: PathBuf = segments(&pristine)[0].file_name().expect("name").into();
    let last_frame = 16 + 48u64;
    // Records 1..n-1, one seal, then the torn record.
    let start = HEADER + (n - 1) * FRAME + SEAL;
    for k in 0..last_frame {
        let dir = tmp.path().join(format!("cut{k}"));
        copy_dir(&pristine, &dir);
        let seg = dir.join(&seg_name);
        let mut b = std::fs::read(&seg).expect("read");
        assert!(b[(start + last_frame) as usize..].iter().all(|&x| x == 0), "layout as expected");
        b[(start + k) as usize..(start + last_frame) as usize].fill(0);
        std::fs::write(&seg, &b).expect("write");

        if k > 0 {
            let v = verify(&dir).expect("verify sees a torn tail, not corruption");
            assert_eq!(v.torn_tail.as_ref().map(|t| t.offset), Some(start));
        }
        let (mut j, report) = Journal::open(cfg(&dir, Durability::Process)).expect("open cuts the tail");
        assert_eq!(report.last_seq, n - 1, "k={k}");
        match (&report.cut, k) {
            (None, 0) => {}
            (Some(cut), _) => {
                assert_eq!((cut.segment.as_path(), cut.offset), (seg.as_path(), start));
                assert!(cut.bytes > 0 && cut.bytes <= k, "k={k} cut {}", cut.bytes);
            }
            (None, _) => panic!("k={k}: nothing reported cut"),
        }
        assert_eq!(j.append(b"after").expect("append"), n);
        j.commit().expect("commit");
        drop(j);
        let r = JournalReader::open(&dir).expect("reader");
        let recs: Vec<(u64, Vec<u8>)> =
            r.iter().map(|x| x.map(|x| (x.seq, x.payload.to_vec())).expect("record")).collect();
        assert_eq!(recs.len() as u64, n);
        for (seq, p) in &recs[..(n - 1) as usize] {
            assert_eq!(p, &fixed(*seq));
        }
        assert_eq!(recs[(n - 1) as usize], (n, b"after".to_vec()));
        let v = verify(&dir).expect("verify after repair");
        assert!(v.torn_tail.is_none());
    }
}

#[test]
fn torn_seal_keeps_records_unsealed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_fixed(tmp.path(), 20);
    let seg = &segments(tmp.path())[0];
    let off = seal_off(2);
    for k in [1u64, 10, 47] {
        let dir = tmp.path().join(format!("s{k}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let copy = dir.join(seg.file_name().expect("name"));
        let mut b = std::fs::read(seg).expect("read");
        b[(off + k) as usize..(off + SEAL) as usize].fill(0);
        std::fs::write(&copy, &b).expect("write");
        let (_, report) = Journal::open(cfg(&dir, Durability::Process)).expect("open");
        assert_eq!((report.last_seq, report.unsealed_records), (20, 10));
        assert_eq!(report.cut.as_ref().map(|c| c.offset), Some(off));
    }
}

#[test]
fn flipped_bit_mid_segment_is_corruption() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_fixed(tmp.path(), 3000);
    let segs = segments(tmp.path());
    assert!(segs.len() >= 3);
    // In the last segment (valid records follow) and in a closed one.
    for seg in [segs.last().expect("last"), &segs[0]] {
        let dir = tmp.path().join("copy");
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(tmp.path(), &dir);
        let target = dir.join(seg.file_name().expect("name"));
        // Record 5 of the segment, a payload byte.
        let rec = record_off(5);
        flip_bit(&target, rec + 20, 3);
        let reason = expect_corrupt(open_result(&dir), &target, rec);
        assert!(matches!(reason, Corruption::DamagedBeforeValid { .. } | Corruption::RecordChecksum), "{reason}");
        expect_corrupt(verify(&dir), &target, rec);
        let r = JournalReader::open(&dir).expect("reader");
        assert!(r.iter().any(|x| x.is_err()), "reader reports it too");
    }
}

#[test]
fn flipped_bit_in_seal_names_the_seal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_fixed(tmp.path(), 100);
    let seg = &segments(tmp.path())[0];
    for (k, byte) in [(1u64, 0u64), (3, 5), (4, 9), (5, 30), (9, 47)] {
        let dir = tmp.path().join(format!("seal{k}-{byte}"));
        copy_dir(tmp.path(), &dir);
        let target = dir.join(seg.file_name().expect("name"));
        flip_bit(&target, seal_off(k) + byte, 0);
        expect_corrupt(verify(&dir), &target, seal_off(k));
        expect_corrupt(open_result(&dir), &target, seal_off(k));
    }
}

#[test]
fn rewritten_record_with_valid_crc_breaks_the_chain() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_fixed(tmp.path(), 30);
    let seg = &segments(tmp.path())[0];
    let mut b = std::fs::read(seg).expect("read");
    let off = record_off(13) as usize;
    b[off + 16] ^= 0xFF;
    let mut crc = crc32c::crc32c(&b[off..off + 4]);
    crc = crc32c::crc32c_append(crc, &b[off + 8..off + 16]);
    crc = crc32c::crc32c_append(crc, &b[off + 16..off + 56]);
    b[off + 4..off + 8].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(seg, &b).expect("write");
    let reason = expect_corrupt(verify(tmp.path()), seg, seal_off(2));
    assert_eq!(reason, Corruption::ChainMismatch);
    expect_corrupt(open_result(tmp.path()), seg, seal_off(2));
}

#[test]
fn removed_or_swapped_segment_is_detected() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_fixed(tmp.path(), 4000);
    let segs = segments(tmp.path());
    assert!(segs.len() >= 4);

    let dir = tmp.path().join("removed");
    copy_dir(tmp.path(), &dir);
    std::fs::remove_file(dir.join(segs[1].file_name().expect("name"))).expect("remove");
    let after = dir.join(segs[2].file_name().expect("name"));
    let reason = expect_corrupt(verify(&dir), &after, 16);
    assert!(matches!(reason, Corruption::SegmentLink(_)), "{reason}");
    expect_corrupt(open_result(&dir), &after, 16);
    assert!(JournalReader::open(&dir).is_err());

    let dir = tmp.path().join("swapped");
    copy_dir(tmp.path(), &dir);
    let (a, b) = (dir.join(segs[1].file_name().expect("a")), dir.join(segs[2].file_name().expect("b")));
    let tmpname = dir.join("x");
    std::fs::rename(&a, &tmpname).expect("rename");
    std::fs::rename(&b, &a).expect("rename");
    std::fs::rename(&tmpname, &b).expect("rename");
    expect_corrupt(verify(&dir), &a, 24);
    expect_corrupt(open_result(&dir), &a, 24);
}

#[test]
fn archived_prefix_still_verifies_and_reports_unavailable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    write_fixed(tmp.path(), 3000);
    let segs = segments(tmp.path());
    std::fs::remove_file(&segs[0]).expect("archive first");
    let v = verify(tmp.path()).expect("verify");
    assert!(v.first_seq > 1);
    let r = JournalReader::open(tmp.path()).expect("reader");
    assert!(matches!(r.iter_from(1).next(), Some(Err(JournalError::SeqUnavailable { .. }))));
    assert_eq!(r.iter_from(v.first_seq).count() as u64, 3000 - v.first_seq + 1);
}
