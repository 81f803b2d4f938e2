//! A tail reader following batches larger than its first read (64 KiB), across segment rolls.
//!
//! Regression: when a read ended exactly on a frame boundary (or inside the next frame's
//! 16-byte header) before the batch's seal, the walk saw "end of data", not "truncated", so the
//! reader neither consumed anything nor grew its read: it stalled on that batch until the writer
//! rolled the segment, then failed with "closed segment holds frames after its last seal".

use croupier_journal::{Durability, Journal, JournalConfig, TailReader};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// 112-byte payloads make 128-byte frames: 512 of them fill 64 KiB exactly.
fn payload(seq: u64, len: usize) -> Vec<u8> {
    let mut p = vec![(seq % 251) as u8; len];
    p[..8].copy_from_slice(&seq.to_le_bytes());
    p
}

fn run(len: usize, batch: u64, batches: u64) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("j");
    let n = batch * batches;
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (dir, done) = (dir.clone(), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut cfg = JournalConfig::new(&dir);
            cfg.durability = Durability::Process;
            cfg.segment_bytes = 1 << 20;
            let (mut j, _) = Journal::open(cfg).expect("open");
            for seq in 1..=n {
                j.append(&payload(seq, len)).expect("append");
                if seq.is_multiple_of(batch) {
                    j.commit().expect("commit");
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            done.store(true, Ordering::Release);
            j
        })
    };
    let mut reader = TailReader::open(&dir, 1);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut expect = 1;
    while expect <= n {
        match reader.poll().expect("poll") {
            Some(rec) => {
                assert_eq!(rec.seq, expect, "every record once, in order");
                assert_eq!(rec.payload, &payload(rec.seq, len)[..]);
                expect += 1;
            }
            None => {
                // Only a guard against a hang: a stalled reader never gets past it.
                assert!(Instant::now() < deadline, "tail reader stuck at {expect} of {n}");
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
    let j = writer.join().expect("writer");
    assert!(done.load(Ordering::Acquire));
    assert!(reader.poll().expect("poll").is_none());
    let segments = std::fs::read_dir(&dir).expect("dir").count();
    assert!(segments > 2, "the reader crossed segment rolls ({segments} segments)");
    drop(j);
}

#[test]
fn batches_ending_a_read_on_a_frame_boundary_are_followed() {
    // 1000 × 128 bytes per batch: the first 64 KiB read ends exactly between two frames.
    run(112, 1000, 30);
}

#[test]
fn batches_ending_a_read_inside_a_frame_header_are_followed() {
    // 120-byte frames (104-byte payloads): reads end 8 bytes into a header at some offsets.
    run(104, 900, 30);
}
