//! Behaviour of `SnapshotStore` against a real directory.

use std::fs::{self, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use croupier_snapshots::{SnapshotError, SnapshotHeader, SnapshotInfo, SnapshotStore, FORMAT_VERSION, HEADER_LEN};

fn header(shard: u32, position: u64) -> SnapshotHeader {
    let mut digest = [0u8; 32];
    digest[..8].copy_from_slice(&position.to_le_bytes());
    digest[31] = shard as u8;
    SnapshotHeader { shard, position, digest }
}

fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn store() -> (tempfile::TempDir, SnapshotStore) {
    let tmp = tempfile::tempdir().unwrap();
    let store = SnapshotStore::open(tmp.path().join("snaps")).unwrap();
    (tmp, store)
}

fn flip_bit(path: &Path, offset: usize, bit: u8) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset] ^= 1 << bit;
    fs::write(path, bytes).unwrap();
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

fn temp_file(store: &SnapshotStore, shard: u32, position: u64) -> PathBuf {
    let p = store.dir().join(format!(".shard-{shard:04}-{position:020}.snap.tmp-4242-0"));
    fs::write(&p, b"half-written garbage").unwrap();
    p
}

#[test]
fn open_creates_the_directory_and_rejects_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("b");
    let s = SnapshotStore::open(&dir).unwrap();
    assert!(dir.is_dir());
    assert_eq!(s.dir(), dir);

    let file = tmp.path().join("plain");
    fs::write(&file, b"x").unwrap();
    let err = SnapshotStore::open(&file).unwrap_err();
    assert!(matches!(err, SnapshotError::NotADirectory { .. } | SnapshotError::Io { .. }), "{err}");
}

#[test]
fn round_trip() {
    let (_tmp, s) = store();
    let h = header(3, 1234);
    let data = payload(1, 10_000);
    let info = s.write(&h, &data).unwrap();
    assert_eq!(
        info,
        SnapshotInfo {
            path: s.dir().join("shard-0003-00000000000000001234.snap"),
            shard: 3,
            position: 1234,
            bytes: (HEADER_LEN + data.len()) as u64,
        }
    );
    assert_eq!(info.path, s.path_for(3, 1234));
    assert_eq!(fs::metadata(&info.path).unwrap().len(), info.bytes);

    let (h2, data2) = s.load(&info.path).unwrap();
    assert_eq!(h2, h);
    assert_eq!(data2, data);

    // Only the final file remains: no temp files.
    assert_eq!(file_names(s.dir()), vec!["shard-0003-00000000000000001234.snap"]);
}

#[test]
fn empty_payload_round_trips() {
    let (_tmp, s) = store();
    let info = s.write(&header(0, 0), &[]).unwrap();
    assert_eq!(info.bytes, HEADER_LEN as u64);
    let (h, data) = s.load(&info.path).unwrap();
    assert_eq!(h, header(0, 0));
    assert!(data.is_empty());
}

#[test]
fn streaming_write_matches_in_memory_write() {
    let (_tmp, s) = store();
    let data = payload(2, 3 * 1024 * 1024 + 17);

    // Many small writes through the caller's own BufWriter, as a serializer would do.
    let info = s
        .write_with(&header(1, 50), None, |w| {
            let mut bw = BufWriter::with_capacity(4096, w);
            for chunk in data.chunks(1000) {
                bw.write_all(chunk)?;
            }
            bw.flush()
        })
        .unwrap();
    assert_eq!(info.bytes, (HEADER_LEN + data.len()) as u64);
    let (h, got) = s.load(&info.path).unwrap();
    assert_eq!(h, header(1, 50));
    assert_eq!(got, data);

    // Byte-identical to the non-streaming write of the same snapshot.
    let streamed = fs::read(&info.path).unwrap();
    s.write(&header(1, 50), &data).unwrap();
    assert_eq!(fs::read(&info.path).unwrap(), streamed);

    // With a correct hint it succeeds too.
    s.write_with(&header(1, 51), Some(data.len() as u64), |w| w.write_all(&data)).unwrap();
}

