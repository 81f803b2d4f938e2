//! Helpers shared by the integration tests.
#![allow(dead_code)]

use croupier_journal::{Durability, Journal, JournalConfig, JournalReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const SEG: u64 = 64 << 10;

pub fn cfg(dir: &Path, durability: Durability) -> JournalConfig {
    JournalConfig {
        dir: dir.to_path_buf(),
        segment_bytes: SEG,
        durability,
        fsync_interval: Duration::from_millis(1),
        fsync_max_records: 64,
    }
}

pub fn open(dir: &Path) -> Journal {
    Journal::open(cfg(dir, Durability::Process)).expect("open journal").0
}

/// Deterministic payload for a sequence number: length varies, content depends on seq.
pub fn payload(seq: u64) -> Vec<u8> {
    let len = (seq * 37 % 300) as usize;
    (0..len).map(|i| (seq as usize * 31 + i) as u8).collect()
}

/// Appends records `from..=to` with `payload`, committing every `batch`.
pub fn write(j: &mut Journal, from: u64, to: u64, batch: u64) {
    for seq in from..=to {
        assert_eq!(j.append(&payload(seq)).expect("append"), seq);
        if seq.is_multiple_of(batch) {
            j.commit().expect("commit");
        }
    }
    j.commit().expect("commit");
}

/// Reads everything and checks that sequence numbers are dense from 1 and payloads match.
pub fn read_all_checked(dir: &Path) -> u64 {
    let r = JournalReader::open(dir).expect("reader");
    let mut expect = 1;
    for rec in r.iter() {
        let rec = rec.expect("record");
        assert_eq!(rec.seq, expect);
        assert_eq!(rec.payload, &payload(rec.seq)[..]);
        expect += 1;
    }
    expect - 1
}

pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

pub fn flip_bit(path: &Path, offset: u64, bit: u8) {
    let mut b = std::fs::read(path).expect("read segment");
    b[offset as usize] ^= 1 << bit;
    std::fs::write(path, b).expect("write segment");
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let p = e.expect("entry").path();
        if !p.is_file() {
            continue;
        }
        std::fs::copy(&p, to.join(p.file_name().expect("name"))).expect("copy");
    }
}
