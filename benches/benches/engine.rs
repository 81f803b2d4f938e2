//! Criterion micro-benchmarks of the engine's hot paths, on the workloads of
//! `croupier-benches` (the same ones `croupier bench` runs). Short on purpose: 20 samples of
//! about 3 s each group, so `cargo bench` stays within a few minutes.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use croupier_benches::{BetsWorkload, GrabConfig, GrabWorkload, Quiet, SettleConfig, SettleWorkload};
use croupier_domain::ids::UserId;
use croupier_domain::testkit;
use croupier_domain::{decide, Command, Money, Reject};
use std::hint::black_box;
use std::time::{Duration, Instant};

const ACCOUNTS: u64 = 100_000;

/// Accepting one bet on an engine with 100k funded players and an open round. Each sample
/// gets a fresh engine sized for its bets (building it is not timed), so memory stays bounded.
fn place_bet(c: &mut Criterion) {
    c.bench_function("place_bet (100k accounts)", |b| {
        b.iter_custom(|iters| {
            let mut w = BetsWorkload::prepare(ACCOUNTS, iters, 1, &mut Quiet).expect("setup");
            let start = Instant::now();
            for n in 0..iters {
                black_box(w.place(n));
            }
            let elapsed = start.elapsed();
            assert_eq!(w.engine().state().bets().len() as u64, iters);
            elapsed
        })
    });
}

/// One grab of a lucky packet of at least a million shares, one in ten grabbers with an
/// account already (the others get one opened by the grab).
fn grab(c: &mut Criterion) {
    c.bench_function("grab (packet of >= 1M shares)", |b| {
        b.iter_custom(|iters| {
            let cfg = GrabConfig { accounts: iters / 10, grabs: iters.max(1_000_000), seed: 1, batch: 1 };
            let mut w = GrabWorkload::prepare(&cfg, &mut Quiet).expect("setup");
            let start = Instant::now();
            for n in 0..iters {
                black_box(w.take(n));
            }
            start.elapsed()
        })
    });
}

/// Drawing a round that holds 10k open bets from 1k players: one command settling them all.
fn settle(c: &mut Criterion) {
    let cfg = SettleConfig { accounts: 1_000, bets: 10_000, seed: 1 };
    c.bench_function("settle (round of 10k bets)", |b| {
        b.iter_batched(
            || {
                let w = SettleWorkload::prepare(&cfg, &mut Quiet).expect("setup");
                let cmd = w.draw_command();
                (w, cmd)
            },
            |(mut w, cmd)| {
                let settled = w.settle_with(&cmd).expect("the draw settles");
                assert_eq!(settled, 10_000);
                // Returned, so that dropping the state is not timed.
                (w, cmd)
            },
            BatchSize::PerIteration,
        )
    });
}

/// `decide` refusing a bet for insufficient funds: the cheapest refusal after every lookup.
fn rejected_bet(c: &mut Criterion) {
    let mut w = BetsWorkload::prepare(ACCOUNTS, 0, 1, &mut Quiet).expect("setup");
    let poor = UserId(ACCOUNTS + 1);
    let (cmd, now) = w.bet(0);
    testkit::must(w.engine_mut(), &testkit::deposit(poor.0, 1, 1 << 40), now);
    let Command::PlaceBet(mut bet) = cmd else { unreachable!("the workload places bets") };
    bet.user = poor;
    bet.stake = Money(10_000);
    let cmd = Command::PlaceBet(bet);
    let state = w.engine().state();
    let mut out = Vec::with_capacity(16);
    assert_eq!(decide(state, &cmd, now, &mut out), Err(Reject::InsufficientFunds { available: Money(1) }));
    c.bench_function("decide rejected bet (insufficient funds)", |b| {
        b.iter(|| decide(black_box(state), black_box(&cmd), now, &mut out).is_err())
    });
}

fn config() -> Criterion {
    Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = engine;
    config = config();
    targets = place_bet, grab, settle, rejected_bet
}
criterion_main!(engine);
