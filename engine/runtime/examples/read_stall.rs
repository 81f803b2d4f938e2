//! Do readers stall writers? Bets from producer threads (each keeping `window` commands in
//! flight) on a 2-shard runtime in `fsync` mode, with and without a reader thread that asks
//! for `reads_per_ms` balances every millisecond, alternating shards, without waiting.
//!
//! `cargo run --release -p croupier-runtime --example read_stall -- [seconds] [reads_per_ms|off]`
//! Prints bets/s, bet latency p50/p99/max and reads done with their p99.

use croupier_domain::command::{Command, PlaceBet};
use croupier_domain::ids::{CurrencyId, ExtId, SelectionId, UserId};
use croupier_domain::testkit::*;
use croupier_domain::Money;
use croupier_journal::Durability;
use croupier_runtime::{CompletionSlot, Runtime, RuntimeConfig};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USERS: u64 = 10_000;
const PRODUCERS: u64 = 4;
const WINDOW: usize = 64;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1))).copied().unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let read_every: Option<u64> = args.get(2).and_then(|s| s.parse().ok());
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = RuntimeConfig::new(dir.path());
    cfg.shards = 2;
    cfg.durability = Durability::Fsync;
    cfg.segment_bytes = 64 << 20;
    cfg.snapshot_every_records = None;
    let (rt, _) = Runtime::start(cfg).expect("runtime");
    let rt = Arc::new(rt);
    for cmd in setup_commands(default_limits()) {
        rt.call(cmd).expect("setup");
    }
    for u in 1..=USERS {
        rt.call(deposit(u, 1_000_000_000, u)).expect("deposit");
    }
    rt.call(Command::GameStart { round: id("stall"), game: id(GAME), window_ms: Some(3_600_000) }).expect("round");

    let stop = Arc::new(AtomicBool::new(false));
    // Readers as the gateway issues them: without waiting, `per_ms` every millisecond, each
    // timed from submit to its answer.
    let reads = Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
    let reader = read_every.map(|per_ms| {
        let (rt, stop, reads) = (rt.clone(), stop.clone(), reads.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..per_ms {
                    let user = UserId(1 + i % USERS);
                    let shard = (i % 2) as usize;
                    let (t, reads) = (Instant::now(), reads.clone());
                    read(&rt, shard, user, move |_| reads.lock().unwrap().push(t.elapsed()));
                    i += 1;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    });

    let started = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let (rt, stop) = (rt.clone(), stop.clone());
            std::thread::spawn(move || {
                let slots: Vec<_> = (0..WINDOW).map(|_| CompletionSlot::new()).collect();
                let mut lat = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut sent = Vec::with_capacity(WINDOW);
                    for slot in &slots {
                        let order = p << 40 | n;
                        n += 1;
                        let cmd = Command::PlaceBet(PlaceBet {
                            order_no: ExtId::numbered("b-", order),
                            user: UserId(1 + order.wrapping_mul(0x9E37_79B9) % USERS),
                            round: id("stall"),
                            selection: SelectionId((order % 2) as u16),
                            stake: Money(100),
                            currency: code(CURRENCY),
                            platform: code("ag"),
                        });
                        let t = Instant::now();
                        if rt.submit(slot, cmd).is_ok() {
                            sent.push((slot, t));
                        }
                    }
                    for (slot, t) in sent {
                        let _ = slot.wait();
                        lat.push(t.elapsed());
                    }
                }
                lat
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut lat: Vec<Duration> = producers.into_iter().flat_map(|h| h.join().expect("producer")).collect();
    let elapsed = started.elapsed();
    let bets = lat.len();
    if let Some(h) = reader {
        h.join().expect("reader");
    }
    std::thread::sleep(Duration::from_millis(100));
    let reads = read_every.map(|_| std::mem::take(&mut *reads.lock().unwrap()));
    println!(
        "readers {:>6}: {:>9.0} bets/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        read_every.map_or("off".to_string(), |e| format!("{e}/ms")),
        bets as f64 / elapsed.as_secs_f64(),
        pct(&mut lat, 0.50).as_secs_f64() * 1e3,
        pct(&mut lat, 0.99).as_secs_f64() * 1e3,
        pct(&mut lat, 1.0).as_secs_f64() * 1e3,
    );
    if let Some(mut r) = reads {
        println!(
            "  reads {:>7}  p50 {:>7.2} ms  p99 {:>7.2} ms",
            r.len(),
            pct(&mut r, 0.5).as_secs_f64() * 1e3,
            pct(&mut r, 0.99).as_secs_f64() * 1e3
        );
    }
    drop(rt);
}

/// One balance read through the runtime's reader API; `done` gets the answer.
fn read(rt: &Runtime, shard: usize, user: UserId, done: impl FnOnce(Money) + Send + 'static) {
    let _ = rt.inspect_then(
        shard,
        move |s| s.account_of(user, CurrencyId(0)).map_or(Money::ZERO, |a| s.account(a).available),
        done,
    );
}
