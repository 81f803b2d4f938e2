//! Micro-benchmarks: single append, append+commit batches, replay throughput.
//!
//! Journals are recreated every `FRESH_EVERY` appends (outside the timed region) so a long
//! measurement does not fill the disk; rollover cost is therefore mostly not included.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use croupier_journal::{Durability, Journal, JournalConfig, JournalReader};
use std::hint::black_box;
use std::time::{Duration, Instant};

const FRESH_EVERY: u64 = 400_000;

fn fresh(dir: &std::path::Path) -> Journal {
    let _ = std::fs::remove_dir_all(dir);
    let mut cfg = JournalConfig::new(dir);
    cfg.durability = Durability::Process;
    Journal::open(cfg).expect("open").0
}

/// Runs `iters` iterations of `step`, timing only `step`, on journals recreated as needed.
fn timed(dir: &std::path::Path, iters: u64, per_iter: u64, mut step: impl FnMut(&mut Journal)) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min((FRESH_EVERY / per_iter).max(1));
        let mut j = fresh(dir);
        let t = Instant::now();
        for _ in 0..n {
            step(&mut j);
        }
        total += t.elapsed();
        left -= n;
    }
    total
}

/// Where bench journals live: `JOURNAL_BENCH_DIR` (e.g. a tmpfs, to separate filesystem costs)
/// or the system temp directory.
fn bench_tempdir() -> tempfile::TempDir {
    match std::env::var_os("JOURNAL_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).expect("tempdir"),
        None => tempfile::tempdir().expect("tempdir"),
    }
}

fn bench_append(c: &mut Criterion) {
    let tmp = bench_tempdir();
    let dir = tmp.path().join("j");
    let payload = [0x5Au8; 64];
    let mut g = c.benchmark_group("journal");
    g.throughput(Throughput::Elements(1));
    g.bench_function("append_64B_process_commit_every_64", |b| {
        b.iter_custom(|iters| {
            let mut count = 0u64;
            timed(&dir, iters, 1, |j| {
                black_box(j.append(black_box(&payload)).expect("append"));
                count += 1;
                if count.is_multiple_of(64) {
                    j.commit().expect("commit");
                }
            })
        })
    });
    // The same, with the commits (sha256 over the batch) left out of the timed region: the
    // cost of `append` itself.
    g.bench_function("append_64B_process_append_only", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let mut j = fresh(&dir);
                let mut in_journal = 0;
                while left > 0 && in_journal < FRESH_EVERY {
                    let n = left.min(64);
                    let t = Instant::now();
                    for _ in 0..n {
                        black_box(j.append(black_box(&payload)).expect("append"));
                    }
                    total += t.elapsed();
                    j.commit().expect("commit");
                    left -= n;
                    in_journal += n;
                }
            }
            total
        })
    });
    g.throughput(Throughput::Elements(64));
    g.bench_function("batch_64x64B_append_commit_process", |b| {
        b.iter_custom(|iters| {
            timed(&dir, iters, 64, |j| {
                for _ in 0..64 {
                    black_box(j.append(black_box(&payload)).expect("append"));
                }
                black_box(j.commit().expect("commit"));
            })
        })
    });
    g.finish();
}

fn bench_replay(c: &mut Criterion) {
    let tmp = bench_tempdir();
    let dir = tmp.path().join("j");
    let n = 1_000_000u64;
    {
        let mut j = fresh(&dir);
        let payload = [0x33u8; 64];
        for i in 1..=n {
            j.append(&payload).expect("append");
            if i.is_multiple_of(64) {
                j.commit().expect("commit");
            }
        }
        j.commit().expect("commit");
    }
    let mut g = c.benchmark_group("journal");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("replay_1M_x_64B", |b| {
        b.iter(|| {
            let r = JournalReader::open(&dir).expect("reader");
            let mut bytes = 0usize;
            for rec in r.iter() {
                bytes += rec.expect("record").payload.len();
            }
            assert_eq!(bytes as u64, n * 64);
            black_box(bytes)
        })
    });
    g.bench_function("verify_1M_x_64B", |b| {
        b.iter(|| black_box(croupier_journal::verify(&dir).expect("verify").records))
    });
    g.finish();
}

criterion_group!(benches, bench_append, bench_replay);
criterion_main!(benches);
