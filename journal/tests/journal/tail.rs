//! A tail reader following a live writer in another thread.

use crate::common::*;
use croupier_journal::{Durability, Journal, TailReader};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Polls until `n` records were seen; checks order, density and content. The deadline only
/// guards against a hang, it is not a performance assertion.
fn follow(reader: &mut TailReader, first: u64, n: u64, writer_done: &AtomicBool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut expect = first;
    while expect < first + n {
        match reader.poll().expect("poll") {
            Some(rec) => {
                assert_eq!(rec.seq, expect, "every record once, in order");
                assert_eq!(rec.payload, &payload(rec.seq)[..]);
                expect += 1;
            }
            None => {
                assert!(Instant::now() < deadline, "tail reader stuck at {expect}");
                if writer_done.load(Ordering::Acquire) {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(Duration::from_micros(50));
                }
            }
        }
    }
}

#[test]
fn tail_reader_sees_every_record_once_in_order() {
    for durability in [Durability::Process, Durability::Fsync] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("j");
        let n = 6000u64;
        let done = Arc::new(AtomicBool::new(false));
        let writer = {
            let (dir, done) = (dir.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let (mut j, _) = Journal::open(cfg(&dir, durability)).expect("open");
                for seq in 1..=n {
                    j.append(&payload(seq)).expect("append");
                    if seq.is_multiple_of(7) {
                        j.commit().expect("commit");
                    }
                    if seq.is_multiple_of(500) {
                        std::thread::yield_now();
                    }
                }
                j.commit().expect("commit");
                done.store(true, Ordering::Release);
                j
            })
        };
        // Started before the directory exists: it must wait for it.
        let mut reader = TailReader::open(&dir, 1);
        follow(&mut reader, 1, n, &done);
        let j = writer.join().expect("writer");
        assert!(reader.poll().expect("poll").is_none(), "nothing beyond the end");
        assert!(segments(&dir).len() > 3, "the reader crossed rollovers");
        drop(j);

        // A reader that starts in the middle of the journal.
        let mut mid = TailReader::open(&dir, 4321);
        follow(&mut mid, 4321, n - 4320, &done);
        assert_eq!(mid.last_seq(), n);
    }
}

#[test]
fn tail_reader_skips_uncommitted_and_respects_durable_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(cfg(tmp.path(), Durability::Process)).expect("open");
    let mut r = TailReader::open(tmp.path(), 1).follow_durable(j.durable_watch());
    j.append(&payload(1)).expect("append");
    assert!(r.poll().expect("poll").is_none(), "not committed yet");
    j.commit().expect("commit");
    assert_eq!(r.poll().expect("poll").map(|x| x.seq), Some(1));
    assert!(r.poll().expect("poll").is_none());
}
