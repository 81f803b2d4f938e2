//! Group commit in Fsync mode.

use crate::common::*;
use croupier_journal::{verify, Durability, Journal};

#[test]
fn fsync_mode_wait_durable_and_clean_drop() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(cfg(tmp.path(), Durability::Fsync)).expect("open");
    let watch = j.durable_watch();
    let waiter = {
        let w = watch.clone();
        std::thread::spawn(move || w.wait(500))
    };
    let mut last = 0;
    for seq in 1..=1000u64 {
        j.append(&payload(seq)).expect("append");
        if seq.is_multiple_of(50) {
            last = j.commit().expect("commit");
            j.wait_durable(last).expect("wait durable");
            assert!(j.durable_seq() >= last);
        }
    }
    waiter.join().expect("waiter thread").expect("waiter saw 500 durable");
    assert!(watch.durable_seq() >= 500);
    j.append(b"tail").expect("append");
    j.commit().expect("commit");
    j.sync().expect("sync");
    assert_eq!(j.durable_seq(), 1001);
    assert_eq!(last, 1000);
    drop(j);
    assert!(watch.is_closed());
    assert!(segments(tmp.path()).len() > 1, "rolled over in Fsync mode");
    assert_eq!(verify(tmp.path()).expect("verify").last_seq, 1001);
}

#[test]
fn waiters_are_released_on_close() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut j, _) = Journal::open(cfg(tmp.path(), Durability::Fsync)).expect("open");
    let watch = j.durable_watch();
    j.append(b"a").expect("append");
    let seq = j.commit().expect("commit");
    // A waiter for a sequence that will never be committed is released by close.
    let w = watch.clone();
    let never = std::thread::spawn(move || w.wait(seq + 10));
    j.close().expect("close");
    assert!(never.join().expect("thread").is_err());
    assert!(watch.durable_seq() >= seq);
}

#[test]
fn process_mode_is_durable_at_commit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut j = open(tmp.path());
    j.append(b"x").expect("append");
    assert_eq!(j.durable_seq(), 0);
    let s = j.commit().expect("commit");
    assert_eq!(j.durable_seq(), s);
    j.wait_durable(s).expect("immediate");
}