#[test]
fn streaming_write_failure_commits_nothing_and_leaves_no_temp() {
    let (_tmp, s) = store();
    s.write(&header(1, 10), b"old").unwrap();

    let err = s
        .write_with(&header(1, 10), None, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("serializer failed"))
        })
        .unwrap_err();
    assert!(matches!(err, SnapshotError::Io { .. }), "{err}");
    assert!(err.to_string().contains("serializer failed"), "{err}");

    let err = s.write_with(&header(1, 20), Some(100), |w| w.write_all(&[7; 99])).unwrap_err();
    assert!(matches!(err, SnapshotError::LengthMismatch { expected: 100, actual: 99, .. }), "{err}");

    // The existing snapshot is untouched, nothing else exists.
    assert_eq!(file_names(s.dir()), vec!["shard-0001-00000000000000000010.snap"]);
    assert_eq!(s.load(s.path_for(1, 10)).unwrap().1, b"old");
}

#[test]
fn list_is_sorted_by_shard_then_position_and_filters() {
    let (_tmp, s) = store();
    for (shard, pos) in [(2, 5), (0, 100), (1, 7), (0, 9), (10, 1), (1, 1_000_000), (0, 10)] {
        s.write(&header(shard, pos), &payload(pos, pos as usize % 50)).unwrap();
    }
    // Foreign files and temp files are ignored.
    fs::write(s.dir().join("README"), b"hi").unwrap();
    fs::write(s.dir().join("shard-1-2.snap"), b"not canonical").unwrap();
    temp_file(&s, 0, 11);

    let all: Vec<(u32, u64)> = s.list(None).unwrap().iter().map(|i| (i.shard, i.position)).collect();
    assert_eq!(all, vec![(0, 9), (0, 10), (0, 100), (1, 7), (1, 1_000_000), (2, 5), (10, 1)]);

    let zero = s.list(Some(0)).unwrap();
    assert_eq!(zero.iter().map(|i| i.position).collect::<Vec<_>>(), vec![9, 10, 100]);
    for i in &zero {
        assert_eq!(i.bytes, fs::metadata(&i.path).unwrap().len());
        assert_eq!(i.path, s.path_for(0, i.position));
    }
    assert!(s.list(Some(99)).unwrap().is_empty());
}

#[test]
fn list_reports_a_corrupt_header_by_name() {
    let (_tmp, s) = store();
    s.write(&header(0, 1), b"a").unwrap();
    let bad = s.write(&header(0, 2), b"b").unwrap();
    flip_bit(&bad.path, 20, 3);
    let err = s.list(Some(0)).unwrap_err();
    assert!(matches!(err, SnapshotError::HeaderChecksum { .. }), "{err}");
    assert!(err.to_string().contains("shard-0000-00000000000000000002.snap"), "{err}");
    // Other shards are unaffected.
    assert!(s.list(Some(1)).unwrap().is_empty());
}

#[test]
fn flipped_payload_bit_is_a_payload_checksum_error() {
    let (_tmp, s) = store();
    let info = s.write(&header(4, 40), &payload(3, 4096)).unwrap();
    flip_bit(&info.path, HEADER_LEN + 2000, 5);

    // The header is intact, so list still accepts it (it does not read payloads) ...
    assert_eq!(s.list(Some(4)).unwrap().len(), 1);
    // ... but load does not.
    let err = s.load(&info.path).unwrap_err();
    assert!(matches!(err, SnapshotError::PayloadChecksum { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("payload checksum mismatch"), "{msg}");
    assert!(msg.contains("shard-0004-00000000000000000040.snap"), "{msg}");
}

#[test]
fn flipped_header_bit_is_a_header_checksum_error() {
    let (_tmp, s) = store();
    let info = s.write(&header(4, 40), &payload(3, 100)).unwrap();
    // A bit of the digest.
    flip_bit(&info.path, 30, 0);
    let err = s.load(&info.path).unwrap_err();
    assert!(matches!(err, SnapshotError::HeaderChecksum { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("header checksum mismatch"), "{msg}");
    assert!(msg.contains("shard-0004-00000000000000000040.snap"), "{msg}");

    // A bit of the stored payload length: still the header checksum, not a bogus size error.
    let info = s.write(&header(4, 41), &payload(3, 100)).unwrap();
    flip_bit(&info.path, 57, 1);
    let err = s.load(&info.path).unwrap_err();
    assert!(matches!(err, SnapshotError::HeaderChecksum { .. }), "{err}");
}

#[test]
fn bad_magic_and_unsupported_version_are_named() {
    let (_tmp, s) = store();
    let info = s.write(&header(0, 1), b"payload").unwrap();
    flip_bit(&info.path, 0, 0);
    let err = s.load(&info.path).unwrap_err();
    assert!(matches!(err, SnapshotError::BadMagic { .. }), "{err}");
    assert!(err.to_string().contains("bad magic"), "{err}");

    let info = s.write(&header(0, 2), b"payload").unwrap();
    let mut bytes = fs::read(&info.path).unwrap();
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    fs::write(&info.path, bytes).unwrap();
    let err = s.load(&info.path).unwrap_err();
    let (found, supported) = (FORMAT_VERSION + 1, FORMAT_VERSION);
    assert!(
        matches!(err, SnapshotError::UnsupportedVersion { found: f, supported: s, .. } if f == found && s == supported),
        "{err}"
    );
    assert!(err.to_string().contains(&format!("unsupported snapshot format version {found}")));
}

#[test]
fn truncated_and_overlong_files_are_detected() {
    let (_tmp, s) = store();
    let data = payload(5, 1000);
    let full = (HEADER_LEN + data.len()) as u64;

    // Payload cut short.
    let info = s.write(&header(2, 1), &data).unwrap();
    OpenOptions::new().write(true).open(&info.path).unwrap().set_len(full - 1).unwrap();
    let err = s.load(&info.path).unwrap_err();
    assert!(
        matches!(err, SnapshotError::Truncated { expected, actual, .. }
            if expected == full && actual == full - 1),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
    // list checks sizes too.
    assert!(matches!(s.list(Some(2)).unwrap_err(), SnapshotError::Truncated { .. }));

    // Cut inside the header.
    let info = s.write(&header(2, 2), &data).unwrap();
    OpenOptions::new().write(true).open(&info.path).unwrap().set_len(10).unwrap();
    let err = s.load(&info.path).unwrap_err();
    assert!(
        matches!(err, SnapshotError::Truncated { expected, actual: 10, .. }
            if expected == HEADER_LEN as u64),
        "{err}"
    );

    // Empty file.
    let info = s.write(&header(2, 3), &data).unwrap();
    fs::write(&info.path, b"").unwrap();
    assert!(matches!(s.load(&info.path).unwrap_err(), SnapshotError::Truncated { actual: 0, .. }));

    // Extra bytes appended.
    let info = s.write(&header(2, 4), &data).unwrap();
    OpenOptions::new().append(true).open(&info.path).unwrap().write_all(b"!").unwrap();
    let err = s.load(&info.path).unwrap_err();
    assert!(matches!(err, SnapshotError::TrailingBytes { .. }), "{err}");
}

#[test]
fn load_newest_valid_skips_corrupt_newer_snapshots() {
    let (_tmp, s) = store();
    assert!(s.load_newest_valid(0).unwrap().is_none());

    let good = payload(10, 500);
    s.write(&header(0, 10), b"oldest").unwrap();
    let older = s.write(&header(0, 20), &good).unwrap();
    let newer = s.write(&header(0, 30), &payload(11, 500)).unwrap();
    let newest = s.write(&header(0, 40), &payload(12, 500)).unwrap();
    // Another shard's newer snapshot must not be considered.
    s.write(&header(1, 99), b"other shard").unwrap();
    temp_file(&s, 0, 50);

    flip_bit(&newest.path, HEADER_LEN + 7, 2);
    fs::write(&newer.path, b"").unwrap();

    let loaded = s.load_newest_valid(0).unwrap().unwrap();
    assert_eq!(loaded.header, header(0, 20));
    assert_eq!(loaded.payload, good);
    assert_eq!(loaded.path, older.path);
    assert_eq!(loaded.skipped.len(), 2);
    assert_eq!(loaded.skipped[0].0, newest.path);
    assert!(matches!(loaded.skipped[0].1, SnapshotError::PayloadChecksum { .. }));
    assert_eq!(loaded.skipped[1].0, newer.path);
    assert!(matches!(loaded.skipped[1].1, SnapshotError::Truncated { .. }));

    // When the newest is fine nothing is skipped.
    let loaded = s.load_newest_valid(1).unwrap().unwrap();
    assert_eq!(loaded.payload, b"other shard");
    assert!(loaded.skipped.is_empty());
}

#[test]
fn load_newest_valid_returns_none_when_nothing_is_valid() {
    let (_tmp, s) = store();
    let a = s.write(&header(0, 1), b"a").unwrap();
    let b = s.write(&header(0, 2), b"b").unwrap();
    flip_bit(&a.path, HEADER_LEN, 0);
    flip_bit(&b.path, 1, 0);
    assert!(s.load_newest_valid(0).unwrap().is_none());
}

#[test]
fn a_renamed_snapshot_is_rejected_by_name_mismatch() {
    let (_tmp, s) = store();
    let real = s.write(&header(0, 5), b"state at 5").unwrap();
    // Someone copies it under a newer name: restoring from it would skip journal records.
    fs::copy(&real.path, s.path_for(0, 9)).unwrap();

    let loaded = s.load_newest_valid(0).unwrap().unwrap();
    assert_eq!(loaded.header.position, 5);
    assert_eq!(loaded.skipped.len(), 1);
    assert!(
        matches!(loaded.skipped[0].1, SnapshotError::NameMismatch { name_position: 9, header_position: 5, .. }),
        "{}",
        loaded.skipped[0].1
    );
    assert!(matches!(s.list(Some(0)).unwrap_err(), SnapshotError::NameMismatch { .. }));
}

#[test]
fn prune_keeps_the_newest_n() {
    let (_tmp, s) = store();
    for pos in 1..=5 {
        s.write(&header(0, pos), &payload(pos, 64)).unwrap();
        s.write(&header(1, pos), &payload(pos, 64)).unwrap();
    }
    let removed = s.prune(0, 2).unwrap();
    assert_eq!(removed, vec![s.path_for(0, 1), s.path_for(0, 2), s.path_for(0, 3)]);
    let left: Vec<u64> = s.list(Some(0)).unwrap().iter().map(|i| i.position).collect();
    assert_eq!(left, vec![4, 5]);
    // Other shards untouched.
    assert_eq!(s.list(Some(1)).unwrap().len(), 5);

    // Keeping more than exist removes nothing.
    assert!(s.prune(0, 10).unwrap().is_empty());

    // keep == 0 still keeps the newest valid one.
    assert_eq!(s.prune(0, 0).unwrap(), vec![s.path_for(0, 4)]);
    assert_eq!(s.list(Some(0)).unwrap()[0].position, 5);
}

#[test]
fn prune_never_removes_the_newest_valid_snapshot() {
    let (_tmp, s) = store();
    for pos in 1..=4 {
        s.write(&header(0, pos), &payload(pos, 64)).unwrap();
    }
    // The two newest are corrupt; the newest valid is position 2.
    flip_bit(&s.path_for(0, 4), HEADER_LEN + 1, 0);
    flip_bit(&s.path_for(0, 3), 40, 0);

    let removed = s.prune(0, 1).unwrap();
    assert_eq!(removed, vec![s.path_for(0, 1), s.path_for(0, 3)]);
    assert_eq!(
        file_names(s.dir()),
        vec!["shard-0000-00000000000000000002.snap", "shard-0000-00000000000000000004.snap"]
    );
    assert_eq!(s.load_newest_valid(0).unwrap().unwrap().header.position, 2);
}

#[test]
fn leftover_temp_file_is_ignored_and_then_pruned() {
    let (_tmp, s) = store();
    s.write(&header(0, 1), b"one").unwrap();
    let temp0 = temp_file(&s, 0, 2);
    let temp1 = temp_file(&s, 1, 2);

    // Invisible to list and load.
    assert_eq!(s.list(None).unwrap().len(), 1);
    let loaded = s.load_newest_valid(0).unwrap().unwrap();
    assert_eq!(loaded.header.position, 1);
    assert!(loaded.skipped.is_empty());

    // Pruning shard 0 removes its temp file but not shard 1's nor the snapshot.
    let removed = s.prune(0, 1).unwrap();
    assert_eq!(removed, vec![temp0.clone()]);
    assert!(!temp0.exists());
    assert!(temp1.exists());
    assert!(s.path_for(0, 1).exists());

    assert_eq!(s.prune(1, 1).unwrap(), vec![temp1]);
    assert_eq!(file_names(s.dir()), vec!["shard-0000-00000000000000000001.snap"]);
}

#[test]
fn prune_leaves_a_write_in_flight_alone() {
    let (_tmp, s) = store();
    s.write(&header(0, 1), b"one").unwrap();
    let s2 = s.clone();
    let info = s
        .write_with(&header(0, 2), None, |w| {
            w.write_all(b"first half ")?;
            // The temp file of this very write exists now; a concurrent prune must spare it.
            let removed = s2.prune(0, 0).map_err(|e| io::Error::other(e.to_string()))?;
            assert!(removed.is_empty(), "{removed:?}");
            w.write_all(b"second half")
        })
        .unwrap();
    assert_eq!(s.load(&info.path).unwrap().1, b"first half second half");
}
